"""Offline CIFAR-10 stand-in in the real on-disk format (python pickle batches).

Writes ``<root>/cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5``,
``test_batch`` and ``batches.meta``, laid out exactly as the real CIFAR-10 python
release (each batch a pickled dict: ``data`` uint8 (n, 3072) rows of 1024 red,
then green, then blue values of a 32 x 32 image in row-major order, ``labels``,
``filenames``, ``batch_label``; the meta dict holds ``label_names``), which
``torchvision.datasets.CIFAR10(root)`` reads. torchvision also checks the real
files' MD5 sums, which generated files cannot match; the kit opens CIFAR-10
through ``cs231n.simclr.open_cifar10``, which skips those sums only in a folder
marked with ``SAMPLE_DATA.txt`` (this one).

The images are procedural textures, one kind per class (the classes keep
CIFAR-10's names so code that prints them works; the pictures are not of those
things): horizontal, vertical and diagonal stripes, a checkerboard, dots,
rings, a grid of lines, waves, smooth blobs, speckle. Each image draws a random
period, phase (and for some classes an orientation or centre), and one of four
two-colour palettes shared by every class, plus pixel noise. The augmentations
of SimCLR (crops, flips, colour jitter, grayscale) keep the texture kind and
change everything else, while the colours (what a random network's features
mostly see) say nothing about the class: contrastive pretraining has something
to learn that random features lack (Self_Supervised_Learning.ipynb measures it).

Sizes: 5 training batches of 300 images (1500) and a test batch of 500, classes
balanced; about 8 MiB. Same seed, same bytes.
"""
import os
import pickle

import numpy as np
from scipy import ndimage

DIR_NAME = "cifar-10-batches-py"  # under torchvision's root, cs231n/datasets by default
DATASET_NAME = "cifar10"
DEFAULT_SEED = 231
FORMAT_VERSION = 1
MARKER_NAME = "SAMPLE_DATA.txt"
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TEXTURES = ["horizontal stripes", "vertical stripes", "diagonal stripes", "checkerboard", "dots", "rings",
            "grid lines", "waves", "smooth blobs", "speckle"]
TRAIN_BATCHES = 5
PER_TRAIN_BATCH = 300
TEST_IMAGES = 500
FILES = tuple(f"data_batch_{k}" for k in range(1, TRAIN_BATCHES + 1)) + ("test_batch", "batches.meta")
SIZE = 32
# (foreground, background) colours in [0, 1]; every class uses every palette
PALETTES = np.array([[[0.9, 0.2, 0.2], [0.1, 0.2, 0.5]], [[0.2, 0.8, 0.3], [0.5, 0.1, 0.4]],
                     [[0.9, 0.8, 0.2], [0.2, 0.3, 0.2]], [[0.8, 0.8, 0.9], [0.3, 0.2, 0.1]]])


def ensure(datasets_dir, seed=DEFAULT_SEED, force=False):
    """The sample-data registry's entry point: build ``<datasets_dir>/cifar-10-batches-py``
    unless it already holds this sample (same seed and format) or the real CIFAR-10
    (no SAMPLE_DATA.txt). Returns a one-line status."""
    from pathlib import Path

    from cs231n.datasets.build_sample_data import ensure_sample_dir

    return ensure_sample_dir(Path(datasets_dir) / DIR_NAME, build_cifar10, dataset=DATASET_NAME, seed=seed,
                             version=FORMAT_VERSION, force=force, expected_files=FILES)


