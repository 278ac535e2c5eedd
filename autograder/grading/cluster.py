"""Grading a batch on a Dask cluster: the client's half (cluster_worker.py is the worker's).

``python -m autograder grade ... --scheduler tcp://HOST:PORT`` runs the same batch
as a local one (batch.grade_named: ids, resume, progress bar, grader-error rows,
gradebook and summary) with a different per-submission step, ``ClusterStep``:
each submission still to grade is one Dask task (``cluster_worker.grade_task``).
Its bytes travel to the worker, which grades it in its own sandbox in a folder
of its own local directory; the Grading and the files it wrote travel back and
are written into ``OUT/<id>/`` as each task finishes, and the reports rendered
from the Grading exactly as a local batch renders them (the same code, with the
client's path and fingerprint of the submission), so a client that is stopped
and started again resumes.

Decisions:

- **Which workers grade.** A worker declares at start that it is fit to grade kit
  version V (the preload ``cluster_worker.dask_setup``: kit hash, sandbox, sample
  data), as the Dask resource ``cs231n-kit-V``; every task asks for one unit of
  the client's version. A worker with another kit, no sandbox or no data (or one
  started without the preload) declares nothing, so the scheduler never gives it
  a task. Before submitting, the client asks every worker for its self-check
  (``client.run``) and prints each refused one with the reason; with no usable
  worker at all it raises ClusterError before anything is written. Resources
  rather than a list of worker addresses, because a worker that dies and is
  restarted by its nanny comes back under a new address: it declares its
  resource again as it registers, so tasks waiting for a worker find it. Each
  task checks the kit again on the worker (its files may have changed since it
  started); a mismatch withdraws the worker's resource and makes that
  submission a grader-error row (never a grade from another version).
- **Retries.** A worker that dies while grading (SIGKILL, machine gone) has its
  task rescheduled by the scheduler on another worker. The client sets the
  scheduler's ``allowed_failures`` to ``MAX_WORKER_DEATHS - 1`` when it connects
  (``distributed.scheduler.allowed-failures``; the default, 3, would let one
  submission kill four machines): a submission during which
  ``MAX_WORKER_DEATHS`` workers died becomes a grader-error row, "killed its
  worker N times", and the batch goes on. Dask counts a death against every
  task the dead worker held, so the client keeps at most as many tasks
  submitted as the usable workers have threads: a task is not left waiting
  on a worker that is busy with another, where that worker's death would
  count against it too. Any other exception while grading becomes the
  submission's grader-error row with the worker's traceback. Grader-error rows
  carry no fingerprint, so the next run grades them again.
- **Resume.** Done on the client before submitting (batch.resumed: same
  fingerprint in grading.json), so nothing already graded travels.
- **No worker for a long time.** If no usable worker is connected for
  ``wait_for_workers_s`` while submissions are left, those become grader-error
  rows ("no usable worker") and the batch ends with its gradebook; run again to
  grade them.

Dask is imported here only: a batch without ``--scheduler`` never imports it.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from distributed import Client, KilledWorker
from distributed.client import FutureCancelledError

from autograder.assignment import ROOT
from autograder.grading import batch, report
from autograder.grading.cluster_worker import RESOURCE_PREFIX, grade_task, kit_resource, pack, self_check
from autograder.grading.grade import Options, fingerprint
from autograder.grading.kit import kit_version
from autograder.grading.result import Grading

MAX_WORKER_DEATHS = 3  # workers a submission may see die under it before it is a grader error
WAIT_FOR_WORKERS_S = 600.0
POLL_S = 2.0  # how often the client looks at the workers while tasks run


class ClusterError(RuntimeError):
    """The cluster cannot grade this batch (unreachable, no usable worker): the message says why."""


def refusal(address: str, report_: dict, version: str, resources: dict) -> str | None:
    """Why the worker at ``address`` does not grade for kit ``version``, or None (it does).

    ``report_``: its ``cluster_worker.self_check()`` (or {"error": text} if that
    failed); ``resources``: the Dask resources it declared.
    """
    if "error" in report_:
        return f"{address}: refused: its self-check failed: {report_['error']}"
    if report_.get("kit") != version:
        return (f"{address}: refused: kit version {report_.get('kit')} (at {report_.get('root')}) is not the "
                f"client's {version}; install the same autograder/, release/, assignment/ and cs231n/ there")
    if report_.get("problems"):
        return f"{address}: refused: " + "; ".join(report_["problems"])
    if resources.get(kit_resource(version), 0) <= 0:
        declared = sorted(r[len(RESOURCE_PREFIX):] for r, n in resources.items() if r.startswith(RESOURCE_PREFIX) and n)
        if declared:
            return (f"{address}: refused: it started as kit version {', '.join(declared)} and its files are now "
                    f"{version}, the client's (they changed since it started); restart it")
        return (f"{address}: refused: started without the preload that declares it fit to grade; start it "
                "with: dask worker SCHEDULER --preload autograder.grading.cluster_worker")
    return None


def _worker_self_check() -> dict:
    """``self_check`` as run on a worker by ``client.run``; its failure is a report too."""
    try:
        return self_check()
    except Exception as exc:  # an old or broken kit on that worker: refused, with the reason
        return {"error": f"{type(exc).__name__}: {exc}"}


@dataclasses.dataclass
class ClusterStep:
    """batch.grade_named's per-batch step on a Dask cluster (see the module's docstring)."""

    client: Client
    version: str
    log: object = sys.stderr
    wait_for_workers_s: float = WAIT_FOR_WORKERS_S
    graded_on: dict = dataclasses.field(default_factory=dict)  # id -> address of the worker that graded it
    refused: list = dataclasses.field(default_factory=list)  # the refused workers, with reasons
    finished: threading.Event = dataclasses.field(default_factory=threading.Event)  # set as a task ends

    @classmethod
    def connect(cls, scheduler: str, log=sys.stderr, timeout_s: float = 30.0) -> ClusterStep:
        """Connect to ``scheduler``, set its retries, check its workers.

        Raises ClusterError when the scheduler is unreachable or no worker is usable.
        """
        try:
            client = Client(scheduler, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        step = cls(client, kit_version(), log)
        try:
            step.configure_retries()
            step.check_workers()
        except BaseException:
            client.close()
            raise
        return step

    def close(self) -> None:
        """Disconnect from the scheduler (its workers keep running)."""
        self.client.close()

    def configure_retries(self) -> None:
        """Let a task see at most MAX_WORKER_DEATHS workers die before it errs (KilledWorker)."""
        allowed = MAX_WORKER_DEATHS - 1

        def set_allowed_failures(dask_scheduler):  # nested: pickled by value, the scheduler needs no kit
            dask_scheduler.allowed_failures = allowed
            return allowed

        self.client.run_on_scheduler(set_allowed_failures)

    def check_workers(self) -> list[str]:
        """The usable workers' addresses; prints each refused one. Raises ClusterError if none."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        reports = self.client.run(_worker_self_check, on_error="return") if info else {}
        usable, self.refused = [], []
        for address in sorted(info):
            found = reports.get(address, {"error": "it did not answer"})
            if isinstance(found, BaseException):
                found = {"error": f"{type(found).__name__}: {found}"}
            why = refusal(address, found, self.version, info[address].get("resources", {}))
            if why:
                self.refused.append(why)
                print(f"grade: cluster: worker {why}", file=self.log)
            else:
                usable.append(address)
        if not usable:
            raise ClusterError(f"no usable worker at {self.client.scheduler.address} for kit version "
                               f"{self.version} ({len(info)} connected)" +
                               "".join(f"\n  {why}" for why in self.refused))
        print(f"grade: cluster: {len(usable)} worker(s) grade with kit {self.version}", file=self.log)
        return usable

    def slots(self) -> int:
        """Threads of the connected workers fit for this kit (what may run at once)."""
        name = kit_resource(self.version)
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return int(sum(w.get("resources", {}).get(name, 0) for w in workers))

    def __call__(self, todo: dict[str, Path], out_root: Path, assignment,
                 options: Options) -> Iterator[tuple[str, Grading]]:
        """Grade ``todo`` ({id: path}) on the cluster; yield (id, Grading) as each is done
        and written into ``out_root/<id>/``."""
        check_options(options)
        pending, running, done = collections.deque(todo.items()), {}, []
        idle_since = None
        while pending or running or done:
            slots = self.slots()
            while pending and len(running) < slots:  # first the freed threads get work, then the writing
                sid, path = pending.popleft()
                running[self._submit(sid, path, assignment, options)] = (sid, path)
            for future, (sid, path) in done:
                yield sid, self._outcome(future, sid, path, out_root / sid, assignment)
                future.release()
            if not pending and not running:  # the last one is written: no poll's sleep at the end
                return
            idle_since = (idle_since or time.monotonic()) if slots == 0 else None
            if idle_since and time.monotonic() - idle_since > self.wait_for_workers_s:
                yield from self._give_up(pending, running, out_root, assignment)
                return
            done = self._wait(running)

    def _submit(self, sid: str, path: Path, assignment, options: Options):
        future = self.client.submit(grade_task, sid, pack(path), assignment, options, self.version,
                                    key=f"cs231n-grade-{sid}-{os.urandom(4).hex()}", pure=False,
                                    resources={kit_resource(self.version): 1}, retries=0)
        future.add_done_callback(lambda _: self.finished.set())
        return future

    def _wait(self, running: dict) -> list:
        """Wait up to POLL_S for a task to finish (woken by its done-callback, not by
        polling); take the finished ones out of ``running`` and return them as (future, (id, path))."""
        if not running:
            time.sleep(POLL_S)
            return []
        self.finished.wait(POLL_S)
        self.finished.clear()  # before looking: a task finishing from here on sets it again
        done = [future for future in running if future.done()]
        return [(future, running.pop(future)) for future in done]

    def _outcome(self, future, sid: str, path: Path, out_dir: Path, assignment) -> Grading:
        """The finished task's Grading, written into ``out_dir``; a failed task's grader-error row."""
        try:
            returned = future.result()
        except KilledWorker as exc:
            return batch.crashed(path, out_dir, assignment, killed_reason(exc))
        except FutureCancelledError:
            return batch.crashed(path, out_dir, assignment, "the cluster dropped its task (cancelled); "
                                 "graded again by the next run")
        except Exception:
            return batch.crashed(path, out_dir, assignment, "while grading on the cluster:\n" +
                                 "".join(traceback.format_exception(*sys.exc_info())))
        try:
            self.graded_on[sid] = returned["worker"]
            return write_returned(returned, path, out_dir, assignment)
        except Exception:
            return batch.crashed(path, out_dir, assignment, traceback.format_exc())

    def _give_up(self, pending, running, out_root, assignment) -> Iterator[tuple[str, Grading]]:
        """Every submission left as a grader-error row: no usable worker for too long."""
        why = (f"no usable worker was connected for {self.wait_for_workers_s:g} s; "
               "not graded: run the same command again to grade it")
        for future, (sid, path) in list(running.items()):
            future.cancel()
            yield sid, batch.crashed(path, out_root / sid, assignment, why)
        for sid, path in pending:
            yield sid, batch.crashed(path, out_root / sid, assignment, why)


