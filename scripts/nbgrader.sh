#!/usr/bin/env bash
# nbgrader from the project's environment, from any shell (no activated venv needed):
#     ../scripts/nbgrader.sh generate_assignment assignment3      (inside the course folder)
# nbgrader runs `alembic` (its database migrations) as a program found on PATH; with
# only .venv/bin/nbgrader called, a fresh shell has no alembic and nbgrader fails
# half-way. The venv's bin goes first on PATH here, so every program it starts is the venv's.
set -euo pipefail
VENV_BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
export PATH="$VENV_BIN:$PATH"
exec "$VENV_BIN/python" -m nbgrader "$@"
