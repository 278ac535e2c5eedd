"""The RNN part's hidden checks: full marks for the reference, and each
single-bug mutant loses points in its own check and nowhere it should not."""
import pytest

from autograder.checks.local import grade
from mutation import assert_loses_only_covering_checks, known_mutants

RNN_CHECKS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
              "word_embedding_forward", "word_embedding_backward",
              "captioning_rnn_loss", "captioning_rnn_sample"]

# The part's known mistakes (assignment/known_mistakes/rnn.toml) aimed at these
# checks; the training checks' ones are tested in test_checks_captioning_training.py.
MUTANTS = [(check, m) for check, m in known_mutants("rnn") if check in RNN_CHECKS]


@pytest.mark.parametrize("name", RNN_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{c}-{k}" for k, (c, _) in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, RNN_CHECKS, primary)


def test_every_rnn_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(RNN_CHECKS)


def test_reference_runs_from_many_threads_agree_with_a_sequential_run():
    """Batch grading computes expected values from several threads; seeded checks
    (dropout, global numpy seeds) must still get exactly the sequential values."""
    import concurrent.futures

    import numpy as np

    from autograder.checks import REGISTRY
    from autograder.checks.local import expected_outputs, make_inputs

    names = ["multihead_attention", "positional_encoding", "rnn_overfit", "captioning_rnn_loss"]
    sequential = {n: expected_outputs(REGISTRY[n], make_inputs(REGISTRY[n])) for n in names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [(n, pool.submit(lambda n=n: expected_outputs(REGISTRY[n], make_inputs(REGISTRY[n]))))
                   for n in names * 4]
        for name, future in futures:
            got = future.result()
            assert got.keys() == sequential[name].keys()
            for key in got:
                np.testing.assert_array_equal(got[key], sequential[name][key], err_msg=f"{name}/{key}")


# --- fairness: what correct code may do, what degenerate code may not earn -------------

LAYER_AND_MODEL_CHECKS = RNN_CHECKS + ["lstm_step_forward", "lstm_step_backward", "lstm_forward",
                                       "lstm_backward", "captioning_lstm_loss", "captioning_lstm_sample"]


def _my_alternatives():
    import fairness.lstm
    import fairness.rnn
    return fairness.rnn.ALTERNATIVES + fairness.lstm.ALTERNATIVES


@pytest.mark.parametrize("alternative", _my_alternatives(), ids=lambda a: a.id)
def test_each_alternative_alone_gets_full_marks(alternative, tmp_path):
    """tests/test_fairness_checks.py grades the corpus in bundles over 50 seeds; here each
    alternative of this part is graded alone (beside the reference's other functions),
    at a few seeds, by every layer and model check that covers it."""
    from autograder.assignment import load_assignment
    from autograder.checks import REGISTRY
    from autograder.checks.local import grade
    from autograder.checks.known_mistakes import copy_package
    from autograder.reference import package_modules
    from fairness import apply_edits

    root = apply_edits(copy_package(tmp_path), [alternative])
    specs = load_assignment().checks
    names = [n for n in LAYER_AND_MODEL_CHECKS if alternative.target in specs[n].covers]
    assert names, f"no check covers {alternative.target}"
    for name in names:
        for seed in range(3):
            result = grade(name, student=package_modules(root, REGISTRY[name].modules), seed=seed)
            assert result.fraction == 1.0, f"{name} at seed {seed}: {result.message}"


def test_a_float64_result_is_judged_at_float32_precision_only_when_it_needs_to():
    import numpy as np

    from autograder.checks.rnn import GRAD_TOL, TOL, compare

    rng = np.random.default_rng(0)
    expected = rng.standard_normal((4, 5))
    expected[0, 0] = 1e-9  # an entry that cancels to nearly zero
    assert compare("x", expected + 1e-14, expected, TOL).ok
    rounded = expected.astype(np.float32).astype(np.float64)  # went through float32
    rounded[0, 0] += 2e-7  # and a float32 rounding where it cancelled
    assert not compare_plain_f64("x", rounded, expected)
    part = compare("x", rounded, expected, GRAD_TOL)
    assert part.ok and "float32 precision" in part.detail
    assert compare("x", rounded.astype(np.float32), expected, GRAD_TOL).ok
    wrong = expected.copy()
    wrong[1, 2] *= 1.01  # a wrong term moves an entry by far more than float32 rounding
    assert not compare("x", wrong, expected, GRAD_TOL).ok
    assert not compare("x", wrong.astype(np.float32), expected, GRAD_TOL).ok
    assert not compare("x", np.full_like(expected, np.nan), expected, GRAD_TOL).ok


def compare_plain_f64(label, got, expected):
    from autograder.checks.core import compare_arrays
    from autograder.checks.rnn import TOL
    return compare_arrays(label, got, expected, TOL).ok


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sampling_problems_are_well_posed(cell_type):
    """Every decision that counts has a clear winner (float32 code decodes the same
    captions), no caption ends at once, one ends early, and the captions need the state
    carried from step to step."""
    import numpy as np

    from autograder.checks.rnn import END, MIN_MARGIN, decisions_that_count, greedy_decode, sampling_problem

    for seed in range(20):
        problem = sampling_problem(np.random.default_rng(seed), cell_type)
        L = int(problem["max_length"])
        captions, margins = greedy_decode(problem, cell_type, L)
        counted = decisions_that_count(captions)
        assert margins[counted].min() > MIN_MARGIN
        assert not (captions[:, 0] == END).any() and (captions == END).any()
        assert (greedy_decode(problem, cell_type, L, forgetful=True)[0] != captions)[counted].any()


def test_sample_score_ignores_what_follows_end_and_zeroes_degenerate_output():
    import numpy as np

    from autograder.checks.core import score_parts
    from autograder.checks.rnn import sample_parts

    want = np.array([[5, 6, 2, 0, 0], [7, 7, 8, 9, 4]], dtype=np.int32)
    after_end = want.copy()
    after_end[0, 3:] = [2, 9]  # keeps generating after <END>: allowed
    assert score_parts("s", sample_parts(after_end, want)).fraction == 1
    for bad in (np.full_like(want, 2), np.zeros_like(want), np.full_like(want, 7)):
        assert score_parts("s", sample_parts(bad, want)).fraction == 0
    with_start = np.concatenate([np.ones((2, 1), dtype=np.int32), want[:, :-1]], axis=1)
    result = score_parts("s", sample_parts(with_start, want))
    assert result.fraction == 0 and "not <START>" in result.message


FLOAT32_FORWARDS = [  # test-only: their notebooks' centred differences (h = 1e-5) cannot see through float32
    ("cs231n/rnn_layers.py:rnn_step_forward", '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            x, prev_h, Wx, Wh, b = [a.astype(np.float32) for a in (x, prev_h, Wx, Wh, b)]
            next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
            return next_h, (x, prev_h, Wx, Wh, next_h)
        '''),
    ("cs231n/rnn_layers.py:lstm_step_forward", '''
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            x, prev_h, prev_c, Wx, Wh, b = [a.astype(np.float32) for a in (x, prev_h, prev_c, Wx, Wh, b)]
            H = prev_h.shape[1]
            a = x @ Wx + prev_h @ Wh + b
            i, f, o = [1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in range(3)]
            g = np.tanh(a[:, 3 * H:])
            next_c = f * prev_c + i * g
            tanh_c = np.tanh(next_c)
            return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
        '''),
]


def test_forward_steps_in_float32_keep_full_marks_in_every_check_downstream(tmp_path):
    """A float32 step makes every later result float32, or float64 carrying float32
    rounding (the loss, the weight gradients of a float64 model): all judged at
    float32 precision."""
    from autograder.checks import REGISTRY
    from autograder.checks.local import grade
    from autograder.checks.known_mistakes import copy_package
    from autograder.reference import package_modules
    from fairness import Alternative, apply_edits

    edits = [Alternative(f"float32-{k}", target, source, "float32") for k, (target, source) in
             enumerate(FLOAT32_FORWARDS)]
    root = apply_edits(copy_package(tmp_path), edits)
    for name in LAYER_AND_MODEL_CHECKS:
        for seed in range(3):
            result = grade(name, student=package_modules(root, REGISTRY[name].modules), seed=seed)
            assert result.fraction == 1.0, f"{name} at seed {seed}: {result.message}"
