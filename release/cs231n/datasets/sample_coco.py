"""Generate a small, offline COCO captioning sample in the real on-disk layout.

The real data (``bash cs231n/datasets/get_datasets.sh``) is the CS231n release of
COCO 2014 captions with VGG-16 fc7 features. This module writes the same files,
with the same dataset names, dtypes and column counts, so ``load_coco_data`` and
everything built on it run unchanged in tests, CI and grading with no network:

    coco2014_captions.h5         train_captions (Nc, 17) int32, train_image_idxs (Nc,) int32,
                                 val_captions, val_image_idxs
    train2014_vgg16_fc7.h5       features (Ni, 4096) float32, nonnegative (like ReLU fc7)
    val2014_vgg16_fc7.h5
    train2014_vgg16_fc7_pca.h5   features (Ni, 512) float32
    val2014_vgg16_fc7_pca.h5
    coco2014_vocab.json          {"idx_to_word": [...], "word_to_idx": {...}}
    train2014_urls.txt           one URL per image: line i is image i
    val2014_urls.txt
    SAMPLE_DATA.txt              marker: generated sample data, with its seed

How the data is made, so that a trained model genuinely learns something:
each image is a latent *scene* drawn from a small grammar (object, colour,
count, action, place, plus a few continuous "nuisance" values such as lighting
that no caption mentions). Each of its 4-6 captions is written from the scene:
the content words (object, colour, count, action, place) are fixed by the
scene, the wording varies per caption (templates, synonyms, optional words),
and a rare adjective now and then becomes ``<UNK>`` as in the real data. The
features are a fixed random map of the scene (a sum of one embedding row per
factor, plus the nuisance values) plus Gaussian noise, so the captions are
predictable from the features but not trivially.

Deterministic: the same seed gives byte-identical arrays (all random draws come
from NumPy's PCG64 generator and only elementwise arithmetic is used, no BLAS).
The vocabulary depends only on the grammar, not on the seed.
"""
import json
import os
from pathlib import Path

import h5py
import numpy as np

DEFAULT_SEED = 231
FORMAT_VERSION = 2  # 2: stronger per-image noise in the PCA features
MARKER_NAME = "SAMPLE_DATA.txt"
DATASET_NAME = "coco"

NUM_TRAIN_IMAGES = 2000
NUM_VAL_IMAGES = 400
MAX_LENGTH = 17  # tokens per stored caption, <START> and <END> included
PCA_DIM = 512
FC7_DIM = 4096
NUISANCE_DIM = 8

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
NULL, START, END, UNK = 0, 1, 2, 3

FILES = (
    "coco2014_captions.h5",
    "coco2014_vocab.json",
    "train2014_vgg16_fc7.h5",
    "val2014_vgg16_fc7.h5",
    "train2014_vgg16_fc7_pca.h5",
    "val2014_vgg16_fc7_pca.h5",
    "train2014_urls.txt",
    "val2014_urls.txt",
    MARKER_NAME,
)

# ---------------------------------------------------------------------------
# The grammar. Every latent factor value is one row of the feature map.
# ---------------------------------------------------------------------------
PERSON_COLOURS = ("red", "blue", "green", "yellow", "white", "black", "orange")

# (singular, plural, kind, colours that object may have)
OBJECTS = (
    ("dog", "dogs", "animal", ("brown", "black", "white", "gray")),
    ("cat", "cats", "animal", ("black", "white", "gray", "orange")),
    ("horse", "horses", "animal", ("brown", "black", "white")),
    ("cow", "cows", "animal", ("brown", "black", "white")),
    ("sheep", "sheep", "animal", ("white", "black")),
    ("bird", "birds", "animal", ("red", "blue", "yellow", "black", "white")),
    ("bear", "bears", "animal", ("brown", "black", "white")),
    ("elephant", "elephants", "animal", ("gray", "brown")),
    ("man", "men", "person", PERSON_COLOURS),
    ("woman", "women", "person", PERSON_COLOURS),
    ("boy", "boys", "person", PERSON_COLOURS),
    ("girl", "girls", "person", PERSON_COLOURS),
    ("bus", "buses", "road_vehicle", ("red", "blue", "yellow", "white")),
    ("car", "cars", "road_vehicle", ("red", "blue", "black", "white", "gray")),
    ("truck", "trucks", "road_vehicle", ("red", "blue", "white", "green")),
    ("motorcycle", "motorcycles", "road_vehicle", ("red", "black", "blue")),
    ("train", "trains", "train", ("red", "blue", "green", "yellow")),
    ("boat", "boats", "boat", ("red", "blue", "white", "yellow")),
)
OBJECT_WORDS = tuple(o[0] for o in OBJECTS)
COLOURS = ("red", "blue", "green", "yellow", "white", "black", "brown", "gray", "orange")
COUNTS = (1, 2, 3)
COUNT_PROBS = (0.6, 0.25, 0.15)
COUNT_PHRASES = {1: ("a",), 2: ("two", "two", "a pair of"), 3: ("three", "three", "a group of")}

