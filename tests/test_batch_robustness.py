"""Nothing one submission does ends the batch (the real batch grader, kept fast).

One batch grades tiny submissions that used to crash it (names that are not
UTF-8, ids that collide with the batch's own files or each other, ids that a
spreadsheet reads as formulas, a lone surrogate in a check's message,
notebooks over the size and cell caps) with notebooks not executed and one
hidden check, and every one of them must come back as a graded row. Faults of
the grader itself (while grading, while reporting) become that submission's
``grader_error``. The feedback page survives executed notebooks of any shape.
"""
import csv
import dataclasses
import json
import os
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading import batch, report
from autograder.grading.batch import assign_ids, csv_cell, grade_all, grade_batch, write_gradebook
from autograder.grading.execute import NotebookRun
from autograder.grading.grade import Options, fingerprint
from autograder.grading.result import Grading
from autograder.release.demo_submissions import reference_files
from autograder.sandbox.launcher import bwrap_path

# the tests that grade run the hidden check in the sandbox; the rest need neither
sandboxed = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")

FULL = load_assignment()
CHECK = "rnn_step_forward"
TIGHT = dataclasses.replace(
    FULL, checks={CHECK: FULL.checks[CHECK]},
    limits=dataclasses.replace(FULL.limits, check_wall_s=30, checks_wall_s=60, max_upload_mb=8,
                               max_notebook_mb=1, max_notebook_cells=50))
OPTIONS = Options(release_dir=ROOT / "release", execute_notebooks=False)
RNN_LAYERS = "cs231n/rnn_layers.py"
THEORY_NB = "RNN_LSTM_Theory.ipynb"
SURROGATE_LAYERS = ((ROOT / "release" / RNN_LAYERS).read_text()
                    + '\n\ndef rnn_step_forward(*args, **kwargs):\n    raise ValueError("lone \\udcff surrogate")\n')


