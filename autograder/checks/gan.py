"""Hidden checks for the GAN part (cs231n/gan_pytorch.py).

What each function is fed is what the original assignment feeds it:

- Losses get scores of shape (N,) as float32 tensors made with the module's own
  ``dtype`` (``torch.Tensor(x).type(dtype)``, as the original notebook's tests do),
  so labels made with ``torch.ones(N).type(dtype)`` live on the same device. Their
  values and gradients are judged at float32 precision whatever dtype comes back.
  ``bce_loss`` is provided code (as in the original file) and has no check of its
  own: ``gan_losses`` runs it through the two losses that call it.
- Networks run in float64 with every parameter overwritten, in ``.parameters()``
  order, by values drawn from a seed in the inputs, so the student's network and
  the reference compute the same function exactly when their layers agree. The
  networks' parameter shapes come back as raw arrays and the trusted side counts
  them; the canonical counts (facts of the assignment) only qualify a right
  output: a network with the right sizes that computes something else earns nothing.
- Noise is random by design: it is judged by its properties (range, spread,
  seeding), and its shape counts only when the values are right.
- The optimizer takes three steps on a small model with hidden gradients, and
  only the parameters after each step come back. The trusted side fits Adam's
  settings (learning rate, betas, eps, L2 weight decay) to those steps: the
  optimizer "is Adam" when Adam with the fitted settings reproduces every step,
  and its learning rate and betas are the fitted ones. Nothing the optimizer
  says about itself (its class, its param_groups) is believed.
"""

import numpy as np
import torch

from autograder.checks.core import (Check, Criterion, Spec, Tol, compare_arrays, not_degenerate, register,
                                    torch_output, weighted)

MODULES = ("gan_pytorch",)
TOL = 1e-8  # float64; correct code lands near 1e-15
# Losses are judged at float32 precision (their inputs are float32). A gradient
# entry (sigmoid(s) - t) / N keeps only float32's absolute accuracy, about 1e-7 / N,
# where sigmoid(s) is close to t, and is judged against 1e-3 of the largest entry
# (at least about 0.3 / N by construction of the inputs). Measured over 3000 input
# draws, BCE via bce_loss, F.binary_cross_entropy_with_logits, the clamp formula,
# an explicit sigmoid and a float64 detour stay below 1e-5; the bar is 1e-3 to leave
# room for other kernels (GPU). Bugs (swapped labels, a missing 1/2, a sum for a
# mean) move results by O(1).
LOSS_TOL = Tol(TOL, 1e-3)

# The canonical architectures' parameter counts (facts of the assignment).
DISCRIMINATOR_PARAMS = 267009  # discriminator()
GENERATOR_PARAMS = 1858320  # generator(4)
DC_CLASSIFIER_PARAMS = 1102721  # build_dc_classifier(batch_size)
DC_GENERATOR_PARAMS = 6580801  # build_dc_generator(4)


SHAPE_COLUMNS = 4  # parameter shapes come back as rows of 4 sizes (padded with 1)
MAX_PARAMETERS = 256  # parameter tensors of one network (the canonical ones hold at most 14)


def param_shapes(model):
    """The shapes of ``model``'s parameters, (P, 4) int64: each shape padded with 1s
    in front, sizes beyond the fourth multiplied into the last (the count is kept)."""
    rows = []
    for p in model.parameters():
        shape = [int(n) for n in p.shape]
        if len(shape) > SHAPE_COLUMNS:
            shape = shape[:SHAPE_COLUMNS - 1] + [int(np.prod(shape[SHAPE_COLUMNS - 1:]))]
        rows.append([1] * (SHAPE_COLUMNS - len(shape)) + shape)
    return np.array(rows, dtype=np.int64).reshape(-1, SHAPE_COLUMNS)


def shapes_spec():
    return Spec("int", shape=(None, SHAPE_COLUMNS), max_size=SHAPE_COLUMNS * MAX_PARAMETERS)


def counted(shapes):
    """Parameters in a network, from its (P, 4) shapes (trusted side); -1 for a negative size."""
    shapes = np.asarray(shapes, dtype=np.int64)
    return -1 if np.any(shapes < 0) else int(np.prod(shapes, axis=1).sum())


