"""Grading speed: prints the numbers issue targets are judged by.

    .venv/bin/python benchmarks/bench_grading.py [--skip-batch] [--no-notebooks-batch]

1. one full submission (the reference) graded with every core: wall seconds
   (target: at most 120 s on 2 cores with the sample data);
2. 8 submissions with 1 worker, then with 2: the speedup (target: at least 1.7x).
   Each submission's own parallelism is held at one lane and one math thread in
   both runs, so the ratio measures scaling across submissions (by default a
   lone worker gives its submission every core, which is faster in absolute
   terms and is printed too); ``--no-notebooks-batch`` measures it on the
   hidden checks alone (quicker);
3. overhead of grading (sandbox, staging, checks, reports) over running the same
   notebooks with bare papermill in fast mode (target: at most 15%). The target
   compares each tool as it runs by default on this machine: the grader spreads
   one submission over every core; bare papermill runs the notebooks one after
   another (torch free to use every core). Two more pairings are printed, for
   honesty: both confined to one lane, and bare papermill also given one
   process per core (notebooks split longest first, one thread each);
4. the same submission autograded by ``nbgrader autograde``, for comparison.
Run it on a quiet machine: it measures wall time.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from autograder.assignment import load_assignment  # noqa: E402
from autograder.grading.batch import grade_batch  # noqa: E402
from autograder.release.demo_submissions import make_demo_submissions  # noqa: E402
from autograder.grading.grade import Options, grade_submission  # noqa: E402
from autograder.grading.lanes import plan_lanes  # noqa: E402
from autograder.grading.staging import DATA_PATHS  # noqa: E402

RELEASE = ROOT / "release"


def timed(label, fn):
    start = time.monotonic()
    value = fn()
    seconds = time.monotonic() - start
    print(f"{label}: {seconds:.1f} s", flush=True)
    return seconds, value


def bare_work(reference_zip, tmp, name):
    """A folder with the reference submission staged by hand, data linked in."""
    work = tmp / name
    shutil.copytree(RELEASE, work)
    with zipfile.ZipFile(reference_zip) as archive:
        archive.extractall(work)
    for relative in DATA_PATHS:
        target = work / relative
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.symlink(ROOT / relative, target)
    return work


def papermill_all(work, notebooks, threads=None):
    """Run ``notebooks`` in ``work`` one after another with papermill's Python API."""
    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    for notebook in notebooks:
        papermill.execute_notebook(str(work / notebook), str(work / f"out_{notebook}"),
                                   parameters={"fast_mode": True}, kernel_name="python3",
                                   cwd=str(work), progress_bar=False)


def bare_papermill(reference_zip, tmp):
    """The reference's notebooks, run by papermill alone, one after another."""
    papermill_all(bare_work(reference_zip, tmp, "bare"), [p.notebook for p in load_assignment().parts.values()])


def bare_papermill_parallel(reference_zip, tmp, processes):
    """The same notebooks in ``processes`` papermill processes (longest first, one thread each)."""
    assignment = load_assignment()
    work = bare_work(reference_zip, tmp, "bare_parallel")
    costs = {p.notebook: assignment.expected_seconds[p.id] for p in assignment.parts.values()}
    with concurrent.futures.ProcessPoolExecutor(processes) as pool:
        list(pool.map(papermill_all, [work] * processes, plan_lanes(costs, processes), [1] * processes))


def nbgrader_autograde(reference_zip, tmp):
    from autograder.release.build import make_nbgrader_course
    assignment = load_assignment()
    course = make_nbgrader_course(tmp / "course")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, check=True,
                              capture_output=True)

    run("generate_assignment", assignment.name, "--force")
    folder = course / "submitted" / "reference" / assignment.name
    with zipfile.ZipFile(reference_zip) as archive:
        archive.extractall(folder)
    for nb in folder.glob("*.ipynb"):  # the same fast parameters the grader passes
        nb.write_text(nb.read_text().replace("fast_mode = False", "fast_mode = True"))
    return timed("4. nbgrader autograde, same submission", lambda: run("autograde", assignment.name, "--force"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-batch", action="store_true", help="skip the 8-submission comparison")
    parser.add_argument("--no-notebooks-batch", action="store_true",
                        help="compare 1 and 2 workers on hidden checks only")
    parser.add_argument("--batch-only", action="store_true", help="only the 8-submission comparison")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reference, _, _ = make_demo_submissions(tmp / "subs", RELEASE)
        if not args.batch_only:
            single_submission(reference, tmp)
        if not args.skip_batch:
            batch_comparison(reference, tmp, args)
        if not args.batch_only:
            nbgrader_autograde(reference, tmp)


def single_submission(reference, tmp):
    """Figures 1 and 3: one submission graded, and the overhead over bare papermill."""
    _, result = timed("1. one full submission, all cores",
                      lambda: grade_batch([reference], tmp / "one", progress=False))
    print(f"   score {result['reference']['score']:g} (target time: <= 120 s)")
    cores = os.cpu_count()
    bare, _ = timed("3a. bare papermill, same notebooks, one after another", lambda: bare_papermill(reference, tmp))
    graded, _ = timed(f"3b. grader, same submission, default ({cores} lanes)", lambda: grade_submission(
        reference, tmp / "all", options=Options(release_dir=RELEASE, jobs=cores)))
    print(f"   overhead, grader (default) over bare papermill (default): "
          f"{100 * (graded - bare) / bare:+.0f}% (target: <= +15%)")
    graded_one, _ = timed("3c. grader, same submission, 1 lane", lambda: grade_submission(
        reference, tmp / "one_lane", options=Options(release_dir=RELEASE, jobs=1)))
    print(f"   overhead, both in one lane: {100 * (graded_one - bare) / bare:+.0f}%")
    bare_par, _ = timed(f"3d. bare papermill, {cores} processes",
                        lambda: bare_papermill_parallel(reference, tmp, cores))
    print(f"   overhead, both with {cores} lanes: {100 * (graded - bare_par) / bare_par:+.0f}%")


def batch_comparison(reference, tmp, args):
    """Figure 2: 8 copies of the reference with 1 and with 2 workers."""
    batch = tmp / "eight"
    batch.mkdir()
    for i in range(8):
        shutil.copy(reference, batch / f"student{i}.zip")
    notebooks = not args.no_notebooks_batch
    fixed = Options(release_dir=RELEASE, execute_notebooks=notebooks, jobs=1, threads=1)
    one, _ = timed("2a. 8 submissions, 1 worker (one lane, one thread each)",
                   lambda: grade_batch([batch], tmp / "w1", workers=1, options=fixed, progress=False))
    two, _ = timed("2b. 8 submissions, 2 workers (one lane, one thread each)",
                   lambda: grade_batch([batch], tmp / "w2", workers=2, options=fixed, progress=False))
    print(f"   speedup {one / two:.3f}x (target: >= 1.7x)" + ("" if notebooks else " [hidden checks only]"))
    timed("2c. 8 submissions, 1 worker, default (its submission gets every core)",
          lambda: grade_batch([batch], tmp / "w1d", workers=1, progress=False,
                              options=Options(release_dir=RELEASE, execute_notebooks=notebooks)))


if __name__ == "__main__":
    main()
