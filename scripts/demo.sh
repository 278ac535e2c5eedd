#!/usr/bin/env bash
# The main job: set up (idempotent), build the student release, make three demo
# submissions (reference, untouched release, one known bug), grade them in the
# sandbox and print a table of scores per part.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m autograder demo "$@"
