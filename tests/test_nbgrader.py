"""nbgrader itself grades two submissions: the reference gets every automatic
point, the untouched release none of the points for student work.

Real nbgrader commands (generate_assignment, autograde, generate_feedback) on
the course folder that `python -m autograder nbgrader-course` stages (with the
sample data in source/, which nbgrader copies into every autograded folder). The
submissions' parameters cells are set to fast mode so CI stays quick; nbgrader
executes everything else exactly as it would for a class.
"""
import os
import subprocess

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.assignment import ROOT, load_assignment
from autograder.release.demo_submissions import reference_files, release_files
from autograder.release.build import make_nbgrader_course

pytestmark = pytest.mark.slow
ASSIGNMENT = load_assignment()


def nbgrader(course, *args):
    """nbgrader as the README runs it: scripts/nbgrader.sh, from a shell whose PATH has no venv."""
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "nbgrader.sh"), *args], cwd=course, capture_output=True,
                          text=True, timeout=1800, env=env)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def fast(data):
    nb = nbformat.reads(data.decode(), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("fast_mode = False", "fast_mode = True")
    return nbformat.writes(nb).encode()


def submit(course, student, files):
    folder = course / "submitted" / student / ASSIGNMENT.name
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(fast(data) if name.endswith(".ipynb") else data)


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_nbgrader_course(tmp_path_factory.mktemp("course"))
    nbgrader(course, "generate_assignment", ASSIGNMENT.name, "--force")
    released = course / "release" / ASSIGNMENT.name
    submit(course, "reference", reference_files(ASSIGNMENT))
    submit(course, "untouched", release_files(ASSIGNMENT, released))
    nbgrader(course, "autograde", ASSIGNMENT.name, "--force")
    nbgrader(course, "generate_feedback", ASSIGNMENT.name, "--force")
    return course


def auto_score(course, student):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT.name, student)
        return {grade.name: (grade.score, grade.max_score)
                for notebook in submission.notebooks for grade in notebook.grades
                if grade.auto_score is not None and grade.name in ASSIGNMENT.checks}


def test_reference_gets_every_automatic_point(graded_course):
    scores = auto_score(graded_course, "reference")
    assert set(scores) == set(ASSIGNMENT.checks)
    short = {name: s for name, s in scores.items() if s[0] != s[1]}
    assert not short, short


def test_untouched_release_gets_no_points_for_student_work(graded_course):
    scores = auto_score(graded_course, "untouched")
    assert set(scores) == set(ASSIGNMENT.checks)
    assert {name: s for name, s in scores.items() if s[0] != 0} == {}


def test_feedback_is_generated_for_both(graded_course):
    for student in ("reference", "untouched"):
        pages = list((graded_course / "feedback" / student / ASSIGNMENT.name).glob("*.html"))
        assert len(pages) == len(ASSIGNMENT.parts), pages
