"""Tests of the offline image samples: imagenet_val_25.npz (load_imagenet_val) and
MNIST in IDX files (read by torchvision), their determinism, their registration
with the sample-data builder, and the loader's errors."""
import hashlib
import os
import zipfile

import numpy as np
import pytest

import cs231n  # noqa: F401  (before torchvision)
from cs231n.data_utils import load_imagenet_val
from cs231n.datasets import build_sample_data, sample_imagenet, sample_mnist

import torch  # noqa: E402
import torchvision  # noqa: E402


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --------------------------------------------------------------------------- ImageNet

def test_load_imagenet_val_roundtrip(imagenet_sample_path):
    X, y, class_names = load_imagenet_val(path=imagenet_sample_path)
    assert X.shape == (25, 224, 224, 3) and X.dtype == np.uint8
    assert y.shape == (25,) and np.issubdtype(y.dtype, np.integer)
    assert ((0 <= y) & (y < 1000)).all()
    assert isinstance(class_names, dict) and sorted(class_names) == list(range(1000))
    assert all(isinstance(name, str) and name for name in class_names.values())
    # torchvision's ImageNet names, which the pretrained SqueezeNet's outputs follow
    categories = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1.meta["categories"]
    assert [class_names[i] for i in range(1000)] == list(categories)
    assert class_names[y[0]] == "seashore"

    X5, y5, names5 = load_imagenet_val(num=5, path=imagenet_sample_path)
    assert X5.shape == (5, 224, 224, 3) and np.array_equal(X5, X[:5])
    assert np.array_equal(y5, y[:5]) and names5 == class_names


def test_imagenet_file_layout_is_the_canonical_one(imagenet_sample_path):
    # What the original loader does: np.load(..., allow_pickle=True), label_map.item()
    with np.load(imagenet_sample_path, allow_pickle=True) as f:
        assert {"X", "y", "label_map"} <= set(f.files)
        assert f["label_map"].shape == () and isinstance(f["label_map"].item(), dict)
    assert build_sample_data.is_generated_sample(imagenet_sample_path)
    assert sample_imagenet.read_marker(imagenet_sample_path)["dataset"] == "imagenet"


def test_imagenet_sample_looks_like_images(imagenet_sample_path):
    X, _, _ = load_imagenet_val(path=imagenet_sample_path)
    X = X.astype(np.float64)
    for img in X:
        assert img.std() > 20                                  # not flat
        assert img.min() < 80 and img.max() > 170              # uses the range
        # smooth like a photo: neighbouring pixels are close (noise would give ~std)
        assert np.abs(np.diff(img, axis=1)).mean() < 0.2 * img.std()
    # 25 different pictures
    flat = X.reshape(25, -1)
    assert len({hashlib.sha1(row.tobytes()).hexdigest() for row in flat}) == 25


def test_imagenet_builder_is_deterministic(imagenet_sample_path, tmp_path):
    again = sample_imagenet.build_imagenet(tmp_path / "a.npz", seed=sample_imagenet.DEFAULT_SEED)
    assert sha256(again) == sha256(imagenet_sample_path)      # byte-identical
    other = sample_imagenet.build_imagenet(tmp_path / "b.npz", seed=5)
    X1, y1, _ = load_imagenet_val(path=again)
    X2, y2, _ = load_imagenet_val(path=other)
    assert np.array_equal(y1, y2) and not np.array_equal(X1, X2)


def test_load_imagenet_val_missing_file_says_how_to_get_it(tmp_path):
    missing = tmp_path / "nowhere" / "imagenet_val_25.npz"
    with pytest.raises(FileNotFoundError) as info:
        load_imagenet_val(path=missing)
    message = str(info.value)
    assert str(missing) in message
    assert "get_datasets.sh" in message and "build_sample_data" in message


def test_load_imagenet_val_bad_num(imagenet_sample_path):
    with pytest.raises(ValueError, match=r"num is -1; expected None or an int >= 0"):
        load_imagenet_val(num=-1, path=imagenet_sample_path)


def test_imagenet_ensure_builds_skips_and_never_touches_real_data(tmp_path):
    status = sample_imagenet.ensure(tmp_path, seed=3)
    target = tmp_path / "imagenet_val_25.npz"
    assert "built" in status and target.is_file()
    assert "up to date" in sample_imagenet.ensure(tmp_path, seed=3)
    assert "built" in sample_imagenet.ensure(tmp_path, seed=4)
    assert sample_imagenet.read_marker(target)["seed"] == "4"
    # A file without the marker is real data: left alone, even with force
    np.savez(target, X=np.zeros((1, 224, 224, 3), np.uint8), y=np.zeros(1, int),
             label_map=np.array({0: "x"}, dtype=object))
    before = sha256(target)
    assert "real data" in sample_imagenet.ensure(tmp_path, seed=3, force=True)
    assert sha256(target) == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]   # no leftovers


