"""The network visualization part's hidden checks: full marks for the reference,
and each single-bug mutant loses points in its own check and nowhere it should not."""
import pytest

from autograder.checks.local import grade
from mutation import Mutant, assert_loses_only_covering_checks

VIS_CHECKS = ["saliency_maps", "fooling_image", "class_visualization_step"]

V = "cs231n/net_visualization_pytorch.py:"
MUTANTS = [
    # saliency without the absolute value: negative gradients win the channel max
    ("saliency_maps", Mutant(V + "compute_saliency_maps", "saliency = dX.abs().amax(dim=1)",
                             "saliency = dX.amax(dim=1)")),
    # gradient descent on the target score: the target is never reached
    ("fooling_image", Mutant(V + "make_fooling_image", "X_fooling = X_var.detach() + learning_rate * dX / dX.norm()",
                             "X_fooling = X_var.detach() - learning_rate * dX / dX.norm()")),
    # no normalisation: steps have the gradient's length, not learning_rate
    ("fooling_image", Mutant(V + "make_fooling_image", "X_fooling = X_var.detach() + learning_rate * dX / dX.norm()",
                             "X_fooling = X_var.detach() + learning_rate * dX")),
    # no early stop: all max_iter steps are taken
    ("fooling_image", Mutant(V + "make_fooling_image", "        if scores.argmax(dim=1).item() == target_y:\n            break\n",
                             "")),
    # the L2 penalty with the wrong sign rewards large images
    ("class_visualization_step", Mutant(V + "class_visualization_update_step",
                                        "objective = model(img_var)[0, target_y] - l2_reg * (img_var * img_var).sum()",
                                        "objective = model(img_var)[0, target_y] + l2_reg * (img_var * img_var).sum()")),
    # a new tensor instead of an in-place update
    ("class_visualization_step", Mutant(V + "class_visualization_update_step",
                                        "img.add_(learning_rate * dimg / dimg.norm())",
                                        "img = img + learning_rate * dimg / dimg.norm()")),
]


@pytest.mark.parametrize("name", VIS_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", VIS_CHECKS)
def test_reference_gets_full_marks_for_other_seeds(name, seed):
    result = grade(name, seed=seed)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{m[0]}-{k}" for k, m in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, VIS_CHECKS, primary)


def test_every_visualization_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(VIS_CHECKS)
