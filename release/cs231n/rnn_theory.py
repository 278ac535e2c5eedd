"""RNN and LSTM theory, made executable: what small recurrent networks can and
cannot compute, beam search decoding, and how gradients flow through time.

Four parts, each with provided simulators and helpers and a few functions for
you to write (between the BEGIN/END SOLUTION lines):

A. Step RNNs. A recurrent network whose units are hard thresholds,
   h_t = step(W_hh h_{t-1} + W_xh x_t + b_h) and y_t = step(W_yh h_t + b_y),
   reading one bit x_t per step. You design weights for a counting task
   (`count_rnn_weights`) and decide which tasks a ONE-unit step RNN can solve
   (`one_unit_step_rnn_can_compute`).
B. A step LSTM: the LSTM of `cs231n.rnn_layers` with every sigmoid and tanh
   replaced by the step function. You design a one-unit LSTM that outputs the
   running parity of its input (`parity_lstm_weights`).
C. Beam search for `CaptioningRNN` (`beam_search`).
D. Gradient flow: the norm of the Jacobian d h_t / d h_0 of a linear or tanh RNN
   (`jacobian_norms`) and recurrent matrices of a chosen spectral radius
   (`recurrent_matrix`).

Conventions:
- step(z) = 1 if z > 0 and 0 if z <= 0; in particular step(0) = 0. Choose biases
  so that no pre-activation is ever exactly 0 (half-integers work well): then
  your network does not depend on this convention.
- Bit strings are integer arrays of 0s and 1s, shape (N, T): N strings of T bits.
  Every network starts from the zero state (h_0 = 0, and c_0 = 0 for the LSTM)
  and produces one output bit per step; y_t may depend on x_1, ..., x_t.
- The step RNN uses column vectors (W_hh h); the step LSTM uses the row-vector
  layout of `lstm_step_forward` (x Wx + h Wh + b) so that its weights have the
  same shapes as in the LSTM captioning notebook.
"""
import numpy as np

from cs231n.rnn_layers import affine_forward, lstm_step_forward, rnn_step_forward

STEP_RNN_KEYS = ("W_hh", "W_xh", "b_h", "W_yh", "b_y")
STEP_LSTM_KEYS = ("Wx", "Wh", "b", "W_y", "b_y")
ONE_UNIT_TASKS = ("seen_a_one", "at_least_two_ones", "running_parity")
NONLINEARITIES = ("linear", "tanh")


# ---------------------------------------------------------------------------
# Bit strings and target functions (provided)
# ---------------------------------------------------------------------------

def step(z):
    """Heaviside step, elementwise: 1 where z > 0, 0 where z <= 0 (step(0) = 0).

    Input: an array (or number) z of any shape. Returns an int64 array of z's shape.
    """
    return (np.asarray(z) > 0).astype(np.int64)


def all_binary_strings(T):
    """Every bit string of length T, shape (2**T, T), int64.

    Row r holds the binary digits of r, most significant first, so the rows are
    in counting order: 0...00, 0...01, 0...10, ...
    """
    if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"all_binary_strings: T is {T!r}; expected a non-negative integer")
    codes = np.arange(2 ** T)[:, None]
    return (codes >> np.arange(T - 1, -1, -1)) & 1


def _check_bits(func, x):
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"{func}: x has shape {getattr(x, 'shape', None)}; expected a "
                         "NumPy array of shape (N, T) holding bit strings")
    if x.size and not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{func}: x holds values other than 0 and 1")


def at_least_k_ones(x, k):
    """Target of part A: y_t = 1 iff at least k of the bits x_1, ..., x_t are 1.

    Input: x, int array (N, T) of bits; k, a positive integer.
    Returns: int64 array (N, T).
    """
    _check_bits("at_least_k_ones", x)
    return (np.cumsum(x, axis=1) >= k).astype(np.int64)


def running_parity(x):
    """Target of part B: y_t = (x_1 + ... + x_t) mod 2.

    Input: x, int array (N, T) of bits. Returns: int64 array (N, T).
    """
    _check_bits("running_parity", x)
    return (np.cumsum(x, axis=1) % 2).astype(np.int64)


