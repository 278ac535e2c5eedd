"""Demo submissions made from the sources, as a student's zip would hold them.

- ``reference``: every notebook and editable file done as the reference does
  (source notebooks without their hidden tests, reference cs231n files);
- ``untouched``: the release exactly as students receive it;
- ``one_bug``: the reference with one known bug in one graded function.

Used by the demo command, the grader's tests and the benchmarks.
"""
import re
import zipfile
from pathlib import Path

import nbformat

from autograder.assignment import ROOT, load_assignment
from autograder.release.build import inject_points

SOURCE_DIR = ROOT / "source_notebooks"
_HIDDEN = re.compile(r"\n?### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)

# The demo's known bug: the LSTM's forget and input gates swapped (a classic).
KNOWN_BUG = ("cs231n/rnn_layers.py",
             "i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]",
             "f, i, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]")


def without_hidden_tests(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _HIDDEN.sub("\n", cell.source).rstrip()
    return nb


def _notebook_bytes(path, strip_hidden, assignment):
    nb = nbformat.read(path, as_version=4)
    if strip_hidden:
        # what a student hands in: the released notebook (points in its grade
        # cells, no hidden tests) with the work done
        without_hidden_tests(inject_points(nb, assignment))
    return nbformat.writes(nb).encode()


def _write_zip(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def reference_files(assignment):
    files = {p.notebook: _notebook_bytes(SOURCE_DIR / p.notebook, True, assignment)
             for p in assignment.parts.values()}
    files.update({f: (ROOT / f).read_bytes() for f in assignment.student_files})
    return files


def release_files(assignment, release_dir):
    names = [p.notebook for p in assignment.parts.values()] + list(assignment.student_files)
    return {n: (Path(release_dir) / n).read_bytes() for n in names}


def with_bug(files, bug=KNOWN_BUG):
    path, old, new = bug
    text = files[path].decode()
    if text.count(old) != 1:
        raise ValueError(f"the demo bug's text occurs {text.count(old)} times in {path}; update KNOWN_BUG")
    return {**files, path: text.replace(old, new).encode()}


def make_demo_submissions(folder, release_dir, assignment=None):
    """Write reference.zip, untouched.zip and one_bug.zip into ``folder``."""
    assignment = assignment or load_assignment()
    folder = Path(folder)
    reference = reference_files(assignment)
    return [
        _write_zip(folder / "reference.zip", reference),
        _write_zip(folder / "untouched.zip", release_files(assignment, release_dir)),
        _write_zip(folder / "one_bug.zip", with_bug(reference)),
    ]
