"""Offline stand-in for `imagenet_val_25.npz` (25 ImageNet validation images).

The real file (from `get_datasets.sh`) holds 25 photos; this one holds 25 smooth
procedural pictures, drawn with numpy from a seed: landscapes (sky, sea, hills,
mountains, a volcano, a field of flowers) and round or simple objects on a soft
background (fruit, balls, a balloon, a traffic light, an umbrella, a daisy). Each
is labelled with the ImageNet class it depicts, so titles in the notebooks read
sensibly; a pretrained network will not necessarily agree with the label.

Format, as the real file: arrays `X` uint8 (25, 224, 224, 3) RGB, `y` int64 (25,)
ImageNet class indices, and `label_map`, a 0-d object array holding a dict
{class index (int): class name (str)} for all 1000 classes (read it with
`np.load(path, allow_pickle=True)["label_map"].item()`). The class names are
torchvision's ImageNet category names, which ship inside torchvision (no
download); should torchvision be unavailable they fall back to "class <i>".

The archive also holds an entry `SAMPLE_DATA` (a 0-d string array of "key: value"
lines: dataset, seed, format_version, then a note) that marks it as generated:
`cs231n.datasets.build_sample_data` rebuilds such a file when the seed or format
changes and never overwrites a file without it (the real data). The .npz is
written with fixed zip timestamps, so the same seed gives byte-identical files.
"""
import io
import os
import zipfile

import numpy as np

from cs231n.datasets.sample_marker import parse_marker
from scipy import ndimage

FILE_NAME = "imagenet_val_25.npz"
DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), FILE_NAME)
DATASET_NAME = "imagenet"
DEFAULT_SEED = 231
FORMAT_VERSION = 1
MARKER_ENTRY = "SAMPLE_DATA"
SIZE = 224


def build_imagenet(path=None, seed=DEFAULT_SEED):
    """Write the sample `imagenet_val_25.npz` to `path` and return the path.

    path defaults to `cs231n/datasets/imagenet_val_25.npz` (where
    `cs231n.data_utils.load_imagenet_val` reads it).
    """
    path = DEFAULT_PATH if path is None else os.fspath(path)
    rng = np.random.default_rng(seed)
    class_names = imagenet_class_names()
    index_of = {name: idx for idx, name in class_names.items()}
    images, labels = [], []
    for name, painter, options in SCENES:
        img = painter(rng, **options)
        images.append(_to_uint8(img, rng))
        labels.append(index_of.get(name, _FALLBACK_INDEX[name]))
    X = np.stack(images)
    y = np.array(labels, dtype=np.int64)
    label_map = np.empty((), dtype=object)
    label_map[()] = class_names
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    marker = np.array(_marker_text(seed))
    _save_npz(path, X=X, y=y, label_map=label_map, **{MARKER_ENTRY: marker})
    return path


def ensure(datasets_dir, seed=DEFAULT_SEED, force=False):
    """The sample-data registry's entry point: make `<datasets_dir>/imagenet_val_25.npz`
    the sample for `seed` unless it already is, or unless it is the real file
    (no SAMPLE_DATA entry), which is never touched. Returns a one-line status."""
    import time

    from cs231n.datasets.build_sample_data import is_generated_sample

    target = os.path.join(os.fspath(datasets_dir), FILE_NAME)
    if os.path.exists(target) and not os.path.isfile(target):
        return f"{DATASET_NAME}: skipped: {target} exists and is not a file (left untouched)"
    if os.path.isfile(target):
        if not is_generated_sample(target):
            return (f"{DATASET_NAME}: skipped: {target} holds real data (no {MARKER_ENTRY} "
                    f"entry); never overwritten")
        marker = read_marker(target)
        if (not force and marker.get("dataset") == DATASET_NAME
                and marker.get("seed") == str(seed)
                and marker.get("format_version") == str(FORMAT_VERSION)):
            return f"{DATASET_NAME}: up to date in {target} (seed {seed})"
    t0 = time.perf_counter()
    tmp = os.path.join(os.path.dirname(target), f".{FILE_NAME}.building-{os.getpid()}.npz")
    try:
        build_imagenet(tmp, seed)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    size = os.path.getsize(target)
    return (f"{DATASET_NAME}: built {target} (seed {seed}, {size / 2**20:.1f} MiB, "
            f"{time.perf_counter() - t0:.1f}s)")


