"""The data tools' process pool: as many processes as there are free cores."""

import subprocess

from yolotools import parallel
from yolotools.parallel import map_chunks, pool_size


def _square_all(chunk):
    return [x * x for x in chunk]


def test_pool_size_follows_input_size_and_free_cores(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "_others_running", lambda: 0)
    assert pool_size(100) == 1  # small inputs: no pool
    assert pool_size(10_000) == 2
    monkeypatch.setattr(parallel, "_others_running", lambda: 1)  # the other core is busy: one process, not two that fight
    assert pool_size(10_000) == 1
    assert pool_size(10_000, workers=3) == 3  # an explicit --workers wins
    monkeypatch.setattr(parallel, "usable_cores", lambda: 32)
    monkeypatch.setattr(parallel, "_others_running", lambda: 4)
    assert pool_size(10_000) == 8  # at most 8
    monkeypatch.setattr(parallel, "_others_running", lambda: 40)
    assert pool_size(10_000) == 1


def test_a_busy_process_is_seen_and_results_keep_their_order():
    hog = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        assert parallel._others_running() >= 1
    finally:
        hog.kill()
        hog.wait()
    items = list(range(5000))
    out = [y for chunk in map_chunks(_square_all, items, workers=2, chunk_size=700) for y in chunk]
    assert out == [x * x for x in items]


