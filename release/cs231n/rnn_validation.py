"""Input validation for cs231n/rnn_layers.py (provided; students never edit this file).

The layers call these helpers before their solution regions, so a wrong argument
fails with a message that names the argument, what it got and what was expected,
instead of a broadcasting traceback from deep inside a computation.

The helpers only reject what the layers cannot compute. They accept everything
the canonical layers accept in practice:

- mixed floating-point dtypes in one call (a float64 word embedding next to a
  float32 hidden state, as a float32 model produces once an update rule has
  promoted one of its parameters); NumPy's promotion rules decide the result;
- one input vector shared by the whole minibatch in a step function, ``x`` of
  shape (D,) next to ``prev_h`` of shape (N, H) (``W_embed[start]`` for a scalar
  ``<START>`` index when sampling);
- word indices of any shape in ``word_embedding_forward`` (a scalar, (N,) or
  (N, T)): the output has one more axis, of the word-vector size.
"""
import numpy as np


def check_float(func, **arrays):
    """Check that every argument is a floating-point ndarray (dtypes may differ)."""
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{func}: {name} must be a NumPy array; got {type(a).__name__}")
        if a.dtype.kind != "f":  # (np.issubdtype says the same, much more slowly)
            raise TypeError(f"{func}: {name} has dtype {a.dtype}; expected a floating-point "
                            "dtype (float32 or float64)")


def check_ndim(func, name, a, labels):
    """Check that `a` has one axis per comma-separated name in `labels`, e.g. 'N, T, D'."""
    ndim = len(labels.split(","))
    if a.ndim != ndim:
        raise ValueError(f"{func}: {name} has shape {a.shape}; expected {ndim} "
                         f"dimensions ({labels})")


def check_shape(func, name, a, labels, expected):
    """Check that `a` has exactly the shape `expected`, whose axes are named `labels`."""
    expected = tuple(int(e) for e in expected)
    if a.shape != expected:
        raise ValueError(f"{func}: {name} has shape {a.shape}; expected ({labels}) = {expected}")


def check_indices(func, name, x, V, labels=None):
    """Check that `x` holds integer indices in [0, V) (with the axes `labels`, if given)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a NumPy array; got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{func}: {name} has dtype {x.dtype}; expected an integer dtype "
                        f"(indices in [0, {V}))")
    if labels is not None:
        check_ndim(func, name, x, labels)
    if x.size and (x.min() < 0 or x.max() >= V):
        raise ValueError(f"{func}: {name} has values in [{x.min()}, {x.max()}]; expected "
                         f"indices in [0, V) = [0, {V})")


def _check_rows(func, name, a, labels):
    """A step input: shape (N, <labels>) or, shared by the minibatch, (<labels>,)."""
    if a.ndim not in (1, 2):
        raise ValueError(f"{func}: {name} has shape {a.shape}; expected 2 dimensions "
                         f"(N, {labels})")


def check_rnn_step(func, x, prev_h, Wx, Wh, b, gates=1, prev_c=None):
    """Validate the arguments of a recurrent step; return (N, D, H)."""
    arrays = dict(x=x, prev_h=prev_h)
    if prev_c is not None:
        arrays["prev_c"] = prev_c
    check_float(func, **arrays, Wx=Wx, Wh=Wh, b=b)
    _check_rows(func, "x", x, "D")
    _check_rows(func, "prev_h", prev_h, "H")
    D, H = x.shape[-1], prev_h.shape[-1]
    rows = [a.shape[0] for a in (x, prev_h) if a.ndim == 2]
    N = rows[0] if rows else 1
    if len(rows) == 2 and rows[0] != rows[1]:
        check_shape(func, "prev_h", prev_h, "N, H", (N, H))
    if prev_c is not None:
        _check_rows(func, "prev_c", prev_c, "H")
        if prev_c.shape[-1] != H or (prev_c.ndim == 2 and prev_c.shape[0] != N):
            check_shape(func, "prev_c", prev_c, "N, H", (N, H))
    G = "4H" if gates == 4 else "H"
    check_shape(func, "Wx", Wx, f"D, {G}", (D, gates * H))
    check_shape(func, "Wh", Wh, f"H, {G}", (H, gates * H))
    check_shape(func, "b", b, G, (gates * H,))
    return N, D, H


def check_rnn_sequence(func, x, h0, Wx, Wh, b, gates=1):
    """Validate the arguments of rnn_forward / lstm_forward; return (N, T, D, H)."""
    check_float(func, x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    check_ndim(func, "x", x, "N, T, D")
    check_ndim(func, "h0", h0, "N, H")
    (N, T, D), H = x.shape, h0.shape[1]
    if T < 1:
        raise ValueError(f"{func}: x has shape {x.shape}; expected (N, T, D) with at least "
                         "one time step (T >= 1)")
    check_shape(func, "h0", h0, "N, H", (N, H))
    G = "4H" if gates == 4 else "H"
    check_shape(func, "Wx", Wx, f"D, {G}", (D, gates * H))
    check_shape(func, "Wh", Wh, f"H, {G}", (H, gates * H))
    check_shape(func, "b", b, G, (gates * H,))
    return N, T, D, H


def check_upstream(func, name, dout, labels):
    """Validate an upstream gradient: a floating-point ndarray with the axes `labels`."""
    check_float(func, **{name: dout})
    check_ndim(func, name, dout, labels)


def check_mask(func, mask, shape):
    """A boolean (N, T) mask, or 0/1 numbers; returns it as booleans."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{func}: mask must be a NumPy array; got {type(mask).__name__}")
    check_shape(func, "mask", mask, "N, T", shape)
    if mask.dtype != bool:
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"{func}: mask has dtype {mask.dtype} and values other than "
                             "0 and 1; expected a boolean array")
        mask = mask.astype(bool)
    return mask
