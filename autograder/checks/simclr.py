"""Hidden checks for the SimCLR part (cs231n/simclr/).

What each function is fed is what the original assignment feeds it:

- The similarity and loss functions get float32 tensors (the projections a
  model produces; the original notebook's sanity-check tensors are float32),
  rows of several lengths and norms, positives correlated with their anchors,
  and two hidden temperatures, one small (0.3-0.7: a sharp softmax) and one large
  (1-5). ``sim`` gets two rows of a batch, (D,) each, as the naive loss loop
  hands it. Results are judged at float32 precision whatever dtype comes back.
  The vectorised loss is compared with the reference's, which equals the naive
  loss (tests/test_simclr.py proves it), and so are its gradients: ``train``
  backpropagates through it. The naive loss is only a reference for the fast
  one, so its gradient is not asked for.
- The augmentation is random by design, so it is judged by statistics of its
  output (``AUGMENTATION``) on two kinds of hidden 32 x 32 images, through the
  student's ``CIFAR10Pair``: images whose colour codes the pixel position
  (red = 8x, green = 8y, blue = 128) show whether a view was colour-jittered
  (blue moved), turned grey (R = G = B), and, when neither, exactly which crop
  was taken; grey ramps show flips (the slope's sign survives jitter and
  greyscale) and the crop's aspect ratio (slope ratio). The frequencies are
  held to the canonical probabilities within 4.5 standard errors.
- The training step runs the student's ``train`` for one epoch of a few
  batches on a tiny network without batch norm (so one forward pass over both
  views and two passes agree), with plain SGD. Only the parameters after the
  epoch come back; the trusted side measures the contrastive loss before and
  after with its own NT-Xent (``nt_xent``), and compares the parameters with the
  reference's.
"""
import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checks.core import (Check, Criterion, Spec, Tol, compare_arrays, not_degenerate, register,
                                    torch_output, weighted)
from autograder.reference import REFERENCE_LOCK, reference_modules

LOSS_MODULES = ("simclr.contrastive_loss",)
# float32 inputs: correct float32 code lands near 1e-7 of the values' scale: the bar is
# F32_TOL (1e-4). The hidden temperatures (0.3-5) and positives (noisy copies of their
# anchors) keep the loss of order one: with tau near 0.1 and near-identical positives the
# loss is a small difference of large logs, which float32 keeps to only 1e-4 of itself.
# Bugs (the diagonal in the denominator, a missing 1/tau, N for 2N) move the loss by at
# least 1e-2 of itself.
TOL = Tol(1e-8, 1e-4)
# The loss's gradient cancels twice (the softmax's weights against the positive's term,
# and the normalization's projection of each row), so float32 code keeps it less well:
# measured over 400 draws, the official kit's masked_select, a cross-entropy with -inf
# on the diagonal and an in-place masked exp with sim_positive_pairs stay below 1.5e-4
# of its largest entry. The bar is 2e-3; a wrong gradient is off by O(1).
GRAD_TOL = Tol(1e-8, 2e-3)


def at_float32(value):
    """A float result rounded to float32: the inputs are float32, so a float64 result
    carries no more accuracy (and is judged like the reference's)."""
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype.kind == "f" else value


def f32(array, requires_grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float32, requires_grad=requires_grad)


