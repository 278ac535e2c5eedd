"""The environment files, generated from the pins in pyproject.toml (their one place).

Two environments:

- the **student's**: pyproject's ``dependencies`` (the kit's code, Jupyter, the
  local self-check), without the instructor's tools. The kit ships it twice:
  ``environment.yml`` for conda and ``requirements.txt`` for pip
  (``scripts/student_env.sh`` builds it from the latter);
- the **instructor's**: the same plus the ``instructor`` extra (nbgrader,
  papermill): the repository's own ``environment.yml``. ``scripts/setup.sh``
  builds the same set from pyproject directly.

nbgrader stays out of the student's environment because installing it adds its
authoring UI (a "Create Assignment" sidebar, an Nbgrader menu) to JupyterLab.
"""
import tomllib
from pathlib import Path

from autograder.assignment import ROOT

INSTRUCTOR_EXTRA = "instructor"
PYTHON = "3.11"


def pins(pyproject: Path = ROOT / "pyproject.toml") -> tuple[list[str], list[str]]:
    """(the student's requirements, the instructor's extra ones), as pinned in ``pyproject``."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    return list(project["dependencies"]), list(project["optional-dependencies"][INSTRUCTOR_EXTRA])


def requirements_txt(requirements: list[str]) -> str:
    return ("# The student environment for pip: python -m pip install -r requirements.txt\n"
            "# (generated from the project's pyproject.toml; no instructor tools).\n"
            + "".join(f"{r}\n" for r in requirements))


def environment_yml(name: str, requirements: list[str], comment: str) -> str:
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"name: {name}", "channels:", "  - conda-forge", "dependencies:", f"  - python={PYTHON}",
              "  - pip", "  - pip:"]
    lines += [f"      - {r}" for r in requirements]
    return "\n".join(lines) + "\n"


def student_files() -> dict[str, str]:
    """{kit file name: text} of the student environment."""
    student, _ = pins()
    comment = ("The student environment: conda env create -f environment.yml\n"
               "(generated from the project's pyproject.toml; requirements.txt is the same for pip).")
    return {"environment.yml": environment_yml("cs231n-a3", student, comment),
            "requirements.txt": requirements_txt(student)}


def instructor_environment_yml() -> str:
    """The repository's environment.yml: the student's packages and the instructor's tools."""
    student, instructor = pins()
    comment = ("The instructor environment for conda (generated from pyproject.toml by\n"
               "`python -m autograder release`): the kit's packages plus nbgrader and papermill.\n"
               "Then: pip install -e . --no-deps. Students get the kit's own environment.yml.")
    return environment_yml("cs231n-a3-instructor", student + instructor, comment)
