"""On a terminal, long commands show progress while they work (a pseudo-terminal
stands in for the user's), and -q silences it."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

EXE = [sys.executable, "-m", "yolotools.cli"]


def _under_pty(argv: list[str], timeout: float = 300) -> tuple[int, list[tuple[float, bytes]], float]:
    """Run ``argv`` with stdout/stderr on a pseudo-terminal: ``(exit code,
    [(seconds since start, bytes read)], seconds it ran)``."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a real terminal has a size (tqdm draws to it)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, close_fds=True,
                         env={**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1"})
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            if data:
                chunks.append((time.monotonic() - t0, data))
                continue
        if p.poll() is not None:
            break
        if time.monotonic() - t0 > timeout:
            p.kill()
            raise AssertionError("timed out")
    os.close(master)
    return p.wait(), chunks, time.monotonic() - t0


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A YOLO set of 8,000 small images (over the pool threshold; reading them takes long enough to see a bar:
    3,000 took 0.15 s after start-up) and its COCO export."""
    from PIL import Image

    root = tmp_path_factory.mktemp("big")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(buf, format="PNG")
    rng = np.random.default_rng(0)
    for i in range(8000):
        (root / "images" / f"{i:05d}.png").write_bytes(buf.getvalue())
        xy = rng.uniform(0.2, 0.8, (8, 2))
        wh = rng.uniform(0.05, 0.3, (8, 2))
        (root / "labels" / f"{i:05d}.txt").write_text("".join(f"{i % 3} {x:.4f} {y:.4f} {w:.4f} {h:.4f}\n" for (x, y), (w, h) in zip(xy, wh)))
    (root / "train.txt").write_text("".join(f"images/{i:05d}.png\n" for i in range(8000)))
    (root / "data.yaml").write_text("path: .\ntrain: train.txt\nval: train.txt\nnames: [a, b, c]\n")
    return root


@pytest.mark.parametrize("cmd", [["audit", "DATA"], ["kmeans", "DATA", "-k", "3"], ["convert", "yolo", "DATA", "--to", "coco", "--out", "OUT/x.json"],
                                 ["augment", "DATA", "--n", "400", "--img-size", "64", "--out", "OUT/aug"]])
def test_long_commands_show_progress_before_they_end(big, tmp_path, cmd):
    argv = [*EXE, *[c.replace("DATA", str(big / "data.yaml")).replace("OUT", str(tmp_path)) for c in cmd]]
    code, chunks, took = _under_pty(argv)
    assert code == 0, b"".join(c for _, c in chunks)[-2000:]
    text = b"".join(c for _, c in chunks).decode(errors="replace")
    bars = [t for t, c in chunks if b"%|" in c or b"it/s" in c or b"img/s" in c or b"xml/s" in c]
    assert bars, text[-2000:]  # a progress bar was drawn
    # and it came while the command was still working (well before its end, or in its first half)
    assert bars[0] < took - 0.2 or bars[0] < took / 2, (bars[0], took)
    code, chunks, _ = _under_pty([*argv, "-q"] if cmd[0] != "convert" else [*argv[:-2], "-q", *argv[-2:]])
    assert code == 0
    assert not any(b"%|" in c for _, c in chunks), "-q still drew a progress bar"
