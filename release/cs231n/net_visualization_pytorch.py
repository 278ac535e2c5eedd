"""Network visualization with a pretrained CNN: saliency maps, fooling images and
class visualization (gradient ascent on the input image).

Images are PyTorch tensors of shape (N, 3, H, W), float, already normalised with
the ImageNet mean and standard deviation (see `preprocess`). The notebook's model
is torchvision's SqueezeNet 1.1 (`cs231n.squeezenet.load_squeezenet`), used in
eval mode with frozen parameters; any classifier mapping (N, 3, H, W) images to
(N, C) scores works.

This file holds what the canonical assignment's file holds: the three functions
you write and the image helpers. The input checks each function starts with are
provided code, imported from `cs231n/squeezenet.py`.
"""
import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from scipy.ndimage import gaussian_filter1d

from cs231n.image_utils import SQUEEZENET_MEAN, SQUEEZENET_STD
from cs231n.squeezenet import check_class_index, check_images, check_labels


###############################################################################
# Student code                                                                #
###############################################################################


def compute_saliency_maps(X, y, model):
    """Saliency maps: how much each pixel influences the correct-class score.

    Inputs:
    - X: input images, tensor of shape (N, 3, H, W), float.
    - y: correct labels, LongTensor (or integer array) of shape (N,), values in [0, C).
    - model: a classifier mapping (N, 3, H, W) images to (N, C) scores.

    Returns:
    - saliency: tensor of shape (N, H, W), >= 0: for every pixel, the largest
      absolute value over the 3 channels of d(score of y[i]) / d(X[i]), where the
      score is the model's raw (unnormalised) output.
    The values of X are not changed (this solution works on a copy; setting
    requires_grad on X itself is fine too).
    """
    check_images(X, "X", "compute_saliency_maps")
    y = check_labels(y, X.shape[0], "compute_saliency_maps").to(X.device)
    saliency = None
    # TODO: make X (or a copy of it) require grad, run the model, pick each image's
    # correct-class score, differentiate their sum with respect to the images, and
    # reduce |gradient| by its maximum over the channel dimension.
    raise NotImplementedError("compute_saliency_maps: replace this line with your code")
    return saliency.detach()


def make_fooling_image(X, target_y, model, learning_rate=1, max_iter=100):
    """Change an image slightly so that the model classifies it as `target_y`.

    Gradient ascent on the target-class score with a normalised step:
    X <- X + learning_rate * g / ||g||_2, where g = d(score of target_y) / dX.
    Stops as soon as the model predicts `target_y`, after at most `max_iter` steps.

    Inputs:
    - X: one input image, tensor of shape (1, 3, H, W) (224 x 224 for SqueezeNet), float.
    - target_y: the class to fool the model into, an int in [0, C).
    - model: a classifier mapping (1, 3, H, W) images to (1, C) scores.
    - learning_rate: L2 norm of each step (1, as in the original assignment).
    - max_iter: most gradient steps to take (100).

    Returns:
    - X_fooling: tensor of shape (1, 3, H, W) that the model classifies as target_y
      (if the budget allowed it) and that is close to X. X itself is not changed.
    """
    check_images(X, "X", "make_fooling_image", batch=1)
    target_y = check_class_index(target_y, "make_fooling_image")
    X_fooling = X.detach().clone()
    # TODO: repeat up to max_iter times: compute the scores of X_fooling; stop if the
    # predicted class is already target_y; otherwise take the gradient g of the
    # target-class score with respect to X_fooling and add learning_rate * g / ||g||.
    raise NotImplementedError("make_fooling_image: replace this line with your code")
    return X_fooling.detach()


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    """One gradient-ascent step of class visualization, in place on `img`.

    The objective is  S(img) = score of target_y - l2_reg * ||img||_2^2 , whose
    gradient is g = d(score of target_y) / d(img) - 2 * l2_reg * img. The step uses
    the learning rate: a plain step  img <- img + learning_rate * g  and a
    normalised one  img <- img + learning_rate * g / ||g||_2  are both correct
    (this solution takes the normalised one).

    Inputs:
    - img: tensor of shape (1, 3, H, W), float; updated in place. In the notebook it
      is a leaf that requires grad; if you use `img.grad`, reset it after the step
      (gradients accumulate from one call to the next).
    - model: a classifier mapping (1, 3, H, W) images to (1, C) scores.
    - target_y: an int in [0, C).
    - l2_reg: strength of the L2 regularisation (float >= 0).
    - learning_rate: the step size (float).

    Returns nothing.
    """
    check_images(img, "img", "class_visualization_update_step", batch=1)
    target_y = check_class_index(target_y, "class_visualization_update_step")
    # A leaf that shares img's storage: gradients are taken with respect to it and
    # the in-place update below writes straight into img.
    img_var = img.detach().requires_grad_(True)
    # TODO: compute the regularised objective for img_var, its gradient g with respect
    # to img_var, and (without tracking gradients) step img in place along g by
    # learning_rate * g, or by the normalised learning_rate * g / ||g||.
    raise NotImplementedError("class_visualization_update_step: replace this line with your code")


###############################################################################
# Provided: image helpers                                                     #
###############################################################################


def preprocess(img, size=224):
    """PIL image (or uint8 array of shape (H, W, 3)) -> normalised tensor (1, 3, H', W').

    The shorter side is resized to `size`; pixel values are scaled to [0, 1] and
    normalised with SQUEEZENET_MEAN / SQUEEZENET_STD.
    """
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"preprocess: img has shape {img.shape}; expected (H, W, 3)")
        img = Image.fromarray(np.asarray(img, dtype=np.uint8))
    if not isinstance(img, Image.Image):
        raise TypeError(f"preprocess: img must be a PIL image or a uint8 array of shape "
                        f"(H, W, 3); got {type(img).__name__}")
    transform = T.Compose([
        T.Resize(size),
        T.ToTensor(),
        T.Normalize(mean=np.asarray(SQUEEZENET_MEAN, dtype=float).tolist(),
                    std=np.asarray(SQUEEZENET_STD, dtype=float).tolist()),
    ])
    return transform(img.convert("RGB"))[None]


def deprocess(img, should_rescale=True):
    """Normalised tensor (1, 3, H, W) -> PIL image: undo `preprocess`.

    With should_rescale the result is stretched to the full [0, 1] range (for images
    made by gradient ascent); otherwise values outside [0, 1] are clipped.
    """
    check_images(img, "img", "deprocess", batch=1)
    x = img.detach()[0].cpu().float()
    mean = torch.tensor(np.asarray(SQUEEZENET_MEAN, dtype=np.float32)).view(3, 1, 1)
    std = torch.tensor(np.asarray(SQUEEZENET_STD, dtype=np.float32)).view(3, 1, 1)
    x = x * std + mean
    x = rescale(x) if should_rescale else x.clamp(0, 1)
    return T.ToPILImage()(x)


def rescale(x):
    """Stretch x linearly to [0, 1] (a constant x becomes 0)."""
    low, high = x.min(), x.max()
    return (x - low) / (high - low) if high > low else x - low


def blur_image(X, sigma=1):
    """Gaussian blur (std `sigma` pixels) of X (N, C, H, W) along H and W, in place.

    Returns X.
    """
    X_np = X.detach().cpu().numpy()
    X_np = gaussian_filter1d(X_np, sigma, axis=2)
    X_np = gaussian_filter1d(X_np, sigma, axis=3)
    with torch.no_grad():
        X.copy_(torch.from_numpy(X_np))
    return X


def jitter(X, ox, oy):
    """Shift X (N, C, H, W) circularly by ox pixels along W and oy along H.

    Returns a new tensor; jitter(jitter(X, ox, oy), -ox, -oy) equals X.
    """
    return torch.roll(X, shifts=(int(oy), int(ox)), dims=(2, 3))
