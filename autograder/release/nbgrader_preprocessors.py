"""The nbgrader preprocessors that the course's nbgrader_config.py puts into ``nbgrader
autograde`` and ``nbgrader generate_feedback``.

``python -m autograder nbgrader-course`` writes the configuration (see
``release/build.py``, ``NBGRADER_COURSE_CONFIG``); nothing here edits a
submitted notebook, only nbgrader's working copy of it.

- ``InjectParameters`` sets the notebooks' papermill parameters the way the
  project's grader does: a cell tagged ``injected-parameters`` right after the
  ``parameters`` cell, where papermill puts it. The course autogrades in fast
  mode, and each notebook reads its data from the course's own ``data/``
  folder, so nbgrader copies no data into autograded/ and feedback/.
- ``ClearHiddenTestTracebacks`` completes ClearHiddenTests for feedback: an error's
  traceback quotes the code around the failing line, hidden tests included.
- ``OverwriteLockedCells`` is nbgrader's OverwriteCells without its false alarm:
  a locked test cell is released without its hidden tests, so nbgrader finds
  its checksum "changed" in every submission (about 70 warnings per student).
  A cell whose text is the gradebook's source minus the hidden tests is what
  was released: it is restored silently. Any other change is still reported,
  and every locked cell is still restored from the gradebook, as before.
- ``ShowMarkSchemes`` puts each written answer's mark scheme (from the course's
  source notebooks) in a read-only cell right after the student's answer, so
  that formgrader shows the TA the scheme beside the answer it grades.
  nbgrader's own mechanism (a ``BEGIN MARK SCHEME`` region) works only in
  "task" cells, which carry points of their own; the project's questions are
  graded in their answer cells, so the scheme travels as a cell of its own.
- ``ClearMarkSchemes``, for feedback: removes those cells again, so that
  ``nbgrader generate_feedback`` never hands a mark scheme to a student.

The project's own ``nbgrader-autograde`` adds the same cells to the autograded
notebooks it writes (``add_mark_scheme_cells``).
"""
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Dict

INJECTED_TAG = "injected-parameters"
MARK_SCHEME_KEY = "cs231n_mark_scheme"  # cell metadata key: the grade id whose scheme the cell shows


class InjectParameters(NbGraderPreprocessor):
    """Insert ``name = value`` lines after the ``parameters`` cell: ``parameters`` for every
    notebook, then ``by_notebook[<notebook name without .ipynb>]``."""

    parameters = Dict(help="{name: value} for every notebook (values written as Python literals)"
                      ).tag(config=True)
    by_notebook = Dict(help="{notebook name: {name: value}}, added to (and overriding) parameters"
                       ).tag(config=True)

    def preprocess(self, nb, resources):
        name = resources.get("nbgrader", {}).get("notebook", "")
        values = {**self.parameters, **self.by_notebook.get(name, {})}
        cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
        where = next((k for k, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])),
                     None)
        if values and where is not None:
            lines = ["# Parameters set by the course's nbgrader_config.py (InjectParameters)"]
            lines += [f"{key} = {value!r}" for key, value in values.items()]
            cell = new_code_cell("\n".join(lines))
            cell.metadata["tags"] = [INJECTED_TAG]
            cells.insert(where + 1, cell)
        nb.cells = cells
        return nb, resources


class OverwriteLockedCells(OverwriteCells):
    """OverwriteCells that knows a locked cell is released without its hidden tests."""

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and getattr(self, "_as_released", False):
            return
        super().report_change(name, attr, old, new)

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        self._as_released = False
        if grade_id is not None:
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
                self._as_released = source.locked and cell.source == released_text(source.source, self.config)
            except Exception:  # not in the gradebook: OverwriteCells says so itself
                pass
        try:
            return super().preprocess_cell(cell, resources, cell_index)
        finally:
            self._as_released = False


