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
  canonical parameter counts (facts of the assignment) only qualify a right output:
  a network with the right sizes that computes something else earns nothing.
- Noise is random by design: it is judged by its properties (range, spread,
  seeding), and its shape counts only when the values are right.
- The optimizer takes three steps on a small model; they are compared with the
  reference's and with Adam run on the optimizer's own settings, so the class and
  its settings count only when the optimizer really steps like Adam.
"""
import dataclasses

import numpy as np
import torch

from autograder.checks.core import Check, Criterion, Tol, compare_arrays, not_degenerate, register, torch_output

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


def count(model):
    return int(sum(p.numel() for p in model.parameters()))


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


def weighted(part, weight):
    return dataclasses.replace(part, weight=weight)


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

    def inputs(self, rng):
        return network_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        n, noise_dim = i["noise"].shape
        torch.manual_seed(0)
        D = gan.discriminator()
        G = gan.generator(noise_dim)
        out = {"d_params": np.array(count(D)),
               "g_params": np.array([count(gan.generator(4)), count(G)])}
        set_weights(D, i["seed_d"])
        set_weights(G, i["seed_g"])
        images = tensor(i["images"])
        with torch.no_grad():
            try:  # run_a_gan hands the discriminator (N, 1, 28, 28) images
                out["d_out"] = forward(D, images, "discriminator output")
                out["d_takes_images"] = np.array(True)
            except Exception:  # a network without Flatten: judge its function on flat rows
                out["d_out"] = forward(D, images.reshape(n, 784), "discriminator output")
                out["d_takes_images"] = np.array(False)
            out["g_out"] = forward(G, tensor(i["noise"]), "generator output")
        return out

    def score(self, got, expected, inputs):
        takes = bool(got.get("d_takes_images", False))
        return [
            not_degenerate("discriminator output", got.get("d_out")),
            not_degenerate("generator output", got.get("g_out")),
            weighted(compare_arrays("discriminator output", got.get("d_out"), expected["d_out"], TOL), 2.0),
            Criterion("discriminator takes images", takes,
                 "the discriminator takes (N, 1, 28, 28) images" if takes else
                 "the discriminator fails on (N, 1, 28, 28) images, which run_a_gan gives it: "
                 "start it with Flatten()", needs=("discriminator output",)),
            same_count("discriminator() parameters", got["d_params"], DISCRIMINATOR_PARAMS,
                       needs=("discriminator output",)),
            weighted(compare_arrays("generator output", got.get("g_out"), expected["g_out"], TOL), 2.0),
            same_count("generator(4) and generator(noise_dim) parameters", got["g_params"],
                       [GENERATOR_PARAMS, int(expected["g_params"][1])], needs=("generator output",)),
        ]


@register
class DcNetworks(Check):
    name = "dc_networks"
    modules = MODULES

    def inputs(self, rng):
        return network_inputs(rng)

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        n, noise_dim = i["noise"].shape
        torch.manual_seed(0)
        D = gan.build_dc_classifier(n)
        G = gan.build_dc_generator(noise_dim)
        out = {"d_params": np.array(count(D)),
               "g_params": np.array([count(gan.build_dc_generator(4)), count(G)])}
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
            same_count("build_dc_classifier(batch_size) parameters", got["d_params"], DC_CLASSIFIER_PARAMS,
                       needs=("DC classifier output",)),
            weighted(compare_arrays("DC generator output", got.get("g_out"), expected["g_out"], TOL), 2.0),
            same_count("build_dc_generator(4) and build_dc_generator(noise_dim) parameters", got["g_params"],
                       [DC_GENERATOR_PARAMS, int(expected["g_params"][1])], needs=("DC generator output",)),
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

def adam_steps(w, grads, lr, beta1, beta2, eps, weight_decay):
    """``w`` after one Adam step per gradient in ``grads`` (float64 NumPy; an
    independent oracle: Kingma & Ba's update with bias correction, L2 weight decay)."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + eps
        w = w - (lr / (1 - beta1 ** t)) * m / denom
    return w


@register
class GetOptimizer(Check):
    name = "get_optimizer"
    modules = MODULES
    steps = 3

    def inputs(self, rng):
        d_in, d_out = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        return {"weight": rng.standard_normal((d_out, d_in)), "bias": rng.standard_normal(d_out),
                "grad_weight": rng.standard_normal((self.steps, d_out, d_in)),
                "grad_bias": rng.standard_normal((self.steps, d_out))}

    def run(self, cs231n, i):
        d_out, d_in = i["weight"].shape
        model = torch.nn.Linear(d_in, d_out).double()
        with torch.no_grad():
            model.weight.copy_(tensor(i["weight"]))
            model.bias.copy_(tensor(i["bias"]))
        optimizer = cs231n.gan_pytorch.get_optimizer(model)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"get_optimizer should return a torch.optim optimizer, got {type(optimizer).__name__}")
        group = optimizer.param_groups[0]
        setting = {key: np.array(group.get(key, default), dtype=np.float64).ravel()
                   for key, default in (("lr", np.nan), ("betas", (np.nan, np.nan)), ("eps", np.nan),
                                        ("weight_decay", 0.0))}
        model_ids = {id(p) for p in model.parameters()}
        optimized = {id(p) for g in optimizer.param_groups for p in g["params"]} & model_ids
        for k in range(self.steps):
            optimizer.zero_grad()
            model.weight.grad = tensor(i["grad_weight"][k])
            model.bias.grad = tensor(i["grad_bias"][k])
            optimizer.step()
        return {"is_adam": np.array(isinstance(optimizer, torch.optim.Adam)), **setting,
                "covers_all": np.array(optimized == model_ids),
                "weight": torch_output(model.weight, "weight"), "bias": torch_output(model.bias, "bias")}

    def score(self, got, expected, inputs):
        lr, betas, eps, decay = got["lr"], got["betas"], got["eps"], got["weight_decay"]
        lr_ok = lr.shape == (1,) and abs(float(lr[0]) - float(expected["lr"][0])) < 1e-12
        betas_ok = betas.shape == expected["betas"].shape and np.allclose(betas, expected["betas"], rtol=0,
                                                                           atol=1e-12)
        after = np.concatenate([got["weight"].ravel(), got["bias"].ravel()])
        before = np.concatenate([inputs["weight"].ravel(), inputs["bias"].ravel()])
        # Adam run on the optimizer's own settings: does it really step like Adam?
        own = "lr, betas or eps missing: not an Adam optimizer"
        own_ok = False
        if lr.shape == (1,) and betas.shape == (2,) and eps.shape == (1,) and decay.shape == (1,) \
                and np.all(np.isfinite(np.concatenate([lr, betas, eps, decay]))):
            grads = [np.concatenate([gw.ravel(), gb.ravel()])
                     for gw, gb in zip(inputs["grad_weight"], inputs["grad_bias"])]
            like_adam = adam_steps(before, grads, lr[0], betas[0], betas[1], eps[0], decay[0])
            own_part = compare_arrays("Adam updates", after, like_adam, TOL)
            own_ok = own_part.ok
            own = ("its steps are Adam's with its own settings" if own_ok else
                   "its steps are not Adam's with its own settings (lr, betas, eps, weight decay)")
        steps = [compare_arrays(key, got[key], expected[key], TOL) for key in ("weight", "bias")]
        steps_ok = all(p.ok for p in steps)
        steps_detail = (f"{self.steps} Adam steps match the reference" if steps_ok else
                        f"after {self.steps} steps: " + "; ".join(p.detail for p in steps if not p.ok))
        if not bool(got["covers_all"]):
            steps_detail += " (the optimizer does not update all of the model's parameters)"
        adam = ("Adam updates",)
        shown_betas = tuple(np.round(betas, 6).tolist())
        return [
            not_degenerate("the parameters after the steps", after, unchanged=(before,)),
            Criterion("Adam updates", own_ok, own),
            Criterion("type", bool(got["is_adam"]), "torch.optim.Adam" if got["is_adam"] else
                 "the optimizer is not torch.optim.Adam", needs=adam),
            Criterion("lr", lr_ok, f"learning rate {float(lr[0]):g}" if lr.shape == (1,) else "learning rate missing",
                 needs=adam),
            Criterion("betas", betas_ok, f"betas {shown_betas}" + (
                "" if betas_ok else f", expected {tuple(expected['betas'].tolist())}"), needs=adam),
            Criterion("steps", steps_ok, steps_detail, weight=2.0),
        ]