def zip_of(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def zip_with_raw_name(path, name_bytes, utf8_flag):
    """A zip whose one entry's name is ``name_bytes`` (patched in after writing)."""
    placeholder = "N" * len(name_bytes)
    zip_of(path, {placeholder: b"x"})
    data = bytearray(path.read_bytes())
    for signature, name_at, flag_at in ((b"PK\x03\x04", 30, 7), (b"PK\x01\x02", 46, 9)):
        start = data.find(signature)
        data[start + name_at:start + name_at + len(name_bytes)] = name_bytes
        data[start + flag_at] = (data[start + flag_at] | 0x08) if utf8_flag else (data[start + flag_at] & ~0x08)
    path.write_bytes(bytes(data))
    return path


def notebook(cells):
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


def code_cell(source=""):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def make_submissions(folder):
    """The crashers, each as it would arrive; returns {file or folder name: path}."""
    notes = {"notes.txt": b"hello"}
    made = {}
    for name in ("gradebook.csv.zip", "summary.html.zip", "SUMMARY.HTML.zip", "-2-3.zip", "=cmd.zip",
                 "+x.zip", "@x.zip"):
        made[name] = zip_of(folder / name, notes)
    for name in ("CMD", "X"):  # the same ids as =cmd.zip and +x.zip, but for case
        (folder / name).mkdir()
        (folder / name / "notes.txt").write_text("hello")
    odd = folder / os.fsdecode(b"caf\xe9-latin1")  # a folder name that is not UTF-8
    odd.mkdir()
    (odd / os.fsdecode(b"r\xe9sum\xe9.txt")).write_bytes(b"x")  # and a file name inside it
    made["latin1_folder"] = odd
    made["cp437_name"] = zip_with_raw_name(folder / "cp437_name.zip", b"notes\xff\xfe.txt", utf8_flag=False)
    made["bad_utf8_name"] = zip_with_raw_name(folder / "bad_utf8_name.zip", b"notes\xff\xfe.txt", utf8_flag=True)
    made["surrogate"] = zip_of(folder / "surrogate.zip", {RNN_LAYERS: SURROGATE_LAYERS.encode()})
    made["caps"] = zip_of(folder / "caps.zip", {
        "RNN_Captioning.ipynb": notebook([code_cell() for _ in range(60)]),  # more cells than 50
        "RNN_LSTM_Theory.ipynb": notebook([code_cell("#" * (2 << 20))]),  # larger than 1 MB
        "LSTM_Captioning.ipynb": notebook([1, "two", {"cell_type": "code", "outputs": {"not": "a list"}}]),
        "Transformer_Captioning.ipynb": b'{"cells": [' + b'{"\\u0063ell_type": "code"},' * 80 + b'{}]}',
        "=formula.txt": b"x"})
    return made


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crashers")
    made = make_submissions(folder)
    out = tmp_path_factory.mktemp("graded")
    gradings = grade_all([folder], out, workers=2, options=OPTIONS, progress=False, assignment=TIGHT)
    by_path = {path: sid for sid, path in assign_ids(batch.find_submissions([folder])).items()}
    return folder, out, gradings, made, by_path


def sid_of(graded, key):
    _, _, _, made, by_path = graded
    return by_path[made[key]]


@pytest.mark.slow
@sandboxed
def test_every_submission_is_a_graded_row_and_the_batch_files_are_written(graded):
    folder, out, gradings, _, _ = graded
    assert len(gradings) == len(batch.find_submissions([folder])) == 14
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert sorted(r["submission"] for r in rows) == sorted(gradings)
    assert (out / "summary.html").is_file() and "14 submissions" in (out / "summary.html").read_text()
    for sid, grading in gradings.items():
        assert (out / sid / "results.json").is_file() and (out / sid / "feedback.html").is_file(), sid
        assert json.loads((out / sid / "grading.json").read_text())["grader_error"] == "", sid
        assert set(grading.results) == {CHECK}


@pytest.mark.slow
@sandboxed
def test_ids_never_collide_with_the_batch_files_or_each_other(graded):
    _, out, gradings, _, _ = graded
    folded = [sid.casefold() for sid in gradings]
    assert len(set(folded)) == len(folded)
    assert not {"gradebook.csv", "summary.html"} & set(folded)
    assert (out / "gradebook.csv").is_file() and (out / "summary.html").is_file()
    assert sid_of(graded, "gradebook.csv.zip") != "gradebook.csv"


@pytest.mark.slow
@sandboxed
def test_ids_never_start_like_a_formula_and_csv_cells_are_neutralised(graded):
    _, out, gradings, _, _ = graded
    assert not [sid for sid in gradings if sid.startswith(("=", "+", "-", "@"))]
    assert {"2-3", "cmd", "x"} <= set(gradings)
    with open(out / "gradebook.csv", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            assert not [cell for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))], row
    assert "=formula.txt" in "; ".join(gradings[sid_of(graded, "caps")].problems)


@pytest.mark.slow
@sandboxed
def test_names_that_are_not_utf8_are_graded(graded):
    _, out, gradings, _, _ = graded
    folder_grading = gradings[sid_of(graded, "latin1_folder")]
    assert folder_grading.fingerprint and "invisible" in " ".join(folder_grading.problems)
    assert "ignored" in " ".join(gradings[sid_of(graded, "cp437_name")].problems)
    refused = gradings[sid_of(graded, "bad_utf8_name")]
    assert "not valid UTF-8" in " ".join(refused.problems) and refused.total(TIGHT) == 0


@pytest.mark.slow
@sandboxed
def test_a_lone_surrogate_in_a_check_message_is_graded(graded):
    _, out, gradings, _, _ = graded
    sid = sid_of(graded, "surrogate")
    assert gradings[sid].grader_error == "" and gradings[sid].total(TIGHT) == 0
    (out / sid / "feedback.html").read_text(encoding="utf-8")  # valid UTF-8


def theory_with(*cells):
    """The released theory notebook with ``cells`` put first."""
    nb = json.loads((ROOT / "release" / THEORY_NB).read_text())
    nb["cells"][:0] = list(cells)
    return json.dumps(nb).encode()


