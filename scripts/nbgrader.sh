#!/usr/bin/env bash
# nbgrader from the project's environment, from any shell (no activated venv needed):
#     ../scripts/nbgrader.sh generate_assignment assignment3      (inside the course folder)
# nbgrader runs `alembic` (its database migrations) as a program found on PATH; with
# only .venv/bin/nbgrader called, a fresh shell has no alembic and nbgrader fails
# half-way. The venv's bin goes first on PATH here, so every program it starts is the venv's.
# (The course's nbgrader_config.py imports the project's autograder package, which
# setup installs into the venv. Nothing goes on PYTHONPATH: the kernels nbgrader
# starts would inherit it, and the project's cs231n would shadow the student's.)
set -euo pipefail
VENV_BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
export PATH="$VENV_BIN:$PATH"
exec "$VENV_BIN/python" -m nbgrader "$@"