def check_options(options: Options) -> None:
    """Raise ClusterError for options a cluster cannot honour: workers stage from their kit's
    own release/ (checked by its version) and always grade in their sandbox."""
    if Path(options.release_dir).resolve() != (ROOT / "release").resolve():
        raise ClusterError(f"--release: workers grade with their kit's own release/ ({ROOT / 'release'}), "
                           "checked by its version; another release cannot be used on a cluster")
    if options.allow_unsandboxed:
        raise ClusterError("--allow-unsandboxed: workers always grade in their sandbox")


def killed_reason(exc: KilledWorker) -> str:
    """The grader-error text of a submission during which too many workers died."""
    deaths = exc.allowed_failures + 1
    return (f"{exc}\nthe submission killed its worker {deaths} times (each time the worker process died while "
            f"grading it); not retried again")


def write_returned(returned: dict, path: Path, out_dir: Path, assignment) -> Grading:
    """Write a worker's outputs into ``out_dir`` and render the reports from its Grading as
    a local batch does: with this client's path and fingerprint of the submission."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for relative in returned["dirs"]:
        (out_dir / relative).mkdir(parents=True, exist_ok=True)
    for relative, data in returned["files"].items():
        if relative != "grading.json":  # the resume marker is written last, by write_reports
            (out_dir / relative).write_bytes(data)
    grading: Grading = returned["grading"]
    grading.submission = os.fsdecode(path)
    grading.fingerprint = fingerprint(path)
    for run in grading.notebook_runs:
        run.executed = out_dir / "executed" / run.notebook if run.executed else None
    report.write_reports(out_dir, assignment, grading)
    return grading
