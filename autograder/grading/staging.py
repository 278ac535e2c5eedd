"""Staging: a fresh work folder = the release's provided files + the student's
editable files (from assignment.toml) and notebooks, nothing else.

Provided modules therefore always come from the instructor's copy, whatever the
submission holds. Datasets are not copied: the sandbox mounts the instructor's
data read-only at the places the package reads (``data_mounts``).
"""
import shutil
from pathlib import Path

from autograder.assignment import ROOT

DATASETS = ROOT / "cs231n" / "datasets"
# Data the notebooks read, relative to the assignment folder.
DATA_PATHS = ("cs231n/datasets/coco_captioning", "cs231n/datasets/imagenet_val_25.npz",
              "cs231n/datasets/MNIST_data", "cs231n/datasets/cifar-10-batches-py")


def stage(intake, release_dir, workdir, assignment) -> list[str]:
    """Build ``workdir``; return a list of problems (missing files) in words.

    ``intake``: an ``intake.Intake``; its notebooks were parsed (or refused) once,
    when they were taken in: a refused one is replaced by the release's.
    """
    workdir = Path(workdir)  # an empty folder (a lane's workspace), or one to be made
    shutil.copytree(release_dir, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.zip"),
                    dirs_exist_ok=True)
    problems = []
    wanted = [p.notebook for p in assignment.parts.values()] + list(assignment.student_files)
    present = set(intake.files)
    notebooks = {p.notebook for p in assignment.parts.values()}
    for name in wanted:
        refused = notebook_refusal(intake, name, assignment.limits) if name in notebooks else None
        if name in present and refused:
            problems.append(f"{refused}; the released (unfinished) version was run instead")
        elif name in present:
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(intake.root / name, target)
        else:
            problems.append(f"'{name}' is not in the submission; the released (unfinished) "
                            "version was graded instead")
    ignored = sorted(present - set(wanted))
    if ignored:
        shown = ", ".join(ignored[:8]) + (" ..." if len(ignored) > 8 else "")
        problems.append(f"{len(ignored)} other file(s) were ignored (only notebooks and the "
                        f"editable cs231n files are graded): {shown}")
    return problems


def notebook_refusal(intake, name, limits) -> str | None:
    """Why the submitted notebook ``name`` is not run, or None (it is, or it is absent).

    Intake parsed it once; an Intake made without that (older callers) is read
    here, with the same caps.
    """
    from autograder.grading.intake import NotebookRefused, read_notebook

    if name in intake.refused_notebooks:
        return intake.refused_notebooks[name]
    if name in intake.notebooks or not (intake.root / name).is_file():
        return None
    try:
        intake.notebooks[name] = read_notebook(intake.root / name, limits, f"'{name}'")
    except NotebookRefused as exc:
        intake.refused_notebooks[name] = str(exc)
        return str(exc)
    return None


def data_mounts(workdir, data_root=ROOT) -> list[tuple]:
    """(source, relative target) read-only binds of the instructor's data into ``workdir``.

    Creates the empty mount points; skips data that does not exist.
    """
    mounts = []
    for relative in DATA_PATHS:
        source, target = Path(data_root) / relative, Path(workdir) / relative
        if not source.exists():
            continue
        if source.is_dir():
            if target.exists() and not target.is_dir():
                target.unlink()
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        mounts.append((source, relative))
    return mounts
