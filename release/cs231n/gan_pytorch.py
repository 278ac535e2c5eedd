"""Generative adversarial networks on MNIST: a fully connected GAN, least-squares
GAN and a deep convolutional GAN (DCGAN).

Conventions: images are 28x28 MNIST digits; the discriminators take (N, 1, 28, 28)
images (or, for the fully connected one, anything with 784 values per row) scaled
to [-1, 1] and return logits of shape (N, 1); the generators take noise (N, noise_dim)
and return (N, 784) images in [-1, 1] (tanh). Losses are scalar tensors, averaged
over the minibatch.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import sampler

NOISE_DIM = 96

# The tensor type the original assignment moves data to (GPU when there is one).
# run_a_gan itself follows the device of the discriminator's parameters.
dtype = torch.cuda.FloatTensor if torch.cuda.is_available() else torch.FloatTensor


###############################################################################
# Student code                                                                #
###############################################################################


def sample_noise(batch_size, dim, seed=None):
    """Uniform random noise in [-1, 1].

    Inputs:
    - batch_size: int, number of noise vectors.
    - dim: int, dimension of each vector.
    - seed: if given, torch.manual_seed(seed) is called first (reproducible draws).

    Returns:
    - float32 tensor of shape (batch_size, dim), values in [-1, 1].
    """
    _check_positive_int(batch_size, "batch_size", "sample_noise")
    _check_positive_int(dim, "dim", "sample_noise")
    if seed is not None:
        torch.manual_seed(seed)
    # TODO: draw a (batch_size, dim) tensor uniformly from [-1, 1].
    raise NotImplementedError("sample_noise: replace this line with your code")


def discriminator(seed=None):
    """Fully connected discriminator: 784 -> 256 -> 256 -> 1 (267009 parameters).

    Layers: Flatten, Linear(784, 256), LeakyReLU(0.01), Linear(256, 256),
    LeakyReLU(0.01), Linear(256, 1). Input (N, 1, 28, 28) or (N, 784); output
    logits (N, 1). If seed is given, torch.manual_seed(seed) is called first.
    """
    if seed is not None:
        torch.manual_seed(seed)
    model = None
    # TODO: build the network above as an nn.Sequential.
    raise NotImplementedError("discriminator: replace this line with your code")
    return model


def generator(noise_dim=NOISE_DIM, seed=None):
    """Fully connected generator: noise_dim -> 1024 -> 1024 -> 784.

    Layers: Linear(noise_dim, 1024), ReLU, Linear(1024, 1024), ReLU,
    Linear(1024, 784), Tanh. Input (N, noise_dim); output images (N, 784) in [-1, 1].
    (1858320 parameters for noise_dim=4.) If seed is given, torch.manual_seed(seed)
    is called first.
    """
    if seed is not None:
        torch.manual_seed(seed)
    model = None
    # TODO: build the network above as an nn.Sequential.
    raise NotImplementedError("generator: replace this line with your code")
    return model


def bce_loss(input, target):
    """Numerically stable binary cross-entropy on logits, averaged.

    With s = input (logits) and t = target in [0, 1], each element's loss is
    -[t log sigmoid(s) + (1 - t) log(1 - sigmoid(s))] = log(1 + exp(s)) - s t.
    Computed as written, exp(s) overflows for large s (1e4 gives inf); compute
    log(1 + exp(s)) = log(exp(0) + exp(s)) with a log-sum-exp that factors out the
    larger exponent (e.g. torch.logaddexp, or max(s, 0) + log(1 + exp(-|s|))), so
    that the loss and its gradient, sigmoid(s) - t, stay exact for |s| = 1e4.

    Inputs:
    - input: float tensor of logits, shape (N,) or (N, 1).
    - target: tensor of the same number of elements, values 0 or 1 (or in between).

    Returns:
    - scalar tensor: the mean loss.
    """
    input, target = _matching_pair(input, target, "bce_loss", "input", "target")
    # TODO: the mean of log(1 + exp(s)) - s t, computed stably.
    raise NotImplementedError("bce_loss: replace this line with your code")


def discriminator_loss(logits_real, logits_fake):
    """Discriminator loss: BCE of real logits against 1 plus BCE of fake logits against 0.

    Inputs:
    - logits_real: tensor (N,) or (N, 1), discriminator logits on real images.
    - logits_fake: tensor (N,) or (N, 1), discriminator logits on generated images.

    Returns:
    - scalar tensor.
    """
    _check_logits(logits_real, "logits_real", "discriminator_loss")
    _check_logits(logits_fake, "logits_fake", "discriminator_loss")
    loss = None
    # TODO: compute it with bce_loss.
    raise NotImplementedError("discriminator_loss: replace this line with your code")
    return loss


def generator_loss(logits_fake):
    """Generator loss: BCE of the fake logits against 1 (the non-saturating loss).

    Inputs:
    - logits_fake: tensor (N,) or (N, 1), discriminator logits on generated images.

    Returns:
    - scalar tensor.
    """
    _check_logits(logits_fake, "logits_fake", "generator_loss")
    loss = None
    # TODO: compute it with bce_loss.
    raise NotImplementedError("generator_loss: replace this line with your code")
    return loss


def ls_discriminator_loss(scores_real, scores_fake):
    """Least-squares GAN discriminator loss:
    0.5 * mean((scores_real - 1)^2) + 0.5 * mean(scores_fake^2).

    Inputs:
    - scores_real, scores_fake: tensors (N,) or (N, 1) of discriminator scores.

    Returns:
    - scalar tensor.
    """
    _check_logits(scores_real, "scores_real", "ls_discriminator_loss")
    _check_logits(scores_fake, "scores_fake", "ls_discriminator_loss")
    loss = None
    # TODO: compute the expression above.
    raise NotImplementedError("ls_discriminator_loss: replace this line with your code")
    return loss


def ls_generator_loss(scores_fake):
    """Least-squares GAN generator loss: 0.5 * mean((scores_fake - 1)^2).

    Inputs:
    - scores_fake: tensor (N,) or (N, 1) of discriminator scores on generated images.

    Returns:
    - scalar tensor.
    """
    _check_logits(scores_fake, "scores_fake", "ls_generator_loss")
    loss = None
    # TODO: compute the expression above.
    raise NotImplementedError("ls_generator_loss: replace this line with your code")
    return loss


def get_optimizer(model):
    """Adam over model's parameters, learning rate 1e-3, betas (0.5, 0.999)."""
    optimizer = None
    # TODO: create the optimizer.
    raise NotImplementedError("get_optimizer: replace this line with your code")
    return optimizer


