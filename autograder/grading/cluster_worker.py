"""The worker's half of grading on a Dask cluster (cluster.py is the client's).

A grading worker is an ordinary ``dask worker`` started with this module as its
preload::

    dask worker tcp://SCHEDULER:8786 --preload autograder.grading.cluster_worker

At start, before it registers with the scheduler, ``dask_setup`` checks the
worker (``self_check``): the kit version (``kit.kit_version``: one hash of the
grader, the student kit, the assignment's definition and the reference package,
as this worker sees them), the sandbox (a real bubblewrap run), the sample data.
A worker that passes declares the Dask resource ``kit_resource(version)`` with
one unit per thread; grading tasks ask for one unit of the client's version, so
only workers of the very same kit ever take them. A worker that fails declares
nothing and logs why; the client asks every worker for its ``self_check`` before
submitting and names each refused one with the reason.

Each task (``grade_task``) checks the kit version again (the files may have
changed on that machine since the worker started), unpacks the submission in a
fresh folder of the worker's own local directory, grades it there with
``grade.grade_one`` in the worker's own sandbox, and returns the Grading and
every file the grading wrote; the client writes them into its output folder.

Nothing here imports Dask at module level. The kit version itself is computed in
``kit.py``, by the client and the batch as well.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import shutil
import tarfile
import tempfile
from pathlib import Path

from autograder.assignment import ROOT
from autograder.grading.kit import kit_version
from autograder.grading.staging import DATA_PATHS

RESOURCE_PREFIX = "cs231n-kit-"
logger = logging.getLogger("autograder.cluster")


class WorkerRefused(RuntimeError):
    """This worker must not grade for the client: the reason is the message."""


def kit_resource(version: str) -> str:
    """The Dask resource a worker of kit ``version`` declares and its tasks ask for."""
    return RESOURCE_PREFIX + version


def self_check(root: Path = ROOT) -> dict:
    """This worker's fitness to grade: {"kit": version, "problems": [reason, ...]} (none: fit)."""
    from autograder.sandbox.launcher import SandboxUnavailable, require_sandbox

    problems = []
    try:
        require_sandbox()
    except SandboxUnavailable as exc:
        problems.append(f"no sandbox: {exc}")
    missing = [d for d in DATA_PATHS if not (Path(root) / d).exists()]
    if missing:
        problems.append("sample data missing: " + ", ".join(missing) +
                        " (run: python -m cs231n.datasets.build_sample_data)")
    return {"kit": kit_version(root), "problems": problems, "root": str(root)}


WARM_UP_SEED = 20261203  # a throwaway seed: never a course's grading seed
PROFILER_CALLBACKS = ("profile", "profile-cycle")


def warm_up() -> float:
    """Pay, once per process, what the first grading would otherwise pay: the
    lazily imported notebook libraries (nbformat's schema, nbgrader's checksum),
    the fork server the check runners start from (``sandbox/forkserver.py``) and
    the reference's first run of every check (torch's first kernels, the
    check modules' caches), on the hidden inputs of ``WARM_UP_SEED``. Returns
    the seconds it took (about 6 s on one core; a later seed then costs about 2 s)."""
    import time

    import nbformat  # noqa: F401
    import nbgrader.utils  # noqa: F401

    from autograder.assignment import load_assignment
    from autograder.checks import REGISTRY
    from autograder.checks.local import prepared
    from autograder.sandbox.launcher import warm_starts

    start = time.monotonic()
    warm_starts()
    for name in load_assignment().checks:
        prepared(REGISTRY[name], WARM_UP_SEED)
    return time.monotonic() - start


def stop_profiler(worker) -> None:
    """Stop Dask's statistical profiler on ``worker``: it samples every thread's stack
    every 10 ms, while a grading thread only waits for its sandboxed subprocesses;
    on a loaded core that costs the grading about 2% (measured: an idle worker uses
    4.7% of a core with it, 2.7% without)."""
    for name in PROFILER_CALLBACKS:
        callback = worker.periodic_callbacks.pop(name, None)
        if callback is not None:
            callback.stop()


