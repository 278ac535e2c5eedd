"""Grading one submission: take in, stage, execute, check, report (DESIGN.md).

``grade_submission`` never raises for anything a submission does: a broken
submission is a graded result with a reason. Even a fault in the grader itself
is caught and written down (``grader_error`` in grading.json) so no grade is lost
silently and the instructor knows to look.
"""
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from autograder.checks import diagnosis
from autograder.grading import intake as intake_mod
from autograder.grading import report, staging
from autograder.sandbox import bwrap as sandbox
from autograder.assignment import HIDDEN_CHECKS, ROOT, load_assignment
from autograder.checks import core
from autograder.checks.local import DEFAULT_SEED
from autograder.grading.hidden_checks import grade_sandboxed
from autograder.grading.execute import execute_notebooks
from autograder.grading.integrity import integrity_flags
from autograder.grading.lanes import plan_lanes

RELEASE_DIR = ROOT / "release"


@dataclasses.dataclass
class Grading:
    """Everything known about one graded submission."""

    submission: str
    results: dict = dataclasses.field(default_factory=dict)  # check name -> core.Result
    problems: list = dataclasses.field(default_factory=list)
    notebook_runs: list = dataclasses.field(default_factory=list)
    flags: list = dataclasses.field(default_factory=list)  # integrity flags for a person to read
    wall_s: float = 0.0
    grader_error: str = ""


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
    hidden: tuple = ()  # extra paths the sandbox must not see (other submissions, outputs)


def fingerprint(path):
    """sha256 of a submission (a zip's bytes, or a folder's names and bytes)."""
    digest = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else "").encode())
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def notebooks_to_run(assignment, options):
    """The parts whose notebooks this grading executes, in the assignment's order."""
    if not options.execute_notebooks:
        return []
    wanted = options.notebooks
    return [part for part in assignment.parts.values() if wanted is None or part.notebook in wanted]


def threads_per_lane(lanes_at_once):
    """Math threads each lane may use when ``lanes_at_once`` lanes share this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, lanes_at_once))


def lane_tasks(assignment, options):
    """{task: expected seconds}: the hidden checks and every notebook to execute."""
    seconds = assignment.expected_seconds
    tasks = {HIDDEN_CHECKS: seconds.get(HIDDEN_CHECKS, 1.0)}
    for part in notebooks_to_run(assignment, options):
        tasks[part.notebook] = seconds.get(part.id, 1.0)
    return tasks


def _run_lane(tasks, check_work, notebook_work, assignment, options, mounts):
    """One lane: the hidden checks if they are in it, then its notebooks in one runner."""
    checked = None
    if HIDDEN_CHECKS in tasks:
        checked = grade_sandboxed(check_work, list(assignment.checks), assignment.limits, options.seed,
                                  options.hidden, options.allow_unsandboxed)
    notebooks = [t for t in tasks if t != HIDDEN_CHECKS]
    threads = options.threads or threads_per_lane(options.jobs)
    runs = execute_notebooks(notebook_work, notebooks, assignment.limits, mounts=mounts, hidden=options.hidden,
                             use_sandbox=sandbox.use_sandbox(options.allow_unsandboxed),
                             threads=threads) if notebooks else []
    return checked, runs


def _grade_steps(submission, grading, scratch, out_dir, assignment, options):
    taken = intake_mod.take_in(submission, scratch / "intake", assignment.limits,
                               notebooks=[p.notebook for p in assignment.parts.values()])
    grading.problems += taken.problems
    notebook_work, check_work = scratch / "notebooks", scratch / "checks"
    grading.problems += staging.stage(taken, options.release_dir, notebook_work, assignment)
    staging.stage(taken, options.release_dir, check_work, assignment)
    grading.flags = integrity_flags(taken.root, assignment.student_files)
    mounts = staging.data_mounts(notebook_work)
    lanes = plan_lanes(lane_tasks(assignment, options), options.jobs)
    runs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        futures = [pool.submit(_run_lane, lane, check_work, notebook_work, assignment, options, mounts)
                   for lane in lanes]
        for future in futures:
            checked, lane_runs = future.result()
            if checked is not None:
                results, outcome = checked
            runs.update({run.notebook: run for run in lane_runs})
    grading.results = diagnosis.fix_first({r.name: r for r in results}, assignment.checks)
    grading.notebook_runs = [runs[p.notebook] for p in assignment.parts.values() if p.notebook in runs]
    if outcome.limit_messages:
        grading.problems.append("hidden checks: " + "; ".join(outcome.limit_messages))
    executed_out = out_dir / "executed"
    executed_out.mkdir(exist_ok=True)
    for run in grading.notebook_runs:
        if run.executed:
            copy_without_work_paths(run.executed, executed_out / run.notebook, [notebook_work])
            run.executed = executed_out / run.notebook


def copy_without_work_paths(source, target, roots):
    """Copy an executed notebook, cutting the work folders and the Python installation
    from its text (tracebacks name files by absolute path)."""
    data = Path(source).read_bytes()
    for root in sorted({str(Path(r).resolve()) for r in roots}, key=len, reverse=True):
        data = data.replace(root.encode() + b"/", b"")
    for prefix in {sys.prefix, sys.base_prefix}:
        data = data.replace(prefix.rstrip("/").encode() + b"/", b"<python>/")
    Path(target).write_bytes(data)


def hide_work_paths(grading, roots):
    """Every message of ``grading`` a student sees, without the grader's absolute paths."""
    for result in grading.results.values():
        result.message = diagnosis.public_paths(result.message, roots)
    grading.problems = [diagnosis.public_paths(p, roots) for p in grading.problems]
    for run in grading.notebook_runs:
        run.message = diagnosis.public_paths(run.message, roots)


def grade_submission(submission, out_dir, assignment=None, options=Options()):
    """Grade ``submission`` (zip or folder) into ``out_dir``; return results.json's dict."""
    assignment = assignment or load_assignment()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grading = Grading(submission=str(submission))
    scratch = out_dir / ".work"
    start = time.monotonic()
    try:
        _grade_steps(submission, grading, scratch, out_dir, assignment, options)
    except intake_mod.IntakeError as exc:
        grading.problems.append(f"the submission was refused: {exc}")
    except Exception:  # a fault of the grader: record it, lose nothing
        grading.grader_error = traceback.format_exc()[-4000:]
        grading.problems.append("the grader hit an internal error; your instructor has been told "
                                "and will regrade")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for spec in assignment.checks.values():
        grading.results.setdefault(spec.name, core.Result(spec.name, 0.0, "not graded: see the problems above"))
    grading.wall_s = time.monotonic() - start
    hide_work_paths(grading, [scratch.resolve(), out_dir.resolve(), ROOT])
    results = report.write_reports(out_dir, assignment, grading)
    meta = {"submission": str(submission), "fingerprint": fingerprint(submission) if Path(submission).exists() else "",
            "score": results["score"], "grader_error": grading.grader_error, "flags": grading.flags,
            "parts": {k: v[0] for k, v in report.part_scores(assignment, grading.results).items()},
            "notebooks": {r.notebook: {"ok": r.ok, "message": r.message, "wall_s": round(r.wall_s, 2)}
                          for r in grading.notebook_runs}}
    (out_dir / "grading.json").write_text(json.dumps(meta, indent=2))
    return results
