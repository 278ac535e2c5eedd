"""The autograder end to end: real sandbox, real papermill, real reports.

One batch grades the three demo submissions (reference, untouched release,
reference with one known bug) plus a broken upload, in parallel.
"""
import csv
import html
import json
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.batch import grade_batch
from autograder.release.demo_submissions import KNOWN_BUG, make_demo_submissions, reference_files, with_bug
from autograder.grading.grade import Options, grade_submission
from autograder.sandbox.launcher import bwrap_path

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]

ASSIGNMENT = load_assignment()
RELEASE = ROOT / "release"
BUG_TARGET = "cs231n/rnn_layers.py:lstm_step_forward"
BUG_NOTEBOOK = "LSTM_Captioning.ipynb"


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """(folder, out, results): reference, untouched and broken graded in one batch, every
    notebook; one_bug graded beside them into out/one_bug with only the notebook its
    bug is in (its tests are about check scores and messages; a whole notebook set
    would add about 90 s of CI)."""
    folder, bug_folder = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("bug")
    make_demo_submissions(folder, RELEASE)
    (folder / "one_bug.zip").rename(bug_folder / "one_bug.zip")
    (folder / "broken.zip").write_bytes(b"not a zip at all")
    out = tmp_path_factory.mktemp("graded")
    results = grade_batch([folder], out, workers=2, options=Options(release_dir=RELEASE), progress=False)
    results.update(grade_batch([bug_folder], out / "bug_batch", options=Options(
        release_dir=RELEASE, notebooks=(BUG_NOTEBOOK,)), progress=False))
    (out / "bug_batch" / "one_bug").rename(out / "one_bug")
    return folder, out, results


def test_reference_gets_full_marks_and_every_notebook_runs(batch):
    _, out, results = batch
    reference = results["reference"]
    failing = [t for t in reference["tests"] if t["score"] != t["max_score"]]
    assert not failing, failing
    assert reference["score"] == ASSIGNMENT.auto_points()
    meta = json.loads((out / "reference" / "grading.json").read_text())
    assert all(run["ok"] for run in meta["notebooks"].values()), meta["notebooks"]
    assert meta["flags"] == [] and meta["grader_error"] == ""
    for part in ASSIGNMENT.parts.values():
        assert (out / "reference" / "executed" / part.notebook).exists()
    assert "data:image/png;base64," in (out / "reference" / "feedback.html").read_text()


def test_untouched_release_scores_zero_on_every_check(batch):
    _, out, results = batch
    untouched = results["untouched"]
    assert [t["name"] for t in untouched["tests"] if t["score"] > 0] == []
    assert "NotImplementedError" in untouched["tests"][0]["output"]
    meta = json.loads((out / "untouched" / "grading.json").read_text())
    assert not any(run["ok"] for run in meta["notebooks"].values())


def test_one_known_bug_costs_only_checks_covering_that_function(batch):
    _, _, results = batch
    covering = {c.name for c in ASSIGNMENT.checks.values() if BUG_TARGET in c.covers}
    lost = {t["name"].split(": ")[-1] for t in results["one_bug"]["tests"] if t["score"] < t["max_score"]}
    assert "lstm_step_forward" in lost
    assert lost <= covering, f"checks not covering {BUG_TARGET} lost points: {lost - covering}"


def test_broken_upload_is_a_graded_result_with_a_reason(batch):
    _, out, results = batch
    broken = results["broken"]
    assert broken["score"] == 0
    assert "not a readable zip" in broken["output"]
    assert json.loads((out / "broken" / "grading.json").read_text())["grader_error"] == ""


def test_gradebook_and_summary(batch):
    _, out, results = batch
    rows = list(csv.DictReader(open(out / "gradebook.csv")))
    main = {k: v for k, v in results.items() if k != "one_bug"}
    assert sorted(r["submission"] for r in rows) == sorted(main)
    assert {r["submission"]: float(r["automatic"]) for r in rows} == {k: v["score"] for k, v in main.items()}
    assert all(float(r["total"]) == float(r["automatic"]) and r["manual_pending"] == str(len(ASSIGNMENT.manual))
               for r in rows), "no points given by hand yet: every written answer pending"
    assert "data:image/png;base64," in (out / "summary.html").read_text()


