#!/usr/bin/env bash
# The main job: set up (idempotent), then train the reference captioning models
# on the sample data and print losses and decoded captions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo_captioning.py "$@"
