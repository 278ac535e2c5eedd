"""The check library's registry: every check found, and only the module it needs imported."""
import json
import subprocess
import sys

import pytest

import autograder.checks as checks
from autograder.assignment import ROOT, load_assignment

ASSIGNMENT = load_assignment()
NUMPY_PARTS = ("rnn", "lstm", "theory")  # the parts whose code is NumPy only (SPEC.md)


def test_the_registry_holds_every_check_of_the_assignment_and_no_other():
    assert set(checks.REGISTRY) == set(ASSIGNMENT.checks)


def test_each_check_is_declared_in_the_module_that_registers_it():
    registered = {name: type(check).__module__.rsplit(".", 1)[1] for name, check in checks.REGISTRY.items()}
    assert checks.declared_in() == registered


def test_an_unknown_check_is_a_key_error():
    with pytest.raises(KeyError):
        checks.check_named("no_such_check")


def test_a_numpy_part_hidden_test_never_imports_torch():
    """What a NumPy notebook's hidden-test cells do, in a fresh interpreter: every check of
    the NumPy parts graded (the reference earns full points) without importing torch."""
    names = [spec.name for spec in ASSIGNMENT.checks.values() if spec.part in NUMPY_PARTS]
    assert len(names) >= 15
    code = ("import contextlib, io, json, sys\n"
            "from autograder.checks.local import notebook_check\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    earned = {{n: notebook_check(n) for n in {names!r}}}\n"
            "print(json.dumps({'earned': earned, 'torch': 'torch' in sys.modules}))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["earned"] == {n: ASSIGNMENT.checks[n].points for n in names}
    assert report["torch"] is False
