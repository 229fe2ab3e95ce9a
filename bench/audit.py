"""Benchmark: auditing a synthetic YOLO dataset of 100,000 images / 1,000,000
boxes (tiny PNG images, headers read, never decoded); goal under 30 s.  The
peer is the bare read of the same dataset by our YOLO reader (the floor).

    python bench/audit.py [--images 100000] [--boxes-per-image 10]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np


def make(root: Path, n: int, per: int, seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (640, 480)).save(buf, format="PNG")
    png = buf.getvalue()
    lines = []
    for i in range(n):
        (root / "images" / f"{i:07d}.png").write_bytes(png)
        k = rng.poisson(per)
        c = rng.integers(0, 80, k)
        xy = rng.uniform(0.1, 0.9, (k, 2))
        wh = rng.uniform(0.01, 0.2, (k, 2))
        (root / "labels" / f"{i:07d}.txt").write_text("".join(f"{a} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for a, (x, y), (w, h) in zip(c, xy, wh)))
    (root / "train.txt").write_text("".join(f"./images/{i:07d}.png\n" for i in range(n)))
    (root / "data.yaml").write_text("path: .\ntrain: train.txt\nval: train.txt\nnames: [" + ", ".join(f"c{i}" for i in range(80)) + "]\n")
    return root / "data.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--boxes-per-image", type=int, default=10)
    args = ap.parse_args()
    from yolotools.audit import validate
    from yolotools.io.yolo import read_yolo

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        y = make(Path(tmp), args.images, args.boxes_per_image)
        print(f"made {args.images:,} images in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        ds, _ = read_yolo(y, "train")
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        rep, _ = validate(y, split="train")
        t_audit = time.perf_counter() - t
        print(f"{len(ds):,} images, {ds.num_boxes:,} boxes, {len(rep.findings):,} findings")
        print(f"  read only (floor)   {t_read:6.1f} s")
        print(f"  audit (validate)    {t_audit:6.1f} s   ratio audit/read = {t_audit / t_read:.2f}   goal < 30 s")


if __name__ == "__main__":
    main()
