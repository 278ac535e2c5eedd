#!/usr/bin/env bash
# Download the REAL datasets of the assignment (needs internet):
#   coco_captioning/       COCO 2014 captions + VGG-16 fc7 features (~1 GB unzipped)
#   imagenet_val_25.npz    25 ImageNet validation images for network visualization
#   cifar-10-batches-py/   CIFAR-10, python version (~170 MB), for self-supervised learning
#                          (only where the kit has the SimCLR part, cs231n/simclr/)
# MNIST is downloaded by torchvision itself when a notebook asks (download=True).
#
# Run from anywhere:  bash cs231n/datasets/get_datasets.sh
#
# Safe: real data already here is kept as is; generated sample data (marked by
# SAMPLE_DATA.txt / a SAMPLE_DATA entry; rebuild it any time with
# `python -m cs231n.datasets.build_sample_data`) is replaced only after the real
# download has arrived complete. When a download fails (e.g. offline), nothing
# here changes and the script exits with status 1.
set -euo pipefail
cd "$(dirname "$0")"

BASE_URL=${CS231N_DATA_URL:-http://cs231n.stanford.edu}
COCO_URL="$BASE_URL/coco_captioning.zip"
IMAGENET_URL="$BASE_URL/imagenet_val_25.npz"
CIFAR10_URL=${CS231N_CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz}

failures=""
work=""
cleanup() { if [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

say() { echo "get_datasets: $*"; }

fetch() {  # fetch URL OUTFILE; a progress bar on stderr (the COCO archive is about 1 GB)
    if command -v curl >/dev/null 2>&1; then
        curl -fL --progress-bar --show-error --connect-timeout 20 --retry 2 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --show-progress --progress=bar:force:noscroll --timeout=20 --tries=3 -O "$2" "$1"
    else
        say "neither curl nor wget is installed"
        return 1
    fi
}

offline_hint() {
    say "could not download $1 (no internet connection, or the server is unreachable)."
    say "Nothing was changed. To work offline, build the generated sample data instead:"
    say "    python -m cs231n.datasets.build_sample_data"
}

unpack_zip() {  # unpack_zip ZIPFILE DESTDIR
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "$1" -d "$2"
    else
        python3 -m zipfile -e "$1" "$2"
    fi
}

is_sample_archive() {  # true when the .npz holds a SAMPLE_DATA entry (generated data)
    python3 - "$1" <<'EOF'
import os, sys, zipfile
path = sys.argv[1]
ok = zipfile.is_zipfile(path) and any(
    os.path.splitext(os.path.basename(n))[0] == "SAMPLE_DATA" for n in zipfile.ZipFile(path).namelist())
sys.exit(0 if ok else 1)
EOF
}

work=$(mktemp -d "$PWD/.get_datasets.XXXXXX")

# --- COCO captioning -------------------------------------------------------
if [ -d coco_captioning ] && [ ! -f coco_captioning/SAMPLE_DATA.txt ] \
        && [ -n "$(ls -A coco_captioning)" ]; then
    say "coco_captioning/ already holds real data; kept as is"
else
    say "downloading $COCO_URL (about 1 GB) ..."
    if fetch "$COCO_URL" "$work/coco_captioning.zip"; then
        mkdir "$work/coco"
        found=""
        say "unpacking coco_captioning.zip ..."
        if unpack_zip "$work/coco_captioning.zip" "$work/coco"; then
            found=$(find "$work/coco" -name coco2014_captions.h5 | head -n 1)
        fi
        rm -f "$work/coco_captioning.zip"
        if [ -z "$found" ]; then
            say "the downloaded archive is broken or has no coco2014_captions.h5; nothing was changed"
            failures="$failures coco_captioning(bad-archive)"
        else
            if [ -d coco_captioning ]; then
                say "replacing the generated sample in coco_captioning/ with the real data"
                rm -rf coco_captioning
            fi
            mv "$(dirname "$found")" coco_captioning
            say "coco_captioning/ ready"
        fi
    else
        offline_hint "$COCO_URL"
        failures="$failures coco_captioning"
    fi
fi

# --- ImageNet validation images -------------------------------------------
if [ -f imagenet_val_25.npz ] && ! is_sample_archive imagenet_val_25.npz; then
    say "imagenet_val_25.npz already holds real data; kept as is"
else
    say "downloading $IMAGENET_URL ..."
    if fetch "$IMAGENET_URL" "$work/imagenet_val_25.npz"; then
        if python3 -c "import sys, zipfile; sys.exit(0 if zipfile.is_zipfile(sys.argv[1]) else 1)" \
                "$work/imagenet_val_25.npz"; then
            mv -f "$work/imagenet_val_25.npz" imagenet_val_25.npz
            say "imagenet_val_25.npz ready"
        else
            say "the downloaded imagenet_val_25.npz is not an .npz archive; nothing was changed"
            failures="$failures imagenet_val_25.npz(bad-file)"
        fi
    else
        offline_hint "$IMAGENET_URL"
        failures="$failures imagenet_val_25.npz"
    fi
fi

# --- CIFAR-10 (python pickle batches, read by torchvision.datasets.CIFAR10) ----
# Only for a kit with the SimCLR part (cs231n/simclr/; an offering may leave it out).
if [ ! -d ../simclr ]; then
    :
elif [ -d cifar-10-batches-py ] && [ ! -f cifar-10-batches-py/SAMPLE_DATA.txt ] \
        && [ -n "$(ls -A cifar-10-batches-py)" ]; then
    say "cifar-10-batches-py/ already holds real data; kept as is"
else
    say "downloading $CIFAR10_URL (about 170 MB) ..."
    if fetch "$CIFAR10_URL" "$work/cifar-10-python.tar.gz"; then
        mkdir "$work/cifar"
        if tar -xzf "$work/cifar-10-python.tar.gz" -C "$work/cifar" \
                && [ -f "$work/cifar/cifar-10-batches-py/test_batch" ]; then
            rm -f "$work/cifar-10-python.tar.gz"
            if [ -d cifar-10-batches-py ]; then
                say "replacing the generated sample in cifar-10-batches-py/ with the real data"
                rm -rf cifar-10-batches-py
            fi
            mv "$work/cifar/cifar-10-batches-py" cifar-10-batches-py
            say "cifar-10-batches-py/ ready"
        else
            say "the downloaded CIFAR-10 archive is broken; nothing was changed"
            failures="$failures cifar-10-batches-py(bad-archive)"
        fi
    else
        offline_hint "$CIFAR10_URL"
        failures="$failures cifar-10-batches-py"
    fi
fi

# --- MNIST -------------------------------------------------------------------
if [ -d MNIST_data ] && [ -n "$(find MNIST_data -name SAMPLE_DATA.txt | head -n 1)" ]; then
    say "note: MNIST_data/ holds generated sample digits; torchvision (download=True) uses"
    say "      them instead of downloading. Delete MNIST_data/ to get the real MNIST."
fi

if [ -n "$failures" ]; then
    say "FAILED:$failures"
    exit 1
fi
say "done"
