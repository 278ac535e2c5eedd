"""SqueezeNet 1.1 for the network visualization notebook, and the input checks of
the functions in `cs231n/net_visualization_pytorch.py` (provided code).

`load_squeezenet` gives torchvision's SqueezeNet 1.1 in eval mode with frozen
parameters: with its pretrained ImageNet weights when they can be had, else a
seeded random stand-in that still classifies and can be fooled (no network is
ever required).
"""
import hashlib
import operator
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
import warnings

import torch
import torchvision

# Where torchvision keeps SqueezeNet 1.1's ImageNet weights (about 5 MB).
SQUEEZENET_WEIGHTS = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1


def load_squeezenet(pretrained=True, download=True, seed=0, verbose=False):
    """Torchvision's SqueezeNet 1.1, in eval mode, with frozen parameters.

    With pretrained=True the ImageNet weights are taken from the torch hub cache
    (`torch.hub.get_dir()/checkpoints/squeezenet1_1-b8a52dc0.pth`), or downloaded
    into it when `download` is True, the environment variable CS231N_OFFLINE is
    not set, and the server answers within a few seconds.
    When they cannot be had (no network, as in tests and in the autograder's
    sandbox), or with pretrained=False, the model is a randomly initialised
    SqueezeNet 1.1 from a fixed seed (see `_random_squeezenet`; the global random
    state is left alone). It classifies, gradients flow, and fooling it works
    much as with the real model (typically 5-20 steps at 224x224), but its
    saliency maps and class visualizations look like noise. A fallback from
    pretrained=True is reported with a RuntimeWarning that says so (and printed
    as well when verbose).

    Returns the model; `model.pretrained` says whether the ImageNet weights are in.
    """
    model = None
    reason = "pretrained=False was asked for"
    if pretrained:
        state_dict, reason = _squeezenet_state_dict(download)
        if state_dict is not None:
            model = torchvision.models.squeezenet1_1(weights=None)
            model.load_state_dict(state_dict)
            model.pretrained = True
    if model is None:
        if seed not in _RANDOM_SQUEEZENET_STATES:
            _RANDOM_SQUEEZENET_STATES[seed] = _random_squeezenet(seed).state_dict()
        with torch.random.fork_rng(devices=[]):  # its own random init is overwritten
            model = torchvision.models.squeezenet1_1(weights=None)
        model.load_state_dict(_RANDOM_SQUEEZENET_STATES[seed])
        model.pretrained = False
        if pretrained:
            message = ("load_squeezenet: the pretrained ImageNet weights are not available "
                       f"({reason}); using a randomly initialised SqueezeNet 1.1 (seed {seed}). "
                       "The weights are random: saliency maps and class visualizations will "
                       "look like noise.")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            if verbose:
                print(message)
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
    return model


_RANDOM_SQUEEZENET_STATES = {}  # seed -> state_dict: each is made once per process


