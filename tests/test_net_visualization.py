"""Tests of cs231n/net_visualization_pytorch.py and cs231n/squeezenet.py.

Exact checks use small hand-made models whose gradients are known in closed form
(a linear classifier: the gradient of a class score is that class's weight row);
integration checks use the offline SqueezeNet (fixed-seed random weights) on small
images, so that the suite stays fast on two CPU cores and never needs the network.
"""
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from scipy.ndimage import gaussian_filter

import cs231n  # noqa: F401  (before torchvision)
from cs231n import net_visualization_pytorch as nv
from cs231n import squeezenet
from cs231n.data_utils import load_imagenet_val
from cs231n.image_utils import SQUEEZENET_MEAN, SQUEEZENET_STD
from cs231n.net_visualization_pytorch import (
    blur_image, class_visualization_update_step, compute_saliency_maps, deprocess, jitter,
    make_fooling_image, preprocess, rescale)
from cs231n.squeezenet import load_squeezenet

import torchvision  # noqa: E402  (after cs231n)

SMALL = 64  # image side for SqueezeNet checks (its smallest sensible input is ~32)


class Linear(nn.Module):
    """scores = flatten(X) @ W.T + b, with W (C, 3*H*W): d score_c / dX = W[c]."""

    def __init__(self, C, H, W, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(C, 3 * H * W, generator=g) / (3 * H * W) ** 0.5)
        self.bias = nn.Parameter(torch.randn(C, generator=g))

    def forward(self, x):
        return x.flatten(1) @ self.weight.T + self.bias


