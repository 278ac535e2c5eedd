"""The committed student release: up to date, free of answers, helpers intact."""
import ast
import re

import nbformat
import numpy as np
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.reference import package_modules, reference_modules
from autograder.release.build import FORBIDDEN, build_release
from autograder.release.strip_solutions import BEGIN, END, strip_solutions

RELEASE = ROOT / "release"
ASSIGNMENT = load_assignment()


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    return build_release(tmp_path_factory.mktemp("fresh") / "release")


def files_of(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_committed_release_matches_what_the_sources_generate(fresh_release):
    assert files_of(RELEASE) == files_of(fresh_release), \
        "release/ has other files: run python -m autograder.release.build"
    stale = [str(rel) for rel in files_of(fresh_release)
             if (RELEASE / rel).read_bytes() != (fresh_release / rel).read_bytes()]
    assert not stale, f"release/ is out of date ({', '.join(stale)}): run python -m autograder.release.build"


def solution_lines(text):
    """Non-trivial lines inside solution regions."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT / "cs231n").as_posix()
                                        for p in (ROOT / "cs231n").rglob("*.py")))
def test_package_files_are_the_reference_with_regions_stubbed(path):
    reference = (ROOT / "cs231n" / path).read_text()
    released = (RELEASE / "cs231n" / path).read_text()
    assert released == strip_solutions(reference, path)
    # A leaked statement would stand on a line of its own; a docstring may quote a
    # formula inside a sentence (SPEC-level math), which is not a leak.
    released_lines = {line.strip() for line in released.splitlines()}
    provided = {line.strip() for line in strip_solutions(reference, path).splitlines()}
    for line in solution_lines(reference):
        if line not in provided:  # identical lines may also appear in provided code
            assert line not in released_lines, f"solution code leaked into release/cs231n/{path}: {line}"


def test_every_student_file_is_stubbed():
    for path in ASSIGNMENT.student_files:
        released = (RELEASE / path).read_text()
        assert "NotImplementedError" in released and BEGIN not in released, path


@pytest.mark.parametrize("part", list(ASSIGNMENT.parts.values()), ids=list(ASSIGNMENT.parts))
def test_notebooks_hold_no_solutions_hidden_tests_or_mark_schemes(part):
    source = nbformat.read(ROOT / "source_notebooks" / part.notebook, as_version=4)
    released = (RELEASE / part.notebook).read_text()
    for marker in (*FORBIDDEN, "notebook_check"):
        assert marker not in released, f"{part.notebook} contains {marker!r}"
    for cell in source.cells:
        region = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.DOTALL)
        if region:
            for line in region.group(1).splitlines():
                if len(line.strip()) > 15:
                    assert line.strip() not in released, f"{part.notebook}: solution text leaked: {line.strip()}"


def provided_functions(path):
    """Names of top-level functions and classes with no solution region inside."""
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body = "\n".join(lines[node.lineno - 1:node.end_lineno])
            if BEGIN not in body:
                names.append(node.name)
    return names


def test_provided_numpy_helpers_behave_exactly_like_the_reference():
    released = package_modules(RELEASE, ["rnn_layers"]).rnn_layers
    reference = reference_modules(["rnn_layers"]).rnn_layers
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    y, mask = rng.integers(0, 5, size=(2, 3)), rng.random((2, 3)) > 0.3
    for name, args in [("sigmoid", (x,)), ("temporal_affine_forward", (x, w, b)),
                       ("affine_forward", (x[:, 0], w, b))]:
        got, want = getattr(released, name)(*args), getattr(reference, name)(*args)
        np.testing.assert_array_equal(got[0] if isinstance(got, tuple) else got,
                                      want[0] if isinstance(want, tuple) else want)
    scores = rng.standard_normal((2, 3, 5))
    np.testing.assert_array_equal(released.temporal_softmax_loss(scores, y, mask)[1],
                                  reference.temporal_softmax_loss(scores, y, mask)[1])


@pytest.mark.parametrize("path", ASSIGNMENT.student_files)
def test_provided_definitions_in_student_files_are_intact(path):
    released = ast.parse((RELEASE / path).read_text())
    released_defs = {n.name: ast.dump(n) for n in released.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    reference = ast.parse((ROOT / path).read_text())
    for node in reference.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in provided_functions(path):
            assert released_defs.get(node.name) == ast.dump(node), f"{path}: provided {node.name} changed"