def set_weights(model, seed):
    """Make ``model`` float64 and overwrite every parameter from ``seed``.

    Weights get a 1/sqrt(fan-in) scale so activations stay near 1 through
    the layers; vectors (biases, batch-norm scales and shifts) get 0.1.
    """
    model.double()
    rng = np.random.default_rng(int(seed))
    with torch.no_grad():
        for p in model.parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else 0
            scale = 1 / np.sqrt(fan_in) if fan_in else 0.1
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * scale).to(p.device))
    return model


def tensor(array, requires_grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def forward(model, x, label):
    """``model(x)`` on the model's device (a network moved to the GPU still runs), as NumPy."""
    device = next(model.parameters()).device
    return torch_output(model(x.to(device)), label)


def same_count(label, got, expected, needs=()):
    """A Criterion: parameter counts equal (arrays of ints); it qualifies the outputs in ``needs``."""
    got_n, want_n = np.asarray(got).ravel(), np.asarray(expected).ravel()
    ok = got_n.shape == want_n.shape and bool(np.all(got_n == want_n))
    shown = ", ".join(str(int(n)) for n in got_n)
    wanted = ", ".join(str(int(n)) for n in want_n)
    return Criterion(label, ok, f"{label}: {shown}" + ("" if ok else f", expected {wanted}"), needs=tuple(needs))


# --------------------------------------------------------------------------- noise

@register
class SampleNoise(Check):
    name = "sample_noise"
    modules = MODULES
    # the shape of z is judged by score (it only counts next to right values)
    outputs = {"z": Spec("float", max_size=4096), "many": Spec("float", shape=(2000, 8)),
               **{key: Spec("float", max_size=4096) for key in ("seeded_a", "seeded_b", "seeded_c")}}

    def inputs(self, rng):
        return {"batch_size": np.array(int(rng.integers(3, 9))), "dim": np.array(int(rng.integers(3, 11))),
                "seed": np.array(int(rng.integers(0, 2**31 - 2))),
                "torch_seed": np.array(int(rng.integers(0, 2**31)))}

    def run(self, cs231n, i):
        sample_noise = cs231n.gan_pytorch.sample_noise
        n, d, seed = int(i["batch_size"]), int(i["dim"]), int(i["seed"])
        torch.manual_seed(int(i["torch_seed"]))  # unseeded draws: the same on every run
        return {
            "z": torch_output(sample_noise(n, d), "sample_noise's result"),
            "many": torch_output(sample_noise(2000, 8), "sample_noise's result"),
            "seeded_a": torch_output(sample_noise(n, d, seed=seed), "sample_noise's result"),
            "seeded_b": torch_output(sample_noise(n, d, seed=seed), "sample_noise's result"),
            "seeded_c": torch_output(sample_noise(n, d, seed=seed + 1), "sample_noise's result"),
        }

    def score(self, got, expected, inputs):
        z, many = got["z"], got["many"]
        want = (int(inputs["batch_size"]), int(inputs["dim"]))
        values = ("range", "spread")  # what the shape and the seeding qualify
        parts = [not_degenerate("the noise", many)]
        if many.shape != (2000, 8) or many.dtype.kind != "f":
            return parts + [Criterion("range", False, f"sample_noise(2000, 8) has shape {many.shape} and dtype "
                                 f"{many.dtype}; expected a float tensor of shape (2000, 8)"),
                            Criterion("spread", False, "spread: not checked (wrong shape)"),
                            Criterion("shape", False, "shape: not checked", needs=values),
                            Criterion("seed", False, "seed: not checked", needs=values)]
        lo, hi = float(many.min()), float(many.max())
        range_ok = bool(np.all(np.isfinite(many))) and lo >= -1 and hi <= 1 and lo < -0.9 and hi > 0.9
        parts.append(Criterion("range", range_ok, f"values span [{lo:.3f}, {hi:.3f}]" + (
            "" if range_ok else "; expected values filling [-1, 1]")))
        mean, var = float(many.mean()), float(many.var())
        rows_differ = len(np.unique(many, axis=0)) == len(many)
        spread_ok = rows_differ and abs(mean) < 0.05 and abs(var - 1 / 3) < 0.03
        parts.append(Criterion("spread", spread_ok, f"mean {mean:.3f}, variance {var:.3f}" + (
            "" if spread_ok else "; expected independent uniform draws: every row different, "
                                 "mean 0 and variance 1/3")))
        shape_ok = z.shape == want and z.dtype.kind == "f"
        parts.append(Criterion("shape", shape_ok, f"shape {z.shape} {z.dtype}" + (
            "" if shape_ok else f"; expected a float tensor of shape {want}"), needs=values))
        a, b, c = got["seeded_a"], got["seeded_b"], got["seeded_c"]
        seed_ok = a.shape == b.shape == c.shape == want and np.array_equal(a, b) and not np.array_equal(a, c)
        parts.append(Criterion("seed", seed_ok, "the same seed gives the same noise" if seed_ok else
                          "seed: expected the same noise for the same seed and different noise "
                          "for different seeds (draw with torch's generator, after the provided "
                          "torch.manual_seed)", needs=values))
        return parts


# --------------------------------------------------------------------------- networks

def network_inputs(rng):
    n, noise_dim = int(rng.integers(3, 9)), int(rng.integers(5, 21))
    return {"images": rng.uniform(-1, 1, (n, 1, 28, 28)), "noise": rng.uniform(-1, 1, (n, noise_dim)),
            "seed_d": np.array(int(rng.integers(0, 2**31))), "seed_g": np.array(int(rng.integers(0, 2**31)))}


@register
class GanNetworks(Check):
    name = "gan_networks"
    modules = MODULES
    outputs = {"d_out": Spec("float", shape=("images.shape[0]", 1)),
               "d_images_out": Spec("float", shape=("images.shape[0]", 1)),
               "g_out": Spec("float", shape=("noise.shape[0]", 784)),
               "d_shapes": shapes_spec(), "g4_shapes": shapes_spec(), "g_shapes": shapes_spec()}

    def inputs(self, rng):
        return network_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        n, noise_dim = i["noise"].shape
        torch.manual_seed(0)
        D = gan.discriminator()
        G = gan.generator(noise_dim)
        out = {"d_shapes": param_shapes(D), "g4_shapes": param_shapes(gan.generator(4)), "g_shapes": param_shapes(G)}
        set_weights(D, i["seed_d"])
        set_weights(G, i["seed_g"])
        images = tensor(i["images"])
        with torch.no_grad():
            try:  # run_a_gan hands the discriminator (N, 1, 28, 28) images
                out["d_out"] = forward(D, images, "discriminator output")
                out["d_images_out"] = out["d_out"]
            except Exception:  # a network without Flatten: judge its function on flat rows
                out["d_out"] = forward(D, images.reshape(n, 784), "discriminator output")
                out["d_images_out"] = np.full(out["d_out"].shape, np.nan)  # no output on images
            out["g_out"] = forward(G, tensor(i["noise"]), "generator output")
        return out

    def score(self, got, expected, inputs):
        # the images' output is the output judged below (NaN where the call on images failed)
        takes = bool(np.all(np.isfinite(got["d_images_out"]))) and np.array_equal(got["d_images_out"], got["d_out"])
        return [
            not_degenerate("discriminator output", got.get("d_out")),
            not_degenerate("generator output", got.get("g_out")),
            weighted(compare_arrays("discriminator output", got.get("d_out"), expected["d_out"], TOL), 2.0),
            Criterion("discriminator takes images", takes,
                 "the discriminator takes (N, 1, 28, 28) images" if takes else
                 "the discriminator fails on (N, 1, 28, 28) images, which run_a_gan gives it: "
                 "start it with Flatten()", needs=("discriminator output",)),
            same_count("discriminator() parameters", counted(got["d_shapes"]), DISCRIMINATOR_PARAMS,
                       needs=("discriminator output",)),
            weighted(compare_arrays("generator output", got.get("g_out"), expected["g_out"], TOL), 2.0),
            same_count("generator(4) and generator(noise_dim) parameters",
                       [counted(got["g4_shapes"]), counted(got["g_shapes"])],
                       [GENERATOR_PARAMS, counted(expected["g_shapes"])], needs=("generator output",)),
        ]


@register
class DcNetworks(Check):
    name = "dc_networks"
    modules = MODULES
    # The generator's images may come out of another size (a wrong kernel): score says so.
    outputs = {"d_out": Spec("float", shape=("images.shape[0]", 1)), "g_out": Spec("float", max_size=1 << 16),
               "d_shapes": shapes_spec(), "g4_shapes": shapes_spec(), "g_shapes": shapes_spec()}

    def inputs(self, rng):
        return network_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        n, noise_dim = i["noise"].shape
        torch.manual_seed(0)
        D = gan.build_dc_classifier(n)
        G = gan.build_dc_generator(noise_dim)
        out = {"d_shapes": param_shapes(D), "g4_shapes": param_shapes(gan.build_dc_generator(4)),
               "g_shapes": param_shapes(G)}
        set_weights(D, i["seed_d"])
        set_weights(G, i["seed_g"])
        with torch.no_grad():  # train mode: batch norm uses the batch's statistics
            out["d_out"] = forward(D, tensor(i["images"]), "DC classifier output")
            g_out = forward(G, tensor(i["noise"]), "DC generator output")
        # The same images as (N, 1, 28, 28) (no final Flatten) serve run_a_gan equally well.
        out["g_out"] = g_out.reshape(n, 784) if g_out.shape == (n, 1, 28, 28) else g_out
        return out

    def score(self, got, expected, inputs):
        return [
            not_degenerate("DC classifier output", got.get("d_out")),
            not_degenerate("DC generator output", got.get("g_out")),
            weighted(compare_arrays("DC classifier output", got.get("d_out"), expected["d_out"], TOL), 2.0),
            same_count("build_dc_classifier(batch_size) parameters", counted(got["d_shapes"]),
                       DC_CLASSIFIER_PARAMS, needs=("DC classifier output",)),
            weighted(compare_arrays("DC generator output", got.get("g_out"), expected["g_out"], TOL), 2.0),
            same_count("build_dc_generator(4) and build_dc_generator(noise_dim) parameters",
                       [counted(got["g4_shapes"]), counted(got["g_shapes"])],
                       [DC_GENERATOR_PARAMS, counted(expected["g_shapes"])], needs=("DC generator output",)),
        ]


# --------------------------------------------------------------------------- losses

def score_inputs(rng):
    """Scores (N,) for real and fake images, |s| <= 5, each sign present where a
    gradient needs it, so every gradient array has an entry of size >= ~0.3 / N."""
    n = int(rng.integers(4, 11))
    real, fake = rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)
    real[0] = -rng.uniform(1, 4)  # a real image called fake: d(loss)/d(real) is large there
    fake[0], fake[1] = -rng.uniform(1, 4), rng.uniform(1, 4)
    return {"real": rng.permutation(real), "fake": rng.permutation(fake)}


