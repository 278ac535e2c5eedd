#!/usr/bin/env bash
# Set up everything on a fresh machine: system packages (bubblewrap for the
# grader's sandbox), a virtual environment in .venv with the pinned packages,
# and the offline sample data. Idempotent: a second run only rebuilds what is
# missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing bubblewrap (the grader's sandbox)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "setup: warning: bubblewrap (bwrap) is missing and cannot be installed here;" \
             "sandboxed grading will refuse to run" >&2
    fi
fi

# PostgreSQL: the tests grade into a real PostgreSQL gradebook (a server they
# start on loopback and stop). Debian keeps its programs in /usr/lib/postgresql/*/bin.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing PostgreSQL (for the gradebook tests)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "setup: note: PostgreSQL is missing; its gradebook test will be skipped" >&2
    fi
fi

# The stamp follows pyproject.toml and this checkout's folder: the package is installed
# editable, so a venv set up from another folder (a moved or second checkout) imports from there.
stamp="$VENV/.installed-$( (cat pyproject.toml; pwd -P) | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: creating $VENV and installing pinned packages"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch first and exact: an unpinned resolver run would pick a CUDA build.
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q -e ".[instructor,dev,cluster]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi

# import torchvision in any order, also where its wheel does not match torch
# (cs231n/torchvision_compat.py); cheap, and keeps the start-up copy current.
"$VENV/bin/python" -c "from cs231n.torchvision_compat import install_startup_hook; install_startup_hook()"
"$VENV/bin/python" -m cs231n.datasets.build_sample_data
