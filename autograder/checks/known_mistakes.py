"""The assignment's known mistakes: single-bug variants of the reference, each with a hint.

They live in ``assignment/known_mistakes/<part>.toml`` (on the trusted side
only: their text quotes the reference solutions, so they are never mounted into
the sandbox nor shipped in the release). Each entry::

    [[mistake]]
    check = "saliency_maps"    # the check aimed at the function the bug is in
    target = "cs231n/net_visualization_pytorch.py:compute_saliency_maps"
    old = '''...'''           # text of the reference file, occurring exactly once
    new = '''...'''           # what the bug puts there instead
    hint = "your saliency maps equal those of the signed gradient: take the absolute value"

The same entries serve two callers: the tests (every mistake loses points in
its check and in no check that does not cover its target) and the grader's
diagnosis (a student whose outputs equal a mistake's is told its hint).
"""
import dataclasses
import shutil
import tomllib
from pathlib import Path

from autograder.reference import REFERENCE_ROOT

MISTAKES_DIR = REFERENCE_ROOT / "assignment" / "known_mistakes"


@dataclasses.dataclass(frozen=True)
class Mistake:
    target: str  # "cs231n/file.py:function" as in assignment.toml's covers
    old: str
    new: str
    check: str = ""  # the check aimed at ``target``
    hint: str = ""  # what to do about it, addressed to the student

    @property
    def path(self):
        return self.target.split(":", 1)[0]

    @property
    def id(self):
        """A name that is the same in every process (test ids under xdist)."""
        import hashlib

        digest = hashlib.sha256(f"{self.old}\0{self.new}".encode()).hexdigest()[:6]
        return f"{self.check}:{self.target.split(':', 1)[1]}:{digest}"


def load_mistakes(part=None, folder=MISTAKES_DIR):
    """Every known mistake, or those of one part (``<part>.toml``), in file order."""
    files = [folder / f"{part}.toml"] if part else sorted(Path(folder).glob("*.toml"))
    mistakes = []
    for file in files:
        if not file.exists():
            continue
        with open(file, "rb") as handle:
            data = tomllib.load(handle)
        for entry in data.get("mistake", []):
            unknown = set(entry) - {"check", "target", "old", "new", "hint"}
            if unknown or not {"check", "target", "old", "new", "hint"} <= set(entry):
                raise ValueError(f"{file.name}: a mistake needs check, target, old, new and hint "
                                 f"(and nothing else): {entry}")
            mistakes.append(Mistake(**entry))
    return mistakes


def copy_package(folder, source_root=REFERENCE_ROOT):
    """Copy the reference ``cs231n`` (code only, no datasets) into ``folder``; return ``folder``."""
    folder = Path(folder)
    shutil.copytree(Path(source_root) / "cs231n", folder / "cs231n",
                    ignore=shutil.ignore_patterns("__pycache__", "coco_captioning", "MNIST_data", "*.npz",
                                                  "cifar-10-batches-py"))
    return folder


def make_mutant(mistake, folder, source_root=REFERENCE_ROOT):
    """Copy the reference ``cs231n`` into ``folder`` and apply ``mistake``; return ``folder``.

    The old text must occur exactly once, so a mistake cannot silently stop
    applying when the reference changes.
    """
    folder = copy_package(folder, source_root)
    file = folder / mistake.path
    text = file.read_text()
    count = text.count(mistake.old)
    if count != 1:
        raise ValueError(f"{mistake.target}: the mistake's old text occurs {count} times in {mistake.path}")
    file.write_text(text.replace(mistake.old, mistake.new))
    return folder
