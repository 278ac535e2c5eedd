"""Tests of cs231n/rnn_layers.py.

Oracles: torch.nn.RNNCell / RNN / LSTMCell / LSTM (forward and autograd), explicit
per-sample, per-step Python loops, centred-difference numerical gradients (relative
error below 1e-7 in float64), and the fixed values printed by the canonical
assignment notebooks.
"""
import warnings

import numpy as np
import pytest
import torch

from cs231n.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                   rel_error)
from cs231n.rnn_layers import (affine_backward, affine_forward, lstm_backward, lstm_forward,
                               lstm_step_backward, lstm_step_forward, rnn_backward,
                               rnn_forward, rnn_step_backward, rnn_step_forward, sigmoid,
                               temporal_affine_backward, temporal_affine_forward,
                               temporal_softmax_loss, word_embedding_backward,
                               word_embedding_forward)

GRAD_TOL = 1e-7  # numerical vs analytic gradients, float64


def rng(seed=0):
    return np.random.default_rng(seed)


def rnn_params(r, N, D, H, gates=1, T=None):
    x = r.standard_normal((N, D) if T is None else (N, T, D))
    h = r.standard_normal((N, H))
    Wx = r.standard_normal((D, gates * H)) / np.sqrt(D)
    Wh = r.standard_normal((H, gates * H)) / np.sqrt(H)
    b = r.standard_normal(gates * H) * 0.5
    return x, h, Wx, Wh, b


def num_grads(forward, arrays, douts):
    """Numerical gradients of sum_k sum(douts[k] * outputs[k]) with respect to each
    array, where forward() returns the tuple of outputs (the arrays are perturbed in
    place; forward reads them through its closure). eval_numerical_gradient_array
    differences the outputs element by element before weighting them with the
    upstream gradient, which keeps the rounding error far below 1e-7 even for
    small gradient entries (differencing one summed scalar does not)."""
    return [sum(eval_numerical_gradient_array(lambda _, k=k: forward()[k], a, dout)
                for k, dout in enumerate(douts))
            for a in arrays]


def assert_grads_close(analytic, numeric, names, tol=GRAD_TOL):
    for name, a, n in zip(names, analytic, numeric):
        assert a.shape == n.shape, name
        err = rel_error(a, n)
        assert err < tol, f"{name}: relative error {err:.2e}"


# --- torch oracles -----------------------------------------------------------

# Our LSTM columns are (i, f, o, g); torch's rows are (i, f, g, o).
OURS_TO_TORCH = [0, 1, 3, 2]


def to_torch_gates(W, H):
    """Reorder the 4 gate blocks of the last axis from (i,f,o,g) to torch's (i,f,g,o)."""
    return np.concatenate([W[..., k * H:(k + 1) * H] for k in OURS_TO_TORCH], axis=-1)


def from_torch_gates(W, H):
    """Inverse of to_torch_gates."""
    blocks = [W[..., k * H:(k + 1) * H] for k in range(4)]  # torch order i, f, g, o
    return np.concatenate([blocks[0], blocks[1], blocks[3], blocks[2]], axis=-1)


def set_torch_weights(module, Wx, Wh, b, suffix=""):
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(torch.from_numpy(Wx.T))
        getattr(module, "weight_hh" + suffix).copy_(torch.from_numpy(Wh.T))
        getattr(module, "bias_ih" + suffix).copy_(torch.from_numpy(b))
        getattr(module, "bias_hh" + suffix).zero_()


