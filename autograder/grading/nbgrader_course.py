"""Grading into an nbgrader course: the project's grader as its sandboxed, parallel autograde step.

    python -m autograder nbgrader-autograde assignment3 --course DIR [--student ID ...]

reads ``DIR/submitted/<student>/<assignment>/`` (where ``nbgrader collect`` and
``nbgrader zip_collect`` put submissions), grades every submission with the
project's grader (sandboxed, in parallel, with a progress bar, skipping what
is already graded) into ``DIR/graded/<assignment>/`` (results.json,
feedback.html and grading.json per student, gradebook.csv, summary.html), then
writes what ``nbgrader autograde`` would:

- ``DIR/autograded/<student>/<assignment>/``: the submitted files (regular
  files only, no links), each notebook replaced by its copy executed in the
  sandbox, each written answer followed by its mark scheme (from the course's
  ``source/``) for formgrader, as ``ShowMarkSchemes`` does under ``nbgrader
  autograde``. Hidden tests never run in a student's notebook and never appear
  in it: the hidden checks ran in the sandbox, on the student's files;
- the gradebook rows (``nbgrader.api.Gradebook`` at the course's ``db_url``:
  SQLite by default, PostgreSQL or any SQLAlchemy URL): the student, the
  submission with its ``timestamp.txt``, every autograded test cell's
  ``auto_score`` from the hidden check of the same grade id, and every written
  answer as nbgrader's SaveAutoGrades leaves it: pending for formgrader, or 0
  with the comment "No response." when the stub was left untouched.

The points graded by hand come back the other way: every run reads the
gradebook's scores of the written answers (formgrader's, and nbgrader's zero
for an untouched answer) into the project's reports, so gradebook.csv,
feedback.html and the written-answer pages say what is given and what is
still pending.

formgrader, ``nbgrader generate_feedback`` and ``nbgrader export`` then work
unchanged. As for ``nbgrader autograde``, the assignment must already be in the
gradebook (``nbgrader generate_assignment`` puts it there).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from autograder.assignment import load_assignment
from autograder.grading.batch import assign_ids, grade_named
from autograder.grading.grade import Options
from autograder.grading.intake import NotebookRefused, read_notebook
from autograder.release.nbgrader_preprocessors import add_mark_scheme_cells, scheme_texts
from autograder.grading.result import Grading

GRADED_DIR = "graded"  # the project's own reports, beside nbgrader's folders
NO_RESPONSE = "No response."  # nbgrader's comment on an untouched answer


class CourseError(Exception):
    """The course folder or its gradebook cannot be graded into; the message says why."""


def course_directory(course):
    """nbgrader's ``CourseDirectory`` for ``course``, configured by its nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course = Path(course).resolve()
    if not course.is_dir():
        raise CourseError(f"no course folder at {course}")
    config = Config()
    if (course / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course)
    return coursedir


def interpreter_bin_on_path() -> None:
    """Put this interpreter's bin folder first on PATH: a new gradebook makes nbgrader start
    ``alembic`` as a program, which a shell without the activated venv would not find."""
    folder = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[:1] != [folder]:
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def submitted_folders(coursedir, assignment_name: str, students=None) -> dict[str, Path]:
    """{student: submitted/<student>/<assignment>/} of every student (or of ``students``)."""
    root = Path(coursedir.root) / coursedir.submitted_directory
    found = {}
    if root.is_dir():
        for student_dir in sorted(root.iterdir(), key=lambda p: os.fsencode(p.name)):
            folder = student_dir / assignment_name
            if folder.is_dir() and not folder.is_symlink() and not student_dir.is_symlink():
                found[student_dir.name] = folder
    if students:
        missing = sorted(set(students) - set(found))
        if missing:
            raise CourseError(f"no submission of {assignment_name} in {root} for: {', '.join(missing)}")
        found = {s: found[s] for s in students}
    return found


def copy_regular_files(source: Path, dest: Path) -> None:
    """Copy ``source``'s regular files into ``dest``, keeping folders; links are never followed."""
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        target = dest / os.path.relpath(folder, source)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path) and os.path.isfile(path):
                shutil.copyfile(path, target / name)


def write_autograded(folder: Path, dest: Path, graded: Path, schemes: dict, limits) -> None:
    """autograded/<student>/<assignment>/: the submitted files, notebooks as executed, each
    written answer followed by its mark scheme ({grade id: text}) for formgrader."""
    if dest.exists():
        shutil.rmtree(dest)
    copy_regular_files(folder, dest)
    for executed in sorted((graded / "executed").glob("*.ipynb")):
        shutil.copyfile(executed, dest / executed.name)
    for path in sorted(dest.glob("*.ipynb")):
        show_mark_schemes(path, schemes, limits)


def show_mark_schemes(path: Path, schemes: dict, limits) -> None:
    """Add the mark-scheme cells to the notebook at ``path`` (left as it is when unreadable:
    formgrader then shows what the student handed in)."""
    import nbformat

    try:
        nb = read_notebook(path, limits, f"'{path.name}'")
    except NotebookRefused:
        return
    if add_mark_scheme_cells(nb, schemes):
        nbformat.write(nb, path)


def answer_cells(folder: Path, notebook: str, limits) -> dict:
    """{grade id: cell} of the submitted notebook's nbgrader grade cells ({} if it cannot be read)."""
    try:
        nb = read_notebook(folder / f"{notebook}.ipynb", limits, f"'{notebook}.ipynb'")
    except NotebookRefused:
        return {}
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            cells.setdefault(meta["grade_id"], cell)
    return cells


def _answer_score(cell):
    """(auto_score, comment) of a written answer, as nbgrader's SaveAutoGrades decides them."""
    from nbgrader import utils

    if cell is None:  # no notebook, or the cell is gone: nothing to grade
        return 0.0, NO_RESPONSE
    try:
        unchanged = cell.metadata.nbgrader.get("checksum") == utils.compute_checksum(cell)
    except Exception:  # malformed cell: a person reads it
        return None, None
    return (0.0, NO_RESPONSE) if unchanged else (None, None)


def record_grades(gradebook, assignment, student: str, grading: Grading, folder: Path, timestamp=None) -> None:
    """Write ``student``'s submission into ``gradebook`` (an open nbgrader Gradebook)."""
    gradebook.update_or_create_student(student)
    if timestamp:
        submission = gradebook.update_or_create_submission(assignment.name, student, timestamp=timestamp)
    else:
        submission = gradebook.update_or_create_submission(assignment.name, student)
    for notebook in submission.notebooks:
        cells = answer_cells(folder, notebook.name, assignment.limits)
        answers = {}
        for grade in notebook.grades:
            spec = assignment.checks.get(grade.name)
            if spec is not None:
                grade.auto_score = grading.points(spec)
            else:
                grade.auto_score, answers[grade.name] = _answer_score(cells.get(grade.name))
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        for comment in notebook.comments:
            if comment.name in answers:
                comment.auto_comment = answers[comment.name]
    gradebook.db.commit()


def grade_course(course, assignment=None, students=None, workers: int | None = None, force: bool = False,
                 options: Options = Options(), progress: bool = True, db_url: str | None = None
                 ) -> dict[str, Grading]:
    """Grade ``course``'s submissions of ``assignment`` into its autograded folders and
    gradebook (see the module docstring). Returns {student: Grading}."""
    from nbgrader.api import Gradebook, MissingEntry

    assignment = assignment or load_assignment()
    interpreter_bin_on_path()
    coursedir = course_directory(course)
    db_url = db_url or coursedir.db_url
    with Gradebook(db_url, coursedir.course_id) as gradebook:
        try:
            gradebook.find_assignment(assignment.name)
        except MissingEntry:
            raise CourseError(f"{assignment.name} is not in the gradebook at {db_url}: run "
                              f"'nbgrader generate_assignment {assignment.name}' in the course first") from None
    folders = submitted_folders(coursedir, assignment.name, students)
    ids = assign_ids(folders.values(), name_of=lambda folder: folder.parent.name)
    out_root = Path(coursedir.root) / GRADED_DIR / assignment.name
    source = coursedir.format_path(coursedir.source_directory, ".", assignment.name)
    schemes = scheme_texts(source, assignment)
    failed = []

    def into_course(gradings):
        """autograded/ and the gradebook rows; returns the points given by hand there."""
        with Gradebook(db_url, coursedir.course_id) as gradebook:
            for sid, folder in ids.items():
                student = folder.parent.name
                dest = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment.name))
                try:
                    write_autograded(folder, dest, out_root / sid, schemes, assignment.limits)
                    record_grades(gradebook, assignment, student, gradings[sid], folder, submitted_at(folder))
                except Exception as exc:  # one student's folder or row: the others are still written
                    gradebook.db.rollback()
                    failed.append(f"{student}: {type(exc).__name__}: {exc}")
            return {sid: gradebook_manual_scores(gradebook, assignment, folder.parent.name)
                    for sid, folder in ids.items()}

    gradings = grade_named(ids, out_root, workers, force, options, progress, assignment, after_grading=into_course)
    if failed:
        raise CourseError("graded, but not written into the course for:\n  " + "\n  ".join(failed))
    return {folder.parent.name: gradings[sid] for sid, folder in ids.items()}


def gradebook_manual_scores(gradebook, assignment, student: str) -> dict[str, float]:
    """{grade id: points} of ``student``'s written answers that have a score in the gradebook:
    a grader's (formgrader's ``manual_score``), else nbgrader's own zero for an untouched
    answer. Pending answers are absent."""
    from nbgrader.api import MissingEntry

    try:
        submission = gradebook.find_submission(assignment.name, student)
    except MissingEntry:
        return {}
    given = {}
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            if grade.name not in assignment.manual:
                continue
            if grade.manual_score is not None:
                given[grade.name] = float(grade.manual_score)
            elif grade.auto_score is not None and not grade.needs_manual_grade:
                given[grade.name] = float(grade.auto_score)
    return given


def submitted_at(folder: Path):
    """The submission's time from its timestamp.txt (written by ``nbgrader submit``, so
    the student's): a datetime, or None when absent or unreadable."""
    from nbgrader.utils import parse_utc

    path = folder / "timestamp.txt"
    if path.is_symlink() or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            return parse_utc(handle.read(200).decode("utf-8").strip())
    except (OSError, UnicodeDecodeError, ValueError, OverflowError):
        return None
