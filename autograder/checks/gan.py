"""Hidden checks for the GAN part (cs231n/gan_pytorch.py).

Losses run in float64 on random logits (extreme ones for the stability check)
and are compared, with their gradients, to the reference on the same inputs.
Networks are checked by parameter count (the canonical architectures' counts
are fixed facts) and by a forward pass in float64 with every parameter
overwritten, in ``.parameters()`` order, by values drawn from a seed in the
inputs, so the student's network and the reference compute the same function
exactly when their layers agree. Noise is random by design: it is checked by
its properties (shape, range, spread, seeding), not against the reference.
"""
import numpy as np
import torch

from autograder.checks.core import Check, Part, compare_arrays, register, torch_output

MODULES = ("gan_pytorch",)
TOL = 1e-8  # float64; correct code lands near 1e-15
TOL32 = 1e-5  # float32

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
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * scale))
    return model


def tensor(array, requires_grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def value_and_grads(loss, *leaves):
    """(loss value, gradients of leaves) as NumPy; NaN gradients when there are none."""
    value = torch_output(loss, "the loss")
    if loss.requires_grad:
        loss.backward()
    grads = [torch_output(x.grad, "gradient") if x.grad is not None
             else np.full(tuple(x.shape), np.nan) for x in leaves]
    return value, grads


def compare_all(got, expected, tol=TOL):
    return [compare_arrays(key, got.get(key), expected[key], tol) for key in expected]


def same_count(label, got, expected):
    """A Part: parameter counts equal (arrays of ints)."""
    got_n, want_n = np.asarray(got).ravel(), np.asarray(expected).ravel()
    ok = got_n.shape == want_n.shape and bool(np.all(got_n == want_n))
    shown = ", ".join(str(int(n)) for n in got_n)
    wanted = ", ".join(str(int(n)) for n in want_n)
    return Part(label, ok, f"{label}: {shown}" + ("" if ok else f", expected {wanted}"))


def same_shape(label, got, expected):
    got_s = None if got is None else np.asarray(got).shape
    ok = got_s == np.asarray(expected).shape
    return Part(label, ok, f"{label}: {got_s}" + ("" if ok else f", expected {np.asarray(expected).shape}"))


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
        shape_ok = z.shape == want and many.shape == (2000, 8) and z.dtype == np.float32
        parts = [Part("shape", shape_ok, f"shape {z.shape} {z.dtype}" + (
            "" if shape_ok else f"; expected a float32 tensor of shape {want}"))]
        if many.shape != (2000, 8) or many.dtype.kind != "f":
            return parts + [Part("range", False, "range: not checked (wrong shape)"),
                            Part("spread", False, "spread: not checked (wrong shape)"),
                            Part("seed", False, "seed: not checked (wrong shape)")]
        lo, hi = float(many.min()), float(many.max())
        range_ok = bool(np.all(np.isfinite(many))) and lo >= -1 and hi <= 1 and lo < -0.9 and hi > 0.9
        parts.append(Part("range", range_ok, f"values span [{lo:.3f}, {hi:.3f}]" + (
            "" if range_ok else "; expected values filling [-1, 1]")))
        mean, var = float(many.mean()), float(many.var())
        rows_differ = len(np.unique(many, axis=0)) == len(many)
        spread_ok = rows_differ and abs(mean) < 0.05 and abs(var - 1 / 3) < 0.03
        parts.append(Part("spread", spread_ok, f"mean {mean:.3f}, variance {var:.3f}" + (
            "" if spread_ok else "; expected independent uniform draws: every row different, "
                                 "mean 0 and variance 1/3")))
        a, b, c = got["seeded_a"], got["seeded_b"], got["seeded_c"]
        seed_ok = a.shape == b.shape == c.shape == want and np.array_equal(a, b) and not np.array_equal(a, c)
        parts.append(Part("seed", seed_ok, "the same seed gives the same noise" if seed_ok else
                          "seed: expected the same noise for the same seed and different noise "
                          "for different seeds"))
        return parts


# --------------------------------------------------------------------------- networks

@register
class GanNetworks(Check):
    name = "gan_networks"
    modules = MODULES

    def inputs(self, rng):
        n, noise_dim = int(rng.integers(3, 9)), int(rng.integers(5, 21))
        return {"images": rng.uniform(-1, 1, (n, 1, 28, 28)), "noise": rng.uniform(-1, 1, (n, noise_dim)),
                "seed_d": np.array(int(rng.integers(0, 2**31))), "seed_g": np.array(int(rng.integers(0, 2**31)))}

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        noise_dim = i["noise"].shape[1]
        torch.manual_seed(0)
        D = gan.discriminator()
        G = gan.generator(noise_dim)
        out = {"d_params": np.array(count(D)),
               "g_params": np.array([count(gan.generator(4)), count(G)])}
        with torch.no_grad():
            out["d_out"] = torch_output(set_weights(D, i["seed_d"])(tensor(i["images"])), "discriminator output")
            out["g_out"] = torch_output(set_weights(G, i["seed_g"])(tensor(i["noise"])), "generator output")
        return out

    def score(self, got, expected, inputs):
        return [
            same_count("discriminator() parameters", got["d_params"], DISCRIMINATOR_PARAMS),
            same_count("generator(4) and generator(noise_dim) parameters", got["g_params"],
                       [GENERATOR_PARAMS, int(expected["g_params"][1])]),
            compare_arrays("discriminator output", got["d_out"], expected["d_out"], TOL),
            compare_arrays("generator output", got["g_out"], expected["g_out"], TOL),
        ]


@register
class DcNetworks(Check):
    name = "dc_networks"
    modules = MODULES

    def inputs(self, rng):
        n, noise_dim = int(rng.integers(3, 9)), int(rng.integers(5, 21))
        return {"images": rng.uniform(-1, 1, (n, 1, 28, 28)), "noise": rng.uniform(-1, 1, (n, noise_dim)),
                "seed_d": np.array(int(rng.integers(0, 2**31))), "seed_g": np.array(int(rng.integers(0, 2**31)))}

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        n, noise_dim = i["noise"].shape
        torch.manual_seed(0)
        D = gan.build_dc_classifier(n)
        G = gan.build_dc_generator(noise_dim)
        out = {"d_params": np.array(count(D)),
               "g_params": np.array([count(gan.build_dc_generator(4)), count(G)])}
        with torch.no_grad():  # train mode: batch norm uses the batch's statistics
            out["d_out"] = torch_output(set_weights(D, i["seed_d"])(tensor(i["images"])), "DC classifier output")
            out["g_out"] = torch_output(set_weights(G, i["seed_g"])(tensor(i["noise"])), "DC generator output")
        return out

    def score(self, got, expected, inputs):
        return [
            same_count("build_dc_classifier(batch_size) parameters", got["d_params"], DC_CLASSIFIER_PARAMS),
            same_count("build_dc_generator(4) and build_dc_generator(noise_dim) parameters", got["g_params"],
                       [DC_GENERATOR_PARAMS, int(expected["g_params"][1])]),
            same_shape("DC classifier output shape", got.get("d_out"), expected["d_out"]),
            same_shape("DC generator output shape", got.get("g_out"), expected["g_out"]),
            compare_arrays("DC classifier output", got["d_out"], expected["d_out"], TOL),
            compare_arrays("DC generator output", got["g_out"], expected["g_out"], TOL),
        ]


# --------------------------------------------------------------------------- losses

def logits(rng, n, scale=2.5):
    return rng.standard_normal((n, 1)) * scale


@register
class BceLoss(Check):
    name = "bce_loss"
    modules = MODULES

    def inputs(self, rng):
        n = int(rng.integers(6, 13))
        extreme = np.concatenate([[1e4, -1e4, 1e4, -1e4], rng.standard_normal(n) * 3])
        extreme_t = np.concatenate([[1.0, 0.0, 0.0, 1.0], rng.integers(0, 2, n)])
        order = rng.permutation(len(extreme))
        return {"s": logits(rng, n, 3.0), "t": rng.integers(0, 2, n).astype(np.float64),
                "s_x": extreme[order].reshape(-1, 1), "t_x": extreme_t[order]}

    def run(self, cs231n, i):
        bce = cs231n.gan_pytorch.bce_loss
        s = tensor(i["s"], requires_grad=True)
        loss, (grad,) = value_and_grads(bce(s, tensor(i["t"])), s)
        s_x = tensor(i["s_x"], requires_grad=True)
        loss_x, (grad_x,) = value_and_grads(bce(s_x, tensor(i["t_x"])), s_x)
        loss_32 = torch_output(bce(tensor(i["s_x"]).float(), tensor(i["t_x"]).float()), "the loss")
        return {"loss": loss, "grad": grad, "loss_extreme": loss_x, "grad_extreme": grad_x,
                "loss_extreme_float32": loss_32}

    def score(self, got, expected, inputs):
        tols = {"loss_extreme_float32": TOL32}
        return [compare_arrays(key, got.get(key), want, tols.get(key, TOL)) for key, want in expected.items()]


@register
class GanLosses(Check):
    name = "gan_losses"
    modules = MODULES

    def inputs(self, rng):
        n = int(rng.integers(4, 11))
        return {"real": logits(rng, n), "fake": logits(rng, n)}

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        real, fake = tensor(i["real"], requires_grad=True), tensor(i["fake"], requires_grad=True)
        d_loss, (d_real, d_fake) = value_and_grads(gan.discriminator_loss(real, fake), real, fake)
        fake_g = tensor(i["fake"], requires_grad=True)
        g_loss, (g_fake,) = value_and_grads(gan.generator_loss(fake_g), fake_g)
        return {"d_loss": d_loss, "d_loss_grad_real": d_real, "d_loss_grad_fake": d_fake,
                "g_loss": g_loss, "g_loss_grad_fake": g_fake}

    def score(self, got, expected, inputs):
        return compare_all(got, expected)


@register
class LsLosses(GanLosses):
    name = "ls_losses"

    def run(self, cs231n, i):
        gan = cs231n.gan_pytorch
        real, fake = tensor(i["real"], requires_grad=True), tensor(i["fake"], requires_grad=True)
        d_loss, (d_real, d_fake) = value_and_grads(gan.ls_discriminator_loss(real, fake), real, fake)
        fake_g = tensor(i["fake"], requires_grad=True)
        g_loss, (g_fake,) = value_and_grads(gan.ls_generator_loss(fake_g), fake_g)
        return {"d_loss": d_loss, "d_loss_grad_real": d_real, "d_loss_grad_fake": d_fake,
                "g_loss": g_loss, "g_loss_grad_fake": g_fake}


# --------------------------------------------------------------------------- optimizer

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
        model_ids = {id(p) for p in model.parameters()}
        optimized = {id(p) for g in optimizer.param_groups for p in g["params"]} & model_ids
        for k in range(self.steps):
            optimizer.zero_grad()
            model.weight.grad = tensor(i["grad_weight"][k])
            model.bias.grad = tensor(i["grad_bias"][k])
            optimizer.step()
        return {"is_adam": np.array(isinstance(optimizer, torch.optim.Adam)),
                "lr": np.array(float(group.get("lr", np.nan))),
                "betas": np.array(group.get("betas", (np.nan, np.nan)), dtype=np.float64),
                "covers_all": np.array(optimized == model_ids),
                "weight": torch_output(model.weight, "weight"), "bias": torch_output(model.bias, "bias")}

    def score(self, got, expected, inputs):
        lr, betas = got["lr"], got["betas"]
        lr_ok = lr.shape == () and abs(float(lr) - float(expected["lr"])) < 1e-12
        betas_ok = betas.shape == expected["betas"].shape and np.allclose(betas, expected["betas"], rtol=0, atol=1e-12)
        steps = [compare_arrays(key, got[key], expected[key], TOL) for key in ("weight", "bias")]
        steps_ok = all(p.ok for p in steps)
        return [
            Part("type", bool(got["is_adam"]), "torch.optim.Adam" if got["is_adam"] else
                 "the optimizer is not torch.optim.Adam"),
            Part("lr", lr_ok, f"learning rate {float(lr):g}" if lr.shape == () else "learning rate missing"),
            Part("betas", betas_ok, f"betas {tuple(np.round(betas, 6).tolist())}" + (
                "" if betas_ok else f", expected {tuple(expected['betas'].tolist())}")),
            Part("params", bool(got["covers_all"]), "optimizes all of the model's parameters"
                 if got["covers_all"] else "the optimizer does not update all of the model's parameters"),
            Part("steps", steps_ok, f"{self.steps} Adam steps match the reference" if steps_ok else
                 f"after {self.steps} steps: " + "; ".join(p.detail for p in steps if not p.ok)),
        ]
