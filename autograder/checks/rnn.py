"""Hidden checks for the vanilla RNN part: layers and CaptioningRNN.

Inputs are small random problems (shapes drawn too, so hard-coded answers for
the notebooks' visible inputs earn nothing). Outputs are compared with the
reference run on the same inputs.
"""
import numpy as np

from autograder.checks.core import Check, Part, compare_arrays, numpy_output, register

TOL = 1e-6  # float64 throughout; correct code lands near 1e-10


def _dims(rng):
    return dict(N=int(rng.integers(2, 5)), T=int(rng.integers(3, 6)),
                D=int(rng.integers(3, 7)), H=int(rng.integers(3, 7)))


def rnn_problem(rng, gates=1, with_time=True):
    """Random inputs for an RNN (gates=1) or LSTM (gates=4) layer, float64."""
    d = _dims(rng)
    shape_x = (d["N"], d["T"], d["D"]) if with_time else (d["N"], d["D"])
    shape_h = (d["N"], d["T"], d["H"]) if with_time else (d["N"], d["H"])
    return {
        "x": rng.standard_normal(shape_x),
        "h0": rng.standard_normal((d["N"], d["H"])),
        "c0": rng.standard_normal((d["N"], d["H"])),
        "Wx": rng.standard_normal((d["D"], gates * d["H"])) * 0.4,
        "Wh": rng.standard_normal((d["H"], gates * d["H"])) * 0.4,
        "b": rng.standard_normal(gates * d["H"]) * 0.2,
        "dout": rng.standard_normal(shape_h),
        "dc": rng.standard_normal((d["N"], d["H"])),
    }


def compare_all(got, expected, tol=TOL):
    return [compare_arrays(key, got.get(key), expected[key], tol) for key in expected]


class _ArrayCheck(Check):
    """Checks whose score compares every output with the reference's."""

    modules = ("rnn_layers",)
    tol = TOL

    def score(self, got, expected, inputs):
        return compare_all(got, expected, self.tol)


@register
class RnnStepForward(_ArrayCheck):
    name = "rnn_step_forward"

    def inputs(self, rng):
        return rnn_problem(rng, with_time=False)

    def run(self, cs231n, i):
        next_h, _ = cs231n.rnn_layers.rnn_step_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        return {"next_h": numpy_output(next_h, "next_h")}


@register
class RnnStepBackward(_ArrayCheck):
    name = "rnn_step_backward"

    def inputs(self, rng):
        return rnn_problem(rng, with_time=False)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.rnn_step_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.rnn_step_backward(i["dout"], cache)
        names = ("dx", "dprev_h", "dWx", "dWh", "db")
        return {n: numpy_output(g, n) for n, g in zip(names, grads)}


@register
class RnnForward(_ArrayCheck):
    name = "rnn_forward"

    def inputs(self, rng):
        return rnn_problem(rng)

    def run(self, cs231n, i):
        h, _ = cs231n.rnn_layers.rnn_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        return {"h": numpy_output(h, "h")}


@register
class RnnBackward(_ArrayCheck):
    name = "rnn_backward"

    def inputs(self, rng):
        return rnn_problem(rng)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.rnn_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.rnn_backward(i["dout"], cache)
        names = ("dx", "dh0", "dWx", "dWh", "db")
        return {n: numpy_output(g, n) for n, g in zip(names, grads)}


def embedding_problem(rng):
    N, T, V, D = (int(rng.integers(2, 5)), int(rng.integers(3, 7)),
                  int(rng.integers(5, 12)), int(rng.integers(3, 7)))
    x = rng.integers(0, V, size=(N, T))
    x[0, :2] = x[0, 0]  # a repeated index: its gradient rows must add up
    return {"x": x, "W": rng.standard_normal((V, D)), "dout": rng.standard_normal((N, T, D))}


@register
class WordEmbeddingForward(_ArrayCheck):
    name = "word_embedding_forward"

    def inputs(self, rng):
        return embedding_problem(rng)

    def run(self, cs231n, i):
        out, _ = cs231n.rnn_layers.word_embedding_forward(i["x"], i["W"])
        return {"out": numpy_output(out, "out")}


