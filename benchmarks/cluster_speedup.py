"""Grading on a Dask cluster: speedup from 1 to 2 workers, and the cluster's overhead.

Grades the same 8 submissions (the demo's reference and one-bug zips, alternately,
copied under distinct names) four times, each into a fresh folder:

1. a local batch with one submission at a time (``--workers 1``);
2. on a Dask cluster of this machine with 1 single-threaded worker;
3. on one with 2 single-threaded workers;
4. a local batch with two at a time (for comparison: how far this machine scales).

Prints the wall times, the speedup 2 over 3 (target >= 1.8x) and the
per-submission overhead of the cluster over the local batch, 2 over 1 (target
<= 5%), and the batch's own ceiling: the best any 2 workers could do with the
gradings as timed in 2, split in the best way and with no overhead at all.

Why complete submissions only: a real batch is mostly students' finished work.
An untouched release is graded in much less time (its notebooks stop at the
first stub), and with 3 such in 8 (``--untouched``, the mix this benchmark used
before) no split over 2 workers is even, so the tail of the batch, not the
cluster, decided part of what was missing to 2x. Complete submissions take 30 to
35 s each; 8 of them split evenly (ceiling 2.00x, measured 2026-12-04).

The four runs are repeated (``--repeat``, default 3 rounds: one round
varies by about 5% on a 2-core machine) and the ratios are the medians. Every
run uses one math thread per submission, so only the number of submissions at
once differs. Every grading process is warm when timing starts
and cold for the batch's grading seed: a worker warms itself up before it takes
work (``cluster_worker.warm_up``), and this process runs the same warm-up and
forgets the seed's caches before each local batch. The workers are ``distributed.LocalCluster``
processes with the grading preload, each with its own nanny, like ``dask worker``.

    .venv/bin/python benchmarks/cluster_speedup.py               # hidden checks only
    .venv/bin/python benchmarks/cluster_speedup.py --notebooks   # and every notebook (slow)
"""
import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.assignment import ROOT, load_assignment  # noqa: E402
from autograder.grading.batch import grade_all  # noqa: E402
from autograder.grading.cluster_worker import WARM_UP_SEED, warm_up  # noqa: E402
from autograder.grading.grade import Options  # noqa: E402
from autograder.release.demo_submissions import make_demo_submissions  # noqa: E402

SUBMISSIONS = 8


def make_submissions(folder: Path, untouched: bool = False) -> Path:
    """SUBMISSIONS zips in ``folder``/subs, alternating the demo's reference and one-bug
    submissions (with ``untouched``: cycling through those and the untouched release)."""
    demo = make_demo_submissions(folder / "demo", ROOT / "release")
    if not untouched:
        demo = [path for path in demo if "untouched" not in path.name]
    subs = folder / "subs"
    subs.mkdir()
    for index in range(SUBMISSIONS):
        source = demo[index % len(demo)]
        shutil.copyfile(source, subs / f"{index:02d}_{source.name}")
    return subs


def forget_the_batch_seed() -> None:
    """Drop this process's caches for grading seeds other than the warm-up's (the hidden
    inputs and expected outputs, the known mistakes' outputs), so that each local batch
    starts as a freshly warmed-up worker does: warm code, cold for the batch's seed."""
    from autograder.checks import diagnosis, local

    for cache in (local._prepared, diagnosis._outputs):
        for key in [k for k in cache if k[-1] != WARM_UP_SEED]:
            del cache[key]


def local_run(subs: Path, out: Path, options: Options, workers: int = 1) -> tuple[float, list]:
    """(seconds, each grading's own seconds) for a local batch, ``workers`` at a time,
    starting cold for the batch's seed (``forget_the_batch_seed``)."""
    forget_the_batch_seed()
    start = time.perf_counter()
    gradings = grade_all([subs], out, workers=workers, options=options, progress=False)
    return time.perf_counter() - start, [g.wall_s for g in gradings.values()]


def best_split(durations) -> float:
    """The shortest time two workers could need for gradings of ``durations`` seconds
    (every way of splitting them in two, no overhead at all): the ceiling of any
    2-worker speedup on this batch is sum(durations) / best_split(durations)."""
    total, best = sum(durations), float("inf")
    for mask in range(1 << len(durations)):
        one = sum(d for k, d in enumerate(durations) if mask >> k & 1)
        best = min(best, max(one, total - one))
    return best


