"""The release command: source notebooks + reference package -> student kit.

    python -m autograder.release.build [--out release]

A pipeline of small steps, like nbgrader's preprocessors:

1. read the source notebooks named in assignment.toml and validate their
   nbgrader cells (malformed metadata, duplicate grade ids, grade cells with no
   points in assignment.toml): any problem stops the command with a message
   naming the notebook and the cell, before anything is written;
2. write each grade cell's points from assignment.toml (the one place for them);
3. stage a real nbgrader course in a temporary folder: the notebooks, and the
   ``cs231n`` package with every solution region replaced by a stub;
4. run ``nbgrader generate_assignment`` on it (solutions, hidden tests and mark
   schemes leave the notebooks there);
5. add the student files (instructions, submission helper, environment), audit
   the result for anything that must not reach students, and only then replace
   ``release/`` with it in one rename.

The output is deterministic: the same sources give byte-identical files.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.assignment import ROOT, load_assignment
from autograder.release import environments
from autograder.release.notebook_cells import KIT_MARKER
from autograder.release.strip_solutions import strip_solutions

SOURCE_DIR = ROOT / "source_notebooks"
PACKAGE_DIR = ROOT / "cs231n"
ASSIGNMENT_DIR = ROOT / "assignment"
# Files from assignment/ that ship to students, and their names in the kit.
KIT_FILES = {"STUDENT_README.md": "README.md", "collect_submission.py": "collect_submission.py",
             "self_check.py": "self_check.py"}
PACKAGE_SUFFIXES = {".py", ".sh"}
# Text that must never appear in a released file.
FORBIDDEN = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS",
             "### END HIDDEN TESTS", "### BEGIN MARK SCHEME", "import autograder", "from autograder")
NBGRADER_KEYS = {"grade", "solution", "locked", "grade_id", "schema_version"}


class ReleaseError(ValueError):
    """A source problem that stops the release; the message names where."""


# -- step 1: read and validate ---------------------------------------------

def read_notebook(path):
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except FileNotFoundError:
        raise ReleaseError(f"{path.name}: source notebook not found in {path.parent}") from None
    except Exception as exc:  # invalid JSON or schema
        raise ReleaseError(f"{path.name}: not a valid notebook: {exc}") from None
    return nb


def cell_label(notebook, index, cell):
    first = (cell.source.strip().splitlines() or [""])[0][:50]
    return f"{notebook}, cell {index} ({cell.cell_type}: {first!r})"


def validate_cells(nb, notebook, assignment, seen):
    """Check every nbgrader cell of ``nb``; ``seen`` maps grade ids to where they were."""
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        where = cell_label(notebook, index, cell)
        missing = NBGRADER_KEYS - set(meta)
        if missing:
            raise ReleaseError(f"{where}: nbgrader metadata lacks {sorted(missing)}")
        if not all(isinstance(meta[k], bool) for k in ("grade", "solution", "locked")):
            raise ReleaseError(f"{where}: nbgrader 'grade', 'solution' and 'locked' must be true/false")
        grade_id = meta["grade_id"]
        if not isinstance(grade_id, str) or not grade_id.strip():
            raise ReleaseError(f"{where}: nbgrader grade_id must be a non-empty string")
        if grade_id in seen:
            raise ReleaseError(f"{where}: duplicate grade_id '{grade_id}' (also {seen[grade_id]})")
        seen[grade_id] = where
        if meta["grade"] and assignment.points_of(grade_id) is None:
            raise ReleaseError(f"{where}: grade_id '{grade_id}' has no points in "
                               "assignment/assignment.toml ([checks.*] or [manual.*])")
        if meta["solution"] and cell.cell_type == "code" and "### BEGIN SOLUTION" not in cell.source:
            raise ReleaseError(f"{where}: a solution cell needs a '### BEGIN SOLUTION' region")


def load_sources(assignment, source_dir=SOURCE_DIR):
    """Read and validate every part's source notebook: {filename: notebook}."""
    notebooks, seen = {}, {}
    for part in assignment.parts.values():
        nb = read_notebook(source_dir / part.notebook)
        validate_cells(nb, part.notebook, assignment, seen)
        notebooks[part.notebook] = nb
    ungraded = [g for g in list(assignment.checks) + list(assignment.manual)
                if g not in seen and assignment.points_of(g)]
    if ungraded:
        raise ReleaseError("assignment.toml gives points to grade ids no notebook cell has: "
                           + ", ".join(sorted(ungraded)))
    return notebooks


# -- step 2: points ------------------------------------------------------------

def inject_points(nb, assignment):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and meta["grade"]:
            meta["points"] = assignment.points_of(meta["grade_id"])
    return nb


# -- step 3: stage the nbgrader course ----------------------------------------------

def copy_stripped_package(target, package_dir=PACKAGE_DIR, assignment=None):
    """Copy the package's source files with solution regions stubbed (not those of the
    parts ``assignment`` omits)."""
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if path.suffix not in PACKAGE_SUFFIXES or "__pycache__" in relative.parts:
            continue
        if assignment is not None and assignment.is_omitted_file(f"cs231n/{relative.as_posix()}"):
            continue
        out = target / "cs231n" / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        out.write_text(strip_solutions(text, f"cs231n/{relative}") if path.suffix == ".py" else text)
        shutil.copymode(path, out)


def stage_course(course_root, notebooks, assignment):
    source = course_root / "source" / assignment.name
    source.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, source / name)
    copy_stripped_package(source, assignment=assignment)
    # The file by which the notebooks' Colab cell finds the assignment folder in a
    # student's Drive: in the course's source/, so that both the kit and a release made
    # with nbgrader generate_assignment have it in their top folder.
    shutil.copy(ASSIGNMENT_DIR / KIT_MARKER, source / KIT_MARKER)
    config = (ASSIGNMENT_DIR / "nbgrader_config.py").read_text()
    # nbgrader's autograde copies every non-notebook file of source/ over the
    # submission; the files students edit must keep the student's version.
    config += ("\n# Generated from assignment.toml's student_files by the release command.\n"
               f"c.Autograde.exclude_overwriting = {{{assignment.name!r}: {list(assignment.student_files)!r}}}\n")
    (course_root / "nbgrader_config.py").write_text(config)


# -- step 4: nbgrader ----------------------------------------------------------------

def run_nbgrader_generate(course_root, assignment):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment.name,
         "--force", "--no-db", "--CourseDirectory.root=" + str(course_root)],
        cwd=course_root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return course_root / "release" / assignment.name


# -- step 5: finish, audit, swap ------------------------------------------------------------

def add_kit_files(kit, assignment):
    for source_name, kit_name in KIT_FILES.items():
        shutil.copy(ASSIGNMENT_DIR / source_name, kit / kit_name)
    for name, text in environments.student_files().items():
        (kit / name).write_text(text)
    names = [p.notebook for p in assignment.parts.values()] + list(assignment.student_files)
    (kit / "submission_files.txt").write_text(
        "# Generated from assignment/assignment.toml: what collect_submission.py packs.\n"
        + "".join(f"{n}\n" for n in names))


def audit(kit):
    """Raise ReleaseError if anything that must not reach students is in ``kit``."""
    for path in sorted(kit.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".sh", ".md", ".yml"}:
            text = path.read_text()
            for marker in FORBIDDEN:
                if marker in text:
                    raise ReleaseError(f"release/{path.relative_to(kit)} contains {marker!r}")