def released_text(source: str, config=None) -> str:
    """``source`` as generate_assignment releases it: hidden tests removed (with the
    delimiters of ``config``, the course's configuration)."""
    cell = new_code_cell(source)
    ClearHiddenTests(config=config)._remove_hidden_test_region(cell)  # edits the cell in place
    return cell.source


class ClearHiddenTestTracebacks(NbGraderPreprocessor):
    """For feedback: drop hidden-test lines from error tracebacks, which quote the cell's
    code around the failing line (ClearHiddenTests cleans only the cell's source)."""

    def preprocess_cell(self, cell, resources, cell_index):
        clear = ClearHiddenTests(config=self.config)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [without_hidden_lines(entry, clear.begin_test_delimeter,
                                                            clear.end_test_delimeter)
                                       for entry in output.get("traceback", [])]
        return cell, resources


def without_hidden_lines(text: str, begin: str, end: str) -> str:
    """``text`` without its lines from one holding ``begin`` through one holding ``end``
    (to the end of ``text`` when ``end`` is not quoted)."""
    kept, hiding = [], False
    for line in text.split("\n"):
        hiding = hiding or begin in line
        if not hiding:
            kept.append(line)
        if end in line:
            hiding = False
    return "\n".join(kept)


def add_mark_scheme_cells(nb, schemes: dict) -> int:
    """Insert, after each written-answer cell of ``nb`` whose grade id has a scheme in
    ``schemes`` ({grade id: mark scheme text}), a read-only markdown cell showing it.
    Cells this function added before are replaced, never doubled. Returns how many it added."""
    cells, added = [], 0
    for cell in nb.cells:
        if MARK_SCHEME_KEY in cell.get("metadata", {}):
            continue
        cells.append(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if meta.get("solution") and meta.get("grade") and grade_id in schemes:
            shown = new_markdown_cell(f"**Mark scheme for `{grade_id}`** (for graders: "
                                      f"`nbgrader generate_feedback` leaves it out)\n\n{schemes[grade_id]}")
            shown.metadata.update({MARK_SCHEME_KEY: grade_id, "editable": False, "deletable": False})
            cells.append(shown)
            added += 1
    nb.cells = cells
    return added


class ShowMarkSchemes(NbGraderPreprocessor):
    """For autograde: each written answer's mark scheme in a cell after the answer, read from
    the course's source notebooks (``source/<assignment>/``), for formgrader."""

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        assignment_id = resources.get("nbgrader", {}).get("assignment", "")
        coursedir = CourseDirectory(config=self.config)
        add_mark_scheme_cells(nb, scheme_texts(coursedir.format_path(coursedir.source_directory, ".",
                                                                     assignment_id)))
        return nb, resources


_schemes_read = {}  # {source folder: (its notebooks' names and mtimes, {grade id: scheme})}


def scheme_texts(source_dir, assignment=None) -> dict:
    """{grade id: mark scheme text} of ``assignment``'s written answers (default: the
    project's), from the source notebooks in ``source_dir``; read once while they are
    unchanged (nbgrader builds its preprocessors anew for every notebook)."""
    from autograder.assignment import load_assignment
    from autograder.grading.manual import mark_schemes

    assignment = assignment or load_assignment()
    stamp = (tuple(sorted(assignment.manual)),
             tuple((p.name, p.stat().st_mtime_ns) for p in sorted(Path(source_dir).glob("*.ipynb"))))
    if _schemes_read.get(str(source_dir), (None,))[0] != stamp:
        schemes = mark_schemes(assignment, source_dir)
        _schemes_read[str(source_dir)] = (stamp, {gid: scheme for gid, (_, scheme) in schemes.items()})
    return _schemes_read[str(source_dir)][1]


class ClearMarkSchemes(NbGraderPreprocessor):
    """For feedback: drop the cells ``ShowMarkSchemes`` added."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if MARK_SCHEME_KEY not in c.get("metadata", {})]
        return nb, resources
