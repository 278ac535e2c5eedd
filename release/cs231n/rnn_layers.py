"""Recurrent layers in NumPy: vanilla RNN, LSTM, word embeddings, temporal affine
and temporal softmax loss.

Every layer is a pair ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``. Shape letters used throughout:

- N: minibatch size, T: number of time steps,
- D: input (word vector) dimension, H: hidden dimension,
- V: vocabulary size, M: output dimension of an affine layer.

All layers work in float32 and float64 and return arrays of the input dtype
(when the floating-point arguments of one call mix dtypes, of the wider one, as
NumPy's promotion gives). Bad input raises a ``ValueError`` or ``TypeError`` that
names the argument, what it got and what was expected (cs231n/rnn_validation.py).
"""
import numpy as np

from cs231n.rnn_validation import (check_float, check_indices, check_mask, check_ndim,
                                   check_rnn_sequence, check_rnn_step, check_shape,
                                   check_upstream)


# ---------------------------------------------------------------------------
# Vanilla RNN
# ---------------------------------------------------------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with tanh activation.

    Inputs:
    - x: input at this step, shape (N, D) (or (D,): one input for every sample)
    - prev_h: hidden state of the previous step, shape (N, H)
    - Wx: input-to-hidden weights, shape (D, H)
    - Wh: hidden-to-hidden weights, shape (H, H)
    - b: bias, shape (H,)

    Returns a tuple of:
    - next_h: tanh(x Wx + prev_h Wh + b), shape (N, H)
    - cache: whatever rnn_step_backward needs
    """
    check_rnn_step("rnn_step_forward", x, prev_h, Wx, Wh, b)
    # TODO: compute the next hidden state and keep in `cache` what the backward
    # pass will need (inputs, weights and the tanh output are enough).
    raise NotImplementedError("rnn_step_forward: replace this line with your code")
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one vanilla RNN step.

    Inputs:
    - dnext_h: gradient of the loss with respect to next_h, shape (N, H)
    - cache: from rnn_step_forward

    Returns a tuple of:
    - dx: shape (N, D)
    - dprev_h: shape (N, H)
    - dWx: shape (D, H)
    - dWh: shape (H, H)
    - db: shape (H,)
    """
    check_upstream("rnn_step_backward", "dnext_h", dnext_h, "N, H")
    # TODO: backpropagate through tanh (its derivative can be written with its
    # output), then through the two matrix products and the bias.
    raise NotImplementedError("rnn_step_backward: replace this line with your code")
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla RNN over a whole sequence of T inputs.

    Inputs:
    - x: inputs of every time step, shape (N, T, D)
    - h0: initial hidden state, shape (N, H)
    - Wx: shape (D, H); Wh: shape (H, H); b: shape (H,)

    Returns a tuple of:
    - h: hidden states of every time step, shape (N, T, H)
    - cache: whatever rnn_backward needs
    """
    N, T, D, H = check_rnn_sequence("rnn_forward", x, h0, Wx, Wh, b)
    # TODO: loop over the time steps with rnn_step_forward, feeding each step's
    # hidden state to the next, and collect the hidden states in h.
    raise NotImplementedError("rnn_forward: replace this line with your code")
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass of rnn_forward.

    Inputs:
    - dh: upstream gradient of every hidden state, shape (N, T, H)
    - cache: from rnn_forward

    Returns a tuple of:
    - dx: shape (N, T, D)
    - dh0: shape (N, H)
    - dWx: shape (D, H)
    - dWh: shape (H, H)
    - db: shape (H,)
    """
    check_upstream("rnn_backward", "dh", dh, "N, T, H")
    # TODO: walk the time steps backwards. A hidden state's total gradient is its
    # upstream gradient plus what flows back from the next step.
    raise NotImplementedError("rnn_backward: replace this line with your code")
    return dx, dh0, dWx, dWh, db


# ---------------------------------------------------------------------------
# Word embeddings
# ---------------------------------------------------------------------------