def scalar(value, label):
    """A loss or similarity as a 0-d array: a tensor (or number) holding one value."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return np.asarray(float(value))
    array = torch_output(value, label)
    if array.size != 1:
        raise ValueError(f"{label} should be a single number, got shape {tuple(array.shape)}")
    return array.reshape(())


def batch_inputs(rng):
    """out_left, out_right (N, D) float32-representable, positives correlated with their
    anchors, rows of different norms; two temperatures (sharp, soft)."""
    n, d = int(rng.integers(3, 9)), int(rng.integers(4, 17))
    left = rng.standard_normal((n, d))
    right = left + rng.uniform(0.7, 1.5) * rng.standard_normal((n, d))
    left *= rng.uniform(0.3, 3.0, (n, 1))
    right *= rng.uniform(0.3, 3.0, (n, 1))
    taus = np.array([rng.uniform(0.3, 0.7), rng.uniform(1.0, 5.0)])
    return {"left": left.astype(np.float32), "right": right.astype(np.float32), "taus": taus}


def compared(label, got, expected, tol=TOL):
    return compare_arrays(label, at_float32(got) if got is not None else None, expected, tol)


@register
class SimclrSim(Check):
    name = "simclr_sim"
    modules = LOSS_MODULES
    outputs = {"values": Spec("float", shape=("z_i.shape[0]",))}

    def inputs(self, rng):
        pairs, d = 5, int(rng.integers(3, 17))
        z_i = rng.standard_normal((pairs, d)) * rng.uniform(0.2, 4.0, (pairs, 1))
        z_j = rng.standard_normal((pairs, d)) * rng.uniform(0.2, 4.0, (pairs, 1))
        z_j[0] = 2.5 * z_i[0] + 0.05 * rng.standard_normal(d)  # nearly parallel
        z_j[1] = -0.7 * z_i[1] + 0.3 * rng.standard_normal(d)  # pointing away
        return {"z_i": z_i.astype(np.float32), "z_j": z_j.astype(np.float32)}

    def run(self, cs231n, i):
        sim = cs231n.contrastive_loss.sim
        return {"values": np.stack([scalar(sim(f32(a), f32(b)), "sim's result").astype(np.float64)
                                    for a, b in zip(i["z_i"], i["z_j"])])}

    def score(self, got, expected, inputs):
        return [not_degenerate("sim's values", got["values"]),
                compared("sim's values", got["values"], expected["values"])]


@register
class SimclrLossNaive(Check):
    name = "simclr_loss_naive"
    modules = LOSS_MODULES
    outputs = {"loss": Spec("float", shape=("taus.shape[0]",))}

    def inputs(self, rng):
        return batch_inputs(rng)

    def run(self, cs231n, i):
        loss = cs231n.contrastive_loss.simclr_loss_naive
        return {"loss": np.stack([scalar(loss(f32(i["left"]), f32(i["right"]), float(tau)), "the loss")
                                  .astype(np.float64) for tau in i["taus"]])}

    def score(self, got, expected, inputs):
        return [not_degenerate("the loss", got["loss"]),
                compared("the loss at both temperatures", got["loss"], expected["loss"])]


@register
class SimPositivePairs(Check):
    name = "sim_positive_pairs"
    modules = LOSS_MODULES
    outputs = {"pairs": Spec("float", max_size=64)}  # the shape (N, 1) is judged by score

    def inputs(self, rng):
        return batch_inputs(rng)

    def run(self, cs231n, i):
        return {"pairs": torch_output(cs231n.contrastive_loss.sim_positive_pairs(f32(i["left"]), f32(i["right"])),
                                      "sim_positive_pairs' result")}

    def score(self, got, expected, inputs):
        pairs, want = got["pairs"], expected["pairs"]
        n = want.shape[0]
        values = pairs.reshape(want.shape) if pairs.size == n else pairs
        shape_ok = pairs.shape == (n, 1)
        return [not_degenerate("the similarities", pairs),
                weighted(compared("the similarities", values, want), 3.0),
                Criterion("shape", shape_ok, f"shape {pairs.shape}" + ("" if shape_ok else f"; expected ({n}, 1): "
                          "one row per pair (keepdim=True)"), needs=("the similarities",))]


@register
class ComputeSimMatrix(Check):
    name = "compute_sim_matrix"
    modules = LOSS_MODULES
    outputs = {"matrix": Spec("float", shape=("rows", "rows"))}

    def dims(self, inputs):
        return {"rows": 2 * inputs["left"].shape[0]}

    def inputs(self, rng):
        return batch_inputs(rng)

    def run(self, cs231n, i):
        out = torch.cat([f32(i["left"]), f32(i["right"])], dim=0)
        return {"matrix": torch_output(cs231n.contrastive_loss.compute_sim_matrix(out), "compute_sim_matrix's result")}

    def score(self, got, expected, inputs):
        return [not_degenerate("the similarity matrix", got["matrix"]),
                compared("the similarity matrix", got["matrix"], expected["matrix"])]


@register
class SimclrLossVectorized(Check):
    name = "simclr_loss_vectorized"
    modules = LOSS_MODULES
    outputs = {"loss": Spec("float", shape=("taus.shape[0]",)),
               "grad_left": Spec("float", shape=("taus.shape[0]", "left.shape[0]", "left.shape[1]")),
               "grad_right": Spec("float", shape=("taus.shape[0]", "left.shape[0]", "left.shape[1]"))}

    def inputs(self, rng):
        return batch_inputs(rng)

    def run(self, cs231n, i):
        loss_fn = cs231n.contrastive_loss.simclr_loss_vectorized
        losses, grads_left, grads_right = [], [], []
        for tau in i["taus"]:
            left, right = f32(i["left"], requires_grad=True), f32(i["right"], requires_grad=True)
            loss = loss_fn(left, right, float(tau), device=left.device)  # as the original notebook calls it
            value = scalar(loss, "the loss").astype(np.float64)
            if isinstance(loss, torch.Tensor) and loss.requires_grad:
                loss.backward()
            grads = [torch_output(x.grad, "gradient").astype(np.float64) if x.grad is not None
                     else np.full(tuple(x.shape), np.nan) for x in (left, right)]
            losses.append(value)
            grads_left.append(grads[0])
            grads_right.append(grads[1])
        return {"loss": np.stack(losses), "grad_left": np.stack(grads_left), "grad_right": np.stack(grads_right)}

    def score(self, got, expected, inputs):
        parts = [not_degenerate("the loss", got["loss"]),
                 weighted(compared("the loss at both temperatures", got["loss"], expected["loss"]), 2.0)]
        for key, label in (("grad_left", "its gradient for out_left"), ("grad_right", "its gradient for out_right")):
            if np.all(np.isnan(got[key])):
                parts.append(Criterion(label, False, f"{label}: no gradient reaches the inputs; build the loss "
                                       "from them with torch operations (no .item(), .detach() or NumPy), "
                                       "since train() backpropagates through it"))
            else:
                parts.append(compared(label, got[key], expected[key], GRAD_TOL))
        return parts


# --------------------------------------------------------------------------- augmentation

P_FLIP, P_JITTER, P_GRAY = 0.5, 0.8, 0.2  # the canonical probabilities
Z = 4.5  # standard errors a frequency may stray: about 7e-6 false alarms per statistic
POSITION_IMAGES, RAMP_IMAGES = 128, 48  # each gives two views


def position_image(dx, dy):
    """Red = 8x + dx, green = 8y + dy, blue = 128: a view's colour tells where it came from."""
    y, x = np.mgrid[0:32, 0:32]
    return np.stack([8 * x + dx, 8 * y + dy, np.full((32, 32), 128)], axis=-1).astype(np.uint8)


