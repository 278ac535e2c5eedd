"""Loaders for the small image datasets of the network visualization part."""
import os

import numpy as np

IMAGENET_VAL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "datasets", "imagenet_val_25.npz")


def load_imagenet_val(num=None, path=None):
    """Load a few ImageNet validation images (the `imagenet_val_25.npz` file).

    Inputs:
    - num: how many images to return (the first num); None for all 25.
    - path: the .npz file; default `cs231n/datasets/imagenet_val_25.npz`.

    Returns a tuple of:
    - X: uint8 array of shape (num, 224, 224, 3), RGB images.
    - y: int array of shape (num,), ImageNet class indices in [0, 1000).
    - class_names: dict mapping each class index (int) to its name (str).

    The file holds arrays `X`, `y` and `label_map`, a 0-d object array wrapping the
    dict of class names (so it is read with allow_pickle=True; only open files you
    trust). The real file comes from `cs231n/datasets/get_datasets.sh`; an offline
    stand-in from `python -m cs231n.datasets.build_sample_data`.
    """
    path = IMAGENET_VAL_PATH if path is None else os.fspath(path)
    if num is not None and (isinstance(num, bool) or not isinstance(num, (int, np.integer))
                            or num < 0):
        raise ValueError(f"load_imagenet_val: num is {num!r}; expected None or an int >= 0")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"load_imagenet_val: {path} not found. Download it with "
            f"`bash cs231n/datasets/get_datasets.sh` (needs internet), or build the offline "
            f"sample with `python -m cs231n.datasets.build_sample_data`.")
    with np.load(path, allow_pickle=True) as f:
        X = f["X"]
        y = f["y"]
        class_names = f["label_map"].item()
    if num is not None:
        X = X[:num]
        y = y[:num]
    return X, y, class_names