# action -> alternative (singular, plural) verb phrases
ACTIONS = {
    "standing": (("standing", "standing"),),
    "walking": (("walking", "walking"),),
    "running": (("running", "running"),),
    "lying": (("lying down", "lying down"), ("laying down", "laying down"), ("resting", "resting")),
    "eating": (("eating", "eating"), ("eating grass", "eating grass")),
    "sitting": (("sitting", "sitting"), ("sitting down", "sitting down")),
    "umbrella": (("holding an umbrella", "holding umbrellas"),
                 ("carrying an umbrella", "carrying umbrellas")),
    "bike": (("riding a bike", "riding bikes"), ("riding a bicycle", "riding bicycles")),
    "parked": (("parked", "parked"),),
    "driving": (("driving", "driving"), ("moving", "moving")),
    "stopped": (("stopped", "stopped"), ("sitting", "sitting")),
    "traveling": (("traveling", "traveling"), ("moving", "moving"), ("going", "going")),
    "floating": (("floating", "floating"), ("sailing", "sailing")),
    "docked": (("docked", "docked"), ("tied up", "tied up")),
}
ACTION_NAMES = tuple(ACTIONS)

# place -> alternative prepositional phrases (the place noun is the content word)
PLACES = {
    "field": ("in a field", "in the field", "in a grassy field"),
    "beach": ("on the beach", "on a beach", "on a sandy beach"),
    "snow": ("in the snow", "on the snow", "in the snow"),
    "road": ("on a road", "on the road", "along a road", "down a dirt road"),
    "water": ("near the water", "by the water", "next to the water"),
    "street": ("on a city street", "on the street", "on a busy street"),
    "park": ("in a park", "at the park", "in the park"),
    "lot": ("in a parking lot", "in the parking lot"),
    "station": ("at a station", "at the train station", "at the station"),
    "tracks": ("on the tracks", "on train tracks", "on the railroad tracks"),
    "lake": ("on a lake", "on the lake"),
    "harbor": ("in a harbor", "in the harbor"),
    "river": ("on a river", "on the river"),
    "ocean": ("on the ocean", "in the ocean"),
}
PLACE_NAMES = tuple(PLACES)

# kind -> (actions, places) that make sense for it
KINDS = {
    "animal": (("standing", "walking", "running", "lying", "eating"),
               ("field", "beach", "snow", "road", "water")),
    "person": (("standing", "walking", "running", "sitting", "umbrella", "bike"),
               ("beach", "snow", "street", "park", "field")),
    "road_vehicle": (("parked", "driving", "stopped"), ("street", "road", "snow", "lot")),
    "train": (("traveling", "stopped"), ("station", "tracks", "snow", "field")),
    "boat": (("floating", "docked"), ("lake", "harbor", "river", "ocean")),
}

PERSON_ATTIRE = (("in a {c} shirt", "in {c} shirts"), ("wearing a {c} shirt", "wearing {c} shirts"),
                 ("in a {c} jacket", "in {c} jackets"), ("wearing a {c} jacket", "wearing {c} jackets"))
SIZE_WORDS = ("small", "large", "big", "little")  # in the vocabulary, not predictable
PERSON_WORDS = ("young", "old")                   # in the vocabulary, not predictable
# Rare words: written into captions now and then but left out of the vocabulary,
# so they are stored as <UNK> like the real data's rare words.
RARE_WORDS = {"animal": ("fluffy", "shaggy", "majestic"),
              "person": ("elderly", "bearded", "barefoot"),
              "road_vehicle": ("shiny", "vintage", "rusty"),
              "train": ("vintage", "sleek"),
              "boat": ("wooden", "rusty")}
PREFIXES = ("a photo of", "a picture of", "an image of", "a close up of")
VOWELS = "aeiou"