def _check_weights(func, weights, keys, shapes):
    """Validate a dict of weights: every key present, float-convertible, finite,
    of the shape given by `shapes` (a dict key -> (labels, tuple)). Returns the
    weights as float64 arrays."""
    if not isinstance(weights, dict):
        raise TypeError(f"{func}: weights must be a dict with the keys {keys}; got "
                        f"{type(weights).__name__}")
    missing = [k for k in keys if k not in weights]
    if missing:
        raise ValueError(f"{func}: weights lack the keys {missing}; expected {keys}")
    out = {}
    for key in keys:
        value = np.asarray(weights[key])
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{func}: weights[{key!r}] has dtype {value.dtype}; expected numbers")
        value = value.astype(np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{func}: weights[{key!r}] contains NaN or inf")
        labels, shape = shapes[key]
        if value.shape != shape:
            raise ValueError(f"{func}: weights[{key!r}] has shape {value.shape}; expected "
                             f"({labels}) = {shape}")
        out[key] = value
    return out


# ---------------------------------------------------------------------------
# Part A: the step RNN simulator (provided)
# ---------------------------------------------------------------------------

def step_rnn_forward(weights, x):
    """Run a step RNN on N bit strings at once.

    h_0 = 0;  h_t = step(W_hh h_{t-1} + W_xh x_t + b_h);  y_t = step(W_yh h_t + b_y).

    Inputs:
    - weights: dict of arrays with H hidden units:
      W_hh (H, H), W_xh (H, 1), b_h (H,), W_yh (1, H), b_y (1,)
    - x: int array (N, T) of bits

    Returns a tuple of:
    - y: int64 array (N, T), the output bit of every step
    - h: int64 array (N, T, H), the hidden state after every step
    """
    func = "step_rnn_forward"
    _check_bits(func, x)
    if not isinstance(weights, dict) or "W_hh" not in weights:
        raise ValueError(f"{func}: weights must be a dict with the keys {STEP_RNN_KEYS}")
    shape = np.shape(weights["W_hh"])
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 1:
        raise ValueError(f"{func}: weights['W_hh'] has shape {shape}; expected a square (H, H) "
                         "matrix with H >= 1")
    H = shape[0]
    w = _check_weights(func, weights, STEP_RNN_KEYS, {
        "W_hh": ("H, H", (H, H)), "W_xh": ("H, 1", (H, 1)), "b_h": ("H,", (H,)),
        "W_yh": ("1, H", (1, H)), "b_y": ("1,", (1,))})
    N, T = x.shape
    h = np.zeros((N, H), dtype=np.int64)
    hs = np.zeros((N, T, H), dtype=np.int64)
    ys = np.zeros((N, T), dtype=np.int64)
    for t in range(T):
        # row-stacked column vectors: (W_hh h)^T = h^T W_hh^T
        h = step(h @ w["W_hh"].T + x[:, t:t + 1] @ w["W_xh"].T + w["b_h"])
        hs[:, t] = h
        ys[:, t] = step(h @ w["W_yh"].T + w["b_y"])[:, 0]
    return ys, hs


# ---------------------------------------------------------------------------
# Part A: your weights and claims
# ---------------------------------------------------------------------------

def count_rnn_weights(k):
    """Weights of a step RNN that outputs y_t = 1 iff at least k of x_1..x_t are 1.

    Use H = k hidden units (fewer is allowed if you can). The network must be
    right on EVERY bit string (the grader tries all strings up to length 10 for
    a few values of k).

    Input: k, a positive integer.
    Returns: dict with float arrays W_hh (H, H), W_xh (H, 1), b_h (H,), W_yh (1, H),
    b_y (1,), as read by `step_rnn_forward`.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"count_rnn_weights: k is {k!r}; expected a positive integer")
    k = int(k)
    # TODO: let hidden unit j (j = 1..k) mean "at least j ones so far" (a
    # thermometer code). Unit j switches on when it was on already, or when unit
    # j - 1 was on and the current bit is 1; write that as one threshold each.
    # The output reads unit k.
    raise NotImplementedError("count_rnn_weights: replace this line with your code")


def one_unit_step_rnn_can_compute():
    """Your claims: which tasks can a step RNN with ONE hidden unit (H = 1) solve?

    A task is solvable if some real weights W_hh (1, 1), W_xh (1, 1), b_h (1,),
    W_yh (1, 1), b_y (1,) make `step_rnn_forward` output the target on every bit
    string of every length. The tasks (y_t for the prefix x_1..x_t):
    - "seen_a_one": 1 iff at least one of x_1..x_t is 1
    - "at_least_two_ones": 1 iff at least two of x_1..x_t are 1
    - "running_parity": (x_1 + ... + x_t) mod 2

    Returns: dict from each task name above to True (solvable) or False.
    Justify the parity claim in the notebook.
    """
    # TODO: return your three claims (plain Python booleans).
    raise NotImplementedError("one_unit_step_rnn_can_compute: replace this line with your code")


# ---------------------------------------------------------------------------
# Part B: the step LSTM simulator (provided)
# ---------------------------------------------------------------------------

def step_lstm_forward(weights, x):
    """Run a step LSTM on N bit strings at once.

    The LSTM of `lstm_step_forward` (same weight layout, gate order i, f, o, g)
    with every sigmoid and tanh replaced by `step`, and an output unit:

        a_t = x_t Wx + h_{t-1} Wh + b                      (4H values)
        i_t, f_t, o_t, g_t = step(a_t) split in four        (each H values in {0, 1})
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * step(c_t)
        y_t = step(h_t W_y + b_y)

    with h_0 = c_0 = 0. The cell c_t is a non-negative integer (it can count).

    Inputs:
    - weights: dict of arrays with H units: Wx (1, 4H), Wh (H, 4H), b (4H,),
      W_y (H, 1), b_y (1,)
    - x: int array (N, T) of bits

    Returns a tuple of:
    - y: int64 array (N, T), the output bits
    - h: int64 array (N, T, H), the hidden states
    - c: float64 array (N, T, H), the cell states
    """
    func = "step_lstm_forward"
    _check_bits(func, x)
    if not isinstance(weights, dict) or "Wh" not in weights:
        raise ValueError(f"{func}: weights must be a dict with the keys {STEP_LSTM_KEYS}")
    shape = np.shape(weights["Wh"])
    if len(shape) != 2 or shape[1] != 4 * shape[0] or shape[0] < 1:
        raise ValueError(f"{func}: weights['Wh'] has shape {shape}; expected (H, 4H) with H >= 1")
    H = shape[0]
    w = _check_weights(func, weights, STEP_LSTM_KEYS, {
        "Wx": ("1, 4H", (1, 4 * H)), "Wh": ("H, 4H", (H, 4 * H)), "b": ("4H,", (4 * H,)),
        "W_y": ("H, 1", (H, 1)), "b_y": ("1,", (1,))})
    N, T = x.shape
    h = np.zeros((N, H))
    c = np.zeros((N, H))
    ys = np.zeros((N, T), dtype=np.int64)
    hs = np.zeros((N, T, H), dtype=np.int64)
    cs = np.zeros((N, T, H))
    for t in range(T):
        gates = step(x[:, t:t + 1] @ w["Wx"] + h @ w["Wh"] + w["b"])
        i, f, o, g = (gates[:, j * H:(j + 1) * H] for j in range(4))
        c = f * c + i * g
        h = o * step(c)
        hs[:, t], cs[:, t] = h, c
        ys[:, t] = step(h @ w["W_y"] + w["b_y"])[:, 0]
    return ys, hs, cs


def parity_lstm_weights():
    """Weights of a ONE-unit step LSTM (H = 1) whose output y_t is the running
    parity (x_1 + ... + x_t) mod 2, on every bit string.

    Returns: dict with float arrays Wx (1, 4), Wh (1, 4), b (4,), W_y (1, 1),
    b_y (1,), as read by `step_lstm_forward` (columns in the order i, f, o, g).
    """
    # TODO: keep the parity in the cell (c_t in {0, 1}) and expose it as h_t.
    # Decide when the cell must be forgotten and when 1 must be written into it;
    # each gate may look at x_t and h_{t-1} = the previous parity.
    raise NotImplementedError("parity_lstm_weights: replace this line with your code")


# ---------------------------------------------------------------------------
# Part C: beam search for CaptioningRNN
# ---------------------------------------------------------------------------

def log_softmax(scores):
    """Row-wise log-softmax, numerically stable. scores: (M, V) -> (M, V) float64."""
    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _check_decoding(func, model, features, beam_size, max_length):
    for name, value in (("beam_size", beam_size), ("max_length", max_length)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{func}: {name} is {value!r}; expected a positive integer")
    if getattr(model, "cell_type", None) not in ("rnn", "lstm") or not hasattr(model, "params"):
        raise TypeError(f"{func}: model must be a CaptioningRNN (with .params and .cell_type)")
    if "<START>" not in model.word_to_idx:
        raise ValueError(f"{func}: the model's vocabulary has no '<START>' token")
    D = model.params["W_proj"].shape[0]
    if not isinstance(features, np.ndarray) or features.ndim != 2 or features.shape[1] != D:
        raise ValueError(f"{func}: features have shape {getattr(features, 'shape', None)}; "
                         f"expected (N, D) with D = {D}")
    if features.dtype != model.params["W_proj"].dtype:
        raise TypeError(f"{func}: features have dtype {features.dtype}; expected the model's "
                        f"dtype {model.params['W_proj'].dtype}")


def beam_search(model, features, beam_size, max_length):
    """Beam search decoding: for each image, the caption of highest log-probability
    that a beam of `beam_size` hypotheses finds.

    A hypothesis is a word sequence w_1..w_m (without <START>) with the score
        log p(w_1..w_m | image) = sum_t log softmax(scores_t)[w_t],
    where scores_t = h_t W_vocab + b_vocab is what the model computes after
    reading <START>, w_1, ..., w_{t-1} (the same steps as CaptioningRNN.sample).
    No length normalisation. Every word of the vocabulary may be chosen, as in
    greedy sampling.

    The beam starts with the empty hypothesis (score 0). At every step t = 1..
    max_length the candidates are
    - every one-word extension of every unfinished hypothesis in the beam, and
    - every finished hypothesis in the beam, carried over unchanged;
    the beam keeps the `beam_size` best candidates (ties: the earlier candidate
    in beam order, then word order, as np.argmax and a stable sort pick them).
    A hypothesis is finished once its last word is <END> (the <END> and its
    log-probability are part of it); it is never extended again. After
    max_length steps (or as soon as every hypothesis in the beam is finished)
    the best hypothesis in the beam is taken, finished or not.

    Greedy floor: plain beam search can prune the greedy caption's prefix and
    end below greedy. So the search also runs with a beam of 1 (which is
    greedy decoding) and each image gets the better of the two results (the
    wide beam's on a tie): the result is never below greedy's log-probability.

    With beam_size = 1 this is greedy decoding: the result equals
    CaptioningRNN.sample.

    Inputs:
    - model: a CaptioningRNN (cell_type 'rnn' or 'lstm')
    - features: image features, shape (N, D), of the model's dtype
    - beam_size: positive int, the number K of hypotheses kept per image
    - max_length: positive int, the longest caption (in words)

    Returns a tuple of:
    - captions: int32 array (N, max_length) in the format of CaptioningRNN.sample:
      the words of the best hypothesis (its <END> included), then <NULL>s
    - log_probs: float64 array (N,), the score of each returned caption
    """
    _check_decoding("beam_search", model, features, beam_size, max_length)
    p = model.params
    null = model.word_to_idx["<NULL>"]
    start = model.word_to_idx["<START>"]
    end = model.word_to_idx.get("<END>", -1)  # -1: no <END>, hypotheses never finish
    N, K, V = features.shape[0], int(beam_size), p["W_embed"].shape[0]
    captions = np.full((N, max_length), null, dtype=np.int32)
    log_probs = np.zeros(N, dtype=np.float64)
    # TODO: keep K hypotheses per image at once: scores (N, K) (-inf for empty
    # slots), a finished flag, their words (N, K, max_length) and the RNN/LSTM
    # state of each hypothesis (N * K rows). At each step run one rnn_step_forward
    # or lstm_step_forward for all hypotheses, add log_softmax of the vocabulary
    # scores to the hypotheses' scores, let finished hypotheses compete unchanged,
    # keep the K best of the K * V candidates of each image, and reorder states and
    # words by the parent each survivor came from. Run that search for K and for 1
    # (greedy), and fill captions and log_probs with the better result per image.
    raise NotImplementedError("beam_search: replace this line with your code")
    return captions, log_probs


# ---------------------------------------------------------------------------
# Part D: gradient flow through time
# ---------------------------------------------------------------------------

def _check_rng(func, rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng must be a numpy.random.Generator (np.random.default_rng(seed)); "
                        f"got {type(rng).__name__}")


def recurrent_matrix(H, spectral_radius, rng):
    """A random H x H recurrent matrix W = spectral_radius * Q with Q orthogonal.

    Every eigenvalue of W has modulus spectral_radius (so that is its spectral
    radius), and every singular value of W equals spectral_radius.

    Inputs:
    - H: positive int
    - spectral_radius: non-negative float
    - rng: np.random.Generator, the only source of randomness

    Returns: float64 array (H, H).
    """
    func = "recurrent_matrix"
    if isinstance(H, (bool, np.bool_)) or not isinstance(H, (int, np.integer)) or H < 1:
        raise ValueError(f"{func}: H is {H!r}; expected a positive integer")
    if not np.isfinite(spectral_radius) or spectral_radius < 0:
        raise ValueError(f"{func}: spectral_radius is {spectral_radius!r}; expected a "
                         "finite non-negative number")
    _check_rng(func, rng)
    # TODO: draw a Gaussian H x H matrix, orthogonalise it (np.linalg.qr) and scale.
    raise NotImplementedError("recurrent_matrix: replace this line with your code")


def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    """Spectral norms of d h_t / d h_0 for t = 1..T along one trajectory.

    The RNN (row vectors, as in rnn_step_forward) is
        h_t = phi(h_{t-1} Wh + u_t),   phi = tanh or the identity ("linear"),
    where u_t stands for everything that does not depend on h (x_t Wx + b).
    The Jacobian J_t = d h_t / d h_0 is the (H, H) matrix with entries
    d h_t[i] / d h_0[j]; its spectral norm is its largest singular value
    (np.linalg.norm(J, 2)).

    Inputs:
    - Wh: (H, H) float64
    - h0: (H,) float64
    - u: (T, H) float64, the input term of every step
    - nonlinearity: "tanh" or "linear"

    Returns: float64 array (T,) whose entry t - 1 is ||d h_t / d h_0||_2.
    """
    func = "jacobian_norms"
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{func}: nonlinearity is {nonlinearity!r}; expected one of {NONLINEARITIES}")
    for name, a, nd in (("Wh", Wh, 2), ("h0", h0, 1), ("u", u, 2)):
        if not isinstance(a, np.ndarray) or a.ndim != nd or a.dtype.kind != "f":
            raise ValueError(f"{func}: {name} must be a float array with {nd} dimensions; got "
                             f"{type(a).__name__} of shape {getattr(a, 'shape', None)}")
    H = h0.shape[0]
    if Wh.shape != (H, H) or u.shape[1] != H:
        raise ValueError(f"{func}: Wh has shape {Wh.shape} and u has shape {u.shape}; expected "
                         f"(H, H) and (T, H) with H = {H} (from h0)")
    T = u.shape[0]
    norms = np.zeros(T, dtype=np.float64)
    # TODO: carry J_t = (d h_t / d h_{t-1}) J_{t-1} from J_0 = I, where the one-step
    # Jacobian is diag(phi'(a_t)) Wh^T for the pre-activation a_t; store the
    # spectral norm of every J_t.
    raise NotImplementedError("jacobian_norms: replace this line with your code")
    return norms


def gradient_flow_experiment(radii, T, H=32, nonlinearity="linear", input_scale=1.0, seed=0):
    """||d h_t / d h_0|| for t = 1..T, for recurrent matrices of several spectral radii.

    For each radius r the same seed gives the same orthogonal direction Q
    (W = r Q), the same h_0 ~ N(0, 1) and inputs u_t ~ N(0, input_scale^2), so
    only the radius changes between rows.

    Inputs: radii, a sequence of R non-negative floats; T, H positive ints;
    nonlinearity "tanh" or "linear"; input_scale >= 0; seed an int.
    Returns: float64 array (R, T).
    """
    out = np.zeros((len(radii), T))
    for row, radius in enumerate(radii):
        rng = np.random.default_rng(seed)
        W = recurrent_matrix(H, float(radius), rng)
        h0 = rng.standard_normal(H)
        u = input_scale * rng.standard_normal((T, H))
        out[row] = jacobian_norms(W, h0, u, nonlinearity)
    return out
