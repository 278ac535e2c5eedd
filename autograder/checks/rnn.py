"""Hidden checks for the vanilla RNN part: layers and CaptioningRNN.

Inputs are small random problems (shapes drawn too, so hard-coded answers for
the notebooks' visible inputs earn nothing), in float64, with exactly the shapes
the canonical docstrings document. Outputs are compared with the reference run
on the same inputs.

Precision. The canonical layers work in float32 and float64, and a CaptioningRNN
trains in float32, so float32 arithmetic in a student's code is correct code: a
float32 result is judged with a float32 bar (``compare_arrays`` follows the
result's dtype), and so is a float64 result that went through float32 steps
(float32 accumulators in a backward pass, a float32 gradient fed to a float64
affine layer): ``compare`` accepts a float64 result that is right to float32
precision. Wrong code (a missing term, a swapped gate, a step not accumulated)
moves results by a sizeable share of their scale, far above both bars.
"""
import numpy as np

from autograder.checks.core import (Check, Criterion, Spec, Tol, compare_arrays, not_degenerate, numpy_output,
                                    register)

# float64 results of correct code land near 1e-10. The float32 bar is measured
# relative to at least 1e-3 of each array's scale (core.Tol): 1e-4 there means an
# absolute error below 1e-7 of the scale, about two float32 roundings (6e-8 each)
# of the largest entry, which a forward pass (a few short sums, tanh, sigmoid)
# keeps. A gradient is a product of such sums, often summed again over the batch
# and the time steps, and its entries cancel: float32 implementations of the
# backward passes measured up to 8e-5 (one LSTM step) and 1.5e-4 (a pass over T
# steps, CaptioningRNN.loss) on this scale over 50 grading seeds, so gradients
# get 1e-3 (about 7x that margin; an absolute error of 1e-6 of the scale).
TOL = Tol(1e-6, 1e-4)
GRAD_TOL = Tol(1e-6, 1e-3)


def compare(label, got, expected, tol=TOL):
    """``compare_arrays``, also accepting a float64 result right to float32 precision.

    A float64 result computed partly in float32 carries float32 rounding: it is
    judged as the float32 result it effectively is.
    """
    part = compare_arrays(label, got, expected, tol)
    if part.ok or got is None:
        return part
    got = np.asarray(got)
    if got.dtype == np.float64 and got.shape == np.shape(expected) and np.all(np.isfinite(got)):
        low = compare_arrays(label, got.astype(np.float32), expected, tol)
        if low.ok:
            return Criterion(label, True, f"{low.detail} (at float32 precision)")
    return part


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
    return [compare(key, got.get(key), expected[key], tol) for key in expected]


class _ArrayCheck(Check):
    """Checks whose score compares every output with the reference's."""

    modules = ("rnn_layers",)
    tol = TOL

    def score(self, got, expected, inputs):
        return compare_all(got, expected, self.tol)


def gradients(values, names, function):
    """A backward function's tuple as named arrays (a wrong count is a clear error)."""
    if not isinstance(values, (tuple, list)) or len(values) != len(names):
        count = len(values) if isinstance(values, (tuple, list)) else type(values).__name__
        raise TypeError(f"{function} returned {count} values; expected {len(names)}: {', '.join(names)}")
    return {n: numpy_output(g, n) for n, g in zip(names, values)}


@register
class RnnStepForward(_ArrayCheck):
    name = "rnn_step_forward"
    outputs = {"next_h": Spec("float", like="h0")}

    def inputs(self, rng):
        return rnn_problem(rng, with_time=False)

    def run(self, cs231n, i):
        next_h, _ = cs231n.rnn_layers.rnn_step_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        return {"next_h": numpy_output(next_h, "next_h")}


@register
class RnnStepBackward(_ArrayCheck):
    name = "rnn_step_backward"
    tol = GRAD_TOL
    outputs = {"dx": Spec("float", like="x"), "dprev_h": Spec("float", like="h0"), "dWx": Spec("float", like="Wx"),
               "dWh": Spec("float", like="Wh"), "db": Spec("float", like="b")}

    def inputs(self, rng):
        return rnn_problem(rng, with_time=False)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.rnn_step_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.rnn_step_backward(i["dout"], cache)
        return gradients(grads, ("dx", "dprev_h", "dWx", "dWh", "db"), "rnn_step_backward")


@register
class RnnForward(_ArrayCheck):
    name = "rnn_forward"
    outputs = {"h": Spec("float", like="dout")}

    def inputs(self, rng):
        return rnn_problem(rng)

    def run(self, cs231n, i):
        h, _ = cs231n.rnn_layers.rnn_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        return {"h": numpy_output(h, "h")}


@register
class RnnBackward(_ArrayCheck):
    name = "rnn_backward"
    tol = GRAD_TOL
    outputs = {"dx": Spec("float", like="x"), "dh0": Spec("float", like="h0"), "dWx": Spec("float", like="Wx"),
               "dWh": Spec("float", like="Wh"), "db": Spec("float", like="b")}

    def inputs(self, rng):
        return rnn_problem(rng)

    def run(self, cs231n, i):
        layers = cs231n.rnn_layers
        _, cache = layers.rnn_forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        grads = layers.rnn_backward(i["dout"], cache)
        return gradients(grads, ("dx", "dh0", "dWx", "dWh", "db"), "rnn_backward")


