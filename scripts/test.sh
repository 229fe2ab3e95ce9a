#!/usr/bin/env bash
# The test suite (set-up included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# two test processes on two cores: one math thread each (torch/OpenMP would otherwise
# oversubscribe the cores and the training tests run several times slower)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/python -m pytest -q -n 2 "$@"
