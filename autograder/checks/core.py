"""The check library's core: what a check is and how its three halves fit.

A check grades one piece of student code. It has three steps, each a method:

- ``inputs(rng)``: hidden inputs, plain NumPy arrays drawn from ``rng`` (on the
  trusted side; the seed is the grader's secret).
- ``run(cs231n, inputs)``: calls an implementation on the inputs and returns its
  outputs as a dict of plain NumPy arrays. ``cs231n`` is a namespace giving the
  implementation's modules by short name (``cs231n.rnn_layers``...). The same
  method runs the student's code (inside the sandbox, or in a notebook kernel)
  and the reference (on the trusted side).
- ``score(got, expected, inputs)``: compares the student's outputs with the
  reference's and returns a list of ``Part`` results; each part carries a share
  of the check's points, so a check with parts gives partial credit.

Only ``inputs`` and ``run`` ever execute next to student code, and ``run`` hands
back arrays only; expected values and scoring stay on the trusted side.
Points come from assignment/assignment.toml, never from here.
"""
import dataclasses
import traceback

import numpy as np

REGISTRY = {}


@dataclasses.dataclass
class Part:
    """One scored aspect of a check: ``ok`` earns ``weight`` of the check's share."""

    label: str
    ok: bool
    detail: str = ""
    weight: float = 1.0


@dataclasses.dataclass
class Result:
    """The scored outcome of one check (points filled in from the assignment)."""

    name: str
    fraction: float
    message: str
    parts: list = dataclasses.field(default_factory=list)
    error: str = ""

    def points(self, max_points):
        return round(self.fraction * max_points, 4)


class Check:
    """Base class: subclasses set ``name`` and ``modules`` and implement the steps."""

    name = None
    modules = ()  # short module names the run needs, e.g. ("rnn_layers",)
    seed_offset = 0  # varies hidden inputs between checks that share a seed

    def inputs(self, rng):
        raise NotImplementedError

    def run(self, cs231n, inputs):
        raise NotImplementedError

    def score(self, got, expected, inputs):
        raise NotImplementedError


def register(cls):
    """Class decorator: add a check to the registry under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"two checks are named {cls.name!r}")
    REGISTRY[cls.name] = cls()
    return cls


def rel_error(x, y):
    """Maximum relative error, the measure the notebooks print."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def compare_arrays(label, got, expected, tol):
    """A Part for one output array: shape, dtype family, finiteness, then rel error."""
    if got is None:
        return Part(label, False, f"{label}: no value was returned")
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        return Part(label, False, f"{label}: shape {got.shape}, expected {expected.shape}")
    if got.dtype.kind not in "fiub" or (expected.dtype.kind == "f" and got.dtype.kind != "f"):
        return Part(label, False, f"{label}: dtype {got.dtype}, expected {expected.dtype}")
    if not np.all(np.isfinite(got.astype(np.float64))):
        return Part(label, False, f"{label}: contains NaN or inf")
    err = rel_error(got, expected)
    if err > tol:
        return Part(label, False, f"{label}: relative error {err:.2e} exceeds {tol:.0e}")
    return Part(label, True, f"{label}: relative error {err:.2e}")


def score_parts(name, parts):
    """Fold parts into a Result with a message a student can act on."""
    total = sum(p.weight for p in parts) or 1.0
    fraction = sum(p.weight for p in parts if p.ok) / total
    failed = [p.detail for p in parts if not p.ok]
    message = "passed" if not failed else "; ".join(failed)
    return Result(name=name, fraction=fraction, message=message, parts=parts)


def error_result(name, error_text):
    """A Result for a check whose student run raised or was stopped."""
    last = error_text.strip().splitlines()[-1] if error_text.strip() else "no output"
    return Result(name=name, fraction=0.0, message=f"your code raised: {last}", error=error_text)


def describe_exception(exc):
    """Traceback text for an exception raised by student code (bounded length)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-4000:]


def numpy_output(value, label):
    """The student's value as a NumPy array, or TypeError naming what came back.

    For functions whose contract is NumPy in, NumPy out: a torch tensor, a list
    or None is a wrong type, not something to convert silently.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{label} should be a numpy array, got {type(value).__module__}."
                        f"{type(value).__name__}")
    return value


def torch_output(value, label):
    """A torch tensor result as a NumPy array (detached), or TypeError."""
    if not (hasattr(value, "detach") and hasattr(value, "cpu")):
        raise TypeError(f"{label} should be a torch tensor, got {type(value).__name__}")
    return value.detach().cpu().numpy()


def sanitize_outputs(outputs):
    """Check a run's outputs are a dict of plain numeric NumPy arrays.

    Raises TypeError naming the key otherwise: only numbers leave a check run.
    """
    if not isinstance(outputs, dict):
        raise TypeError(f"a check run must return a dict of arrays, not {type(outputs).__name__}")
    clean = {}
    for key, value in outputs.items():
        if not isinstance(value, (np.ndarray, np.generic, int, float, bool)):
            raise TypeError(f"output {key!r} is a {type(value).__name__}, not a numpy array")
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"output {key!r} has dtype {array.dtype}; only numbers can leave a check")
        clean[key] = array
    return clean
