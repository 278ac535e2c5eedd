"""Hidden checks for the Transformer captioning part: attention, positional
encoding, the CaptioningTransformer's forward pass, and a short training run.

Inputs are small random problems (shapes drawn too). Values are compared with
the reference run on the same inputs. Where dropout matters, ``run`` seeds torch
from an input right before the call, so the student's code and the reference
draw the same masks when they run on the same machine (the canonical notebook's
printed dropout-on numbers do not carry across CPUs; see SPEC.md). torch is
imported inside ``run`` so that importing the check library stays cheap.

Precision. The checks compute in float64 (as the canonical fixed-parameter
Transformer test does), so the order of the sums (einsum, matmul, a
hand-written softmax), -inf or a large negative for masked scores and the like
change results by about 1e-15. But correct code may compute the softmax scale
in float32 (``torch.sqrt(torch.tensor(d))``, ``torch.Tensor([d])``: SPEC.md) or
fill the canonical float32 placeholder in place, which leaves float32's
accuracy, about 1e-7, in a float64 result. So every result is judged at
float32 precision: rounded to float32 and held to ``Tol.f32`` (relative to
1e-3 of the array's scale). Measured over 50 grading seeds, correct variants
stay below 1e-5; bugs (a missing or wrong scale, a mask read backwards, heads
mixed up, sin and cos swapped) move results by 1e-2 to 1 of that scale.

Degenerate outputs (all zeros, a constant, the unchanged input, NaN) earn
nothing: each check has a fatal ``not_degenerate`` part, and properties that a
degenerate output also has ("earlier positions do not move", "it learns")
only count when the values they qualify are right.
"""
import copy

import numpy as np

from autograder.checks.core import (Check, Criterion, Spec, Tol, compare_arrays, not_degenerate, register,
                                    torch_output)
from autograder.reference import REFERENCE_LOCK, reference_modules

# Results rounded to float32 (see above), relative to 1e-3 of the array's scale.
# Measured over 50 grading seeds with the fairness corpus (tests/fairness/transformer.py):
# correct variants stay below 1e-5 on attention outputs and input gradients and 2e-5 on
# the model's scores; the model's parameter gradients reach 5e-5 with a pe table computed
# in float32 (some key weights' gradients are small and sensitive to it). Every known
# mistake moves its most affected output by at least 0.6 (20 seeds). The bars leave a
# margin of 5 or more below them, for other kernels (GPU, other BLAS), and far more above.
ATTENTION_TOL = Tol(1e-7, 1e-4)
MODEL_TOL = Tol(1e-7, 1e-4)
MODEL_GRAD_TOL = Tol(1e-7, 1e-3)
PE_ATOL = 5e-5  # the pe table: |values| <= 1; a float32 table for positions < 64 is good to 1e-5
CAUSAL_TOL = 1e-6  # scores of earlier positions after later tokens change: exactly equal when masked


def _all_ok(label, got, expected, keys, tol, needs=()):
    """One Criterion for several arrays: the first failing comparison, else success."""
    details = []
    for key in keys:
        part = compare_f32(key, got.get(key), expected[key], tol)
        if not part.ok:
            return Criterion(label, False, f"{label}: {part.detail}", needs=needs)
        details.append(part.detail)
    return Criterion(label, True, f"{label}: " + "; ".join(details), needs=needs)


def _close_abs(label, got, expected, atol):
    """A Part comparing by largest absolute difference (for values in [-1, 1]-ish)."""
    if got is None:
        return Criterion(label, False, f"{label}: no value was returned")
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return Criterion(label, False, f"{label}: shape {got.shape}, expected {expected.shape}")
    if got.dtype.kind != "f" or not np.all(np.isfinite(got)):
        return Criterion(label, False, f"{label}: dtype {got.dtype} or non-finite values")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
    if diff > atol:
        return Criterion(label, False, f"{label}: largest difference {diff:.2e} exceeds {atol:.0e}")
    return Criterion(label, True, f"{label}: largest difference {diff:.2e}")


def vocabulary(size):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{k}" for k in range(size - 4)]
    return {w: k for k, w in enumerate(words)}