def torch_sequence(kind, x, h0, Wx, Wh, b, dh):
    """h and (dx, dh0, dWx, dWh, db) of torch.nn.RNN / LSTM for the upstream gradient dh,
    with our weight layout (and LSTM gate order) translated to torch's."""
    N, T, D = x.shape
    H = h0.shape[1]
    if kind == "lstm":
        Wx, Wh, b = (to_torch_gates(W, H) for W in (Wx, Wh, b))
        module = torch.nn.LSTM(D, H, batch_first=True).double()
    else:
        module = torch.nn.RNN(D, H, batch_first=True).double()
    set_torch_weights(module, Wx, Wh, b, suffix="_l0")
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    state = (h0t, torch.zeros_like(h0t)) if kind == "lstm" else h0t
    out, _ = module(xt, state)
    (out * torch.from_numpy(dh)).sum().backward()
    grads = [xt.grad.numpy(), h0t.grad.numpy()[0], module.weight_ih_l0.grad.numpy().T,
             module.weight_hh_l0.grad.numpy().T, module.bias_ih_l0.grad.numpy()]
    if kind == "lstm":
        grads[2:] = [from_torch_gates(g, H) for g in grads[2:]]
    return out.detach().numpy(), grads


# --- vanilla RNN ---------------------------------------------------------------