def build_release(out=ROOT / "release", source_dir=SOURCE_DIR, assignment=None):
    """Build the student kit into ``out`` (replaced whole, only on success)."""
    assignment = assignment or load_assignment()
    notebooks = {n: inject_points(nb, assignment)
                 for n, nb in load_sources(assignment, source_dir).items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-", dir=out.parent) as tmp:
        course_root = Path(tmp) / "course"
        stage_course(course_root, notebooks, assignment)
        kit = run_nbgrader_generate(course_root, assignment)
        add_kit_files(kit, assignment)
        audit(kit)
        staged = Path(tmp) / "kit"
        shutil.move(str(kit), staged)
        if out.exists():
            old = Path(tmp) / "old"
            out.rename(old)
        staged.rename(out)
    return out


COURSE_DATA = "data"
# Where each notebook's ``data_root`` parameter points, under the course's data/: the
# captioning notebooks read the COCO folder, Network_Visualization the folder holding
# imagenet_val_25.npz, the GAN notebook torchvision's MNIST root, Self_Supervised_Learning
# torchvision's CIFAR-10 root (the folder holding cifar-10-batches-py/).
NOTEBOOK_DATA = {"RNN_Captioning": "coco_captioning", "LSTM_Captioning": "coco_captioning",
                 "Transformer_Captioning": "coco_captioning", "RNN_LSTM_Theory": "coco_captioning",
                 "Network_Visualization": ".", "Generative_Adversarial_Networks": "MNIST_data",
                 "Self_Supervised_Learning": "."}


def autograde_config() -> str:
    """The course configuration's autograding part (autograder/release/nbgrader_preprocessors.py):
    fast mode and the course's data/ for every notebook, locked cells restored without false
    checksum alarms, mark schemes beside the written answers for formgrader, feedback
    without hidden test code or mark schemes."""
    return f"""
# Autograding, written by `python -m autograder nbgrader-course`: notebooks run in fast mode
# on this course's data/ folder (InjectParameters, as papermill sets parameters), locked
# cells are restored without false checksum alarms (OverwriteLockedCells), formgrader shows
# each written answer's mark scheme after it (ShowMarkSchemes), and feedback pages show no
# hidden test code and no mark scheme (ClearHiddenTests, ClearMarkSchemes). Set fast_mode
# to False for full runs.
import os as _os
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor as _CSSHeader
from nbgrader.preprocessors import (CheckCellMetadata as _CheckMetadata, ClearHiddenTests as _ClearHidden,
                                    ClearOutput as _ClearOutput, DeduplicateIds as _DeduplicateIds,
                                    GetGrades as _GetGrades, OverwriteKernelspec as _OverwriteKernelspec)
try:
    from autograder.release.nbgrader_preprocessors import (ClearHiddenTestTracebacks, ClearMarkSchemes,
                                                           InjectParameters, OverwriteLockedCells,
                                                           ShowMarkSchemes)
except ImportError as _error:
    # nbgrader ignores a configuration file that raises, and then autograde would copy the
    # stubbed package over every student's files: stop instead, and say why.
    import sys as _sys
    _sys.stderr.write(f"nbgrader_config.py: {{_error}}: run nbgrader from the project's environment "
                      "(scripts/nbgrader.sh), where setup installed the autograder package\\n")
    if "autograde" in " ".join(_sys.argv):
        _os._exit(2)
    raise
_data = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), {COURSE_DATA!r})
c.Autograde.sanitize_preprocessors = [_ClearOutput, _DeduplicateIds, _OverwriteKernelspec, OverwriteLockedCells,
                                      _CheckMetadata, InjectParameters, ShowMarkSchemes]
c.InjectParameters.parameters = {{"fast_mode": True}}
c.InjectParameters.by_notebook = {{name: {{"data_root": _os.path.normpath(_os.path.join(_data, folder))}}
                                  for name, folder in {NOTEBOOK_DATA!r}.items()}}
c.GenerateFeedback.preprocessors = [_GetGrades, _CSSHeader, _ClearHidden, ClearHiddenTestTracebacks,
                                    ClearMarkSchemes]
"""


COURSE_SEED_FILE = "grader_seed.txt"
COURSE_SEED_CONFIG = """
# The grading seed of the hidden inputs: this course's own, drawn when the course
# was staged (grader_seed.txt beside this file, never released), unless
# CS231N_GRADER_SEED is set. Kernels that nbgrader starts inherit it.
import os as _os
_seed_file = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "grader_seed.txt")
if "CS231N_GRADER_SEED" not in _os.environ and _os.path.isfile(_seed_file):
    with open(_seed_file) as _handle:
        _os.environ["CS231N_GRADER_SEED"] = _handle.read().strip()
"""


def write_course_seed(course_root) -> int:
    """The course's secret grading seed (drawn once, kept in grader_seed.txt), wired into
    its nbgrader_config.py so that nbgrader's hidden tests draw their inputs from it."""
    import secrets

    path = Path(course_root) / COURSE_SEED_FILE
    if not path.is_file():
        path.write_text(f"{secrets.randbelow(2 ** 31)}\n")
    config = Path(course_root) / "nbgrader_config.py"
    config.write_text(config.read_text() + COURSE_SEED_CONFIG)
    return course_seed(course_root)


def course_seed(course_root) -> int | None:
    """The seed in ``course_root``'s grader_seed.txt, or None when there is none."""
    path = Path(course_root) / COURSE_SEED_FILE
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def make_nbgrader_course(course_root, source_dir=SOURCE_DIR, assignment=None):
    """An nbgrader course folder for grading with nbgrader itself.

    ``course_root/source/<assignment>/`` gets the validated source notebooks with
    points and the package with solutions stubbed; the instructor then runs
    ``nbgrader generate_assignment``, ``autograde`` and ``generate_feedback``
    there (README, "Grading with nbgrader"). Hidden test cells import the check
    library from this repository's installed ``autograder`` package.

    The course also gets: ``data/`` with the sample data (outside source/, so
    nbgrader copies it into no autograded or feedback folder), a secret grading
    seed (``write_course_seed``), and the autograding part of its configuration
    (``autograde_config``: fast mode, data_root, quiet locked cells, feedback
    without hidden tests).
    """
    assignment = assignment or load_assignment()
    notebooks = {n: inject_points(nb, assignment)
                 for n, nb in load_sources(assignment, source_dir).items()}
    course_root = Path(course_root)
    if (course_root / "source" / assignment.name).exists():
        shutil.rmtree(course_root / "source" / assignment.name)
    stage_course(course_root, notebooks, assignment)
    write_course_seed(course_root)
    (course_root / "nbgrader_config.py").write_text((course_root / "nbgrader_config.py").read_text()
                                                    + autograde_config())
    # The data goes to the course's own data/ (each notebook's data_root points there),
    # not into source/, whose files nbgrader copies into every autograded folder.
    from autograder.grading.staging import DATA_PATHS
    for relative in DATA_PATHS:
        data, target = ROOT / relative, course_root / COURSE_DATA / Path(relative).name
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if data.is_dir():
            shutil.copytree(data, target)
        elif data.is_file():
            shutil.copy(data, target)
    return course_root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "release"), help="where the student kit goes")
    args = parser.parse_args(argv)
    try:
        out = build_release(Path(args.out).resolve())
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    (ROOT / "environment.yml").write_text(environments.instructor_environment_yml())
    print(f"release: wrote the student kit to {out} and the instructor's environment.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
