"""Running checks with the student's half inside the sandbox (the autograder's path).

The trusted side (this module) draws the hidden inputs, computes the expected
outputs with the reference, and scores. The sandbox sees only the inputs and the
student's staged files, in the lane's own workspace; it hands back arrays
through ``.grader/io/outputs``, read here only through ``Workspace.read_bytes``
(no links, no FIFOs, size-capped), only when they match the runner's seal, and
parsed with ``allow_pickle=False``. The instructor's repository, with its
solutions, is not in the sandbox's view at all.
"""
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from autograder.checks import REGISTRY, core, diagnosis
from autograder.checks.local import DEFAULT_SEED
from autograder.checks.local import prepared as inputs_and_expected
from autograder.sandbox.inside.seal import read_seals
from autograder.sandbox.launcher import Launcher
from autograder.sandbox.limits import Outcome, RunLimits
from autograder.sandbox.workspace import TooLarge, Workspace

IO_DIR = ".grader/io"
INPUTS_DIR = f"{IO_DIR}/inputs"
OUTPUTS_DIR = f"{IO_DIR}/outputs"


def prepare_io(workdir, names, seed: int, check_wall_s: float) -> dict:
    """Write order.json and every check's inputs under ``workdir/.grader/io``.

    Returns {name: (inputs, expected)}; expected values stay here.
    """
    io_dir = Path(workdir) / IO_DIR  # in a fresh workspace: nothing there yet
    (io_dir / "inputs").mkdir(parents=True)
    prepared = {}
    for name in names:
        prepared[name] = inputs_and_expected(REGISTRY[name], seed)  # once per batch, not per submission
        np.savez(io_dir / "inputs" / f"{name}.npz", **prepared[name][0])
    (io_dir / "order.json").write_text(json.dumps({"checks": list(names), "check_wall_s": check_wall_s}))
    return prepared


def _text(workspace, relative, limit):
    """At most ``limit`` bytes of a text file the sandbox wrote, decoded; None when absent."""
    try:
        data = workspace.read_bytes(relative, 1 << 24)
    except TooLarge:
        return "[more than 16 MB of text]"
    return None if data is None else data[:limit].decode("utf-8", errors="replace")


