"""Gradescope: build the autograder zip, and the entry point it runs.

Gradescope unpacks the zip into ``/autograder/source``. At its root: ``setup.sh``
(run once when Gradescope builds the image: Python, bubblewrap, the pinned
packages, the sample data), ``run_autograder`` (run per submission) and this
repository's grader, reference package, assignment/ and student release. Target image: Gradescope's Ubuntu 24.04
base (Python 3.12; numpy 2.4 needs Python 3.11 or newer).

``run`` grades ``<root>/submission`` into ``<root>/results/results.json``.
Gradescope runs each submission in its own container; where bubblewrap cannot
create namespaces in that container, grading goes on without it (the container
is then the isolation boundary) and results.json says so.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.assignment import ROOT

SOURCE_ITEMS = ("autograder", "cs231n", "assignment", "release", "pyproject.toml", "README.md",
                "environment.yml")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "coco_captioning", "MNIST_data", "*.npz",
                              "cifar-10-batches-py",
                              "*.h5", ".ipynb_checkpoints")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope image setup (Ubuntu 24.04 base image): run once per autograder build.
set -euxo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
# CPU builds of torch and torchvision (no CUDA in Gradescope's containers)
/autograder/venv/bin/python -m pip install torch==2.13.0 torchvision==0.28.0 \\
    --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/python -m pip install -e "/autograder/source[instructor]"
cd /autograder/source && /autograder/venv/bin/python -m cs231n.datasets.build_sample_data
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; results land in $ROOT/results/results.json.
ROOT=${AUTOGRADER_ROOT:-/autograder}
PYTHON=${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}
cd "$ROOT/source" && exec "$PYTHON" -m autograder.release.gradescope --root "$ROOT"
"""


def written_questions_path(zip_path) -> Path:
    """Where ``build_gradescope_zip`` puts the written part's questions: beside the zip."""
    zip_path = Path(zip_path)
    return zip_path.with_name(zip_path.stem + "_written_questions.csv")


def write_written_questions(path, assignment=None) -> Path:
    """A CSV of the written part for Gradescope, one row per hand-graded question: grade id,
    part, notebook, points, the question and its mark scheme (from the source notebooks).

    results.json carries only the automatic tests; on Gradescope the written answers
    are manually graded questions of the assignment, set up from these rows.
    """
    import csv

    from autograder.assignment import load_assignment
    from autograder.grading.manual import mark_schemes

    assignment = assignment or load_assignment()
    schemes = mark_schemes(assignment)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "part", "notebook", "points", "prompt", "mark_scheme"])
        for grade_id, spec in assignment.manual.items():
            prompt, scheme = schemes.get(grade_id, ("", ""))
            writer.writerow([grade_id, spec.part, assignment.parts[spec.part].notebook, f"{spec.points:g}",
                             prompt, scheme])
    return Path(path)


def build_gradescope_zip(out):
    """Write the autograder zip to ``out`` and the written part's questions beside it
    (``written_questions_path``); return the zip's path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_written_questions(written_questions_path(out))
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        for item in SOURCE_ITEMS:
            source = ROOT / item
            target = staging / item
            if source.is_dir():
                shutil.copytree(source, target, ignore=SKIP)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
        (staging / "setup.sh").write_text(SETUP_SH)
        (staging / "run_autograder").write_text(RUN_AUTOGRADER)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(staging)), date_time=(2026, 1, 1, 0, 0, 0))
                    executable = path.name in ("setup.sh", "run_autograder") or path.suffix == ".sh"
                    info.external_attr = (0o100755 if executable else 0o100644) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
    return out


def run(root) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; return its dict."""
    from autograder.assignment import load_assignment
    from autograder.grading.grade import Options, grade_one
    from autograder.grading.report import results_json, write_text
    from autograder.sandbox.launcher import SandboxUnavailable, require_sandbox

    root = Path(root)
    note = ""
    try:
        require_sandbox()
        allow = False
    except SandboxUnavailable as exc:
        allow = True
        note = ("Note: bubblewrap is unavailable in this container "
                f"({str(exc).split('.')[0]}); the per-submission container is the isolation boundary.")
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    assignment = load_assignment()
    with tempfile.TemporaryDirectory() as tmp:
        options = Options(release_dir=ROOT / "release", allow_unsandboxed=allow,
                          jobs=os.cpu_count() or 1)
        grading = grade_one(root / "submission", Path(tmp) / "graded", assignment, options)
    if note:
        grading.notes.insert(0, note)
    results = results_json(assignment, grading)
    write_text(results_dir / "results.json", json.dumps(results, indent=2))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="Gradescope entry point")
    parser.add_argument("--root", default="/autograder")
    args = parser.parse_args(argv)
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
