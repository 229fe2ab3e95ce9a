"""Benchmark: peak memory (``/usr/bin/time -v``, maximum resident set size) of
``audit`` and ``kmeans`` as the dataset grows, to show it stays linear in the
boxes (the hostile-input issue: a quadratic duplicate check once asked for
84 GiB).  The peer is the bare YOLO read of the same dataset (the floor).

    python bench/memory.py [--sizes 12500,25000,50000] [--boxes-per-image 20]

Prints, per size, images / boxes / peak MiB of read, audit, kmeans and the
MiB per 1,000 boxes above the read, which should not grow with the size; the
largest size also runs one image with 300,000 identical lines.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit import make  # noqa: E402  (bench/audit.py: the same synthetic dataset)

READ = "import sys; from yolotools.io.yolo import read_yolo; ds, _ = read_yolo(sys.argv[1], 'train'); print(ds.num_boxes)"


def peak_mib(argv: list[str]) -> float:
    p = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(p.stderr[-2000:])
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return int(m.group(1)) / 1024 if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="12500,25000,50000")
    ap.add_argument("--boxes-per-image", type=int, default=20)
    a = ap.parse_args()
    exe = [sys.executable, "-m", "yolotools.cli"]
    print(f"{'images':>8} {'boxes':>9} {'read MiB':>9} {'audit MiB':>10} {'kmeans MiB':>11} {'audit MiB/1k boxes':>19}")
    for n in map(int, a.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            y = make(Path(tmp) / "d", n, a.boxes_per_image)
            boxes = int(subprocess.run([sys.executable, "-c", READ, y], capture_output=True, text=True).stdout)
            r = peak_mib([sys.executable, "-c", READ, str(y)])
            au = peak_mib([*exe, "audit", str(y), "--split", "train", "--json"])
            km = peak_mib([*exe, "kmeans", str(y), "--split", "train", "-k", "9", "--json"])
            print(f"{n:>8} {boxes:>9} {r:>9.0f} {au:>10.0f} {km:>11.0f} {(au - r) / boxes * 1000:>19.3f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        y = make(Path(tmp) / "d", 10, 1)
        (Path(tmp) / "d" / "labels" / "0000000.txt").write_text("0 0.5 0.5 0.2 0.2\n" * 300_000)
        print(f"one label file of 300,000 identical lines: audit peak {peak_mib([*exe, 'audit', str(y), '--json']):.0f} MiB")


if __name__ == "__main__":
    main()