RAMP_X, RAMP_Y = 1.2, 1.0  # grey levels per pixel; the ramp stays in [80, 155], clear of clipping


def ramp_image(offset):
    y, x = np.mgrid[0:32, 0:32]
    grey = np.round(80 + offset + RAMP_X * x + RAMP_Y * y)
    return np.repeat(grey[..., None], 3, axis=-1).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def crop_area_moments(draws=200_000):
    """Mean and standard deviation of the area share of RandomResizedCrop(32)'s crop of a
    32 x 32 image (scale (0.08, 1), ratio (3/4, 4/3), 10 tries, then the whole image):
    its algorithm replayed in NumPy (tests/test_simclr.py compares with torchvision's)."""
    rng = np.random.default_rng(0)
    area = np.ones(draws)
    pending = np.ones(draws, dtype=bool)
    for _ in range(10):
        target = 1024 * rng.uniform(0.08, 1.0, draws)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3), draws))
        w, h = np.round(np.sqrt(target * ratio)), np.round(np.sqrt(target / ratio))
        ok = pending & (w > 0) & (w <= 32) & (h > 0) & (h <= 32)
        area[ok] = w[ok] * h[ok] / 1024
        pending &= ~ok
    return float(area.mean()), float(area.std())


def frequency_ok(count, n, p):
    """A count of n Bernoulli(p) draws within Z standard errors of n * p."""
    return n > 0 and abs(count / n - p) <= Z * np.sqrt(p * (1 - p) / n) + 1 / n