def test_rnn_step_forward_matches_torch_rnncell():
    x, h, Wx, Wh, b = rnn_params(rng(1), 4, 5, 6)
    cell = torch.nn.RNNCell(5, 6).double()
    set_torch_weights(cell, Wx, Wh, b)
    expected = cell(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy()
    next_h, _ = rnn_step_forward(x, h, Wx, Wh, b)
    assert next_h.shape == (4, 6)
    assert rel_error(next_h, expected) < 1e-12


def test_rnn_step_forward_canonical_values():
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    expected = np.asarray([[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                           [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                           [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    assert rel_error(next_h, expected) < 1e-7


def test_rnn_step_backward_numerical():
    r = rng(2)
    x, h, Wx, Wh, b = rnn_params(r, 4, 5, 6)
    dnext = r.standard_normal((4, 6))
    out, cache = rnn_step_forward(x, h, Wx, Wh, b)
    analytic = rnn_step_backward(dnext, cache)

    def forward():
        return rnn_step_forward(x, h, Wx, Wh, b)
    assert_grads_close(analytic, num_grads(forward, [x, h, Wx, Wh, b], [dnext]),
                       ["dx", "dprev_h", "dWx", "dWh", "db"])


def test_rnn_forward_matches_torch_and_canonical_values():
    x, h0, Wx, Wh, b = rnn_params(rng(3), 3, 5, 6, T=7)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    expected, _ = torch_sequence("rnn", x, h0, Wx, Wh, b, np.zeros((3, 7, 6)))
    assert h.shape == (3, 7, 6)
    assert rel_error(h, expected) < 1e-12

    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    expected = np.asarray([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    assert rel_error(h, expected) < 1e-7


def test_rnn_backward_numerical():
    r = rng(4)
    x, h0, Wx, Wh, b = rnn_params(r, 3, 4, 5, T=6)
    dh = r.standard_normal((3, 6, 5))
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    analytic = rnn_backward(dh, cache)

    def forward():
        return rnn_forward(x, h0, Wx, Wh, b)
    numeric = num_grads(forward, [x, h0, Wx, Wh, b], [dh])
    assert_grads_close(analytic[1:], numeric[1:], ["dh0", "dWx", "dWh", "db"])
    # dx needs 2e-7: its entry dx[0, 2, 1] is only -5.4e-5, and the centred
    # difference's rounding floor (eps * |h| / step ~ 1e-11 absolute; measured
    # 1.3e-11) is 1.2e-7 of that. test_sequence_backward_matches_torch_autograd
    # confirms dx to 1e-10.
    assert_grads_close(analytic[:1], numeric[:1], ["dx"], tol=2e-7)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_sequence_backward_matches_torch_autograd(kind):
    """A larger size than the numerical checks, against torch's own backward."""
    gates = 4 if kind == "lstm" else 1
    forward, backward = {"rnn": (rnn_forward, rnn_backward),
                         "lstm": (lstm_forward, lstm_backward)}[kind]
    r = rng(5)
    x, h0, Wx, Wh, b = rnn_params(r, 7, 24, 32, gates=gates, T=11)
    dh = r.standard_normal((7, 11, 32))
    h, cache = forward(x, h0, Wx, Wh, b)
    expected_h, expected_grads = torch_sequence(kind, x, h0, Wx, Wh, b, dh)
    assert rel_error(h, expected_h) < 1e-10
    for name, g, e in zip(["dx", "dh0", "dWx", "dWh", "db"], backward(dh, cache),
                          expected_grads):
        assert g.shape == e.shape, name
        assert np.allclose(g, e, rtol=1e-10, atol=1e-12), name


# --- word embeddings -------------------------------------------------------------

def test_word_embedding_forward_matches_loop():
    r = rng(6)
    V, D = 7, 3
    x = r.integers(V, size=(4, 5))
    W = r.standard_normal((V, D))
    out, _ = word_embedding_forward(x, W)
    assert out.shape == (4, 5, 3)
    for n in range(4):
        for t in range(5):
            assert np.array_equal(out[n, t], W[x[n, t]])


def test_word_embedding_backward_accumulates_repeated_words():
    r = rng(7)
    V, D = 6, 4
    x = np.array([[0, 3, 3, 1], [3, 1, 0, 3]])  # repeats; words 2, 4 and 5 unused
    W = r.standard_normal((V, D))
    dout = r.standard_normal((2, 4, D))
    _, cache = word_embedding_forward(x, W)
    dW = word_embedding_backward(dout, cache)
    expected = np.zeros((V, D))
    for n in range(2):
        for t in range(4):
            expected[x[n, t]] += dout[n, t]
    assert isinstance(dW, np.ndarray) and dW.shape == (V, D)
    assert np.allclose(dW, expected, rtol=0, atol=1e-14)
    assert not dW[[2, 4, 5]].any()

    num = eval_numerical_gradient_array(lambda _: word_embedding_forward(x, W)[0], W, dout)
    assert rel_error(dW, num) < GRAD_TOL


def test_word_embedding_rejects_bad_indices():
    W = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"x has values in \[0, 5\].*\[0, 5\)"):
        word_embedding_forward(np.array([[0, 5]]), W)
    with pytest.raises(ValueError, match=r"x has values in \[-1, 1\]"):
        word_embedding_forward(np.array([[-1, 1]]), W)
    with pytest.raises(TypeError, match=r"x has dtype float64; expected an integer dtype"):
        word_embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(TypeError, match=r"x must be a NumPy array; got list"):
        word_embedding_forward([0, 1], W)


def test_word_embedding_accepts_indices_of_any_shape():
    """Canonical sampling code embeds one word per sample, (N,), or a single <START>
    index: the lookup works for any shape, as the canonical one-line lookup does."""
    W = rng(30).standard_normal((5, 3))
    out, cache = word_embedding_forward(np.array([4, 0, 4]), W)
    assert np.array_equal(out, W[[4, 0, 4]])
    dW = word_embedding_backward(np.ones((3, 3)), cache)
    assert np.array_equal(dW[4], [2, 2, 2]) and np.array_equal(dW[0], [1, 1, 1]) and not dW[1:4].any()
    out, _ = word_embedding_forward(1, W)
    assert np.array_equal(out, W[1])


# --- sigmoid -----------------------------------------------------------------------

def test_sigmoid_is_stable_and_accurate():
    x = np.array([-1000.0, -745.0, -700.0, -40.0, -1.5, 0.0, 2.0, 40.0, 700.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = sigmoid(x)
        s32 = sigmoid(x.astype(np.float32))
    # Oracle: the plain formula in 80-bit long double, where exp(1000) does not overflow.
    xl = x.astype(np.longdouble)
    expected = (1 / (1 + np.exp(-xl))).astype(np.float64)
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    # Full relative precision in both tails (1 - sigmoid(x) = sigmoid(-x)).
    assert np.allclose(s, expected, rtol=1e-14, atol=0)
    assert np.allclose(sigmoid(-x[3:-3]), 1 - s[3:-3], rtol=1e-14, atol=1e-300)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[5] == 0.5
    assert s32.dtype == np.float32
    assert np.allclose(s32, expected.astype(np.float32), rtol=1e-6, atol=0)
    # Scalars and integer input work too (computed in float64).
    assert sigmoid(0.0) == 0.5 and np.isclose(sigmoid(2), expected[6], rtol=1e-15)
    assert sigmoid(np.array([-2, 0])).dtype == np.float64


# --- LSTM ----------------------------------------------------------------------------

def lstm_step_torch(x, h, c, Wx, Wh, b, gate_order=OURS_TO_TORCH):
    """torch.nn.LSTMCell with our (i, f, o, g) weight blocks moved into the slots of
    torch's (i, f, g, o) by `gate_order`."""
    H = h.shape[1]
    cell = torch.nn.LSTMCell(x.shape[1], H).double()
    reorder = lambda W: np.concatenate(  # noqa: E731
        [W[..., k * H:(k + 1) * H] for k in gate_order], axis=-1)
    set_torch_weights(cell, reorder(Wx), reorder(Wh), reorder(b))
    h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    return h_t.detach().numpy(), c_t.detach().numpy()


def test_lstm_step_forward_gate_order_matches_torch_lstmcell():
    r = rng(8)
    x, h, Wx, Wh, b = rnn_params(r, 4, 5, 6, gates=4)
    c = r.standard_normal((4, 6))
    next_h, next_c, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
    exp_h, exp_c = lstm_step_torch(x, h, c, Wx, Wh, b)
    assert next_h.shape == next_c.shape == (4, 6)
    assert rel_error(next_h, exp_h) < 1e-12
    assert rel_error(next_c, exp_c) < 1e-12
    # The oracle discriminates: reading our blocks in any other gate order
    # (e.g. torch's own i, f, g, o) gives clearly different states.
    for order in ([0, 1, 2, 3], [1, 0, 3, 2], [0, 2, 3, 1]):
        wrong_h, wrong_c = lstm_step_torch(x, h, c, Wx, Wh, b, gate_order=order)
        assert rel_error(next_h, wrong_h) > 1e-2 or rel_error(next_c, wrong_c) > 1e-2


def test_lstm_step_forward_canonical_values():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_h = np.asarray([[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                             [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                             [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_c = np.asarray([[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                             [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                             [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    assert rel_error(next_h, expected_h) < 1e-7
    assert rel_error(next_c, expected_c) < 1e-7


def test_lstm_step_backward_numerical():
    r = rng(9)
    x, h, Wx, Wh, b = rnn_params(r, 4, 5, 6, gates=4)
    c = r.standard_normal((4, 6))
    dh, dc = r.standard_normal((4, 6)), r.standard_normal((4, 6))
    _, _, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    analytic = lstm_step_backward(dh, dc, cache)

    def forward():
        return lstm_step_forward(x, h, c, Wx, Wh, b)
    assert_grads_close(analytic, num_grads(forward, [x, h, c, Wx, Wh, b], [dh, dc]),
                       ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"])


def test_lstm_forward_matches_torch_and_canonical_values():
    x, h0, Wx, Wh, b = rnn_params(rng(10), 3, 5, 6, gates=4, T=7)
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    expected, _ = torch_sequence("lstm", x, h0, Wx, Wh, b, np.zeros((3, 7, 6)))
    assert h.shape == (3, 7, 6)
    assert rel_error(h, expected) < 1e-12

    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    expected = np.asarray([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    assert rel_error(h, expected) < 1e-7


def test_lstm_backward_numerical():
    r = rng(11)
    x, h0, Wx, Wh, b = rnn_params(r, 3, 4, 5, gates=4, T=6)
    dh = r.standard_normal((3, 6, 5))
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    analytic = lstm_backward(dh, cache)

    def forward():
        return lstm_forward(x, h0, Wx, Wh, b)
    assert_grads_close(analytic, num_grads(forward, [x, h0, Wx, Wh, b], [dh]),
                       ["dx", "dh0", "dWx", "dWh", "db"])


# --- temporal affine, softmax loss, affine -------------------------------------------

def test_temporal_affine_forward_and_backward():
    r = rng(12)
    N, T, D, M = 2, 3, 4, 5
    x, w, b = r.standard_normal((N, T, D)), r.standard_normal((D, M)), r.standard_normal(M)
    out, cache = temporal_affine_forward(x, w, b)
    for n in range(N):
        for t in range(T):
            assert np.allclose(out[n, t], [x[n, t] @ w[:, m] + b[m] for m in range(M)],
                               rtol=1e-13, atol=1e-13)
    dout = r.standard_normal((N, T, M))
    analytic = temporal_affine_backward(dout, cache)

    def forward():
        return temporal_affine_forward(x, w, b)
    assert_grads_close(analytic, num_grads(forward, [x, w, b], [dout]), ["dx", "dw", "db"])


def softmax_loss_loop(x, y, mask):
    """Per (sample, step) cross-entropy written out with math on Python floats."""
    import math
    N, T, V = x.shape
    total = 0.0
    for n in range(N):
        for t in range(T):
            if mask[n, t]:
                row = [float(v) for v in x[n, t]]
                top = max(row)
                log_z = top + math.log(sum(math.exp(v - top) for v in row))
                total += log_z - row[y[n, t]]
    return total / N


def test_temporal_softmax_loss_value_and_gradient():
    r = rng(13)
    N, T, V = 4, 5, 7
    x = r.standard_normal((N, T, V)) * 3
    y = r.integers(V, size=(N, T))
    mask = r.random((N, T)) < 0.6
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert abs(loss - softmax_loss_loop(x, y, mask)) < 1e-12
    assert not dx[~mask].any()  # masked steps get no gradient

    # The numerical gradient of a scalar loss carries an absolute rounding error of
    # about eps * |loss| / h ~ 1e-10, so its relative error exceeds 1e-7 for entries
    # below ~1e-3 (tiny softmax probabilities). Check on scores of a moderate scale,
    # where every entry is larger than that (as the canonical check does).
    x = x / 10
    _, dx = temporal_softmax_loss(x, y, mask)
    num = eval_numerical_gradient(lambda _: temporal_softmax_loss(x, y, mask)[0], x,
                                  verbose=False)
    assert rel_error(dx, num) < GRAD_TOL


def test_temporal_softmax_loss_divides_by_n_and_is_stable():
    # Expected value of the canonical sanity check: uniform scores give
    # (number of unmasked steps) * log(V) / N.
    N, T, V = 3, 4, 10
    y = np.zeros((N, T), dtype=np.int64)
    mask = np.ones((N, T), dtype=bool)
    mask[0, 2:] = False
    loss, _ = temporal_softmax_loss(np.zeros((N, T, V)), y, mask)
    assert np.isclose(loss, 10 * np.log(V) / N, rtol=1e-14)

    # Huge scores: no overflow, exact gradient of a one-hot softmax.
    x = np.zeros((1, 2, 3))
    x[0, :, 1] = 1e4
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dx = temporal_softmax_loss(x, np.array([[1, 0]]), np.array([[True, True]]))
    assert np.isclose(loss, 1e4)
    assert np.allclose(dx[0, 1], [-1, 1, 0])

    loss, dx = temporal_softmax_loss(np.ones((2, 3, 4)), np.zeros((2, 3), dtype=int),
                                     np.zeros((2, 3), dtype=bool))
    assert loss == 0 and not dx.any()


def test_temporal_softmax_loss_verbose_prints(capsys):
    temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int),
                          np.ones((2, 3), dtype=bool), verbose=True)
    assert "(2, 3, 4)" in capsys.readouterr().out


def test_affine_forward_and_backward():
    r = rng(14)
    x, w, b = r.standard_normal((3, 2, 4)), r.standard_normal((8, 5)), r.standard_normal(5)
    out, cache = affine_forward(x, w, b)
    assert np.allclose(out, np.stack([x[n].ravel() @ w + b for n in range(3)]), rtol=1e-13)
    dout = r.standard_normal((3, 5))
    analytic = affine_backward(dout, cache)
    assert analytic[0].shape == x.shape

    def forward():
        return affine_forward(x, w, b)
    assert_grads_close(analytic, num_grads(forward, [x, w, b], [dout]), ["dx", "dw", "db"])


# --- dtypes ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_input_dtype(dtype):
    r = rng(15)
    N, T, D, H, V = 3, 4, 5, 6, 7
    cast = lambda *arrays: [a.astype(dtype) for a in arrays]  # noqa: E731

    x, h, Wx, Wh, b = cast(*rnn_params(r, N, D, H))
    out, cache = rnn_step_forward(x, h, Wx, Wh, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in rnn_step_backward(np.ones_like(out), cache))

    x, h0, Wx, Wh, b = cast(*rnn_params(r, N, D, H, T=T))
    out, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in rnn_backward(np.ones_like(out), cache))

    x, h, Wx, Wh, b = cast(*rnn_params(r, N, D, H, gates=4))
    c = h.copy()
    nh, nc, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    assert nh.dtype == nc.dtype == dtype
    assert all(g.dtype == dtype for g in lstm_step_backward(nh, nc, cache))

    x, h0, Wx, Wh, b = cast(*rnn_params(r, N, D, H, gates=4, T=T))
    out, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in lstm_backward(np.ones_like(out), cache))

    [W] = cast(r.standard_normal((V, D)))
    out, cache = word_embedding_forward(r.integers(V, size=(N, T)), W)
    assert out.dtype == dtype and word_embedding_backward(out, cache).dtype == dtype

    assert sigmoid(W).dtype == dtype

    x, w, b = cast(r.standard_normal((N, T, D)), r.standard_normal((D, V)), r.standard_normal(V))
    out, cache = temporal_affine_forward(x, w, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in temporal_affine_backward(out, cache))

    loss, dx = temporal_softmax_loss(out, r.integers(V, size=(N, T)), r.random((N, T)) < 0.5)
    assert loss.dtype == dtype and dx.dtype == dtype

    [w2] = cast(r.standard_normal((T * D, 2)))
    out, cache = affine_forward(x, w2, b[:2])
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in affine_backward(out, cache))


# --- bad input -------------------------------------------------------------------------

def test_bad_shapes_name_the_argument_and_the_expected_shape():
    x, h, Wx, Wh, b = rnn_params(rng(16), 3, 5, 4)
    with pytest.raises(ValueError, match=r"rnn_step_forward: prev_h has shape \(2, 4\); "
                                         r"expected \(N, H\) = \(3, 4\)"):
        rnn_step_forward(x, h[:2], Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_step_forward: Wh has shape \(4, 3\); "
                                         r"expected \(H, H\) = \(4, 4\)"):
        rnn_step_forward(x, h, Wx, Wh[:, :3], b)
    with pytest.raises(ValueError, match=r"rnn_forward: x has shape \(3, 5\); expected 3 "
                                         r"dimensions \(N, T, D\)"):
        rnn_forward(x, h, Wx, Wh, b)
    x4, h4, Wx4, Wh4, b4 = rnn_params(rng(16), 3, 5, 4, gates=4)
    with pytest.raises(ValueError, match=r"lstm_step_forward: Wx has shape \(5, 4\); "
                                         r"expected \(D, 4H\) = \(5, 16\)"):
        lstm_step_forward(x4, h4, h4, Wx, Wh4, b4)
    with pytest.raises(ValueError, match=r"lstm_step_forward: prev_c has shape \(3, 5\); "
                                         r"expected \(N, H\) = \(3, 4\)"):
        lstm_step_forward(x4, h4, x4, Wx4, Wh4, b4)
    with pytest.raises(ValueError, match=r"lstm_forward: b has shape \(4,\); expected "
                                         r"\(4H\) = \(16,\)"):
        lstm_forward(x4[:, None], h4, Wx4, Wh4, b)
    with pytest.raises(ValueError, match=r"temporal_affine_forward: w has shape \(4, 4\); "
                                         r"expected \(D, M\) = \(5, 4\)"):
        temporal_affine_forward(x[:, None], Wh, b)
    with pytest.raises(ValueError, match=r"lstm_forward: x has shape \(3, 0, 5\); expected "
                                         r"\(N, T, D\) with at least one time step"):
        lstm_forward(np.zeros((3, 0, 5)), h4, Wx4, Wh4, b4)
    with pytest.raises(ValueError, match=r"rnn_backward: dh has shape \(3, 4\); expected 3"):
        rnn_backward(h, None)


def test_mixed_float_dtypes_are_accepted_and_promoted():
    """A float32 model whose parameters an update rule promoted to float64 (a
    canonical word_embedding_backward returns float64 gradients) keeps working."""
    x, h, Wx, Wh, b = rnn_params(rng(17), 3, 5, 4, T=2)
    out, cache = rnn_forward(x.astype(np.float32), h, Wx.astype(np.float32), Wh, b)
    assert out.dtype == np.float64
    assert np.allclose(out, rnn_forward(x, h, Wx, Wh, b)[0], atol=1e-6)
    grads = rnn_backward(np.ones_like(out), cache)
    assert all(g.dtype == np.float64 for g in grads)
    x4, h4, Wx4, Wh4, b4 = rnn_params(rng(17), 3, 5, 4, gates=4, T=2)
    out, cache = lstm_forward(x4, h4.astype(np.float32), Wx4, Wh4.astype(np.float32), b4)
    assert out.dtype == np.float64
    assert all(g.dtype == np.float64 for g in lstm_backward(np.ones_like(out), cache))
    out, cache = temporal_affine_forward(x.astype(np.float32), Wx, b)
    assert out.dtype == np.float64


def test_step_forward_accepts_one_input_shared_by_the_minibatch():
    """x of shape (D,) next to prev_h (N, H): what a canonical sample() passes when
    it embeds a scalar <START> index."""
    x, h, Wx, Wh, b = rnn_params(rng(18), 3, 5, 4)
    shared = np.broadcast_to(x[0], x.shape)
    assert np.allclose(rnn_step_forward(x[0], h, Wx, Wh, b)[0], rnn_step_forward(shared, h, Wx, Wh, b)[0])
    x4, h4, Wx4, Wh4, b4 = rnn_params(rng(18), 3, 5, 4, gates=4)
    got = lstm_step_forward(x4[0], h4, h4, Wx4, Wh4, b4)
    want = lstm_step_forward(np.broadcast_to(x4[0], x4.shape), h4, h4, Wx4, Wh4, b4)
    assert np.allclose(got[0], want[0]) and np.allclose(got[1], want[1])


def test_bad_dtypes_are_named():
    x, h, Wx, Wh, b = rnn_params(rng(17), 3, 5, 4)
    with pytest.raises(TypeError, match=r"rnn_step_forward: x has dtype int64; expected a "
                                        r"floating-point dtype"):
        rnn_step_forward(x.astype(np.int64), h, Wx, Wh, b)
    with pytest.raises(TypeError, match=r"rnn_step_forward: b must be a NumPy array; got list"):
        rnn_step_forward(x, h, Wx, Wh, list(b))


def test_softmax_loss_rejects_bad_targets_and_masks():
    x = np.zeros((2, 3, 4))
    mask = np.ones((2, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"y has values in \[4, 4\]; expected indices in "
                                         r"\[0, V\) = \[0, 4\)"):
        temporal_softmax_loss(x, np.full((2, 3), 4), mask)
    with pytest.raises(ValueError, match=r"y has shape \(2, 2\); expected \(N, T\) = \(2, 3\)"):
        temporal_softmax_loss(x, np.zeros((2, 2), dtype=int), mask)
    with pytest.raises(ValueError, match=r"mask has shape \(3, 2\); expected \(N, T\)"):
        temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), mask.T)
    with pytest.raises(ValueError, match=r"mask has dtype float64 and values other than 0 "
                                         r"and 1; expected a boolean array"):
        temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), np.full((2, 3), 0.5))
    # 0/1 numbers are accepted as a mask.
    loss01, _ = temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), mask.astype(int))
    assert loss01 == temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), mask)[0]