@pytest.mark.slow
@sandboxed
def test_executed_notebooks_with_odd_outputs_or_surrogates_are_reported(tmp_path):
    """Papermill keeps a markdown cell's "outputs" dict in the executed copy, and
    a cell's lone surrogate reaches the run's message: both used to end the batch."""
    folder = tmp_path / "subs"
    folder.mkdir()
    odd = {"cell_type": "markdown", "metadata": {}, "source": "odd", "outputs": {"not": "a list"}}
    lone = {"cell_type": "code", "metadata": {}, "source": "raise ValueError('lone \\udcff surrogate')",
            "outputs": [], "execution_count": None}
    zip_of(folder / "odd_outputs.zip", {THEORY_NB: theory_with(odd)})
    zip_of(folder / "surrogate.zip", {THEORY_NB: theory_with(lone)})
    options = dataclasses.replace(OPTIONS, execute_notebooks=True, notebooks=(THEORY_NB,))
    gradings = grade_all([folder], tmp_path / "out", workers=2, options=options, progress=False, assignment=TIGHT)
    for sid, grading in gradings.items():
        assert grading.grader_error == "", grading.grader_error
        (run,) = grading.notebook_runs
        assert not run.ok and (tmp_path / "out" / sid / "feedback.html").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "odd_outputs" / "executed" / THEORY_NB).is_file()
    assert "lone \ufffd surrogate" in gradings["surrogate"].notebook_runs[0].message  # the surrogate, made writable
    assert (tmp_path / "out" / "gradebook.csv").is_file() and (tmp_path / "out" / "summary.html").is_file()


@pytest.mark.slow
@sandboxed
def test_notebooks_over_the_caps_are_refused_with_a_reason(graded):
    problems = "\n".join(graded[2][sid_of(graded, "caps")].problems)
    assert "'RNN_Captioning.ipynb' has more than 50 cells; the released (unfinished) version was run" in problems
    assert "'RNN_LSTM_Theory.ipynb' is larger than 1 MB; the released" in problems
    assert "'Transformer_Captioning.ipynb' has more than 50 cells" in problems  # escaped keys counted exactly


@pytest.mark.slow
@sandboxed
def test_resuming_loads_the_same_gradings_and_rewrites_nothing(graded):
    folder, out, gradings, _, _ = graded
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/grading.json")}
    before = {sid: report.results_json(TIGHT, g) for sid, g in gradings.items()}
    again = grade_batch([folder], out, workers=2, options=OPTIONS, progress=False, assignment=TIGHT)
    assert again == before
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/grading.json")} == stamps


@pytest.mark.slow
@sandboxed
def test_a_batch_grades_again_when_the_kit_or_an_option_that_changes_grades_changed(tmp_path, monkeypatch):
    """Resume only what was graded the same way: a fixed check (a new kit version),
    another seed, other limits or a grading.json from before the key grade again;
    other lanes or threads (which change no grade) resume."""
    folder = tmp_path / "subs"
    folder.mkdir()
    zip_of(folder / "sub.zip", reference_files(FULL))
    saved = tmp_path / "out" / "sub" / "grading.json"

    def graded_again(assignment=TIGHT, options=OPTIONS):
        before = saved.stat().st_mtime_ns if saved.exists() else None
        grade_batch([folder], tmp_path / "out", workers=1, options=options, progress=False, assignment=assignment)
        return saved.stat().st_mtime_ns != before

    assert graded_again()
    assert not graded_again()
    assert not graded_again(options=dataclasses.replace(OPTIONS, jobs=2, threads=1))
    assert graded_again(options=dataclasses.replace(OPTIONS, seed=OPTIONS.seed + 1))
    assert not graded_again(options=dataclasses.replace(OPTIONS, seed=OPTIONS.seed + 1))
    other_limits = dataclasses.replace(TIGHT, limits=dataclasses.replace(TIGHT.limits, check_wall_s=29))
    assert graded_again(assignment=other_limits)
    monkeypatch.setattr("autograder.grading.kit.kit_version", lambda root=ROOT: "0123456789abcdef")
    assert graded_again()
    assert not graded_again()
    data = json.loads(saved.read_text())
    del data["grading_key"]  # written before grading keys existed
    saved.write_text(json.dumps(data))
    assert graded_again()