def build_dc_classifier(batch_size):
    """DCGAN discriminator for 28x28 images (1102721 parameters).

    Unflatten(batch_size, 1, 28, 28), Conv2d(1, 32, 5), LeakyReLU(0.01), MaxPool 2x2,
    Conv2d(32, 64, 5), LeakyReLU(0.01), MaxPool 2x2, Flatten,
    Linear(4*4*64, 4*4*64), LeakyReLU(0.01), Linear(4*4*64, 1).
    Input: batch_size images, (batch_size, 1, 28, 28) or (batch_size, 784);
    output logits (batch_size, 1).
    """
    _check_positive_int(batch_size, "batch_size", "build_dc_classifier")
    # TODO: build the network above as an nn.Sequential and return it.
    raise NotImplementedError("build_dc_classifier: replace this line with your code")


def build_dc_generator(noise_dim=NOISE_DIM):
    """DCGAN generator for 28x28 images (6580801 parameters for noise_dim=4).

    Linear(noise_dim, 1024), ReLU, BatchNorm1d(1024), Linear(1024, 7*7*128), ReLU,
    BatchNorm1d(7*7*128), Unflatten(-1, 128, 7, 7),
    ConvTranspose2d(128, 64, 4, stride=2, padding=1), ReLU, BatchNorm2d(64),
    ConvTranspose2d(64, 1, 4, stride=2, padding=1), Tanh, Flatten.
    Input noise (N, noise_dim); output images (N, 784) in [-1, 1].
    """
    _check_positive_int(noise_dim, "noise_dim", "build_dc_generator")
    # TODO: build the network above as an nn.Sequential and return it.
    raise NotImplementedError("build_dc_generator: replace this line with your code")


###############################################################################
# Provided: training loop and helpers                                         #
###############################################################################


def run_a_gan(D, G, D_solver, G_solver, discriminator_loss, generator_loss, loader_train,
              show_every=250, batch_size=128, noise_size=96, num_epochs=10):
    """Train a GAN, alternating one discriminator step and one generator step.

    Inputs:
    - D, G: discriminator and generator (nn.Module); real images go to D's device
      and dtype, noise to G's.
    - D_solver, G_solver: their optimizers.
    - discriminator_loss, generator_loss: the loss functions to use.
    - loader_train: yields (images (B, 1, 28, 28) in [0, 1], labels); batches whose
      size is not batch_size are skipped.
    - show_every: every show_every iterations, print the losses and keep a sample.
    - batch_size, noise_size, num_epochs: as named.

    Returns:
    - images: list of numpy arrays of shape (16, 784), generated samples in [-1, 1]
      at iterations 0, show_every, 2*show_every, ... (show each with `show_images`).
    """
    # Data follows the models: their device and floating-point type.
    d_param, g_param = next(D.parameters()), next(G.parameters())
    images = []
    iter_count = 0
    for epoch in range(num_epochs):
        for x, _ in loader_train:
            if len(x) != batch_size:
                continue
            D_solver.zero_grad()
            real_data = x.to(device=d_param.device, dtype=d_param.dtype)
            logits_real = D(preprocess_img(real_data))

            g_fake_seed = sample_noise(batch_size, noise_size).to(g_param.device, g_param.dtype)
            fake_images = G(g_fake_seed).detach()
            logits_fake = D(fake_images.view(batch_size, 1, 28, 28))

            d_total_error = discriminator_loss(logits_real, logits_fake)
            d_total_error.backward()
            D_solver.step()

            G_solver.zero_grad()
            g_fake_seed = sample_noise(batch_size, noise_size).to(g_param.device, g_param.dtype)
            fake_images = G(g_fake_seed)

            gen_logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
            g_error = generator_loss(gen_logits_fake)
            g_error.backward()
            G_solver.step()

            if iter_count % show_every == 0:
                print("Iter: {}, D: {:.4}, G:{:.4}".format(
                    iter_count, d_total_error.item(), g_error.item()))
                images.append(fake_images.detach().cpu().numpy()[0:16])
            iter_count += 1
    return images


