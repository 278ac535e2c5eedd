"""The SimCLR part's hidden checks: full marks for the reference and for the ways
students write correct code (tests/fairness/simclr.py), nothing for degenerate
code, and each known mistake (assignment/known_mistakes/simclr.toml) loses
points in its own check, nowhere it should not, and is named by its hint.

Everything runs in-process (the local check path), on few seeds: the corpus over
many grading seeds is tests/test_fairness_checks.py's job."""
import pytest

from autograder.checks import REGISTRY
from autograder.checks.local import grade
from fairness.simclr import ALTERNATIVES, DEGENERATE
from mutation import assert_loses_only_covering_checks, covering, graded_with_edits, known_mutants, part_outcomes

SIMCLR_CHECKS = ["simclr_augmentation", "simclr_sim", "simclr_loss_naive", "sim_positive_pairs",
                 "compute_sim_matrix", "simclr_loss_vectorized", "simclr_train"]
SEEDS = (0, 1)
MUTANTS = known_mutants("simclr")


def test_every_simclr_check_has_a_mistake_and_is_in_the_assignment():
    assert {n for n, c in REGISTRY.items() if c.__module__ == "autograder.checks.simclr"} == set(SIMCLR_CHECKS)
    assert {p for p, _ in MUTANTS} == set(SIMCLR_CHECKS)


@pytest.mark.parametrize("name", SIMCLR_CHECKS)
def test_reference_gets_full_marks(name):
    for seed in SEEDS:
        result = grade(name, seed=seed)
        assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{p}-{k}" for k, (p, _) in enumerate(MUTANTS)])
def test_known_mistakes_lose_only_their_checks_and_get_their_hint(primary, mutant, tmp_path):
    results = assert_loses_only_covering_checks(mutant, tmp_path, SIMCLR_CHECKS, primary)
    assert results[primary].hint == mutant.hint, (results[primary].hint, results[primary].message)


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[a.id for a in ALTERNATIVES])
def test_correct_alternatives_keep_full_marks(alternative, tmp_path):
    names = sorted(covering(alternative.target))
    assert names
    for name in names:
        result = graded_with_edits([alternative], name, tmp_path / name, seed=0)
        assert result.fraction == 1.0, f"{name}: {result.message}"


@pytest.mark.parametrize("degenerate", DEGENERATE, ids=[d.id for d in DEGENERATE])
def test_degenerate_code_scores_zero(degenerate, tmp_path):
    for name in degenerate.zero:
        result = graded_with_edits([degenerate], name, tmp_path / name)
        assert result.fraction == 0, result.message


def test_a_loss_without_gradient_says_so(tmp_path):
    from fairness.alternative import Alternative

    detached = Alternative("test", "cs231n/simclr/contrastive_loss.py:simclr_loss_vectorized", """
        def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
            return simclr_loss_naive(out_left.detach(), out_right.detach(), tau)
        """, "test")
    result = graded_with_edits([detached], "simclr_loss_vectorized", tmp_path)
    assert 0 < result.fraction < 1 and "no gradient reaches the inputs" in result.message


def test_sim_positive_pairs_of_shape_n_keeps_the_values_share(tmp_path):
    from fairness.alternative import Alternative

    flat = Alternative("test", "cs231n/simclr/contrastive_loss.py:sim_positive_pairs", """
        def sim_positive_pairs(out_left, out_right):
            return torch.nn.functional.cosine_similarity(out_left, out_right, dim=1)
        """, "test")
    result = graded_with_edits([flat], "sim_positive_pairs", tmp_path)
    assert part_outcomes(result) == {"the similarities not degenerate": True, "the similarities": True,
                                     "shape": False}
    assert result.fraction == pytest.approx(3 / 4)


def test_training_on_the_features_loses_the_steps_and_the_measured_loss(tmp_path):
    """The known mistake (the loss on h, not z): the trusted measurement of the loss of the
    projections says so, whatever train returns about itself."""
    mistake = next(m for p, m in MUTANTS if p == "simclr_train")
    results = assert_loses_only_covering_checks(mistake, tmp_path, ["simclr_train"], "simclr_train")
    assert part_outcomes(results["simclr_train"])["the parameters after the epoch"] is False


def test_the_augmentation_check_reads_the_normalisation_from_the_instructors_package(monkeypatch):
    """Scoring un-normalises the views with CIFAR-10's mean and std. They come from the
    instructor's copy of the provided package, not from whatever ``cs231n.simclr``
    the grading process has in sys.modules: in a notebook kernel that is the
    student's, and in a batch a thread loading the reference sets the entry aside
    for a moment (the hostile batch once lost this check's points to that race)."""
    import sys
    import types

    from autograder.reference import reference_modules

    check = REGISTRY["simclr_augmentation"]
    stranger = types.ModuleType("cs231n.simclr")
    stranger.CIFAR10_MEAN, stranger.CIFAR10_STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    monkeypatch.setattr(check, "_normalize", None, raising=False)  # read afresh, with the stranger in place
    student = reference_modules(check.modules)
    monkeypatch.setitem(sys.modules, "cs231n.simclr", stranger)
    result = grade("simclr_augmentation", student=student, seed=0)
    assert result.fraction == 1.0, result.message
