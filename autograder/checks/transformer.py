"""Hidden checks for the Transformer captioning part: attention, positional
encoding, the CaptioningTransformer's forward pass, and a short training run.

Inputs are small random problems (shapes drawn too). Values are compared with
the reference run on the same inputs. Where dropout matters, ``run`` seeds torch
from an input right before the call, so the student's code and the reference
draw the same masks when they run on the same machine (the canonical notebook's
printed dropout-on numbers do not carry across CPUs; see SPEC.md). torch is
imported inside ``run`` so that importing the check library stays cheap.
"""
import numpy as np

from autograder.checks.core import Check, Part, compare_arrays, register, rel_error, torch_output
from autograder.reference import REFERENCE_LOCK, reference_modules

TOL = 1e-7  # float64 throughout; correct code lands near 1e-14
PE_ATOL = 5e-5  # the pe table is float32; float32 arithmetic in it is fine


def _all_ok(label, got, expected, keys, tol):
    """One Part for several arrays: the first failing comparison, else success."""
    details = []
    for key in keys:
        part = compare_arrays(key, got.get(key), expected[key], tol)
        if not part.ok:
            return Part(label, False, f"{label}: {part.detail}")
        details.append(part.detail)
    return Part(label, True, f"{label}: " + "; ".join(details))


def _close_abs(label, got, expected, atol):
    """A Part comparing by largest absolute difference (for values in [-1, 1]-ish)."""
    if got is None:
        return Part(label, False, f"{label}: no value was returned")
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return Part(label, False, f"{label}: shape {got.shape}, expected {expected.shape}")
    if got.dtype.kind != "f" or not np.all(np.isfinite(got)):
        return Part(label, False, f"{label}: dtype {got.dtype} or non-finite values")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
    if diff > atol:
        return Part(label, False, f"{label}: largest difference {diff:.2e} exceeds {atol:.0e}")
    return Part(label, True, f"{label}: largest difference {diff:.2e}")


def vocabulary(size):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{k}" for k in range(size - 4)]
    return {w: k for k, w in enumerate(words)}


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
    self_mask = rng.random((S, S)) < 0.6
    np.fill_diagonal(self_mask, True)  # every query may attend somewhere
    cross_mask = rng.random((S, T)) < 0.6
    cross_mask[np.arange(S), rng.integers(0, T, size=S)] = True
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

    def inputs(self, rng):
        return attention_problem(rng)

    def run(self, cs231n, i):
        import torch

        attn = build_attention(cs231n, i)
        x, k, v = (torch.from_numpy(i[n]) for n in ("x", "key_in", "value_in"))
        self_mask, cross_mask = torch.from_numpy(i["self_mask"]), torch.from_numpy(i["cross_mask"])
        out = {}
        attn.eval()
        with torch.no_grad():
            out["self_masked"] = torch_output(attn(x, x, x, attn_mask=self_mask), "self-attention output")
            out["self_unmasked"] = torch_output(attn(x, x, x), "self-attention output")
            out["cross_masked"] = torch_output(attn(x, k, v, attn_mask=cross_mask), "cross-attention output")
            out["cross_unmasked"] = torch_output(attn(x, k, v), "cross-attention output")

        # Gradients with respect to the three inputs (eval mode).
        q_in, k_in, v_in = (t.clone().requires_grad_(True) for t in (x, k, v))
        result = attn(q_in, k_in, v_in, attn_mask=cross_mask)
        (result * torch.from_numpy(i["dout"])).sum().backward()
        for label, t in (("dquery", q_in), ("dkey", k_in), ("dvalue", v_in)):
            if t.grad is None:
                raise RuntimeError(f"no gradient reached the {label[1:]} input (is the graph cut?)")
            out[label] = torch_output(t.grad, label)

        # Train mode: dropout on the attention weights, masks drawn from a fixed seed.
        attn.train()
        with torch.no_grad():
            torch.manual_seed(int(i["seed"]))
            out["train_self_masked"] = torch_output(attn(x, x, x, attn_mask=self_mask), "train-mode output")
            torch.manual_seed(int(i["seed"]) + 1)
            out["train_cross_masked"] = torch_output(attn(x, k, v, attn_mask=cross_mask), "train-mode output")
        return out

    def score(self, got, expected, inputs):
        return [
            _all_ok("self-attention (eval)", got, expected, ("self_masked", "self_unmasked"), TOL),
            _all_ok("cross-attention (eval)", got, expected, ("cross_masked", "cross_unmasked"), TOL),
            _all_ok("train mode with seeded dropout on the attention weights", got, expected,
                    ("train_self_masked", "train_cross_masked"), TOL),
            _all_ok("gradients w.r.t. query, key and value", got, expected, ("dquery", "dkey", "dvalue"), 1e-6),
        ]


# ---------------------------------------------------------------------------
# PositionalEncoding

