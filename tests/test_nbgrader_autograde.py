"""``python -m autograder nbgrader-autograde``: the project's grader grading into a real
nbgrader course (real ``nbgrader generate_assignment``, ``export`` and
``generate_feedback`` before and after it), with the gradebook in SQLite.

The same course is then graded into a real PostgreSQL server's gradebook (the
database a course with several TAs uses), started on loopback by the test.

Three students: the reference, the reference with the demo's known bug (a
``timestamp.txt`` too), and the untouched release. One notebook is executed
per student (the theory notebook, the cheapest), enough to prove that executed
copies reach autograded/; the hidden checks all run.
"""
import csv
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from nbgrader.api import Gradebook

from autograder.assignment import ROOT, load_assignment
from autograder.grading.grade import Options
from autograder.grading.manual import mark_schemes
from autograder.grading.nbgrader_course import CourseError, grade_course
from autograder.release.build import course_seed, make_nbgrader_course
from autograder.release.demo_submissions import reference_files, release_files, with_bug
from autograder.sandbox.launcher import bwrap_path
from postgres_server import PostgresServer, free_port, postgres_bin

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]

ASSIGNMENT = load_assignment()
RELEASE = ROOT / "release"
EXECUTED = "RNN_LSTM_Theory.ipynb"
OPTIONS = Options(release_dir=RELEASE, notebooks=(EXECUTED,))
TIMESTAMP = "2026-12-01 17:05:00.000000 UTC"


def nbgrader(course, *args):
    """nbgrader as the README runs it (scripts/nbgrader.sh)."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "nbgrader.sh"), *args], cwd=course, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def submit(course, student, files, timestamp=None):
    folder = course / "submitted" / student / ASSIGNMENT.name
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder


def make_course(root, db_url=None):
    """A course with the assignment generated into its gradebook and three submissions."""
    course = make_nbgrader_course(root)
    extra = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    nbgrader(course, "generate_assignment", ASSIGNMENT.name, "--force", *extra)
    reference = reference_files(ASSIGNMENT)
    submit(course, "reference", reference)
    submit(course, "one_bug", with_bug(reference), TIMESTAMP)
    submit(course, "untouched", release_files(ASSIGNMENT, course / "release" / ASSIGNMENT.name))
    return course


def gradebook_rows(db_url, student):
    """{grade id: (auto_score, manual_score, needs_manual_grade, max_score)} and the comments."""
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT.name, student)
        grades = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade, g.max_score)
                  for nb in submission.notebooks for g in nb.grades}
        comments = {c.name: c.auto_comment for nb in submission.notebooks for c in nb.comments}
        return grades, comments, submission.timestamp


def own_scores(course, student):
    """{check: score} from the project's own results.json for ``student``."""
    data = json.loads((course / "graded" / ASSIGNMENT.name / student / "results.json").read_text())
    return {t["name"].split(": ")[-1]: t["score"] for t in data["tests"]}


def assert_gradebook_matches_the_grader(course, db_url):
    for student in ("reference", "one_bug", "untouched"):
        grades, comments, _ = gradebook_rows(db_url, student)
        assert set(grades) == set(ASSIGNMENT.checks) | set(ASSIGNMENT.manual)
        mine = own_scores(course, student)
        assert {n: grades[n][0] for n in ASSIGNMENT.checks} == pytest.approx(mine), student
        assert {n: grades[n][3] for n in ASSIGNMENT.checks} == {n: s.points for n, s in ASSIGNMENT.checks.items()}
        assert not any(grades[n][2] for n in ASSIGNMENT.checks), "autograded cells need no person"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    grade_course(course, ASSIGNMENT, workers=2, options=OPTIONS, progress=False)
    return course


def sqlite(course):
    return f"sqlite:///{course / 'gradebook.db'}"


def test_the_gradebook_holds_the_graders_automatic_scores(course):
    assert_gradebook_matches_the_grader(course, sqlite(course))
    reference, _, _ = gradebook_rows(sqlite(course), "reference")
    assert sum(reference[n][0] for n in ASSIGNMENT.checks) == ASSIGNMENT.auto_points()
    bug, _, stamp = gradebook_rows(sqlite(course), "one_bug")
    assert bug["lstm_step_forward"][0] == 0 and stamp.year == 2026 and stamp.day == 1


