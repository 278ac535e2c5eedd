"""The network visualization part's hidden checks: full marks for the reference and
for correct code in students' idioms (tests/fairness/visualization.py), nothing for
degenerate code, and each known mistake (assignment/known_mistakes/visualization.toml)
loses points in its own check, nowhere it should not, and is named by its hint."""
import numpy as np
import pytest

from autograder.checks import REGISTRY, core
from autograder.checks.local import grade, prepared
from autograder.checks.visualization import FOOLING_SIZE, NUM_CLASSES, ascent_step, predictions
from autograder.checks.known_mistakes import copy_package
from autograder.reference import package_modules
from fairness import apply_edits, bundles
from fairness.visualization import ALTERNATIVES, DEGENERATE
from mutation import assert_loses_only_covering_checks, graded, known_mutants

VIS_CHECKS = ["saliency_maps", "fooling_image", "class_visualization_step"]
MUTANTS = known_mutants("visualization")
SEEDS = range(5)  # tests/test_fairness_checks.py tries 50 grading seeds



@pytest.mark.parametrize("name", VIS_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", VIS_CHECKS)
def test_reference_gets_full_marks_for_other_seeds(name, seed):
    result = grade(name, seed=seed)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{m[0]}-{k}" for k, m in enumerate(MUTANTS)])
def test_known_mistakes_lose_only_their_checks_and_get_their_hint(primary, mutant, tmp_path):
    results = assert_loses_only_covering_checks(mutant, tmp_path, VIS_CHECKS, primary)
    # The grader recognises the mistake: its hint is shown.
    assert results[primary].hint == mutant.hint, (results[primary].hint, results[primary].message)


def test_every_visualization_check_has_a_known_mistake():
    assert {p for p, _ in MUTANTS} == set(VIS_CHECKS)


# --------------------------------------------------------------------------- the fairness corpus

@pytest.fixture(scope="module")
def corpus_roots(tmp_path_factory):
    return [(bundle, apply_edits(copy_package(tmp_path_factory.mktemp(f"vis{k}")), bundle))
            for k, bundle in enumerate(bundles(ALTERNATIVES))]


def test_the_corpus_has_alternatives_for_every_function():
    targets = {a.target.split(":")[1] for a in ALTERNATIVES}
    assert targets == {"compute_saliency_maps", "make_fooling_image", "class_visualization_update_step"}
    assert len(ALTERNATIVES) >= 6


@pytest.mark.parametrize("name", VIS_CHECKS)
def test_alternatives_get_full_marks(name, corpus_roots):
    failures = []
    for bundle, root in corpus_roots:
        namespace = package_modules(root, REGISTRY[name].modules)
        for seed in SEEDS:
            result = graded(name, namespace, seed)
            if result.fraction < 1:
                failures.append(f"{[a.id for a in bundle]} seed {seed}: {result.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("degenerate", DEGENERATE, ids=[d.id for d in DEGENERATE])
def test_degenerate_code_scores_zero(degenerate, tmp_path):
    root = apply_edits(copy_package(tmp_path), [degenerate])
    for name in degenerate.zero:
        namespace = package_modules(root, REGISTRY[name].modules)
        for seed in SEEDS:
            result = graded(name, namespace, seed)
            assert result.fraction == 0, f"{name} seed {seed}: {result.message}"


# --------------------------------------------------------------------------- what the checks feed and judge

def test_inputs_follow_the_canonical_docstrings():
    saliency, _ = prepared(REGISTRY["saliency_maps"], 0)
    assert saliency["X"].ndim == 4 and saliency["X"].shape[1] == 3
    assert saliency["y"].dtype == np.int64 and saliency["y"].shape == (saliency["X"].shape[0],)
    fooling, _ = prepared(REGISTRY["fooling_image"], 0)
    assert fooling["X"].shape == (1, 3, FOOLING_SIZE, FOOLING_SIZE)  # "Tensor of shape (1, 3, 224, 224)"
    assert 0 <= int(fooling["target"]) < NUM_CLASSES and fooling["fc_b"].shape == (NUM_CLASSES,)


@pytest.mark.parametrize("seed", SEEDS)
def test_fooling_targets_need_a_few_steps_and_are_not_predicted_at_first(seed):
    inputs, expected = prepared(REGISTRY["fooling_image"], seed)
    assert predictions(inputs, inputs["X"])[0] != inputs["target"]
    assert predictions(inputs, inputs["X"] + 1e-3)[0] != inputs["target"]
    change = np.linalg.norm(expected["X_fooling"] - inputs["X"])
    assert 3.5 < change < 30.5  # between 4 and 30 unit steps


def test_both_admissible_class_visualization_steps_are_credited_and_told_apart():
    check = REGISTRY["class_visualization_step"]
    inputs, expected = prepared(check, 0)
    args = (int(inputs["target"]), float(inputs["l2_reg"]), float(inputs["learning_rate"]))
    for normalise in (True, False):
        img1 = ascent_step(inputs, inputs["X"], *args, normalise)
        img2 = ascent_step(inputs, img1, *args, normalise)
        result = core.score_parts(check.name, check.score({"img1": img1, "img2": img2}, expected, inputs))
        assert result.fraction == 1.0, result.message
        assert ("normalised step" if normalise else "plain step") in " ".join(p.detail for p in result.parts)
    # the reference takes the normalised step
    assert np.allclose(expected["img1"], ascent_step(inputs, inputs["X"], *args, True), rtol=0, atol=1e-12)
    # mixing a plain first step with a wrong second one earns the first step only
    img1 = ascent_step(inputs, inputs["X"], *args, False)
    result = core.score_parts(check.name, check.score({"img1": img1, "img2": img1 + 0.1}, expected, inputs))
    assert result.fraction == 0.5, result.message
