"""Every notebook's rel_error says plainly when shapes differ (a student whose
array has the wrong shape reads the shapes, not a broadcasting traceback from
inside rel_error), and still measures the relative error when they agree."""
import ast

import nbformat
import numpy as np
import pytest

from autograder.assignment import ROOT, load_assignment

NOTEBOOKS = [p.notebook for p in load_assignment().parts.values()]


def notebook_rel_error(path):
    """The rel_error a notebook defines, compiled alone (None if it defines none)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or "def rel_error" not in cell.source:
            continue
        lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        for node in ast.parse("\n".join(lines)).body:
            if isinstance(node, ast.FunctionDef) and node.name == "rel_error":
                namespace = {"np": np}
                exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
                return namespace["rel_error"]
    return None


def rel_errors():
    from cs231n.gan_pytorch import rel_error as gan_rel_error

    found = [(f"{folder}/{nb}", notebook_rel_error(ROOT / folder / nb))
             for folder in ("source_notebooks", "release") for nb in NOTEBOOKS]
    return [(name, fn) for name, fn in found if fn is not None] + [("gan_pytorch.rel_error", gan_rel_error)]


@pytest.mark.parametrize("name, rel_error", rel_errors(), ids=[n for n, _ in rel_errors()])
def test_rel_error_names_differing_shapes(name, rel_error):
    with pytest.raises(ValueError, match=r"shapes differ.*\(3, 4\).*\(4, 3\)"):
        rel_error(np.ones((3, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones((3, 1)), np.ones(3))  # would broadcast silently
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)


def test_most_notebooks_define_rel_error():
    assert len([n for n, _ in rel_errors() if n.startswith("source_notebooks/")]) >= 5
