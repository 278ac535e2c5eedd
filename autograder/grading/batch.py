"""Batch grading: many submissions in parallel, resumable, isolated from each other.

Each submission is graded into ``<out>/<id>/`` by ``grade.grade_one`` in its own
worker thread (the heavy work runs in sandboxed subprocesses, so threads use
every core). A submission whose ``grading.json`` already records the same
fingerprint and the same grading key (kit version and the options that change a
grade: ``kit.grading_key``) is not graded again unless ``force``: its Grading is
loaded back from that file. No submission can read another's files or results: the sandbox
sees only its allow-list (sandbox/mounts.py), never the submissions or outputs.
Afterwards, all rendered from the Gradings: ``gradebook.csv`` (``gradebook_row``),
``summary.html`` (summary.py), and for the points graded by hand
``manual_scores.csv`` and the ``written_answers/`` pages (manual.py).

Nothing one submission does can end the batch: a fault while grading or
reporting it becomes its ``grader_error`` (zero scores and a reason), and the
gradebook and summary are always written. Ids are folder names that never
collide with each other or with the batch's own files (case-insensitively),
and never start like a spreadsheet formula; every gradebook cell that comes
from a submission is neutralised as well.
"""
from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import os
import re
import traceback
from pathlib import Path

from tqdm import tqdm

from autograder.assignment import load_assignment
from autograder.grading import manual, report, summary
from autograder.grading.grade import Options, fingerprint, grade_one, threads_per_lane
from autograder.grading.kit import grading_key
from autograder.grading.result import Grading, clean_text

GRADEBOOK, SUMMARY = "gradebook.csv", "summary.html"
RESERVED_IDS = (GRADEBOOK, SUMMARY)  # the batch's own files beside the submissions' folders
MAX_ID_CHARS = 80
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # what a spreadsheet may read as a formula


def submission_id(path) -> str:
    """A folder-safe id from a submission's file or folder name (not yet unique).

    Letters, digits, ``_ . -`` only; never starting with ``=+-@`` (a formula in
    a spreadsheet) or a dot, at most MAX_ID_CHARS long.
    """
    stem = os.fsdecode(Path(path).name)
    stem = stem[:-4] if stem.lower().endswith(".zip") else stem
    sid = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:MAX_ID_CHARS]
    return sid.lstrip("._-").rstrip("._") or "submission"


def assign_ids(submissions, name_of=None) -> dict[str, Path]:
    """{id: path}: ids unique case-insensitively and never one of the batch's own files.

    Each id comes from the submission's own name, or from ``name_of(path)`` (an
    nbgrader course names a submission by its student's folder).
    """
    ids, taken = {}, {name.casefold() for name in RESERVED_IDS}
    for path in submissions:
        base = submission_id(name_of(path) if name_of else path)
        sid, number = base, 1
        while sid.casefold() in taken:
            number += 1
            sid = f"{base}_{number}"
        taken.add(sid.casefold())
        ids[sid] = Path(path)
    return ids


def find_submissions(paths) -> list[Path]:
    """Expand the given paths: a zip or a submission folder is one; a folder of them, many."""
    found = []
    for path in map(Path, paths):
        if path.is_file() or (path.is_dir() and any(path.glob("*.ipynb"))):
            found.append(path)
        elif path.is_dir():
            found += sorted((p for p in path.iterdir() if p.suffix.lower() == ".zip" or p.is_dir()),
                            key=os.fsencode)
    return found


def resumed(path, out_dir, key: str) -> Grading | None:
    """The Grading already in ``out_dir`` for this very submission graded the same way, or None.

    The same way: the same fingerprint of the submission and the same ``key``
    (``kit.grading_key``: kit version, assignment, seed, notebooks, sandbox). So a
    fixed check, a new seed or notebooks run this time grade it again, and so does
    every grader error: it is never a final grade.
    """
    if not (out_dir / "results.json").is_file():
        return None
    try:
        grading = Grading.load(out_dir)
    except (OSError, ValueError):
        return None
    same = grading.fingerprint and grading.fingerprint == fingerprint(path) and grading.grading_key == key
    return grading if same and not grading.grader_error else None


