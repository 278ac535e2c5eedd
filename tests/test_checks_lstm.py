"""The LSTM part's hidden checks: full marks for the reference, and each
single-bug mutant loses points in its own check and nowhere it should not."""
import pytest

from autograder.checks.local import grade
from mutation import Mutant, assert_loses_only_covering_checks

LSTM_CHECKS = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
               "captioning_lstm_loss", "captioning_lstm_sample"]

L = "cs231n/rnn_layers.py:"
M = "cs231n/classifiers/rnn.py:"
MUTANTS = [
    # the input and forget gates swapped
    ("lstm_step_forward", Mutant(L + "lstm_step_forward",
                                 "i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]",
                                 "f, i, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]")),
    # the gradient of the previous cell state misses the forget gate
    ("lstm_step_backward", Mutant(L + "lstm_step_backward", "dprev_c = dc * f\n    dx = da @ Wx.T",
                                  "dprev_c = dc\n    dx = da @ Wx.T")),
    # the initial cell state is not zero
    ("lstm_forward", Mutant(L + "lstm_forward", "prev_h, prev_c = h0, np.zeros_like(h0)",
                            "prev_h, prev_c = h0, np.ones_like(h0)")),
    # the cell state's gradient is not carried back through time
    ("lstm_backward", Mutant(L + "lstm_backward",
                             "dc = dprev_c + dnext_h * o * (1 - tanh_c * tanh_c)",
                             "dc = dnext_h * o * (1 - tanh_c * tanh_c)")),
    # a missing mask: <NULL> targets count in the loss
    ("captioning_lstm_loss", Mutant(M + "CaptioningRNN.loss",
                                    "temporal_softmax_loss(scores, captions_out, mask)",
                                    "temporal_softmax_loss(scores, captions_out, np.ones_like(mask))")),
    # sampling forgets the cell state between steps
    ("captioning_lstm_sample", Mutant(M + "CaptioningRNN.sample",
                                      "h, c, _ = lstm_step_forward(x, h, c, Wx, Wh, b)",
                                      "h, _, _ = lstm_step_forward(x, h, c, Wx, Wh, b)")),
]


@pytest.mark.parametrize("name", LSTM_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, LSTM_CHECKS, primary)


def test_every_lstm_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(LSTM_CHECKS)