def test_written_answers_wait_for_a_person_or_score_zero_when_untouched(course):
    reference, ref_comments, _ = gradebook_rows(sqlite(course), "reference")
    for name in ASSIGNMENT.manual:
        auto, manual, needs_person, _ = reference[name]
        assert (auto, manual, needs_person) == (None, None, True), (name, reference[name])
        assert ref_comments[name] is None
    untouched, comments, _ = gradebook_rows(sqlite(course), "untouched")
    for name in ASSIGNMENT.manual:
        assert untouched[name][:3] == (0, None, False), (name, untouched[name])
        assert comments[name] == "No response."


def test_autograded_folders_hold_the_submission_with_executed_notebooks_and_no_hidden_tests(course):
    folder = course / "autograded" / "reference" / ASSIGNMENT.name
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {p.notebook for p in ASSIGNMENT.parts.values()} | set(ASSIGNMENT.student_files) <= names
    assert not [n for n in names if n.startswith("cs231n/datasets/") and not n.endswith(".py")], "data copied"
    executed = json.loads((folder / EXECUTED).read_text())
    assert any(cell.get("outputs") for cell in executed["cells"] if cell["cell_type"] == "code")
    for name in names:
        if name.endswith(".ipynb"):
            text = (folder / name).read_text()
            assert "BEGIN HIDDEN TESTS" not in text and "notebook_check" not in text, name
    assert (course / "autograded" / "one_bug" / ASSIGNMENT.name / "timestamp.txt").read_text() == TIMESTAMP


def test_nbgrader_export_and_generate_feedback_work_afterwards(course):
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    rows = {r["student_id"]: r for r in csv.DictReader(open(course / "grades.csv"))}
    for student in ("reference", "one_bug", "untouched"):
        total = sum(own_scores(course, student).values())
        assert float(rows[student]["raw_score"]) == pytest.approx(total), (student, rows[student])
        assert float(rows[student]["max_score"]) == ASSIGNMENT.auto_points() + ASSIGNMENT.manual_points()
    nbgrader(course, "generate_feedback", ASSIGNMENT.name, "--force")
    pages = sorted((course / "feedback" / "reference" / ASSIGNMENT.name).glob("*.html"))
    assert len(pages) == len(ASSIGNMENT.parts), pages
    theory = (course / "feedback" / "reference" / ASSIGNMENT.name / EXECUTED.replace(".ipynb", ".html")).read_text()
    assert "notebook_check" not in theory and "BEGIN HIDDEN TESTS" not in theory
    for page in (course / "feedback" / "untouched" / ASSIGNMENT.name).glob("*.html"):
        text = page.read_text()
        assert "Mark scheme for" not in text and "Mark scheme (" not in text, f"a mark scheme reached {page.name}"


def scheme_cells(notebook_path):
    """[(grade id of the answer before it, grade id the cell shows, its text)] of every
    mark-scheme cell."""
    cells = json.loads(notebook_path.read_text())["cells"]
    return [(cells[k - 1]["metadata"].get("nbgrader", {}).get("grade_id"), cell["metadata"]["cs231n_mark_scheme"],
             "".join(cell["source"])) for k, cell in enumerate(cells) if "cs231n_mark_scheme" in cell["metadata"]]


def test_each_written_answer_is_followed_by_its_mark_scheme_in_autograded_notebooks(course):
    schemes = mark_schemes(ASSIGNMENT)
    assert set(schemes) == set(ASSIGNMENT.manual)
    for student in ("reference", "untouched"):
        shown = []
        for part in ASSIGNMENT.parts.values():
            path = course / "autograded" / student / ASSIGNMENT.name / part.notebook
            found = scheme_cells(path)
            assert all(before == gid for before, gid, _ in found), (student, part.notebook, found)
            assert all(text.endswith(schemes[gid][1]) for _, gid, text in found)
            shown += [gid for _, gid, _ in found]
        assert sorted(shown) == sorted(ASSIGNMENT.manual), student
    assert all("SOLUTION" not in scheme for _, scheme in schemes.values()), "delimiters are not part of a scheme"


