"""The environments the project's commands build: ``import torchvision`` works in any
order in each, and the student's has no instructor tools.

- the instructor's: ``scripts/setup.sh`` (this suite's own ``.venv``);
- the student's: ``scripts/student_env.sh``, built here for real from the kit's
  ``requirements.txt`` into a fresh virtual environment (about a minute; pip
  fetches from the package registry or its cache).

Every import is tried in a fresh interpreter, the way a notebook kernel starts.
"""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from autograder.assignment import ROOT
from autograder.release import environments

# The canonical notebooks' order: torchvision first, cs231n later (or never).
TORCHVISION_FIRST = ("import torchvision, torchvision.transforms as T, torchvision.models as models, "
                     "torchvision.datasets as dsets; import torch; "
                     "print(models.squeezenet1_1().__class__.__name__, T.ToTensor().__class__.__name__)")
INSTRUCTOR_TOOLS = ("nbgrader", "papermill")


def run(python, code, *flags, cwd=None):
    return subprocess.run([str(python), *flags, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def assert_torchvision_imports_first(python):
    for flags in ((), ("-I",)):  # -I: isolated, as the grader's sandbox starts its runners
        proc = run(python, TORCHVISION_FIRST, *flags, cwd="/")
        assert proc.returncode == 0 and "SqueezeNet ToTensor" in proc.stdout, (flags, proc.stderr[-2000:])


def test_in_the_projects_environment_torchvision_imports_first():
    assert_torchvision_imports_first(sys.executable)


def test_the_startup_copy_is_the_current_compat_module():
    """setup.sh refreshes it on every run; a stale copy would mean two versions of the fix."""
    site = Path(sysconfig.get_paths()["purelib"])
    installed = (site / "cs231n_torchvision_compat.py").read_text()
    assert installed.endswith((ROOT / "cs231n" / "torchvision_compat.py").read_text())
    proc = run(sys.executable, "import sys; print('cs231n_torchvision_compat' in sys.modules, 'torch' in sys.modules)")
    assert proc.stdout.split() == ["True", "False"], "the hook loads at start-up and imports nothing heavy"


def test_the_hook_and_cs231n_do_not_install_two_finders():
    code = ("import sys, cs231n; n = sum(getattr(f, 'cs231n_torchvision_finder', False) for f in sys.meta_path); "
            "import torchvision; print(n)")
    proc = run(sys.executable, code)
    assert proc.returncode == 0 and proc.stdout.strip() == "1", proc.stderr[-2000:]


def test_environment_files_are_generated_from_pyproject():
    student, instructor = environments.pins()
    assert set(INSTRUCTOR_TOOLS) == {r.split("==")[0] for r in instructor}
    assert not {r.split("==")[0] for r in student} & set(INSTRUCTOR_TOOLS)
    assert (ROOT / "environment.yml").read_text() == environments.instructor_environment_yml(), \
        "run: python -m autograder release"
    for name, text in environments.student_files().items():
        assert (ROOT / "release" / name).read_text() == text, name
        assert not any(tool in text for tool in INSTRUCTOR_TOOLS), name
    assert all(f"- {r}" in environments.instructor_environment_yml() for r in student + instructor)


@pytest.fixture(scope="module")
def student_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student") / "venv"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "student_env.sh"), str(folder)], capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder / "bin" / "python"


@pytest.mark.slow
def test_the_student_environment_has_no_instructor_tools(student_env):
    proc = run(student_env, "import importlib.metadata as m, json; "
                            "print(json.dumps(sorted(d.metadata['Name'].lower() for d in m.distributions())))")
    installed = set(json.loads(proc.stdout))
    assert {"torch", "torchvision", "numpy", "jupyterlab", "ipykernel", "nbclient"} <= installed
    assert not installed & set(INSTRUCTOR_TOOLS), installed & set(INSTRUCTOR_TOOLS)
    jupyter = student_env.parent / "jupyter"
    for what in (["labextension", "list"], ["server", "extension", "list"]):
        listing = subprocess.run([str(jupyter), *what], capture_output=True, text=True, timeout=300)
        assert listing.returncode == 0 and "nbgrader" not in listing.stdout + listing.stderr, what


@pytest.mark.slow
def test_in_the_student_environment_torchvision_imports_first(student_env):
    assert_torchvision_imports_first(student_env)
