"""The kit's self_check.py, run as a student runs it: real kernels, on copies of the real release.

Each kit is a copy of release/ with the project's sample data linked in; the
script runs there as a subprocess with this interpreter, and the tests read
what it printed and its exit status. What the tables should say is read
independently: grade cells and points from the notebooks' JSON, cell numbers
from a plain nbclient run, which checks a bug touches from assignment.toml.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.assignment import ROOT, load_assignment
from autograder.grading.staging import DATA_PATHS
from autograder.release.demo_submissions import KNOWN_BUG, reference_files, with_bug

pytestmark = pytest.mark.slow

RELEASE = ROOT / "release"
ASSIGNMENT = load_assignment()
THEORY, LSTM, RNN = "RNN_LSTM_Theory.ipynb", "LSTM_Captioning.ipynb", "RNN_Captioning.ipynb"
# One row of a table: In [n], grade id, points, result, detail.
ROW = re.compile(r"^  In \[(\d+)\] +(\S+) +([\d.]+)  (passed|FAILED|not run)(?: +(.*))?$")


def make_kit(folder):
    """A fresh copy of the student kit with the sample data linked where the kit reads it."""
    kit = shutil.copytree(RELEASE, folder / "assignment3", ignore=shutil.ignore_patterns("__pycache__"))
    for relative in DATA_PATHS:
        (kit / relative).symlink_to(ROOT / relative)
    return kit


def self_check(kit, *parts):
    """Run the kit's script as a student does; return (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the kit's own cs231n, as at home
    done = subprocess.run([sys.executable, "self_check.py", *parts], cwd=kit, capture_output=True, text=True,
                          timeout=300, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def tables(output):
    """{notebook: {grade id: (n of In [n], points, result, detail)}} as printed."""
    found, current = {}, None
    for line in output.splitlines():
        if line.endswith(".ipynb") and not line.startswith(" "):
            current = found.setdefault(line, {})
        elif (match := ROW.match(line)) and current is not None:
            number, grade_id, points, result, detail = match.groups()
            current[grade_id] = (int(number), float(points), result, detail or "")
    return found


def visible_checks(path):
    """{grade id: points} of the code cells nbgrader grades, read from the notebook's JSON."""
    cells = json.loads(path.read_text())["cells"]
    return {cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"] for cell in cells
            if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("grade")
            and cell["metadata"]["nbgrader"].get("points")}


def summary(checks, passed):
    points = sum(checks.values())
    won = sum(checks[name] for name in passed)
    return f"passed {len(passed)} of {len(checks)} visible checks, {won:g} of {points:g} points at stake"


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    """The untouched kit's theory notebook checked once: (kit, notebook bytes before, status, stdout)."""
    kit = make_kit(tmp_path_factory.mktemp("untouched"))
    before = {path.name: path.read_bytes() for path in kit.glob("*.ipynb")}
    status, output, _ = self_check(kit, THEORY)
    return kit, before, status, output


def test_untouched_theory_fails_every_check_at_its_stub(untouched):
    kit, _, status, output = untouched
    checks = visible_checks(kit / THEORY)
    assert len(checks) >= 4  # the count below means something
    assert status == 1
    assert f"running {THEORY} (fast mode) ..." in output
    rows = tables(output)[THEORY]
    assert set(rows) == set(checks)
    for grade_id, (_, points, result, detail) in rows.items():
        assert points == checks[grade_id]
        assert result in ("FAILED", "not run") and detail.startswith("NotImplementedError: "), rows[grade_id]
    assert summary(checks, []) in output
    assert "visible checks only" in output and "hidden checks" in output and "by hand" in output


def test_the_students_notebooks_are_left_byte_for_byte(untouched):
    kit, before, _, output = untouched
    assert tables(output)[THEORY]  # it did run
    assert {path.name: path.read_bytes() for path in kit.glob("*.ipynb")} == before
    assert not [path.name for path in kit.iterdir() if path.name.endswith(".ipynb") and path.name not in before]


def test_cell_numbers_are_what_jupyter_shows_after_restart_and_run_all(untouched):
    kit, _, _, output = untouched
    # A plain run of the unmodified notebook, every cell even after errors, numbers the cells
    # as Jupyter does.
    notebook = nbformat.read(kit / THEORY, as_version=4)
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120,
                   resources={"metadata": {"path": str(kit)}}).execute()
    expected = {cell.metadata.nbgrader["grade_id"]: cell.execution_count for cell in notebook.cells
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}
    reported = {grade_id: row[0] for grade_id, row in tables(output)[THEORY].items()}
    assert reported == expected


