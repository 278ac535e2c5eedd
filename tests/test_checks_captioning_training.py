"""The training checks of the RNN and LSTM parts (overfitting a tiny hidden
captioning problem): full marks for the reference; a bug that breaks training
loses points in its check and nowhere it should not."""
import numpy as np
import pytest

from autograder.checks import REGISTRY
from autograder.checks.captioning_training import NUM_EPOCHS, PARAM_PREFIX
from autograder.checks.local import grade, make_inputs, prepared
from autograder.reference import reference_modules
from mutation import assert_loses_only_covering_checks, known_mutants

TRAINING_CHECKS = ["rnn_overfit", "lstm_overfit"]

# The known mistakes (assignment/known_mistakes/{rnn,lstm}.toml) aimed at the
# training checks: a bug that breaks training.
MUTANTS = [(check, m) for part in ("rnn", "lstm") for check, m in known_mutants(part)
           if check in TRAINING_CHECKS]


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING_CHECKS)
def test_training_is_reproducible_and_leaves_the_global_random_state(name):
    check = REGISTRY[name]
    inputs = make_inputs(check)
    modules = reference_modules(check.modules)
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    first = check.run(modules, inputs)["loss_history"]
    assert np.array_equal(np.random.get_state()[1], before)
    second = check.run(modules, inputs)["loss_history"]
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", TRAINING_CHECKS)
def test_the_score_trusts_the_trained_parameters_not_the_reported_loss(name):
    """The loss that counts is the reference's, on the parameters the run hands back."""
    check = REGISTRY[name]
    inputs, expected = prepared(check)
    assert all(p.ok for p in check.score(expected, expected, inputs))
    untrained = dict(expected)
    for key in [k for k in expected if k.startswith(PARAM_PREFIX)]:
        untrained[key] = np.random.default_rng(0).standard_normal(expected[key].shape) * 0.01
    untrained["loss_history"] = np.linspace(20, 0.001, NUM_EPOCHS)  # a made-up, perfect history
    assert not any(p.ok for p in check.score(untrained, expected, inputs))
    some_key = next(k for k in expected if k.startswith(PARAM_PREFIX))
    for broken, why in [({some_key: np.full(expected[some_key].shape, np.nan)}, "NaN"),
                        ({some_key: expected[some_key][:1]}, "shape"),
                        ({some_key: None}, "missing")]:
        got = {k: v for k, v in {**expected, **broken}.items() if v is not None}
        parts = check.score(got, expected, inputs)
        assert not any(p.ok for p in parts) and why in parts[0].detail, parts[0].detail


@pytest.mark.slow
@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{c}-{k}" for k, (c, _) in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, TRAINING_CHECKS, primary)


def test_every_training_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(TRAINING_CHECKS)
