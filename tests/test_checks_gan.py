"""The GAN part's hidden checks: full marks for the reference and for the ways
students write correct code (tests/fairness/gan.py), nothing for degenerate or
fake answers, and each known mistake (assignment/known_mistakes/gan.toml) loses
points in its own check, nowhere it should not, and is named by its hint."""
import numpy as np
import pytest

from autograder.checks import REGISTRY, gan
from autograder.checks.local import grade
from fairness.alternative import Alternative
from fairness.gan import ALTERNATIVES, DEGENERATE
from mutation import (  # noqa: F401
    Mutant,
    assert_loses_only_covering_checks,
    covering,
    grade_all,
    graded_with_edits,
    known_mutants,
    make_mutant,
    part_outcomes,
)

GAN_CHECKS = ["sample_noise", "gan_networks", "gan_losses", "get_optimizer", "ls_losses", "dc_networks"]
SEEDS = (0, 1, 2)  # the corpus over 50 grading seeds: tests/test_fairness_checks.py

G = "cs231n/gan_pytorch.py:"
MUTANTS = known_mutants("gan")




def alt(target, source, extra_imports=()):
    return Alternative("test", G + target, source, "test", extra_imports)


# --------------------------------------------------------------------------- reference and mistakes

@pytest.mark.parametrize("name", GAN_CHECKS)
def test_reference_gets_full_marks(name):
    for seed in SEEDS:
        result = grade(name, seed=seed)
        assert result.fraction == 1.0, result.message


def test_every_gan_check_has_a_mistake_and_is_in_the_assignment():
    assert {n for n, c in REGISTRY.items() if c.__module__ == "autograder.checks.gan"} == set(GAN_CHECKS)
    assert {p for p, _ in MUTANTS} == set(GAN_CHECKS)
    assert "bce_loss" not in REGISTRY  # provided code, as in the original file


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{p}-{k}" for k, (p, _) in enumerate(MUTANTS)])
def test_known_mistakes_lose_only_their_checks_and_get_their_hint(primary, mutant, tmp_path):
    results = assert_loses_only_covering_checks(mutant, tmp_path, GAN_CHECKS, primary)
    assert results[primary].hint == mutant.hint, (results[primary].hint, results[primary].message)


# --------------------------------------------------------------------------- the fairness corpus

@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[a.id for a in ALTERNATIVES])
def test_correct_alternatives_keep_full_marks(alternative, tmp_path):
    names = sorted(covering(alternative.target))
    assert names
    for name in names:
        for seed in SEEDS:
            result = graded_with_edits([alternative], name, tmp_path / f"{name}{seed}", seed)
            assert result.fraction == 1.0, f"{name}, seed {seed}: {result.message}"


@pytest.mark.parametrize("degenerate", DEGENERATE, ids=[d.id for d in DEGENERATE])
def test_degenerate_code_scores_zero(degenerate, tmp_path):
    for name in degenerate.zero:
        result = graded_with_edits([degenerate], name, tmp_path / name)
        assert result.fraction == 0, result.message


# --------------------------------------------------------------------------- what the checks feed

def test_losses_are_fed_float32_scores_of_shape_n(tmp_path):
    """The original docstrings say (N,); the original notebook makes them with .type(dtype)."""
    guard = "    assert {0}.shape == ({0}.shape[0],) and {0}.dtype == torch.float32, ({0}.shape, {0}.dtype)\n"
    edits = [
        alt("discriminator_loss", "def discriminator_loss(logits_real, logits_fake):\n"
            + guard.format("logits_real") + guard.format("logits_fake")
            + "    return bce_loss(logits_real, torch.ones_like(logits_real)) + "
              "bce_loss(logits_fake, torch.zeros_like(logits_fake))\n"),
        alt("ls_generator_loss", "def ls_generator_loss(scores_fake):\n" + guard.format("scores_fake")
            + "    return 0.5 * ((scores_fake - 1) ** 2).mean()\n"),
    ]
    for name in ("gan_losses", "ls_losses"):
        assert graded_with_edits(edits, name, tmp_path / name).fraction == 1.0


def test_loss_without_gradient_says_so(tmp_path):
    edit = alt("generator_loss", """
        def generator_loss(logits_fake):
            return bce_loss(logits_fake, torch.ones_like(logits_fake)).detach()
        """)
    result = graded_with_edits([edit], "gan_losses", tmp_path)
    assert 0 < result.fraction < 1 and "no gradient reaches the scores" in result.message


# --------------------------------------------------------------------------- fakes earn nothing

def test_right_parameter_counts_on_a_network_that_computes_something_else_earn_nothing(tmp_path):
    relu = alt("discriminator", """
        def discriminator(seed=None):
            return nn.Sequential(Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Linear(256, 1))
        """)
    result = graded_with_edits([relu], "gan_networks", tmp_path)
    got = part_outcomes(result)
    assert not got["discriminator() parameters"] and not got["discriminator takes images"]
    assert got["generator output"]
    assert result.fraction == pytest.approx(3 / 7)  # the generator's share only


def test_output_shape_of_a_tiny_network_earns_nothing(tmp_path):
    tiny = alt("build_dc_classifier", """
        def build_dc_classifier(batch_size):
            return nn.Sequential(Flatten(), nn.Linear(784, 1))
        """)
    result = graded_with_edits([tiny], "dc_networks", tmp_path)
    earned = [p.label for p in result.parts if p.ok and p.weight > 0]
    assert earned == ["DC generator output", "build_dc_generator(4) and build_dc_generator(noise_dim) parameters"]


def test_discriminator_without_flatten_loses_only_the_images_part(tmp_path):
    flat_only = alt("discriminator", """
        def discriminator(seed=None):
            return nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.01), nn.Linear(256, 256),
                                 nn.LeakyReLU(0.01), nn.Linear(256, 1))
        """)
    result = graded_with_edits([flat_only], "gan_networks", tmp_path)
    assert [label for label, ok in part_outcomes(result).items() if not ok] == ["discriminator takes images"]
    assert "start it with Flatten()" in result.message


@pytest.mark.parametrize("source", [
    """
    def get_optimizer(model):
        return optim.SGD(model.parameters(), lr=1e-3)
    """,
    """
    def get_optimizer(model):
        class Adam(torch.optim.SGD):
            pass
        Adam.__name__ = "Adam"
        return Adam(model.parameters(), lr=1e-3)
    """,
    """
    def get_optimizer(model):
        opt = optim.SGD(model.parameters(), lr=1e-3)
        opt.param_groups[0]["betas"] = (0.5, 0.999)
        opt.param_groups[0]["eps"] = 1e-8
        return opt
    """,
], ids=["sgd-same-lr", "sgd-named-adam", "sgd-with-adam-settings"])
def test_an_optimizer_that_does_not_step_like_adam_earns_nothing(source, tmp_path):
    result = graded_with_edits([alt("get_optimizer", source)], "get_optimizer", tmp_path)
    assert result.fraction == 0, result.message


def test_adam_with_wrong_betas_keeps_the_parts_it_gets_right(tmp_path):
    result = grade_all(make_mutant(Mutant(G + "get_optimizer", "betas=(0.5, 0.999)", "betas=(0.9, 0.999)"),
                                   tmp_path), ["get_optimizer"])["get_optimizer"]
    assert part_outcomes(result) == {"the parameters after the steps not degenerate": True, "Adam updates": True,
                             "type": True, "lr": True, "betas": False, "steps": False}


def test_noise_shape_and_seeding_count_only_with_right_values(tmp_path):
    unit = alt("sample_noise", """
        def sample_noise(batch_size, dim, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            return torch.rand(batch_size, dim)
        """)
    result = graded_with_edits([unit], "sample_noise", tmp_path)
    assert result.fraction == 0, result.message


def test_score_inputs_have_large_gradient_entries():
    """LOSS_TOL's reasoning: every gradient array has an entry of size >= ~0.3 / N."""
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    for seed in range(200):
        i = gan.score_inputs(np.random.default_rng(seed))
        assert np.all(np.abs(i["real"]) <= 5) and np.all(np.abs(i["fake"]) <= 5)
        assert np.max(1 - sig(i["real"])) > 0.7  # d/d real of BCE against 1
        assert np.max(sig(i["fake"])) > 0.7  # d/d fake of BCE against 0
        assert np.max(1 - sig(i["fake"])) > 0.7  # d/d fake of BCE against 1
