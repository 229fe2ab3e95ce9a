#!/usr/bin/env bash
# Create .venv and install yolotools with its test tools. Idempotent: re-runs
# only reinstall when pyproject.toml changed. torch is installed first, pinned,
# so that nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 python3; do command -v "$c" >/dev/null && { PY="$c"; break; }; done
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.yolotools-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi
