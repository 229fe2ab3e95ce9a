#!/usr/bin/env bash
# Create .venv and install yolotools with its test tools. Idempotent: re-runs
# only reinstall when pyproject.toml, setup.py or the C kernel changed (or its
# build is missing). torch is installed first, pinned, so that nothing pulls a
# multi-GB CUDA build. The COCO evaluation kernel (yolotools/eval/_cocoeval.c)
# is required: the install needs a C compiler (gcc), and fails clearly without one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 python3; do command -v "$c" >/dev/null && { PY="$c"; break; }; done
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.yolotools-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] || [ yolotools/eval/_cocoeval.c -nt "$stamp" ] \
   || ! ls yolotools/eval/_cocoeval*.so >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi
