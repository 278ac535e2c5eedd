"""Fair grading, in-process: every check, over many grading seeds, gives full marks
to the reference and to the fairness corpus (correct code in the idioms students
use, tests/fairness/), and exactly zero to the corpus' degenerate code. Outputs
are graded as the grader grades them (``core.score_within``): held to the check's
schema, then scored within the assignment's time budget.

The corpus is graded in bundles (tests/fairness ``bundles``: alternatives for
different functions share a package, as a student's choices do); each check
grades every bundle holding an alternative of a function it covers. The
reference is graded by scoring its expected outputs as if a student had
returned them, which is what running it again gives:
``test_reference_runs_are_deterministic`` proves that.
"""
import os

import numpy as np
import pytest

from autograder.assignment import load_assignment
from autograder.checks import REGISTRY, core
from autograder.checks.local import prepared, run_student, score_budget
from autograder.checks.known_mistakes import copy_package
from autograder.reference import package_modules, reference_modules
from fairness import ALL_ALTERNATIVES, ALL_DEGENERATE, apply_edits, bundles

# Grading seeds tried per check. The checks that train a model or run a whole
# network (or, for simclr_augmentation, augment 350 images) cost 0.4-3.5 s per seed
# (reference and bundles together), so each
# commit samples 12 seeds of them and 50 of every other check; a wider sweep sets
# CS231N_FAIRNESS_SEEDS (every check then gets that many), e.g. 200 before a term.
SWEEP = os.environ.get("CS231N_FAIRNESS_SEEDS")
COSTLY = {"transformer_overfit", "lstm_overfit", "rnn_overfit", "dc_networks", "fooling_image", "gan_networks",
          "simclr_augmentation", "simclr_train"}


def seeds_for(name):
    """The grading seeds ``test_full_marks_over_seeds...`` tries for check ``name``."""
    if SWEEP:
        return range(int(SWEEP))
    return range(12 if name in COSTLY else 50)


DEGENERATE_SEEDS = range(5)
SPECS = load_assignment().checks
NAMES = sorted(REGISTRY)


def graded(name, namespace, seed):
    """The Result of check ``name`` for the implementation ``namespace`` at grading
    ``seed``: schema, then score within the budget (no diagnosis)."""
    check = REGISTRY[name]
    inputs, expected = prepared(check, seed)
    got, error = run_student(check, namespace, inputs)
    if error:
        return core.error_result(name, error)
    return core.score_within(check, got, expected, inputs, score_budget())


@pytest.fixture(scope="module")
def bundle_roots(tmp_path_factory):
    """[(alternatives, package root)] of every bundle of the corpus."""
    roots = []
    for k, bundle in enumerate(bundles()):
        root = apply_edits(copy_package(tmp_path_factory.mktemp(f"bundle{k}")), bundle)
        roots.append((bundle, root))
    return roots



def test_the_corpus_is_large_and_every_alternative_is_graded():
    covered = {t for spec in SPECS.values() for t in spec.covers}
    assert len(ALL_ALTERNATIVES) >= 25
    assert COSTLY <= set(REGISTRY), "COSTLY names a check that does not exist"
    assert not [a.id for a in ALL_ALTERNATIVES if a.target not in covered], "alternatives no check covers"
    assert not [d.id for d in ALL_DEGENERATE if not set(d.zero) <= set(REGISTRY)], "degenerates name no check"


@pytest.mark.parametrize("name", NAMES)
def test_reference_runs_are_deterministic(name):
    check = REGISTRY[name]
    inputs, expected = prepared(check, 0)
    got, error = run_student(check, reference_modules(check.modules), inputs)
    assert error is None, error
    assert set(got) == set(expected)
    for key in expected:
        assert np.array_equal(got[key], expected[key], equal_nan=True), f"{name}: {key} differs between runs"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_marks_over_seeds_for_the_reference_and_the_corpus(name, bundle_roots):
    check = REGISTRY[name]
    covers = set(SPECS[name].covers)
    mine = [(b, root) for b, root in bundle_roots if any(a.target in covers for a in b)]
    failures = []
    for seed in seeds_for(name):
        inputs, expected = prepared(check, seed)
        reference = core.score_within(check, expected, expected, inputs, score_budget())
        if reference.fraction < 1:
            failures.append(f"seed {seed}, reference: {reference.message}")
        for bundle, root in mine:
            result = graded(name, package_modules(root, check.modules), seed)
            if result.fraction < 1:
                ids = [a.id for a in bundle if a.target in covers]
                failures.append(f"seed {seed}, alternatives {ids}: {result.message}")
    assert not failures, f"{len(failures)} gradings below full marks:\n" + "\n".join(failures[:20])


@pytest.mark.parametrize("degenerate", ALL_DEGENERATE, ids=[d.id for d in ALL_DEGENERATE])
def test_degenerate_code_scores_zero(degenerate, tmp_path):
    root = apply_edits(copy_package(tmp_path), [degenerate])
    earned = []
    for name in degenerate.zero:
        namespace = package_modules(root, REGISTRY[name].modules)
        for seed in DEGENERATE_SEEDS:
            result = graded(name, namespace, seed)
            if result.fraction != 0:
                earned.append(f"{name} at seed {seed}: {result.fraction:.2f} ({result.message})")
    assert not earned, f"{degenerate.id} ({degenerate.what}) earned points:\n" + "\n".join(earned)