def word_embedding_forward(x, W):
    """Look up the word vectors of a minibatch of word indices.

    Inputs:
    - x: integer array of word indices in [0, V), shape (N, T) (any shape works:
      a single index, or one per sample, (N,))
    - W: word vectors, one row per word, shape (V, D)

    Returns a tuple of:
    - out: out[n, t] = W[x[n, t]], shape (N, T, D) (x.shape + (D,)), dtype of W
    - cache: whatever word_embedding_backward needs
    """
    check_float("word_embedding_forward", W=W)
    check_ndim("word_embedding_forward", "W", W, "V, D")
    check_indices("word_embedding_forward", "x", x, W.shape[0])
    # TODO: select the rows of W given by x (one indexing operation, no loop).
    raise NotImplementedError("word_embedding_forward: replace this line with your code")
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of word_embedding_forward.

    Inputs:
    - dout: upstream gradient, shape (N, T, D) (x.shape + (D,))
    - cache: from word_embedding_forward

    Returns:
    - dW: gradient of the word vectors, shape (V, D). A word that occurs several
      times collects the sum of its upstream gradients.
    """
    check_float("word_embedding_backward", dout=dout)
    # TODO: add every dout[n, t] to row x[n, t] of dW without a Python loop. Beware
    # repeated indices: `dW[x] += dout` counts each word only once.
    raise NotImplementedError("word_embedding_backward: replace this line with your code")
    return dW


# ---------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------

def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + exp(-x)).

    exp is only ever taken of -|x| <= 0, so it cannot overflow, and both tails keep
    full relative precision. Keeps the floating-point dtype of x (other input is
    computed in float64); a scalar input gives a NumPy scalar.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    e = np.abs(x, out=np.empty_like(x))
    np.negative(e, out=e)
    np.exp(e, out=e)                     # e = exp(-|x|), in (0, 1]
    out = np.where(x >= 0, 1, e)         # numerator: 1 for x >= 0, exp(x) for x < 0
    e += 1
    out /= e
    return out if out.ndim else out[()]


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.

    The activation vector a = x Wx + prev_h Wh + b has 4H columns: the input gate i,
    forget gate f, output gate o and block input g, in this order (columns [0, H),
    [H, 2H), [2H, 3H), [3H, 4H)). i, f, o are sigmoids of their parts of a, g is a
    tanh. Then next_c = f * prev_c + i * g and next_h = o * tanh(next_c).

    Inputs:
    - x: input at this step, shape (N, D) (or (D,): one input for every sample)
    - prev_h, prev_c: hidden and cell state of the previous step, shape (N, H)
    - Wx: shape (D, 4H); Wh: shape (H, 4H); b: shape (4H,)

    Returns a tuple of:
    - next_h, next_c: shape (N, H)
    - cache: whatever lstm_step_backward needs
    """
    N, D, H = check_rnn_step("lstm_step_forward", x, prev_h, Wx, Wh, b, gates=4,
                              prev_c=prev_c)
    # TODO: compute the activation vector, split it into the four gates (order
    # i, f, o, g), then the next cell and hidden states.
    raise NotImplementedError("lstm_step_forward: replace this line with your code")
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    Inputs:
    - dnext_h, dnext_c: gradients of the next hidden and cell state, shape (N, H)
    - cache: from lstm_step_forward

    Returns a tuple of:
    - dx: shape (N, D)
    - dprev_h, dprev_c: shape (N, H)
    - dWx: shape (D, 4H)
    - dWh: shape (H, 4H)
    - db: shape (4H,)
    """
    check_upstream("lstm_step_backward", "dnext_h", dnext_h, "N, H")
    check_upstream("lstm_step_backward", "dnext_c", dnext_c, "N, H")
    # TODO: the cell state receives gradient both directly (dnext_c) and through
    # next_h. From it get the gradients of the four gates, then of their inputs
    # (the derivatives of sigmoid and tanh can be written with their outputs),
    # then of x, prev_h and the weights.
    raise NotImplementedError("lstm_step_backward: replace this line with your code")
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over a whole sequence of T inputs. The initial cell state is zero.

    Inputs:
    - x: inputs of every time step, shape (N, T, D)
    - h0: initial hidden state, shape (N, H)
    - Wx: shape (D, 4H); Wh: shape (H, 4H); b: shape (4H,)

    Returns a tuple of:
    - h: hidden states of every time step, shape (N, T, H)
    - cache: whatever lstm_backward needs
    """
    N, T, D, H = check_rnn_sequence("lstm_forward", x, h0, Wx, Wh, b, gates=4)
    # TODO: loop over the time steps with lstm_step_forward, starting from h0 and a
    # zero cell state, and collect the hidden states in h.
    raise NotImplementedError("lstm_forward: replace this line with your code")
    return h, cache


def lstm_backward(dh, cache):
    """Backward pass of lstm_forward.

    Inputs:
    - dh: upstream gradient of every hidden state, shape (N, T, H)
    - cache: from lstm_forward

    Returns a tuple of:
    - dx: shape (N, T, D)
    - dh0: shape (N, H)
    - dWx: shape (D, 4H)
    - dWh: shape (H, 4H)
    - db: shape (4H,)
    """
    check_upstream("lstm_backward", "dh", dh, "N, T, H")
    # TODO: walk the time steps backwards, carrying the gradients of the hidden and
    # cell state from each step to the one before it.
    raise NotImplementedError("lstm_backward: replace this line with your code")
    return dx, dh0, dWx, dWh, db


# ---------------------------------------------------------------------------
# Temporal affine layer and softmax loss (provided)
# ---------------------------------------------------------------------------

