"""Build every offline sample dataset into its default place.

    python -m cs231n.datasets.build_sample_data [--seed S] [--force] [--only coco,...] [--root DIR]

--root is the datasets directory (default: this package's ``cs231n/datasets``);
each dataset goes to its usual place under it, where the loaders look by
default (COCO into ``coco_captioning/``).

Safe to run again and again (``scripts/setup.sh`` runs it every time):
- a sample already built with the same seed and format is skipped quickly;
- a sample with another seed or format (or an incomplete one) is rebuilt;
- data without the sample marker is taken to be the REAL dataset and is never
  touched, not even with --force;
- a build goes to a temporary sibling first and replaces the target only when
  complete.

Generated data is recognisable by its marker: a directory holds
``SAMPLE_DATA.txt`` ("key: value" lines with at least dataset, seed,
format_version); a single-file archive (.npz) holds an entry named
``SAMPLE_DATA``. ``is_generated_sample(path)`` tells.

Adding a dataset: write ``ensure(datasets_dir, seed, force) -> str`` (build if
needed, return a one-line status) and add one line to SAMPLE_BUILDERS.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from cs231n.datasets import sample_cifar10, sample_coco, sample_imagenet, sample_mnist
from cs231n.datasets.sample_marker import parse_marker

DATASETS_DIR = Path(__file__).resolve().parent
DEFAULT_SEED = sample_coco.DEFAULT_SEED
MARKER_NAME = "SAMPLE_DATA.txt"  # in a generated directory
MARKER_ENTRY = "SAMPLE_DATA"     # entry (key) in a generated single-file archive


def read_marker(directory):
    """The 'key: value' header of directory/SAMPLE_DATA.txt as a dict of str
    (up to the first blank line), or None when there is no marker."""
    path = Path(directory) / MARKER_NAME
    if not path.is_file():
        return None
    return parse_marker(path.read_text(encoding="utf-8"))


def is_generated_sample(path):
    """True when path is sample data made by this builder: a directory with a
    SAMPLE_DATA.txt marker, or a .npz/.zip file with a SAMPLE_DATA entry."""
    path = Path(path)
    if path.is_dir():
        return (path / MARKER_NAME).is_file()
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return any(Path(n).stem == MARKER_ENTRY for n in z.namelist())
    return False


def ensure_sample_dir(target, build, *, dataset, seed, version, force=False, expected_files=()):
    """Make `target` hold the sample of `dataset` built by build(directory, seed),
    unless it already does (same dataset, seed and version, all expected files
    present) or holds real data. Returns a one-line status message."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        return f"{dataset}: skipped: {target} exists and is not a directory (left untouched)"
    if target.is_dir() and any(target.iterdir()) and not is_generated_sample(target):
        return f"{dataset}: skipped: {target} holds real data (no {MARKER_NAME}); never overwritten"
    marker = read_marker(target) if target.is_dir() else None
    complete = all((target / name).is_file() for name in expected_files)
    if (not force and marker is not None and complete and marker.get("dataset") == dataset
            and marker.get("seed") == str(seed) and marker.get("format_version") == str(version)):
        return f"{dataset}: up to date in {target} (seed {seed})"

    t0 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    old = None
    try:
        build(tmp, seed)
        tmp.chmod(0o755)  # mkdtemp makes it private; the data is for everyone
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not target.exists():
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return (f"{dataset}: built {target} (seed {seed}, {size / 2**20:.1f} MiB, "
            f"{time.perf_counter() - t0:.1f}s)")


def ensure_coco(datasets_dir, seed=DEFAULT_SEED, force=False):
    return ensure_sample_dir(Path(datasets_dir) / "coco_captioning", sample_coco.build_coco_sample,
                             dataset=sample_coco.DATASET_NAME, seed=seed,
                             version=sample_coco.FORMAT_VERSION, force=force,
                             expected_files=sample_coco.FILES)


# name -> ensure(datasets_dir, seed, force) -> status line. One line per dataset.
SAMPLE_BUILDERS = {
    "coco": ensure_coco,
    "imagenet": sample_imagenet.ensure,
    "mnist": sample_mnist.ensure,
    "cifar10": sample_cifar10.ensure,
}


def build_all(datasets_dir=DATASETS_DIR, seed=DEFAULT_SEED, force=False, only=None, log=print):
    """Run the builders named in `only` (default: all). Returns their status lines."""
    names = list(SAMPLE_BUILDERS) if only is None else list(only)
    unknown = [n for n in names if n not in SAMPLE_BUILDERS]
    if unknown:
        raise ValueError(f"unknown sample dataset(s) {unknown}; known: {sorted(SAMPLE_BUILDERS)}")
    statuses = []
    for name in names:
        status = SAMPLE_BUILDERS[name](Path(datasets_dir), seed=seed, force=force)
        log(f"build_sample_data: {status}")
        statuses.append(status)
    return statuses


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cs231n.datasets.build_sample_data",
        description="Build the offline sample datasets (generated, deterministic) into their "
                    "default places. Real datasets (no SAMPLE_DATA marker) are never overwritten.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed of the generators (default {DEFAULT_SEED})")
    parser.add_argument("--force", action="store_true",
                        help="rebuild samples even when they are up to date (real data is still kept)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated subset of: {','.join(SAMPLE_BUILDERS)}")
    parser.add_argument("--root", default=str(DATASETS_DIR),
                        help="datasets directory to build into (default: the package's cs231n/datasets)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be nonnegative; got {args.seed}")
    only = None
    if args.only is not None:
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in only if n not in SAMPLE_BUILDERS]
        if unknown or not only:
            parser.error(f"--only: unknown dataset(s) {unknown or [args.only]}; "
                         f"known: {','.join(SAMPLE_BUILDERS)}")
    build_all(Path(args.root), seed=args.seed, force=args.force, only=only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