def _grammar_words():
    """Every word the grammar can write (rare words excluded), sorted."""
    phrases = list(PREFIXES) + list(SIZE_WORDS) + list(PERSON_WORDS) + list(COLOURS)
    phrases += ["a an there is are"]
    for singular, plural, _, _ in OBJECTS:
        phrases += [singular, plural]
    for forms in ACTIONS.values():
        phrases += [p for pair in forms for p in pair]
    for forms in PLACES.values():
        phrases += list(forms)
    for forms in COUNT_PHRASES.values():
        phrases += list(forms)
    for pair in PERSON_ATTIRE:
        phrases += [p.format(c="red") for p in pair]
    words = {w for p in phrases for w in p.split()}
    return sorted(words)


def make_vocab():
    """Return (idx_to_word, word_to_idx): the 4 special tokens first, then the words."""
    idx_to_word = list(SPECIAL_TOKENS) + _grammar_words()
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    return idx_to_word, word_to_idx


# ---------------------------------------------------------------------------
# Scenes and captions
# ---------------------------------------------------------------------------
def sample_scenes(rng, num_images):
    """Draw num_images scenes. Returns a dict of int arrays of shape (num_images,):
    object, colour, count (index into COUNTS), action, place (indices into
    OBJECTS, COLOURS, COUNTS, ACTION_NAMES, PLACE_NAMES), and nuisance
    float32 (num_images, NUISANCE_DIM)."""
    obj = rng.integers(len(OBJECTS), size=num_images)
    count = rng.choice(len(COUNTS), size=num_images, p=COUNT_PROBS)
    u = rng.random((num_images, 3))  # uniform picks among the allowed values
    colour = np.empty(num_images, dtype=np.int64)
    action = np.empty(num_images, dtype=np.int64)
    place = np.empty(num_images, dtype=np.int64)
    for i in range(num_images):
        _, _, kind, colours = OBJECTS[obj[i]]
        actions, places = KINDS[kind]
        colour[i] = COLOURS.index(colours[int(u[i, 0] * len(colours))])
        action[i] = ACTION_NAMES.index(actions[int(u[i, 1] * len(actions))])
        place[i] = PLACE_NAMES.index(places[int(u[i, 2] * len(places))])
    nuisance = rng.standard_normal((num_images, NUISANCE_DIM), dtype=np.float32)
    return {"object": obj, "colour": colour, "count": count, "action": action,
            "place": place, "nuisance": nuisance}


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def write_caption(rng, obj, colour, count, action, place):
    """One caption (a list of words, <UNK>-able rare words included) for a scene."""
    singular, plural, kind, _ = OBJECTS[obj]
    n = COUNTS[count]
    plural_form = n > 1
    colour_word = COLOURS[colour]
    noun = plural if plural_form else singular

    extra = []  # optional words in front of the colour (or of a person's noun)
    if rng.random() < 0.05:
        extra.append(_pick(rng, RARE_WORDS[kind]))
    elif rng.random() < 0.08:
        extra.append(_pick(rng, PERSON_WORDS if kind == "person" else SIZE_WORDS))

    if kind == "person":
        attire = _pick(rng, PERSON_ATTIRE)[1 if plural_form else 0].format(c=colour_word)
        noun_phrase = extra + [noun] + attire.split()
    else:
        noun_phrase = extra + [colour_word, noun]
    noun_phrase = _pick(rng, COUNT_PHRASES[n]).split() + noun_phrase

    verb_phrase = _pick(rng, ACTIONS[ACTION_NAMES[action]])[1 if plural_form else 0].split()
    place_phrase = _pick(rng, PLACES[PLACE_NAMES[place]]).split()
    be = "are" if plural_form else "is"

    r = rng.random()
    if r < 0.45:
        words = noun_phrase + verb_phrase + place_phrase
    elif r < 0.65:
        words = noun_phrase + [be] + verb_phrase + place_phrase
    elif r < 0.75:
        words = ["there", be] + noun_phrase + verb_phrase + place_phrase
    elif r < 0.90:
        words = _pick(rng, PREFIXES).split() + noun_phrase + verb_phrase + place_phrase
    else:  # the action left unsaid, as people sometimes do
        words = noun_phrase + place_phrase

    # English articles: "a" before a vowel sound becomes "an" (and back).
    for i in range(len(words) - 1):
        if words[i] in ("a", "an"):
            words[i] = "an" if words[i + 1][0] in VOWELS else "a"
    return words


