"""The Transformer part's hidden checks: full marks for the reference, and each
single-bug mutant loses points in its own check and nowhere it should not."""
import numpy as np
import pytest

from autograder.checks import REGISTRY
from autograder.checks.local import grade, make_inputs, prepared
from autograder.checks.transformer import OVERFIT_BAR, OVERFIT_ITERATIONS, PARAM_PREFIX
from autograder.reference import reference_modules
from mutation import Mutant, assert_loses_only_covering_checks

FAST_CHECKS = ["multihead_attention", "positional_encoding", "transformer_forward"]
TRANSFORMER_CHECKS = FAST_CHECKS + ["transformer_overfit"]

L = "cs231n/transformer_layers.py:"
M = "cs231n/classifiers/transformer.py:CaptioningTransformer.forward"
ATTN = L + "MultiHeadAttention.forward"
PE_INIT = L + "PositionalEncoding.__init__"

# transformer_overfit covers every student function of the part, so its result
# is allowed to change with any of these bugs; they are graded on the fast checks.
MUTANTS = [
    ("multihead_attention", Mutant(ATTN, "scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(D)",
                                   "scores = torch.matmul(q, k.transpose(-2, -1))")),  # no scaling
    ("multihead_attention", Mutant(ATTN, "scores.masked_fill(~attn_mask, float(\"-inf\"))",
                                   "scores.masked_fill(attn_mask, float(\"-inf\"))")),  # mask meaning inverted
    ("multihead_attention", Mutant(ATTN, "weights = self.attn_drop(torch.softmax(scores, dim=-1))",
                                   "weights = torch.softmax(self.attn_drop(scores), dim=-1)")),  # dropout first
    ("multihead_attention", Mutant(ATTN, "q = self.query(query).view(N, S, H, D).transpose(1, 2)",
                                   "q = self.query(query).view(N, H, S, D)")),  # heads split wrongly
    ("multihead_attention", Mutant(ATTN, "self.proj(heads.transpose(1, 2).reshape(N, S, E))",
                                   "self.proj(heads.reshape(N, S, E))")),  # heads merged wrongly
    ("positional_encoding", Mutant(PE_INIT, "pe[0, :, 0::2] = torch.sin(angle).to(pe.dtype)\n"
                                   "        pe[0, :, 1::2] = torch.cos(",
                                   "pe[0, :, 0::2] = torch.cos(angle).to(pe.dtype)\n"
                                   "        pe[0, :, 1::2] = torch.sin(")),  # sin and cos swapped
    ("positional_encoding", Mutant(PE_INIT, "torch.pow(10000.0, -even_cols / self.embed_dim)",
                                   "torch.pow(10000.0, -even_cols / 2 / self.embed_dim)")),  # j for 2j
    ("positional_encoding", Mutant(L + "PositionalEncoding.forward", "output = self.dropout(x + self.pe[:, :S].to(x.dtype))",
                                   "output = x + self.pe[:, :S].to(x.dtype)")),  # no dropout
    ("transformer_forward", Mutant(M, "self.transformer(tokens, memory, tgt_mask=causal_mask)",
                                   "self.transformer(tokens, memory, tgt_mask=None)")),  # no causal mask
    ("transformer_forward", Mutant(M, "torch.tril(torch.ones(T, T", "torch.triu(torch.ones(T, T")),  # looks ahead
    ("transformer_forward", Mutant(M, "tokens = self.positional_encoding(self.embedding(captions))",
                                   "tokens = self.embedding(captions)")),  # no positions
]
# The training check's own bug: the image never reaches the decoder.
OVERFIT_MUTANT = Mutant(M, "memory = self.visual_projection(features).unsqueeze(1)",
                        "memory = self.visual_projection(0 * features).unsqueeze(1)")


@pytest.mark.parametrize("name", FAST_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.slow
def test_reference_gets_full_marks_on_training_check():
    result = grade("transformer_overfit")
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, FAST_CHECKS, primary)


@pytest.mark.slow
def test_overfit_mutant_loses_the_training_check(tmp_path):
    results = assert_loses_only_covering_checks(OVERFIT_MUTANT, tmp_path, TRANSFORMER_CHECKS,
                                                "transformer_overfit")
    assert "not below the bar" in results["transformer_overfit"].message


def test_every_transformer_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} | {"transformer_overfit"} == set(TRANSFORMER_CHECKS)


def test_seeded_dropout_parts_really_depend_on_the_seed():
    # The train-mode outputs must differ from eval mode (dropout is on) and be
    # reproducible from the seed in the inputs (what makes the comparison fair).
    check = REGISTRY["multihead_attention"]
    inputs = make_inputs(check)
    ns = reference_modules(check.modules)
    first, second = check.run(ns, inputs), check.run(ns, inputs)
    np.testing.assert_array_equal(first["train_self_masked"], second["train_self_masked"])
    assert not np.allclose(first["train_self_masked"], first["self_masked"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overfit_bar_has_a_wide_margin_for_the_reference(seed):
    # Calibration (40 seeds when the bar was set): the reference ends between
    # 0.009 and 0.034; a model that ignores the image cannot go below ~0.33.
    check = REGISTRY["transformer_overfit"]
    inputs = make_inputs(check, seed)
    final, problem = check.trusted_loss(check.run(reference_modules(check.modules), inputs), inputs)
    assert problem is None and final < OVERFIT_BAR / 3


def test_a_made_up_loss_history_earns_nothing_without_trained_weights():
    check = REGISTRY["transformer_overfit"]
    inputs, expected = prepared(check)
    assert all(p.ok for p in check.score(expected, expected, inputs))
    faked = {k: (np.zeros_like(v) if k.startswith(PARAM_PREFIX) else v) for k, v in expected.items()}
    faked["loss_history"] = np.linspace(3, 0.001, OVERFIT_ITERATIONS)
    assert not any(p.ok for p in check.score(faked, expected, inputs))
