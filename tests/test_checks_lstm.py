"""The LSTM part's hidden checks: full marks for the reference, and each
single-bug mutant loses points in its own check and nowhere it should not."""
import pytest

from autograder.checks.local import grade
from mutation import assert_loses_only_covering_checks, known_mutants

LSTM_CHECKS = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
               "captioning_lstm_loss", "captioning_lstm_sample"]

# The part's known mistakes (assignment/known_mistakes/lstm.toml) aimed at these
# checks; the training check's one is tested in test_checks_captioning_training.py.
MUTANTS = [(check, m) for check, m in known_mutants("lstm") if check in LSTM_CHECKS]


@pytest.mark.parametrize("name", LSTM_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{c}-{k}" for k, (c, _) in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, LSTM_CHECKS, primary)


def test_every_lstm_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(LSTM_CHECKS)