def embedding_problem(rng):
    N, T, V, D = (int(rng.integers(2, 5)), int(rng.integers(3, 7)),
                  int(rng.integers(5, 12)), int(rng.integers(3, 7)))
    x = rng.integers(0, V, size=(N, T))
    x[0, :2] = x[0, 0]  # a repeated index: its gradient rows must add up
    x[1, -1] = x[0, 0]  # ... also across captions
    return {"x": x, "W": rng.standard_normal((V, D)), "dout": rng.standard_normal((N, T, D))}


@register
class WordEmbeddingForward(_ArrayCheck):
    name = "word_embedding_forward"
    outputs = {"out": Spec("float", like="dout")}

    def inputs(self, rng):
        return embedding_problem(rng)

    def run(self, cs231n, i):
        out, _ = cs231n.rnn_layers.word_embedding_forward(i["x"], i["W"])
        return {"out": numpy_output(out, "out")}


@register
class WordEmbeddingBackward(_ArrayCheck):
    name = "word_embedding_backward"
    tol = GRAD_TOL
    outputs = {"dW": Spec("float", like="W")}

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
NULL, START, END = 0, 1, 2  # their indices in ``vocabulary``


def vocabulary(size):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{k}" for k in range(size - 4)]
    return {w: k for k, w in enumerate(words)}


def model_parameters(rng, cell_type, V, D, W, H, scale=0.5):
    gates = 4 if cell_type == "lstm" else 1
    shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, gates * H),
              "Wh": (H, gates * H), "b": (gates * H,), "W_vocab": (H, V), "b_vocab": (V,)}
    return {name: rng.standard_normal(shape) * scale for name, shape in shapes.items()}


def captioning_problem(rng, cell_type):
    """A loss problem: every caption is <START> words <END> <NULL>..., of its own length."""
    N, T, D, W, H = 3, int(rng.integers(4, 7)), 6, 5, 4
    V = int(rng.integers(8, 12))
    captions = rng.integers(3, V, size=(N, T + 1))  # words and <UNK>
    captions[:, 0] = START
    lengths = rng.integers(2, T + 1, size=N)  # position of each caption's <END>
    lengths[0] = T - 1  # one caption has padding at least ...
    lengths[1] = T  # ... and one fills the whole row
    for n, end in enumerate(lengths):
        captions[n, end] = END
        captions[n, end + 1:] = NULL  # padding: masked out of the loss
    problem = model_parameters(rng, cell_type, V, D, W, H)
    problem.update(features=rng.standard_normal((N, D)), captions=captions, vocab_size=np.array(V))
    return problem


def build_model(cs231n, problem, cell_type):
    N, D = problem["features"].shape
    model = cs231n.rnn.CaptioningRNN(
        vocabulary(int(problem["vocab_size"])), input_dim=D,
        wordvec_dim=problem["W_embed"].shape[1], hidden_dim=problem["W_proj"].shape[1],
        cell_type=cell_type, dtype=np.float64)
    for name in PARAM_NAMES:
        model.params[name] = problem[name].copy()
    return model


def scalar_output(value, label):
    """A loss as a 0-d array of its own dtype (a float32 loss keeps the float32 bar)."""
    if hasattr(value, "item") and np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        value = np.asarray(value)  # a NumPy scalar
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = np.asarray(float(value))
    if not isinstance(value, np.ndarray) or value.size != 1 or value.dtype.kind not in "fiu":
        raise TypeError(f"{label} should be a number, got {type(value).__name__}")
    return value.reshape(())


class CaptioningLoss(_ArrayCheck):
    modules = ("rnn_layers", "classifiers.rnn")
    cell_type = None
    tol = GRAD_TOL

    def inputs(self, rng):
        return captioning_problem(rng, self.cell_type)

    def output_specs(self, inputs):
        """The loss (a scalar) and a gradient shaped like every parameter."""
        return {"loss": Spec("float", shape=()), **{f"d{n}": Spec("float", like=n) for n in PARAM_NAMES}}

    def run(self, cs231n, problem):
        model = build_model(cs231n, problem, self.cell_type)
        loss, grads = model.loss(problem["features"], problem["captions"])
        out = {"loss": scalar_output(loss, "the loss")}
        if not isinstance(grads, dict):
            raise TypeError(f"grads should be a dict, got {type(grads).__name__}")
        for name in PARAM_NAMES:
            out[f"d{name}"] = numpy_output(grads.get(name), f"grads['{name}']")
        return out


@register
class CaptioningRnnLoss(CaptioningLoss):
    name = "captioning_rnn_loss"
    cell_type = "rnn"


