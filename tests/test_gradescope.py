"""The Gradescope autograder zip, run locally against a fake /autograder layout."""
import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.release.demo_submissions import release_files
from autograder.release.gradescope import build_gradescope_zip
from autograder.sandbox.launcher import bwrap_path

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]


@pytest.fixture(scope="module")
def fake_autograder(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    archive = build_gradescope_zip(root.parent / "autograder.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        zipped.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    return root, names


def test_zip_has_gradescope_layout_and_no_data(fake_autograder):
    _, names = fake_autograder
    assert "setup.sh" in names and "run_autograder" in names
    assert "autograder/grading/grade.py" in names and "cs231n/rnn_layers.py" in names
    assert any(n.startswith("release/") for n in names)
    assert not any(n.endswith((".h5", ".npz")) for n in names)
    assert subprocess.run(["bash", "-n", "setup.sh"], cwd=fake_autograder[0] / "source").returncode == 0


def test_the_written_part_is_generated_beside_the_zip(fake_autograder):
    from autograder.release.gradescope import written_questions_path

    assignment = load_assignment()
    path = written_questions_path(fake_autograder[0].parent / "autograder.zip")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert [r["question"] for r in rows] == list(assignment.manual)
    assert sum(float(r["points"]) for r in rows) == assignment.manual_points()
    assert all(r["prompt"].strip() and "Mark scheme" in r["mark_scheme"] for r in rows), rows[0]
    assert all(r["notebook"] == assignment.parts[r["part"]].notebook for r in rows)


def test_run_autograder_writes_valid_results(fake_autograder):
    root, _ = fake_autograder
    source = root / "source"
    # what setup.sh does besides installing packages: build the sample data
    subprocess.run([sys.executable, "-m", "cs231n.datasets.build_sample_data"], cwd=source, check=True,
                   capture_output=True)
    assignment = load_assignment()
    submission = root / "submission"
    for name, data in release_files(assignment, ROOT / "release").items():  # the untouched release
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_bytes(data)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    proc = subprocess.run([str(source / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert {"score", "tests", "execution_time", "output"} <= set(results)
    assert len(results["tests"]) == len(assignment.checks)
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output"} <= set(test)
        assert test["score"] == 0, test  # the untouched release earns nothing
    assert results["score"] == 0