def scores_tensor(gan, array):
    """float32 scores as the original notebook makes them, ``torch.Tensor(x).type(dtype)``,
    with the module's ``dtype`` (CPU float32 when it cannot be used); a leaf that
    collects its gradient."""
    x = torch.tensor(np.asarray(array), dtype=torch.float32)
    try:
        x = x.type(gan.dtype)
    except Exception:
        pass
    return x.detach().requires_grad_()


def value_and_grads(loss, *leaves):
    """(loss value, gradients of leaves) as NumPy; NaN gradients when none reach a leaf."""
    value = torch_output(loss, "the loss")
    if loss.requires_grad:
        loss.backward()
    grads = [torch_output(x.grad, "gradient") if x.grad is not None
             else np.full(tuple(x.shape), np.nan, dtype=np.float32) for x in leaves]
    return value, grads


def at_float32(got):
    """The student's float results rounded to float32: the inputs are float32, so a
    float64 result carries no more accuracy (and is judged like the reference's)."""
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in got.items()}


def loss_specs():
    """Each loss a scalar, each gradient shaped like the scores it is taken for."""
    return {"d_loss": Spec("float", shape=()), "d_loss_grad_real": Spec("float", like="real"),
            "d_loss_grad_fake": Spec("float", like="fake"), "g_loss": Spec("float", shape=()),
            "g_loss_grad_fake": Spec("float", like="fake")}


