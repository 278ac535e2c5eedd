"""Every notebook runs headlessly under papermill on the sample data, fast mode.

- Source notebooks (reference solutions, visible and hidden checks) run top to
  bottom with every check passing.
- Released notebooks (stubs) run until the first student stub and fail THERE,
  with the stub's NotImplementedError: nothing breaks earlier.
Wall times are printed (pytest -s) and written to out/notebook_times.json.
"""
import json
import os
import shutil
import time

import nbformat
import papermill
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.staging import DATA_PATHS

PARTS = list(load_assignment().parts.values())
TIMES = ROOT / "out" / "notebook_times.json"

pytestmark = pytest.mark.slow


def record_time(key, seconds):
    TIMES.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[key] = round(seconds, 1)
    TIMES.write_text(json.dumps(times, indent=2, sort_keys=True))
    print(f"{key}: {seconds:.1f} s")


def execute(notebook, output, cwd):
    start = time.monotonic()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters={"fast_mode": True},
                                   kernel_name="python3", cwd=str(cwd), progress_bar=False,
                                   execution_timeout=600)
        error = None
    except papermill.PapermillExecutionError as exc:
        error = exc
    return error, time.monotonic() - start


@pytest.mark.parametrize("part", PARTS, ids=[p.id for p in PARTS])
def test_source_notebook_runs_with_every_check_passing(part, tmp_path):
    source = ROOT / "source_notebooks" / part.notebook
    error, seconds = execute(source, tmp_path / part.notebook, source.parent)
    record_time(f"source/{part.notebook}", seconds)
    assert error is None, f"{part.notebook} failed in cell {error.exec_count}: {error.ename}: {error.evalue}"
    executed = nbformat.read(tmp_path / part.notebook, as_version=4)
    graded = [c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    for cell in graded:
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        grade_id = cell.metadata.nbgrader["grade_id"]
        assert f"[{grade_id}]" in printed and "points: passed" in printed, (
            f"{part.notebook}: hidden check {grade_id} did not pass: {printed[-300:]}")


@pytest.fixture(scope="module")
def release_copy(tmp_path_factory):
    """The committed release, with the instructor's sample data linked in."""
    copy = tmp_path_factory.mktemp("release") / "assignment3"
    shutil.copytree(ROOT / "release", copy)
    for relative in DATA_PATHS:
        if (ROOT / relative).exists():
            target = copy / relative
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.symlink(ROOT / relative, target)
    return copy


@pytest.mark.parametrize("part", PARTS, ids=[p.id for p in PARTS])
def test_released_notebook_fails_first_at_a_student_stub(part, release_copy, tmp_path):
    error, seconds = execute(release_copy / part.notebook, tmp_path / part.notebook, release_copy)
    record_time(f"release/{part.notebook}", seconds)
    assert error is not None, f"{part.notebook} ran to the end with stubs: nothing for students to do?"
    assert error.ename == "NotImplementedError", (
        f"{part.notebook} failed before any stub, in cell {error.exec_count}: {error.ename}: {error.evalue}")