def _random_squeezenet(seed):
    """SqueezeNet 1.1 with torchvision's random initialisation from `seed`, adjusted
    so that it behaves like a classifier for the notebook's experiments.

    A plain random network fails at fooling: its first-layer filters respond to
    smooth image content, and its post-ReLU features share a large positive mean,
    so one class wins for every image by a margin that 100 steps of gradient
    ascent cannot close. Three adjustments (no training, no data):
    - first-layer filters are made zero-mean (edge detectors: smooth regions give
      little response, as in trained networks);
    - each class's weights in the last layer lose their components along the mean
      features of a few reference inputs (smooth colour fields and white noise at
      64, 128 and 224 pixels), so no class wins merely because all features are
      positive;
    - the last layer's biases are 1, so every class score is positive and its
      gradient passes the final ReLU.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.squeezenet1_1(weights=None).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        first = model.features[0]
        first.weight -= first.weight.mean(dim=(2, 3), keepdim=True)
        means = []
        for size in (64, 128, 224):  # the mean features depend a little on the image size
            coarse = (torch.randn(4, 3, 6, 6, generator=generator)
                      + 0.7 * torch.randn(4, 3, 1, 1, generator=generator))
            smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                                     align_corners=False)
            noise = torch.randn(4, 3, size, size, generator=generator)
            means += [model.features(smooth).mean(dim=(0, 2, 3)),
                      model.features(noise).mean(dim=(0, 2, 3))]
        basis = torch.linalg.qr(torch.stack(means, dim=1))[0]                     # (512, 6)
        last = model.classifier[1]
        W = last.weight[:, :, 0, 0]                                               # (1000, 512)
        W -= (W @ basis) @ basis.T
        last.bias.fill_(1.0)
    return model


def _squeezenet_state_dict(download, timeout=5.0):
    """(state_dict, None) from the hub cache or a quick download, else (None, reason)."""
    url = SQUEEZENET_WEIGHTS.url
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    if not os.path.isfile(path):
        if not download:
            return None, f"{path} is missing and download=False"
        if os.environ.get("CS231N_OFFLINE"):
            return None, f"{path} is missing and CS231N_OFFLINE is set"
        error = _download_with_timeout(url, path, timeout)
        if error is not None:
            return None, f"{path} is missing and the download failed: {error}"
    try:
        return torch.load(path, map_location="cpu", weights_only=True), None
    except Exception as exc:  # a damaged cache file
        return None, f"{path} could not be read: {exc}"


def _download_with_timeout(url, path, timeout):
    """Download url to path; None on success, else a short reason.

    The connection is probed in a daemon thread so that not even a DNS lookup can
    make us wait longer than `timeout` seconds when there is no network.
    """
    host = urllib.parse.urlparse(url).hostname
    probe = {}

    def connect():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            probe["ok"] = True
        except OSError as exc:
            probe["error"] = exc

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not probe.get("ok"):
        return f"cannot reach {host} ({probe.get('error', 'timed out')})"
    expected_hash = os.path.basename(path).split("-")[-1].split(".")[0]
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, f)
        with open(tmp, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if not digest.startswith(expected_hash):
            return f"the downloaded file has sha256 {digest[:8]}..., expected {expected_hash}..."
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        return str(exc)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return None


###############################################################################
# Input checks of the functions in net_visualization_pytorch.py               #
###############################################################################
# They live here, not in the student's file, so that a student's file holds only
# what the canonical assignment's file holds; its functions import them locally.


def check_images(X, name, func, batch=None):
    """TypeError/ValueError unless X is a float tensor (N, 3, H, W) ((1, 3, H, W) with batch=1)."""
    expected = "(1, 3, H, W)" if batch == 1 else "(N, 3, H, W)"
    if not torch.is_tensor(X):
        raise TypeError(f"{func}: {name} must be a float torch.Tensor of shape {expected}; "
                        f"got {type(X).__name__}")
    if X.dim() != 4 or X.shape[1] != 3 or (batch is not None and X.shape[0] != batch):
        raise ValueError(f"{func}: {name} has shape {tuple(X.shape)}; expected {expected}")
    if not X.is_floating_point():
        raise TypeError(f"{func}: {name} has dtype {X.dtype}; expected a float tensor "
                        f"of shape {expected}")


def check_labels(y, N, func):
    """y (a tensor or array of N class indices) as a LongTensor, or TypeError/ValueError."""
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{func}: y has dtype {y.dtype}; expected integer class indices "
                        f"of shape (N,) = ({N},)")
    if tuple(y.shape) != (N,):
        raise ValueError(f"{func}: y has shape {tuple(y.shape)}; expected (N,) = ({N},)")
    if N and y.min() < 0:
        raise ValueError(f"{func}: y contains {int(y.min())}; class indices must be >= 0")
    return y.long()


def check_class_index(target_y, func):
    """target_y (an int, or a one-element integer tensor) as an int, or TypeError/ValueError."""
    if torch.is_tensor(target_y) and target_y.numel() == 1:
        target_y = target_y.item()
    try:
        target_y = operator.index(target_y)
    except TypeError:
        raise TypeError(f"{func}: target_y must be an int class index; "
                        f"got {type(target_y).__name__}") from None
    if target_y < 0:
        raise ValueError(f"{func}: target_y is {target_y}; class indices must be >= 0")
    return target_y
