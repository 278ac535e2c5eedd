"""The COCO captioning data side: the generated sample, its loader, caption
helpers, the sample-data command, and image_utils."""
import json
import os
import re
import shutil
import socket
import time

import h5py
import numpy as np
import pytest
from PIL import Image

from cs231n.coco_utils import decode_captions, load_coco_data, sample_coco_minibatch
from cs231n.datasets import build_sample_data, sample_coco
from cs231n.image_utils import (SQUEEZENET_MEAN, SQUEEZENET_STD, deprocess_image, image_from_url,
                                load_image, preprocess_image)

EXPECTED_KEYS = {"train_captions", "train_image_idxs", "val_captions", "val_image_idxs",
                 "train_features", "val_features", "idx_to_word", "word_to_idx",
                 "train_urls", "val_urls"}
URL_RE = re.compile(r"^http://images\.cocodataset\.org/(train|val)2014/COCO_(train|val)2014_(\d{12})\.jpg$")


def read_all_arrays(directory):
    """Every HDF5 dataset under directory, plus the text files, keyed by name."""
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.endswith(".h5"):
            with h5py.File(path, "r") as f:
                for key in f:
                    out[f"{name}/{key}"] = np.asarray(f[key])
        else:
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


# --------------------------------------------------------------------------
# Layout of the loaded sample
# --------------------------------------------------------------------------
def test_keys_shapes_dtypes(coco_data):
    data = coco_data
    assert set(data) == EXPECTED_KEYS
    for split in ("train", "val"):
        caps, idxs = data[f"{split}_captions"], data[f"{split}_image_idxs"]
        feats, urls = data[f"{split}_features"], data[f"{split}_urls"]
        assert caps.dtype == np.int32 and caps.ndim == 2 and caps.shape[1] == 17
        assert idxs.dtype == np.int32 and idxs.shape == (caps.shape[0],)
        assert feats.dtype == np.float32 and feats.shape[1] == 512
        assert isinstance(urls, np.ndarray) and urls.shape == (feats.shape[0],)
        # every caption points at an image, every image has captions (4-6)
        assert idxs.min() >= 0 and idxs.max() < feats.shape[0]
        per_image = np.bincount(idxs, minlength=feats.shape[0])
        assert per_image.min() >= 4 and per_image.max() <= 6
    assert 1000 <= data["train_features"].shape[0] <= 2000
    assert data["val_features"].shape[0] >= 200
    assert data["train_captions"].shape[0] >= 4 * data["train_features"].shape[0]


def test_vocabulary(coco_data):
    idx_to_word, word_to_idx = coco_data["idx_to_word"], coco_data["word_to_idx"]
    assert isinstance(idx_to_word, list) and isinstance(word_to_idx, dict)
    assert idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert len(set(idx_to_word)) == len(idx_to_word)
    assert all(word_to_idx[w] == i for i, w in enumerate(idx_to_word))
    assert len(word_to_idx) == len(idx_to_word)
    assert 50 <= len(idx_to_word) <= 1004
    for split in ("train", "val"):
        caps = coco_data[f"{split}_captions"]
        assert caps.min() >= 0 and caps.max() < len(idx_to_word)


@pytest.mark.parametrize("split", ["train", "val"])
def test_caption_layout(coco_data, split):
    NULL, START, END, UNK = 0, 1, 2, 3
    caps = coco_data[f"{split}_captions"]
    assert np.all(caps[:, 0] == START)
    assert np.all((caps[:, 1:] == START).sum(axis=1) == 0)
    assert np.all((caps == END).sum(axis=1) == 1)
    end_pos = np.argmax(caps == END, axis=1)
    positions = np.arange(caps.shape[1])[None, :]
    after = positions > end_pos[:, None]
    before = positions < end_pos[:, None]
    assert np.all(caps[after] == NULL)
    assert np.all(caps[before] != NULL)
    assert end_pos.min() >= 4  # at least a few words
    # <UNK> shows up now and then, as in the real data, but rarely
    unk_frac = (caps == UNK).any(axis=1).mean()
    assert 0.005 < unk_frac < 0.2
    # wording varies: an image's captions are not all the same
    idxs = coco_data[f"{split}_image_idxs"]
    distinct = [len({caps[j].tobytes() for j in np.flatnonzero(idxs == i)}) for i in range(20)]
    assert max(distinct) >= 3


def test_urls(coco_data):
    ids = {}
    for split in ("train", "val"):
        urls = coco_data[f"{split}_urls"]
        for url in urls:
            m = URL_RE.match(str(url))
            assert m and m.group(1) == m.group(2) == split, url
        ids[split] = {URL_RE.match(str(u)).group(3) for u in urls}
        assert len(ids[split]) == len(urls)  # one distinct image per line
    assert not ids["train"] & ids["val"]


def test_marker_file(coco_sample_dir):
    text = (coco_sample_dir / "SAMPLE_DATA.txt").read_text()
    assert "GENERATED SAMPLE DATA" in text
    assert f"seed: {sample_coco.DEFAULT_SEED}" in text
    assert build_sample_data.read_marker(coco_sample_dir)["dataset"] == "coco"
    assert build_sample_data.is_generated_sample(coco_sample_dir)
    total = sum(p.stat().st_size for p in coco_sample_dir.iterdir())
    assert total < 50 * 2**20


def test_raw_files_match_real_layout(coco_sample_dir):
    with h5py.File(coco_sample_dir / "coco2014_captions.h5", "r") as f:
        assert set(f) == {"train_captions", "train_image_idxs", "val_captions", "val_image_idxs"}
    for split in ("train", "val"):
        for suffix, cols in (("", 4096), ("_pca", 512)):
            with h5py.File(coco_sample_dir / f"{split}2014_vgg16_fc7{suffix}.h5", "r") as f:
                assert set(f) == {"features"}
                assert f["features"].dtype == np.float32 and f["features"].shape[1] == cols
    vocab = json.loads((coco_sample_dir / "coco2014_vocab.json").read_text())
    assert set(vocab) == {"idx_to_word", "word_to_idx"}


def test_pca_false_gives_fc7(coco_sample_dir, coco_data):
    data = load_coco_data(base_dir=coco_sample_dir, pca_features=False)
    for split in ("train", "val"):
        feats = data[f"{split}_features"]
        assert feats.dtype == np.float32
        assert feats.shape == (coco_data[f"{split}_features"].shape[0], 4096)
        assert feats.min() >= 0  # ReLU-like
        assert 0.02 < (feats > 0).mean() < 0.6
        np.testing.assert_array_equal(data[f"{split}_captions"], coco_data[f"{split}_captions"])


# --------------------------------------------------------------------------
# max_train, minibatches, decoding
# --------------------------------------------------------------------------
def test_max_train(coco_sample_dir, coco_data):
    np.random.seed(231)
    small = load_coco_data(base_dir=coco_sample_dir, max_train=50)
    assert small["train_captions"].shape == (50, 17)
    assert small["train_image_idxs"].shape == (50,)
    # rows are distinct (caption, image) pairs of the full data
    full = {(c.tobytes(), int(i)) for c, i in zip(coco_data["train_captions"], coco_data["train_image_idxs"])}
    pairs = [(c.tobytes(), int(i)) for c, i in zip(small["train_captions"], small["train_image_idxs"])]
    assert all(p in full for p in pairs)
    assert len(set(pairs)) == 50
    # features, urls and val are untouched
    np.testing.assert_array_equal(small["train_features"], coco_data["train_features"])
    np.testing.assert_array_equal(small["val_captions"], coco_data["val_captions"])
    # seeded: the same subset again
    np.random.seed(231)
    again = load_coco_data(base_dir=coco_sample_dir, max_train=50)
    np.testing.assert_array_equal(again["train_captions"], small["train_captions"])
    # more than there is: everything
    n = coco_data["train_captions"].shape[0]
    everything = load_coco_data(base_dir=coco_sample_dir, max_train=n + 10)
    assert everything["train_captions"].shape[0] == n
    for bad in (0, -5, 2.5):
        with pytest.raises(ValueError, match="max_train"):
            load_coco_data(base_dir=coco_sample_dir, max_train=bad)


@pytest.mark.parametrize("split", ["train", "val"])
def test_sample_coco_minibatch(coco_data, split):
    np.random.seed(0)
    caps, feats, urls = sample_coco_minibatch(coco_data, batch_size=25, split=split)
    assert caps.shape == (25, 17) and caps.dtype == np.int32
    assert feats.shape == (25, 512) and feats.dtype == np.float32
    assert urls.shape == (25,)
    url_to_image = {str(u): i for i, u in enumerate(coco_data[f"{split}_urls"])}
    all_caps, all_idxs = coco_data[f"{split}_captions"], coco_data[f"{split}_image_idxs"]
    for cap, feat, url in zip(caps, feats, urls):
        image = url_to_image[str(url)]
        np.testing.assert_array_equal(feat, coco_data[f"{split}_features"][image])
        # the caption is one of that image's captions
        assert any(np.array_equal(cap, c) for c in all_caps[all_idxs == image])


def test_sample_coco_minibatch_bad_split(coco_data):
    with pytest.raises(ValueError, match="split"):
        sample_coco_minibatch(coco_data, batch_size=2, split="test")


def test_decode_captions_oracle():
    idx_to_word = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "dog", "runs"]
    caps = np.array([[1, 4, 5, 6, 2, 0, 0],
                     [1, 4, 3, 2, 5, 5, 0],    # words after <END> are dropped
                     [4, 0, 5, 6, 6, 6, 6]])   # no <END>: runs to the end; <NULL> skipped
    assert decode_captions(caps[0], idx_to_word) == "<START> a dog runs <END>"
    assert decode_captions(caps, idx_to_word) == ["<START> a dog runs <END>",
                                                  "<START> a <UNK> <END>",
                                                  "a dog runs runs runs runs"]
    # a dict idx -> word works too
    assert decode_captions(caps[0], dict(enumerate(idx_to_word))) == "<START> a dog runs <END>"
    with pytest.raises(ValueError, match="shape"):
        decode_captions(np.zeros((2, 2, 2), dtype=int), idx_to_word)


def test_decode_sample_captions(coco_data):
    caps = coco_data["val_captions"][:5]
    one = decode_captions(caps[0], coco_data["idx_to_word"])
    many = decode_captions(caps, coco_data["idx_to_word"])
    assert isinstance(one, str) and isinstance(many, list) and len(many) == 5
    assert many[0] == one
    for text in many:
        words = text.split()
        assert words[0] == "<START>" and words[-1] == "<END>"
        assert "<NULL>" not in words


# --------------------------------------------------------------------------
# The captions are predictable from the features
# --------------------------------------------------------------------------
def _labels_from_captions(data, split, word_sets):
    """Per image: index of the one word set its captions use (-1 if none or several)."""
    n = data[f"{split}_features"].shape[0]
    labels = np.full(n, -1)
    texts = decode_captions(data[f"{split}_captions"], data["idx_to_word"])
    for text, image in zip(texts, data[f"{split}_image_idxs"]):
        words = set(text.split())
        hits = [k for k, ws in enumerate(word_sets) if words & ws]
        if len(hits) == 1:
            labels[image] = hits[0]
    return labels