def test_results_json_has_gradescope_shape(batch):
    _, out, _ = batch
    data = json.loads((out / "reference" / "results.json").read_text())
    assert isinstance(data["score"], float) and isinstance(data["execution_time"], float)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output"} <= set(test)
        assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_batch_resumes_without_regrading(batch):
    folder, out, results = batch
    stamp = (out / "reference" / "grading.json").stat().st_mtime_ns
    again = grade_batch([folder], out, workers=2, options=Options(release_dir=RELEASE), progress=False)
    assert again == {k: v for k, v in results.items() if k != "one_bug"}
    assert (out / "reference" / "grading.json").stat().st_mtime_ns == stamp


def test_grading_twice_gives_identical_scores(batch, tmp_path):
    _, out, results = batch
    only = ("RNN_LSTM_Theory.ipynb",)  # and the instructor's choice of notebooks is honoured
    second = grade_submission(json.loads((out / "one_bug" / "grading.json").read_text())["submission"],
                              tmp_path / "again",
                              options=Options(release_dir=RELEASE, notebooks=only))
    assert [(t["name"], t["score"]) for t in second["tests"]] == \
           [(t["name"], t["score"]) for t in results["one_bug"]["tests"]]
    ran = json.loads((tmp_path / "again" / "grading.json").read_text())["notebooks"]
    assert list(ran) == list(only) and ran[only[0]]["ok"]


# A single-bug mutant graded the autograder's way (sandboxed checks); every
# graded function's mutants are also graded in-process in tests/test_checks_*.py.
SANDBOXED_MUTANT = ("cs231n/rnn_layers.py", "np.add.at(dW, x, dout)", "dW[x] += dout", "word_embedding_backward")


def test_mutant_through_the_sandboxed_grader_loses_only_its_checks(tmp_path):
    path, old, new, check = SANDBOXED_MUTANT
    files = with_bug(reference_files(ASSIGNMENT), (path, old, new))
    submission = tmp_path / "mutant.zip"
    with zipfile.ZipFile(submission, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    results = grade_submission(submission, tmp_path / "out",
                               options=Options(release_dir=RELEASE, execute_notebooks=False))
    lost = {t["name"].split(": ")[-1] for t in results["tests"] if t["score"] < t["max_score"]}
    covering = {c.name for c in ASSIGNMENT.checks.values() if f"{path}:{check}" in c.covers}
    assert check in lost and lost <= covering, lost


def test_known_bug_text_still_applies():
    path, old, _ = KNOWN_BUG
    assert (ROOT / path).read_text().count(old) == 1


def test_known_bug_is_explained_and_later_checks_say_what_to_fix_first(batch):
    _, _, results = batch
    messages = {t["name"].split(": ")[-1]: t["output"] for t in results["one_bug"]["tests"]}
    step = messages["lstm_step_forward"]
    assert step.startswith("Look at lstm_step_forward in cs231n/rnn_layers.py. Likely cause: "), step
    assert "gate" in step.split("Likely cause:")[1].split("What we measured:")[0], "cause before numbers"
    assert "relative error" in step.split("What we measured:")[1]
    loss = messages["captioning_lstm_loss"]
    assert loss.startswith("Fix lstm_step_forward in cs231n/rnn_layers.py first: its check (lstm_step_forward)"), loss
    assert "first" not in step
    folder, out, _ = batch
    page = (out / "one_bug" / "feedback.html").read_text()
    assert html.escape(step) in page and html.escape(loss) in page, "the page says the same, in the same order"
    assert "short re-run" in page and "fast mode" in page and "Restart Kernel and Run All" in page


def test_no_text_a_student_sees_names_the_graders_paths(batch):
    import sys

    folder, out, _ = batch
    forbidden = [str(out), str(folder), str(ROOT), sys.prefix, "/tmp/"]
    for sid in ("reference", "untouched", "one_bug", "broken"):
        texts = [(out / sid / "results.json").read_text(), (out / sid / "feedback.html").read_text()]
        texts += [p.read_text() for p in (out / sid / "executed").glob("*.ipynb")] if sid == "untouched" else []
        for text in texts:
            leaked = [f for f in forbidden if f in text]
            assert not leaked, f"{sid}: {leaked} appear in what the student sees"
    # tracebacks keep the student's file, relative to the submission
    assert "cs231n/rnn_layers.py" in (out / "untouched" / "executed" / "RNN_Captioning.ipynb").read_text()