def texture(kind, n, rng):
    """n images (n, 32, 32) in [0, 1] of texture ``kind`` (an index into TEXTURES)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    y, x = y[None], x[None]
    w = 2 * np.pi / rng.uniform(5, 9, (n, 1, 1))  # angular frequency from a period of 5-9 pixels
    phase, phase2 = rng.uniform(0, 2 * np.pi, (2, n, 1, 1))
    binary = False
    if kind == 0:
        v = np.sin(w * y + phase)
    elif kind == 1:
        v = np.sin(w * x + phase)
    elif kind == 2:  # either diagonal: a horizontal flip turns one into the other
        v = np.sin(w * (x + rng.choice([-1.0, 1.0], (n, 1, 1)) * y) / np.sqrt(2) + phase)
    elif kind == 3:
        v = np.sin(w * x + phase) * np.sin(w * y + phase2)
    elif kind == 4:
        v, binary = np.where(np.cos(w * x + phase) + np.cos(w * y + phase2) > 0.8, 1.0, -1.0), True
    elif kind == 5:
        cy, cx = rng.uniform(-8, 40, (2, n, 1, 1))
        v = np.sin(w * np.hypot(x - cx, y - cy) + phase)
    elif kind == 6:
        v, binary = np.where(np.maximum(np.cos(w * x + phase), np.cos(w * y + phase2)) > 0.8, 1.0, -1.0), True
    elif kind == 7:
        bend = rng.uniform(1.5, 3, (n, 1, 1)) * np.sin(2 * np.pi * x / rng.uniform(8, 14, (n, 1, 1)))
        v = np.sin(w * y + bend + phase)
    elif kind == 8:
        v = ndimage.zoom(rng.standard_normal((n, 6, 6)), (1, SIZE / 6, SIZE / 6), order=3)[:, :SIZE, :SIZE]
        v = v / (np.abs(v).max(axis=(1, 2), keepdims=True) + 1e-9)
    else:
        v, binary = rng.choice([-1.0, 1.0], (n, SIZE, SIZE)), True
    return (v + 1) / 2 if binary else (np.tanh(2 * v) + 1) / 2


def make_images(per_class, rng):
    """(images uint8 (10 * per_class, 32, 32, 3), labels int (10 * per_class,)), shuffled."""
    images, labels = [], []
    for label in range(len(LABEL_NAMES)):
        t = texture(label, per_class, rng)[..., None]
        palette = PALETTES[rng.integers(0, len(PALETTES), per_class)]
        fg, bg = palette[:, None, None, 0], palette[:, None, None, 1]
        images.append(t * fg + (1 - t) * bg + rng.normal(0, 0.04, (per_class, SIZE, SIZE, 3)))
        labels += [label] * per_class
    images = np.clip(np.round(np.concatenate(images) * 255), 0, 255).astype(np.uint8)
    order = rng.permutation(len(labels))
    return images[order], np.asarray(labels)[order]


def _write_batch(path, images, labels, batch_label, first_index):
    """One pickled batch dict in CIFAR-10's layout (channel-planar rows of 3072 bytes)."""
    entry = {"batch_label": batch_label, "labels": [int(v) for v in labels],
             "data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1)),
             "filenames": [f"sample_{LABEL_NAMES[v]}_{first_index + k:05d}.png" for k, v in enumerate(labels)]}
    with open(path, "wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def build_cifar10(folder, seed=DEFAULT_SEED):
    """Write the sample batches and marker into ``folder`` (the cifar-10-batches-py
    directory itself); return it. The same seed gives byte-identical files."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images, train_labels = make_images(TRAIN_BATCHES * PER_TRAIN_BATCH // len(LABEL_NAMES), rng)
    test_images, test_labels = make_images(TEST_IMAGES // len(LABEL_NAMES), rng)
    for k in range(TRAIN_BATCHES):
        rows = slice(k * PER_TRAIN_BATCH, (k + 1) * PER_TRAIN_BATCH)
        _write_batch(os.path.join(folder, f"data_batch_{k + 1}"), train_images[rows], train_labels[rows],
                     f"training batch {k + 1} of {TRAIN_BATCHES}", k * PER_TRAIN_BATCH)
    _write_batch(os.path.join(folder, "test_batch"), test_images, test_labels, "testing batch 1 of 1", 0)
    with open(os.path.join(folder, "batches.meta"), "wb") as handle:
        pickle.dump({"num_cases_per_batch": PER_TRAIN_BATCH, "label_names": LABEL_NAMES, "num_vis": 3072},
                    handle, protocol=2)
    _write_marker(folder, seed)  # last: a folder with a marker is a complete build
    return folder


def _write_marker(folder, seed):
    lines = [f"dataset: {DATASET_NAME}", f"seed: {int(seed)}", f"format_version: {FORMAT_VERSION}",
             "generator: cs231n.datasets.sample_cifar10",
             f"train_images: {TRAIN_BATCHES * PER_TRAIN_BATCH}", f"test_images: {TEST_IMAGES}", "",
             "This folder holds GENERATED SAMPLE DATA, not the real CIFAR-10: procedural textures,",
             "one kind per class (" + ", ".join(f"{n} = {t}" for n, t in zip(LABEL_NAMES, TEXTURES)) + "),",
             "in CIFAR-10's python pickle batches. cs231n.simclr.open_cifar10 reads them with torchvision",
             "(skipping its MD5 sums of the real files only while this marker is here). Rebuild with",
             "    python -m cs231n.datasets.build_sample_data --only cifar10 --force",
             "or get the real CIFAR-10 with bash cs231n/datasets/get_datasets.sh.", ""]
    with open(os.path.join(folder, MARKER_NAME), "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    print(build_cifar10(os.path.join(os.path.dirname(os.path.abspath(__file__)), DIR_NAME)))
