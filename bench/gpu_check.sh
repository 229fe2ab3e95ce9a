#!/usr/bin/env bash
# The one GPU check (fits in ~8 minutes on one GPU): prints one table to paste into
# bench/RESULTS.md with the GPU and the date. Extra arguments go to bench/gpu_check.py;
# without a GPU: bench/gpu_check.sh --device cpu --img-size 64 --batch 8 --images 16 --steps 2
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec timeout 480 "$PY" bench/gpu_check.py "$@"
