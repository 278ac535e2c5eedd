"""Offline MNIST stand-in built from real handwritten digits.

The digits are scikit-learn's `load_digits` set (1797 real 8x8 handwritten digits
from 43 writers, shipped inside scikit-learn, so no download). Each is brought to
MNIST's look the way MNIST itself was made: upsampled smoothly, its bounding box
scaled to fit a 20x20 box (aspect ratio kept), and placed in a 28x28 image with
its centre of mass at the centre. Small deterministic augmentations (rotation up
to 12 degrees, scale 0.85-1.05, shift up to 1.5 pixels, stroke thickness) make
several images from each source digit.

Train and test come from different source digits: the first 1500 of
`load_digits` make the training set (4 images each: 6000), the remaining 297 the
test set (2 images each: 594).

Files are written uncompressed in MNIST's IDX format to `<root>/MNIST/raw/`
(`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`), where
`torchvision.datasets.MNIST(root, train=..., download=False)` reads them (and where
`download=True` finds them and downloads nothing). `<root>/SAMPLE_DATA.txt` marks
the folder as generated (dataset, seed, format_version): the sample-data builder
(`python -m cs231n.datasets.build_sample_data`) rebuilds it when the seed or format
changes and never touches a MNIST_data folder without it (real MNIST downloaded by
torchvision). Same seed, same bytes.
"""
import os
import struct

import numpy as np
from scipy import ndimage

DIR_NAME = "MNIST_data"
DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), DIR_NAME)
DATASET_NAME = "mnist"
DEFAULT_SEED = 231
FORMAT_VERSION = 1
MARKER_NAME = "SAMPLE_DATA.txt"
FILES = tuple(f"MNIST/raw/{name}" for name in (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
NUM_TRAIN_SOURCES = 1500
TRAIN_COPIES = 4
TEST_COPIES = 2


def ensure(datasets_dir, seed=DEFAULT_SEED, force=False):
    """The sample-data registry's entry point: build `<datasets_dir>/MNIST_data`
    unless it already holds this sample (same seed and format) or real MNIST
    (no SAMPLE_DATA.txt). Returns a one-line status."""
    from pathlib import Path

    from cs231n.datasets.build_sample_data import ensure_sample_dir

    return ensure_sample_dir(Path(datasets_dir) / DIR_NAME, build_mnist, dataset=DATASET_NAME,
                             seed=seed, version=FORMAT_VERSION, force=force,
                             expected_files=FILES)


def build_mnist(root=None, seed=DEFAULT_SEED):
    """Write the sample MNIST IDX files under `<root>/MNIST/raw/` and the marker
    `<root>/SAMPLE_DATA.txt`; return the raw folder.

    root defaults to `cs231n/datasets/MNIST_data` (what the notebooks pass to
    torchvision). Deterministic: the same seed gives byte-identical files.
    """
    from sklearn.datasets import load_digits

    root = DEFAULT_ROOT if root is None else os.fspath(root)
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    digits = load_digits()
    sources = digits.images.astype(np.float64) / 16.0      # (1797, 8, 8) in [0, 1]
    labels = digits.target.astype(np.uint8)                 # (1797,)
    rng = np.random.default_rng(seed)
    counts = {}
    splits = {
        "train": (slice(0, NUM_TRAIN_SOURCES), TRAIN_COPIES),
        "t10k": (slice(NUM_TRAIN_SOURCES, None), TEST_COPIES),
    }
    for prefix, (rows, copies) in splits.items():
        images, targets = [], []
        for copy in range(copies):
            for img8, label in zip(sources[rows], labels[rows]):
                # The first copy of each digit is unaugmented.
                params = _augmentation(rng) if copy > 0 else (0.0, 1.0, 0.0, 0.0, 0.0)
                images.append(render_digit(img8, *params))
                targets.append(label)
        counts[prefix] = len(images)
        order = rng.permutation(len(images))
        _write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), np.stack(images)[order])
        _write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), np.array(targets)[order])
    _write_marker(root, seed, counts)  # last: a folder with a marker is a complete build
    return raw


def _write_marker(root, seed, counts):
    lines = [f"dataset: {DATASET_NAME}", f"seed: {int(seed)}", f"format_version: {FORMAT_VERSION}",
             "generator: cs231n.datasets.sample_mnist",
             f"train_images: {counts['train']}", f"test_images: {counts['t10k']}", "",
             "This folder holds GENERATED SAMPLE DATA, not the real MNIST: real handwritten",
             "8x8 digits from scikit-learn's load_digits, upsampled and centred like MNIST,",
             "in MNIST's IDX files. torchvision.datasets.MNIST reads them (and does not",
             "download while they are here). Rebuild with",
             "    python -m cs231n.datasets.build_sample_data --only mnist --force",
             "or delete this folder to let torchvision download the real MNIST.", ""]
    with open(os.path.join(root, MARKER_NAME), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))


def _augmentation(rng):
    """(angle in degrees, scale, shift down, shift right, thickness)."""
    return (rng.uniform(-12, 12), rng.uniform(0.85, 1.05), rng.uniform(-1.5, 1.5),
            rng.uniform(-1.5, 1.5), rng.uniform(-0.6, 0.6))


def render_digit(img8, angle=0.0, scale=1.0, dy=0.0, dx=0.0, thickness=0.0):
    """One 8x8 digit (values in [0, 1]) -> an MNIST-style uint8 image (28, 28).

    thickness > 0 makes strokes bolder, < 0 thinner.
    """
    # Smooth upsampling (x4) of the blocky 8x8 digit, with a margin for rotation.
    big = ndimage.zoom(np.pad(img8, 2), 4, order=3)
    big = ndimage.gaussian_filter(np.clip(big, 0, 1), 1.0)
    if angle:
        big = ndimage.rotate(big, angle, reshape=False, order=1)
    # Ink: a soft threshold turns the grey blur into strokes like MNIST's pen.
    big = np.clip((big - (0.45 - 0.1 * thickness)) / 0.3, 0, 1)
    # Fit the bounding box into 20x20 (times scale), keeping the aspect ratio.
    rows, cols = np.nonzero(big > 0.05)
    box = big[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    factor = 20.0 * scale / max(box.shape)
    box = np.clip(ndimage.zoom(box, factor, order=1, grid_mode=True, mode="grid-constant"), 0, 1)
    canvas = np.zeros((28, 28))
    h, w = min(box.shape[0], 28), min(box.shape[1], 28)
    canvas[:h, :w] = box[:h, :w]
    # Centre of mass to the image centre, plus the augmentation shift.
    com_y, com_x = ndimage.center_of_mass(canvas)
    canvas = ndimage.shift(canvas, (13.5 - com_y + dy, 13.5 - com_x + dx), order=1)
    return np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)


def _write_idx(path, array):
    """Write a uint8 array in IDX format (big-endian header: magic, then each dimension)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(array.tobytes())
    os.replace(tmp, path)


if __name__ == "__main__":
    print(build_mnist())
