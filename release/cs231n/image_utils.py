"""Small image helpers: fetching and loading images, SqueezeNet normalisation.

Images are numpy arrays of shape (H, W, 3), dtype uint8, RGB.
"""
import io
import os
import threading
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image

# Per-channel (R, G, B) mean and standard deviation of ImageNet pixels scaled to
# [0, 1]; the normalisation torchvision's pretrained SqueezeNet expects.
SQUEEZENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
SQUEEZENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

URL_TIMEOUT = 3.0  # seconds; image_from_url never waits much longer than this
_MAX_BYTES = 50 * 2**20


def _to_rgb_array(img):
    """PIL image -> uint8 (H, W, 3) RGB array (grey, palette, alpha are converted)."""
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def _decode(data):
    with Image.open(io.BytesIO(data)) as img:
        return _to_rgb_array(img)


def _local_path(url):
    """The filesystem path of a file:// URL or a plain path; None for other URLs."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return urllib.request.url2pathname(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\...
        return url
    return None


def image_from_url(url, timeout=URL_TIMEOUT):
    """Fetch an image and return it as uint8 (H, W, 3) RGB, or None when it
    cannot be had (no network, a bad URL, an HTTP error, a missing local file,
    data that is not an image). Never waits much more than `timeout` seconds:
    the download runs in a daemon thread, so even a hanging DNS lookup on a
    machine without network cannot stall a headless run.

    Accepts http(s):// URLs, file:// URLs and plain local paths.
    """
    url = str(url)
    path = _local_path(url)
    if path is not None:
        if not os.path.isfile(path):
            print(f"image_from_url: no such file: {path}")
            return None
        try:
            return load_image(path)
        except (OSError, ValueError) as e:
            print(f"image_from_url: cannot read {path}: {e}")
            return None

    result = {}

    def fetch():
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                result["data"] = response.read(_MAX_BYTES + 1)
        except urllib.error.HTTPError as e:
            result["error"] = f"HTTP Error {e.code}"
        except Exception as e:  # URLError, socket timeout, bad URL, ...
            result["error"] = f"{type(e).__name__}: {getattr(e, 'reason', e)}"

    worker = threading.Thread(target=fetch, name="image_from_url", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if worker.is_alive():
        print(f"image_from_url: timed out after {timeout}s: {url}")
        return None
    if "error" in result:
        print(f"image_from_url: {result['error']}: {url}")
        return None
    data = result.get("data", b"")
    if len(data) > _MAX_BYTES:
        print(f"image_from_url: image larger than {_MAX_BYTES} bytes: {url}")
        return None
    try:
        return _decode(data)
    except (OSError, ValueError) as e:
        print(f"image_from_url: not an image ({e}): {url}")
        return None


def load_image(filename, size=None):
    """Read an image file as uint8 (H, W, 3) RGB. With size, rescale it
    (bilinear) so that its shorter side is `size` pixels, keeping the aspect
    ratio. Raises FileNotFoundError for a missing file."""
    with Image.open(filename) as img:
        img = img.convert("RGB")
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"load_image: size must be None or a positive int; got {size!r}")
            w, h = img.size
            scale = float(size) / min(w, h)
            new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
            img = img.resize((new_w, new_h), Image.BILINEAR)
        return _to_rgb_array(img)


def preprocess_image(img):
    """uint8 (H, W, 3) image -> float32 (H, W, 3) normalised for SqueezeNet:
    scaled to [0, 1], then mean subtracted and divided by the std per channel."""
    return (np.asarray(img, dtype=np.float32) / 255.0 - SQUEEZENET_MEAN) / SQUEEZENET_STD


def deprocess_image(img, rescale=False):
    """Undo preprocess_image: float (H, W, 3) -> uint8 (H, W, 3). With rescale,
    stretch the values to the full [0, 255] range first (for visualising
    images that are not natural, e.g. gradients)."""
    img = np.asarray(img, dtype=np.float32) * SQUEEZENET_STD + SQUEEZENET_MEAN
    if rescale:
        lo, hi = img.min(), img.max()
        img = (img - lo) / max(hi - lo, 1e-12)
    return np.clip(np.round(255.0 * img), 0.0, 255.0).astype(np.uint8)
