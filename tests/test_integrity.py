"""Integrity flags: forbidden shortcuts are flagged, the reference is not."""
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.integrity import flags_for, integrity_flags


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