def at_f32(value):
    """A floating result rounded to float32, so it is judged at float32 precision."""
    if value is None:
        return None
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype.kind == "f" else value


def compare_f32(label, value, expected, tol):
    return compare_arrays(label, at_f32(value), expected, tol)


# ---------------------------------------------------------------------------
# MultiHeadAttention

ATTENTION_PARAMS = ("key", "query", "value", "proj")


def attention_problem(rng):
    H, d = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    E = H * d
    N, S = int(rng.integers(2, 4)), int(rng.integers(3, 6))
    T = int(rng.choice([t for t in range(2, 7) if t != S]))  # T != S: query and key differ
    problem = {"num_heads": np.array(H), "p": np.array(0.3), "seed": np.array(int(rng.integers(2**31)))}
    for name in ATTENTION_PARAMS:
        # 1.5 / sqrt(E): attention scores of order one, so the softmax is far from uniform
        problem[f"{name}_w"] = rng.standard_normal((E, E)) * 1.5 / np.sqrt(E)
        problem[f"{name}_b"] = rng.standard_normal(E) * 0.2
    # Every row allows at least one key and forbids at least one: no row is all
    # -inf, even for a mask read backwards (its outputs stay finite and comparable).
    rows = np.arange(S)
    self_mask = rng.random((S, S)) < 0.6
    self_mask[rows, (rows + rng.integers(1, S, size=S)) % S] = False
    np.fill_diagonal(self_mask, True)
    cross_mask = rng.random((S, T)) < 0.6
    allowed = rng.integers(0, T, size=S)
    cross_mask[rows, (allowed + rng.integers(1, T, size=S)) % T] = False
    cross_mask[rows, allowed] = True
    problem.update(
        x=rng.standard_normal((N, S, E)), key_in=rng.standard_normal((N, T, E)),
        value_in=rng.standard_normal((N, T, E)), self_mask=self_mask, cross_mask=cross_mask,
        dout=rng.standard_normal((N, S, E)))
    return problem


def build_attention(cs231n, i):
    import torch

    E = i["x"].shape[2]
    attn = cs231n.transformer_layers.MultiHeadAttention(E, int(i["num_heads"]), dropout=float(i["p"]))
    attn = attn.double()
    with torch.no_grad():
        for name in ATTENTION_PARAMS:
            layer = getattr(attn, name)
            layer.weight.copy_(torch.from_numpy(i[f"{name}_w"]))
            layer.bias.copy_(torch.from_numpy(i[f"{name}_b"]))
    return attn