def cluster_run(subs: Path, out: Path, options: Options, workers: int) -> tuple[float, list]:
    """(seconds, each grading's own seconds, as the workers timed them) for the batch on
    a fresh cluster of ``workers`` single-threaded workers (connecting and checking the workers
    included; starting them not)."""
    from distributed import Client, LocalCluster

    from autograder.grading.cluster import ClusterStep

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      preload=["autograder.grading.cluster_worker"]) as cluster:
        with Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(workers)
        start = time.perf_counter()
        step = ClusterStep.connect(cluster.scheduler_address, log=io.StringIO())
        try:
            gradings = grade_all([subs], out, options=options, progress=False, step=step)
        finally:
            step.close()
        seconds = time.perf_counter() - start
    errors = [sid for sid, grading in gradings.items() if grading.grader_error]
    if errors:
        raise SystemExit(f"grader errors on the cluster: {errors}")
    return seconds, [g.wall_s for g in gradings.values()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", action="store_true", help="execute every notebook too (slow)")
    parser.add_argument("--untouched", action="store_true",
                        help="mix in the untouched release (a short grading: an uneven batch)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the four runs; the ratios are the medians over rounds (default 3)")
    args = parser.parse_args(argv)
    options = Options(release_dir=ROOT / "release", execute_notebooks=args.notebooks, threads=1)
    assignment = load_assignment()
    print(f"this process warmed up in {warm_up():.1f} s (as each worker does before it takes work)", flush=True)
    what = "hidden checks and notebooks" if args.notebooks else "hidden checks only"
    print(f"{SUBMISSIONS} submissions, {len(assignment.checks)} checks, {what}, {args.repeat} round(s)", flush=True)
    speedups, local_speedups, overheads, ceilings = [], [], [], []
    for round_ in range(1, args.repeat + 1):
        runs = one_round(options, args.untouched)
        for name, (at_once, (seconds, graded)) in runs.items():
            outside = (seconds * at_once - sum(graded)) / SUBMISSIONS
            print(f"round {round_}: {name:26s} {seconds:6.1f} s; per submission: grading "
                  f"{sum(graded) / SUBMISSIONS:5.2f} s, around it {outside:+5.2f} s", flush=True)
        (local, _), (one, one_graded), (two, _), (local_two, _) = (run for _, run in runs.values())
        ceilings.append(sum(one_graded) / best_split(one_graded))
        print(f"round {round_}: the 1-worker gradings ({', '.join(f'{s:.1f}' for s in sorted(one_graded))} s) "
              f"split at best over 2 workers allow at most {ceilings[-1]:.2f}x", flush=True)
        speedups.append(one / two)
        local_speedups.append(local / local_two)
        overheads.append(100 * (one - local) / local)
    print(f"speedup 1 -> 2 workers: {statistics.median(speedups):.2f}x median of {spread(speedups, 'x')} "
          f"(target >= 1.8x); a local batch, 1 -> 2 at a time, on this machine: "
          f"{statistics.median(local_speedups):.2f}x median of {spread(local_speedups, 'x')}; "
          f"the batch's own ceiling (its best split, no overhead): {statistics.median(ceilings):.2f}x")
    print(f"cluster overhead per submission over a local batch: {statistics.median(overheads):+.1f}% median of "
          f"{spread(overheads, '%', signed=True)} (target <= 5%)")
    return 0


def one_round(options: Options, untouched: bool) -> dict:
    """{name: (submissions at once, (seconds, each grading's own seconds))} of the four runs."""
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as scratch:
        scratch = Path(scratch)
        subs = make_submissions(scratch, untouched)
        return {"local batch, 1 at a time": (1, local_run(subs, scratch / "local", options)),
                "cluster, 1 worker": (1, cluster_run(subs, scratch / "one", options, 1)),
                "cluster, 2 workers": (2, cluster_run(subs, scratch / "two", options, 2)),
                "local batch, 2 at a time": (2, local_run(subs, scratch / "local_two", options, 2))}


def spread(values, unit: str, signed: bool = False) -> str:
    """The rounds' values, e.g. "[1.78x, 1.85x]"."""
    form = "{:+.1f}" if signed else "{:.2f}"
    return "[" + ", ".join(form.format(v) + unit for v in values) + "]"


if __name__ == "__main__":
    sys.exit(main())