def test_the_reference_solution_passes_every_check_and_exits_0(tmp_path):
    kit = make_kit(tmp_path)
    for name, data in reference_files(ASSIGNMENT).items():
        (kit / name).write_bytes(data)
    notebook = json.loads((kit / THEORY).read_text())
    assert notebook["cells"][0]["metadata"]["tags"] == ["colab-setup"]
    notebook["cells"][0]["source"] = "raise RuntimeError('the Colab set-up cell ran')"  # it must not run
    (kit / THEORY).write_text(json.dumps(notebook))
    status, output, _ = self_check(kit, THEORY)
    assert "the Colab set-up cell ran" not in output
    checks = visible_checks(kit / THEORY)
    rows = tables(output)[THEORY]
    assert set(rows) == set(checks)
    assert {grade_id: row[2] for grade_id, row in rows.items()} == dict.fromkeys(checks, "passed")
    assert summary(checks, checks) in output
    assert status == 0


def test_one_bug_fails_exactly_the_checks_that_cover_it(tmp_path):
    kit = make_kit(tmp_path)
    for name, data in with_bug(reference_files(ASSIGNMENT)).items():
        (kit / name).write_bytes(data)
    target = f"{KNOWN_BUG[0]}:lstm_step_forward"
    status, output, _ = self_check(kit, "lstm", "rnn")  # two parts, by their short names
    assert status == 1
    printed = tables(output)
    assert list(printed) == [LSTM, RNN]
    for notebook, rows in printed.items():
        checks = visible_checks(kit / notebook)
        assert set(rows) == set(checks)
        touched = {name for name in checks if target in ASSIGNMENT.checks[name].covers}
        failed = {name for name, row in rows.items() if row[2] != "passed"}
        assert failed == touched, notebook
        for name in failed:  # a real verdict on the student's values, not a stub or a crash
            assert rows[name][2] == "FAILED" and rows[name][3].startswith("AssertionError: "), rows[name]
    assert "lstm_step_forward" in {name for name, row in printed[LSTM].items() if row[2] == "FAILED"}
    assert printed[RNN] and all(row[2] == "passed" for row in printed[RNN].values())


def test_an_unknown_part_exits_2_and_lists_the_parts(tmp_path):
    kit = make_kit(tmp_path)
    status, output, errors = self_check(kit, "rnn", "no_such_part")
    assert status == 2
    assert output == ""  # nothing ran
    assert "'no_such_part'" in errors
    for part in ASSIGNMENT.parts.values():
        assert part.notebook in errors
    for short in ("rnn", "lstm", "theory", "gan"):
        assert re.search(rf"\.ipynb +(\w+, )*{short}\b", errors), (short, errors)


def test_fast_mode_after_the_parameters_a_cell_time_limit_and_a_dead_kernel(tmp_path):
    """A small notebook of our own, added to a kit: fast_mode set after the parameters cell,
    a blank code cell Jupyter does not number, a check stopped at the time limit while the
    next one still runs, and a kernel that dies, leaving the checks below it not run."""
    kit = make_kit(tmp_path)

    def check(source, grade_id, points):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                     "points": points, "schema_version": 3}
        return cell

    parameters = nbformat.v4.new_code_cell("fast_mode = False")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[
        parameters, nbformat.v4.new_markdown_cell("Edge cases"), nbformat.v4.new_code_cell("  \n"),
        check('print("fast_mode is", fast_mode)\nassert fast_mode is True', "fast", 1.0),  # In [2]
        check("import time\ntime.sleep(120)", "slow", 2.0),  # In [3]
        check('print("relative error: 0.0")\nprint("done")', "after_timeout", 1.5),  # In [4]
        nbformat.v4.new_code_cell("import os\nos._exit(1)"),  # In [5]
        check("print(1)", "after_death", 1.0),  # In [6]
    ])
    nbformat.write(notebook, kit / "Edge_Cases.ipynb")
    with open(kit / "submission_files.txt", "a") as listing:
        listing.write("Edge_Cases.ipynb\n")

    status, output, _ = self_check(kit, "--timeout", "5", "edge")
    rows = tables(output)["Edge_Cases.ipynb"]
    assert status == 1
    assert rows["fast"] == (2, 1.0, "passed", "fast_mode is True")
    assert rows["slow"][:3] == (3, 2.0, "FAILED") and "stopped after 5 s" in rows["slow"][3]
    assert rows["after_timeout"] == (4, 1.5, "passed", "relative error: 0.0")
    assert rows["after_death"][:3] == (6, 1.0, "not run") and "died" in rows["after_death"][3]
    assert "died while running the notebook in In [5]" in output
    assert "passed 2 of 4 visible checks, 2.5 of 5.5 points at stake" in output