@register
class MultiheadAttentionCheck(Check):
    name = "multihead_attention"
    modules = ("transformer_layers",)
    outputs = {**{key: Spec("float", like="x") for key in (
        "self_masked", "self_unmasked", "cross_masked", "cross_unmasked", "dquery", "train_self_masked",
        "train_cross_masked")}, "dkey": Spec("float", like="key_in"), "dvalue": Spec("float", like="value_in")}

    def inputs(self, rng):
        return attention_problem(rng)

    def run(self, cs231n, i):
        import torch

        attn = build_attention(cs231n, i)
        x, k, v = (torch.from_numpy(i[n]) for n in ("x", "key_in", "value_in"))
        # Boolean masks, as the canonical notebook passes them (True: may attend).
        self_mask, cross_mask = torch.from_numpy(i["self_mask"]), torch.from_numpy(i["cross_mask"])
        out = {}
        attn.eval()
        with torch.no_grad():
            out["self_masked"] = torch_output(attn(x, x, x, attn_mask=self_mask), "self-attention output")
            out["self_unmasked"] = torch_output(attn(query=x, key=x, value=x), "self-attention output")
            out["cross_masked"] = torch_output(attn(x, k, v, cross_mask), "cross-attention output")
            out["cross_unmasked"] = torch_output(attn(x, k, v), "cross-attention output")

        # Gradients with respect to the three inputs (eval mode).
        q_in, k_in, v_in = (t.clone().requires_grad_(True) for t in (x, k, v))
        result = attn(q_in, k_in, v_in, attn_mask=cross_mask)
        (result * torch.from_numpy(i["dout"])).sum().backward()
        for label, t in (("dquery", q_in), ("dkey", k_in), ("dvalue", v_in)):
            # no gradient at all (an input that is never used) reads as zeros: score says so
            out[label] = torch_output(t.grad if t.grad is not None else torch.zeros_like(t), label)

        # Train mode: dropout on the attention weights, masks drawn from a fixed seed.
        attn.train()
        with torch.no_grad():
            torch.manual_seed(int(i["seed"]))
            out["train_self_masked"] = torch_output(attn(x, x, x, attn_mask=self_mask), "train-mode output")
            torch.manual_seed(int(i["seed"]) + 1)
            out["train_cross_masked"] = torch_output(attn(x, k, v, attn_mask=cross_mask), "train-mode output")
        return out

    def score(self, got, expected, inputs):
        x, k, v = inputs["x"], inputs["key_in"], inputs["value_in"]
        return [
            not_degenerate("self-attention output", got.get("self_masked"), unchanged=(x,)),
            not_degenerate("cross-attention output", got.get("cross_masked"), unchanged=(x, k, v)),
            _all_ok("self-attention (eval)", got, expected, ("self_masked", "self_unmasked"), ATTENTION_TOL),
            _all_ok("cross-attention (eval)", got, expected, ("cross_masked", "cross_unmasked"), ATTENTION_TOL),
            _all_ok("train mode with seeded dropout on the attention weights", got, expected,
                    ("train_self_masked", "train_cross_masked"), ATTENTION_TOL),
            self.gradient_part(got, expected),
        ]

    @staticmethod
    def gradient_part(got, expected):
        label = "gradients w.r.t. query, key and value"
        part = _all_ok(label, got, expected, ("dquery", "dkey", "dvalue"), ATTENTION_TOL)
        for key in ("dquery", "dkey", "dvalue"):
            mine = got.get(key)
            if not part.ok and mine is not None and not np.any(mine) and np.any(expected[key]):
                return Criterion(label, False, f"{label}: no gradient reaches the {key[1:]} input: is it "
                            "used (through self." + key[1:] + ") and not cut from the graph?")
        return part


# ---------------------------------------------------------------------------
# PositionalEncoding

@register
class PositionalEncodingCheck(Check):
    name = "positional_encoding"
    modules = ("transformer_layers",)
    outputs = {"pe": Spec("float", shape=(1, "max_len", "embed_dim")), "eval_out": Spec("float", like="x"),
               "train_out": Spec("float", like="x")}

    def inputs(self, rng):
        E = 2 * int(rng.integers(2, 9))  # even: the canonical layer asserts it
        max_len = int(rng.integers(20, 65))
        N, S = int(rng.integers(2, 4)), int(rng.integers(2, 12))
        return {"embed_dim": np.array(E), "max_len": np.array(max_len), "p": np.array(0.3),
                "seed": np.array(int(rng.integers(2**31))), "x": rng.standard_normal((N, S, E))}

    def run(self, cs231n, i):
        import torch

        layer = cs231n.transformer_layers.PositionalEncoding(
            int(i["embed_dim"]), dropout=float(i["p"]), max_len=int(i["max_len"]))
        x = torch.from_numpy(i["x"])
        out = {"pe": torch_output(layer.pe, "the buffer pe").astype(np.float64)}
        layer.eval()
        with torch.no_grad():
            out["eval_out"] = torch_output(layer(x), "forward's output")
            layer.train()
            torch.manual_seed(int(i["seed"]))
            out["train_out"] = torch_output(layer(x), "forward's output")
        return out

    def score(self, got, expected, inputs):
        keep = 1 - float(inputs["p"])
        x = inputs["x"]
        return [
            # an all-zero table (nothing filled in) or a forward that returns x untouched
            not_degenerate("the pe table", got.get("pe")),
            not_degenerate("forward's output", got.get("eval_out"), unchanged=(x,)),
            not_degenerate("forward's train-mode output", got.get("train_out"), unchanged=(x,)),
            _close_abs("pe table", got.get("pe"), expected["pe"], PE_ATOL),
            _close_abs("forward (eval)", got.get("eval_out"), expected["eval_out"], PE_ATOL),
            _close_abs("forward (train, seeded dropout)", got.get("train_out"), expected["train_out"],
                       PE_ATOL / keep),
        ]