def dask_setup(worker) -> None:
    """Dask's preload hook: check this worker, warm it up, and declare its kit resource
    if it is fit (so it takes no task before it can grade at full speed)."""
    report = self_check()
    if report["problems"]:
        logger.warning("cs231n grading worker REFUSED (takes no grading tasks): %s", "; ".join(report["problems"]))
        return
    import autograder.grading.grade  # noqa: F401  (the grader and torch, imported before the first task)

    stop_profiler(worker)
    seconds = warm_up()
    name = kit_resource(report["kit"])
    worker.state.total_resources[name] = worker.state.nthreads
    worker.state.available_resources[name] = worker.state.nthreads
    logger.info("cs231n grading worker ready: kit %s (%s), warmed up in %.1f s", report["kit"], report["root"], seconds)


# --- a submission on the move: the client packs it, the worker unpacks it as it was


@dataclasses.dataclass(frozen=True)
class Packed:
    """A submission as it travels: its file or folder name, what it is, its bytes.

    ``kind``: "zip" (a file, sent as is), "folder" (a tar of the folder: names that
    are not UTF-8 and links survive it), "link" or "missing" (graded as such).
    """

    name: str
    kind: str
    data: bytes = b""


def pack(path: Path) -> Packed:
    """``path`` (a file or folder submission) as it travels to a worker."""
    path = Path(path)
    if path.is_symlink():
        return Packed(path.name, "link")
    if path.is_file():
        return Packed(path.name, "zip", path.read_bytes())
    if path.is_dir():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.add(path, arcname=".", recursive=True)
        return Packed(path.name, "folder", buffer.getvalue())
    return Packed(path.name, "missing")


def unpack(packed: Packed, folder: Path) -> Path:
    """Recreate ``packed`` inside the empty ``folder``; return its path there."""
    target = Path(folder) / packed.name
    if packed.kind == "zip":
        target.write_bytes(packed.data)
    elif packed.kind == "folder":
        target.mkdir()
        with tarfile.open(fileobj=io.BytesIO(packed.data), mode="r") as archive:
            archive.extractall(target, filter="tar")
    elif packed.kind == "link":
        target.symlink_to(folder / "no-such-file")
    return target


# --- the task


def _drop_resource(worker, name: str) -> None:
    """Stop ``worker`` taking more tasks that ask for resource ``name`` (best effort)."""
    try:
        worker.loop.add_callback(worker.set_resources, **{name: 0})
    except Exception:  # the refusal is the task's error either way
        logger.exception("could not withdraw resource %s", name)


def recheck(worker, expected: str) -> None:
    """Raise WorkerRefused unless this worker's kit is still ``expected`` (files change)."""
    now = kit_version()
    if now != expected:
        _drop_resource(worker, kit_resource(expected))
        raise WorkerRefused(f"worker {worker.address} refused the submission: its kit is now version {now}, "
                            f"the client's is {expected} (its files changed since it started; restart it)")


def grade_task(sid: str, packed: Packed, assignment, options, expected_kit: str) -> dict:
    """Grade one submission on this worker; returns {"grading", "files", "dirs", "worker"}.

    ``files``: {relative path: bytes} of everything the grading wrote in its output
    folder (reports, executed notebooks); ``dirs``: its folders (some may be empty).
    """
    from distributed import get_worker

    from autograder.grading.grade import grade_one, threads_per_lane

    worker = get_worker()
    recheck(worker, expected_kit)
    threads = options.threads or threads_per_lane(worker.state.nthreads * options.jobs)
    options = dataclasses.replace(options, release_dir=ROOT / "release", threads=threads)
    scratch = Path(tempfile.mkdtemp(prefix="cs231n-grade-", dir=worker.local_directory))
    try:
        (scratch / "in").mkdir()
        out_dir = scratch / "out" / sid
        grading = grade_one(unpack(packed, scratch / "in"), out_dir, assignment, options)
        files = {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}
        dirs = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_dir())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"grading": grading, "files": files, "dirs": dirs, "worker": worker.address}
