"""Load the COCO captioning data (real or generated sample) and handle captions.

The data directory holds the CS231n release of COCO 2014 captions (get it with
``bash cs231n/datasets/get_datasets.sh``) or the offline sample in the same
layout (``python -m cs231n.datasets.build_sample_data``); see
``cs231n/datasets/sample_coco.py`` for the file list.
"""
import json
import os

import h5py
import numpy as np

BASE_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "datasets", "coco_captioning")

SPLITS = ("train", "val")
_CAPTION_KEYS = ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs")
_HOW_TO_GET = ("Get the real data with `bash cs231n/datasets/get_datasets.sh` (needs internet) "
               "or build the offline sample with `python -m cs231n.datasets.build_sample_data`.")


def _require(path, what):
    if not os.path.exists(path):
        raise FileNotFoundError(f"COCO captioning {what} not found: {path}. {_HOW_TO_GET}")
    return path


def _read_h5(path, keys):
    _require(path, "file")
    out = {}
    with h5py.File(path, "r") as f:
        for key in keys:
            if key not in f:
                raise ValueError(f"{path} has no dataset {key!r}; expected {list(keys)}")
            out[key] = np.asarray(f[key])
    return out


def _read_urls(path):
    _require(path, "file")
    with open(path, "r", encoding="utf-8") as f:
        return np.asarray([line.strip() for line in f])


def load_coco_data(base_dir=BASE_DIR, max_train=None, pca_features=True):
    """Load captions, image features, vocabulary and image URLs.

    Inputs:
    - base_dir: directory holding the COCO captioning files.
    - max_train: if given, keep only this many training captions (with their
      image indices), chosen at random without replacement from NumPy's global
      random state (seed it with np.random.seed for a repeatable subset), and
      from distinct images while there are any left (see
      _subset_preferring_distinct_images). When max_train is at least the
      number of training captions, all are kept. (The canonical loader draws
      with replacement; no check depends on the exact draw.)
    - pca_features: True for the 512-d PCA-reduced VGG-16 fc7 features, False
      for the raw 4096-d fc7 features.

    Returns a dict with keys:
    - train_captions, val_captions: int32 (Nc, 17); <START> w1 ... <END> <NULL>...
    - train_image_idxs, val_image_idxs: int32 (Nc,); row of the split's
      features (and line of its URL file) that each caption describes
    - train_features, val_features: float32 (Ni, 512) or (Ni, 4096)
    - idx_to_word: list of str; word_to_idx: dict str -> int
    - train_urls, val_urls: numpy str arrays (Ni,)

    Raises FileNotFoundError (naming the path) when the directory or a file is missing.
    """
    base_dir = os.fspath(base_dir)
    _require(base_dir, "data directory")
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer))
                                  or max_train < 1):
        raise ValueError(f"load_coco_data: max_train must be None or a positive int; got {max_train!r}")

    data = _read_h5(os.path.join(base_dir, "coco2014_captions.h5"), _CAPTION_KEYS)

    suffix = "_pca" if pca_features else ""
    for split in SPLITS:
        path = os.path.join(base_dir, f"{split}2014_vgg16_fc7{suffix}.h5")
        data[f"{split}_features"] = _read_h5(path, ("features",))["features"]

    vocab_path = _require(os.path.join(base_dir, "coco2014_vocab.json"), "file")
    with open(vocab_path, "r", encoding="utf-8") as f:
        vocab = json.load(f)
    for key in ("idx_to_word", "word_to_idx"):
        if key not in vocab:
            raise ValueError(f"{vocab_path} has no key {key!r}; expected idx_to_word and word_to_idx")
        data[key] = vocab[key]

    for split in SPLITS:
        data[f"{split}_urls"] = _read_urls(os.path.join(base_dir, f"{split}2014_urls.txt"))

    if max_train is not None:
        num_train = data["train_captions"].shape[0]
        if max_train < num_train:
            keep = _subset_preferring_distinct_images(data["train_image_idxs"], max_train)
            data["train_captions"] = data["train_captions"][keep]
            data["train_image_idxs"] = data["train_image_idxs"][keep]
    return data


def _subset_preferring_distinct_images(image_idxs, size):
    """``size`` caption indices drawn at random, no image twice while any is left.

    With the real data (82,783 training images) a random handful of captions
    practically never holds two captions of one image; with a small sample it
    often would, and two different captions of one image cannot both be fitted
    (the overfitting exercises would then miss their targets). Drawing distinct
    images first keeps the sample in the same situation as the real data.
    Uses NumPy's global random state, like the rest of the canonical code.
    """
    order = np.random.permutation(len(image_idxs))
    _, first = np.unique(image_idxs[order], return_index=True)
    distinct = order[np.sort(first)]  # one random caption per image, in random order
    if size <= len(distinct):
        return distinct[:size]
    rest = np.setdiff1d(order, distinct, assume_unique=True)
    return np.concatenate([distinct, np.random.permutation(rest)[:size - len(distinct)]])


def decode_captions(captions, idx_to_word):
    """Turn word indices back into text.

    Inputs:
    - captions: int array (T,) for one caption or (N, T) for a batch.
    - idx_to_word: list (or dict) mapping index -> word.

    Returns a str for one caption, a list of N str for a batch. Words are
    joined by spaces; <NULL> is skipped and decoding stops after the first
    <END>. Like the canonical assignment, <START> and <END> are kept in the
    text: a ground-truth caption reads "<START> a dog on the beach <END>", a
    sampled one (which starts after <START>) "a dog on the beach <END>".
    """
    captions = np.asarray(captions)
    if captions.ndim not in (1, 2):
        raise ValueError(f"decode_captions: captions has shape {captions.shape}; expected (T,) or (N, T)")
    singleton = captions.ndim == 1
    if singleton:
        captions = captions[None]
    decoded = []
    for row in captions:
        words = []
        for idx in row:
            word = idx_to_word[int(idx)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def sample_coco_minibatch(data, batch_size=100, split="train"):
    """Draw batch_size captions of a split at random (with replacement, from
    NumPy's global random state), with their images' features and URLs.

    Returns (captions int32 (B, 17), features (B, D), urls str (B,)).
    """
    if split not in SPLITS:
        raise ValueError(f"sample_coco_minibatch: split must be 'train' or 'val'; got {split!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"sample_coco_minibatch: batch_size must be a positive int; got {batch_size!r}")
    split_size = data[f"{split}_captions"].shape[0]
    mask = np.random.choice(split_size, batch_size)
    captions = data[f"{split}_captions"][mask]
    image_idxs = data[f"{split}_image_idxs"][mask]
    features = data[f"{split}_features"][image_idxs]
    urls = data[f"{split}_urls"][image_idxs]
    return captions, features, urls