# ---------------------------------------------------------------------------
# CaptioningTransformer.forward

def set_parameters(model, seed):
    """Every parameter from a seeded NumPy generator, in .parameters() order.

    Matrices get N(0, 1/fan_in), LayerNorm weights 1 + N(0, 0.04), other
    vectors N(0, 0.04): every part of the model shows in the scores.
    """
    import torch

    gen = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            values = gen.standard_normal(tuple(p.shape))
            if p.dim() == 2:
                values /= np.sqrt(p.shape[1])
            else:
                values *= 0.2
                if "norm" in name and name.endswith("weight"):
                    values += 1.0
            p.copy_(torch.from_numpy(values))


def forward_problem(rng):
    N, D, H, d = int(rng.integers(2, 4)), int(rng.integers(4, 9)), 2, int(rng.integers(2, 5))
    V, T, L = int(rng.integers(6, 11)), int(rng.integers(4, 7)), int(rng.integers(1, 3))
    captions = rng.integers(0, V, size=(N, T))
    captions[:, 0] = 1  # <START>
    k = int(rng.integers(1, T))
    changed = captions.copy()
    changed[:, k:] = (captions[:, k:] + rng.integers(1, V, size=(N, T - k))) % V  # every later token differs
    return {"features": rng.standard_normal((N, D)), "captions": captions, "changed": changed,
            "change_from": np.array(k), "vocab_size": np.array(V), "wordvec_dim": np.array(H * d),
            "num_heads": np.array(H), "num_layers": np.array(L),
            "max_length": np.array(T + int(rng.integers(0, 4))),
            "param_seed": np.array(int(rng.integers(2**31)))}


SCORES = "scores (eval mode)"


@register
class TransformerForward(Check):
    name = "transformer_forward"
    modules = ("transformer_layers", "classifiers.transformer")
    outputs = {key: Spec("float", shape=("captions.shape[0]", "captions.shape[1]", "vocab_size"))
               for key in ("scores", "scores_changed")}

    def inputs(self, rng):
        return forward_problem(rng)

    def run(self, cs231n, i):
        import torch

        model = cs231n.transformer.CaptioningTransformer(
            vocabulary(int(i["vocab_size"])), input_dim=i["features"].shape[1],
            wordvec_dim=int(i["wordvec_dim"]), num_heads=int(i["num_heads"]),
            num_layers=int(i["num_layers"]), max_length=int(i["max_length"])).double()
        set_parameters(model, int(i["param_seed"]))
        model.eval()
        features = torch.from_numpy(i["features"])
        with torch.no_grad():
            scores = model(features, torch.from_numpy(i["captions"]).long())
            changed = model(features, torch.from_numpy(i["changed"]).long())
        return {"scores": torch_output(scores, "forward's scores"),
                "scores_changed": torch_output(changed, "forward's scores")}

    def score(self, got, expected, inputs):
        parts = [not_degenerate("the scores", got.get("scores")),
                 _all_ok(SCORES, got, expected, ("scores", "scores_changed"), MODEL_TOL)]
        parts[1].weight = 2.0
        k = int(inputs["change_from"])
        a, b = got.get("scores"), got.get("scores_changed")
        label = "causal mask"
        # Only right scores qualify: all-zero or constant scores never move either.
        if a is None or b is None or a.shape != expected["scores"].shape or b.shape != a.shape:
            parts.append(Criterion(label, False, f"{label}: scores of the wrong shape", needs=(SCORES,)))
        elif not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            parts.append(Criterion(label, False, f"{label}: scores contain NaN or inf", needs=(SCORES,)))
        else:
            a, b = a.astype(np.float64), b.astype(np.float64)
            scale = max(float(np.max(np.abs(a))), 1e-30)
            change = float(np.max(np.abs(a[:, :k] - b[:, :k]))) / scale
            ok = change <= CAUSAL_TOL
            parts.append(Criterion(label, ok, f"{label}: changing the tokens from position {k} on "
                              + ("left earlier positions' scores unchanged" if ok else
                                 f"changed earlier positions' scores (by {change:.1e} of their scale): "
                                 "position t must see only tokens 0..t (check the causal mask, "
                                 "and that attention keeps the positions apart)"), needs=(SCORES,)))
        return parts