@register
class PositionalEncodingCheck(Check):
    name = "positional_encoding"
    modules = ("transformer_layers",)

    def inputs(self, rng):
        E = 2 * int(rng.integers(2, 9))
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
        return [
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


@register
class TransformerForward(Check):
    name = "transformer_forward"
    modules = ("transformer_layers", "classifiers.transformer")

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
        parts = [compare_arrays("scores (eval mode)", got.get("scores"), expected["scores"], TOL)]
        parts[0].weight = 2.0
        k = int(inputs["change_from"])
        a, b = got.get("scores"), got.get("scores_changed")
        label = "causal mask"
        if a is None or b is None or a.shape != expected["scores"].shape or b.shape != a.shape:
            parts.append(Part(label, False, f"{label}: scores of the wrong shape"))
        elif not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            parts.append(Part(label, False, f"{label}: scores contain NaN or inf"))
        else:
            err = rel_error(a[:, :k], b[:, :k])
            ok = err <= 1e-9
            parts.append(Part(label, ok, f"{label}: changing the tokens from position {k} on "
                              + ("left earlier positions' scores unchanged" if ok else
                                 f"changed earlier positions' scores (relative change {err:.1e}): "
                                 "position t must see only tokens 0..t (check the causal mask, "
                                 "and that attention keeps the positions apart)")))
        return parts


# ---------------------------------------------------------------------------
# Training: does the student's model learn a tiny captioning problem?

OVERFIT_ITERATIONS = 150
OVERFIT_BAR = 0.15  # eval-mode loss after training; the reference stays below 0.03
PARAM_PREFIX = "param_"  # outputs named param_<name> carry the trained state_dict


def overfit_problem(rng):
    n, D, V, T = 8, 12, 24, 9
    captions = np.zeros((n, T), dtype=np.int64)  # <NULL> padding
    for row in captions:
        length = int(rng.integers(3, T - 1))
        row[0], row[1:length + 1], row[length + 1] = 1, rng.integers(4, V, size=length), 2
    return {"features": rng.standard_normal((n, D)), "captions": captions,
            "vocab_size": np.array(V), "seed": np.array(int(rng.integers(2**31)))}


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

    def inputs(self, rng):
        return overfit_problem(rng)

    def run(self, cs231n, i):
        import torch

        # One thread: for a model this small it is the fastest, and it does not
        # stall when other processes share the cores (OpenMP waits spin then).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._train(cs231n, i, torch)
        finally:
            torch.set_num_threads(threads)

    @staticmethod
    def _model(cs231n, i):
        V, T = int(i["vocab_size"]), i["captions"].shape[1]
        return cs231n.transformer.CaptioningTransformer(
            vocabulary(V), input_dim=i["features"].shape[1], wordvec_dim=32, num_heads=2,
            num_layers=1, max_length=T)

    @staticmethod
    def _eval_loss(torch, model, i):
        captions = torch.from_numpy(i["captions"]).long()
        model.eval()
        with torch.no_grad():
            scores = model(torch.from_numpy(i["features"]).float(), captions[:, :-1])
            return float(masked_caption_loss(torch, scores, captions[:, 1:]))

    def _train(self, cs231n, i, torch):
        torch.manual_seed(int(i["seed"]))
        model = self._model(cs231n, i)
        features = torch.from_numpy(i["features"]).float()
        captions = torch.from_numpy(i["captions"]).long()
        inputs, targets = captions[:, :-1], captions[:, 1:]
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        history = []
        model.train()
        for _ in range(OVERFIT_ITERATIONS):
            loss = masked_caption_loss(torch, model(features, inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
        # the trained weights go back; the grader computes their loss itself (score)
        weights = {PARAM_PREFIX + k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        return {"loss_history": np.array(history), **weights}

    def trusted_loss(self, got, i):
        """The eval-mode loss of the student's trained weights in the reference model.

        Returns (loss, None), or (None, what is wrong with the weights).
        """
        import torch

        with REFERENCE_LOCK:  # the initial weights draw from torch's global generator
            model = self._model(reference_modules(self.modules), i)
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
        return self._eval_loss(torch, model, i), None

    def score(self, got, expected, inputs):
        final, problem = self.trusted_loss(got, inputs)
        if problem is None and not np.isfinite(final):
            problem = "the trained weights give a NaN or inf loss"
        if problem:
            return [Part("training", False, problem)]
        start = float(np.mean(expected["loss_history"][:3]))  # the reference's start, same seed
        return [
            Part("loss decreases", final < 0.5 * start,
                 f"training took the loss from about {start:.3f} to {final:.3f} (the reference's "
                 "model evaluated with your trained weights)", weight=1.0),
            Part("memorises the tiny set", final < OVERFIT_BAR,
                 f"loss after {OVERFIT_ITERATIONS} steps {final:.3f} "
                 + ("below" if final < OVERFIT_BAR else "not below") + f" the bar {OVERFIT_BAR}",
                 weight=2.0),
        ]
