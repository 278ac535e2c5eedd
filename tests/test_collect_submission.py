"""The kit's collect_submission.py, run as a student runs it, on copies of the real release.

Each test copies release/ into a temporary folder, changes what a student would
have changed, runs ``python collect_submission.py`` there and reads what it printed,
its exit status and the zip it wrote.
"""
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.release.demo_submissions import reference_files

RELEASE = ROOT / "release"
ASSIGNMENT = load_assignment()
NOTEBOOKS = [part.notebook for part in ASSIGNMENT.parts.values()]
STUDENT_FILES = list(ASSIGNMENT.student_files)
# The stub line the release puts where a solution was (autograder/release/strip_solutions.py).
STUB = re.compile(r'raise NotImplementedError\("([\w.]+): replace this line with your code"\)')


@pytest.fixture
def kit(tmp_path):
    """A fresh copy of the student kit, as downloaded."""
    return shutil.copytree(RELEASE, tmp_path / "assignment3",
                           ignore=shutil.ignore_patterns("__pycache__", "a3_submission.zip"))


def collect(kit):
    """Run the kit's script as a student does; return (exit status, what it printed)."""
    done = subprocess.run([sys.executable, "collect_submission.py"], cwd=kit, capture_output=True,
                          text=True, timeout=60)
    assert not done.stderr, done.stderr  # a report, never a traceback
    return done.returncode, done.stdout


def section(output, name):
    """The report's lines under the heading ``name`` (empty when the file is not reported)."""
    lines = output.splitlines()
    if name not in lines:
        return []
    start = lines.index(name) + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def zipped(kit):
    with zipfile.ZipFile(kit / "a3_submission.zip") as archive:
        return sorted(archive.namelist())


def read_notebook(kit, name):
    return json.loads((kit / name).read_text())


def write_notebook(kit, name, notebook):
    (kit / name).write_text(json.dumps(notebook, indent=1))


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code" and "".join(cell["source"]).strip()]


def mark_run(notebook, upto=None):
    """Make the notebook look executed top to bottom (its first ``upto`` code cells), as Jupyter saves it."""
    for count, cell in enumerate(code_cells(notebook)[:upto], start=1):
        cell["execution_count"] = count
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}]
    return notebook


def answer_all(notebook):
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "markdown" and meta.get("solution") and meta.get("grade"):
            cell["source"] = "The gradient reaches early steps through the cell state, so it vanishes less."
    return notebook


def test_untouched_kit_lists_every_stub_notebook_and_question_and_still_writes_the_zip(kit):
    status, output = collect(kit)

    assert status == 1
    assert zipped(kit) == sorted(NOTEBOOKS + STUDENT_FILES)
    stubs = {name: STUB.findall((RELEASE / name).read_text()) for name in STUDENT_FILES if name.endswith(".py")}
    total_stubs = sum(len(names) for names in stubs.values())
    assert total_stubs >= 30  # the kit really is full of stubs: the count below means something
    for name, functions in stubs.items():
        reported = "\n".join(section(output, name))
        assert f"{len(functions)} function" in reported, (name, reported)
        for function in functions:
            assert re.search(rf"line +\d+  {re.escape(function)}$", reported, re.MULTILINE), (name, function)
    questions = 0
    for name in NOTEBOOKS:
        notebook_text = (RELEASE / name).read_text()
        unanswered = [cell["metadata"]["nbgrader"]["grade_id"] for cell in json.loads(notebook_text)["cells"]
                      if "".join(cell["source"]) == "YOUR ANSWER HERE"]
        assert len(unanswered) == notebook_text.count("YOUR ANSWER HERE")
        questions += len(unanswered)
        reported = "\n".join(section(output, name))
        assert "never run" in reported, name
        assert f"{len(unanswered)} written answer" in reported and all(q in reported for q in unanswered), name
    last = output.strip().splitlines()[-1]
    assert last == (f"Your zip is written, but {total_stubs + len(NOTEBOOKS) + questions} things are unfinished: "
                    f"{total_stubs} functions still raise NotImplementedError, {len(NOTEBOOKS)} notebooks "
                    f"were never run and {questions} written answers still say YOUR ANSWER HERE.")


def test_finished_work_reports_nothing_and_exits_0(kit):
    for name, data in reference_files(ASSIGNMENT).items():
        (kit / name).write_bytes(data)
    for name in NOTEBOOKS:
        write_notebook(kit, name, answer_all(mark_run(read_notebook(kit, name))))

    status, output = collect(kit)

    assert status == 0, output
    assert zipped(kit) == sorted(NOTEBOOKS + STUDENT_FILES)
    assert output.splitlines()[0] == f"Wrote a3_submission.zip with {len(NOTEBOOKS + STUDENT_FILES)} files."
    assert output.splitlines()[1].startswith("Everything is done")
    assert len(output.splitlines()) == 2


