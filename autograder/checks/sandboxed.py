"""Running checks with the student's half inside the sandbox (the autograder's path).

The trusted side (this module) draws the hidden inputs, computes the expected
outputs with the reference, and scores. The sandbox sees only the inputs and the
student's staged files; it hands back arrays through ``.grader/io/outputs``,
read here with ``allow_pickle=False``. The grader library is mounted read-only
into the work folder; the instructor's repository, with its solutions, is hidden.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from autograder import sandbox
from autograder.checks import REGISTRY, core
from autograder.checks.local import DEFAULT_SEED
from autograder.checks.local import prepared as inputs_and_expected
from autograder.reference import REFERENCE_ROOT

GRADER_PACKAGE = Path(__file__).resolve().parents[1]  # .../autograder


def prepare_io(workdir, names, seed, check_wall_s):
    """Write order.json and every check's inputs under ``workdir/.grader/io``.

    Returns (io_dir, {name: (inputs, expected)}); expected values stay here.
    """
    io_dir = workdir / ".grader" / "io"
    if io_dir.exists():
        shutil.rmtree(io_dir)
    (io_dir / "inputs").mkdir(parents=True)
    prepared = {}
    for name in names:
        prepared[name] = inputs_and_expected(REGISTRY[name], seed)  # once per batch, not per submission
        np.savez(io_dir / "inputs" / f"{name}.npz", **prepared[name][0])
    (io_dir / "order.json").write_text(json.dumps({"checks": list(names), "check_wall_s": check_wall_s}))
    return io_dir, prepared


def read_result(name, io_dir, inputs, expected, outcome):
    """Score one check from what the sandbox left in ``io_dir/outputs``."""
    out = io_dir / "outputs"
    status_file = out / f"{name}.status"
    status = {}
    if status_file.exists():
        text = status_file.read_text()[:1000]
        status = json.loads(text) if text.startswith("{") else {"state": "unfinished"}
    state = status.get("state")
    if state is None:
        reason = "; ".join(outcome.limit_messages) or "the check runner stopped before this check"
        return core.Result(name, 0.0, f"not run: {reason}")
    if state == "unfinished":
        reason = "; ".join(outcome.limit_messages) or "the process was ended from inside"
        return core.Result(name, 0.0, f"stopped while running: {reason}")
    if state == "timeout":
        return core.Result(name, 0.0, "stopped: your code ran past this check's time limit")
    if state == "killed":
        why = "it ran out of memory" if outcome.memory_exceeded else status.get("info", "")
        return core.Result(name, 0.0, f"stopped: the process was killed ({why})")
    error_file = out / f"{name}.error.txt"
    if error_file.exists():
        return core.error_result(name, error_file.read_text(errors="replace")[-4000:])
    result_file = out / f"{name}.npz"
    if not result_file.exists():
        return core.Result(name, 0.0, f"your code ended the process ({status.get('info')}) "
                                      "before the check could finish")
    try:
        with np.load(result_file, allow_pickle=False) as data:
            got = {k: data[k] for k in data.files}
        parts = REGISTRY[name].score(got, expected, inputs)
    except Exception as exc:  # unreadable or malformed outputs
        return core.error_result(name, core.describe_exception(exc))
    return core.score_parts(name, parts)


def grade_sandboxed(workdir, names, limits, seed=DEFAULT_SEED, hidden=(), allow_unsandboxed=False):
    """Run the checks ``names`` on the student files staged in ``workdir``.

    ``limits`` is an ``autograder.assignment.Limits``; ``hidden`` lists extra
    paths the sandbox must not see (other submissions, the output folder).
    Without bubblewrap this raises SandboxUnavailable unless ``allow_unsandboxed``.
    Returns (results, outcome): a Result per check in order, and the run's Outcome.
    """
    workdir = Path(workdir).resolve()
    io_dir, prepared = prepare_io(workdir, names, seed, limits.check_wall_s)
    use_sandbox = sandbox.use_sandbox(allow_unsandboxed)
    mount = workdir / ".grader" / "autograder"
    if mount.exists():
        shutil.rmtree(mount)
    if use_sandbox:  # an empty mount point; the library is bound read-only onto it
        mount.mkdir(parents=True)
    else:  # explicitly allowed unsandboxed run: a plain copy of the library
        shutil.copytree(GRADER_PACKAGE, mount, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-I", str(mount / "checks" / "sandbox_main.py"), str(io_dir)]
    run_limits = sandbox.Limits.from_assignment(limits, wall_s=limits.checks_wall_s)
    outcome = sandbox.run_sandboxed(
        command, workdir, run_limits, sandbox=use_sandbox,
        hidden=[REFERENCE_ROOT, *hidden], readable=[sys.prefix],
        extra_ro_binds=[(GRADER_PACKAGE, mount)])
    results = [read_result(name, io_dir, *prepared[name], outcome) for name in names]
    return results, outcome
