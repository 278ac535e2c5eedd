"""Output schemas and the scoring budget (autograder/checks/core.py): every check
declares what its run hands back; outputs that do not fit are refused, with a
message naming the output, before any trusted code reads a value; scoring that
outlasts its budget scores 0; and a run reports raw behaviour only, so facts a
submission forges about itself (its optimizer's class, its settings) earn nothing.
"""
import builtins
import os
import threading
import time

import numpy as np
import pytest
import torch

from autograder.assignment import load_assignment
from autograder.checks import REGISTRY, core, diagnosis
from autograder.checks.core import Check, SchemaError, Spec
from autograder.checks.known_mistakes import copy_package
from autograder.checks.local import grade, prepared, score_budget
from autograder.reference import package_modules
from fairness.alternative import Alternative, apply_edits

SEEDS = range(int(os.environ.get("CS231N_SCHEMA_SEEDS", "3")))
LARGEST = 1 << 20  # no declared output may hold more elements than this


class Toy(Check):
    """A check that is never registered: outputs of every kind of spec, and a score
    that records that it ran (and can be made to fail or to hang)."""

    name = "toy"
    outputs = {"dx": Spec("float", like="x"), "captions": Spec("int", shape=("x.shape[0]", "length")),
               "loss": Spec("float", shape=()), "free": Spec(("int", "float"), shape=(None, 2), max_size=10),
               "extra": Spec("bool", shape=(3,), optional=True)}

    def __init__(self, score=None):
        self.calls = []
        self._score = score

    def score(self, got, expected, inputs):
        self.calls.append(got)
        if self._score:
            return self._score()
        return [core.Criterion("all", True)]


INPUTS = {"x": np.zeros((4, 5)), "length": np.array(17)}


def toy_outputs(**changes):
    got = {"dx": np.ones((4, 5)), "captions": np.ones((4, 17), dtype=np.int64), "loss": np.array(0.5),
           "free": np.ones((3, 2), dtype=np.float32)}
    got.update(changes)
    return {k: v for k, v in got.items() if v is not None}


# --------------------------------------------------------------------------- every check has a schema

def test_every_registered_check_declares_a_bounded_schema():
    for name, check in sorted(REGISTRY.items()):
        inputs, _ = prepared(check, 0)
        specs = check.output_specs(inputs)
        assert specs and all(isinstance(s, Spec) for s in specs.values()), f"{name} declares no outputs"
        for key, spec in specs.items():
            families, shape, limit = spec.resolve(inputs, check.dims(inputs))
            assert 0 < limit <= LARGEST, f"{name}: output {key!r} may hold {limit} elements"
            assert shape is None or all(n is None or n >= 0 for n in shape), (name, key, shape)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_reference_outputs_fit_the_schema_on_every_seed(name):
    check = REGISTRY[name]
    for seed in SEEDS:
        inputs, expected = prepared(check, seed)
        core.check_outputs(check, expected, inputs)
        required = {k for k, s in check.output_specs(inputs).items() if not s.optional}
        assert required <= set(expected), f"{name}: the reference lacks {required - set(expected)}"


def test_the_budget_comes_from_the_assignment():
    assert score_budget() == load_assignment().limits.score_wall_s > 0


# --------------------------------------------------------------------------- schema violations

@pytest.mark.parametrize("got, message", [
    (toy_outputs(loss=None), "output 'loss' is missing"),
    (toy_outputs(forged=np.array(True)), "unexpected output 'forged'"),
    (toy_outputs(captions=np.zeros(3_000_000, dtype=np.int64)),
     "output 'captions' has shape (3000000,), expected (4, 17)"),
    (toy_outputs(dx=np.ones((5, 4))), "output 'dx' has shape (5, 4), expected (4, 5)"),
    (toy_outputs(loss=np.ones(1)), "output 'loss' has shape (1,), expected ()"),
    (toy_outputs(free=np.ones((3, 3))), "output 'free' has shape (3, 3), expected (any, 2)"),
    (toy_outputs(free=np.ones((6, 2))), "output 'free' has 12 elements, more than the 10 allowed"),
    (toy_outputs(dx=np.ones((4, 5), dtype=np.int64)), "output 'dx' has dtype int64, expected float"),
    (toy_outputs(captions=np.ones((4, 17))), "output 'captions' has dtype float64, expected int"),
    (toy_outputs(free=np.ones((3, 2), dtype=bool)), "output 'free' has dtype bool, expected int or float"),
    (toy_outputs(extra=np.ones(3)), "output 'extra' has dtype float64, expected bool"),
    (toy_outputs(loss=0.5), "output 'loss' is a float, not a numpy array"),
], ids=["missing", "extra", "huge", "shape", "scalar", "free-shape", "too-many", "float", "int", "family",
        "optional-dtype", "not-array"])
def test_a_schema_violation_is_named_and_scores_zero_without_scoring(got, message):
    check = Toy()
    with pytest.raises(SchemaError) as caught:
        core.check_outputs(check, got, INPUTS)
    assert str(caught.value).startswith(message), str(caught.value)
    result = core.score_within(check, got, {}, INPUTS, budget_s=5)
    assert result.fraction == 0 and message in result.message and result.message.startswith("not graded")
    assert check.calls == [], "the score read outputs that break the schema"