@pytest.mark.parametrize("factor", ["object", "colour"])
@pytest.mark.parametrize("pca", [True, False])
def test_captions_predictable_from_features(coco_sample_dir, coco_data, factor, pca):
    data = coco_data if pca else load_coco_data(base_dir=coco_sample_dir, pca_features=False)
    if factor == "object":
        word_sets = [{singular, plural} for singular, plural, _, _ in sample_coco.OBJECTS]
    else:
        word_sets = [{c} for c in sample_coco.COLOURS]
    y_train = _labels_from_captions(data, "train", word_sets)
    y_val = _labels_from_captions(data, "val", word_sets)
    assert (y_train >= 0).mean() > 0.95 and (y_val >= 0).mean() > 0.95
    # nearest class centroid, fitted on train, scored on val
    X, Xv = data["train_features"].astype(np.float64), data["val_features"].astype(np.float64)
    classes = np.unique(y_train[y_train >= 0])
    centroids = np.stack([X[y_train == k].mean(axis=0) for k in classes])
    dists = (Xv ** 2).sum(1)[:, None] - 2 * Xv @ centroids.T + (centroids ** 2).sum(1)[None]
    pred = classes[dists.argmin(axis=1)]
    ok = y_val >= 0
    accuracy = (pred[ok] == y_val[ok]).mean()
    chance = np.bincount(y_val[ok]).max() / ok.sum()
    assert chance < 0.3
    assert accuracy > 0.9, f"{factor}: val accuracy {accuracy:.3f} (chance {chance:.3f})"


# --------------------------------------------------------------------------
# Determinism and the builder command
# --------------------------------------------------------------------------
def test_same_seed_same_data_other_seed_differs(coco_sample_dir, tmp_path):
    again = sample_coco.build_coco_sample(tmp_path / "again", seed=sample_coco.DEFAULT_SEED)
    other = sample_coco.build_coco_sample(tmp_path / "other", seed=sample_coco.DEFAULT_SEED + 1)
    a, b, c = read_all_arrays(coco_sample_dir), read_all_arrays(again), read_all_arrays(other)
    assert a.keys() == b.keys() == c.keys()
    for key in a:
        if isinstance(a[key], bytes):
            assert a[key] == b[key], key
        else:
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # byte-identical files, not just arrays
    for name in os.listdir(coco_sample_dir):
        assert (coco_sample_dir / name).read_bytes() == (again / name).read_bytes(), name
    for key in ("coco2014_captions.h5/train_captions", "train2014_vgg16_fc7_pca.h5/features",
                "train2014_vgg16_fc7.h5/features", "train2014_urls.txt"):
        assert not np.array_equal(np.asarray(a[key]), np.asarray(c[key])), key
    assert a["coco2014_vocab.json"] == c["coco2014_vocab.json"]  # the vocabulary is the grammar's


def test_build_sample_data_command(tmp_path, capsys):
    root = tmp_path / "datasets"
    assert build_sample_data.main(["--root", str(root), "--only", "coco", "--seed", "7"]) == 0
    target = root / "coco_captioning"
    assert "built" in capsys.readouterr().out
    assert build_sample_data.read_marker(target)["seed"] == "7"
    data = load_coco_data(base_dir=target)
    assert data["train_captions"].shape[1] == 17
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary leftovers

    t0 = time.perf_counter()
    build_sample_data.main(["--root", str(root), "--only", "coco", "--seed", "7"])
    assert "up to date" in capsys.readouterr().out
    assert time.perf_counter() - t0 < 1.0

    # a damaged sample is rebuilt
    (target / "val2014_urls.txt").unlink()
    build_sample_data.main(["--root", str(root), "--only", "coco", "--seed", "7"])
    assert "built" in capsys.readouterr().out
    assert (target / "val2014_urls.txt").is_file()

    with pytest.raises(SystemExit):
        build_sample_data.main(["--root", str(root), "--only", "nosuchdata"])
    assert "unknown" in capsys.readouterr().err


def test_build_sample_data_never_touches_real_data(tmp_path, capsys):
    target = tmp_path / "coco_captioning"
    target.mkdir()
    (target / "coco2014_captions.h5").write_bytes(b"real data stand-in")
    build_sample_data.main(["--root", str(tmp_path), "--only", "coco", "--force"])
    assert "never overwritten" in capsys.readouterr().out
    assert sorted(os.listdir(target)) == ["coco2014_captions.h5"]
    assert (target / "coco2014_captions.h5").read_bytes() == b"real data stand-in"
    assert not build_sample_data.is_generated_sample(target)


