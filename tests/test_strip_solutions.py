"""Solution regions become stubs; everything else survives; bad markers are named."""
import ast
import textwrap
from pathlib import Path

import pytest

from autograder.assignment import load_assignment
from autograder.release.strip_solutions import SolutionRegionError, count_regions, strip_solutions

ROOT = Path(__file__).resolve().parent.parent

MODULE = textwrap.dedent('''\
    import numpy as np

    def helper(x):
        return x + 1

    class Model:
        def loss(self, x):
            out = None
            # TODO: compute out
            ### BEGIN SOLUTION
            out = helper(x) * 2
            ### END SOLUTION
            return out
    ''')


def test_region_becomes_a_stub_naming_the_method():
    stripped = strip_solutions(MODULE)
    assert "helper(x) * 2" not in stripped and "BEGIN SOLUTION" not in stripped
    assert '        raise NotImplementedError("Model.loss: replace this line with your code")\n' in stripped
    # provided code is untouched, line for line
    kept = [line for line in MODULE.splitlines() if "SOLUTION" not in line and "helper(x) * 2" not in line]
    assert [line for line in stripped.splitlines() if "NotImplementedError" not in line] == kept
    namespace = {}
    exec(compile(stripped, "m", "exec"), namespace)
    assert namespace["helper"](1) == 2
    with pytest.raises(NotImplementedError, match="Model.loss"):
        namespace["Model"]().loss(1)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside the region opened at line 1"),
])
def test_malformed_markers_name_file_and_line(source, message):
    with pytest.raises(SolutionRegionError, match=message) as info:
        strip_solutions(source, "cs231n/broken.py")
    assert str(info.value).startswith("cs231n/broken.py:")


@pytest.mark.parametrize("path", load_assignment().student_files)
def test_every_student_file_has_regions_and_strips_to_valid_python(path):
    source = (ROOT / path).read_text()
    assert count_regions(source) > 0, f"{path} has no solution region"
    ast.parse(strip_solutions(source, path))
