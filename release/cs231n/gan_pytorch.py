"""Generative adversarial networks on MNIST: a fully connected GAN, least-squares
GAN and a deep convolutional GAN (DCGAN).

Conventions (those of the original assignment): images are 28x28 MNIST digits
scaled to [-1, 1]; the discriminators take (N, 1, 28, 28) images (run_a_gan
passes them so) and return logits of shape (N, 1); the generators take noise
(N, noise_dim) and return (N, 784) images in [-1, 1] (tanh). The losses take
scores of shape (N,) (run_a_gan hands them the discriminator's (N, 1) output,
which bce_loss accepts too) and return scalar tensors averaged over the
minibatch. Data may be float32 (the notebooks' `dtype`) or float64.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import sampler

NOISE_DIM = 96

# The tensor type the original assignment moves data to (GPU when there is one),
# e.g. labels made with `torch.ones(N).type(dtype)`. run_a_gan itself follows the
# device and dtype of the discriminator's parameters.
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
    - float tensor of shape (batch_size, dim) (float32 from torch.rand), values
      uniform in [-1, 1].
    """
    for name, value in (("batch_size", batch_size), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"sample_noise: {name} is {value!r}; expected a positive int")
    if seed is not None:
        torch.manual_seed(seed)
    # TODO: draw a (batch_size, dim) tensor uniformly from [-1, 1] with torch's
    # random generator (torch.rand draws from [0, 1)).
    raise NotImplementedError("sample_noise: replace this line with your code")


def discriminator(seed=None):
    """Fully connected discriminator: 784 -> 256 -> 256 -> 1 (267009 parameters).

    Layers: Flatten, Linear(784, 256), LeakyReLU(0.01), Linear(256, 256),
    LeakyReLU(0.01), Linear(256, 1). Input images (N, 1, 28, 28) (Flatten makes
    them (N, 784)); output logits (N, 1). If seed is given, torch.manual_seed(seed)
    is called first.
    """
    if seed is not None:
        torch.manual_seed(seed)
    model = None
    # TODO: build the network above as an nn.Sequential, starting with Flatten().
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
    """Binary cross-entropy on logits, averaged, computed stably (provided).

    With s = input (logits) and t = target in [0, 1], each element's loss is
    -[t log sigmoid(s) + (1 - t) log(1 - sigmoid(s))] = log(1 + exp(s)) - s t.
    Written that way exp(s) overflows for large s; torch.logaddexp(0, s) computes
    log(1 + exp(s)) without overflow, and its gradient, sigmoid(s) - t, stays
    exact even for |s| = 1e4.

    Inputs:
    - input: float tensor of logits, shape (N,) (the discriminator's (N, 1) works too).
    - target: tensor with one label per logit, 0 or 1 (or in between), any shape
      with N elements (e.g. torch.ones(N).type(dtype)), or one number for all.

    Returns:
    - scalar tensor: the mean loss, in input's dtype.
    """
    if not torch.is_tensor(input) or not input.is_floating_point():
        raise TypeError(f"bce_loss: input must be a float torch.Tensor of logits, shape (N,); got "
                        f"{type(input).__name__}{'' if not torch.is_tensor(input) else ' of ' + str(input.dtype)}")
    target = torch.as_tensor(target).to(device=input.device, dtype=input.dtype)
    if target.numel() == 1:
        target = target.reshape(()).expand(input.shape)
    elif target.numel() == input.numel():
        target = target.reshape(input.shape)  # (N,) labels with (N, 1) logits never broadcast
    else:
        raise ValueError(f"bce_loss: target has shape {tuple(target.shape)}; expected "
                         f"{input.numel()} labels, one per logit of input {tuple(input.shape)}")
    loss = torch.logaddexp(torch.zeros_like(input), input) - input * target
    return loss.mean()


def discriminator_loss(logits_real, logits_fake):
    """Discriminator loss: BCE of the real logits against label 1 plus BCE of the
    fake logits against label 0 (each averaged over its minibatch).

    Inputs:
    - logits_real: tensor (N,), the discriminator's logits on real images.
    - logits_fake: tensor (N,), its logits on generated images.

    Returns:
    - scalar tensor.
    """
    loss = None
    # TODO: compute it with bce_loss; make the labels from the logits' size
    # (torch.ones_like, or torch.ones(N).type(dtype)).
    raise NotImplementedError("discriminator_loss: replace this line with your code")
    return loss


def generator_loss(logits_fake):
    """Generator loss: BCE of the fake logits against label 1 (the non-saturating loss).

    Inputs:
    - logits_fake: tensor (N,), the discriminator's logits on generated images.

    Returns:
    - scalar tensor.
    """
    loss = None
    # TODO: compute it with bce_loss.
    raise NotImplementedError("generator_loss: replace this line with your code")
    return loss


def ls_discriminator_loss(scores_real, scores_fake):
    """Least-squares GAN discriminator loss:
    0.5 * mean((scores_real - 1)^2) + 0.5 * mean(scores_fake^2).

    Inputs:
    - scores_real: tensor (N,), the discriminator's scores on real images.
    - scores_fake: tensor (N,), its scores on generated images.

    Returns:
    - scalar tensor.
    """
    loss = None
    # TODO: compute the expression above (averages over the minibatch).
    raise NotImplementedError("ls_discriminator_loss: replace this line with your code")
    return loss


def ls_generator_loss(scores_fake):
    """Least-squares GAN generator loss: 0.5 * mean((scores_fake - 1)^2).

    Inputs:
    - scores_fake: tensor (N,), the discriminator's scores on generated images.

    Returns:
    - scalar tensor.
    """
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
    Input: batch_size images (batch_size, 1, 28, 28) (Unflatten also takes them
    as (batch_size, 784)); output logits (batch_size, 1).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"build_dc_classifier: batch_size is {batch_size!r}; expected a positive int")
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
    if isinstance(noise_dim, bool) or not isinstance(noise_dim, (int, np.integer)) or noise_dim < 1:
        raise ValueError(f"build_dc_generator: noise_dim is {noise_dim!r}; expected a positive int")
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
      at iterations 0, show_every, 2*show_every, ... (the notebook's `show_images`
      draws one as a grid).
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
    """Maximum relative error; says so plainly when the shapes differ."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: yours is {x.shape}, expected {y.shape}")
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def count_params(model):
    """Number of parameters (scalars) in model."""
    return int(sum(p.numel() for p in model.parameters()))
