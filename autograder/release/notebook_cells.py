"""The standard cells every source notebook has, and builders for nbgrader cells.

One place for the Colab preparation cell and the papermill parameters cell, so
all six notebooks behave the same; tests hold each notebook to them. The cell
builders set nbgrader metadata the way the release command expects (points are
NOT set here: they come from assignment.toml at release time).
"""
import nbformat

# The file that marks the kit's top folder (release/ holds it; build.py's KIT_FILES):
# the Colab cell finds the assignment in a student's Drive by it, wherever it was put.
KIT_MARKER = "CS231N_ASSIGNMENT3_KIT.txt"

# The Drive search must be in the cell (nothing from the kit can be imported before
# the kit is found); the rest is cs231n/colab_setup.py (why: its docstring).
COLAB_SETUP = '''\
# Colab setup: on Google Colab this cell mounts your Google Drive, finds the assignment
# folder in it (the folder holding CS231N_ASSIGNMENT3_KIT.txt), works from there, checks
# the installed torch, torchvision and numpy, and downloads the data the first time.
# Anywhere else it does nothing.
KIT_FOLDER = None  # if the search fails: the folder's path in your Drive, e.g. "cs231n/assignment3"

import os
import sys


def find_kit_folder(root, kit_folder=None, marker="CS231N_ASSIGNMENT3_KIT.txt", max_depth=5):
    \"\"\"kit_folder (relative to root, or absolute) if given; else the one folder at most
    max_depth levels below root that holds the marker file (hidden folders are skipped).\"\"\"
    if kit_folder:
        folder = os.path.join(root, kit_folder)
        if not os.path.isfile(os.path.join(folder, marker)):
            raise FileNotFoundError(f"KIT_FOLDER is {kit_folder!r}, but {folder} holds no {marker}. "
                                    "Set KIT_FOLDER to the folder with the notebooks and that file.")
        return folder
    root, found = os.path.normpath(root), []
    for folder, subfolders, files in os.walk(root):
        if marker in files:
            found.append(folder)
        if marker in files or folder[len(root):].count(os.sep) >= max_depth:
            subfolders.clear()  # never inside a copy of the kit, never deeper than max_depth
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name != "Trash")
    if not found:
        raise FileNotFoundError(f"No folder in {root} (up to {max_depth} levels down) holds {marker}. "
                                "Upload the whole assignment folder to your Google Drive, or set KIT_FOLDER "
                                "at the top of this cell to its path, then run this cell again.")
    if len(found) > 1:
        raise RuntimeError(f"{len(found)} copies of the assignment are in {root}:\\n  " + "\\n  ".join(found)
                           + "\\nSet KIT_FOLDER at the top of this cell to the one you work in, "
                           "then run this cell again.")
    return found[0]


if "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    print("Looking for the assignment folder in your Drive ...")
    ASSIGNMENT_DIR = find_kit_folder("/content/drive/MyDrive", KIT_FOLDER)
    print("Assignment folder:", ASSIGNMENT_DIR)
    os.chdir(ASSIGNMENT_DIR)
    if ASSIGNMENT_DIR not in sys.path:
        sys.path.insert(0, ASSIGNMENT_DIR)
    from cs231n.colab_setup import prepare_colab

    prepare_colab(ASSIGNMENT_DIR)'''

PARAMETERS = '''\
# Parameters: papermill replaces these for headless runs (CI and the autograder).
fast_mode = False  # True: fewer iterations and images, for a quick headless run
device = "auto"  # "auto" (a GPU when there is one), "cpu" or "cuda"
data_root = None  # None: the data under cs231n/datasets'''


COLAB_SETUP_TAG = "colab-setup"  # self_check.py leaves this cell out of its runs


def colab_setup_cell():
    cell = nbformat.v4.new_code_cell(COLAB_SETUP)
    cell.metadata["tags"] = [COLAB_SETUP_TAG]
    return cell


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
