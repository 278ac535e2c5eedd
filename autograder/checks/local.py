"""Running checks in this process: for notebooks' hidden tests and for tests.

The student's code and the reference both run here (no sandbox): this is the
nbgrader path and the test-suite path. The autograder's own path runs the
student half in the sandbox instead (autograder/grading/hidden_checks.py).
"""
import contextlib
import hashlib
import io
import os
import warnings

import numpy as np

from autograder.checks import check_named, core, diagnosis
from autograder.reference import REFERENCE_LOCK, current_modules, reference_modules

# The grading seed decides the hidden inputs. Instructors keep theirs secret in
# CS231N_GRADER_SEED (or pass --seed); the fallback is public, fine for CI only.
DEFAULT_SEED = int(os.environ.get("CS231N_GRADER_SEED", "20261122"))


def check_seed(name, seed=DEFAULT_SEED):
    """Per-check seed derived from the grading seed and the check's name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def make_inputs(check, seed=DEFAULT_SEED):
    return check.inputs(np.random.default_rng(check_seed(check.name, seed)))


def run_student(check, namespace, inputs):
    """Run ``check`` on an implementation; (outputs, None) or (None, error text)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = core.sanitize_outputs(check.run(namespace, {k: np.copy(v) for k, v in inputs.items()}))
        return outputs, None
    except Exception as exc:  # student code may raise anything
        return None, core.describe_exception(exc)


_prepared = {}


def expected_outputs(check, inputs):
    """The reference's outputs of ``check`` on ``inputs``. What the reference prints (the
    SimCLR training loop prints its loss) is dropped: it would land in the grader's output."""
    with REFERENCE_LOCK, contextlib.redirect_stdout(io.StringIO()):
        outputs, error = run_student(check, reference_modules(check.modules), inputs)
    if error:
        raise RuntimeError(f"the reference failed check {check.name}:\n{error}")
    return outputs


def prepared(check, seed=DEFAULT_SEED):
    """(hidden inputs, expected outputs) of ``check`` for ``seed``, computed once per process.

    ``check.prepare`` runs here too, with the reference lock held, so that
    scoring later never waits for the lock (``core.score_within`` times it).
    """
    with REFERENCE_LOCK:
        key = (check.name, seed)
        if key not in _prepared:
            inputs = make_inputs(check, seed)
            expected = expected_outputs(check, inputs)
            check.prepare(inputs)
            _prepared[key] = (inputs, expected)
        return _prepared[key]


def score_budget():
    """Seconds the trusted scoring of one check may take: assignment.toml's [limits] score_wall_s."""
    from autograder.assignment import load_assignment

    if "score_wall_s" not in _budget:
        _budget["score_wall_s"] = float(load_assignment().limits.score_wall_s)
    return _budget["score_wall_s"]


_budget = {}


def grade(name, student=None, seed=DEFAULT_SEED, budget_s=None):
    """Grade one check in this process; ``student`` defaults to the importable cs231n.

    The outputs are held to the check's schema and scored within ``budget_s``
    seconds (default ``score_budget()``), as the sandboxed grader does.
    """
    check = check_named(name)  # only its module: a NumPy check never imports torch
    inputs, expected = prepared(check, seed)  # run_student and diagnosis work on copies
    try:
        namespace = student if student is not None else current_modules(check.modules)
    except Exception as exc:
        return core.error_result(name, core.describe_exception(exc))
    got, error = run_student(check, namespace, inputs)
    if error:
        return core.error_result(name, error)
    result = core.score_within(check, got, expected, inputs, budget_s if budget_s is not None else score_budget())
    return diagnosis.explain(result, got, inputs, expected, seed)


def notebook_check(name, points=None):
    """Hidden-test entry point: grade ``name``, print why, return points earned.

    nbgrader takes a numeric result of a test cell as partial credit and gives
    zero to a cell that writes to stderr, so everything the student's code
    prints is captured and only our summary is printed, to stdout.
    """
    from autograder.assignment import load_assignment

    specs = load_assignment().checks
    max_points = points if points is not None else specs[name].points
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = grade(name)
    earned = result.points(max_points)
    result.message = diagnosis.public_paths(result.message, [os.getcwd()])
    print(f"[{name}] {earned:g} / {max_points:g} points: {diagnosis.advice(name, {name: result}, specs)}")
    return earned