def test_formgrader_shows_the_mark_scheme_beside_the_answer(course):
    """A real Jupyter server with nbgrader's formgrader, asked for one submitted notebook."""
    notebook = ASSIGNMENT.parts["rnn"].notebook[:-len(".ipynb")]
    with Gradebook(sqlite(course)) as gradebook:
        submission_id = gradebook.find_submission_notebook(notebook, ASSIGNMENT.name, "untouched").id
    port, token = free_port(), "formgrader-test"
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1",
                               f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
                               "--allow-root"], cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = fetch_when_up(f"http://127.0.0.1:{port}/formgrader/submissions/{submission_id}/?token={token}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    expected = [gid for gid, spec in ASSIGNMENT.manual.items() if spec.part == "rnn"]
    assert expected and all(f"Mark scheme for <code>{gid}</code>" in page for gid in expected), page[-2000:]
    assert "YOUR ANSWER HERE" in page, "the untouched student's answer is on the page too"


def fetch_when_up(url, timeout_s=90):
    """The body of ``url`` once the server answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_grading_again_resumes_and_the_command_line_grades_one_student(course):
    stamp = (course / "graded" / ASSIGNMENT.name / "reference" / "grading.json").stat().st_mtime_ns
    grade_course(course, ASSIGNMENT, students=["reference"], options=OPTIONS, progress=False)
    assert (course / "graded" / ASSIGNMENT.name / "reference" / "grading.json").stat().st_mtime_ns == stamp
    proc = subprocess.run([sys.executable, "-m", "autograder", "nbgrader-autograde", ASSIGNMENT.name,
                           "--course", str(course), "--student", "untouched", "--force", "--no-notebooks"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "untouched" in proc.stdout and "formgrader" in proc.stdout
    assert_gradebook_matches_the_grader(course, sqlite(course))


def test_a_course_without_the_assignment_or_the_student_is_a_clear_error(tmp_path, course):
    bare = make_nbgrader_course(tmp_path / "bare")
    with pytest.raises(CourseError, match="generate_assignment"):
        grade_course(bare, ASSIGNMENT, options=OPTIONS, progress=False)
    with pytest.raises(CourseError, match="nobody"):
        grade_course(course, ASSIGNMENT, students=["nobody"], options=OPTIONS, progress=False)


@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL not installed (scripts/setup.sh installs it)")
def test_grading_into_a_postgresql_gradebook(course):
    with PostgresServer() as server:
        url = server.create_database("cs231n_gradebook")
        nbgrader(course, "generate_assignment", ASSIGNMENT.name, "--force", f"--CourseDirectory.db_url={url}")
        grade_course(course, ASSIGNMENT, db_url=url, options=OPTIONS, progress=False)  # graded already: resumed
        assert_gradebook_matches_the_grader(course, url)
        reference, _, _ = gradebook_rows(url, "reference")
        assert all(reference[n][2] for n in ASSIGNMENT.manual), "written answers pending in PostgreSQL too"
        nbgrader(course, "export", "--to", str(course / "grades_pg.csv"), f"--CourseDirectory.db_url={url}")
        rows = {r["student_id"]: r for r in csv.DictReader(open(course / "grades_pg.csv"))}
        assert float(rows["reference"]["raw_score"]) == ASSIGNMENT.auto_points()


def test_the_course_has_its_own_secret_grading_seed(course):
    seed = course_seed(course)
    assert seed is not None and not list((course / "release").rglob("grader_seed.txt")), "never released"
    env = {k: v for k, v in os.environ.items() if k != "CS231N_GRADER_SEED"}
    code = ("import os, sys; from traitlets.config.loader import PyFileConfigLoader as Loader; "
            "Loader('nbgrader_config.py', path=sys.argv[1]).load_config(); print(os.environ['CS231N_GRADER_SEED'])")
    proc = subprocess.run([sys.executable, "-c", code, str(course)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.strip() == str(seed), proc.stderr[-2000:]
    assert make_nbgrader_course(course) and course_seed(course) == seed, "staging again keeps the seed"