def load_outputs(data: bytes, max_bytes: int) -> dict:
    """The arrays of an outputs ``.npz`` (its bytes) written in the sandbox, read defensively.

    The file comes from student code, so before anything is read: a plain zip of
    ``.npy`` members, each member's declared size and its array header's size
    within ``max_bytes`` in total, no compression (np.savez never compresses, so
    there is nothing to inflate), numbers only (``allow_pickle=False``).
    Raises ValueError naming what is wrong.
    """
    import zipfile

    from numpy.lib import format as npy_format

    if len(data) > max_bytes:
        raise ValueError(f"the check's output is larger than {max_bytes >> 20} MB")
    got, total = {}, 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > 256:
                raise ValueError(f"the check's output holds {len(members)} arrays")
            for info in members:
                total += info.file_size
                if info.compress_type != zipfile.ZIP_STORED or total > max_bytes:
                    raise ValueError("the check's output is compressed or too large")
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"unexpected member {info.filename!r} in the check's output")
                data = archive.read(info)  # zipfile stops at the declared size and checks the CRC
                stream = io.BytesIO(data)
                version = npy_format.read_magic(stream)
                readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
                if version not in readers:
                    raise ValueError(f"array {info.filename!r} has an unsupported .npy version {version}")
                shape, _, dtype = readers[version](stream)
                if dtype.hasobject:
                    raise ValueError("the check's output holds Python objects")
                count = 1
                for n in shape:
                    count *= n
                if count * dtype.itemsize > len(data):
                    raise ValueError(f"array {info.filename!r} declares more data than it holds")
                stream.seek(0)
                got[info.filename[:-4]] = npy_format.read_array(stream, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as exc:
        raise ValueError(f"the check's output cannot be read ({exc})") from None
    return got


def _sealed_bytes(workspace, name, suffix, seal, max_bytes):
    """(bytes or None, changed?) of an output file, believed only when it matches the seal."""
    data = workspace.read_bytes(f"{OUTPUTS_DIR}/{name}{suffix}", max_bytes)
    digest = None if data is None else hashlib.sha256(data).hexdigest()
    return data, digest != seal["files"].get(suffix)


def read_result(name: str, workspace: Workspace, inputs: dict, expected: dict, outcome,
                max_output_bytes: int = 64 << 20, seal=None, seed: int = DEFAULT_SEED,
                score_budget_s: float = 20.0) -> core.Result:
    """Score one check from what the sandbox left in the workspace's outputs.

    ``seal`` is the runner's word on the check once it had ended
    (sandbox/inside/seal.py): only a sealed check can earn points, and only with
    outputs that still match the seal (each file read once, its bytes hashed and
    parsed). Anything malformed scores 0 with a reason, never an error of the
    grader. A failed check whose outputs match a known mistake's says so
    (``autograder.checks.diagnosis``; ``seed`` keys its cache). The outputs meet
    the check's declared schema before any trusted code reads them, and scoring
    gets at most ``score_budget_s`` seconds (``core.score_within``).
    """
    if seal is None:  # the runner never finished this check: say how far it got
        started = _text(workspace, f"{OUTPUTS_DIR}/{name}.status", 1000) is not None
        reason = "; ".join(outcome.limit_messages) or (
            "the process was ended from inside" if started else "the check runner stopped before this check")
        return core.Result(name, 0.0, f"stopped while running: {reason}" if started else f"not run: {reason}")
    state, info = seal.get("state"), str(seal.get("info", ""))[:200]
    if state == "timeout":
        seconds = seal.get("seconds")
        after = f" (ended after {seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
        return core.Result(name, 0.0, f"stopped: your code ran past this check's time limit{after}")
    if state == "killed":
        why = "it ran out of memory" if outcome.memory_exceeded else info
        return core.Result(name, 0.0, f"stopped: the process was killed ({why})")
    try:
        error, error_changed = _sealed_bytes(workspace, name, ".error.txt", seal, 1 << 20)
        result, result_changed = _sealed_bytes(workspace, name, ".npz", seal, max_output_bytes)
    except TooLarge:
        return core.Result(name, 0.0, f"not graded: this check's output is larger than {max_output_bytes >> 20} MB")
    if error_changed or result_changed:
        return core.Result(name, 0.0, "not graded: this check's output was changed after the check "
                                      "had ended (by code that ran later)")
    if error is not None and not error.strip():  # opened, never written: the disk was full then
        why = "; ".join(outcome.limit_messages) or "was the disk full?"
        return core.Result(name, 0.0, f"your code raised an error whose message could not be written ({why})")
    if error is not None:
        return core.error_result(name, error.decode("utf-8", "replace")[-4000:])
    if result is None:
        return core.Result(name, 0.0, f"your code ended the process ({info}) before the check could finish")
    try:
        got = load_outputs(result, max_output_bytes)
    except ValueError as exc:  # unreadable or malformed outputs
        return core.error_result(name, core.describe_exception(exc))
    scored = core.score_within(REGISTRY[name], got, expected, inputs, score_budget_s)
    return diagnosis.explain(scored, got, inputs, expected, seed)


def grade_sandboxed(workspace: Workspace, names, limits, launcher: Launcher,
                    seed: int = DEFAULT_SEED) -> tuple[list, Outcome]:
    """Run the checks ``names`` on the student files staged in ``workspace``.

    ``limits`` is an ``autograder.assignment.Limits``. The workspace must not have
    been handed over yet: the hidden inputs are written here and stay the grader's.
    Returns (results, outcome): a Result per check in order, and the run's Outcome.
    """
    prepared = prepare_io(workspace.path, names, seed, limits.check_wall_s)
    workspace.hand_over(keep=[INPUTS_DIR])
    args = [IO_DIR] + (["--own-pid-namespace"] if launcher.sandboxed else [])
    run_limits = RunLimits.from_assignment(limits, wall_s=limits.checks_wall_s)
    outcome = launcher.run("check_runner", args, workspace, run_limits)
    seals = read_seals(outcome.stdout)
    results = [read_result(name, workspace, *prepared[name], outcome, run_limits.max_file_bytes, seals.get(name),
                           seed, limits.score_wall_s) for name in names]
    return results, outcome
