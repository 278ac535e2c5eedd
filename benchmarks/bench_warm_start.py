"""Check runners started warm (the fork server) against cold: seconds per grading.

Grades the demo's three submissions (reference, untouched release, one known bug),
hidden checks only, ``--rounds`` times each way in this process, and prints the
median wall seconds per submission for runners started cold (a fresh interpreter
in the sandbox, importing torch, torchvision and scipy itself) and warm (forked
from ``autograder/sandbox/forkserver.py``). The first grading of each way is not
counted: it pays the seed's expected outputs (and, warm, the server's start).

    .venv/bin/python benchmarks/bench_warm_start.py [--rounds 3]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.assignment import ROOT, load_assignment  # noqa: E402
from autograder.grading.grade import Options, grade_one  # noqa: E402
from autograder.release.demo_submissions import make_demo_submissions  # noqa: E402
from autograder.sandbox import launcher  # noqa: E402


def seconds_per_submission(subs, out: Path, rounds: int) -> dict:
    """{submission name: median wall seconds} over ``rounds`` gradings after a first one."""
    assignment, options = load_assignment(), Options(release_dir=ROOT / "release", execute_notebooks=False,
                                                     threads=1)
    times = {sub.stem: [] for sub in subs}
    for round_ in range(rounds + 1):
        for sub in subs:
            start = time.perf_counter()
            grading = grade_one(sub, out / f"{round_}" / sub.stem, assignment, options)
            if grading.grader_error:
                raise SystemExit(f"{sub.name}: {grading.grader_error}")
            if round_:
                times[sub.stem].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch:
        scratch = Path(scratch)
        subs = make_demo_submissions(scratch / "demo", ROOT / "release")
        warm_runners = launcher.WARM_RUNNERS
        launcher.WARM_RUNNERS = ()
        cold = seconds_per_submission(subs, scratch / "cold", args.rounds)
        launcher.WARM_RUNNERS = warm_runners
        why = launcher.warm_starts()
        if why:
            raise SystemExit(f"the fork server does not work here: {why}")
        warm = seconds_per_submission(subs, scratch / "warm", args.rounds)
    print(f"hidden checks only, median of {args.rounds} gradings each, seconds per submission:")
    for name in cold:
        print(f"  {name:10s} cold {cold[name]:5.2f}   warm {warm[name]:5.2f}   saved {cold[name] - warm[name]:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