LOSS_LABELS = {
    "d_loss": "discriminator loss", "d_loss_grad_real": "its gradient for the real scores",
    "d_loss_grad_fake": "its gradient for the fake scores",
    "g_loss": "generator loss", "g_loss_grad_fake": "its gradient for the fake scores",
}


def score_losses(got, expected, d_name, g_name):
    got = at_float32(got)
    parts = [not_degenerate(f"{d_name}'s value", got.get("d_loss")),
             not_degenerate(f"{g_name}'s value", got.get("g_loss"))]
    for key, want in expected.items():
        name = d_name if key.startswith("d_") else g_name
        label = f"{name}: {LOSS_LABELS[key]}"
        value = got.get(key)
        if "grad" in key and value is not None and value.size and np.all(np.isnan(value)):
            parts.append(Criterion(label, False, f"{label}: no gradient reaches the scores; build the loss "
                                            "from them with torch operations (no .item(), .detach() "
                                            "or NumPy)"))
        else:
            parts.append(compare_arrays(label, value, want, LOSS_TOL))
    return parts


@register
class GanLosses(Check):
    name = "gan_losses"
    modules = MODULES
    outputs = loss_specs()

    def inputs(self, rng):
        return score_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        real, fake = scores_tensor(gan, i["real"]), scores_tensor(gan, i["fake"])
        d_loss, (d_real, d_fake) = value_and_grads(gan.discriminator_loss(real, fake), real, fake)
        fake_g = scores_tensor(gan, i["fake"])
        g_loss, (g_fake,) = value_and_grads(gan.generator_loss(fake_g), fake_g)
        return {"d_loss": d_loss, "d_loss_grad_real": d_real, "d_loss_grad_fake": d_fake,
                "g_loss": g_loss, "g_loss_grad_fake": g_fake}

    def score(self, got, expected, inputs):
        return score_losses(got, expected, "discriminator_loss", "generator_loss")