def read_marker(path):
    """The 'key: value' header of a sample .npz's SAMPLE_DATA entry ({} if absent)."""
    with np.load(path, allow_pickle=False) as f:
        if MARKER_ENTRY not in f.files:
            return {}
        text = str(f[MARKER_ENTRY])
    return parse_marker(text)


def _marker_text(seed):
    return "\n".join([
        f"dataset: {DATASET_NAME}", f"seed: {int(seed)}", f"format_version: {FORMAT_VERSION}",
        "generator: cs231n.datasets.sample_imagenet", "",
        "GENERATED SAMPLE DATA, not the real ImageNet images: 25 procedural pictures",
        "labelled with the ImageNet class they depict. Rebuild with",
        "    python -m cs231n.datasets.build_sample_data --only imagenet --force",
        "and get the real file with",
        "    bash cs231n/datasets/get_datasets.sh", ""])


def imagenet_class_names():
    """{index: name} for the 1000 ImageNet classes (torchvision's names)."""
    try:
        import cs231n  # noqa: F401  (makes torchvision importable on every machine)
        import torchvision

        names = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1.meta["categories"]
    except Exception:
        names = [f"class {i}" for i in range(1000)]
    return {i: str(name) for i, name in enumerate(names)}


def _save_npz(path, **arrays):
    """np.savez, but with fixed timestamps in the zip so the bytes are reproducible."""
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=True)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())
    os.replace(tmp, path)


###############################################################################
# Drawing helpers: images are float arrays (SIZE, SIZE, 3) with values in [0, 1]
###############################################################################

_yy, _xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1.0)   # row / column coordinates in [0, 1]


def _to_uint8(img, rng):
    # A touch of smooth grain and a slight blur, like a photo's texture and optics.
    img = img + 0.025 * (_smooth_noise(rng, 56) - 0.5)[..., None]
    img = ndimage.gaussian_filter(img, sigma=(0.7, 0.7, 0))
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def _smooth_noise(rng, cells):
    """Smooth random field in [0, 1] of shape (SIZE, SIZE), with about `cells` bumps per side."""
    coarse = rng.random((cells + 3, cells + 3))
    field = ndimage.zoom(coarse, SIZE / cells, order=3)
    offset = (field.shape[0] - SIZE) // 2
    field = field[offset:offset + SIZE, offset:offset + SIZE]
    return np.clip((field - field.min()) / (np.ptp(field) + 1e-12), 0, 1)


def _color(c):
    return np.asarray(c, dtype=np.float64) / 255.0


def _vertical_gradient(top, bottom):
    t = _yy[..., None]
    return (1 - t) * _color(top) + t * _color(bottom)


def _paint(img, mask, color):
    """Blend `color` (RGB 0-255, or an image) into img where the soft mask (H, W) is on."""
    color = _color(color) if np.ndim(color) == 1 else color
    m = np.clip(mask, 0, 1)[..., None]
    return img * (1 - m) + color * m


def _soft(signed_distance, edge=0.006):
    """Soft mask from a signed distance (negative inside), anti-aliased over `edge`."""
    return np.clip(0.5 - signed_distance / edge, 0, 1)


def _ellipse(cx, cy, rx, ry, angle=0.0):
    c, s = np.cos(angle), np.sin(angle)
    u = ((_xx - cx) * c + (_yy - cy) * s) / rx
    v = (-(_xx - cx) * s + (_yy - cy) * c) / ry
    return _soft((np.sqrt(u * u + v * v) - 1) * min(rx, ry))


def _shaded_sphere(img, cx, cy, r, color, light=(-0.45, -0.5), gloss=0.35):
    """A lit ball: Lambert shading plus a specular highlight, with a soft shadow."""
    shadow = _ellipse(cx + 0.25 * r, cy + 0.95 * r, 1.0 * r, 0.25 * r)
    img = img * (1 - 0.35 * ndimage.gaussian_filter(shadow, 6)[..., None])
    dx, dy = (_xx - cx) / r, (_yy - cy) / r
    dz = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))
    lx, ly = light
    lz = np.sqrt(max(1 - lx * lx - ly * ly, 0))
    lambert = np.clip(dx * lx + dy * ly + dz * lz, 0, 1)
    spec = np.clip(dx * lx + dy * ly + dz * lz, 0, 1) ** 30
    shade = (0.25 + 0.75 * lambert)[..., None] * _color(color) + gloss * spec[..., None]
    return _paint(img, _ellipse(cx, cy, r, r), shade)


