"""Network visualization with a pretrained CNN: saliency maps, fooling images and
class visualization (gradient ascent on the input image).

Images are PyTorch tensors of shape (N, 3, H, W), float, already normalised with
the ImageNet mean and standard deviation (see `preprocess`). The model is
torchvision's SqueezeNet 1.1 (`load_squeezenet`), used in eval mode with frozen
parameters; any classifier mapping (N, 3, H, W) images to (N, C) scores works.

Gradients are taken with `torch.autograd.grad` with respect to the image only, so
the model's parameters never collect a `.grad` and the caller's tensors are left
untouched (except in `class_visualization_update_step`, whose job is to update
the image in place).
"""
import hashlib
import operator
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
import warnings

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image
from scipy.ndimage import gaussian_filter1d

from cs231n.image_utils import SQUEEZENET_MEAN, SQUEEZENET_STD

# Where torchvision keeps SqueezeNet 1.1's ImageNet weights (about 5 MB).
SQUEEZENET_WEIGHTS = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1


###############################################################################
# Student code                                                                #
###############################################################################


def compute_saliency_maps(X, y, model):
    """Saliency maps: how much each pixel influences the correct-class score.

    Inputs:
    - X: input images, tensor of shape (N, 3, H, W), float.
    - y: correct labels, integer tensor (or array) of shape (N,), values in [0, C).
    - model: a classifier mapping (N, 3, H, W) images to (N, C) scores.

    Returns:
    - saliency: tensor of shape (N, H, W), detached, >= 0: for every pixel, the
      largest absolute value over the 3 channels of d(score of y[i]) / d(X[i]).
      X itself is not modified.
    """
    _check_images(X, "X", "compute_saliency_maps")
    y = _check_labels(y, X.shape[0], "compute_saliency_maps").to(X.device)
    saliency = None
    # TODO: make a copy of X that requires grad, run the model, pick each image's
    # correct-class score, differentiate their sum with respect to the copy, and
    # reduce |gradient| by its maximum over the channel dimension.
    raise NotImplementedError("compute_saliency_maps: replace this line with your code")
    return saliency.detach()


def make_fooling_image(X, target_y, model, learning_rate=1, max_iter=100):
    """Change an image slightly so that the model classifies it as `target_y`.

    Gradient ascent on the target-class score with a normalised step:
    X <- X + learning_rate * g / ||g||_2, where g = d(score of target_y) / dX.
    Stops as soon as the model predicts `target_y` (checked before every step),
    after at most `max_iter` steps.

    Inputs:
    - X: one input image, tensor of shape (1, 3, H, W), float. Not modified.
    - target_y: the class to fool the model into, an int in [0, C).
    - model: a classifier mapping (1, 3, H, W) images to (1, C) scores.
    - learning_rate: L2 norm of each step (1, as in the original assignment).
    - max_iter: most gradient steps to take (100).

    Returns:
    - X_fooling: detached tensor of shape (1, 3, H, W) that the model classifies
      as target_y (if the budget allowed it) and that is close to X.
    """
    _check_images(X, "X", "make_fooling_image", batch=1)
    target_y = _check_class_index(target_y, "make_fooling_image")
    X_fooling = X.detach().clone()
    # TODO: repeat up to max_iter times: compute the scores of X_fooling; stop if the
    # predicted class is already target_y; otherwise take the gradient g of the
    # target-class score with respect to X_fooling and add learning_rate * g / ||g||.
    raise NotImplementedError("make_fooling_image: replace this line with your code")
    return X_fooling.detach()


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    """One gradient-ascent step of class visualization, in place on `img`.

    The objective is  S(img) = score of target_y - l2_reg * ||img||_2^2 ; the step is
    img <- img + learning_rate * g / ||g||_2  with g = dS / d(img).

    Inputs:
    - img: tensor of shape (1, 3, H, W), float; updated in place (it may or may not
      require grad; its `.grad` is not used).
    - model: a classifier mapping (1, 3, H, W) images to (1, C) scores.
    - target_y: an int in [0, C).
    - l2_reg: strength of the L2 regularisation (float >= 0).
    - learning_rate: L2 norm of the step (float).

    Returns nothing.
    """
    _check_images(img, "img", "class_visualization_update_step", batch=1)
    target_y = _check_class_index(target_y, "class_visualization_update_step")
    # A leaf that shares img's storage: gradients are taken with respect to it and
    # the in-place update below writes straight into img.
    img_var = img.detach().requires_grad_(True)
    # TODO: compute the regularised objective for img_var, its gradient g with respect
    # to img_var, and (without tracking gradients) add learning_rate * g / ||g|| to img.
    raise NotImplementedError("class_visualization_update_step: replace this line with your code")