def encode_caption(words, word_to_idx):
    """Words -> int32 array (MAX_LENGTH,): <START> w1 .. wk <END> <NULL> ...
    Words outside the vocabulary must be rare words; they become <UNK>."""
    if len(words) > MAX_LENGTH - 2:
        raise ValueError(f"caption of {len(words)} words is longer than {MAX_LENGTH - 2}")
    rare = {w for ws in RARE_WORDS.values() for w in ws}
    out = np.full(MAX_LENGTH, NULL, dtype=np.int32)
    out[0] = START
    for t, w in enumerate(words):
        if w in word_to_idx:
            out[t + 1] = word_to_idx[w]
        elif w in rare:
            out[t + 1] = UNK
        else:  # a grammar word missing from the vocabulary is a bug here
            raise KeyError(f"word {w!r} is not in the sample vocabulary")
    out[len(words) + 1] = END
    return out


def make_captions(rng, scenes, word_to_idx):
    """Write 4-6 captions per image (at most 15 words each; a longer one is
    written again). Returns captions int32 (Nc, 17) and image_idxs int32 (Nc,),
    in a shuffled order."""
    num_images = len(scenes["object"])
    per_image = rng.choice([4, 5, 6], size=num_images, p=[0.15, 0.7, 0.15])
    scene = np.stack([scenes[k] for k in ("object", "colour", "count", "action", "place")], axis=1)
    captions, image_idxs = [], []
    for i in range(num_images):
        for _ in range(per_image[i]):
            words = write_caption(rng, *scene[i])
            while len(words) > MAX_LENGTH - 2:  # too long to store: write another one
                words = write_caption(rng, *scene[i])
            captions.append(encode_caption(words, word_to_idx))
            image_idxs.append(i)
    order = rng.permutation(len(captions))
    captions = np.stack(captions)[order]
    image_idxs = np.asarray(image_idxs, dtype=np.int32)[order]
    return captions, image_idxs


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------
FACTORS = (("object", len(OBJECTS), 1.0), ("colour", len(COLOURS), 0.8),
           ("count", len(COUNTS), 0.6), ("action", len(ACTIONS), 0.7),
           ("place", len(PLACES), 0.8))


def make_feature_map(rng, dim, decay=True):
    """A fixed random map from scenes to `dim` features: one embedding table per
    factor (rows scaled by the factor's weight), a nuisance matrix, and a
    per-column scale that decays like a PCA spectrum (decay=True) or is flat."""
    if decay:
        scale = (1.0 / np.sqrt(1.0 + np.arange(dim, dtype=np.float32) / 16.0)).astype(np.float32)
    else:
        scale = np.ones(dim, dtype=np.float32)
    tables = {}
    for name, n, weight in FACTORS:
        tables[name] = rng.standard_normal((n, dim), dtype=np.float32) * np.float32(weight)
    nuisance = rng.standard_normal((NUISANCE_DIM, dim), dtype=np.float32) * np.float32(0.35)
    return {"tables": tables, "nuisance": nuisance, "scale": scale}


def render_features(rng, scenes, fmap, noise_std, relu_bias=None, gain=1.0):
    """Features float32 (N, dim) = (sum of factor rows + nuisance + noise) * scale;
    with relu_bias, max(0, gain * (... - relu_bias)) like ReLU fc7 outputs.
    Only elementwise operations, so results do not depend on the BLAS."""
    n = len(scenes["object"])
    dim = fmap["scale"].shape[0]
    x = np.zeros((n, dim), dtype=np.float32)
    for name, _, _ in FACTORS:
        x += fmap["tables"][name][scenes[name]]
    for k in range(NUISANCE_DIM):
        x += scenes["nuisance"][:, k:k + 1] * fmap["nuisance"][k]
    x += rng.standard_normal((n, dim), dtype=np.float32) * np.float32(noise_std)
    x *= fmap["scale"]
    if relu_bias is not None:
        x = np.maximum(np.float32(gain) * (x - np.float32(relu_bias)), np.float32(0))
    return x.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------
def make_urls(rng, num_train, num_val):
    """Real-looking COCO image URLs with made-up, distinct ids; returns
    (train_urls, val_urls). The ids are >= 600000, above every real COCO 2014
    id, so a fetch fails cleanly instead of showing an unrelated real photo
    next to a generated caption."""
    ids = rng.choice(np.arange(600000, 1000000), size=num_train + num_val, replace=False)
    fmt = "http://images.cocodataset.org/{s}2014/COCO_{s}2014_{i:012d}.jpg"
    train = [fmt.format(s="train", i=int(i)) for i in ids[:num_train]]
    val = [fmt.format(s="val", i=int(i)) for i in ids[num_train:]]
    return train, val


def _write_h5(path, arrays, compress=False):
    kwargs = {"compression": "gzip", "compression_opts": 1, "shuffle": True} if compress else {}
    with h5py.File(path, "w", track_order=True) as f:
        for name, arr in arrays.items():
            f.create_dataset(name, data=arr, track_times=False, **kwargs)


