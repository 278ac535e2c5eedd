"""Messages a student can act on (autograder/checks/diagnosis.py): known mistakes are
recognised by their outputs, later checks name the function to fix first, and
no grader path reaches a student."""
import sys
import types

import pytest

from autograder.assignment import load_assignment
from autograder.checks import REGISTRY, core
from autograder.checks.diagnosis import advice, fix_first, public_paths
from autograder.checks.known_mistakes import load_mistakes
from mutation import grade_all, make_mutant

MISTAKES = load_mistakes()


def test_public_paths_keep_the_student_file_and_drop_the_machine():
    text = ('File "/tmp/grading/x/.work/checks/cs231n/rnn_layers.py", line 12\n'
            f'File "{sys.prefix}/lib/python3.11/site-packages/torch/nn/modules/module.py", line 3\n'
            'File "/srv/g/.work/checks/.grader/autograder/checks/core.py", line 9\n'
            "cannot open /etc/shadow; see https://example.com/a/b")
    shown = public_paths(text, roots=["/tmp/grading/x"])
    assert 'File ".work/checks/cs231n/rnn_layers.py"' in shown or 'File "cs231n/rnn_layers.py"' in shown
    assert "<python>/torch/nn/modules/module.py" in shown
    assert "<grader>/checks/core.py" in shown
    assert "/etc/" not in shown and "shadow" in shown
    assert "https://example.com/a/b" in shown
    assert "/tmp/" not in shown and "/srv/" not in shown


def _spec(name, covers):
    return types.SimpleNamespace(name=name, covers=covers)


def test_fix_first_names_the_narrowest_failed_check():
    specs = {"a": _spec("a", ["f:a"]), "ab": _spec("ab", ["f:a", "f:b"]),
             "abc": _spec("abc", ["f:a", "f:b", "f:c"]), "c": _spec("c", ["f:c"])}
    results = {n: core.Result(n, 0.0, "wrong") for n in ("a", "ab", "abc")}
    results["c"] = core.Result("c", 1.0, "passed")
    fix_first(results, specs)
    assert results["a"].fix_first == [] and results["c"].fix_first == []
    assert results["ab"].fix_first == ["a"]
    assert results["abc"].fix_first == ["a"], "the narrowest failed check, not ab"
    assert advice("abc", results, specs).startswith("Fix a in f first: its check (a) failed too")
    assert advice("c", results, specs) == "passed"


def test_advice_names_the_function_then_the_cause_then_the_numbers():
    specs = {"step": _spec("step", ["m.py:step"]), "seq": _spec("seq", ["m.py:step", "m.py:seq"]),
             "loss": _spec("loss", ["m.py:step", "m.py:seq", "model.py:Model.loss"])}
    results = {"step": core.Result("step", 1.0, "passed"),
               "seq": core.Result("seq", 1.0, "passed"),
               "loss": core.Result("loss", 0.0, "dW: relative error 1.0", hint="the mask is ignored")}
    text = advice("loss", results, specs)
    assert text == ("Look at Model.loss in model.py. Likely cause: the mask is ignored. "
                    "What we measured: dW: relative error 1.0"), "the layers pass: the loss is the suspect"
    results["seq"] = core.Result("seq", 0.0, "h differs")
    fix_first(results, specs)
    assert advice("loss", results, specs).startswith("Fix seq in m.py first: its check (seq) failed too"), \
        "step passes its own check: seq is the suspect"
    assert advice("seq", results, specs) == "Look at seq in m.py. What we measured: h differs"


def test_fix_first_on_the_real_covers_points_the_overfit_at_the_positional_encoding():
    specs = load_assignment().checks
    names = ("positional_encoding", "transformer_forward", "transformer_overfit")
    results = {n: core.Result(n, 0.0, "wrong") for n in names}
    fix_first(results, specs)
    assert results["transformer_overfit"].fix_first == ["positional_encoding"]
    assert results["transformer_forward"].fix_first == ["positional_encoding"]


def test_every_mistake_names_a_real_check_that_covers_it():
    specs = load_assignment().checks
    assert len(MISTAKES) >= 20
    for mistake in MISTAKES:
        assert mistake.check in REGISTRY, mistake
        assert mistake.target in specs[mistake.check].covers, f"{mistake.check} does not cover {mistake.target}"
        assert len(mistake.hint) > 15, mistake


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.check}-{k}" for k, m in enumerate(MISTAKES)])
def test_a_known_mistake_is_told_its_hint(mistake, tmp_path):
    """Graded as a student would hand it in, each known mistake loses points in its
    check and the message carries its own hint (not another mistake's)."""
    result = grade_all(make_mutant(mistake, tmp_path), [mistake.check])[mistake.check]
    assert result.fraction < 1, f"{mistake.check} did not catch: {mistake.hint}"
    assert result.hint == mistake.hint, (result.hint, result.message)


def test_a_value_compared_with_nan_never_matches():
    import numpy as np

    assert not core.compare_arrays("x", np.ones(3), np.array([1.0, np.nan, 1.0]), 1e-6).ok
    assert not core.compare_arrays("x", np.ones(3, np.float32), np.array([1.0, np.nan, 1.0]), 1e-6).ok
