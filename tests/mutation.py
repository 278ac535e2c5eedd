"""Single-bug mutants of the reference package, for testing the checks.

A mutant is one exact text replacement in one reference file. ``make_mutant``
copies the reference ``cs231n`` into a temporary folder and applies it (the old
text must occur exactly once, so a mutant cannot silently stop applying when
the reference changes); ``grade_all`` grades checks in-process against it.
"""
import dataclasses
import shutil
from pathlib import Path

from autograder.assignment import load_assignment
from autograder.checks import REGISTRY
from autograder.checks.local import grade
from autograder.reference import REFERENCE_ROOT, package_modules


@dataclasses.dataclass(frozen=True)
class Mutant:
    target: str  # "cs231n/file.py:function" as in assignment.toml's covers
    old: str
    new: str

    @property
    def path(self):
        return self.target.split(":", 1)[0]


def make_mutant(mutant, folder):
    folder = Path(folder)
    shutil.copytree(REFERENCE_ROOT / "cs231n", folder / "cs231n",
                    ignore=shutil.ignore_patterns("__pycache__", "coco_captioning", "MNIST_data", "*.npz"))
    file = folder / mutant.path
    text = file.read_text()
    count = text.count(mutant.old)
    assert count == 1, f"{mutant.target}: the mutant's old text occurs {count} times in {mutant.path}"
    file.write_text(text.replace(mutant.old, mutant.new))
    return folder


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