###############################################################################
# Provided: the model                                                          #
###############################################################################


def load_squeezenet(pretrained=True, download=True, seed=0, verbose=False):
    """Torchvision's SqueezeNet 1.1, in eval mode, with frozen parameters.

    With pretrained=True the ImageNet weights are taken from the torch hub cache
    (`torch.hub.get_dir()/checkpoints/squeezenet1_1-b8a52dc0.pth`), or downloaded
    into it when `download` is True, the environment variable CS231N_OFFLINE is
    not set, and the server answers within a few seconds.
    When they cannot be had (no network, as in tests and in the autograder's
    sandbox), or with pretrained=False, the model is a randomly initialised
    SqueezeNet 1.1 from a fixed seed (see `_random_squeezenet`; the global random
    state is left alone). It classifies, gradients flow, and fooling it works
    much as with the real model (typically 5-20 steps at 224x224), but its
    saliency maps and class visualizations look like noise. A fallback from
    pretrained=True is reported with a RuntimeWarning that says so (and printed
    as well when verbose).

    Returns the model; `model.pretrained` says whether the ImageNet weights are in.
    """
    model = None
    reason = "pretrained=False was asked for"
    if pretrained:
        state_dict, reason = _squeezenet_state_dict(download)
        if state_dict is not None:
            model = torchvision.models.squeezenet1_1(weights=None)
            model.load_state_dict(state_dict)
            model.pretrained = True
    if model is None:
        if seed not in _RANDOM_SQUEEZENET_STATES:
            _RANDOM_SQUEEZENET_STATES[seed] = _random_squeezenet(seed).state_dict()
        with torch.random.fork_rng(devices=[]):  # its own random init is overwritten
            model = torchvision.models.squeezenet1_1(weights=None)
        model.load_state_dict(_RANDOM_SQUEEZENET_STATES[seed])
        model.pretrained = False
        if pretrained:
            message = ("load_squeezenet: the pretrained ImageNet weights are not available "
                       f"({reason}); using a randomly initialised SqueezeNet 1.1 (seed {seed}). "
                       "The weights are random: saliency maps and class visualizations will "
                       "look like noise.")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            if verbose:
                print(message)
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
    return model


_RANDOM_SQUEEZENET_STATES = {}  # seed -> state_dict: each is made once per process


