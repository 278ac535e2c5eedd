"""Integrity flags: forbidden shortcuts are flagged, the reference is not."""
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.integrity import flags_for, integrity_flags


def test_reference_raises_no_flags():
    assert integrity_flags(ROOT, load_assignment().student_files) == []


@pytest.mark.parametrize("source", ["import torch", "import torch.nn as nn", "from torch import tensor",
                                    "def f():\n    import torch\n", "t = __import__('torch')"])
def test_torch_in_numpy_modules_is_flagged(source):
    flags = flags_for("cs231n/rnn_layers.py", "import numpy as np\n" + source)
    assert flags and "imports torch" in flags[0] and "NumPy-only module" in flags[0]


@pytest.mark.parametrize("source, name", [
    ("import torch.nn.functional as F\ny = F.scaled_dot_product_attention(q, k, v)", "scaled_dot_product_attention"),
    ("from torch.nn import MultiheadAttention", "MultiheadAttention"),
    ("import torch.nn as nn\nm = nn.MultiheadAttention(8, 2)", "MultiheadAttention"),
    ("import torch.nn as nn\nd = nn.TransformerDecoderLayer(8, 2)", "TransformerDecoderLayer"),
])
def test_attention_shortcuts_are_flagged(source, name):
    flags = flags_for("cs231n/transformer_layers.py", source)
    assert any(name in f for f in flags)


def test_own_classes_with_torch_like_names_are_not_flagged():
    source = "class TransformerDecoderLayer:\n    pass\nlayer = TransformerDecoderLayer()"
    assert flags_for("cs231n/classifiers/transformer.py", source) == []


def test_unparsable_file_is_reported_not_crashed():
    assert "does not parse" in flags_for("cs231n/rnn_layers.py", "def broken(:\n")[0]


# --- locked notebook cells: our flag, and nbgrader's own detection of the same edit

def _theory_release():
    import nbformat

    return nbformat.read(ROOT / "release" / "RNN_LSTM_Theory.ipynb", as_version=4)


def _edited(nb, grade_id="step_rnn_weights"):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = "print('all tests pass')"
    return nb


def test_edited_locked_cell_is_flagged_against_the_release():
    import nbformat

    from autograder.grading.integrity import notebook_flags

    released = nbformat.writes(_theory_release())
    assert notebook_flags("RNN_LSTM_Theory.ipynb", released, released) == []
    flags = notebook_flags("RNN_LSTM_Theory.ipynb", nbformat.writes(_edited(_theory_release())), released)
    assert len(flags) == 1 and "'step_rnn_weights' was changed" in flags[0]


def test_deleted_locked_cell_and_unreadable_notebook():
    import nbformat

    from autograder.grading.integrity import notebook_flags

    released = nbformat.writes(_theory_release())
    nb = _theory_release()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "parity_lstm"]
    assert any("'parity_lstm' was deleted" in f for f in notebook_flags("x.ipynb", nbformat.writes(nb), released))
    assert notebook_flags("x.ipynb", released[:100], released) == []  # staging reports it instead


def test_nbgrader_detects_the_same_edit():
    from nbgrader.validator import Validator

    assert Validator()._get_changed_cells(_theory_release()) == []
    changed = Validator()._get_changed_cells(_edited(_theory_release()))
    assert [c.metadata.nbgrader["grade_id"] for c in changed] == ["step_rnn_weights"]


@pytest.mark.parametrize("source", ["x = y" + ".a" * 100000, "-" * 1000000 + "1", "a = 1\0"])
def test_sources_that_crash_the_parser_are_flags_not_errors(source):
    flags = flags_for("cs231n/rnn_layers.py", source)
    assert flags and "does not parse" in flags[0]


def _submission_with_edited_theory(tmp_path):
    import nbformat

    (tmp_path / "RNN_LSTM_Theory.ipynb").write_text(nbformat.writes(_edited(_theory_release())))
    return tmp_path


def test_notebooks_parsed_at_intake_are_not_read_again(tmp_path, monkeypatch):
    from autograder.grading import intake

    root = _submission_with_edited_theory(tmp_path)
    parsed = {"RNN_LSTM_Theory.ipynb": _edited(_theory_release())}
    from autograder.grading import integrity as integrity_mod

    integrity_mod._released_notebook.cache_clear()
    integrity_flags(root, [], notebooks=["RNN_LSTM_Theory.ipynb"])  # the release's, parsed and cached
    monkeypatch.setattr(intake, "read_notebook", lambda *a, **k: pytest.fail("read a notebook again"))
    flags = integrity_flags(root, [], notebooks=["RNN_LSTM_Theory.ipynb"], parsed=parsed)
    assert len(flags) == 1 and "'step_rnn_weights' was changed" in flags[0]
    # a notebook intake refused (absent from ``parsed``) is not read here either
    assert integrity_flags(root, [], notebooks=["RNN_LSTM_Theory.ipynb"], parsed={}) == []


def test_notebooks_over_the_caps_are_not_parsed_for_flags(tmp_path):
    import dataclasses

    root = _submission_with_edited_theory(tmp_path)
    limits = dataclasses.replace(load_assignment().limits, max_notebook_cells=5)
    assert integrity_flags(root, [], notebooks=["RNN_LSTM_Theory.ipynb"], limits=limits) == []
    assert integrity_flags(root, [], notebooks=["RNN_LSTM_Theory.ipynb"])  # within the caps: flagged
