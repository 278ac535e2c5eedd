"""Fair grading, end to end: the fairness corpus graded in ONE sandboxed batch.

Every bundle of alternatives (tests/fairness ``bundles``) becomes a submission:
the reference notebooks done, the student files carrying the alternatives. One
more submission holds student files stripped to the names the canonical files
define (``CANONICAL_NAMES``), as a student who started from the official kit
hands in. Each must get full marks on every check and run every notebook
without an error: what a notebook needs must not live only in a student file.
"""
import json
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.batch import grade_batch
from autograder.demo_submissions import reference_files
from autograder.grade import Options
from autograder.sandbox import bwrap_path
from fairness import bundles, canonical_names
from fairness.alternative import replace_function, strip_to_names

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]

ASSIGNMENT = load_assignment()


def with_alternatives(files, alternatives):
    files = dict(files)
    for alt in alternatives:
        text = files[alt.path].decode()
        files[alt.path] = replace_function(text, alt.function, alt.source, alt.extra_imports).encode()
    return files


def canonical_shaped(files):
    names = canonical_names()
    missing = set(ASSIGNMENT.student_files) - set(names)
    assert not missing, f"no CANONICAL_NAMES for {sorted(missing)}"
    return {path: strip_to_names(data.decode(), names[path]).encode() if path in names else data
            for path, data in files.items()}


def write_zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """{submission id: (description, results.json, grading.json)} of the graded corpus."""
    folder = tmp_path_factory.mktemp("fairness_submissions")
    reference = reference_files(ASSIGNMENT)
    described = {}
    for k, bundle in enumerate(bundles()):
        write_zip(folder / f"bundle{k}.zip", with_alternatives(reference, bundle))
        described[f"bundle{k}"] = "alternatives " + ", ".join(a.id for a in bundle)
    write_zip(folder / "canonical_shaped.zip", canonical_shaped(reference))
    described["canonical_shaped"] = "student files holding only the canonical names"
    out = tmp_path_factory.mktemp("fairness_graded")
    grade_batch([folder], out, workers=2, progress=False, assignment=ASSIGNMENT,
                options=Options(release_dir=ROOT / "release"))
    return {sid: (what, json.loads((out / sid / "results.json").read_text()),
                  json.loads((out / sid / "grading.json").read_text()))
            for sid, what in described.items()}


def test_every_submission_gets_full_marks_and_runs_every_notebook(batch):
    problems = []
    for sid, (what, results, grading) in batch.items():
        lost = [f"{t['name']}: {t['output']}" for t in results["tests"] if t["score"] < t["max_score"]]
        broken = [f"{nb}: {run['message']}" for nb, run in grading["notebooks"].items() if not run["ok"]]
        if grading["grader_error"]:
            problems.append(f"{sid}: grader error {grading['grader_error'][-300:]}")
        if lost or broken or len(grading["notebooks"]) != len(ASSIGNMENT.parts):
            problems.append(f"{sid} ({what}):\n  " + "\n  ".join(lost + broken))
    assert not problems, "\n".join(problems)
    assert all(results["score"] == ASSIGNMENT.auto_points() for _, results, _ in batch.values())
