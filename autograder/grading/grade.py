"""Grading one submission: take in, stage, execute, check, report (DESIGN.md).

``grade_submission`` never raises for anything a submission does: a broken
submission is a graded result with a reason. Even a fault in the grader itself
is caught and written down (``grader_error`` in grading.json) so no grade is lost
silently and the instructor knows to look.
"""
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from autograder.checks import diagnosis
from autograder.grading import intake as intake_mod
from autograder.grading import manual, report, staging
from autograder.assignment import HIDDEN_CHECKS, ROOT, load_assignment
from autograder.checks.local import DEFAULT_SEED
from autograder.grading.hidden_checks import grade_sandboxed
from autograder.grading.execute import execute_notebooks
from autograder.grading.integrity import integrity_flags
from autograder.grading.lanes import plan_lanes
from autograder.grading.result import Grading
from autograder.grading.kit import grading_key
from autograder.sandbox import mounts
from autograder.sandbox.launcher import Launcher
from autograder.sandbox.workspace import Workspace

RELEASE_DIR = ROOT / "release"


@dataclasses.dataclass(frozen=True)
class Options:
    """How to grade: where the kit is, the secret seed, parallel lanes, sandboxing.

    ``jobs``: lanes one submission's work is spread over (hidden checks and
    notebooks); ``threads``: math threads per lane (None: the cores divided by jobs).
    """

    release_dir: Path = RELEASE_DIR
    seed: int = DEFAULT_SEED
    jobs: int = 1
    threads: int = None
    allow_unsandboxed: bool = False
    execute_notebooks: bool = True
    notebooks: tuple = None  # execute only these notebooks (file names); None: every part's


def fingerprint(path) -> str:
    """sha256 of a submission (a zip's bytes, or a folder's names and bytes); "" if unreadable.

    Names are hashed as the file system's bytes, so names that are not UTF-8 count too.
    """
    digest = hashlib.sha256()
    path = Path(path)
    if not (path.is_file() or path.is_dir()) or path.is_symlink():
        return ""
    try:
        files = [path] if path.is_file() else sorted(
            (p for p in path.rglob("*") if p.is_file() and not p.is_symlink()), key=os.fsencode)
        for file in files:
            digest.update(os.fsencode(file.relative_to(path)) if file != path else b"")
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    except OSError:  # vanished or unreadable: nothing to recognise it by
        return ""
    return digest.hexdigest()


def notebooks_to_run(assignment, options: Options) -> list:
    """The parts whose notebooks this grading executes, in the assignment's order."""
    if not options.execute_notebooks:
        return []
    wanted = options.notebooks
    return [part for part in assignment.parts.values() if wanted is None or part.notebook in wanted]


def threads_per_lane(lanes_at_once: int) -> int:
    """Math threads each lane may use when ``lanes_at_once`` lanes share this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, lanes_at_once))


def lane_tasks(assignment, options: Options) -> dict:
    """{task: expected seconds}: the hidden checks and every notebook to execute."""
    seconds = assignment.expected_seconds
    tasks = {HIDDEN_CHECKS: seconds.get(HIDDEN_CHECKS, 1.0)}
    for part in notebooks_to_run(assignment, options):
        tasks[part.notebook] = seconds.get(part.id, 1.0)
    return tasks


def _run_lane(tasks, workspace: Workspace, launcher: Launcher, assignment, options, data):
    """One lane, in its own workspace: the hidden checks if they are in it, then its
    notebooks in one runner. Returns ((results, outcome) or None, notebook runs)."""
    checked = None
    if HIDDEN_CHECKS in tasks:
        checked = grade_sandboxed(workspace, list(assignment.checks), assignment.limits, launcher, options.seed)
    else:
        workspace.hand_over()
    notebooks = [t for t in tasks if t != HIDDEN_CHECKS]
    threads = options.threads or threads_per_lane(options.jobs)
    runs = execute_notebooks(workspace, notebooks, assignment.limits, launcher, data=data,
                             threads=threads) if notebooks else []
    return checked, runs


def _open_lanes(stack, taken, scratch, assignment, options, count):
    """One staged workspace per lane (each a fresh copy of the kit and the student's
    files). Returns (workspaces, data binds, staging problems)."""
    scratch.mkdir(parents=True, exist_ok=True)
    workspaces, problems, data = [], [], []
    for index in range(count):
        workspace = stack.enter_context(Workspace.create(scratch / f"lane{index}", assignment.limits.max_disk_mb << 20))
        found = staging.stage(taken, options.release_dir, workspace.path, assignment)
        data = staging.data_mounts(workspace.path)
        problems = problems or found
        workspaces.append(workspace)
    return workspaces, data, problems


def _grade_steps(submission, grading, scratch, out_dir, assignment, options):
    taken = intake_mod.take_in(submission, scratch / "intake", assignment.limits,
                               notebooks=[p.notebook for p in assignment.parts.values()])
    grading.problems += taken.problems
    grading.flags = integrity_flags(taken.root, assignment.student_files, parsed=taken.notebooks,
                                    limits=assignment.limits)
    grading.answers = manual.written_answers(taken.notebooks, assignment)
    launcher = Launcher.decide(options.allow_unsandboxed)
    lanes = plan_lanes(lane_tasks(assignment, options), options.jobs)
    runs, results, outcome = {}, [], None
    with contextlib.ExitStack() as stack:
        workspaces, data, problems = _open_lanes(stack, taken, scratch, assignment, options, len(lanes))
        grading.problems += problems
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            futures = [pool.submit(_run_lane, lane, workspace, launcher, assignment, options, data)
                       for lane, workspace in zip(lanes, workspaces)]
            for future in futures:
                checked, lane_runs = future.result()
                if checked is not None:
                    results, outcome = checked
                runs.update({run.notebook: run for run in lane_runs})
    faults = [r for r in results if r.grader_fault]
    if faults:  # the whole submission becomes a grader error: the instructor sees it and regrades
        raise GraderFault("".join(f"{r.error.rstrip()}\nthe grader failed while scoring {r.name}\n" for r in faults))
    grading.results = diagnosis.fix_first({r.name: r for r in results}, assignment.checks)
    grading.notebook_runs = [runs[p.notebook] for p in assignment.parts.values() if p.notebook in runs]
    if outcome is not None and outcome.limit_messages:
        grading.problems.append("hidden checks: " + "; ".join(outcome.limit_messages))
    executed_out = out_dir / "executed"
    executed_out.mkdir(exist_ok=True)
    for run in grading.notebook_runs:
        if run.data is not None:
            run.executed = executed_out / run.notebook
            run.executed.write_bytes(without_work_paths(run.data, [scratch]))
            run.data = None


class GraderFault(RuntimeError):
    """The grader's trusted side failed on this submission (its traceback is the message)."""


