"""Taking in submissions safely: traversal, links, bombs and odd names."""
import dataclasses
import os
import stat
import zipfile

import pytest

from autograder.assignment import load_assignment
from autograder.grading.intake import IntakeError, take_in

LIMITS = dataclasses.replace(load_assignment().limits, max_upload_mb=1, max_upload_files=20)
NOTEBOOKS = ["RNN_Captioning.ipynb"]


def write_zip(path, entries):
    """entries: (name, bytes) or (name, bytes, unix mode)."""
    with zipfile.ZipFile(path, "w") as archive:
        for entry in entries:
            name, data = entry[0], entry[1]
            info = zipfile.ZipInfo(name)
            if len(entry) == 3:
                info.external_attr = entry[2] << 16
            archive.writestr(info, data)
    return path


def test_plain_zip_is_unpacked_and_root_found_below_a_wrapper_folder(tmp_path):
    sub = write_zip(tmp_path / "s.zip", [("assignment3/RNN_Captioning.ipynb", b"{}"),
                                          ("assignment3/cs231n/rnn_layers.py", b"x = 1\n")])
    taken = take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)
    assert taken.root == tmp_path / "in" / "assignment3"
    assert taken.files == ["RNN_Captioning.ipynb", "cs231n/rnn_layers.py"]
    assert taken.problems == []


@pytest.mark.parametrize("name, reason", [
    ("../escape.py", "outside the submission"),
    ("a/../../escape.py", "outside the submission"),
    ("/etc/evil.py", "absolute path"),
    ("C:/evil.py", "absolute path"),
    ("bad\x07name.py", "control or invisible"),
])
def test_dangerous_names_are_skipped_and_reported(tmp_path, name, reason):
    sub = write_zip(tmp_path / "s.zip", [(name, b"boom"), ("RNN_Captioning.ipynb", b"{}")])
    taken = take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)
    assert taken.files == ["RNN_Captioning.ipynb"]
    assert len(taken.problems) == 1 and reason in taken.problems[0]
    assert not (tmp_path / "escape.py").exists()


def test_symlink_inside_zip_is_refused(tmp_path):
    link = ("cs231n/rnn_layers.py", b"/etc/passwd", stat.S_IFLNK | 0o777)
    sub = write_zip(tmp_path / "s.zip", [link, ("RNN_Captioning.ipynb", b"{}")])
    taken = take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)
    assert "cs231n/rnn_layers.py" not in taken.files
    assert "links are not accepted" in taken.problems[0]


def test_symlinks_in_a_folder_submission_are_not_followed(tmp_path):
    folder = tmp_path / "sub"
    (folder / "cs231n").mkdir(parents=True)
    (folder / "RNN_Captioning.ipynb").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    os.symlink(secret, folder / "cs231n" / "rnn_layers.py")
    os.symlink(tmp_path, folder / "everything")
    taken = take_in(folder, tmp_path / "in", LIMITS, NOTEBOOKS)
    assert taken.files == ["RNN_Captioning.ipynb"]
    assert sum("links are not accepted" in p for p in taken.problems) == 2


def test_zip_bomb_is_stopped_by_bytes_actually_written(tmp_path):
    sub = tmp_path / "bomb.zip"
    with zipfile.ZipFile(sub, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("RNN_Captioning.ipynb", b"\0" * (5 << 20))  # 5 MB of zeros, a few KB packed
    assert sub.stat().st_size < 50_000
    with pytest.raises(IntakeError, match="more than 1 MB"):
        take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)


def test_lying_size_headers_do_not_help(tmp_path):
    sub = tmp_path / "liar.zip"
    with zipfile.ZipFile(sub, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("RNN_Captioning.ipynb", b"{}")
        archive.writestr("big.bin", b"\0" * (3 << 20))
    data = bytearray(sub.read_bytes())
    # declare 10 bytes for a 3 MB entry in the central directory
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    sub.write_bytes(bytes(data))
    taken = take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)
    written = sum(p.stat().st_size for p in (tmp_path / "in").rglob("*") if p.is_file())
    assert written < 1 << 20
    assert taken.files == ["RNN_Captioning.ipynb"]
    assert any("big.bin" in p and "could not be read" in p for p in taken.problems)


def test_too_many_files_is_refused(tmp_path):
    sub = write_zip(tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(25)])
    with pytest.raises(IntakeError, match="more than 20 files"):
        take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)


