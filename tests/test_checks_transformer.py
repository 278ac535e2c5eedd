"""The Transformer part's hidden checks: full marks for the reference and for the
ways students write correct code (tests/fairness/transformer.py), nothing for
degenerate or fake answers, and each known mistake
(assignment/known_mistakes/transformer.toml) loses points in its own check,
nowhere it should not, and is named by its hint."""
import time

import numpy as np
import pytest

from autograder.checks import REGISTRY
from autograder.checks.local import grade, make_inputs, prepared, run_student
from autograder.checks.transformer import OVERFIT_BAR, OVERFIT_ITERATIONS, PARAM_PREFIX
from autograder.checks.known_mistakes import make_mutant
from autograder.reference import package_modules, reference_modules
from fairness.alternative import Alternative
from fairness.transformer import ALTERNATIVES, DEGENERATE
from mutation import graded_with_edits, part_outcomes, assert_loses_only_covering_checks, covering, known_mutants

FAST_CHECKS = ["multihead_attention", "positional_encoding", "transformer_forward"]
TRANSFORMER_CHECKS = FAST_CHECKS + ["transformer_overfit"]
SEEDS = (0, 1, 2)  # the corpus over 50 grading seeds: tests/test_fairness_checks.py

L = "cs231n/transformer_layers.py:"
ATTN = L + "MultiHeadAttention.forward"
MODEL = "cs231n/classifiers/transformer.py:CaptioningTransformer.forward"
MUTANTS = known_mutants("transformer")




# --------------------------------------------------------------------------- reference and mistakes

@pytest.mark.parametrize("name", FAST_CHECKS)
def test_reference_gets_full_marks(name):
    for seed in SEEDS:
        result = grade(name, seed=seed)
        assert result.fraction == 1.0, result.message


def test_reference_gets_full_marks_on_training_check():
    result = grade("transformer_overfit")
    assert result.fraction == 1.0, result.message


def test_every_transformer_check_has_a_mistake():
    assert {n for n, c in REGISTRY.items() if c.__module__ == "autograder.checks.transformer"} \
        == set(TRANSFORMER_CHECKS)
    assert {p for p, _ in MUTANTS} == set(TRANSFORMER_CHECKS)


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{p}-{k}" for k, (p, _) in enumerate(MUTANTS)])
def test_known_mistakes_lose_only_their_checks_and_get_their_hint(primary, mutant, tmp_path):
    # transformer_overfit covers every student function of the part, so it may
    # change with any of them: it is graded only for its own mistakes (speed).
    names = TRANSFORMER_CHECKS if primary == "transformer_overfit" else FAST_CHECKS
    results = assert_loses_only_covering_checks(mutant, tmp_path, names, primary)
    assert results[primary].hint == mutant.hint, (results[primary].hint, results[primary].message)


def test_a_detached_embedding_passes_the_forward_check_but_not_the_training_check(tmp_path):
    (mistake,) = [m for p, m in MUTANTS if p == "transformer_overfit"]
    root = make_mutant(mistake, tmp_path)
    forward = grade("transformer_forward", student=package_modules(root, REGISTRY["transformer_forward"].modules))
    overfit = grade("transformer_overfit", student=package_modules(root, REGISTRY["transformer_overfit"].modules))
    assert forward.fraction == 1.0
    assert overfit.fraction == 0.0
    assert "no gradient reaches embedding.weight" in overfit.message


# --------------------------------------------------------------------------- the fairness corpus

@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[a.id for a in ALTERNATIVES])
def test_correct_alternatives_keep_full_marks(alternative, tmp_path):
    names = sorted(covering(alternative.target))
    assert names
    for name in names:
        for seed in SEEDS[:1] if name == "transformer_overfit" else SEEDS:
            result = graded_with_edits([alternative], name, tmp_path / f"{name}{seed}", seed)
            assert result.fraction == 1.0, f"{name}, seed {seed}: {result.message}"


@pytest.mark.parametrize("degenerate", DEGENERATE, ids=[d.id for d in DEGENERATE])
def test_degenerate_code_scores_zero(degenerate, tmp_path):
    for name in degenerate.zero:
        result = graded_with_edits([degenerate], name, tmp_path / name)
        assert result.fraction == 0, f"{name}: {result.message}"