def show_images(images):
    """Show a batch of images (B, 784) or (B, 28, 28) in [-1, 1] or [0, 1] as a grid.

    Uses matplotlib (imported here, so the module works without a display);
    returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib import gridspec

    images = np.reshape(np.asarray(images), (len(images), -1))
    side = int(np.ceil(np.sqrt(images.shape[1])))
    cols = int(np.ceil(np.sqrt(images.shape[0])))
    rows = int(np.ceil(images.shape[0] / cols))
    fig = plt.figure(figsize=(cols, rows))
    grid = gridspec.GridSpec(rows, cols, wspace=0.05, hspace=0.05)
    for i, img in enumerate(images):
        ax = plt.subplot(grid[i])
        ax.axis("off")
        ax.set_aspect("equal")
        ax.imshow(img.reshape(side, side), cmap="gray")
    return fig


class ChunkSampler(sampler.Sampler):
    """Samples the indices start, start + 1, ..., start + num_samples - 1, in order.

    With a DataLoader this takes a contiguous chunk of a dataset (for example the
    first 50000 MNIST training images as a training set, the next 5000 for validation).
    """

    def __init__(self, num_samples, start=0):
        self.num_samples = num_samples
        self.start = start

    def __iter__(self):
        return iter(range(self.start, self.start + self.num_samples))

    def __len__(self):
        return self.num_samples


class Flatten(nn.Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class Unflatten(nn.Module):
    """(N, C*H*W) -> (N, C, H, W); N=-1 infers the batch size."""

    def __init__(self, N=-1, C=128, H=7, W=7):
        super().__init__()
        self.N = N
        self.C = C
        self.H = H
        self.W = W

    def forward(self, x):
        if x.numel() % (self.C * self.H * self.W) != 0 or (
                self.N != -1 and x.numel() != self.N * self.C * self.H * self.W):
            raise ValueError(f"Unflatten: input has shape {tuple(x.shape)}; expected "
                             f"{self.N if self.N != -1 else 'N'} rows of "
                             f"{self.C}*{self.H}*{self.W} = {self.C * self.H * self.W} values")
        return x.reshape(self.N, self.C, self.H, self.W)


def initialize_weights(m):
    """Xavier-uniform weights for Linear and ConvTranspose2d layers (use with model.apply)."""
    if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(m.weight.data)


def preprocess_img(x):
    """Pixel values in [0, 1] -> [-1, 1]."""
    return 2 * x - 1.0


def deprocess_img(x):
    """Pixel values in [-1, 1] -> [0, 1]."""
    return (x + 1.0) / 2.0


def rel_error(x, y):
    """Largest elementwise relative error between x and y (arrays or scalars)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def count_params(model):
    """Number of parameters (scalars) in model."""
    return int(sum(p.numel() for p in model.parameters()))


###############################################################################
# Provided: input checks                                                      #
###############################################################################


def _check_positive_int(value, name, func):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{func}: {name} is {value!r}; expected a positive int")


def _check_logits(x, name, func):
    if not torch.is_tensor(x):
        raise TypeError(f"{func}: {name} must be a float torch.Tensor of shape (N,) or (N, 1); "
                        f"got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{func}: {name} has dtype {x.dtype}; expected a float tensor")
    if not (x.dim() == 1 or (x.dim() == 2 and x.shape[1] == 1)):
        raise ValueError(f"{func}: {name} has shape {tuple(x.shape)}; expected (N,) or (N, 1)")


def _matching_pair(input, target, func, name_a, name_b):
    """Check the pair and give target input's shape (so (N,) and (N, 1) never broadcast)."""
    _check_logits(input, name_a, func)
    if not torch.is_tensor(target):
        raise TypeError(f"{func}: {name_b} must be a torch.Tensor; got {type(target).__name__}")
    if target.numel() != input.numel():
        raise ValueError(f"{func}: {name_b} has shape {tuple(target.shape)}; expected "
                         f"{input.numel()} values, one per element of {name_a} "
                         f"{tuple(input.shape)}")
    return input, target.reshape(input.shape).to(device=input.device, dtype=input.dtype)