@register
class LsLosses(Check):
    name = "ls_losses"
    modules = MODULES
    outputs = loss_specs()

    def inputs(self, rng):
        return score_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        real, fake = scores_tensor(gan, i["real"]), scores_tensor(gan, i["fake"])
        d_loss, (d_real, d_fake) = value_and_grads(gan.ls_discriminator_loss(real, fake), real, fake)
        fake_g = scores_tensor(gan, i["fake"])
        g_loss, (g_fake,) = value_and_grads(gan.ls_generator_loss(fake_g), fake_g)
        return {"d_loss": d_loss, "d_loss_grad_real": d_real, "d_loss_grad_fake": d_fake,
                "g_loss": g_loss, "g_loss_grad_fake": g_fake}

    def score(self, got, expected, inputs):
        return score_losses(got, expected, "ls_discriminator_loss", "ls_generator_loss")


# --------------------------------------------------------------------------- optimizer

ADAM_LR, ADAM_BETAS = 1e-3, (0.5, 0.999)  # get_optimizer's settings (facts of the assignment)
LR_RTOL = 1e-3  # a fitted learning rate within 0.1% of 1e-3 is 1e-3 (mistakes are off by 10x)
BETAS_ATOL = 1e-4  # fitted betas to 1e-4 (the known mistake moves beta1 by 0.4)
FIT_STARTS = ((0.5, 0.999), (0.9, 0.999), (0.0, 0.9), (0.9, 0.5))  # (beta1, beta2) to start from


def adam_trajectory(w, grads, lr, beta1, beta2, eps, weight_decay):
    """Parameters after each Adam step, (steps, P), from ``w`` (P,) with ``grads``
    (steps, P): float64 NumPy, an independent oracle (Kingma & Ba's update with
    bias correction, eps added after the corrected root as torch does, L2 weight
    decay added to the gradient)."""
    m, v, path = np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - (lr / (1 - beta1 ** t)) * m / (np.sqrt(v) / np.sqrt(1 - beta2 ** t) + eps)
        path.append(w)
    return np.stack(path)


def fit_adam(before, grads, observed):
    """Adam settings (lr, beta1, beta2, eps, weight_decay) whose steps reproduce
    ``observed`` (steps, P) from ``before`` (P,) with ``grads`` (steps, P) to
    ``TOL``, or None when no settings do (trusted side).

    Least squares from a few starting betas; the learning rate starts at the
    first step's typical size (Adam's first step moves every entry by about lr).
    Variables: lr / lr0 (order one), the betas, eps and the decay (their effects
    on a step are smooth near zero, so they are fitted as they are).
    """
    from scipy.optimize import least_squares

    lr0 = float(np.median(np.abs(observed[0] - before)))
    if not (np.isfinite(lr0) and lr0 > 0):
        return None

    def settings(x):
        return x[0] * lr0, x[1], x[2], x[3], x[4]

    def residual(x):
        return ((adam_trajectory(before, grads, *settings(x)) - observed) / lr0).ravel()

    bounds = ([1e-6, 0.0, 0.0, 0.0, 0.0], [1e6, 1 - 1e-9, 1 - 1e-12, 1.0, 10.0])
    for beta1, beta2 in FIT_STARTS:
        x = least_squares(residual, [1.0, beta1, beta2, 1e-8, 0.0], bounds=bounds, x_scale=[1, 0.1, 1e-3, 1e-4, 1e-3],
                          xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=100).x
        fitted = settings(x)
        if compare_arrays("", observed, adam_trajectory(before, grads, *fitted), TOL).ok:
            return fitted
    return None


