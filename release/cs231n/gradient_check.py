"""Numerical gradients by centred differences, for checking analytic gradients.

Both functions perturb the input array ``x`` IN PLACE, one entry at a time, call
``f`` and put the entry back before moving on; ``x`` holds its original values
again when they return. This lets callers pass functions that ignore their
argument and read ``x`` through a closure, e.g.

    f = lambda _: model.loss(features, captions)[0]
    grad = eval_numerical_gradient(f, model.params['Wx'])

Use float64 arrays: in float32 the step h is near the rounding error.
"""
import numpy as np


def rel_error(x, y):
    """Largest relative error between two arrays (or scalars):
    max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _check_array(func, x):
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{func}: x must be a floating-point NumPy array that f reads; "
                        f"got {got}")


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function f at x.

    Inputs:
    - f: function of one argument (x) that returns a scalar
    - x: floating-point array at which to evaluate the gradient; modified in place
      during the computation and restored before returning
    - verbose: if True, print every index with its gradient entry
    - h: half the width of the centred difference

    Returns:
    - grad: array like x, grad[ix] = (f(x + h e_ix) - f(x - h e_ix)) / (2h)
    """
    _check_array("eval_numerical_gradient", x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        saved = x[ix]
        x[ix] = saved + h
        f_plus = f(x)
        x[ix] = saved - h
        f_minus = f(x)
        x[ix] = saved
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient, through an upstream gradient, of an array-valued f at x.

    Inputs:
    - f: function of one argument (x) that returns an array y
    - x: floating-point array; modified in place during the computation and
      restored before returning
    - df: upstream gradient dL/dy, an array of the shape of f(x)
    - h: half the width of the centred difference

    Returns:
    - grad: array like x, grad[ix] = sum(df * (f(x + h e_ix) - f(x - h e_ix))) / (2h),
      i.e. the gradient of L = sum(df * f(x)) with respect to x
    """
    _check_array("eval_numerical_gradient_array", x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        saved = x[ix]
        x[ix] = saved + h
        y_plus = np.array(f(x), copy=True)  # f may return a view of its own buffer
        x[ix] = saved - h
        y_minus = np.array(f(x), copy=True)
        x[ix] = saved
        grad[ix] = np.sum((y_plus - y_minus) * df) / (2 * h)
    return grad
