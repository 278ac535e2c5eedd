#!/usr/bin/env bash
# The test command: set up (idempotent), lint, then run the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint first (a second or so; rules in pyproject.toml, [tool.ruff]): a lint
# error fails the run before the tests start.
.venv/bin/ruff check .
# One pytest worker more than there are cores: about a tenth of the suite's time a
# worker waits (time limits running out, pip, kernels starting), and the extra one fills
# those gaps (2026-12-04, 2 cores, the same hour: -n 2 492 s, -n 3 461 s; both cores 96%
# busy with three). CS231N_TEST_WORKERS=N sets another count. One BLAS/OpenMP thread per
# process (notebook kernels inherit it) keeps them from oversubscribing the CPU.
WORKERS=${CS231N_TEST_WORKERS:-$(( $(nproc) + 1 ))}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} \
       MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} \
       OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# --dist loadfile: each test file runs on one worker, so a batch graded in a
# module-scoped fixture (grader, hostile and fairness corpora, nbgrader) is
# graded once, not once per worker. (xdist_group marks would be finer, but
# pytest-xdist 3.8 does not apply them under pytest 9.) --no-loadscope-reorder: files
# go out in the order tests/conftest.py sorts them (slowest first), not by how many
# tests each holds (xdist's default put the one-test fairness corpus last, alone).
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile --no-loadscope-reorder "$@"