def test_an_error_in_a_notebook_is_reported_with_its_in_number(kit):
    notebook = mark_run(read_notebook(kit, "RNN_Captioning.ipynb"), upto=7)
    code_cells(notebook)[6]["outputs"] = [{
        "output_type": "error", "ename": "NotImplementedError",
        "evalue": "rnn_step_forward: replace this line with your code\n(a second line)",
        "traceback": ["Traceback ...", "NotImplementedError: rnn_step_forward"]}]
    write_notebook(kit, "RNN_Captioning.ipynb", notebook)

    status, output = collect(kit)

    assert status == 1
    reported = section(output, "RNN_Captioning.ipynb")
    assert reported[0] == ("  - stopped with an error at In [7]: "
                           "NotImplementedError: rnn_step_forward: replace this line with your code")
    total = len(code_cells(notebook))
    assert f"{total - 7} of {total} code cells never ran (the first: just below In [7])" in reported[1]
    assert "1 notebook stopped with an error" in output.splitlines()[-1]
    assert f"{len(NOTEBOOKS) - 1} notebooks were never run" in output.splitlines()[-1]


def test_a_partly_run_notebook_says_which_cells_never_ran(kit):
    notebook = mark_run(read_notebook(kit, "LSTM_Captioning.ipynb"), upto=3)
    write_notebook(kit, "LSTM_Captioning.ipynb", notebook)

    status, output = collect(kit)

    total = len(code_cells(notebook))
    assert status == 1
    assert (f"  - {total - 3} of {total} code cells never ran (the first: just below In [3])"
            in section(output, "LSTM_Captioning.ipynb"))
    assert "1 notebook was only partly run" in output.splitlines()[-1]


def test_a_student_file_with_a_syntax_error_is_reported_with_its_line(kit):
    path = kit / "cs231n" / "rnn_layers.py"
    lines = path.read_text().splitlines(keepends=True)
    bad_line = next(n for n, line in enumerate(lines, start=1) if '("rnn_forward: replace' in line)
    lines.insert(bad_line - 1, "    for t in range(T)\n")  # the colon forgotten, above the stub
    path.write_text("".join(lines))

    status, output = collect(kit)

    assert status == 1
    reported = "\n".join(section(output, "cs231n/rnn_layers.py"))
    assert f"Python cannot read it: expected ':' at line {bad_line}:" in reported
    assert "        for t in range(T)" in reported
    assert "1 cs231n file has a syntax error" in output.splitlines()[-1]
    assert "cs231n/classifiers/rnn.py" in output  # the other files are still checked
    assert "cs231n/rnn_layers.py" in zipped(kit)


def test_code_above_an_untouched_raise_is_unfinished_and_a_replaced_raise_is_done(kit):
    path = kit / "cs231n" / "rnn_layers.py"
    text = path.read_text()
    forward_stub = 'raise NotImplementedError("rnn_step_forward: replace this line with your code")'
    backward_stub = 'raise NotImplementedError("rnn_step_backward: replace this line with your code")'
    text = text.replace(forward_stub, "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n"
                                      "    cache = (x, prev_h, Wx, Wh, next_h)\n    " + forward_stub)
    text = text.replace(backward_stub, "x, prev_h, Wx, Wh, next_h = cache\n"
                                       "    if next_h is None:\n"
                                       "        raise NotImplementedError('my own: no forward pass yet')\n"
                                       "    dx = dprev_h = dWx = dWh = db = None")
    path.write_text(text)

    status, output = collect(kit)

    reported = "\n".join(section(output, "cs231n/rnn_layers.py"))
    assert status == 1
    assert "9 functions still raise NotImplementedError" in reported
    assert re.search(r"line +\d+  rnn_step_forward$", reported, re.MULTILINE)
    assert "rnn_step_backward" not in reported


def test_a_notebook_that_is_not_json_is_reported_and_still_zipped(kit):
    (kit / "Network_Visualization.ipynb").write_text('{"cells": [')  # cut short, as a failed upload leaves it

    status, output = collect(kit)

    assert status == 1
    reported = "\n".join(section(output, "Network_Visualization.ipynb"))
    assert "not valid JSON" in reported and "never run" not in reported
    assert "1 notebook file is damaged" in output.splitlines()[-1]
    assert zipped(kit) == sorted(NOTEBOOKS + STUDENT_FILES)


def test_a_missing_file_is_reported_and_the_rest_zipped(kit):
    (kit / "cs231n" / "gan_pytorch.py").unlink()

    status, output = collect(kit)

    assert status == 1
    assert section(output, "cs231n/gan_pytorch.py")[0].startswith("  - missing")
    assert "1 file is missing" in output.splitlines()[-1]
    assert zipped(kit) == sorted(set(NOTEBOOKS + STUDENT_FILES) - {"cs231n/gan_pytorch.py"})
