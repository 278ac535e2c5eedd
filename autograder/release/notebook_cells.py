"""The standard cells every source notebook has, and builders for nbgrader cells.

One place for the Colab preparation cell and the papermill parameters cell, so
all six notebooks behave the same; tests hold each notebook to them. The cell
builders set nbgrader metadata the way the release command expects (points are
NOT set here: they come from assignment.toml at release time).
"""
import nbformat

COLAB_SETUP = '''\
# Colab preparation: on Google Colab this mounts your Drive, finds the assignment
# folder and fetches the data; anywhere else it does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    # The folder in your Drive that holds this notebook and the cs231n package:
    FOLDERNAME = "cs231n/assignments/assignment3"
    ASSIGNMENT_DIR = os.path.join("/content/drive/My Drive", FOLDERNAME)
    sys.path.append(ASSIGNMENT_DIR)
    os.chdir(ASSIGNMENT_DIR)
    subprocess.run(["bash", "get_datasets.sh"], cwd="cs231n/datasets", check=True)'''

PARAMETERS = '''\
# Parameters: papermill replaces these for headless runs (CI and the autograder).
fast_mode = False  # True: fewer iterations and images, for a quick headless run
device = "auto"  # "auto" (a GPU when there is one), "cpu" or "cuda"
data_root = None  # None: the data under cs231n/datasets'''


def colab_setup_cell():
    return nbformat.v4.new_code_cell(COLAB_SETUP)


def parameters_cell():
    cell = nbformat.v4.new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    return cell


def _meta(grade_id, grade=False, solution=False, locked=False):
    return {"grade": grade, "solution": solution, "locked": locked,
            "grade_id": grade_id, "schema_version": 3}


def markdown(text):
    return nbformat.v4.new_markdown_cell(text)


def code(source):
    return nbformat.v4.new_code_cell(source)


def locked(source, grade_id):
    """A read-only code cell (nbgrader checks it was not edited)."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = _meta(grade_id, locked=True)
    return cell


def solution(source, grade_id):
    """A code cell the student writes; ``source`` holds a BEGIN/END SOLUTION region."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = _meta(grade_id, solution=True)
    return cell


def check(visible_source, check_name):
    """An autograded test cell: the visible check, then the hidden one from the library.

    ``visible_source`` prints relative errors and asserts; the hidden part calls
    ``notebook_check``, whose numeric result nbgrader takes as partial credit.
    The grade id is the check's name in assignment.toml.
    """
    source = (visible_source.rstrip() + "\n\n### BEGIN HIDDEN TESTS\n"
              "from autograder.checks.local import notebook_check\n"
              f"notebook_check({check_name!r})\n### END HIDDEN TESTS")
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = _meta(check_name, grade=True, locked=True)
    return cell


def answer(mark_scheme, grade_id):
    """A manually graded written answer; the mark scheme never reaches students."""
    cell = nbformat.v4.new_markdown_cell(
        f"### BEGIN SOLUTION\n{mark_scheme.strip()}\n### END SOLUTION")
    cell.metadata["nbgrader"] = _meta(grade_id, grade=True, solution=True)
    return cell


def notebook(cells):
    """A notebook with the standard first cells, Python 3 kernel metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [colab_setup_cell(), parameters_cell(), *cells]
    # stable cell ids: releases are byte-for-byte reproducible
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    return nb