def crashed(path, out_dir, assignment, error: str) -> Grading:
    """The Grading of a submission whose grading or reporting failed: zero scores, the reason.

    Its reports are written where they can be; the gradebook has its row either way.
    """
    grading = Grading(submission=os.fsdecode(path))
    grading.fail(assignment, error)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        report.write_reports(out_dir, assignment, grading)
    except Exception:  # the folder itself cannot be written: the gradebook still says why
        grading.grader_error += "\nand its reports could not be written:\n" + traceback.format_exc()[-2000:]
    return grading


def grade_all(paths, out_root, workers: int | None = None, force: bool = False, options: Options = Options(),
              progress: bool = True, assignment=None, manual_scores=None, step=None) -> dict[str, Grading]:
    """Grade every submission under ``paths`` into ``out_root``; return {id: Grading}.

    ``assignment`` defaults to assignment/assignment.toml's (tests pass one with
    tighter limits). ``manual_scores``: {id: {grade id: points}} given by hand
    (``manual.read_manual_scores``), merged into every report. gradebook.csv,
    summary.html, manual_scores.csv and the written-answer pages are always written.
    ``step``: as for ``grade_named``.
    """
    return grade_named(assign_ids(find_submissions(paths)), out_root, workers, force, options, progress,
                       assignment, manual_scores, step=step)


def grade_named(ids: dict[str, Path], out_root, workers: int | None = None, force: bool = False,
                options: Options = Options(), progress: bool = True, assignment=None,
                manual_scores=None, after_grading=None, step=None) -> dict[str, Grading]:
    """``grade_all`` for submissions already named: ``ids`` maps each id (a folder
    name under ``out_root``, as ``assign_ids`` makes them) to its zip or folder.

    ``after_grading(gradings)``, when given, runs once every submission is graded,
    before the batch's files are written; it returns the manual scores to merge
    (like ``manual_scores``) or None (nbgrader_course writes the gradebook there
    and reads the points given in formgrader back). ``step`` grades the submissions
    not resumed: ``LocalStep(workers)`` (the default) on this machine, or a
    cluster.ClusterStep on a Dask cluster; ids, resume, grader-error rows and the
    batch's files are the same for both.
    """
    assignment = assignment or load_assignment()
    unknown = sorted(set(manual_scores or {}) - set(ids))
    if unknown:  # before any grading: a typo must not cost a TA's scores silently
        raise manual.ManualScoresError(f"manual scores for submissions not in this batch: {', '.join(unknown)}")
    out_root = Path(out_root).resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    step = step or LocalStep(workers, batch_size=len(ids))
    gradings = {}
    try:
        todo, key = {}, grading_key(assignment, options)
        for sid, path in ids.items():  # resume: what is graded already is loaded, not graded again
            done = None if force else resumed(path, out_root / sid, key)
            if done is not None:
                gradings[sid] = done
            else:
                todo[sid] = path
        bar = tqdm(total=len(ids), initial=len(gradings), desc="grading", unit="submission", disable=not progress)
        for sid, grading in step(todo, out_root, assignment, options):
            gradings[sid] = grading
            bar.update(1)
        bar.close()
        if after_grading is not None:
            manual_scores = after_grading(gradings)
        if manual_scores is not None:
            merge_manual(out_root, assignment, gradings, manual_scores)
    finally:
        write_batch_files(out_root, assignment, gradings)
    return gradings


