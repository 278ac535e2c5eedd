"""The release pipeline on a tiny assignment: real nbgrader, real stripping,
clear errors that name notebook and cell, and nothing partial written."""
import json

import nbformat
import pytest

from autograder.assignment import parse_assignment
from autograder.release.build import ReleaseError, build_release


def nbgrader_cell(kind, source, grade_id, grade=False, solution=False, locked=False):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"grade": grade, "solution": solution, "locked": locked,
                                 "grade_id": grade_id, "schema_version": 3}
    return cell


def tiny_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny part"),
        nbgrader_cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      "double_impl", solution=True),
        nbgrader_cell("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n"
                      "### END HIDDEN TESTS", "double_check", grade=True, locked=True),
        nbgrader_cell("markdown", "### BEGIN SOLUTION\nMark scheme: mentions linearity.\n### END SOLUTION",
                      "why_answer", grade=True, solution=True),
    ]
    return nb


def tiny_assignment(manual_points=2):
    data = {
        "name": "tiny", "title": "Tiny", "student_files": ["cs231n/rnn_layers.py"],
        "limits": {k: 1 for k in ("notebook_wall_s", "cell_wall_s", "checks_wall_s", "check_wall_s",
                                  "memory_mb", "max_processes", "max_file_mb", "max_output_mb", "max_disk_mb",
                                  "max_upload_mb", "max_upload_files")},
        "parts": [{"id": "tiny", "title": "Tiny", "notebook": "Tiny.ipynb"}],
        "checks": {"double_check": {"part": "tiny", "points": 3,
                                    "covers": ["cs231n/rnn_layers.py:rnn_step_forward"]}},
        "manual": {"why_answer": {"part": "tiny", "points": manual_points}},
    }
    return parse_assignment(data)


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(tiny_notebook(), src / "Tiny.ipynb")
    return src


def test_tiny_release_strips_solutions_and_hidden_tests(tmp_path, sources):
    out = build_release(tmp_path / "release", sources, tiny_assignment())
    text = (out / "Tiny.ipynb").read_text()
    assert "2 * x" not in text and "double(-3)" not in text and "Mark scheme" not in text
    assert "raise NotImplementedError()" in text and "assert double(2) == 4" in text
    nb = nbformat.read(out / "Tiny.ipynb", as_version=4)
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points")
              for c in nb.cells if "nbgrader" in c.metadata}
    assert points["double_check"] == 3 and points["why_answer"] == 2
    stub = (out / "cs231n" / "rnn_layers.py").read_text()
    assert "BEGIN SOLUTION" not in stub and "NotImplementedError" in stub
    assert (out / "submission_files.txt").read_text().splitlines()[1:] == ["Tiny.ipynb", "cs231n/rnn_layers.py"]


def test_release_into_a_folder_that_does_not_exist_yet(tmp_path, sources):
    out = build_release(tmp_path / "fresh" / "clone" / "release", sources, tiny_assignment())
    assert (out / "Tiny.ipynb").exists()


def test_release_is_deterministic(tmp_path, sources):
    first = build_release(tmp_path / "a", sources, tiny_assignment())
    second = build_release(tmp_path / "b", sources, tiny_assignment())
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def break_notebook(sources, edit):
    path = sources / "Tiny.ipynb"
    nb = json.loads(path.read_text())
    edit(nb["cells"])
    path.write_text(json.dumps(nb))


@pytest.mark.parametrize("edit, message", [
    (lambda cells: cells[2]["metadata"]["nbgrader"].pop("grade_id"), r"Tiny.ipynb, cell 2 .*lacks \['grade_id'\]"),
    (lambda cells: cells[2]["metadata"]["nbgrader"].update(grade="yes"), r"Tiny.ipynb, cell 2 .*true/false"),
    (lambda cells: cells[3]["metadata"]["nbgrader"].update(grade_id="double_check"),
     r"Tiny.ipynb, cell 3 .*duplicate grade_id 'double_check' \(also Tiny.ipynb, cell 2"),
    (lambda cells: cells[2]["metadata"]["nbgrader"].update(grade_id="unknown_check"),
     r"Tiny.ipynb, cell 2 .*'unknown_check' has no points"),
])
def test_bad_sources_stop_with_the_cell_named_and_nothing_written(tmp_path, sources, edit, message):
    out = tmp_path / "release"
    out.mkdir()
    (out / "previous.txt").write_text("old kit")
    break_notebook(sources, edit)
    with pytest.raises(ReleaseError, match=message):
        build_release(out, sources, tiny_assignment())
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
    assert not list(tmp_path.glob("release-*")), "a temporary build folder was left behind"


def test_invalid_notebook_json_is_named(tmp_path, sources):
    (sources / "Tiny.ipynb").write_text("{not json")
    with pytest.raises(ReleaseError, match="Tiny.ipynb: not a valid notebook"):
        build_release(tmp_path / "release", sources, tiny_assignment())
