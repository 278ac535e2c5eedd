"""The points graded by hand: the written answers kept from each submission, the
manual_scores.csv a TA fills in, its merge into every report, and the TA's pages.

The batch tests grade one hidden check (the written answers come from the
notebooks, which intake reads whether or not they run), so they stay quick.
"""
import csv
import dataclasses
import html
import json
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.batch import grade_all
from autograder.grading.grade import Options
from autograder.grading.manual import (MANUAL_SCORES, ManualScoresError, POINTS_ROW, mark_schemes,
                                       read_manual_scores, write_answer_pages, write_manual_template,
                                       written_answers)
from autograder.grading.result import Grading
from autograder.release.demo_submissions import reference_files, release_files
from autograder.sandbox.launcher import bwrap_path

FULL = load_assignment()
CHECK = "rnn_step_forward"
ONE_CHECK = dataclasses.replace(FULL, checks={CHECK: FULL.checks[CHECK]})
OPTIONS = Options(release_dir=ROOT / "release", execute_notebooks=False)
QUESTIONS = list(FULL.manual)
FIRST, SECOND = QUESTIONS[0], QUESTIONS[1]


def notebooks_of(files):
    return {n: nbformat.reads(d.decode(), as_version=4) for n, d in files.items() if n.endswith(".ipynb")}


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_every_written_answer_is_kept_as_handed_in():
    answers = written_answers(notebooks_of(reference_files(FULL)), FULL)
    assert set(answers) == set(FULL.manual)
    assert all(text.strip() for text in answers.values())
    untouched = written_answers(notebooks_of(release_files(FULL, ROOT / "release")), FULL)
    assert set(untouched.values()) == {"YOUR ANSWER HERE"}


def test_manual_scores_are_read_blank_means_pending(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["submission", FIRST, SECOND], [POINTS_ROW, "3", "4"],
                                          ["alice", "1.5", ""], ["bob", "", ""]])
    assert read_manual_scores(path, FULL) == {"alice": {FIRST: 1.5}, "bob": {}}


@pytest.mark.parametrize("rows, why", [
    ([["student", FIRST]], "first row"),
    ([["submission", "no_such_question"], ["a", "1"]], "no_such_question"),
    ([["submission", FIRST], ["a", "lots"]], "not a number"),
    ([["submission", FIRST], ["a", "-1"]], "between 0"),
    ([["submission", FIRST], ["a", "99"]], "between 0"),
    ([["submission", FIRST], ["a", "nan"]], "between 0"),
])
def test_a_bad_manual_scores_file_is_a_clear_error(tmp_path, rows, why):
    with pytest.raises(ManualScoresError, match=why):
        read_manual_scores(write_csv(tmp_path / "m.csv", rows), FULL)


def test_the_template_keeps_what_a_ta_entered_and_adds_new_submissions(tmp_path):
    first = {"alice": Grading("a")}
    path = write_manual_template(tmp_path, FULL, first)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["submission", *QUESTIONS] and rows[1][0] == POINTS_ROW
    assert rows[2] == ["alice"] + [""] * len(QUESTIONS)
    rows[2][1] = "2"
    write_csv(path, rows)
    write_manual_template(tmp_path, FULL, {**first, "bob": Grading("b")})
    assert read_manual_scores(path, FULL) == {"alice": {FIRST: 2.0}, "bob": {}}
    write_csv(path, [["submission", SECOND, FIRST], ["alice", "1", "2"]])  # rearranged by a person
    write_manual_template(tmp_path, FULL, {"carol": Grading("c")})
    assert list(csv.reader(open(path)))[1] == ["alice", "1", "2"], "a rearranged file is left alone"


def test_answer_pages_show_the_mark_scheme_and_escaped_answers(tmp_path):
    alice, bob = Grading("a"), Grading("b")
    alice.answers = {FIRST: "<script>alert(1)</script> my proof"}
    alice.manual = {FIRST: 2.0}
    folder = write_answer_pages(tmp_path, FULL, {"alice": alice, "bob": bob})
    page = (folder / f"{FIRST}.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Mark scheme" in page and "staff" in page
    assert f"2 / {FULL.manual[FIRST].points:g}" in page and "pending" in page
    question, scheme = mark_schemes(FULL)[FIRST]
    assert "Mark scheme" in scheme and html.escape(scheme) in page and html.escape(question) in page
    index = (folder / "index.html").read_text()
    assert all(f"{q}.html" in index for q in QUESTIONS) and "1 of 2 pending" in index


@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")
def test_points_given_by_hand_reach_every_report_and_survive_a_resumed_batch(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, files in (("alice", reference_files(FULL)), ("bob", release_files(FULL, ROOT / "release"))):
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
            for path, data in files.items():
                archive.writestr(path, data)
    out = tmp_path / "out"
    gradings = grade_all([folder], out, options=OPTIONS, progress=False, assignment=ONE_CHECK)
    assert gradings["alice"].manual_pending(ONE_CHECK) == QUESTIONS
    assert "not graded yet" in json.loads((out / "alice" / "results.json").read_text())["output"]
    rows = list(csv.reader(open(out / MANUAL_SCORES)))
    assert sorted(r[0] for r in rows[2:]) == ["alice", "bob"], "the template lists every submission"
    points = FULL.manual[FIRST].points
    filled = write_csv(tmp_path / "filled.csv", [rows[0], ["alice", f"{points:g}"] + [""] * (len(QUESTIONS) - 1)])

    gradings = grade_all([folder], out, options=OPTIONS, progress=False, assignment=ONE_CHECK,
                         manual_scores=read_manual_scores(filled, FULL))
    alice = gradings["alice"]
    assert alice.manual == {FIRST: points} and alice.grand_total(ONE_CHECK) == alice.total(ONE_CHECK) + points
    results = json.loads((out / "alice" / "results.json").read_text())
    assert results["score"] == alice.total(ONE_CHECK), "results.json's score stays automatic (Gradescope)"
    assert f"{points:g} / {FULL.manual_points():g} so far" in results["output"]
    pending = f"{len(QUESTIONS) - 1} of {len(QUESTIONS)} answers still pending"
    assert pending in (out / "alice" / "feedback.html").read_text()
    row = {r["submission"]: r for r in csv.DictReader(open(out / "gradebook.csv"))}["alice"]
    assert float(row["manual"]) == points and float(row["total"]) == float(row["automatic"]) + points
    assert row["manual_pending"] == str(len(QUESTIONS) - 1)
    assert json.loads((out / "alice" / "grading.json").read_text())["manual"] == {FIRST: points}
    assert "pending" in (out / "written_answers" / f"{SECOND}.html").read_text()

    again = grade_all([folder], out, options=OPTIONS, progress=False, assignment=ONE_CHECK)  # resumed
    assert again["alice"].manual == {FIRST: points}, "points given by hand survive a resumed batch"
    with pytest.raises(ManualScoresError, match="carol"):
        grade_all([folder], out, options=OPTIONS, progress=False, assignment=ONE_CHECK,
                  manual_scores={"carol": {FIRST: 1.0}})


def test_the_grade_command_refuses_a_bad_manual_file_before_grading(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [["submission", "typo_question"], ["a", "1"]])
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path), "--out", str(tmp_path / "o"),
                           "--manual", str(bad), "--allow-unsandboxed"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and "typo_question" in proc.stderr
    assert not (tmp_path / "o").exists(), "nothing was graded"