# ---------------------------------------------------------------------------
# Training: can the student's model be trained, and does it learn a tiny set?
#
# Two things, cheap enough to grade many times: (1) the loss of a fixed-parameter
# model and its gradient with respect to every parameter (eval mode) equal the
# reference's, so backpropagation reaches every weight through the student's code
# (no .detach(), .data, .item() or NumPy detour cuts it); (2) a short seeded
# training run in train mode (dropout on) memorises four captions whose first word
# only the image can tell apart. Its trained weights come back and the grader
# evaluates them in the reference model. (2) counts only when (1) holds: a wrong
# model that still learns earns nothing.

OVERFIT_IMAGES, OVERFIT_WORDS, OVERFIT_DIM = 4, 3, 12  # captions <START> w w w <END>, distinct words
OVERFIT_WORDVEC, OVERFIT_HEADS, OVERFIT_LAYERS, FEEDFORWARD = 32, 2, 1, 2048
OVERFIT_ITERATIONS = 30
OVERFIT_LR = 1e-2
# Eval-mode loss of the trained weights. Without the image the first word is a guess
# among four: the loss cannot fall below 4 ln 4 / 16 = 0.35. The reference ends below
# 0.07 on 200 seeds (median 0.013); 25 steps would leave a tail up to 0.13.
OVERFIT_BAR = 0.2
EMBEDDING_SCALE = 2.0  # the run starts from N(0, 4) word vectors instead of N(0, 0.02^2)
PARAM_PREFIX = "param_"  # outputs named param_<name> carry the trained state_dict
GRAD_PREFIX = "grad_"  # outputs named grad_<name> carry the gradient of the fixed-parameter loss
GRADIENTS = "loss and gradients (eval mode)"


def overfit_problem(rng):
    n, L = OVERFIT_IMAGES, OVERFIT_WORDS
    V = 4 + n * L
    words = rng.permutation(np.arange(4, V)).reshape(n, L)  # no word in two captions
    captions = np.zeros((n, L + 2), dtype=np.int64)
    captions[:, 0], captions[:, 1:L + 1], captions[:, L + 1] = 1, words, 2
    return {"features": rng.standard_normal((n, OVERFIT_DIM)), "captions": captions,
            "vocab_size": np.array(V), "seed": np.array(int(rng.integers(2**31))),
            "param_seed": np.array(int(rng.integers(2**31)))}


def state_shapes(V, D, T, W=OVERFIT_WORDVEC, layers=OVERFIT_LAYERS, ff=FEEDFORWARD):
    """{state_dict name: shape} of the canonical CaptioningTransformer (SPEC.md's
    registration order and names), vocabulary V, features D, max_length T; the
    one buffer is ``positional_encoding.pe``, every other entry a parameter."""
    shapes = {"visual_projection.weight": (W, D), "visual_projection.bias": (W,), "embedding.weight": (V, W),
              "positional_encoding.pe": (1, T, W)}
    for layer in range(layers):
        prefix = f"transformer.layers.{layer}."
        for attention in ("self_attn", "multihead_attn"):
            for linear in ("key", "query", "value", "proj"):
                shapes[f"{prefix}{attention}.{linear}.weight"] = (W, W)
                shapes[f"{prefix}{attention}.{linear}.bias"] = (W,)
        shapes.update({f"{prefix}linear1.weight": (ff, W), f"{prefix}linear1.bias": (ff,),
                       f"{prefix}linear2.weight": (W, ff), f"{prefix}linear2.bias": (W,)})
        for norm in ("norm1", "norm2", "norm3"):
            shapes.update({f"{prefix}{norm}.weight": (W,), f"{prefix}{norm}.bias": (W,)})
    shapes.update({"output.weight": (V, W), "output.bias": (V,)})
    return shapes


BUFFERS = ("positional_encoding.pe",)


def overfit_shapes(i):
    """``state_shapes`` for an overfit problem ``i``."""
    return state_shapes(int(i["vocab_size"]), i["features"].shape[1], i["captions"].shape[1])


