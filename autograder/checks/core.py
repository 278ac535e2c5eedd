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
  reference's and returns a list of ``Criterion`` results; each part carries a share
  of the check's points, so a check with parts gives partial credit.

Only ``inputs`` and ``run`` ever execute next to student code, and ``run`` hands
back raw arrays only: what the code under test computed on the inputs (results,
parameters, trajectories), never a fact about it (a count, a class, a setting
read off an object), since code that ran before can forge any such report. Every
fact is derived by ``score`` on the trusted side.

Each check declares the schema of its outputs (``outputs``, a dict of ``Spec``;
``output_specs`` resolves it against the inputs). ``check_outputs`` holds the
outputs to it before any trusted code reads a value, and ``score_within`` runs
that, then ``score`` under a time budget (assignment.toml's
``[limits] score_wall_s``).
Points come from assignment/assignment.toml, never from here.
"""
import dataclasses
import math
import re
import threading
import traceback

import numpy as np

REGISTRY = {}


@dataclasses.dataclass
class Criterion:
    """One scored aspect of a check: ``ok`` earns ``weight`` of the check's share.

    ``needs``: labels of the parts whose value this part qualifies ("input left
    untouched" qualifies the saliency map); it earns nothing unless they pass, so
    a property that a constant output also has never scores on its own.
    ``fatal``: a failing fatal part (a degenerate output) zeroes the whole check.
    """

    label: str
    ok: bool
    detail: str = ""
    weight: float = 1.0
    needs: tuple = ()
    fatal: bool = False


def weighted(part: Criterion, weight: float) -> Criterion:
    """``part`` counting ``weight`` times (a comparison that carries more of the check)."""
    return dataclasses.replace(part, weight=weight)


@dataclasses.dataclass
class Result:
    """The scored outcome of one check (points filled in from the assignment)."""

    name: str
    fraction: float
    message: str  # what was measured: the numbers, or the error
    parts: list = dataclasses.field(default_factory=list)
    error: str = ""
    hint: str = ""  # the known mistake the outputs match (diagnosis.explain)
    fix_first: list = dataclasses.field(default_factory=list)  # failed narrower checks (diagnosis.fix_first)
    grader_fault: bool = False  # the trusted side failed (``score_within``): never the student's doing

    def points(self, max_points):
        return round(self.fraction * max_points, 4)


class Check:
    """Base class: subclasses set ``name``, ``modules`` and ``outputs`` and implement the steps."""

    name = None
    modules = ()  # short module names the run needs, e.g. ("rnn_layers",)
    seed_offset = 0  # varies hidden inputs between checks that share a seed
    outputs = None  # {output key: Spec}: the schema of what ``run`` returns

    def output_specs(self, inputs):
        """{output key: Spec} for these inputs (override when the keys depend on them)."""
        return dict(self.outputs)

    def dims(self, inputs):
        """{name: int} sizes that ``Spec`` shapes may name, beside the inputs' own (trusted side)."""
        return {}

    def prepare(self, inputs):
        """Trusted-side work done once per hidden inputs, with the reference lock held
        (``local.prepared``): e.g. building a reference model that ``score`` copies."""

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


def rel_error(x, y, floor=1e-8):
    """Maximum relative error, the measure the notebooks print.

    ``floor`` bounds the denominator from below: 1e-8 as in the notebooks; the
    float32 measure raises it to a share of the array's scale (see ``Tol``).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))))


@dataclasses.dataclass(frozen=True)
class Tol:
    """A tolerance per precision: the bar a result is held to follows its dtype.

    ``f64`` is the bar for float64 results. ``f32`` (default ``F32_TOL``) is the
    bar for float32 (and float16) results, measured with the denominator floored
    at ``F32_FLOOR`` times the largest expected magnitude: float32 carries about
    7 significant digits of the array's scale, so an entry that cancels to near
    zero keeps only an absolute accuracy near the scale's, and the elementwise
    relative error of such an entry says nothing about the code. Bugs (a wrong
    term, a missing factor) move results by O(1) of that scale, far above both
    bars. docs/NOTEBOOKS.md, "Tolerances", says how a check picks its numbers.
    """

    f64: float
    f32: float = None

    def bar(self, dtype):
        """(tolerance, denominator floor scale) for a result of ``dtype``."""
        if np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8:
            return (self.f32 if self.f32 is not None else F32_TOL), F32_FLOOR
        return self.f64, 0.0


F32_TOL = 1e-4  # about 1000 float32 ulps: accumulated rounding of a few hundred operations
F32_FLOOR = 1e-3  # float32 entries are judged relative to at least 1e-3 of the array's scale


def as_tol(tol):
    return tol if isinstance(tol, Tol) else Tol(float(tol))


def compare_arrays(label, got, expected, tol):
    """A Criterion for one output array: shape, dtype family, finiteness, then rel error.

    ``tol`` is a number (the float64 bar; float32 results get ``F32_TOL``) or a
    ``Tol``. The bar follows the dtype of the student's result.
    """
    if got is None:
        return Criterion(label, False, f"{label}: no value was returned")
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        return Criterion(label, False, f"{label}: shape {got.shape}, expected {expected.shape}")
    if got.dtype.kind not in "fiub" or (expected.dtype.kind == "f" and got.dtype.kind != "f"):
        return Criterion(label, False, f"{label}: dtype {got.dtype}, expected {expected.dtype}")
    if not np.all(np.isfinite(got.astype(np.float64))):
        return Criterion(label, False, f"{label}: contains NaN or inf")
    bar, floor_scale = as_tol(tol).bar(got.dtype)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = rel_error(got, expected, floor=max(1e-8, floor_scale * scale))
    if not err <= bar:  # NaN (an expected value that is not finite) never passes
        return Criterion(label, False, f"{label}: relative error {err:.2e} exceeds {bar:.0e}")
    return Criterion(label, True, f"{label}: relative error {err:.2e}")


def degenerate_reason(value, unchanged=()):
    """Why ``value`` is a degenerate output, or "" when it is not.

    Degenerate: no value, NaN or inf, all zeros, one constant repeated (arrays of
    more than one element), or equal to one of ``unchanged`` (the untouched input).
    Such outputs earn nothing on any part of a check (see ``not_degenerate``).
    """
    if value is None:
        return "no value was returned"
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return f"dtype {array.dtype} is not numeric"
    if array.size and not np.all(np.isfinite(array.astype(np.float64))):
        return "it contains NaN or inf"
    if array.size and not np.any(array):
        return "it is all zeros"
    if array.size > 1 and np.all(array == array.flat[0]):
        return f"every entry equals {array.flat[0]!r}"
    for other in unchanged:
        other = np.asarray(other)
        if other.shape == array.shape and np.array_equal(other.astype(np.float64), array.astype(np.float64)):
            return "it is the unchanged input"
    return ""


def not_degenerate(label, value, unchanged=()):
    """A fatal Criterion: fails, zeroing the whole check, when ``value`` is degenerate."""
    reason = degenerate_reason(value, unchanged)
    return Criterion(f"{label} not degenerate", not reason,
                f"{label}: {reason}, which earns no points" if reason else "", weight=0.0, fatal=True)


def apply_gates(parts):
    """Parts after ``needs`` and ``fatal``: a part whose needed parts failed, and
    every part once a fatal part failed, earns nothing (with the reason)."""
    failed = {p.label for p in parts if not p.ok}
    fatal = [p for p in parts if p.fatal and not p.ok]
    gated = []
    for p in parts:
        if p.ok and fatal:
            p = dataclasses.replace(p, ok=False, detail=f"{p.label}: not credited, the output is degenerate")
        elif p.ok and failed.intersection(p.needs):
            missing = ", ".join(sorted(failed.intersection(p.needs)))
            p = dataclasses.replace(p, ok=False, detail=f"{p.label}: not credited until {missing} is right")
        gated.append(p)
    return gated


def score_parts(name, parts):
    """Fold parts into a Result with a message a student can act on.

    Gates first (``apply_gates``): the message names the failures that decide,
    not the parts that were only withheld because of them.
    """
    own_failures = [p for p in parts if not p.ok]
    parts = apply_gates(parts)
    total = sum(p.weight for p in parts) or 1.0
    fraction = sum(p.weight for p in parts if p.ok) / total
    fatal = [p.detail for p in own_failures if p.fatal]
    if fatal:
        fraction = 0.0
    failed = fatal or [p.detail for p in own_failures]
    message = "passed" if not failed else "; ".join(failed)
    return Result(name=name, fraction=fraction, message=message, parts=parts)


def last_line(text):
    """The last line of an error's text (its exception), or "no output"."""
    return text.strip().splitlines()[-1] if text.strip() else "no output"


def error_result(name, error_text):
    """A Result for a check whose student run raised or was stopped."""
    return Result(name=name, fraction=0.0, message=f"your code raised: {last_line(error_text)}", error=error_text)


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


# --------------------------------------------------------------------------- output schemas

FAMILIES = {"float": "f", "int": "iu", "bool": "b"}  # dtype family -> numpy dtype kinds
DEFAULT_MAX_SIZE = 100_000  # elements of an output whose shape has free dimensions
_SHAPE_OF = re.compile(r"^(\w+)\.shape\[(-?\d+)\]$")


class SchemaError(ValueError):
    """Outputs that do not fit their check's declared schema (the message is for the student)."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """The declared form of one output of a check.

    ``kind``: "float", "int" or "bool", or a tuple of them (integer-valued
    floats are as good as ints for some outputs). ``shape``: a tuple whose
    entries are an int, ``None`` (any length), the name of a size (a 0-d integer
    input, or a key of ``Check.dims``) or "key.shape[i]" (dimension i of input
    ``key``); ``None`` for any shape. ``like``: the shape of input ``like``.
    ``max_size``: most elements allowed (default: the shape's size when it is
    fixed, else ``DEFAULT_MAX_SIZE``). ``optional``: the output may be absent.
    """

    kind: object
    shape: tuple = None
    like: str = None
    max_size: int = None
    optional: bool = False

    def families(self):
        kinds = (self.kind,) if isinstance(self.kind, str) else tuple(self.kind)
        unknown = [k for k in kinds if k not in FAMILIES]
        if unknown or not kinds:
            raise ValueError(f"unknown dtype family {unknown or kinds}")
        return kinds

    def resolve(self, inputs, dims):
        """(families, shape with None for free entries or None for any, max elements)."""
        shape = np.shape(inputs[self.like]) if self.like is not None else self.shape
        if shape is not None:
            shape = tuple(_size(entry, inputs, dims) for entry in shape)
        fixed = shape is not None and None not in shape
        limit = self.max_size if self.max_size is not None else (
            math.prod(shape) if fixed else DEFAULT_MAX_SIZE)
        return self.families(), shape, int(limit)


def _size(entry, inputs, dims):
    """One shape entry resolved to an int (or None: any length)."""
    if entry is None or isinstance(entry, (int, np.integer)):
        return None if entry is None else int(entry)
    match = _SHAPE_OF.match(entry)
    if match:
        return int(np.shape(inputs[match.group(1)])[int(match.group(2))])
    if entry in dims:
        return int(dims[entry])
    value = np.asarray(inputs[entry])
    if value.ndim != 0 or value.dtype.kind not in "iu":
        raise ValueError(f"shape entry {entry!r} is not a size")
    return int(value)


def show_shape(shape):
    """A shape as a student reads it: (4, 17), (4, any), ()."""
    if shape is None:
        return "any shape"
    text = ", ".join("any" if n is None else str(n) for n in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


def _fits(shape, wanted):
    return wanted is None or (len(shape) == len(wanted) and all(w is None or s == w for s, w in zip(shape, wanted)))


def check_outputs(check, got, inputs):
    """Raise ``SchemaError`` unless ``got`` fits ``check``'s declared outputs for ``inputs``.

    Looks at keys, shapes and dtypes only, never at values, so it takes the
    same short time whatever the arrays hold: missing or extra keys, a value
    that is not an array, a wrong shape, too many elements, a dtype outside
    the declared family.
    """
    specs = check.output_specs(inputs)
    if not isinstance(got, dict):
        raise SchemaError(f"the check's outputs are a {type(got).__name__}, not a dict of arrays")
    extra = sorted(str(k) for k in set(got) - set(specs))
    if extra:
        raise SchemaError(f"unexpected output {extra[0][:60]!r} (this check returns {', '.join(sorted(specs))})")
    dims = check.dims(inputs)
    for key, spec in specs.items():
        if key not in got:
            if spec.optional:
                continue
            raise SchemaError(f"output {key!r} is missing")
        _check_one(key, got[key], *spec.resolve(inputs, dims))


def _check_one(key, value, families, shape, limit):
    if not isinstance(value, np.ndarray):
        raise SchemaError(f"output {key!r} is a {type(value).__name__}, not a numpy array")
    if not _fits(value.shape, shape):
        raise SchemaError(f"output {key!r} has shape {show_shape(value.shape)}, expected {show_shape(shape)}")
    if value.size > limit:
        raise SchemaError(f"output {key!r} has {value.size} elements, more than the {limit} allowed")
    if not any(value.dtype.kind in FAMILIES[f] for f in families):
        raise SchemaError(f"output {key!r} has dtype {value.dtype}, expected {' or '.join(families)}")


def score_within(check, got, expected, inputs, budget_s):
    """The scored Result of ``got``: schema first (``check_outputs``), then
    ``check.score`` in a worker thread given ``budget_s`` seconds of wall time.

    Never raises: outputs that break the schema, a score that raises on
    outputs the schema let through, and a score that outlasts its budget all give a
    zero-scored Result saying why; a score that raises is the grader's fault
    (``grader_fault``), never reported as the student's code raising (a late worker is left to finish on its own;
    it holds no lock and writes nothing shared). Safe to call from any thread.
    Callers add a known mistake's hint afterwards (``diagnosis.explain``).
    """
    try:
        check_outputs(check, got, inputs)
    except SchemaError as exc:
        return Result(check.name, 0.0, f"not graded: {exc}")
    box = {}

    def work():
        try:
            box["parts"] = check.score(got, expected, inputs)
        except Exception as exc:  # outputs within the schema that the score did not foresee: our bug
            box["error"] = describe_exception(exc)

    worker = threading.Thread(target=work, name=f"score-{check.name}", daemon=True)
    worker.start()
    worker.join(budget_s)
    if worker.is_alive():
        return Result(check.name, 0.0, f"not graded: scoring your outputs took longer than {budget_s:g} s")
    if "error" in box:
        return Result(check.name, 0.0,
                      f"not graded: the grader failed while scoring your outputs ({last_line(box['error'])})",
                      error=box["error"], grader_fault=True)
    return score_parts(check.name, box["parts"])