@register
class WordEmbeddingBackward(_ArrayCheck):
    name = "word_embedding_backward"

    def inputs(self, rng):
        return embedding_problem(rng)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.word_embedding_forward(i["x"], i["W"])
        return {"dW": numpy_output(layers.word_embedding_backward(i["dout"], cache), "dW")}


# ---------------------------------------------------------------------------
# CaptioningRNN: parameters are drawn here and installed in the student's
# model, so the student's and the reference's models compute the same function.

PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def captioning_problem(rng, cell_type):
    gates = 4 if cell_type == "lstm" else 1
    N, T, D, W, H = 3, int(rng.integers(4, 7)), 6, 5, 4
    V = int(rng.integers(8, 12))
    captions = rng.integers(1, V, size=(N, T + 1))
    captions[:, 0] = 1  # <START>
    captions[0, -2:] = 0  # trailing <NULL>s exercise the mask
    shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, gates * H),
              "Wh": (H, gates * H), "b": (gates * H,), "W_vocab": (H, V), "b_vocab": (V,)}
    problem = {name: rng.standard_normal(shape) * 0.5 for name, shape in shapes.items()}
    problem.update(features=rng.standard_normal((N, D)), captions=captions, vocab_size=np.array(V))
    return problem


def vocabulary(size):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{k}" for k in range(size - 4)]
    return {w: k for k, w in enumerate(words)}


def build_model(cs231n, problem, cell_type):
    N, D = problem["features"].shape
    model = cs231n.rnn.CaptioningRNN(
        vocabulary(int(problem["vocab_size"])), input_dim=D,
        wordvec_dim=problem["W_embed"].shape[1], hidden_dim=problem["W_proj"].shape[1],
        cell_type=cell_type, dtype=np.float64)
    for name in PARAM_NAMES:
        model.params[name] = problem[name].copy()
    return model


class CaptioningLoss(_ArrayCheck):
    modules = ("rnn_layers", "classifiers.rnn")
    cell_type = None

    def inputs(self, rng):
        return captioning_problem(rng, self.cell_type)

    def run(self, cs231n, problem):
        model = build_model(cs231n, problem, self.cell_type)
        loss, grads = model.loss(problem["features"], problem["captions"])
        out = {"loss": np.float64(loss)}
        for name in PARAM_NAMES:
            out[f"d{name}"] = numpy_output(grads.get(name), f"grads['{name}']")
        return out


@register
class CaptioningRnnLoss(CaptioningLoss):
    name = "captioning_rnn_loss"
    cell_type = "rnn"


@register
class CaptioningRnnSample(Check):
    name = "captioning_rnn_sample"
    modules = ("rnn_layers", "classifiers.rnn")
    cell_type = "rnn"

    def inputs(self, rng):
        problem = captioning_problem(rng, self.cell_type)
        problem["max_length"] = np.array(int(rng.integers(5, 9)))
        return problem

    def run(self, cs231n, problem):
        model = build_model(cs231n, problem, self.cell_type)
        captions = model.sample(problem["features"], max_length=int(problem["max_length"]))
        return {"captions": numpy_output(captions, "sample's result")}

    def score(self, got, expected, inputs):
        got_c, want = got["captions"], expected["captions"]
        if got_c.shape != want.shape:
            return [compare_arrays("captions", got_c, want, 0)]
        # Tokens up to and including each caption's first <END> must match;
        # what a model writes after <END> is its own convention.
        end = 2
        ok = True
        for g, w in zip(got_c, want):
            stop = int(np.argmax(w == end)) + 1 if np.any(w == end) else len(w)
            ok &= bool(np.array_equal(g[:stop], w[:stop]))
        return [Part("captions", ok, "sampled captions match the greedy decoding"
                     if ok else "sampled captions differ from greedy decoding (argmax of each step's scores)")]