class LeftHalf(nn.Module):
    """A small convnet that only looks at the left half of the image."""

    def __init__(self, C=5):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(),
                                 nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, C))

    def forward(self, x):
        return self.net(x[:, :, :, : x.shape[3] // 2])


def small_images(imagenet_sample_path, n, size=SMALL):
    X, y, _ = load_imagenet_val(num=n, path=imagenet_sample_path)
    return torch.cat([preprocess(Image.fromarray(x), size=size) for x in X]), torch.as_tensor(y)


# --------------------------------------------------------------------------- saliency

def test_saliency_of_a_linear_model_is_the_weight_row():
    N, C, H, W = 3, 4, 5, 6
    model = Linear(C, H, W)
    X = torch.randn(N, 3, H, W)
    y = torch.tensor([2, 0, 3])
    saliency = compute_saliency_maps(X, y, model)
    expected = model.weight.detach()[y].view(N, 3, H, W).abs().max(dim=1).values
    assert saliency.shape == (N, H, W)
    assert not saliency.requires_grad
    assert torch.allclose(saliency, expected, atol=1e-6)


def test_saliency_matches_independent_gradients_on_squeezenet(squeezenet_fallback,
                                                              imagenet_sample_path):
    X, y = small_images(imagenet_sample_path, 2)
    X_before = X.clone()
    saliency = compute_saliency_maps(X, y, squeezenet_fallback)
    assert saliency.shape == (2, SMALL, SMALL) and (saliency >= 0).all()
    assert torch.equal(X, X_before) and X.grad is None and not X.requires_grad
    assert all(p.grad is None for p in squeezenet_fallback.parameters())
    # Oracle: one image at a time, backward through the score of its own class.
    for i in range(2):
        x = X[i:i + 1].clone().requires_grad_(True)
        squeezenet_fallback(x)[0, y[i]].backward()
        expected = x.grad[0].abs().max(dim=0).values
        assert torch.allclose(saliency[i], expected, rtol=1e-4, atol=1e-9)
        assert expected.max() > 0


def test_pixels_the_model_ignores_have_zero_saliency():
    X = torch.randn(2, 3, 8, 10)
    saliency = compute_saliency_maps(X, torch.tensor([1, 4]), LeftHalf())
    assert (saliency[:, :, 5:] == 0).all()
    assert (saliency[:, :, :5] > 0).float().mean() > 0.9


def test_saliency_accepts_numpy_labels():
    model = Linear(4, 3, 3)
    X = torch.randn(2, 3, 3, 3)
    a = compute_saliency_maps(X, np.array([1, 2]), model)
    b = compute_saliency_maps(X, torch.tensor([1, 2]), model)
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- fooling

def test_fooling_a_linear_model_takes_the_predicted_number_of_steps():
    C, H, W = 6, 4, 4
    model = Linear(C, H, W, seed=3)
    X = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(4))
    Wm, b = model.weight.detach().double(), model.bias.detach().double()
    x = X.double().flatten()
    start = int((Wm @ x + b).argmax())
    target = (start + 1) % C
    # Oracle: each step adds the unit vector u = W[target] / ||W[target]||.
    u = Wm[target] / Wm[target].norm()
    steps = next(k for k in range(1000) if int((Wm @ (x + k * u) + b).argmax()) == target)
    assert 1 <= steps <= 100
    X_fooling = make_fooling_image(X, target, model)
    assert model(X_fooling).argmax().item() == target
    expected = (x + steps * u).view(1, 3, H, W)
    assert torch.allclose(X_fooling.double(), expected, atol=1e-4)
    assert not X_fooling.requires_grad


def test_fooling_stops_at_once_when_already_fooled():
    model = Linear(5, 3, 3)
    X = torch.randn(1, 3, 3, 3)
    predicted = model(X).argmax().item()
    X_fooling = make_fooling_image(X, predicted, model)
    assert torch.equal(X_fooling, X) and X_fooling is not X


def test_fooling_the_offline_squeezenet(squeezenet_fallback, imagenet_sample_path):
    X, _ = small_images(imagenet_sample_path, 2)
    calls = []

    def model(x):
        calls.append(1)
        return squeezenet_fallback(x)

    for i, target in [(0, 6), (1, 113)]:
        x = X[i:i + 1]
        before = squeezenet_fallback(x).argmax().item()
        assert before != target
        calls.clear()
        X_fooling = make_fooling_image(x, target, model)
        assert squeezenet_fallback(X_fooling).argmax().item() == target
        assert len(calls) <= 100                       # within the iteration budget
        diff = X_fooling - x
        # a small change: a few percent of the image's norm, no pixel moved far
        assert diff.norm() / x.norm() < 0.1
        assert diff.abs().max() < 1.5


@pytest.mark.slow
def test_fooling_the_offline_squeezenet_like_the_notebook(squeezenet_fallback,
                                                          imagenet_sample_path):
    """The notebook's case: first image at 224x224, target class 6 (stingray)."""
    X, _ = small_images(imagenet_sample_path, 1, size=224)
    X_fooling = make_fooling_image(X, 6, squeezenet_fallback)
    assert squeezenet_fallback(X_fooling).argmax().item() == 6
    assert (X_fooling - X).norm() / X.norm() < 0.05


# --------------------------------------------------------------------------- class visualization

def test_class_visualization_step_of_a_linear_model():
    C, H, W = 4, 3, 5
    model = Linear(C, H, W)
    img = torch.randn(1, 3, H, W, requires_grad=True)
    start = img.detach().clone()
    storage = img.data_ptr()
    target, l2_reg, lr = 2, 0.3, 0.7
    class_visualization_update_step(img, model, target, l2_reg, lr)
    # Oracle: d/dimg [W[t] . img + b[t] - l2_reg ||img||^2] = W[t] - 2 l2_reg img
    g = model.weight.detach()[target].view(1, 3, H, W) - 2 * l2_reg * start
    assert img.data_ptr() == storage                      # updated in place
    assert torch.allclose(img.detach(), start + lr * g / g.norm(), atol=1e-6)


def test_class_visualization_step_increases_the_regularised_score(squeezenet_fallback):
    torch.manual_seed(0)
    img = torch.randn(1, 3, SMALL, SMALL).requires_grad_()
    target, l2_reg = 76, 1e-3

    def objective(x):
        with torch.no_grad():
            return (squeezenet_fallback(x)[0, target] - l2_reg * (x * x).sum()).item()

    values = [objective(img)]
    for _ in range(3):
        class_visualization_update_step(img, squeezenet_fallback, target, l2_reg, 5.0)
        values.append(objective(img))
    assert all(b > a for a, b in zip(values, values[1:]))
    # a plain tensor (no requires_grad) is updated in place as well
    plain = torch.randn(1, 3, SMALL, SMALL)
    before = plain.clone()
    class_visualization_update_step(plain, squeezenet_fallback, target, l2_reg, 1.0)
    assert abs((plain - before).norm().item() - 1.0) < 1e-4


# --------------------------------------------------------------------------- helpers

def test_preprocess_normalises_with_the_squeezenet_statistics():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out = preprocess(Image.fromarray(arr), size=30)
    assert out.shape == (1, 3, 30, 40) and out.dtype == torch.float32
    expected = (arr / 255.0 - np.asarray(SQUEEZENET_MEAN)) / np.asarray(SQUEEZENET_STD)
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)
    # resizes the shorter side; arrays are accepted as well
    assert preprocess(arr, size=60).shape == (1, 3, 60, 80)