def masked_caption_loss(torch, scores, targets, null=0):
    """Mean cross-entropy over the non-<NULL> targets."""
    mask = targets != null
    per_word = torch.nn.functional.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                                 targets.reshape(-1), reduction="none")
    return (per_word * mask.reshape(-1)).sum() / mask.sum()


@register
class TransformerOverfit(Check):
    name = "transformer_overfit"
    modules = ("transformer_layers", "classifiers.transformer")

    def __init__(self):
        self._templates = {}  # (V, D, T) -> a reference model whose weights score replaces

    def inputs(self, rng):
        return overfit_problem(rng)

    def output_specs(self, inputs):
        """The fixed-parameter loss, a gradient per parameter, the loss history and the
        trained state_dict, all named and shaped as the canonical model's."""
        shapes = overfit_shapes(inputs)
        return {"loss": Spec("float", shape=()), "loss_history": Spec("float", shape=(OVERFIT_ITERATIONS,)),
                **{GRAD_PREFIX + k: Spec("float", shape=v) for k, v in shapes.items() if k not in BUFFERS},
                **{PARAM_PREFIX + k: Spec("float", shape=v) for k, v in shapes.items()}}

    def prepare(self, inputs):
        self._template(inputs)

    def _template(self, i):
        """The reference model for ``i``'s sizes, built once: its initial weights draw
        from torch's global generator, so only under the reference lock."""
        key = (int(i["vocab_size"]), i["features"].shape[1], i["captions"].shape[1])
        if key not in self._templates:
            with REFERENCE_LOCK:
                self._templates[key] = self._model(reference_modules(self.modules), i)
        return self._templates[key]

    def run(self, cs231n, i):
        import torch

        # One thread: for a model this small it is the fastest, and it does not
        # stall when other processes share the cores (OpenMP waits spin then).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return {**self._gradients(cs231n, i, torch), **self._train(cs231n, i, torch)}
        finally:
            torch.set_num_threads(threads)

    @staticmethod
    def _model(cs231n, i):
        V, T = int(i["vocab_size"]), i["captions"].shape[1]
        return cs231n.transformer.CaptioningTransformer(
            vocabulary(V), input_dim=i["features"].shape[1], wordvec_dim=OVERFIT_WORDVEC,
            num_heads=OVERFIT_HEADS, num_layers=OVERFIT_LAYERS, max_length=T)

    @staticmethod
    def _loss(torch, model, i):
        captions = torch.from_numpy(i["captions"]).long()
        dtype = model.visual_projection.weight.dtype
        scores = model(torch.from_numpy(i["features"]).to(dtype), captions[:, :-1])
        return masked_caption_loss(torch, scores, captions[:, 1:])

    def _gradients(self, cs231n, i, torch):
        model = self._model(cs231n, i).double()
        set_parameters(model, int(i["param_seed"]))
        model.eval()
        loss = self._loss(torch, model, i)
        if not getattr(loss, "requires_grad", False):
            raise RuntimeError("the loss does not depend on any parameter: is the whole forward "
                               "pass cut from autograd (torch.no_grad, .detach(), NumPy)?")
        loss.backward()
        out = {"loss": torch_output(loss, "the loss")}
        graded = overfit_shapes(i)  # what else a model holds is not graded
        for name, p in model.named_parameters():
            if name not in graded:
                continue
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            out[GRAD_PREFIX + name] = torch_output(grad, f"the gradient of {name}")
        return out

    def _train(self, cs231n, i, torch):
        torch.manual_seed(int(i["seed"]))
        model = self._model(cs231n, i)
        with torch.no_grad():  # word vectors and image projection of order one: it learns in a few steps
            gen = np.random.default_rng(int(i["seed"]))
            embedding, projection = model.embedding.weight, model.visual_projection.weight
            embedding.copy_(torch.from_numpy(gen.standard_normal(tuple(embedding.shape)) * EMBEDDING_SCALE))
            projection.copy_(torch.from_numpy(gen.standard_normal(tuple(projection.shape))
                                              / np.sqrt(projection.shape[1])))
        optimizer = torch.optim.Adam(model.parameters(), lr=OVERFIT_LR, foreach=True)
        history = []
        model.train()
        for _ in range(OVERFIT_ITERATIONS):
            loss = self._loss(torch, model, i)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
        # the trained weights go back; the grader computes their loss itself (score)
        graded = overfit_shapes(i)
        weights = {PARAM_PREFIX + k: v.detach().cpu().numpy() for k, v in model.state_dict().items() if k in graded}
        return {"loss_history": np.array(history), **weights}

    def trusted_loss(self, got, i):
        """The eval-mode loss of the student's trained weights in the reference model.

        Returns (loss, None), or (None, what is wrong with the weights).
        """
        import torch

        model = copy.deepcopy(self._template(i))  # loaded below: the template is shared
        wanted = model.state_dict()
        trained = {k[len(PARAM_PREFIX):]: v for k, v in got.items() if k.startswith(PARAM_PREFIX)}
        for name, value in wanted.items():
            given = trained.get(name)
            if given is None or tuple(given.shape) != tuple(value.shape):
                shape = "missing" if given is None else f"shape {tuple(given.shape)}"
                return None, f"the trained weight {name} is {shape}; expected shape {tuple(value.shape)}"
            if not np.all(np.isfinite(given)):
                return None, f"the trained weight {name} holds NaN or inf"
        model.load_state_dict({name: torch.from_numpy(np.asarray(trained[name], dtype=np.float32))
                               for name in wanted})
        model.eval()
        with torch.no_grad():
            return float(self._loss(torch, model, i)), None

    @staticmethod
    def gradient_part(got, expected):
        """The fixed-parameter loss and every parameter's gradient against the reference's."""
        grads = {k: v for k, v in expected.items() if k.startswith(GRAD_PREFIX)}
        largest = max((float(np.max(np.abs(v))) for v in grads.values() if v.size), default=0.0)
        # Parameters the loss does not depend on have a gradient of rounding noise only:
        # the key bias (it shifts every score of a row alike) and, with a memory of one
        # token, the cross-attention's query and key (its softmax weight is always 1).
        keys = ["loss"] + sorted(k for k, v in grads.items() if v.size and np.max(np.abs(v)) > 1e-9 * largest)
        details = []
        for key in keys:
            part = compare_f32(key, got.get(key), expected[key], MODEL_GRAD_TOL)
            if part.ok:
                details.append(part.detail)
                continue
            mine, theirs = got.get(key), expected[key]
            if (key != "loss" and mine is not None and np.shape(mine) == theirs.shape
                    and not np.any(mine) and np.any(theirs)):
                name = key[len(GRAD_PREFIX):]
                detail = (f"no gradient reaches {name}: something cuts it from the loss "
                          "(.detach(), .data, .item(), torch.no_grad or a NumPy detour)")
            elif key == "loss":
                detail = f"the loss of a model with fixed parameters differs from the reference's ({part.detail})"
            else:
                detail = f"the gradient of {key[len(GRAD_PREFIX):]} differs from the reference's ({part.detail})"
            return Criterion(GRADIENTS, False, f"{GRADIENTS}: {detail}")
        return Criterion(GRADIENTS, True, f"{GRADIENTS}: {len(keys)} arrays agree")

    def score(self, got, expected, inputs):
        parts = [self.gradient_part(got, expected)]
        final, problem = self.trusted_loss(got, inputs)
        if problem is None and not np.isfinite(final):
            problem = "the trained weights give a NaN or inf loss"
        label = "memorises the tiny set"
        if problem:
            parts.append(Criterion(label, False, f"{label}: {problem}", weight=2.0, needs=(GRADIENTS,)))
            return parts
        start = float(expected["loss_history"][0])  # the reference's first loss, same seed
        ok = final < OVERFIT_BAR
        parts.append(Criterion(label, ok, f"{label}: {OVERFIT_ITERATIONS} training steps took the loss from "
                          f"about {start:.3f} to {final:.3f} (the reference's model evaluated with your "
                          "trained weights), " + ("below" if ok else "not below") + f" the bar {OVERFIT_BAR}",
                          weight=2.0, needs=(GRADIENTS,)))
        return parts
