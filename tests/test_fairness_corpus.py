"""Fair grading, end to end: the fairness corpus graded in ONE sandboxed batch.

Every bundle of alternatives (tests/fairness ``bundles``) becomes a submission:
the reference notebooks done, the student files carrying the alternatives. The
last of the full bundles (``CANONICAL_SHAPED``) is carried by student files
stripped to the names the canonical files define (``CANONICAL_NAMES``), as a
student who started from the official kit hands in: its alternatives and the
reference's code of every other function, with none of the reference's helpers.
Each must get full marks on every check and run every notebook without an
error: what a notebook or a check needs must not live only in a student file.

The three large bundles run every notebook.
The small bundles (the third and later alternatives of a few functions) run the
notebooks of the parts whose checks cover what they change, in a second call
of the batch grader: the same grading, a notebook choice per call, and about
half the CI time.
"""
import json
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.batch import grade_batch
from autograder.release.demo_submissions import reference_files
from autograder.grading.grade import Options
from autograder.sandbox.launcher import bwrap_path
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


FULL_BUNDLES = 3  # bundles that run every notebook (the later ones touch two parts)
CANONICAL_SHAPED = FULL_BUNDLES - 1  # the full bundle in canonical-shaped files (the one with fewest alternatives)


def notebooks_touched(alternatives):
    """The notebooks of the parts with a check covering one of ``alternatives``' functions."""
    parts = {spec.part for spec in ASSIGNMENT.checks.values()
             if any(a.target in spec.covers for a in alternatives)}
    return {p.notebook for p in ASSIGNMENT.parts.values() if p.id in parts}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """{submission id: (description, notebooks expected to run, results.json, grading.json)}."""
    reference = reference_files(ASSIGNMENT)
    every = {p.notebook for p in ASSIGNMENT.parts.values()}
    full, small = tmp_path_factory.mktemp("fairness_full"), tmp_path_factory.mktemp("fairness_small")
    described, small_notebooks = {}, set()
    for k, bundle in enumerate(bundles()):
        folder = full if k < FULL_BUNDLES else small
        shaped = k == CANONICAL_SHAPED
        write_zip(folder / f"bundle{k}.zip", with_alternatives(canonical_shaped(reference) if shaped else reference,
                                                               bundle))
        touched = every if k < FULL_BUNDLES else notebooks_touched(bundle)
        small_notebooks |= set() if k < FULL_BUNDLES else touched
        described[f"bundle{k}"] = ("alternatives " + ", ".join(a.id for a in bundle)
                                   + (" in student files holding only the canonical names" if shaped else ""), touched)
    out = tmp_path_factory.mktemp("fairness_graded")
    release = ROOT / "release"
    grade_batch([full], out, workers=2, progress=False, assignment=ASSIGNMENT, options=Options(release_dir=release))
    if small_notebooks:
        grade_batch([small], out, workers=2, progress=False, assignment=ASSIGNMENT,
                    options=Options(release_dir=release, notebooks=tuple(sorted(small_notebooks))))
    return {sid: (what, touched, json.loads((out / sid / "results.json").read_text()),
                  json.loads((out / sid / "grading.json").read_text()))
            for sid, (what, touched) in described.items()}


def test_every_submission_gets_full_marks_and_runs_every_notebook(batch):
    problems = []
    for sid, (what, touched, results, grading) in batch.items():
        lost = [f"{t['name']}: {t['output']}" for t in results["tests"] if t["score"] < t["max_score"]]
        broken = [f"{nb}: {run['message']}" for nb, run in grading["notebooks"].items() if not run["ok"]]
        unrun = sorted(touched - set(grading["notebooks"]))
        if grading["grader_error"]:
            problems.append(f"{sid}: grader error {grading['grader_error'][-300:]}")
        if lost or broken or unrun:
            problems.append(f"{sid} ({what}):\n  " + "\n  ".join(lost + broken + [f"not run: {unrun}"]))
    assert not problems, "\n".join(problems)
    assert all(results["score"] == ASSIGNMENT.auto_points() for _, _, results, _ in batch.values())
    assert {nb for _, touched, _, _ in batch.values() for nb in touched} == \
           {p.notebook for p in ASSIGNMENT.parts.values()}
