"""Benchmark: augmentation throughput on COCO128 (images/s on one core, decode
included, every image decoded every time) for each recipe at 416 and 608, and
the trainer's loader time per batch of 64 at 416 (three epochs after a first one
that starts the workers).  The peer is the bare decode + letterbox of the same images
(the floor any recipe pays).

    python bench/augment.py [--coco128 ../shared/data/coco128_yolo_lightly/object_detection]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coco128", type=Path, default=REPO.parent / "shared/data/coco128_yolo_lightly/object_detection")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    import cv2
    import torch

    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    from yolotools.augment import RECIPES, AugmentConfig, Augmenter, load_sample, sample_rng
    from yolotools.io.yolo import read_yolo
    from yolotools.train.data import YoloDataset, make_loader

    ds, _ = read_yolo(args.coco128 / "config.yaml", "train")
    recs = [r for r in ds.records if r.path.exists()]
    print(f"COCO128: {len(recs)} images; one core (OpenCV and torch single-threaded)")
    t = time.perf_counter()
    for i in range(args.n):
        load_sample(recs[i % len(recs)])
    t_decode = (time.perf_counter() - t) / args.n
    print(f"  decode only                        {1 / t_decode:7.1f} images/s")
    for size in (416, 608):
        for recipe in RECIPES:
            aug = Augmenter(recipe, AugmentConfig(img_size=size))
            t = time.perf_counter()
            for i in range(args.n):
                rng = sample_rng(0, 0, i)
                aug(load_sample(recs[i % len(recs)]), rng, lambda g: load_sample(recs[int(g.integers(len(recs)))]))
            dt = (time.perf_counter() - t) / args.n
            print(f"  {recipe:<12} @ {size}                 {1 / dt:7.1f} images/s   ratio to decode-only = {t_decode / dt:.2f}")
    for workers in (0, 2):
        d = YoloDataset(ds, recipe="ultralytics", img_size=416)
        loader = make_loader(d, batch_size=64, workers=workers)
        for x, y in loader:  # one epoch first: spawned workers start (torch imported) and fill their buffers
            pass
        t = time.perf_counter()
        nb = 0
        for epoch in range(1, 4):
            d.set_epoch(epoch)  # persistent workers keep the dataset they were given: same samples, warm
            for x, y in loader:
                nb += 1
        dt = (time.perf_counter() - t) / nb
        print(f"  loader ultralytics@416, batch 64, {workers} workers: {dt:6.2f} s/batch ({64 / dt:6.1f} images/s)")


if __name__ == "__main__":
    main()