# ---------------------------------------------------------------------------
# Sampling. Greedy decoding is an argmax at every step: a problem whose best and
# second-best scores are nearly tied would let float32 code, or a different
# summation order, pick another word and decode a different (equally greedy)
# caption. Problems are drawn again until every decision that counts has a clear
# winner (a margin far above float32 rounding), no caption ends at once, at
# least one ends before max_length (so stopping at <END> is exercised), and the
# captions depend on what the recurrent state carries from step to step (a
# decoder that forgets it, h for the RNN or the cell state for the LSTM, writes
# other captions).

MIN_MARGIN = 1e-2  # score units; float32 rounding of a score is below 1e-6


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def greedy_decode(problem, cell_type, max_length, forgetful=False):
    """Greedy captions (N, max_length) and the margin of every decision, in float64.

    ``forgetful``: every step starts from the initial state instead of the one
    the previous step left (the RNN from h0, the LSTM from a zero cell state).
    Only used to choose well-posed problems; the expected captions come from the
    reference implementation.
    """
    P = problem
    h = h0 = P["features"] @ P["W_proj"] + P["b_proj"]
    c = np.zeros_like(h)
    H = h.shape[1]
    words = np.full(h.shape[0], START)
    tokens, margins = [], []
    for _ in range(max_length):
        a = P["W_embed"][words] @ P["Wx"] + (h0 if forgetful and cell_type == "rnn" else h) @ P["Wh"] + P["b"]
        if cell_type == "rnn":
            h = np.tanh(a)
        else:
            i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
            c = (0 if forgetful else f * c) + i * np.tanh(a[:, 3 * H:])
            h = o * np.tanh(c)
        scores = h @ P["W_vocab"] + P["b_vocab"]
        top = np.sort(scores, axis=1)
        margins.append(top[:, -1] - top[:, -2])
        words = scores.argmax(axis=1)
        tokens.append(words)
    return np.stack(tokens, axis=1), np.stack(margins, axis=1)


def decisions_that_count(captions):
    """Boolean (N, L): the positions up to and including each caption's first <END>."""
    ended = np.cumsum(captions == END, axis=1)
    return (ended == 0) | ((ended == 1) & (captions == END))


def sampling_problem(rng, cell_type):
    max_length = int(rng.integers(5, 9))
    for _ in range(1000):
        N, D, W, H, V = 3, 6, 5, int(rng.integers(4, 7)), int(rng.integers(8, 12))
        problem = model_parameters(rng, cell_type, V, D, W, H, scale=1.0)
        problem["b_vocab"][[NULL, START]] = -10.0  # never generated: a sample starts after <START>
        problem.update(features=rng.standard_normal((N, D)), vocab_size=np.array(V),
                       max_length=np.array(max_length))
        captions, margins = greedy_decode(problem, cell_type, max_length)
        counted = decisions_that_count(captions)
        clear = margins[counted].min() > MIN_MARGIN
        ends = (captions == END).any(axis=1)
        forgetful, _ = greedy_decode(problem, cell_type, max_length, forgetful=True)
        needs_state = (forgetful != captions)[counted].any()
        if (clear and needs_state and not (captions[:, 0] == END).any() and ends.any()
                and len(np.unique(captions)) > 2):
            return problem
    raise RuntimeError("no well-posed sampling problem found")


def sample_parts(got, want):
    """Parts of a sampling check: degenerate output scores nothing; tokens up to and
    including each caption's first <END> must match (what a model writes after its
    <END> is its own choice: the canonical TODO does not ask it to stop)."""
    parts = [not_degenerate("captions", got)]
    if got.shape != want.shape:
        return parts + [compare_arrays("captions", got, want, 0)]
    if got.dtype.kind not in "iu" and not np.array_equal(got, np.round(got)):
        return parts + [Criterion("captions", False, f"captions: dtype {got.dtype}; expected word indices")]
    counted = decisions_that_count(want)
    wrong = np.argwhere((got != want) & counted)
    if len(wrong):
        n, t = wrong[0]
        detail = (f"captions: caption {n} differs from greedy decoding at position {t} (word {got[n, t]}, "
                  f"expected {want[n, t]}); column 0 is the first generated word (not <START>), and each "
                  "step feeds back the argmax of its scores")
        return parts + [Criterion("captions", False, detail)]
    return parts + [Criterion("captions", True, "sampled captions match greedy decoding")]


@register
class CaptioningRnnSample(Check):
    name = "captioning_rnn_sample"
    modules = ("rnn_layers", "classifiers.rnn")
    cell_type = "rnn"
    # word indices, (N, max_length); integer-valued floats read as well
    outputs = {"captions": Spec(("int", "float"), shape=("features.shape[0]", "max_length"))}

    def inputs(self, rng):
        return sampling_problem(rng, self.cell_type)

    def run(self, cs231n, problem):
        model = build_model(cs231n, problem, self.cell_type)
        captions = model.sample(problem["features"], max_length=int(problem["max_length"]))
        return {"captions": numpy_output(captions, "sample's result")}

    def score(self, got, expected, inputs):
        return sample_parts(got["captions"], expected["captions"])