def test_the_corpus_covers_the_idioms_the_issue_names():
    sources = " ".join(a.source for a in ALTERNATIVES)
    for idiom in ("torch.sqrt(torch.tensor(d))", "math.sqrt", "** 0.5", "einsum", "-1e9", "-1e20",
                  'float("-inf")', "F.softmax", "torch.exp", ".view(", ".reshape(", "torch.Tensor(["):
        assert idiom in sources, idiom
    assert len([a for a in ALTERNATIVES if a.target == ATTN]) >= 6


# --------------------------------------------------------------------------- what the checks demand

def test_attention_is_called_with_keywords_and_positionally(monkeypatch):
    # The canonical decoder layer calls self_attn(query=..., key=..., value=..., attn_mask=...);
    # the check calls both ways, as notebooks and the decoder layer do.
    check = REGISTRY["multihead_attention"]
    ns = reference_modules(check.modules)
    cls = ns.transformer_layers.MultiHeadAttention
    original, calls = cls.forward, []

    def recording(self, *args, **kwargs):
        calls.append((len(args), tuple(sorted(kwargs))))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "forward", recording)
    outputs, error = run_student(check, ns, make_inputs(check))
    assert error is None, error
    assert (0, ("key", "query", "value")) in calls and (3, ()) in calls


def test_causal_mask_part_counts_only_with_right_scores(tmp_path):
    # Scores that never move (the reference's scores plus a constant shift) keep
    # earlier positions unchanged, yet earn nothing: the causal part is gated.
    shifted = Alternative("test", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            memory = self.visual_projection(features).unsqueeze(1)
            causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
            out = self.transformer(self.positional_encoding(self.embedding(captions)), memory, tgt_mask=causal)
            return self.output(out) + 1.0
    ''', "test")
    result = graded_with_edits([shifted], "transformer_forward", tmp_path)
    assert result.fraction == 0
    assert "causal mask: not credited until scores (eval mode) is right" in [p.detail for p in result.parts]


def test_seeded_dropout_parts_really_depend_on_the_seed():
    # The train-mode outputs must differ from eval mode (dropout is on) and be
    # reproducible from the seed in the inputs (what makes the comparison fair).
    check = REGISTRY["multihead_attention"]
    inputs = make_inputs(check)
    ns = reference_modules(check.modules)
    first, second = check.run(ns, inputs), check.run(ns, inputs)
    np.testing.assert_array_equal(first["train_self_masked"], second["train_self_masked"])
    assert not np.allclose(first["train_self_masked"], first["self_masked"])


def test_a_made_up_loss_history_earns_nothing_without_trained_weights():
    check = REGISTRY["transformer_overfit"]
    inputs, expected = prepared(check)
    assert all(p.ok for p in check.score(expected, expected, inputs))
    faked = {k: (np.zeros_like(v) if k.startswith(PARAM_PREFIX) else v) for k, v in expected.items()}
    faked["loss_history"] = np.linspace(3, 0.001, OVERFIT_ITERATIONS)
    result = [p for p in check.score(faked, expected, inputs) if p.label == "memorises the tiny set"][0]
    assert not result.ok


def test_memorising_with_a_wrong_model_earns_nothing(tmp_path):
    # A model without positional codes still learns four captions, but it is not
    # the model asked for: the training part needs the loss and gradients to be right.
    no_positions = Alternative("test", L + "PositionalEncoding.forward", '''
        def forward(self, x):
            return self.dropout(x + 0.5 * self.pe[:, :x.shape[1]])
    ''', "test")
    result = graded_with_edits([no_positions], "transformer_overfit", tmp_path)
    assert result.fraction == 0
    assert not part_outcomes(result)["loss and gradients (eval mode)"]


def test_training_check_is_cheap():
    # It is graded for every submission and, in the fairness tests, over 50 seeds
    # for the reference and every alternative: one grading (reference run, student
    # run, trusted evaluation) costs about 0.5 s of CPU on one core.
    grade("transformer_overfit", seed=5)  # warm up
    start = time.process_time()
    result = grade("transformer_overfit", seed=6)
    assert result.fraction == 1.0, result.message
    assert time.process_time() - start < 1.5


@pytest.mark.slow
def test_overfit_bar_has_a_wide_margin_for_the_reference():
    # Calibration (200 seeds when the bar was set): the reference ends below 0.07;
    # a model that cannot see the image cannot go below 4 ln 4 / 16 = 0.35.
    check = REGISTRY["transformer_overfit"]
    for seed in range(10):
        inputs = make_inputs(check, seed)
        final, problem = check.trusted_loss(check.run(reference_modules(check.modules), inputs), inputs)
        assert problem is None and final < OVERFIT_BAR / 2
