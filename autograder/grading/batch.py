"""Batch grading: many submissions in parallel, resumable, isolated from each other.

Each submission is graded into ``<out>/<id>/`` by ``grade.grade_submission`` in
its own worker thread (the heavy work runs in sandboxed subprocesses, so
threads use every core). A submission whose ``grading.json`` already records the
same fingerprint is skipped unless ``force``. The sandbox of each submission
hides the submissions folder and the output folder, so no submission can read
another's files or results. Afterwards: ``gradebook.csv`` and ``summary.html``
with a histogram of total scores.
"""
import concurrent.futures
import csv
import io
import json
import os
import re
from pathlib import Path

from tqdm import tqdm

from autograder.assignment import load_assignment
from autograder.grading.grade import Options, fingerprint, grade_submission, threads_per_lane


def submission_id(path):
    """A folder-safe id from a submission's file or folder name."""
    stem = Path(path).name
    stem = stem[:-4] if stem.lower().endswith(".zip") else stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "submission"


def find_submissions(paths):
    """Expand the given paths: a zip or a submission folder is one; a folder of them, many."""
    found = []
    for path in map(Path, paths):
        if path.is_file() or (path.is_dir() and any(path.glob("*.ipynb"))):
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() == ".zip" or p.is_dir())
    return found


def already_graded(path, out_dir):
    meta = out_dir / "grading.json"
    if not (meta.exists() and (out_dir / "results.json").exists()):
        return False
    try:
        return json.loads(meta.read_text()).get("fingerprint") == fingerprint(path)
    except (OSError, ValueError):
        return False


def grade_batch(paths, out_root, workers=None, force=False, options=Options(), progress=True,
                assignment=None):
    """Grade every submission under ``paths`` into ``out_root``; return {id: results}.

    ``assignment`` defaults to assignment/assignment.toml's (tests pass one with
    tighter limits).
    """
    assignment = assignment or load_assignment()
    out_root = Path(out_root).resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    submissions = find_submissions(paths)
    ids = {}
    for path in submissions:
        sid = submission_id(path)
        while sid in ids:
            sid += "_"
        ids[sid] = path
    workers = workers or os.cpu_count() or 1
    jobs = options.jobs if len(ids) > 1 else max(options.jobs, workers)
    threads = options.threads or threads_per_lane(min(workers, max(1, len(ids))) * jobs)
    hidden = tuple(options.hidden) + (str(out_root),) + tuple(
        {str(Path(p).resolve().parent) for p in submissions})
    options = Options(**{**options.__dict__, "jobs": jobs, "threads": threads, "hidden": hidden})

    def one(sid):
        path, out_dir = ids[sid], out_root / sid
        if not force and already_graded(path, out_dir):
            return sid, json.loads((out_dir / "results.json").read_text())
        return sid, grade_submission(path, out_dir, assignment, options)

    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, sid) for sid in ids]
        bar = tqdm(total=len(futures), desc="grading", unit="submission", disable=not progress)
        for future in concurrent.futures.as_completed(futures):
            sid, result = future.result()
            results[sid] = result
            bar.update(1)
        bar.close()
    write_gradebook(out_root, assignment, results)
    write_summary(out_root, assignment, results)
    return results


def write_gradebook(out_root, assignment, results):
    """gradebook.csv: one row per submission, total and per-part automatic points."""
    with open(out_root / "gradebook.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "total", *assignment.parts, "problems"])
        for sid in sorted(results):
            meta = json.loads((out_root / sid / "grading.json").read_text())
            problems = "; ".join(l for l in results[sid]["output"].splitlines() if l.startswith("Problem"))
            writer.writerow([sid, results[sid]["score"], *[meta["parts"].get(p, 0) for p in assignment.parts],
                             problems])


def write_summary(out_root, assignment, results):
    """summary.html: counts, mean, and a histogram of total scores (PNG inline)."""
    import base64

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [r["score"] for r in results.values()]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, assignment.auto_points()))
    ax.set_xlabel("automatic score")
    ax.set_ylabel("submissions")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode()
    mean = sum(scores) / len(scores) if scores else 0.0
    (out_root / "summary.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading summary</title></head><body>"
        f"<h1>{assignment.title}</h1><p>{len(scores)} submissions, mean {mean:.2f} of "
        f"{assignment.auto_points():g} automatic points.</p>"
        f"<img alt='histogram of scores' src='data:image/png;base64,{png}'></body></html>")