class LocalStep:
    """The per-batch step of a batch on this machine: ``workers`` submissions at once in
    threads, each graded by ``grade_one`` (the heavy work runs in sandboxed subprocesses).

    A step is called with ({id: path} still to grade, output root, assignment, options)
    and yields (id, Grading) as each is done, its reports written; a fault while
    grading a submission is that submission's ``crashed`` row, never the batch's end.
    cluster.ClusterStep is the other one.
    """

    def __init__(self, workers: int | None = None, batch_size: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.batch_size = batch_size  # submissions in the batch, resumed ones too (None: those to grade)

    def lane_options(self, count: int, options: Options) -> Options:
        """``options`` with lanes and math threads for a batch of ``count`` submissions on this
        machine's cores (a lone submission's work is spread over all of them)."""
        jobs = options.jobs if count > 1 else max(options.jobs, self.workers)
        threads = options.threads or threads_per_lane(min(self.workers, max(1, count)) * jobs)
        return dataclasses.replace(options, jobs=jobs, threads=threads)

    def __call__(self, todo: dict[str, Path], out_root: Path, assignment, options: Options):
        """Grade ``todo`` into ``out_root/<id>/``; yield (id, Grading) as each is done."""
        options = self.lane_options(self.batch_size or len(todo), options)

        def one(sid):
            path, out_dir = todo[sid], out_root / sid
            try:
                return sid, grade_one(path, out_dir, assignment, options)
            except Exception:  # never the batch's end: this submission's grader error
                return sid, crashed(path, out_dir, assignment, traceback.format_exc())

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            for future in concurrent.futures.as_completed([pool.submit(one, sid) for sid in todo]):
                yield future.result()


def write_batch_files(out_root, assignment, gradings: dict[str, Grading]) -> None:
    """The batch's own files: gradebook.csv, summary.html, manual_scores.csv and the
    written-answer pages (manual.py)."""
    write_gradebook(out_root, assignment, gradings)
    summary.write_summary(out_root, assignment, gradings, SUMMARY)
    if assignment.manual:
        manual.write_manual_template(out_root, assignment, gradings)
        manual.write_answer_pages(out_root, assignment, gradings)


def merge_manual(out_root, assignment, gradings: dict[str, Grading], scores) -> None:
    """Give each Grading the points given by hand ({id: {grade id: points}}; absent: pending),
    and render its reports again with them."""
    for sid, grading in gradings.items():
        if grading.manual != scores.get(sid, {}):
            grading.manual = dict(scores.get(sid, {}))
            report.write_reports(out_root / sid, assignment, grading)


def grade_batch(paths, out_root, workers: int | None = None, force: bool = False, options: Options = Options(),
                progress: bool = True, assignment=None) -> dict[str, dict]:
    """``grade_all``, returning {id: results.json's dict} (each rendered from its Grading)."""
    assignment = assignment or load_assignment()
    gradings = grade_all(paths, out_root, workers, force, options, progress, assignment)
    return {sid: report.results_json(assignment, grading) for sid, grading in gradings.items()}


def csv_cell(text) -> str:
    """A gradebook cell from submission-made text: no spreadsheet formula, writable as UTF-8."""
    text = clean_text(text).replace("\0", "")
    return "'" + text if text.startswith(FORMULA_START) else text


GRADEBOOK_COLUMNS = ("submission", "automatic", "manual", "total", "manual_pending")


def gradebook_row(sid: str, assignment, grading: Grading) -> list:
    """One gradebook row: id; automatic points, points given by hand so far, their sum,
    how many written answers are still pending; per-part automatic points; problems;
    grader error (its last line)."""
    error = grading.grader_error.strip().splitlines()[-1:] if grading.grader_error else []
    return [csv_cell(sid), grading.total(assignment), grading.manual_earned(assignment),
            grading.grand_total(assignment), len(grading.manual_pending(assignment)),
            *[earned for earned, _ in grading.part_scores(assignment).values()],
            len(grading.flags), csv_cell("; ".join(summary.failed_notebooks(grading))),
            csv_cell("; ".join(grading.problems)), csv_cell(error[0] if error else "")]


def write_gradebook(out_root, assignment, gradings: dict[str, Grading]) -> None:
    """gradebook.csv: one row per submission (``gradebook_row``)."""
    with open(Path(out_root) / GRADEBOOK, "w", newline="", encoding="utf-8", errors="replace") as handle:
        writer = csv.writer(handle)
        writer.writerow([*GRADEBOOK_COLUMNS, *assignment.parts, "integrity_flags", "failed_notebooks",
                         "problems", "grader_error"])
        for sid in sorted(gradings):
            writer.writerow(gradebook_row(sid, assignment, gradings[sid]))