def slopes(grey):
    """Least-squares slopes (per output pixel) of images (V, 32, 32) along x and y."""
    u = np.arange(32) - 15.5
    sx = np.einsum("vij,j->v", grey - grey.mean(axis=(1, 2), keepdims=True), u) / (32 * np.sum(u * u))
    sy = np.einsum("vij,i->v", grey - grey.mean(axis=(1, 2), keepdims=True), u) / (32 * np.sum(u * u))
    return sx, sy


def ratio_ok(w, h):
    """Aspect ratios w / h within RandomResizedCrop's [3/4, 4/3], up to rounding both sides to pixels."""
    slack = 1.0 / np.maximum(np.minimum(w, h), 1.0)
    return np.abs(np.log(w / h)) <= np.log(4 / 3) + 2 * slack + 0.02


@register
class SimclrAugmentation(Check):
    name = "simclr_augmentation"
    modules = ("simclr.data_utils",)
    _normalize = None  # CIFAR-10's (mean, std), each (3, 1, 1), once read (``normalization``)

    def prepare(self, inputs):
        self.normalization()

    def normalization(self):
        """The provided package's CIFAR-10 Normalize constants as (mean, std), (3, 1, 1) each.

        Read from the instructor's copy, never through ``sys.modules``: there a
        notebook kernel holds the student's ``cs231n``, and a batch thread may have
        set every ``cs231n`` entry aside while it loads the reference.
        """
        if self._normalize is None:
            with REFERENCE_LOCK:
                provided = reference_modules(("simclr",)).simclr
                self._normalize = tuple(np.array(v, dtype=np.float64)[:, None, None]
                                        for v in (provided.CIFAR10_MEAN, provided.CIFAR10_STD))
        return self._normalize

    def output_specs(self, inputs):
        n = inputs["images"].shape[0]
        return {"left": Spec("float", shape=(n, 3, 32, 32)), "right": Spec("float", shape=(n, 3, 32, 32)),
                "targets": Spec(("int", "float"), shape=(n,))}

    def inputs(self, rng):
        position = [position_image(*rng.integers(0, 8, 2)) for _ in range(POSITION_IMAGES)]
        ramps = [ramp_image(rng.integers(0, 10)) for _ in range(RAMP_IMAGES)]
        return {"images": np.stack(position + ramps), "labels": rng.integers(0, 10, POSITION_IMAGES + RAMP_IMAGES),
                "seed": np.array(int(rng.integers(0, 2**31 - 1)))}

    def run(self, cs231n, i):
        data_utils = cs231n.data_utils
        dataset = data_utils.CIFAR10Pair.__new__(data_utils.CIFAR10Pair)  # no files: the hidden images instead
        dataset.data, dataset.targets = i["images"], [int(v) for v in i["labels"]]
        dataset.transform = data_utils.compute_train_transform(seed=int(i["seed"]))
        dataset.target_transform = None
        left, right, targets = [], [], []
        for index in range(len(i["images"])):
            x_i, x_j, target = dataset[index]
            left.append(torch_output(x_i, "x_i"))
            right.append(torch_output(x_j, "x_j"))
            targets.append(int(target))
        return {"left": np.stack(left), "right": np.stack(right), "targets": np.array(targets)}

    def score(self, got, expected, inputs):
        n_pos = POSITION_IMAGES
        views = np.concatenate([got["left"], got["right"]]).astype(np.float64)
        mean, std = self.normalization()
        levels = 255 * (views * std + mean)  # back to grey levels
        position = np.concatenate([levels[:n_pos], levels[len(got["left"]):][:n_pos]])
        ramps = np.concatenate([levels[n_pos:len(got["left"])], levels[len(got["left"]) + n_pos:]])
        parts = [not_degenerate("the views", got["left"])]

        identical = int(np.sum(np.all(got["left"] == got["right"], axis=(1, 2, 3))))
        labels_ok = np.array_equal(got["targets"], inputs["labels"])
        pair_ok = identical <= 0.02 * len(got["left"]) and labels_ok
        parts.append(Criterion("two views", pair_ok,
                               f"{identical} of {len(got['left'])} pairs of views are identical" + (
                                   "" if pair_ok else "; expected two independent augmentations of each image "
                                   "(call the transform twice)") + ("" if labels_ok else "; the labels differ "
                                                                     "from the dataset's targets")))

        grey = np.max(np.abs(position - position[:, :1]), axis=(1, 2, 3)) < 0.75
        clean = ~grey & np.all(np.abs(position[:, 2] - 128) < 0.75, axis=(1, 2))
        parts.append(Criterion("grayscale", frequency_ok(grey.sum(), len(grey), P_GRAY),
                               f"{grey.mean():.1%} of the views are grey (expected {P_GRAY:.0%})"))
        p_clean = (1 - P_JITTER) * (1 - P_GRAY)
        parts.append(Criterion("colour jitter", frequency_ok(clean.sum(), len(clean), p_clean),
                               f"{clean.mean():.1%} of the views keep their colours (expected "
                               f"{p_clean:.0%}: neither jittered, probability {1 - P_JITTER:.0%}, nor grey)"))

        sx, sy = slopes(ramps.mean(axis=1))
        flipped = sx < 0
        aspect = np.abs(sx / RAMP_X) / np.maximum(np.abs(sy / RAMP_Y), 1e-9)
        parts.append(Criterion("flip", frequency_ok(flipped.sum(), len(flipped), P_FLIP),
                               f"{flipped.mean():.1%} of the views are flipped (expected {P_FLIP:.0%})"))
        crop_detail, crop_ok = self._crops(position[clean], aspect)
        parts.append(Criterion("crop", crop_ok, crop_detail))
        return parts

    @staticmethod
    def _crops(clean_views, ramp_aspect):
        """The crops' sizes, read off the unjittered position-coded views: width = 4 x the red
        slope, height = 4 x the green slope (8 grey levels per source pixel, 32 output pixels)."""
        if len(clean_views) < 5:
            return "crop: too few views without colour changes to measure the crops", False
        sx, _ = slopes(clean_views[:, 0])
        _, sy = slopes(clean_views[:, 1])
        w, h = 4 * np.abs(sx), 4 * np.abs(sy)
        area = w * h / 1024
        mean, sd = crop_area_moments()
        area_ok = abs(area.mean() - mean) <= Z * sd / np.sqrt(len(area)) + 0.02
        shapes_ok = bool(np.all(ratio_ok(w, h)) and np.all(np.abs(np.log(ramp_aspect)) <= np.log(4 / 3) + 0.15))
        detail = (f"crops cover {area.mean():.0%} of the image on average (expected {mean:.0%}), "
                  f"aspect ratios {np.min(w / h):.2f} to {np.max(w / h):.2f}")
        if not area_ok or not shapes_ok:
            detail += "; expected RandomResizedCrop(32)'s crops (scale 0.08 to 1, ratio 3/4 to 4/3)"
        return detail, bool(area_ok and shapes_ok)


