#!/usr/bin/env bash
# Build the student environment in DIR (default .venv-student): the kit's
# release/requirements.txt (generated from pyproject.toml's student list), so
# no instructor tools (no nbgrader UI in JupyterLab), plus the start-up hook
# that lets `import torchvision` come first where its wheel does not match torch
# (cs231n/torchvision_compat.py). Students use the kit's environment.yml or
# requirements.txt directly; this command is how the project builds and tests
# the same environment.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.venv-student}
PYTHON=${PYTHON:-python3}
[ -x "$DIR/bin/python" ] || "$PYTHON" -m venv "$DIR"
"$DIR/bin/python" -m pip install -q --upgrade pip
# --no-compile: byte-compiling every module of torch and the rest at install time took
# 18 of this script's 36 s; Python compiles what a notebook imports, once, on first import.
"$DIR/bin/python" -m pip install -q --no-compile -r release/requirements.txt
DIR_ABS=$(cd "$DIR" && pwd)
(cd release && "$DIR_ABS/bin/python" -c \
    "from cs231n.torchvision_compat import install_startup_hook; print('student environment:', install_startup_hook())")