def test_deprocess_undoes_preprocess():
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    back = np.asarray(deprocess(preprocess(Image.fromarray(arr), size=16), should_rescale=False))
    assert np.abs(back.astype(int) - arr).max() <= 1
    # with rescale the result spans the whole range
    stretched = np.asarray(deprocess(torch.randn(1, 3, 8, 8)))
    assert stretched.min() == 0 and stretched.max() == 255
    # works on a tensor that requires grad (as make_fooling_image's callers pass)
    deprocess(torch.randn(1, 3, 8, 8, requires_grad=True))


def test_rescale():
    x = torch.tensor([2.0, 4.0, 3.0])
    assert torch.equal(rescale(x), torch.tensor([0.0, 1.0, 0.5]))
    assert torch.equal(rescale(torch.full((3,), 7.0)), torch.zeros(3))


def test_jitter_is_a_circular_shift():
    X = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    for ox, oy in [(0, 0), (2, 1), (-1, 3), (4, -2)]:
        out = jitter(X, ox, oy)
        expected = np.roll(X.numpy(), shift=(oy, ox), axis=(2, 3))
        np.testing.assert_array_equal(out.numpy(), expected)
        assert torch.equal(jitter(out, -ox, -oy), X)
    # the original's slicing: columns W-ox.. come first
    assert torch.equal(jitter(X, 2, 0)[..., :2], X[..., -2:])


def test_blur_image_in_place():
    torch.manual_seed(0)
    X = torch.randn(1, 3, 12, 12)
    before = X.clone()
    out = blur_image(X, sigma=1.5)
    assert out is X
    expected = gaussian_filter(before.numpy(), sigma=(0, 0, 1.5, 1.5))
    np.testing.assert_allclose(X.numpy(), expected, atol=1e-5)
    assert X.std() < before.std()


# --------------------------------------------------------------------------- the model

def test_offline_squeezenet(squeezenet_fallback):
    model = squeezenet_fallback
    assert isinstance(model, torchvision.models.SqueezeNet)
    assert not model.training and model.pretrained is False
    assert not any(p.requires_grad for p in model.parameters())
    # deterministic (built afresh: the same weights), global random state left alone
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    again = squeezenet._random_squeezenet(0)
    load_squeezenet(pretrained=False)
    assert torch.equal(torch.rand(3), expected_next)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    other = squeezenet._random_squeezenet(1)
    assert not torch.equal(other.classifier[1].weight, model.classifier[1].weight)
    # it classifies: scores for 1000 classes, and different pictures get different classes
    scores = model(torch.randn(4, 3, SMALL, SMALL, generator=torch.Generator().manual_seed(0)))
    assert scores.shape == (4, 1000) and torch.isfinite(scores).all()
    # every class score is reachable by gradients (none stuck at the final ReLU's zero)
    assert (scores > 0).all()


def test_pretrained_weights_come_from_the_hub_cache(tmp_path, monkeypatch, capsys):
    hub_before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        # no cached file and no download: the fallback, with a warning that says so
        with pytest.warns(RuntimeWarning, match="weights are random"):
            model = load_squeezenet(pretrained=True, download=False, verbose=False)
        assert model.pretrained is False
        # CS231N_OFFLINE also keeps it from trying the network
        monkeypatch.setenv("CS231N_OFFLINE", "1")
        capsys.readouterr()
        with pytest.warns(RuntimeWarning, match="CS231N_OFFLINE"):
            load_squeezenet(pretrained=True, verbose=True)
        assert "The weights are random" in capsys.readouterr().out
        # a cached checkpoint (here: some other weights) is used as is
        torch.manual_seed(123)
        reference = torchvision.models.squeezenet1_1(weights=None)
        path = tmp_path / "checkpoints" / os.path.basename(squeezenet.SQUEEZENET_WEIGHTS.url)
        path.parent.mkdir()
        torch.save(reference.state_dict(), path)
        model = load_squeezenet(pretrained=True, download=False)
        assert model.pretrained is True and not model.training
        for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
            assert torch.equal(a, b)
    finally:
        torch.hub.set_dir(hub_before)


