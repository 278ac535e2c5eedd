"""The fairness corpus: correct code written the way students write it, and
degenerate code that must earn nothing (issue: fair grading).

Each part has a module here (``rnn``, ``lstm``, ``transformer``,
``visualization``, ``gan``, ``theory``, ``simclr``) with two lists: ``ALTERNATIVES``
(``Alternative``: every check must give full marks, every notebook must run)
and ``DEGENERATE`` (``Degenerate``: the checks it names must give zero).
``ALL_ALTERNATIVES`` and ``ALL_DEGENERATE`` gather them.
"""
import importlib

from fairness.alternative import Alternative, Degenerate, apply_edits  # noqa: F401

PARTS = ("rnn", "lstm", "transformer", "visualization", "gan", "theory", "simclr")


def _gather(attribute):
    items = []
    for part in PARTS:
        module = importlib.import_module(f"fairness.{part}")
        items += getattr(module, attribute, [])
    ids = [item.id for item in items]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"fairness corpus ids used twice: {sorted(duplicates)}"
    return items


ALL_ALTERNATIVES = _gather("ALTERNATIVES")
ALL_DEGENERATE = _gather("DEGENERATE")


def bundles(alternatives=None):
    """The alternatives packed into as few packages as possible, no two in one
    package replacing the same function (a student's submission is such a
    combination of choices too). Order is kept, so packing is deterministic."""
    packed = []
    for alternative in ALL_ALTERNATIVES if alternatives is None else alternatives:
        for bundle in packed:
            if all(a.target != alternative.target for a in bundle):
                bundle.append(alternative)
                break
        else:
            packed.append([alternative])
    return packed


def canonical_names():
    """{student file: names its canonical file defines at top level}, from every part."""
    names = {}
    for part in PARTS:
        for path, defined in getattr(importlib.import_module(f"fairness.{part}"), "CANONICAL_NAMES", {}).items():
            names.setdefault(path, set()).update(defined)
    return names