# --------------------------------------------------------------------------- MNIST

def test_torchvision_reads_the_mnist_sample(mnist_sample_root):
    train = torchvision.datasets.MNIST(mnist_sample_root, train=True, download=False)
    test = torchvision.datasets.MNIST(mnist_sample_root, train=False, download=False)
    assert train.data.shape == (6000, 28, 28) and train.data.dtype == torch.uint8
    assert test.data.shape == (594, 28, 28)
    for split in (train, test):
        labels = split.targets.numpy()
        assert labels.min() == 0 and labels.max() == 9
        counts = np.bincount(labels, minlength=10)
        assert counts.min() > 0.7 * counts.mean()             # balanced classes
    img, label = train[0]
    assert img.size == (28, 28) and 0 <= label <= 9
    # download=True (what the notebooks pass) finds the files and downloads nothing
    assert len(torchvision.datasets.MNIST(mnist_sample_root, train=True, download=True)) == 6000


def test_mnist_sample_looks_like_mnist(mnist_sample_root):
    data = torchvision.datasets.MNIST(mnist_sample_root, train=True, download=False).data
    X = data.numpy().astype(np.float64) / 255
    # MNIST's statistics: mostly black background, mean intensity about 0.13
    assert 0.08 < X.mean() < 0.18
    # empty borders: hardly any digit reaches the outer 2 pixels (MNIST keeps 4 free)
    border = np.ones((28, 28), bool)
    border[2:-2, 2:-2] = False
    assert (X[:, border].max(axis=1) > 0.3).mean() < 0.03
    assert (X[:, 0, :].max(axis=1) > 0).mean() < 0.005
    # Each digit has its centre of mass near the image centre, like MNIST.
    rows = (X.sum(axis=2) * np.arange(28)).sum(axis=1) / X.sum(axis=(1, 2))
    cols = (X.sum(axis=1) * np.arange(28)).sum(axis=1) / X.sum(axis=(1, 2))
    assert np.abs(rows - 13.5).max() < 2.5 and np.abs(cols - 13.5).max() < 2.5
    # and the digits of one class resemble each other more than those of another
    labels = torchvision.datasets.MNIST(mnist_sample_root, train=True).targets.numpy()
    means = np.stack([X[labels == k].mean(axis=0) for k in range(10)])
    first = X[labels == 0][:50].reshape(50, -1)
    dist = ((first[:, None, :] - means.reshape(1, 10, -1)) ** 2).sum(axis=2)
    assert (dist.argmin(axis=1) == 0).mean() > 0.8


def test_mnist_train_and_test_come_from_different_digits(mnist_sample_root):
    train = torchvision.datasets.MNIST(mnist_sample_root, train=True).data.numpy()
    test = torchvision.datasets.MNIST(mnist_sample_root, train=False).data.numpy()
    train_hashes = {hashlib.sha1(x.tobytes()).hexdigest() for x in train}
    assert not any(hashlib.sha1(x.tobytes()).hexdigest() in train_hashes for x in test)


def test_mnist_builder_is_deterministic(mnist_sample_root, tmp_path):
    sample_mnist.build_mnist(tmp_path, seed=sample_mnist.DEFAULT_SEED)
    for name in sample_mnist.FILES:
        assert sha256(tmp_path / name) == sha256(mnist_sample_root / name)


def test_mnist_idx_header(mnist_sample_root):
    raw = mnist_sample_root / "MNIST" / "raw"
    with open(raw / "train-images-idx3-ubyte", "rb") as f:
        header = f.read(16)
    assert header == bytes.fromhex("00000803") + (6000).to_bytes(4, "big") + \
        (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    with open(raw / "t10k-labels-idx1-ubyte", "rb") as f:
        assert f.read(8) == bytes.fromhex("00000801") + (594).to_bytes(4, "big")
    assert build_sample_data.is_generated_sample(mnist_sample_root)


def test_mnist_ensure_keeps_real_data(tmp_path):
    real = tmp_path / "MNIST_data" / "MNIST" / "raw"
    real.mkdir(parents=True)
    (real / "train-images-idx3-ubyte").write_bytes(b"real")
    assert "real data" in sample_mnist.ensure(tmp_path, force=True)
    assert (real / "train-images-idx3-ubyte").read_bytes() == b"real"


# --------------------------------------------------------------------------- registry

def test_builders_are_registered():
    assert build_sample_data.SAMPLE_BUILDERS["imagenet"] is sample_imagenet.ensure
    assert build_sample_data.SAMPLE_BUILDERS["mnist"] is sample_mnist.ensure


def test_zip_entries_have_fixed_timestamps(imagenet_sample_path):
    with zipfile.ZipFile(imagenet_sample_path) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