# --------------------------------------------------------------------------- training step

def nt_xent(z_left, z_right, tau):
    """The contrastive loss, written independently of the reference (trusted side): the
    cross-entropy of each view's similarities (itself left out) against its partner."""
    z = F.normalize(torch.cat([z_left, z_right]), dim=1)
    n = len(z_left)
    logits = (z @ z.T) / tau
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, partner)


class TinySimCLR(nn.Module):
    """A network shaped like Model (forward gives normalized features and projections),
    small enough to train in milliseconds, and without batch norm."""

    def __init__(self, inputs_per_image, hidden, feature_dim):
        super().__init__()
        self.f = nn.Sequential(nn.Flatten(), nn.Linear(inputs_per_image, hidden), nn.ReLU())
        self.g = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim))

    def forward(self, x):
        feature = self.f(x)
        return F.normalize(feature, dim=-1), F.normalize(self.g(feature), dim=-1)


HIDDEN, FEATURES = 12, 6


def tiny_model(inputs):
    """The tiny network with every parameter set from ``inputs['weights_seed']`` (float32)."""
    model = TinySimCLR(int(np.prod(inputs["x_i"].shape[2:])), HIDDEN, FEATURES)
    rng = np.random.default_rng(int(inputs["weights_seed"]))
    with torch.no_grad():
        for p in model.parameters():
            scale = 1 / np.sqrt(p.shape[1]) if p.dim() > 1 else 0.1
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * scale))
    return model


