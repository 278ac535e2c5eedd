"""Tests of cs231n/gan_pytorch.py: losses against independent NumPy formulas, the
canonical architectures' parameter counts, noise, helpers, a short training run on
the MNIST sample, and the errors for bad input."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import cs231n  # noqa: F401  (before torchvision)
from cs231n import gan_pytorch as gan
from cs231n.gan_pytorch import (
    NOISE_DIM, ChunkSampler, Flatten, Unflatten, bce_loss, build_dc_classifier,
    build_dc_generator, count_params, deprocess_img, discriminator, discriminator_loss,
    generator, generator_loss, get_optimizer, initialize_weights, ls_discriminator_loss,
    ls_generator_loss, preprocess_img, rel_error, run_a_gan, sample_noise)

import torchvision  # noqa: E402  (after cs231n)


def np_bce(s, t):
    """Mean binary cross-entropy on logits, float64: log(1 + e^s) - s t."""
    s, t = np.asarray(s, dtype=np.float64), np.asarray(t, dtype=np.float64)
    return np.mean(np.logaddexp(0.0, s) - s * t)


def rand_logits(n, seed, scale=3.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, 1, generator=g)).to(dtype)


# --------------------------------------------------------------------------- noise

def test_sample_noise_shape_range_dtype():
    torch.manual_seed(231)
    z = sample_noise(300, 7)
    assert torch.is_tensor(z) and z.shape == (300, 7) and z.dtype == torch.float32
    assert z.min() >= -1 and z.max() <= 1
    assert (z < -0.9).any() and (z > 0.9).any()        # covers the whole range
    assert abs(z.mean().item()) < 0.05                  # uniform on [-1, 1]: mean 0
    assert abs(z.var().item() - 1 / 3) < 0.03           # variance 4/12


def test_sample_noise_seed():
    a = sample_noise(4, 5, seed=10)
    b = sample_noise(4, 5, seed=10)
    c = sample_noise(4, 5, seed=11)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Like the original: the seed goes to torch's global generator.
    torch.manual_seed(10)
    assert torch.equal(sample_noise(4, 5), a)


# --------------------------------------------------------------------------- losses

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bce_loss_matches_numpy(dtype):
    s = rand_logits(50, 0, dtype=dtype).view(-1)
    t = (torch.rand(50, generator=torch.Generator().manual_seed(1)) > 0.5).to(dtype)
    out = bce_loss(s, t)
    assert out.dim() == 0 and out.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert rel_error(out.item(), np_bce(s.numpy(), t.numpy())) < tol
    # and against torch's own implementation
    ref = nn.functional.binary_cross_entropy_with_logits(s, t)
    assert torch.allclose(out, ref, rtol=1e-6, atol=1e-7)


def test_bce_loss_extreme_logits():
    s = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    out = bce_loss(s, t)
    expected = (0 + 0 + 1e4 + 1e4 + math.log(2)) / 5
    assert torch.isfinite(out) and abs(out.item() - expected) < 1e-3
    out.backward()
    assert torch.isfinite(s.grad).all()
    # d/ds = (sigmoid(s) - t) / N
    np.testing.assert_allclose(s.grad.numpy(), np.array([0, 0, 1, -1, -0.5]) / 5, atol=1e-6)


def test_bce_loss_n1_input_and_n_target_do_not_broadcast():
    s = rand_logits(6, 2)                                # (6, 1)
    t = torch.tensor([1.0, 0, 1, 1, 0, 0])               # (6,)
    assert rel_error(bce_loss(s, t).item(), np_bce(s.numpy().ravel(), t.numpy())) < 1e-6


def test_bce_loss_takes_one_number_or_any_shape_of_labels():
    s = rand_logits(5, 7).view(-1)
    t = torch.ones(5)
    want = np_bce(s.numpy(), 1)
    for target in (1, 1.0, torch.tensor(1.0), t, t.view(5, 1), t.double()):
        out = bce_loss(s, target)
        assert out.dtype == torch.float32 and rel_error(out.item(), want) < 1e-6


def test_discriminator_and_generator_loss():
    real, fake = rand_logits(40, 3), rand_logits(40, 4)
    d = discriminator_loss(real, fake)
    g = generator_loss(fake)
    assert d.dim() == 0 and g.dim() == 0
    d_np = np_bce(real.numpy(), 1) + np_bce(fake.numpy(), 0)
    g_np = np_bce(fake.numpy(), 1)
    assert rel_error(d.item(), d_np) < 1e-6
    assert rel_error(g.item(), g_np) < 1e-6


def test_gan_losses_extreme_logits_are_finite():
    big = torch.tensor([[1e4], [-1e4], [5e3]], requires_grad=True)
    d = discriminator_loss(big, -big)
    g = generator_loss(big)
    for loss in (d, g):
        assert torch.isfinite(loss)
    d.backward()
    assert torch.isfinite(big.grad).all()
    assert rel_error(d.item(), 2 * np_bce([1e4, -1e4, 5e3], 1)) < 1e-6
    assert rel_error(g.item(), np_bce([1e4, -1e4, 5e3], 1)) < 1e-6


def test_least_squares_losses():
    real, fake = rand_logits(30, 5), rand_logits(30, 6)
    r, f = real.numpy().astype(np.float64), fake.numpy().astype(np.float64)
    d = ls_discriminator_loss(real, fake)
    g = ls_generator_loss(fake)
    assert d.dim() == 0 and g.dim() == 0
    assert rel_error(d.item(), 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2)) < 1e-6
    assert rel_error(g.item(), 0.5 * np.mean((f - 1) ** 2)) < 1e-6
    # minimised where the discriminator says 1 for real and 0 for fake
    assert ls_discriminator_loss(torch.ones(3), torch.zeros(3)).item() == 0
    assert ls_generator_loss(torch.ones(3, 1)).item() == 0


# --------------------------------------------------------------------------- networks

def test_parameter_counts_are_the_canonical_ones():
    assert count_params(discriminator()) == 267009
    assert count_params(generator(4)) == 1858320
    assert count_params(build_dc_classifier(128)) == 1102721
    assert count_params(build_dc_generator(4)) == 6580801
    # and with the default noise dimension
    assert count_params(generator()) == 1858320 + (NOISE_DIM - 4) * 1024
    assert count_params(build_dc_generator()) == 6580801 + (NOISE_DIM - 4) * 1024


def test_network_shapes_and_ranges():
    x = torch.rand(5, 1, 28, 28)
    assert discriminator(seed=0)(x).shape == (5, 1)
    assert discriminator(seed=0)(x.view(5, 784)).shape == (5, 1)
    out = generator(seed=0)(sample_noise(5, NOISE_DIM))
    assert out.shape == (5, 784) and out.abs().max() <= 1
    assert build_dc_classifier(5)(x).shape == (5, 1)
    G = build_dc_generator().eval()
    out = G(sample_noise(5, NOISE_DIM))
    assert out.shape == (5, 784) and out.abs().max() <= 1


def test_seeded_construction_is_reproducible():
    for make in (discriminator, generator):
        a, b, c = make(seed=7), make(seed=7), make(seed=8)
        pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_get_optimizer():
    model = discriminator()
    opt = get_optimizer(model)
    assert isinstance(opt, torch.optim.Adam)
    group = opt.param_groups[0]
    assert group["lr"] == 1e-3 and tuple(group["betas"]) == (0.5, 0.999)
    assert sum(p.numel() for p in group["params"]) == count_params(model)


# --------------------------------------------------------------------------- helpers

def test_flatten_unflatten_roundtrip():
    x = torch.randn(3, 128, 7, 7)
    flat = Flatten()(x)
    assert flat.shape == (3, 128 * 49)
    assert torch.equal(Unflatten()(flat), x)
    assert Unflatten(3, 1, 28, 28)(torch.zeros(3, 784)).shape == (3, 1, 28, 28)


def test_chunk_sampler():
    s = ChunkSampler(5, start=10)
    assert list(s) == [10, 11, 12, 13, 14] and len(s) == 5
    assert list(ChunkSampler(3)) == [0, 1, 2]


def test_small_helpers():
    x = torch.tensor([0.0, 0.25, 1.0])
    assert torch.allclose(preprocess_img(x), torch.tensor([-1.0, -0.5, 1.0]))
    assert torch.allclose(deprocess_img(preprocess_img(x)), x)
    assert rel_error(1.0, 1.0) == 0
    assert abs(rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) - 0.2 / 4.2) < 1e-12
    assert count_params(nn.Linear(3, 2)) == 8


def test_initialize_weights_is_xavier_uniform():
    model = nn.Sequential(nn.Linear(200, 300), nn.ConvTranspose2d(16, 8, 4), nn.Conv2d(3, 3, 3))
    conv_before = model[2].weight.clone()
    torch.manual_seed(0)
    model.apply(initialize_weights)
    lin_bound = math.sqrt(6 / (200 + 300))
    w = model[0].weight
    assert w.abs().max() <= lin_bound and w.abs().max() > 0.95 * lin_bound
    assert abs(w.var().item() - lin_bound ** 2 / 3) < 0.05 * lin_bound ** 2
    # ConvTranspose2d(16, 8, 4): fan_in = 8*16, fan_out = 16*16 (as torch counts them)
    ct_bound = math.sqrt(6 / (8 * 16 + 16 * 16))
    assert model[1].weight.abs().max() <= ct_bound
    assert torch.equal(model[2].weight, conv_before)     # Conv2d is left alone


# --------------------------------------------------------------------------- training

def _mnist_loader(root, batch_size, num_batches):
    import torchvision.transforms as T
    from torch.utils.data import DataLoader

    train = torchvision.datasets.MNIST(root, train=True, download=False, transform=T.ToTensor())
    return DataLoader(train, batch_size=batch_size,
                      sampler=ChunkSampler(batch_size * num_batches, 0))


def _recording(loss_fn, record):
    def wrapped(*args):
        loss = loss_fn(*args)
        record.append(loss.item())
        return loss
    return wrapped


@pytest.mark.slow
def test_run_a_gan_short_training_on_mnist_sample(mnist_sample_root, capsys):
    torch.manual_seed(0)
    batch_size, num_batches = 64, 30
    loader = _mnist_loader(mnist_sample_root, batch_size, num_batches)
    D, G = discriminator(seed=1), generator(seed=2)
    D_losses, G_losses = [], []
    images = run_a_gan(D, G, get_optimizer(D), get_optimizer(G),
                       _recording(discriminator_loss, D_losses),
                       _recording(generator_loss, G_losses),
                       loader, show_every=10, batch_size=batch_size, noise_size=NOISE_DIM,
                       num_epochs=1)
    assert len(D_losses) == len(G_losses) == num_batches
    assert np.isfinite(D_losses).all() and np.isfinite(G_losses).all()
    # The discriminator learns quickly to tell the generator's first attempts apart.
    assert np.mean(D_losses[-5:]) < D_losses[0]
    assert len(images) == 3
    for grid in images:
        assert isinstance(grid, np.ndarray) and grid.shape == (16, 784)
        assert np.abs(grid).max() <= 1
    assert "Iter: 0, D:" in capsys.readouterr().out


@pytest.mark.slow
def test_run_a_gan_dcgan_with_least_squares_losses(mnist_sample_root):
    torch.manual_seed(0)
    batch_size = 32
    loader = _mnist_loader(mnist_sample_root, batch_size, 4)
    D = build_dc_classifier(batch_size)
    D.apply(initialize_weights)
    G = build_dc_generator()
    G.apply(initialize_weights)
    D_losses, G_losses = [], []
    images = run_a_gan(D, G, get_optimizer(D), get_optimizer(G),
                       _recording(ls_discriminator_loss, D_losses),
                       _recording(ls_generator_loss, G_losses),
                       loader, show_every=2, batch_size=batch_size, num_epochs=1)
    assert len(D_losses) == 4 and np.isfinite(D_losses + G_losses).all()
    assert len(images) == 2 and images[0].shape == (16, 784)


def test_run_a_gan_follows_the_models_dtype_and_skips_partial_batches(capsys):
    torch.manual_seed(0)
    D, G = discriminator(seed=0).double(), generator(noise_dim=8, seed=0).double()
    batches = [(torch.rand(n, 1, 28, 28), torch.zeros(n)) for n in (6, 4, 6)]
    G_losses = []
    images = run_a_gan(D, G, get_optimizer(D), get_optimizer(G), discriminator_loss,
                       _recording(generator_loss, G_losses), batches, show_every=1,
                       batch_size=6, noise_size=8, num_epochs=2)
    assert len(G_losses) == 4                      # 2 full batches x 2 epochs
    assert len(images) == 4 and images[0].shape == (6, 784) and images[0].dtype == np.float64
    assert capsys.readouterr().out.count("Iter: ") == 4


# --------------------------------------------------------------------------- bad input

def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"bce_loss: target has shape \(3,\); expected 4 labels"):
        bce_loss(torch.zeros(4), torch.zeros(3))
    with pytest.raises(TypeError, match=r"bce_loss: input must be a float torch.Tensor of logits, "
                                        r"shape \(N,\); got Tensor of torch.int64"):
        discriminator_loss(torch.zeros(4, dtype=torch.long), torch.zeros(4))
    with pytest.raises(TypeError, match=r"bce_loss: input must be a float torch.Tensor .*; got ndarray"):
        bce_loss(np.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match=r"sample_noise: batch_size is 0; expected a positive int"):
        sample_noise(0, 4)
    with pytest.raises(ValueError, match=r"sample_noise: dim is 2.5"):
        sample_noise(3, 2.5)
    with pytest.raises(ValueError, match=r"build_dc_classifier: batch_size is True"):
        build_dc_classifier(True)
    with pytest.raises(ValueError, match=r"build_dc_generator: noise_dim is -1"):
        build_dc_generator(-1)
    with pytest.raises(ValueError, match=r"Unflatten: input has shape \(2, 100\); expected N "
                                         r"rows of 128\*7\*7 = 6272 values"):
        Unflatten()(torch.zeros(2, 100))
    with pytest.raises(ValueError, match=r"Unflatten: input has shape \(3, 784\); expected 2 rows"):
        build_dc_classifier(2)(torch.zeros(3, 784))
    with pytest.raises(ValueError, match=r"shapes differ: yours is \(2, 1\), expected \(2,\)"):
        rel_error(np.zeros((2, 1)), np.zeros(2))


def test_the_module_defines_only_the_original_files_names():
    """A notebook may rely on nothing a student file from the original kit lacks."""
    import ast
    import inspect

    import fairness.gan

    tree = ast.parse(inspect.getsource(gan))
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert defined <= fairness.gan.CANONICAL_NAMES["cs231n/gan_pytorch.py"]
