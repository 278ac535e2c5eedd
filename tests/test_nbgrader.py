"""nbgrader itself grades two submissions: the reference gets every automatic
point, the untouched release none of the points for student work.

Real nbgrader commands (generate_assignment, autograde, generate_feedback), run
as the README runs them (scripts/nbgrader.sh from a shell without the venv), on
the course folder that `python -m autograder nbgrader-course` stages. The
submissions are handed in untouched: the course's configuration makes nbgrader
run them in fast mode on the course's data/ folder, restore locked cells without
false checksum alarms, show formgrader each written answer's mark scheme, and
leave hidden test code and mark schemes out of feedback.
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


def submit(course, student, files):
    """Hand in ``files`` exactly as given: fast mode comes from the course's configuration."""
    folder = course / "submitted" / student / ASSIGNMENT.name
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_nbgrader_course(tmp_path_factory.mktemp("course"))
    nbgrader(course, "generate_assignment", ASSIGNMENT.name, "--force")
    released = course / "release" / ASSIGNMENT.name
    submit(course, "reference", reference_files(ASSIGNMENT))
    submit(course, "untouched", release_files(ASSIGNMENT, released))
    autograde = nbgrader(course, "autograde", ASSIGNMENT.name, "--force")
    (course / "autograde.log").write_text(autograde.stdout + autograde.stderr)
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


def test_autograde_runs_in_fast_mode_on_the_course_data_without_false_alarms(graded_course):
    # the untouched release is what students hand in (the reference's cells come from the
    # source notebooks, so nbgrader rightly reports them changed)
    log = (graded_course / "autograde.log").read_text().split("submitted/untouched/", 1)[1]
    assert "Attribute 'checksum'" not in log, [line for line in log.splitlines() if "checksum" in line][:5]
    for student in ("reference", "untouched"):
        folder = graded_course / "autograded" / student / ASSIGNMENT.name
        for part in ASSIGNMENT.parts.values():
            nb = nbformat.read(folder / part.notebook, as_version=4)
            injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
            assert len(injected) == 1 and "fast_mode = True" in injected[0].source, part.notebook
            assert str(graded_course / "data") in injected[0].source
        submitted = graded_course / "submitted" / student / ASSIGNMENT.name
        assert "fast_mode = False" in (submitted / "RNN_Captioning.ipynb").read_text(), "submissions untouched"


def test_no_data_and_no_hidden_tests_reach_autograded_or_feedback_folders(graded_course):
    for step in ("autograded", "feedback"):
        files = [p for p in (graded_course / step).rglob("*") if p.is_file()]
        data = [p for p in files if p.suffix in {".h5", ".npz", ".json", ".txt"} and "datasets" in p.parts
                or "MNIST" in p.as_posix()]
        assert not data, data[:5]
        assert sum(p.stat().st_size for p in files) < 20 << 20, f"{step}/ holds {len(files)} files"
    for page in (graded_course / "feedback").rglob("*.html"):
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "notebook_check" not in text, page
        assert "Mark scheme for" not in text, page


def test_autograded_notebooks_show_each_answers_mark_scheme_after_it(graded_course):
    folder = graded_course / "autograded" / "untouched" / ASSIGNMENT.name
    shown = []
    for part in ASSIGNMENT.parts.values():
        cells = nbformat.read(folder / part.notebook, as_version=4).cells
        for k, cell in enumerate(cells):
            if "cs231n_mark_scheme" in cell.metadata:
                grade_id = cell.metadata["cs231n_mark_scheme"]
                assert cells[k - 1].metadata["nbgrader"]["grade_id"] == grade_id, part.notebook
                assert "Mark scheme (" in cell.source, "the scheme's text, not only its title"
                shown.append(grade_id)
    assert sorted(shown) == sorted(ASSIGNMENT.manual)


def test_feedback_is_generated_for_both(graded_course):
    for student in ("reference", "untouched"):
        pages = list((graded_course / "feedback" / student / ASSIGNMENT.name).glob("*.html"))
        assert len(pages) == len(ASSIGNMENT.parts), pages