def flat_parameters(model):
    return np.concatenate([torch_output(p, "parameter").ravel() for p in model.parameters()])


def measured_loss(inputs, parameters):
    """The mean contrastive loss over the hidden batches of the tiny network holding
    ``parameters`` (trusted side)."""
    model = tiny_model(inputs)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(parameters, dtype=torch.float32), model.parameters())
        losses = [nt_xent(model(f32(a))[1], model(f32(b))[1], float(inputs["tau"]))
                  for a, b in zip(inputs["x_i"], inputs["x_j"])]
    return float(torch.stack(losses).mean())


@register
class SimclrTrain(Check):
    name = "simclr_train"
    modules = ("simclr.utils",)
    batches, batch_size = 3, 8

    def output_specs(self, inputs):
        size = int(tiny_parameter_count(inputs))
        return {"parameters": Spec("float", shape=(size,))}

    def inputs(self, rng):
        shape = (self.batches, self.batch_size, 3, 4, 4)
        images = rng.standard_normal(shape[1:])  # every batch holds views of the same images,
        x_i = images + 0.3 * rng.standard_normal(shape)  # so each step works on one problem
        x_j = images + 0.3 * rng.standard_normal(shape)
        return {"x_i": x_i.astype(np.float32), "x_j": x_j.astype(np.float32),
                "labels": rng.integers(0, 10, shape[:2]), "tau": np.array(rng.uniform(0.3, 1.0)),
                "lr": np.array(rng.uniform(0.1, 0.3)), "weights_seed": np.array(int(rng.integers(0, 2**31)))}

    def run(self, cs231n, i):
        model = tiny_model(i)
        optimizer = torch.optim.SGD(model.parameters(), lr=float(i["lr"]))
        loader = [(f32(a), f32(b), torch.tensor(t)) for a, b, t in zip(i["x_i"], i["x_j"], i["labels"])]
        cs231n.utils.train(model, loader, optimizer, 1, 1, batch_size=self.batch_size, temperature=float(i["tau"]),
                           device="cpu")
        return {"parameters": flat_parameters(model)}

    def score(self, got, expected, inputs):
        before = flat_parameters(tiny_model(inputs))
        parts = [not_degenerate("the parameters after the epoch", got["parameters"], unchanged=(before,))]
        start = measured_loss(inputs, before)
        reference = measured_loss(inputs, expected["parameters"])
        if np.all(np.isfinite(got["parameters"])):
            after = measured_loss(inputs, got["parameters"].astype(np.float32))
        else:
            after = float("nan")
        lowered = after <= start - 0.5 * (start - reference)
        parts.append(Criterion("loss lowered", bool(lowered),
                               f"the contrastive loss went from {start:.4f} to {after:.4f} over "
                               f"{self.batches} steps (a correct step: {reference:.4f})" + (
                                   "" if lowered else "; each step should lower the loss of the "
                                   "projections (the model's second output)")))
        parts.append(weighted(compared("the parameters after the epoch", got["parameters"],
                                               expected["parameters"]), 2.0))
        return parts


def tiny_parameter_count(inputs):
    d = int(np.prod(inputs["x_i"].shape[2:]))
    return d * HIDDEN + HIDDEN + HIDDEN * HIDDEN + HIDDEN + HIDDEN * FEATURES + FEATURES