def temporal_affine_forward(x, w, b):
    """Apply one affine layer to the vector of every time step.

    Inputs:
    - x: shape (N, T, D)
    - w: shape (D, M)
    - b: shape (M,)

    Returns a tuple of:
    - out: out[n, t] = x[n, t] w + b, shape (N, T, M)
    - cache: for temporal_affine_backward
    """
    func = "temporal_affine_forward"
    check_float(func, x=x, w=w, b=b)
    check_ndim(func, "x", x, "N, T, D")
    check_ndim(func, "w", w, "D, M")
    (N, T, D), M = x.shape, w.shape[1]
    check_shape(func, "w", w, "D, M", (D, M))
    check_shape(func, "b", b, "M", (M,))
    out = (x.reshape(N * T, D) @ w).reshape(N, T, M) + b
    cache = (x, w)
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward pass of temporal_affine_forward.

    Inputs:
    - dout: upstream gradient, shape (N, T, M)
    - cache: from temporal_affine_forward

    Returns a tuple of:
    - dx: shape (N, T, D)
    - dw: shape (D, M)
    - db: shape (M,)
    """
    func = "temporal_affine_backward"
    check_upstream(func, "dout", dout, "N, T, M")
    x, w = cache
    (N, T, D), M = x.shape, w.shape[1]
    check_shape(func, "dout", dout, "N, T, M", (N, T, M))
    dout2 = dout.reshape(N * T, M)
    dx = (dout2 @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout2
    db = dout2.sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy loss over a minibatch of sequences.

    At every time step the scores x[n, t] over a vocabulary of V words are compared
    with the correct word y[n, t]. Steps whose mask is False (e.g. padding after the
    end of a caption) contribute nothing. The loss is summed over time and averaged
    over the minibatch, i.e. divided by N (not by the number of unmasked steps).

    Inputs:
    - x: scores, shape (N, T, V), float32 or float64
    - y: correct word indices in [0, V), integer array of shape (N, T)
    - mask: boolean array of shape (N, T) (0/1 numbers are accepted too)
    - verbose: if True, print the shapes involved

    Returns a tuple of:
    - loss: scalar of the dtype of x
    - dx: gradient of the loss with respect to x, shape (N, T, V)
    """
    func = "temporal_softmax_loss"
    check_float(func, x=x)
    check_ndim(func, "x", x, "N, T, V")
    N, T, V = x.shape
    check_indices(func, "y", y, V, "N, T")
    check_shape(func, "y", y, "N, T", (N, T))
    mask = check_mask(func, mask, (N, T))

    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    rows = np.arange(N * T)

    # Log-softmax via the log-sum-exp trick: shifting by the row maximum keeps exp
    # from overflowing and log from seeing 0.
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    log_p_correct = shifted[rows, y_flat] - np.log(sum_exp)
    loss = -np.sum(log_p_correct, where=mask_flat) / N

    dx_flat = exp / sum_exp[:, None]        # softmax probabilities
    dx_flat[rows, y_flat] -= 1
    dx_flat *= mask_flat[:, None]
    dx_flat /= N

    if verbose:
        print(f"{func}: x {x.shape}, y {y.shape}, mask {mask.shape} "
              f"({int(mask_flat.sum())} unmasked), dx {dx_flat.shape} -> {(N, T, V)}")

    return loss, dx_flat.reshape(N, T, V)


# ---------------------------------------------------------------------------
# Fully connected layer (provided)
# ---------------------------------------------------------------------------

def affine_forward(x, w, b):
    """Fully connected layer: flattens every sample and applies out = x w + b.

    Inputs:
    - x: shape (N, d_1, ..., d_k), with D = d_1 * ... * d_k
    - w: shape (D, M)
    - b: shape (M,)

    Returns a tuple of:
    - out: shape (N, M)
    - cache: for affine_backward
    """
    func = "affine_forward"
    check_float(func, x=x, w=w, b=b)
    if x.ndim < 1:
        raise ValueError(f"{func}: x has shape {x.shape}; expected (N, d_1, ..., d_k)")
    check_ndim(func, "w", w, "D, M")
    N, M = x.shape[0], w.shape[1]
    D = int(np.prod(x.shape[1:]))
    check_shape(func, "w", w, "D, M", (D, M))
    check_shape(func, "b", b, "M", (M,))
    out = x.reshape(N, D) @ w + b
    cache = (x, w)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs:
    - dout: upstream gradient, shape (N, M)
    - cache: from affine_forward

    Returns a tuple of:
    - dx: shape (N, d_1, ..., d_k)
    - dw: shape (D, M)
    - db: shape (M,)
    """
    func = "affine_backward"
    check_upstream(func, "dout", dout, "N, M")
    x, w = cache
    N, M = x.shape[0], w.shape[1]
    check_shape(func, "dout", dout, "N, M", (N, M))
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
