#!/usr/bin/env bash
# The main job end to end on the embedded default dataset (set-up included).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/yolotools demo --out "${1:-demo_out}"
