"""Messages a student can act on (autograder/checks/diagnosis.py): known mistakes are
recognised by their outputs, later checks name the function to fix first, and
no grader path reaches a student."""
import sys
import types

import pytest

from autograder.assignment import load_assignment
from autograder.checks import REGISTRY, core
from autograder.checks.diagnosis import fix_first, public_paths
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
    assert results["a"].message == "wrong"
    assert "Fix a first" in results["ab"].message
    assert "Fix a first" in results["abc"].message and "ab " not in results["abc"].message
    assert results["c"].message == "passed"


def test_fix_first_on_the_real_covers_points_the_overfit_at_the_positional_encoding():
    specs = load_assignment().checks
    names = ("positional_encoding", "transformer_forward", "transformer_overfit")
    results = {n: core.Result(n, 0.0, "wrong") for n in names}
    fix_first(results, specs)
    assert "Fix positional_encoding first" in results["transformer_overfit"].message
    assert "Fix positional_encoding first" in results["transformer_forward"].message


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
    assert f"Likely cause: {mistake.hint}" in result.message, result.message


def test_a_value_compared_with_nan_never_matches():
    import numpy as np

    assert not core.compare_arrays("x", np.ones(3), np.array([1.0, np.nan, 1.0]), 1e-6).ok
    assert not core.compare_arrays("x", np.ones(3, np.float32), np.array([1.0, np.nan, 1.0]), 1e-6).ok