# --------------------------------------------------------------------------- bad input

def test_bad_input_errors():
    model = Linear(4, 3, 3)
    X = torch.randn(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"compute_saliency_maps: X has shape \(3, 3, 3\); "
                                         r"expected \(N, 3, H, W\)"):
        compute_saliency_maps(X[0], torch.tensor([1]), model)
    with pytest.raises(ValueError, match=r"compute_saliency_maps: X has shape \(2, 1, 3, 3\)"):
        compute_saliency_maps(X[:, :1], torch.tensor([1, 2]), model)
    with pytest.raises(TypeError, match=r"X has dtype torch.uint8; expected a float tensor"):
        compute_saliency_maps(X.to(torch.uint8), torch.tensor([1, 2]), model)
    with pytest.raises(TypeError, match=r"X must be a float torch.Tensor of shape \(N, 3, H, W\); "
                                        r"got ndarray"):
        compute_saliency_maps(X.numpy(), torch.tensor([1, 2]), model)
    with pytest.raises(ValueError, match=r"y has shape \(3,\); expected \(N,\) = \(2,\)"):
        compute_saliency_maps(X, torch.tensor([1, 2, 3]), model)
    with pytest.raises(TypeError, match=r"y has dtype torch.float32"):
        compute_saliency_maps(X, torch.tensor([1.0, 2.0]), model)
    with pytest.raises(ValueError, match=r"make_fooling_image: X has shape \(2, 3, 3, 3\); "
                                         r"expected \(1, 3, H, W\)"):
        make_fooling_image(X, 1, model)
    with pytest.raises(TypeError, match=r"make_fooling_image: target_y must be an int"):
        make_fooling_image(X[:1], 1.5, model)
    with pytest.raises(ValueError, match=r"target_y is -1"):
        make_fooling_image(X[:1], -1, model)
    with pytest.raises(ValueError, match=r"class_visualization_update_step: img has shape "
                                         r"\(1, 3, 3\); expected \(1, 3, H, W\)"):
        class_visualization_update_step(X[0, :1], model, 1, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"preprocess: img has shape \(4, 4\); "
                                         r"expected \(H, W, 3\)"):
        preprocess(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match=r"preprocess: img must be a PIL image"):
        preprocess("cat.jpg")
    with pytest.raises(ValueError, match=r"deprocess: img has shape \(2, 3, 3, 3\); "
                                         r"expected \(1, 3, H, W\)"):
        deprocess(X)


# --------------------------------------------------------------------------- the student file's contents

