"""The GAN part's hidden checks: full marks for the reference and for correct
variants a student may write, and each single-bug mutant loses points in its
own check and nowhere it should not."""
import pytest

from autograder.checks import REGISTRY
from autograder.checks.local import grade
from mutation import Mutant, assert_loses_only_covering_checks, grade_all, make_mutant

GAN_CHECKS = ["sample_noise", "gan_networks", "bce_loss", "gan_losses", "get_optimizer",
              "ls_losses", "dc_networks"]

G = "cs231n/gan_pytorch.py:"
MUTANTS = [
    ("sample_noise", Mutant(G + "sample_noise", "return 2 * torch.rand(batch_size, dim) - 1",
                            "return torch.rand(batch_size, dim)")),
    ("gan_networks", Mutant(G + "discriminator",
                            "nn.Linear(256, 256),\n        nn.LeakyReLU(0.01),\n        nn.Linear(256, 1),",
                            "nn.Linear(256, 256),\n        nn.Linear(256, 1),")),
    ("bce_loss", Mutant(G + "bce_loss", "loss = torch.logaddexp(torch.zeros_like(input), input) - input * target",
                        "loss = torch.log(1 + torch.exp(input)) - input * target")),
    ("gan_losses", Mutant(G + "discriminator_loss",
                          "(bce_loss(logits_real, torch.ones_like(logits_real))\n"
                          "            + bce_loss(logits_fake, torch.zeros_like(logits_fake)))",
                          "(bce_loss(logits_real, torch.zeros_like(logits_real))\n"
                          "            + bce_loss(logits_fake, torch.ones_like(logits_fake)))")),
    ("get_optimizer", Mutant(G + "get_optimizer", "betas=(0.5, 0.999)", "betas=(0.9, 0.999)")),
    ("ls_losses", Mutant(G + "ls_generator_loss", "loss = 0.5 * ((scores_fake - 1) ** 2).mean()",
                         "loss = ((scores_fake - 1) ** 2).mean()")),
    ("dc_networks", Mutant(G + "build_dc_generator",
                           "nn.ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1)",
                           "nn.ConvTranspose2d(64, 1, kernel_size=3, stride=2, padding=1)")),
]

# Correct code written differently from the reference: it must keep full marks.
VARIANTS = [
    ("sample_noise", Mutant(G + "sample_noise", "return 2 * torch.rand(batch_size, dim) - 1",
                            "return torch.empty(batch_size, dim).uniform_(-1, 1)")),
    ("bce_loss", Mutant(G + "bce_loss", "loss = torch.logaddexp(torch.zeros_like(input), input) - input * target",
                        "loss = input.clamp(min=0) - input * target + (1 + (-input.abs()).exp()).log()")),
    ("bce_loss", Mutant(G + "bce_loss", "loss = torch.logaddexp(torch.zeros_like(input), input) - input * target",
                        "return nn.functional.binary_cross_entropy_with_logits(input, target)")),
    ("gan_losses", Mutant(G + "generator_loss", "loss = bce_loss(logits_fake, torch.ones_like(logits_fake))",
                          "loss = bce_loss(logits_fake, torch.ones(logits_fake.shape[0]).type(dtype))")),
    ("gan_networks", Mutant(G + "discriminator", "    model = nn.Sequential(\n        Flatten(),",
                            "    model = nn.Sequential(\n        nn.Flatten(),")),
]


@pytest.mark.parametrize("name", GAN_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, GAN_CHECKS, primary)


@pytest.mark.parametrize("name, variant", VARIANTS, ids=[f"{v[0]}-{k}" for k, v in enumerate(VARIANTS)])
def test_correct_variants_keep_full_marks(name, variant, tmp_path):
    result = grade_all(make_mutant(variant, tmp_path), [name])[name]
    assert result.fraction == 1.0, result.message


def test_every_gan_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(GAN_CHECKS)
    assert {n for n, c in REGISTRY.items() if c.__module__ == "autograder.checks.gan"} == set(GAN_CHECKS)


def test_naive_bce_keeps_only_the_moderate_logit_parts(tmp_path):
    """The unstable formula is right on ordinary logits and wrong only at +-1e4."""
    results = grade_all(make_mutant(MUTANTS[2][1], tmp_path), ["bce_loss"])
    parts = {p.label: p.ok for p in results["bce_loss"].parts}
    assert parts == {"loss": True, "grad": True, "loss_extreme": False, "grad_extreme": False,
                     "loss_extreme_float32": False}