def test_registry_has_coco():
    assert "coco" in build_sample_data.SAMPLE_BUILDERS
    assert all(callable(f) for f in build_sample_data.SAMPLE_BUILDERS.values())


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
def test_missing_directory(tmp_path):
    missing = tmp_path / "no_such_dir"
    with pytest.raises(FileNotFoundError) as info:
        load_coco_data(base_dir=missing)
    message = str(info.value)
    assert str(missing) in message
    assert "get_datasets.sh" in message and "build_sample_data" in message


@pytest.mark.parametrize("name", ["coco2014_captions.h5", "val2014_vgg16_fc7_pca.h5",
                                  "coco2014_vocab.json", "train2014_urls.txt"])
def test_missing_file(coco_sample_dir, tmp_path, name):
    broken = tmp_path / "broken"
    shutil.copytree(coco_sample_dir, broken)
    (broken / name).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_coco_data(base_dir=broken)
    assert str(broken / name) in str(info.value)
    assert "build_sample_data" in str(info.value)


# --------------------------------------------------------------------------
# image_utils
# --------------------------------------------------------------------------
def test_squeezenet_constants():
    assert SQUEEZENET_MEAN.dtype == np.float32 and SQUEEZENET_STD.dtype == np.float32
    np.testing.assert_allclose(SQUEEZENET_MEAN, [0.485, 0.456, 0.406], rtol=1e-6)
    np.testing.assert_allclose(SQUEEZENET_STD, [0.229, 0.224, 0.225], rtol=1e-6)


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/image.jpg",                # connection refused
    "http://10.255.255.1/image.jpg",                    # unroutable: times out
    "http://no-such-host.invalid/image.jpg",            # name does not resolve
    "http://images.cocodataset.org/train2014/COCO_train2014_000000912345.jpg",  # no network / 404
])
def test_image_from_url_unreachable(url):
    url = url.format(port=_closed_port())
    t0 = time.perf_counter()
    assert image_from_url(url, timeout=1.0) is None
    assert time.perf_counter() - t0 < 2.5


def test_image_from_url_missing_file(tmp_path):
    missing = tmp_path / "nothing.png"
    t0 = time.perf_counter()
    assert image_from_url(missing.as_uri()) is None
    assert image_from_url(str(missing)) is None
    assert time.perf_counter() - t0 < 1.0


def test_image_from_url_local_png(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 20, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(pixels).save(path)
    img = image_from_url(path.as_uri())
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, pixels)
    # grey and RGBA images come back as RGB
    Image.fromarray(pixels[..., 0]).save(tmp_path / "grey.png")
    grey = image_from_url((tmp_path / "grey.png").as_uri())
    assert grey.shape == (12, 20, 3) and np.array_equal(grey[..., 1], pixels[..., 0])
    rgba = np.concatenate([pixels, np.full((12, 20, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert image_from_url(str(tmp_path / "rgba.png")).shape == (12, 20, 3)
    # a file that is not an image
    (tmp_path / "junk.png").write_bytes(b"not an image")
    assert image_from_url((tmp_path / "junk.png").as_uri()) is None


def test_load_image_and_preprocessing(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, size=(30, 60, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(pixels).save(path)
    np.testing.assert_array_equal(load_image(path), pixels)
    small = load_image(path, size=15)
    assert small.shape == (15, 30, 3) and small.dtype == np.uint8
    x = preprocess_image(pixels)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[3, 4], (pixels[3, 4] / 255.0 - [0.485, 0.456, 0.406]) /
                               [0.229, 0.224, 0.225], rtol=1e-5)
    np.testing.assert_array_equal(deprocess_image(x), pixels)
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")


def test_max_train_prefers_distinct_images_like_the_real_data(coco_sample_dir):
    np.random.seed(231)
    small = load_coco_data(base_dir=coco_sample_dir, max_train=50)
    assert len(np.unique(small["train_image_idxs"])) == 50
    num_images = load_coco_data(base_dir=coco_sample_dir)["train_features"].shape[0]
    large = load_coco_data(base_dir=coco_sample_dir, max_train=num_images + 10)
    assert large["train_captions"].shape[0] == num_images + 10
    assert len(np.unique(large["train_image_idxs"])) == num_images