def test_outputs_that_fit_are_scored():
    check = Toy()
    for got in (toy_outputs(), toy_outputs(extra=np.zeros(3, dtype=bool), free=np.zeros((5, 2), np.int32))):
        result = core.score_within(check, got, {}, INPUTS, budget_s=5)
        assert result.fraction == 1 and result.message == "passed"
    assert len(check.calls) == 2


def test_a_huge_caption_from_a_student_never_reaches_the_score(tmp_path, monkeypatch):
    """The attack that made scoring run for minutes: a 3,000,000-word caption. The
    check's own score raises if it is called, so passing means it never was."""
    check = REGISTRY["captioning_rnn_sample"]

    def never(self, got, expected, inputs):
        raise AssertionError("score was called")

    monkeypatch.setattr(type(check), "score", never)
    root = copy_package(tmp_path)
    model = root / "cs231n" / "classifiers" / "rnn.py"
    text = model.read_text()
    head = "    def sample(self, features, max_length=30):\n"
    assert text.count(head) == 1
    model.write_text(text.replace(head, head + "        return np.zeros(3_000_000, dtype=np.int64)\n"))
    result = grade(check.name, student=package_modules(root, check.modules))
    assert result.fraction == 0
    assert "output 'captions' has shape (3000000,), expected (3, " in result.message, result.message


# --------------------------------------------------------------------------- the budget

def test_a_slow_score_is_stopped_at_the_budget():
    release, started = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(60)
        return [core.Criterion("all", True)]

    check = Toy(score=slow)
    try:
        result = core.score_within(check, toy_outputs(), {}, INPUTS, budget_s=0.2)
        assert started.is_set() and not release.is_set()  # returned while the score was still running
        assert result.fraction == 0
        assert result.message == "not graded: scoring your outputs took longer than 0.2 s"
    finally:
        release.set()


def test_a_score_that_raises_is_the_graders_fault_not_a_crash():
    def broken():
        raise ValueError("malformed")

    result = core.score_within(Toy(score=broken), toy_outputs(), {}, INPUTS, budget_s=5)
    assert result.fraction == 0 and result.grader_fault and "ValueError: malformed" in result.error
    assert result.message == "not graded: the grader failed while scoring your outputs (ValueError: malformed)"


def test_score_within_works_from_many_threads_at_once():
    check = REGISTRY["get_optimizer"]
    inputs, expected = prepared(check, 0)
    results = [None] * 4

    def work(k):
        results[k] = core.score_within(check, expected, expected, inputs, budget_s=60)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.fraction for r in results] == [1.0] * 4


# --------------------------------------------------------------------------- forged facts

FORGED_OPTIMIZER = '''
    def get_optimizer(model):
        import builtins
        import numpy
        real_isinstance, real_savez, adam = builtins.isinstance, numpy.savez, torch.optim.Adam

        def forged_savez(file, *args, **arrays):
            arrays.update(is_adam=numpy.array(True), lr=numpy.array([1e-3]), betas=numpy.array([0.5, 0.999]))
            return real_savez(file, *args, **arrays)

        builtins.isinstance = lambda obj, cls: True if cls is adam else real_isinstance(obj, cls)
        torch.optim.Adam = torch.optim.SGD
        numpy.savez = forged_savez
        optimizer = optim.SGD(model.parameters(), lr=1e-3)
        optimizer.param_groups[0].update(betas=(0.5, 0.999), eps=1e-8, weight_decay=0)
        return optimizer
    '''


@pytest.fixture
def restored_globals():
    """What the forging submission patches, put back afterwards (it runs in this
    process); known mistakes' outputs computed meanwhile (with torch.optim.Adam
    patched) are dropped from the diagnosis cache."""
    saved = builtins.isinstance, torch.optim.Adam, np.savez
    cached = set(diagnosis._outputs)
    yield
    builtins.isinstance, torch.optim.Adam, np.savez = saved
    for key in set(diagnosis._outputs) - cached:
        del diagnosis._outputs[key]


def test_an_sgd_optimizer_that_forges_being_adam_scores_zero(tmp_path, restored_globals):
    check = REGISTRY["get_optimizer"]
    edit = Alternative("forged-adam", "cs231n/gan_pytorch.py:get_optimizer", FORGED_OPTIMIZER, "forges Adam")
    root = apply_edits(copy_package(tmp_path), [edit])
    result = grade(check.name, student=package_modules(root, check.modules))
    assert torch.optim.Adam is torch.optim.SGD  # the forgery really ran (the fixture undoes it)
    assert result.fraction == 0, result.message
    assert "not Adam's" in result.message


def test_no_run_reports_a_fact_about_the_optimizer():
    """What get_optimizer's run hands back: the parameters after each step, nothing else."""
    check = REGISTRY["get_optimizer"]
    inputs, expected = prepared(check, 0)
    assert set(expected) == {"weight", "bias"}
    assert expected["weight"].shape == inputs["grad_weight"].shape


def test_forged_outputs_from_the_sandbox_break_the_schema():
    """A run whose outputs file was rewritten with facts (numpy.savez patched in the
    child): the extra keys alone score 0, before the score reads anything."""
    check = REGISTRY["get_optimizer"]
    inputs, expected = prepared(check, 0)
    forged = {**expected, "is_adam": np.array(True), "lr": np.array([1e-3])}
    start = time.monotonic()
    result = core.score_within(check, forged, expected, inputs, budget_s=60)
    assert result.fraction == 0 and "unexpected output 'is_adam'" in result.message
    assert time.monotonic() - start < 30  # refused before scoring; a generous bound, not a timing test
