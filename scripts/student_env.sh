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
"$DIR/bin/python" -m pip install -q -r release/requirements.txt
DIR_ABS=$(cd "$DIR" && pwd)
(cd release && "$DIR_ABS/bin/python" -c \
    "from cs231n.torchvision_compat import install_startup_hook; print('student environment:', install_startup_hook())")