def build_coco_sample(out_dir, seed=DEFAULT_SEED, num_train_images=NUM_TRAIN_IMAGES,
                      num_val_images=NUM_VAL_IMAGES):
    """Write the sample COCO captioning files into out_dir (created if needed;
    files already there with the same names are overwritten). Returns out_dir
    as a Path. Same seed => identical arrays and files."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"build_coco_sample: seed must be a nonnegative int; got {seed!r}")
    for name, n in (("num_train_images", num_train_images), ("num_val_images", num_val_images)):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"build_coco_sample: {name} must be a positive int; got {n!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    # Independent streams, so changing one part (e.g. the val size) leaves the others.
    s_map, s_train, s_val, s_words, s_urls = (np.random.default_rng(s) for s in
                                              np.random.SeedSequence(int(seed)).spawn(5))
    idx_to_word, word_to_idx = make_vocab()
    pca_map = make_feature_map(s_map, PCA_DIM)
    fc7_map = make_feature_map(s_map, FC7_DIM, decay=False)

    splits = {}
    for split, rng, n in (("train", s_train, num_train_images), ("val", s_val, num_val_images)):
        scenes = sample_scenes(rng, n)
        captions, image_idxs = make_captions(s_words, scenes, word_to_idx)
        # Per-image noise is also each image's identity: strong enough that 50 captions
        # can be memorised as with real features (canonical overfit bars), weak enough
        # that the scene stays predictable on unseen images (tests/test_coco_data.py).
        pca = render_features(rng, scenes, pca_map, noise_std=3.0)
        fc7 = render_features(rng, scenes, fc7_map, noise_std=1.5, relu_bias=2.5, gain=1.5)
        splits[split] = (captions, image_idxs, pca, fc7)

    _write_h5(out_dir / "coco2014_captions.h5", {
        "train_captions": splits["train"][0], "train_image_idxs": splits["train"][1],
        "val_captions": splits["val"][0], "val_image_idxs": splits["val"][1]})
    train_urls, val_urls = make_urls(s_urls, num_train_images, num_val_images)
    for split, urls in (("train", train_urls), ("val", val_urls)):
        _, _, pca, fc7 = splits[split]
        _write_h5(out_dir / f"{split}2014_vgg16_fc7_pca.h5", {"features": pca})
        _write_h5(out_dir / f"{split}2014_vgg16_fc7.h5", {"features": fc7}, compress=True)
        with open(out_dir / f"{split}2014_urls.txt", "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(urls) + "\n")
    with open(out_dir / "coco2014_vocab.json", "w", encoding="utf-8") as f:
        json.dump({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}, f)

    # The marker goes last: a directory with a marker is a complete build.
    write_marker(out_dir, seed, {
        "train_images": num_train_images, "val_images": num_val_images,
        "train_captions": len(splits["train"][0]), "val_captions": len(splits["val"][0]),
        "vocab_size": len(idx_to_word)})
    return out_dir


def write_marker(out_dir, seed, details=None):
    """Write SAMPLE_DATA.txt: 'key: value' lines that cs231n.datasets.build_sample_data
    reads (dataset, seed, format_version), then a note for people."""
    lines = [f"dataset: {DATASET_NAME}", f"seed: {int(seed)}", f"format_version: {FORMAT_VERSION}",
             "generator: cs231n.datasets.sample_coco"]
    lines += [f"{k}: {v}" for k, v in (details or {}).items()]
    lines += ["",
              "This directory holds GENERATED SAMPLE DATA, not the real COCO captioning",
              "dataset: synthetic captions from a small grammar, synthetic features that",
              "predict them, and image URLs that do not resolve. It has the real files'",
              "layout so that the code runs offline. Rebuild it with",
              "    python -m cs231n.datasets.build_sample_data --only coco --force",
              "and get the real data with",
              "    bash cs231n/datasets/get_datasets.sh",
              ""]
    path = Path(out_dir) / MARKER_NAME
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))
    return path


if __name__ == "__main__":  # pragma: no cover - convenience for a quick look
    import sys
    import time

    t0 = time.perf_counter()
    target = build_coco_sample(sys.argv[1] if len(sys.argv) > 1 else "coco_sample")
    size = sum(os.path.getsize(p) for p in target.iterdir())
    print(f"wrote {target} ({size / 2**20:.1f} MiB) in {time.perf_counter() - t0:.2f}s")