def flat_steps(weights, biases):
    """(steps, P) parameters after each step: weight entries, then bias entries."""
    steps = len(weights)
    return np.concatenate([np.reshape(weights, (steps, -1)), np.reshape(biases, (steps, -1))], axis=1)


@register
class GetOptimizer(Check):
    name = "get_optimizer"
    modules = MODULES
    steps = 3
    outputs = {"weight": Spec("float", like="grad_weight"), "bias": Spec("float", like="grad_bias")}

    def inputs(self, rng):
        d_in, d_out = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        return {"weight": rng.standard_normal((d_out, d_in)), "bias": rng.standard_normal(d_out),
                "grad_weight": rng.standard_normal((self.steps, d_out, d_in)),
                "grad_bias": rng.standard_normal((self.steps, d_out))}

    def run(self, cs231n, i):
        """The model's weight (steps, out, in) and bias (steps, out) after each step."""
        d_out, d_in = i["weight"].shape
        model = torch.nn.Linear(d_in, d_out).double()
        with torch.no_grad():
            model.weight.copy_(tensor(i["weight"]))
            model.bias.copy_(tensor(i["bias"]))
        optimizer = cs231n.gan_pytorch.get_optimizer(model)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"get_optimizer should return a torch.optim optimizer, got {type(optimizer).__name__}")
        weights, biases = [], []
        for k in range(self.steps):
            optimizer.zero_grad()
            model.weight.grad = tensor(i["grad_weight"][k])
            model.bias.grad = tensor(i["grad_bias"][k])
            optimizer.step()
            weights.append(torch_output(model.weight, "weight").copy())
            biases.append(torch_output(model.bias, "bias").copy())
        return {"weight": np.stack(weights), "bias": np.stack(biases)}

    def score(self, got, expected, inputs):
        before = np.concatenate([inputs["weight"].ravel(), inputs["bias"].ravel()])
        grads = flat_steps(inputs["grad_weight"], inputs["grad_bias"])
        observed = flat_steps(got["weight"], got["bias"]).astype(np.float64)
        fit = fit_adam(before, grads, observed) if np.all(np.isfinite(observed)) else None
        adam = ("Adam updates",)
        return [
            not_degenerate("the parameters after the steps", observed[-1], unchanged=(before,)),
            Criterion("Adam updates", fit is not None, "its steps are Adam's (settings fitted to them)" if fit
                      else "its steps are not Adam's with any settings (lr, betas, eps, weight decay)"),
            # what its class would say, told by its steps: credited exactly with "Adam updates"
            Criterion("type", True, "it steps like torch.optim.Adam", needs=adam),
            *self._settings_parts(fit, adam),
            self._steps_part(got, expected, inputs),
        ]

    @staticmethod
    def _settings_parts(fit, needs):
        """The "lr" and "betas" parts, from the settings fitted to the steps."""
        if fit is None:  # nothing to measure: withheld with "Adam updates" (apply_gates says why)
            return [Criterion("lr", True, "learning rate: not measured", needs=needs),
                    Criterion("betas", True, "betas: not measured", needs=needs)]
        lr, betas = fit[0], (fit[1], fit[2])
        lr_ok = abs(lr / ADAM_LR - 1) <= LR_RTOL
        betas_ok = max(abs(b - w) for b, w in zip(betas, ADAM_BETAS)) <= BETAS_ATOL
        shown = tuple(round(float(b), 4) for b in betas)
        return [Criterion("lr", lr_ok, f"learning rate {lr:.3g}" + ("" if lr_ok else f", expected {ADAM_LR:g}"),
                          needs=needs),
                Criterion("betas", betas_ok, f"betas {shown}" + ("" if betas_ok else f", expected {ADAM_BETAS}"),
                          needs=needs)]

    def _steps_part(self, got, expected, inputs):
        """Every step's parameters against the reference's (a Criterion, weight 2)."""
        steps = [compare_arrays(key, got[key], expected[key], TOL) for key in ("weight", "bias")]
        ok = all(p.ok for p in steps)
        detail = (f"{self.steps} Adam steps match the reference" if ok else
                  f"over {self.steps} steps: " + "; ".join(p.detail for p in steps if not p.ok))
        frozen = [key for key in ("weight", "bias") if np.array_equal(got[key][-1], inputs[key])]
        if frozen:
            detail += f" (the optimizer does not update the model's {' and '.join(frozen)})"
        return Criterion("steps", ok, detail, weight=2.0)
