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

from autograder.checks import diagnosis
from autograder.sandbox import bwrap as sandbox
from autograder.checks import REGISTRY, core
from autograder.checks.local import DEFAULT_SEED
from autograder.checks.local import prepared as inputs_and_expected
from autograder.sandbox.inside.seal import SEALED_SUFFIXES, file_digest, read_seals
from autograder.reference import REFERENCE_ROOT
from autograder.grading.staging import mount_grader_library



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


def _read_text(path, limit):
    """At most ``limit`` characters of a file the sandbox wrote (regular files only)."""
    if not path.is_file() or path.is_symlink():
        return None
    with open(path, "rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def load_outputs(path, max_bytes):
    """The arrays of an outputs ``.npz`` written in the sandbox, read defensively.

    The file comes from student code, so before anything is read: a plain zip of
    ``.npy`` members, each member's declared size and its array header's size
    within ``max_bytes`` in total, no compression (np.savez never compresses, so
    there is nothing to inflate), numbers only (``allow_pickle=False``).
    Raises ValueError naming what is wrong.
    """
    import io
    import zipfile

    from numpy.lib import format as npy_format

    if not path.is_file() or path.is_symlink():
        raise ValueError("the check's output is not a plain file")
    if path.stat().st_size > max_bytes:
        raise ValueError(f"the check's output is larger than {max_bytes >> 20} MB")
    got, total = {}, 0
    try:
        with zipfile.ZipFile(path) as archive:
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


def read_result(name, io_dir, inputs, expected, outcome, max_output_bytes=64 << 20, seal=None,
                seed=DEFAULT_SEED):
    """Score one check from what the sandbox left in ``io_dir/outputs``.

    ``seal`` is the runner's word on the check once it had ended (checks/seal.py):
    only a sealed check can earn points, and only with outputs that still match
    the seal. Everything in ``outputs`` was writable by student code: files are
    read as plain files with size caps, and anything malformed scores 0 with a
    reason, never an error of the grader. A failed check whose outputs match a
    known mistake's says so (``autograder.checks.diagnosis``; ``seed`` keys its cache).
    """
    out = io_dir / "outputs"
    if seal is None:  # the runner never finished this check: say how far it got
        started = _read_text(out / f"{name}.status", 1000) is not None
        reason = "; ".join(outcome.limit_messages) or (
            "the process was ended from inside" if started else "the check runner stopped before this check")
        return core.Result(name, 0.0, f"stopped while running: {reason}" if started else f"not run: {reason}")
    state, info = seal.get("state"), str(seal.get("info", ""))[:200]
    if state == "timeout":
        return core.Result(name, 0.0, "stopped: your code ran past this check's time limit")
    if state == "killed":
        why = "it ran out of memory" if outcome.memory_exceeded else info
        return core.Result(name, 0.0, f"stopped: the process was killed ({why})")
    for suffix, digest in seal["files"].items():
        if suffix in SEALED_SUFFIXES and file_digest(out / f"{name}{suffix}") != digest:
            return core.Result(name, 0.0, "not graded: this check's output was changed after the check "
                                          "had ended (by code that ran later)")
    error = _read_text(out / f"{name}.error.txt", 1 << 20)
    if error is not None:
        return core.error_result(name, error[-4000:])
    result_file = out / f"{name}.npz"
    if not result_file.exists():
        return core.Result(name, 0.0, f"your code ended the process ({info}) "
                                      "before the check could finish")
    try:
        got = load_outputs(result_file, max_output_bytes)
        parts = REGISTRY[name].score(got, expected, inputs)
    except Exception as exc:  # unreadable or malformed outputs
        return core.error_result(name, core.describe_exception(exc))
    return diagnosis.explain(core.score_parts(name, parts), got, inputs, expected, seed)


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
    mount, binds = mount_grader_library(workdir, use_sandbox)
    command = [sys.executable, "-I", str(mount / "sandbox" / "inside" / "check_runner.py"), str(io_dir)]
    if use_sandbox:  # the runner may end every other process it sees after each check
        command.append("--own-pid-namespace")
    run_limits = sandbox.RunLimits.from_assignment(limits, wall_s=limits.checks_wall_s)
    outcome = sandbox.run_sandboxed(
        command, workdir, run_limits, sandbox=use_sandbox,
        hidden=[REFERENCE_ROOT, *hidden], readable=[sys.prefix],
        extra_ro_binds=binds)
    seals = read_seals(outcome.stdout)
    results = [read_result(name, io_dir, *prepared[name], outcome, run_limits.max_file_bytes, seals.get(name), seed)
               for name in names]
    return results, outcome