def test_the_student_file_defines_only_the_canonical_names():
    """What a notebook needs beyond the canonical file's names lives in provided modules
    (load_squeezenet and the input checks in cs231n/squeezenet.py)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(nv))
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    assert defined == {"compute_saliency_maps", "make_fooling_image", "class_visualization_update_step",
                       "preprocess", "deprocess", "rescale", "blur_image", "jitter"}
    assert not hasattr(nv, "load_squeezenet")


def test_canonical_helpers_usage_works_with_ours():
    """The notebook calls the helpers the way the canonical ones allow: preprocess on a
    PIL image, deprocess / blur_image on detached tensors, jitter under no_grad."""
    arr = np.random.default_rng(2).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    x = preprocess(Image.fromarray(arr), size=20)
    img = x.clone().requires_grad_(True)
    with torch.no_grad():
        img.copy_(jitter(img, 3, -2))
        img.copy_(jitter(img, -3, 2))
    assert torch.equal(img.detach(), x)
    blur_image(img.detach(), sigma=0.5)  # writes into img's storage
    assert not torch.equal(img.detach(), x)
    assert deprocess(img.detach().cpu()).size == (24, 20)


# --------------------------------------------------------------------------- the notebook, canonical-shaped

# A student file shaped like the official starter's: only its names, its helpers'
# behaviour (preprocess takes PIL images, blur_image calls .numpy() on its argument,
# deprocess works on plain tensors, jitter concatenates slices), its provided lines
# (model.eval(), X.requires_grad_() on the caller's tensor, X_fooling = X.clone()), and
# the solutions in the commonest student form (.backward(), .grad, a while loop, a
# plain class-visualization step with img.grad.zero_()).
CANONICAL_SHAPED_FILE = '''
import random

import numpy as np
import torch
import torchvision.transforms as T
from scipy.ndimage.filters import gaussian_filter1d

from .image_utils import SQUEEZENET_MEAN, SQUEEZENET_STD


def compute_saliency_maps(X, y, model):
    model.eval()
    X.requires_grad_()
    saliency = None
    scores = model(X)
    scores.gather(1, y.view(-1, 1)).squeeze().sum().backward()
    saliency = X.grad.abs().max(dim=1)[0]
    return saliency


def make_fooling_image(X, target_y, model):
    X_fooling = X.clone()
    X_fooling = X_fooling.requires_grad_()
    learning_rate = 1
    while model(X_fooling).argmax(dim=1).item() != target_y:
        model(X_fooling)[0, target_y].backward()
        X_fooling.data += learning_rate * X_fooling.grad / X_fooling.grad.norm()
        X_fooling.grad.zero_()
    return X_fooling


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    objective = model(img)[0, target_y] - l2_reg * (img * img).sum()
    objective.backward()
    img.data += learning_rate * img.grad
    img.grad.zero_()


def preprocess(img, size=224):
    steps = T.Compose([T.Resize(size), T.ToTensor(),
                       T.Normalize(mean=SQUEEZENET_MEAN.tolist(), std=SQUEEZENET_STD.tolist()),
                       T.Lambda(lambda x: x[None])])
    return steps(img)


def deprocess(img, should_rescale=True):
    steps = T.Compose([T.Lambda(lambda x: x[0]),
                       T.Normalize(mean=[0, 0, 0], std=(1.0 / SQUEEZENET_STD).tolist()),
                       T.Normalize(mean=(-SQUEEZENET_MEAN).tolist(), std=[1, 1, 1]),
                       T.Lambda(rescale) if should_rescale else T.Lambda(lambda x: x),
                       T.ToPILImage()])
    return steps(img)


def rescale(x):
    low, high = x.min(), x.max()
    return (x - low) / (high - low)


def blur_image(X, sigma=1):
    values = X.cpu().clone().numpy()
    values = gaussian_filter1d(gaussian_filter1d(values, sigma, axis=2), sigma, axis=3)
    X.copy_(torch.Tensor(values).type_as(X))
    return X


def jitter(X, ox, oy):
    if ox != 0:
        X = torch.cat([X[:, :, :, -ox:], X[:, :, :, :-ox]], dim=3)
    if oy != 0:
        X = torch.cat([X[:, :, -oy:], X[:, :, :-oy]], dim=2)
    return X
'''


@pytest.mark.slow
def test_notebook_runs_with_a_canonical_shaped_student_file(tmp_path):
    import shutil

    import nbformat
    import papermill

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shutil.copytree(os.path.join(root, "cs231n"), tmp_path / "cs231n",
                    ignore=shutil.ignore_patterns("__pycache__", "datasets"))
    os.symlink(os.path.join(root, "cs231n", "datasets"), tmp_path / "cs231n" / "datasets")
    marker = "canonical-shaped student file imported"
    (tmp_path / "cs231n" / "net_visualization_pytorch.py").write_text(
        CANONICAL_SHAPED_FILE + f"\nprint({marker!r})\n")
    notebook = os.path.join(root, "source_notebooks", "Network_Visualization.ipynb")
    out = tmp_path / "executed.ipynb"
    papermill.execute_notebook(notebook, str(out), parameters={"fast_mode": True}, kernel_name="python3",
                               cwd=str(tmp_path), progress_bar=False, execution_timeout=300)
    executed = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs
                      if o.output_type == "stream")
    assert marker in printed
    for name in ("saliency_maps", "fooling_image", "class_visualization_step"):
        assert f"[{name}] 3 / 3 points: passed" in printed, printed[-2000:]
