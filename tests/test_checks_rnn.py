"""The RNN part's hidden checks: full marks for the reference, and each
single-bug mutant loses points in its own check and nowhere it should not."""
import pytest

from autograder.checks.local import grade
from mutation import Mutant, assert_loses_only_covering_checks

RNN_CHECKS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
              "word_embedding_forward", "word_embedding_backward",
              "captioning_rnn_loss", "captioning_rnn_sample"]

L = "cs231n/rnn_layers.py:"
M = "cs231n/classifiers/rnn.py:"
MUTANTS = [
    ("rnn_step_forward", Mutant(L + "rnn_step_forward", "np.tanh(x @ Wx + prev_h @ Wh + b)",
                                "np.tanh(x @ Wx + prev_h @ Wh)")),
    ("rnn_step_backward", Mutant(L + "rnn_step_backward", "da = dnext_h * (1 - next_h * next_h)",
                                 "da = dnext_h * (1 - next_h)")),
    ("rnn_forward", Mutant(L + "rnn_forward", "prev_h, _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)",
                           "prev_h, _ = rnn_step_forward(x[:, t], h0, Wx, Wh, b)")),
    ("rnn_backward", Mutant(L + "rnn_backward", "dprev_h = da[:, t] @ Wh.T", "dprev_h = da[:, t] @ Wh")),
    ("word_embedding_forward", Mutant(L + "word_embedding_forward", "out = W[x]", "out = W[x.T].transpose(1, 0, 2)[:, ::-1]")),
    ("word_embedding_backward", Mutant(L + "word_embedding_backward", "np.add.at(dW, x, dout)", "dW[x] += dout")),
    ("captioning_rnn_loss", Mutant(M + "CaptioningRNN.loss", "_, grads[\"W_proj\"], grads[\"b_proj\"] = affine_backward(dh0, proj_cache)",
                                   "_, grads[\"W_proj\"], grads[\"b_proj\"] = affine_backward(0 * dh0, proj_cache)")),
    ("captioning_rnn_sample", Mutant(M + "CaptioningRNN.sample", "words = np.argmax(h @ W_vocab + b_vocab, axis=1)",
                                     "words = np.argmin(h @ W_vocab + b_vocab, axis=1)")),
]


@pytest.mark.parametrize("name", RNN_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
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