def _random_squeezenet(seed):
    """SqueezeNet 1.1 with torchvision's random initialisation from `seed`, adjusted
    so that it behaves like a classifier for the notebook's experiments.

    A plain random network fails at fooling: its first-layer filters respond to
    smooth image content, and its post-ReLU features share a large positive mean,
    so one class wins for every image by a margin that 100 steps of gradient
    ascent cannot close. Three adjustments (no training, no data):
    - first-layer filters are made zero-mean (edge detectors: smooth regions give
      little response, as in trained networks);
    - each class's weights in the last layer lose their components along the mean
      features of a few reference inputs (smooth colour fields and white noise at
      64, 128 and 224 pixels), so no class wins merely because all features are
      positive;
    - the last layer's biases are 1, so every class score is positive and its
      gradient passes the final ReLU.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.squeezenet1_1(weights=None).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        first = model.features[0]
        first.weight -= first.weight.mean(dim=(2, 3), keepdim=True)
        means = []
        for size in (64, 128, 224):  # the mean features depend a little on the image size
            coarse = (torch.randn(4, 3, 6, 6, generator=generator)
                      + 0.7 * torch.randn(4, 3, 1, 1, generator=generator))
            smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                                     align_corners=False)
            noise = torch.randn(4, 3, size, size, generator=generator)
            means += [model.features(smooth).mean(dim=(0, 2, 3)),
                      model.features(noise).mean(dim=(0, 2, 3))]
        basis = torch.linalg.qr(torch.stack(means, dim=1))[0]                     # (512, 6)
        last = model.classifier[1]
        W = last.weight[:, :, 0, 0]                                               # (1000, 512)
        W -= (W @ basis) @ basis.T
        last.bias.fill_(1.0)
    return model


def _squeezenet_state_dict(download, timeout=5.0):
    """(state_dict, None) from the hub cache or a quick download, else (None, reason)."""
    url = SQUEEZENET_WEIGHTS.url
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    if not os.path.isfile(path):
        if not download:
            return None, f"{path} is missing and download=False"
        if os.environ.get("CS231N_OFFLINE"):
            return None, f"{path} is missing and CS231N_OFFLINE is set"
        error = _download_with_timeout(url, path, timeout)
        if error is not None:
            return None, f"{path} is missing and the download failed: {error}"
    try:
        return torch.load(path, map_location="cpu", weights_only=True), None
    except Exception as exc:  # a damaged cache file
        return None, f"{path} could not be read: {exc}"


def _download_with_timeout(url, path, timeout):
    """Download url to path; None on success, else a short reason.

    The connection is probed in a daemon thread so that not even a DNS lookup can
    make us wait longer than `timeout` seconds when there is no network.
    """
    host = urllib.parse.urlparse(url).hostname
    probe = {}

    def connect():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            probe["ok"] = True
        except OSError as exc:
            probe["error"] = exc

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not probe.get("ok"):
        return f"cannot reach {host} ({probe.get('error', 'timed out')})"
    expected_hash = os.path.basename(path).split("-")[-1].split(".")[0]
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, f)
        with open(tmp, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if not digest.startswith(expected_hash):
            return f"the downloaded file has sha256 {digest[:8]}..., expected {expected_hash}..."
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        return str(exc)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return None


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
        T.Normalize(mean=_as_list(SQUEEZENET_MEAN), std=_as_list(SQUEEZENET_STD)),
    ])
    return transform(img.convert("RGB"))[None]


def deprocess(img, should_rescale=True):
    """Normalised tensor (1, 3, H, W) -> PIL image: undo `preprocess`.

    With should_rescale the result is stretched to the full [0, 1] range (for images
    made by gradient ascent); otherwise values outside [0, 1] are clipped.
    """
    _check_images(img, "img", "deprocess", batch=1)
    x = img.detach()[0].cpu().float()
    mean = torch.tensor(_as_list(SQUEEZENET_MEAN)).view(3, 1, 1)
    std = torch.tensor(_as_list(SQUEEZENET_STD)).view(3, 1, 1)
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


###############################################################################
# Provided: input checks                                                      #
###############################################################################


def _as_list(values):
    return [float(v) for v in np.asarray(values).ravel()]


def _check_images(X, name, func, batch=None):
    expected = "(1, 3, H, W)" if batch == 1 else "(N, 3, H, W)"
    if not torch.is_tensor(X):
        raise TypeError(f"{func}: {name} must be a float torch.Tensor of shape {expected}; "
                        f"got {type(X).__name__}")
    if X.dim() != 4 or X.shape[1] != 3 or (batch is not None and X.shape[0] != batch):
        raise ValueError(f"{func}: {name} has shape {tuple(X.shape)}; expected {expected}")
    if not X.is_floating_point():
        raise TypeError(f"{func}: {name} has dtype {X.dtype}; expected a float tensor "
                        f"of shape {expected}")


def _check_labels(y, N, func):
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{func}: y has dtype {y.dtype}; expected integer class indices "
                        f"of shape (N,) = ({N},)")
    if tuple(y.shape) != (N,):
        raise ValueError(f"{func}: y has shape {tuple(y.shape)}; expected (N,) = ({N},)")
    if N and y.min() < 0:
        raise ValueError(f"{func}: y contains {int(y.min())}; class indices must be >= 0")
    return y.long()


def _check_class_index(target_y, func):
    if torch.is_tensor(target_y) and target_y.numel() == 1:
        target_y = target_y.item()
    try:
        target_y = operator.index(target_y)
    except TypeError:
        raise TypeError(f"{func}: target_y must be an int class index; "
                        f"got {type(target_y).__name__}") from None
    if target_y < 0:
        raise ValueError(f"{func}: target_y is {target_y}; class indices must be >= 0")
    return target_y
