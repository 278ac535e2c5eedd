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
GRADER_PACKAGE = Path(__file__).resolve().parents[1]  # .../autograder: the in-sandbox runners live in sandbox/inside
# Data the notebooks read, relative to the assignment folder.
DATA_PATHS = ("cs231n/datasets/coco_captioning", "cs231n/datasets/imagenet_val_25.npz",
              "cs231n/datasets/MNIST_data")


def stage(intake, release_dir, workdir, assignment):
    """Build ``workdir``; return a list of problems (missing files) in words."""
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(release_dir, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.zip"))
    problems = []
    wanted = [p.notebook for p in assignment.parts.values()] + list(assignment.student_files)
    present = set(intake.files)
    notebooks = {p.notebook for p in assignment.parts.values()}
    for name in wanted:
        if name in present and name in notebooks and not readable_notebook(intake.root / name):
            problems.append(f"'{name}' is not a readable notebook (broken JSON or not in the notebook "
                            "format); the released (unfinished) version was run instead")
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


def readable_notebook(path):
    """True when ``path`` parses as a Jupyter notebook (format 4 after conversion).

    Only a notebook that cannot be read at all is replaced; one that merely
    breaks a schema rule is run as it is (tools such as Colab add such things).
    """
    import nbformat

    try:
        nb = nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)
    except Exception:  # JSON errors, unknown formats, undecodable bytes
        return False
    return isinstance(nb.get("cells"), list)


def data_mounts(workdir, data_root=ROOT):
    """(source, target) read-only binds of the instructor's data into ``workdir``.

    Creates the empty mount points bwrap needs; skips data that does not exist.
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
        mounts.append((source, target))
    return mounts


def mount_grader_library(workdir, use_sandbox):
    """Put the grader's library at ``workdir/.grader/autograder``; return (path, binds).

    Sandboxed: an empty mount point with a read-only bind of the instructor's
    copy onto it. Explicitly unsandboxed: a plain copy (nothing to bind).
    """
    mount = Path(workdir) / ".grader" / "autograder"
    if mount.is_dir() and not mount.is_symlink():
        shutil.rmtree(mount)
    elif mount.exists() or mount.is_symlink():
        mount.unlink()
    if use_sandbox:
        mount.mkdir(parents=True)
        return mount, [(GRADER_PACKAGE, mount)]
    shutil.copytree(GRADER_PACKAGE, mount, ignore=shutil.ignore_patterns("__pycache__"))
    return mount, []