@pytest.mark.slow
@sandboxed
def test_a_fault_while_grading_or_reporting_is_that_submissions_grader_error(tmp_path, monkeypatch):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("fine", "report_fault", "grade_fault"):
        zip_of(folder / f"{name}.zip", {"notes.txt": b"x"})
    real_feedback, real_grade = report.feedback_html, batch.grade_one

    def feedback(assignment, grading, images=True):
        if "report_fault" in grading.submission and images:
            raise RuntimeError("feedback exploded")
        return real_feedback(assignment, grading, images)

    def grade_one(path, *args):
        if "grade_fault" in str(path):
            raise RuntimeError("grader exploded")
        return real_grade(path, *args)

    monkeypatch.setattr(report, "feedback_html", feedback)
    monkeypatch.setattr(batch, "grade_one", grade_one)
    gradings = grade_all([folder], tmp_path / "out", workers=2, options=OPTIONS, progress=False, assignment=TIGHT)
    assert gradings["fine"].grader_error == ""
    for sid, why in (("report_fault", "feedback exploded"), ("grade_fault", "grader exploded")):
        assert why in gradings[sid].grader_error
        results = json.loads((tmp_path / "out" / sid / "results.json").read_text())
        assert results["score"] == 0 and "internal error" in results["output"]
    rows = {r["submission"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert "exploded" in rows["grade_fault"]["grader_error"] and rows["fine"]["grader_error"] == ""
    assert "Grader errors (2)" in (tmp_path / "out" / "summary.html").read_text()


@sandboxed
def test_a_score_that_fails_on_the_trusted_side_is_a_grader_error_not_the_students(tmp_path, monkeypatch):
    """The student's outputs met the schema and the grader's own scoring raised: the
    submission becomes a grader error (the instructor sees it in the gradebook and the
    summary, and a rerun grades it again), never "your code raised"."""
    from autograder.checks import REGISTRY

    def score(got, expected, inputs):
        raise ZeroDivisionError("a corner the score did not foresee")

    monkeypatch.setattr(REGISTRY[CHECK], "score", score)
    zip_of(tmp_path / "reference.zip", reference_files(FULL))
    grading = grade_batch([tmp_path / "reference.zip"], tmp_path / "out", workers=1, options=OPTIONS,
                          progress=False, assignment=TIGHT)["reference"]
    assert grading["score"] == 0 and "internal error" in grading["output"]
    assert "your code raised" not in json.dumps(grading)
    saved = json.loads((tmp_path / "out" / "reference" / "grading.json").read_text())
    assert "ZeroDivisionError: a corner the score did not foresee" in saved["grader_error"]
    row = next(csv.DictReader(open(tmp_path / "out" / "gradebook.csv")))
    assert row["grader_error"] == f"the grader failed while scoring {CHECK}"
    monkeypatch.undo()  # the grader fixed: the next run grades it again rather than resuming the error
    again = grade_batch([tmp_path / "reference.zip"], tmp_path / "out", workers=1, options=OPTIONS,
                        progress=False, assignment=TIGHT)["reference"]
    assert again["score"] == TIGHT.auto_points()


# --- without the sandbox: the pieces

@pytest.mark.parametrize("cells", [
    [1, "x", None],  # cells that are not dicts
    [{"cell_type": "markdown", "outputs": {"a": 1}}, {"outputs": "text"}, {"outputs": [1, "x", {"data": 3}]}],
    {"not": "a list"},
])
def test_feedback_page_survives_executed_notebooks_of_any_shape(tmp_path, cells):
    executed = tmp_path / "executed.ipynb"
    executed.write_text(json.dumps({"cells": cells}))
    grading = Grading("s", notebook_runs=[NotebookRun("RNN_Captioning.ipynb", True, "ran", 1.0, executed=executed)])
    grading.fill_missing(FULL)
    report.write_reports(tmp_path, FULL, grading)
    assert grading.grader_error == ""
    assert "RNN_Captioning.ipynb: ran" in (tmp_path / "feedback.html").read_text()


def test_executed_notebooks_over_the_size_cap_are_not_parsed(tmp_path, monkeypatch):
    executed = tmp_path / "big.ipynb"
    executed.write_bytes(b" " * (2 << 20))
    monkeypatch.setattr(report.json, "loads", lambda *a, **k: pytest.fail("parsed an over-cap notebook"))
    assert report.notebook_images(executed, max_bytes=1 << 20) == []


def test_surrogates_in_every_text_are_written(tmp_path):
    grading = Grading("sub\udcff", problems=["bad \udcff name"], flags=["flag \ud800"],
                      notebook_runs=[NotebookRun("RNN_Captioning.ipynb", False, "died \udfff", 1.0)])
    grading.fill_missing(FULL, "msg \udcff")
    results = report.write_reports(tmp_path, FULL, grading)
    assert grading.grader_error == "" and "\ufffd" in results["output"]
    assert Grading.load(tmp_path).problems == ["bad \ufffd name"]
    write_gradebook(tmp_path, FULL, {"s": grading})
    assert "\ufffd" in (tmp_path / "gradebook.csv").read_text(encoding="utf-8")


def test_grading_json_round_trip_renders_the_same_reports(tmp_path):
    grading = Grading("s", problems=["p"], flags=["f"], wall_s=12.34, fingerprint="abc", notes=["n"],
                      notebook_runs=[NotebookRun("RNN_Captioning.ipynb", True, "ran", 3.5)])
    grading.fill_missing(FULL)
    grading.results["rnn_step_forward"].fraction = 0.5
    report.write_reports(tmp_path, FULL, grading)
    back = Grading.load(tmp_path)
    assert report.results_json(FULL, back) == report.results_json(FULL, grading)
    assert back.part_scores(FULL) == grading.part_scores(FULL) and back.total(FULL) == grading.total(FULL) == 1.0
    with pytest.raises(ValueError):
        Grading.from_json({"results": {"x": {}}})


def test_csv_cells_from_submissions_are_neutralised(tmp_path):
    assert [csv_cell(t) for t in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok")] == \
           ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "ok"]
    grading = Grading("s", problems=['=HYPERLINK("http://evil", "click")'])
    grading.fill_missing(FULL)
    write_gradebook(tmp_path, FULL, {"s": grading})
    row = list(csv.DictReader(open(tmp_path / "gradebook.csv")))[0]
    assert row["problems"].startswith("'=HYPERLINK")


def test_ids_are_unique_case_insensitively_and_never_the_batch_files():
    names = ["gradebook.csv.zip", "GRADEBOOK.CSV", "summary.html.zip", "a.zip", "A", "a_2.zip", "=a.zip", "-.zip"]
    ids = list(assign_ids([Path(n) for n in names]))
    assert len({i.casefold() for i in ids}) == len(ids)
    assert not {i.casefold() for i in ids} & {"gradebook.csv", "summary.html"}
    assert not [i for i in ids if i.startswith(("=", "+", "-", "@", "."))]


def test_fingerprint_of_names_that_are_not_utf8(tmp_path):
    folder = tmp_path / os.fsdecode(b"sub\xff")
    folder.mkdir()
    (folder / os.fsdecode(b"n\xfe.txt")).write_text("x")
    first = fingerprint(folder)
    (folder / os.fsdecode(b"n\xfe.txt")).write_text("y")
    assert first and fingerprint(folder) not in ("", first)
    assert fingerprint(tmp_path / "missing") == ""


def test_score_table_and_gradebook_row_come_from_the_grading():
    from autograder.__main__ import score_table

    grading = Grading("s")
    grading.fill_missing(FULL)
    grading.results["rnn_step_forward"].fraction = 0.5
    table = score_table(FULL, {"s": grading}).splitlines()
    assert table[2].split() == ["s", "1", *["0"] * (len(FULL.parts) - 1), "1"]
    grading.manual = {next(iter(FULL.manual)): 2.0}
    row = dict(zip(batch.GRADEBOOK_COLUMNS, batch.gradebook_row("s", FULL, grading)))
    assert (row["automatic"], row["manual"], row["total"]) == (1.0, 2.0, 3.0) == \
           (grading.total(FULL), grading.manual_earned(FULL), grading.grand_total(FULL))
    assert row["manual_pending"] == len(FULL.manual) - 1
    parts = batch.gradebook_row("s", FULL, grading)[len(batch.GRADEBOOK_COLUMNS):][:len(FULL.parts)]
    assert parts == [earned for earned, _ in grading.part_scores(FULL).values()]