def without_work_paths(data: bytes, roots) -> bytes:
    """An executed notebook's bytes without the work folders and the Python
    installation's paths (tracebacks name files by absolute path)."""
    inside = {mounts.SANDBOX_WORK, mounts.GRADER_ROOT}  # the same folders as the sandbox names them
    for root in sorted({str(Path(r).resolve()) for r in roots} | inside, key=len, reverse=True):
        data = data.replace(root.encode() + b"/", b"")
    for prefix in {sys.prefix, sys.base_prefix}:
        data = data.replace(prefix.rstrip("/").encode() + b"/", b"<python>/")
    return data


def hide_work_paths(grading: Grading, roots) -> None:
    """Every message of ``grading`` a student sees, without the grader's absolute paths."""
    for result in grading.results.values():
        result.message = diagnosis.public_paths(result.message, roots)
    grading.problems = [diagnosis.public_paths(p, roots) for p in grading.problems]
    grading.flags = [diagnosis.public_paths(f, roots) for f in grading.flags]
    for run in grading.notebook_runs:
        run.message = diagnosis.public_paths(run.message, roots)


def grade_one(submission, out_dir, assignment=None, options: Options = Options()) -> Grading:
    """Grade ``submission`` (zip or folder) into ``out_dir``: the reports and the Grading.

    Never raises for what a submission holds or for a fault of the grader while
    grading or reporting it: those become the Grading's problems or its
    ``grader_error``. Only an ``out_dir`` that cannot be written raises.
    """
    assignment = assignment or load_assignment()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grading = Grading(submission=os.fsdecode(submission))
    scratch = out_dir / ".work"
    start = time.monotonic()
    try:
        _grade_steps(submission, grading, scratch, out_dir, assignment, options)
    except intake_mod.IntakeError as exc:
        grading.problems.append(f"the submission was refused: {exc}")
    except Exception:  # a fault of the grader: record it, lose nothing
        grading.fail(assignment, traceback.format_exc())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    grading.fill_missing(assignment)
    grading.wall_s = time.monotonic() - start
    try:
        hide_work_paths(grading, [scratch.resolve(), out_dir.resolve(), ROOT])
    except Exception:
        grading.fail(assignment, traceback.format_exc())
    grading.fingerprint = fingerprint(submission)
    grading.grading_key = grading_key(assignment, options)
    report.write_reports(out_dir, assignment, grading)
    return grading


def grade_submission(submission, out_dir, assignment=None, options: Options = Options()) -> dict:
    """Grade ``submission`` (zip or folder) into ``out_dir``; return results.json's dict."""
    assignment = assignment or load_assignment()
    return report.results_json(assignment, grade_one(submission, out_dir, assignment, options))
