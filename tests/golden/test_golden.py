"""Every reader's and writer's output on the golden cases (tests/golden/cases.py)
equals what was recorded in ``golden.json`` when the readers had two to four
paths each (stop 25's tree): the one path left gives the same datasets,
problems (kinds, files, lines, order), errors and bytes.

Re-record (only when a change of output is intended, and say so in the commit):
``YOLOTOOLS_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/golden``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .cases import CASES
from .dump import set_tmp

GOLDEN = Path(__file__).with_name("golden.json")
WRITE = os.environ.get("YOLOTOOLS_WRITE_GOLDEN") == "1"
_recorded = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
_new: dict = {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, tmp_path):
    set_tmp(tmp_path)
    got = json.loads(json.dumps(CASES[name](tmp_path)))
    if WRITE:
        _new[name] = got
        return
    if got == "skip":
        pytest.skip("../shared/data not here")
    assert name in _recorded, f"{name}: no golden answer recorded"
    want = _recorded[name]
    if isinstance(want, dict) and isinstance(got, dict) and "problems" in want and "problems" in got:
        assert got["problems"] == want["problems"]
    assert got == want


def teardown_module(module):
    if WRITE and _new:
        merged = {**_recorded, **_new}
        GOLDEN.write_text(json.dumps(dict(sorted(merged.items())), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