def _background(rng, c1, c2):
    """Soft two-colour background (a blurred table top or wall)."""
    t = 0.6 * _yy + 0.4 * _smooth_noise(rng, 4)
    return (1 - t[..., None]) * _color(c1) + t[..., None] * _color(c2)


def _sky(rng, horizon, top=(70, 130, 200), bottom=(185, 215, 240)):
    img = _vertical_gradient(top, bottom)
    clouds = np.clip(_smooth_noise(rng, 6) * 1.6 - 0.8, 0, 1) * (_yy < horizon)
    return _paint(img, 0.8 * clouds, (250, 250, 252))


def _ridge(rng, base, amplitude, roughness):
    """Height profile of a hill or mountain line: y coordinate per column."""
    x = _xx[0]
    profile = np.zeros_like(x)
    for k in range(1, 6):
        profile += rng.uniform(-1, 1) * np.sin(2 * np.pi * (k * x + rng.random())) / k ** roughness
    return base - amplitude * profile / np.abs(profile).max()


###############################################################################
# Scenes (one painter per kind of picture)
###############################################################################


def _landscape(rng, kind):
    horizon = rng.uniform(0.45, 0.6)
    img = _sky(rng, horizon)
    texture = _smooth_noise(rng, 12)[..., None]
    if kind in ("seashore", "sandbar", "lakeside"):
        sea = _vertical_gradient((40, 95, 150), (70, 140, 180))
        img = _paint(img, _soft(horizon - _yy), sea)
        if kind == "lakeside":
            hills = _ridge(rng, horizon, 0.12, 1.0)
            img = _paint(img, _soft(hills[None, :] - _yy) * (_yy < horizon + 0.01),
                         _color((60, 105, 60)) + 0.2 * (texture - 0.5))
            shore = _ridge(rng, horizon + 0.3, 0.05, 1.5)
            img = _paint(img, _soft(shore[None, :] - _yy), _color((70, 120, 50)) + 0.15 * texture)
        else:
            beach = _ridge(rng, horizon + (0.25 if kind == "seashore" else 0.15), 0.04, 1.5)
            sand = _color((215, 195, 150)) + 0.12 * (texture - 0.5)
            img = _paint(img, _soft(beach[None, :] - _yy), sand)
            waves = 0.5 + 0.5 * np.sin(90 * _yy + 6 * _smooth_noise(rng, 8))
            foam = (np.abs(_yy - beach[None, :]) < 0.015) * waves
            img = _paint(img, 0.7 * foam, (240, 245, 245))
    elif kind in ("alp", "volcano", "cliff"):
        if kind == "volcano":
            x = _xx[0]
            cone = horizon - 0.3 * np.clip(1 - np.abs(x - 0.5) / 0.4, 0, 1) ** 0.8
            cone = np.maximum(cone, horizon - 0.24)
            lava_rock = _color((95, 80, 70)) + 0.2 * (texture - 0.5)
            img = _paint(img, _soft(cone[None, :] - _yy), lava_rock)
            smoke = ndimage.gaussian_filter(_ellipse(0.5, horizon - 0.42, 0.12, 0.1), 12)
            img = _paint(img, 0.9 * smoke, (130, 125, 120))
        else:
            peaks = _ridge(rng, horizon - 0.15, 0.2, 0.6)
            rock = _color((110, 105, 110) if kind == "alp" else (150, 110, 80))
            rock = rock + 0.25 * (texture - 0.5)
            img = _paint(img, _soft(peaks[None, :] - _yy), rock)
            if kind == "alp":
                snow = _soft(peaks[None, :] - _yy) * (_yy < peaks[None, :] + 0.08)
                img = _paint(img, snow, (245, 245, 250))
        ground = _ridge(rng, horizon + 0.15, 0.04, 1.2)
        grass = _color((75, 110, 55)) + 0.2 * (texture - 0.5)
        img = _paint(img, _soft(ground[None, :] - _yy), grass)
    else:  # valley, rapeseed: rolling fields
        field = (225, 200, 40) if kind == "rapeseed" else (90, 150, 60)
        for depth in range(3):
            line = _ridge(rng, horizon + 0.15 * depth, 0.08 / (depth + 1), 1.0)
            shade = 0.75 + 0.12 * depth
            img = _paint(img, _soft(line[None, :] - _yy),
                         shade * _color(field) + 0.15 * (texture - 0.5))
    return img


def _fruit_or_ball(rng, kind):
    backgrounds = {
        "golf ball": ((60, 140, 60), (40, 110, 40)),
        "tennis ball": ((170, 90, 60), (130, 70, 50)),
        "ping-pong ball": ((30, 70, 140), (20, 50, 110)),
        "soccer ball": ((80, 160, 70), (50, 120, 50)),
        "bubble": ((70, 110, 160), (25, 45, 90)),
    }
    img = _background(rng, *backgrounds.get(kind, ((225, 220, 210), (170, 160, 150))))
    cx, cy = rng.uniform(0.4, 0.6), rng.uniform(0.42, 0.58)
    r = rng.uniform(0.22, 0.3)
    colors = {"orange": (240, 140, 20), "lemon": (245, 220, 60), "golf ball": (240, 240, 235),
              "tennis ball": (205, 225, 60), "ping-pong ball": (250, 150, 40),
              "soccer ball": (240, 240, 240), "pomegranate": (170, 30, 40),
              "Granny Smith": (140, 200, 70), "bubble": (200, 220, 240)}
    if kind == "bubble":
        ring = _ellipse(cx, cy, r, r) - _ellipse(cx, cy, 0.93 * r, 0.93 * r)
        img = _paint(img, 0.6 * np.clip(ring, 0, 1), (220, 200, 240))
        img = _paint(img, 0.12 * _ellipse(cx, cy, r, r), (230, 240, 255))
        return _paint(img, 0.9 * _ellipse(cx - 0.4 * r, cy - 0.4 * r, 0.15 * r, 0.1 * r, 0.6),
                      (255, 255, 255))
    img = _shaded_sphere(img, cx, cy, r, colors[kind], gloss=0.5 if kind != "tennis ball" else 0.1)
    inside = _ellipse(cx, cy, 0.98 * r, 0.98 * r)
    if kind == "golf ball":
        dimples = (np.sin(110 * _xx) * np.sin(110 * _yy) > 0.6) * inside
        img = _paint(img, 0.15 * dimples, (150, 150, 150))
    elif kind == "tennis ball":
        seam = np.abs(np.hypot(_xx - cx - 1.1 * r, _yy - cy) - 0.85 * r) < 0.012
        img = _paint(img, seam * inside, (245, 245, 235))
    elif kind == "soccer ball":
        for angle in np.linspace(0, 2 * np.pi, 6)[:-1] + rng.uniform(0, 1):
            px, py = cx + 0.62 * r * np.cos(angle), cy + 0.62 * r * np.sin(angle)
            img = _paint(img, _ellipse(px, py, 0.18 * r, 0.18 * r) * inside, (30, 30, 30))
        img = _paint(img, _ellipse(cx, cy, 0.2 * r, 0.2 * r), (30, 30, 30))
    elif kind in ("orange", "lemon", "Granny Smith", "pomegranate"):
        stem = _ellipse(cx + 0.05 * r, cy - 0.97 * r, 0.06 * r, 0.1 * r)
        img = _paint(img, stem, (80, 60, 30) if kind != "orange" else (70, 110, 40))
        if kind == "pomegranate":
            img = _paint(img, _ellipse(cx, cy - 1.0 * r, 0.15 * r, 0.08 * r), (120, 25, 30))
    return img


def _balloon(rng):
    img = _sky(rng, 1.0, top=(60, 120, 210), bottom=(160, 200, 240))
    cx, cy = rng.uniform(0.4, 0.6), rng.uniform(0.3, 0.4)
    string = (np.abs(_xx - cx - 0.02 * np.sin(30 * _yy)) < 0.003) * (_yy > cy + 0.2)
    img = _paint(img, string, (240, 240, 240))
    img = _paint(img, _ellipse(cx, cy + 0.205, 0.02, 0.015), (180, 20, 30))
    return _shaded_sphere(img, cx, cy, 0.18, (210, 25, 35), gloss=0.6)


def _traffic_light(rng):
    img = _sky(rng, 1.0, top=(90, 140, 200), bottom=(200, 220, 235))
    cx = rng.uniform(0.45, 0.55)
    img = _paint(img, _soft(np.abs(_xx - cx) - 0.02) * (_yy > 0.7), (60, 60, 60))
    housing = _soft(np.maximum(np.abs(_xx - cx) - 0.11, np.abs(_yy - 0.42) - 0.3))
    img = _paint(img, housing, (35, 35, 38))
    lit = rng.integers(3)
    for i, color in enumerate([(230, 40, 30), (240, 190, 30), (40, 210, 80)]):
        dim = 1.0 if i == lit else 0.3
        img = _paint(img, _ellipse(cx, 0.22 + 0.2 * i, 0.075, 0.075), dim * np.array(color))
    return img


def _umbrella(rng):
    img = _background(rng, (170, 180, 190), (120, 125, 135))
    cx, cy, r = 0.5, rng.uniform(0.42, 0.48), 0.36
    canopy = _ellipse(cx, cy, r, 0.8 * r) * (_yy < cy)
    stripes = (np.floor(8 * (np.arctan2(_yy - cy, _xx - cx) / np.pi + 1)) % 2)[..., None]
    fabric = stripes * _color((200, 30, 40)) + (1 - stripes) * _color((245, 245, 240))
    img = _paint(img, canopy, fabric * (0.7 + 0.3 * (1 - _yy[..., None])))
    shaft = _soft(np.abs(_xx - cx) - 0.008) * (_yy >= cy - 0.01) * (_yy < 0.85)
    img = _paint(img, shaft, (50, 40, 30))
    hook = np.abs(np.hypot(_xx - cx + 0.04, _yy - 0.85) - 0.04) < 0.008
    return _paint(img, hook * (_yy > 0.85), (50, 40, 30))


def _daisy(rng):
    img = _background(rng, (70, 130, 60), (40, 90, 40))
    cx, cy = rng.uniform(0.42, 0.58), rng.uniform(0.42, 0.58)
    for angle in np.linspace(0, np.pi, 13)[:-1]:
        petal = _ellipse(cx, cy, 0.32, 0.05, angle)
        img = _paint(img, petal, (250, 250, 245))
    return _shaded_sphere(img, cx, cy, 0.08, (240, 190, 30), gloss=0.1)


# Indices of the classes below in the standard ImageNet ordering, used when
# torchvision's names are unavailable.
_FALLBACK_INDEX = {
    "seashore": 978, "sandbar": 977, "lakeside": 975, "alp": 970, "volcano": 980,
    "cliff": 972, "valley": 979, "rapeseed": 984, "orange": 950, "lemon": 951,
    "Granny Smith": 948, "pomegranate": 957, "golf ball": 574, "tennis ball": 852,
    "ping-pong ball": 722, "soccer ball": 805, "bubble": 971, "balloon": 417,
    "traffic light": 920, "umbrella": 879, "daisy": 985,
}

# (class name, painter, painter options), in the order of the file.
SCENES = [
    ("seashore", _landscape, {"kind": "seashore"}),
    ("orange", _fruit_or_ball, {"kind": "orange"}),
    ("alp", _landscape, {"kind": "alp"}),
    ("golf ball", _fruit_or_ball, {"kind": "golf ball"}),
    ("balloon", _balloon, {}),
    ("volcano", _landscape, {"kind": "volcano"}),
    ("lemon", _fruit_or_ball, {"kind": "lemon"}),
    ("traffic light", _traffic_light, {}),
    ("lakeside", _landscape, {"kind": "lakeside"}),
    ("tennis ball", _fruit_or_ball, {"kind": "tennis ball"}),
    ("daisy", _daisy, {}),
    ("valley", _landscape, {"kind": "valley"}),
    ("soccer ball", _fruit_or_ball, {"kind": "soccer ball"}),
    ("umbrella", _umbrella, {}),
    ("sandbar", _landscape, {"kind": "sandbar"}),
    ("Granny Smith", _fruit_or_ball, {"kind": "Granny Smith"}),
    ("cliff", _landscape, {"kind": "cliff"}),
    ("ping-pong ball", _fruit_or_ball, {"kind": "ping-pong ball"}),
    ("rapeseed", _landscape, {"kind": "rapeseed"}),
    ("pomegranate", _fruit_or_ball, {"kind": "pomegranate"}),
    ("bubble", _fruit_or_ball, {"kind": "bubble"}),
    ("seashore", _landscape, {"kind": "seashore"}),
    ("orange", _fruit_or_ball, {"kind": "orange"}),
    ("alp", _landscape, {"kind": "alp"}),
    ("daisy", _daisy, {}),
]


if __name__ == "__main__":
    print(build_imagenet())