def test_not_a_zip_is_refused_with_a_reason(tmp_path):
    sub = tmp_path / "s.zip"
    sub.write_bytes(b"this is not a zip")
    with pytest.raises(IntakeError, match="not a readable zip"):
        take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)


def test_unicode_names_are_normalised(tmp_path):
    decomposed = "cs231n/e\u0301.py"  # e + combining accent
    sub = write_zip(tmp_path / "s.zip", [(decomposed, b"x"), ("RNN_Captioning.ipynb", b"{}")])
    taken = take_in(sub, tmp_path / "in", LIMITS, NOTEBOOKS)
    assert "cs231n/\u00e9.py" in taken.files


# --- notebooks: parsed once at intake, within the size and cell caps

def _nb(cells):
    import json

    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


def _cell(source=""):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


NB_LIMITS = dataclasses.replace(LIMITS, max_notebook_mb=1, max_notebook_cells=10)


def test_expected_notebooks_are_parsed_once_at_intake(tmp_path):
    sub = write_zip(tmp_path / "s.zip", [("RNN_Captioning.ipynb", _nb([_cell("x = 1")])),
                                          ("other.ipynb", _nb([_cell()]))])
    taken = take_in(sub, tmp_path / "in", NB_LIMITS, NOTEBOOKS)
    assert list(taken.notebooks) == ["RNN_Captioning.ipynb"] and taken.refused_notebooks == {}
    assert taken.notebooks["RNN_Captioning.ipynb"].cells[0].source == "x = 1"


@pytest.mark.parametrize("data, reason", [
    (_nb([_cell() for _ in range(11)]), "has more than 10 cells"),
    (_nb([{"\\u0063ell_type": "code"}] * 11).replace(b"\\\\u0063", b"\\u0063"), "has more than 10 cells"),
    (_nb([_cell("#" * (1 << 20))]), "is larger than 1 MB"),
    (b'{"cells": [', "not a readable notebook (broken JSON)"),
    (b'{"cells": {}}', "not a readable notebook (not in the notebook format)"),
    (b'{"nbformat": 99, "cells": []}', "not a readable notebook (not in the notebook format)"),
    (b"\xff\xfe", "not a readable notebook (broken JSON)"),
])
def test_notebooks_over_a_cap_or_unreadable_are_refused_with_a_reason(tmp_path, data, reason):
    sub = write_zip(tmp_path / "s.zip", [("RNN_Captioning.ipynb", data)])
    taken = take_in(sub, tmp_path / "in", dataclasses.replace(NB_LIMITS, max_upload_mb=4), NOTEBOOKS)
    assert taken.notebooks == {}
    assert reason in taken.refused_notebooks["RNN_Captioning.ipynb"]
    assert taken.refused_notebooks["RNN_Captioning.ipynb"].startswith("'RNN_Captioning.ipynb'")


def test_notebook_size_is_checked_before_reading(tmp_path, monkeypatch):
    from autograder.grading import intake

    path = tmp_path / "big.ipynb"
    path.write_bytes(b" " * (2 << 20))
    monkeypatch.setattr(intake.Path, "read_bytes", lambda self: pytest.fail("read an over-cap notebook"))
    with pytest.raises(intake.NotebookRefused, match="larger than 1 MB"):
        intake.read_notebook(path, NB_LIMITS)


def test_cell_count_is_checked_before_parsing(monkeypatch):
    from autograder.grading import intake

    monkeypatch.setattr(intake.json, "loads", lambda *a, **k: pytest.fail("parsed an over-cap notebook"))
    with pytest.raises(intake.NotebookRefused, match="more than 10 cells"):
        intake.notebook_json(_nb([_cell() for _ in range(11)]), NB_LIMITS)


def test_staging_runs_the_release_for_a_refused_notebook(tmp_path):
    from autograder.assignment import ROOT
    from autograder.grading.staging import stage

    sub = write_zip(tmp_path / "s.zip", [("RNN_Captioning.ipynb", _nb([_cell() for _ in range(11)]))])
    taken = take_in(sub, tmp_path / "in", NB_LIMITS, NOTEBOOKS)
    problems = stage(taken, ROOT / "release", tmp_path / "work", load_assignment())
    assert ("'RNN_Captioning.ipynb' has more than 10 cells; the released (unfinished) version was run instead"
            in problems)
    assert (tmp_path / "work" / "RNN_Captioning.ipynb").read_bytes() == \
           (ROOT / "release" / "RNN_Captioning.ipynb").read_bytes()
