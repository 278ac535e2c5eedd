"""Single-bug mutants of the reference package, for testing the checks.

A mutant is one exact text replacement in one reference file. The assignment's
known mistakes (``assignment/known_mistakes/<part>.toml``, loaded by
``autograder.checks.known_mistakes``) are the catalogue: each names the check aimed at
its function and a hint the grader shows a student whose outputs match it.
``make_mutant`` copies the reference ``cs231n`` into a temporary folder and
applies one (the old text must occur exactly once, so a mutant cannot silently
stop applying when the reference changes); ``grade_all`` grades checks
in-process against it.
"""
from autograder.assignment import load_assignment
from autograder.checks import REGISTRY, core
from autograder.checks.local import grade, prepared, run_student
from autograder.checks.known_mistakes import Mistake, copy_package, load_mistakes
from autograder.checks.known_mistakes import make_mutant as _make_mutant
from autograder.reference import package_modules

Mutant = Mistake  # a mutant written in a test: a mistake without check or hint


def make_mutant(mutant, folder):
    try:
        return _make_mutant(mutant, folder)
    except ValueError as exc:
        raise AssertionError(str(exc)) from None


def known_mutants(part):
    """[(primary check, Mistake)] of a part's known mistakes, for parametrized tests."""
    return [(m.check, m) for m in load_mistakes(part)]


def grade_all(root, names):
    """{check name: Result} for ``names`` graded against the package in ``root``."""
    return {n: grade(n, student=package_modules(root, REGISTRY[n].modules)) for n in names}


def covering(target, part=None):
    """Names of the checks whose covers include ``target``."""
    checks = load_assignment().checks.values()
    return {c.name for c in checks if target in c.covers and part in (None, c.part)}


def assert_loses_only_covering_checks(mutant, tmp_path, names, primary):
    """The mutant loses points in ``primary`` (the check aimed at its function),
    and every check among ``names`` that does not cover its target keeps full marks."""
    results = grade_all(make_mutant(mutant, tmp_path), names)
    assert results[primary].fraction < 1, f"{mutant.target}: {primary} did not catch the bug"
    assert primary in covering(mutant.target), f"{primary} does not list {mutant.target} in covers"
    collateral = {n for n, r in results.items() if r.fraction < 1} - covering(mutant.target)
    assert not collateral, (f"{mutant.target}: checks that do not cover it lost points: "
                            + "; ".join(f"{n}: {results[n].message}" for n in sorted(collateral)))
    return results


def graded(name, namespace, seed):
    """A Result of check ``name`` for the implementation ``namespace`` at grading
    ``seed``, without the diagnosis (expected values cached per process)."""
    check = REGISTRY[name]
    inputs, expected = prepared(check, seed)
    got, error = run_student(check, namespace, inputs)
    if error:
        return core.error_result(name, error)
    return core.score_parts(name, check.score(got, expected, inputs))


def graded_with_edits(edits, name, folder, seed=None):
    """Check ``name`` graded in-process against the reference with ``edits``
    (fairness corpus Alternatives or Degenerates) applied in ``folder``."""
    from fairness import apply_edits

    root = apply_edits(copy_package(folder), edits)
    kwargs = {} if seed is None else {"seed": seed}
    return grade(name, student=package_modules(root, REGISTRY[name].modules), **kwargs)


def part_outcomes(result):
    """{part label: passed} of a Result."""
    return {p.label: p.ok for p in result.parts}
