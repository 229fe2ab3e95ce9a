"""Benchmark: the training data path, samples/s per process, ours against
Ultralytics' ``YOLODataset`` on the same images in the same run.

For each recipe (``ultralytics``: mosaic + affine + HSV + flip; ``letterbox``;
``darknet``), size (416, 608) and image cache (off; ``--cache ram``: resized
images memory-mapped from /dev/shm, one copy for all processes; ``--cache
disk``: the same files on disk, in a temporary folder): ours is ``YoloDataset`` in this process, one
thread (OpenCV and torch single-threaded, as one loader worker), after one
warm-up pass when a cache is on (the peer fills its RAM cache up front too; its
disk cache writes next to the images, into the shared data, so it is not run). The peer runs through
another venv's python (``--peer-python``: Ultralytics needs torchvision, which
needs its own torch; make it with ``python -m venv V && V/bin/pip install
torch==2.14.1 torchvision==0.29.1 ultralytics``), ``YOLODataset(augment=True)``
for the mosaic recipe and ``augment=False`` (its letterbox) for ``letterbox``;
Darknet's recipe has no Ultralytics counterpart. ``--workers N`` also times our
DataLoader with N spawned workers (samples/s in all, and per worker).

    python bench/loader.py [--data ../shared/data/coco128_yolo_lightly/object_detection/config.yaml | --generate 2000 [--image-hw 480,640]]
        [--sizes 416,608] [--recipes ultralytics,letterbox,darknet] [--n 256] [--peer-python V/bin/python] [--workers 2]

Prints one row per case: ours, the peer and the ratio ours / peer (> 1: we are faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "coco128_yolo_lightly" / "object_detection" / "config.yaml"

PEER = r"""
import json, os, sys, time
os.environ.setdefault("YOLO_OFFLINE", "1")
import cv2, torch
cv2.setNumThreads(0)
torch.set_num_threads(1)
from ultralytics.cfg import get_cfg
from ultralytics.data.dataset import YOLODataset
from ultralytics.utils import DEFAULT_CFG, LOGGER
LOGGER.disabled = True
img_dir, names, cases, n = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
out = {}
for recipe, size, cache in cases:
    hyp = get_cfg(DEFAULT_CFG)
    ds = YOLODataset(img_path=img_dir, imgsz=size, cache="ram" if cache else False, augment=recipe == "ultralytics", hyp=hyp,
                     data={"names": names, "nc": len(names), "channels": 3}, prefix="")
    for i in range(min(8, len(ds))):
        ds[i]
    t = time.perf_counter()
    for k in range(n):
        ds[k % len(ds)]
    out[f"{recipe}/{size}/{int(cache)}"] = n / (time.perf_counter() - t)
print(json.dumps(out))
"""


def ours(ds, recipe: str, size: int, cache: str, n: int, tmp: str) -> float:
    from yolotools.train.data import YoloDataset

    d = YoloDataset(ds, recipe=recipe, img_size=size, uint8=True, cache=cache,
                    cache_dir=None if cache == "off" else os.path.join("/dev/shm" if cache == "ram" else tmp, f"bench-{os.getpid()}-{cache}"))
    for i in range(min(8, len(d))):
        d[(0, i)]
    if cache != "off":  # the warm-up pass: every cached image mapped and read once, as the peer's RAM cache is filled up front
        for i in range(len(d)):
            int(np.asarray(d._load(i).image).sum())
    t = time.perf_counter()
    for k in range(n):
        d[(1 + k // len(d), k % len(d))]
    return n / (time.perf_counter() - t)


def ours_workers(ds, recipe: str, size: int, workers: int, n: int) -> float:
    from yolotools.train.data import EpochSampler, YoloDataset, make_loader

    d = YoloDataset(ds, recipe=recipe, img_size=size, uint8=True)
    sampler = EpochSampler(len(d))
    loader = make_loader(d, batch_size=16, workers=workers, sampler=sampler)
    it = iter(loader)
    next(it)  # workers started and warm
    got, t = 0, time.perf_counter()
    epoch = 0
    while got < n:
        for x, _ in it:
            got += len(x)
            if got >= n:
                break
        epoch += 1
        sampler.set(epoch, list(range(len(d))))
        it = iter(loader)
    rate = got / (time.perf_counter() - t)
    del it, loader  # the persistent workers end here, not at interpreter exit
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="train")
    ap.add_argument("--sizes", default="416,608")
    ap.add_argument("--recipes", default="ultralytics,letterbox,darknet")
    ap.add_argument("--n", type=int, default=256, help="samples timed per case")
    ap.add_argument("--peer-python", default=None)
    ap.add_argument("--workers", type=int, default=0, help="also time a DataLoader with this many workers")
    ap.add_argument("--generate", type=int, default=0, metavar="N",
                    help="instead of --data: a generated shapes set of N JPEG images (converted to YOLO, images linked)")
    ap.add_argument("--image-hw", default="480,640", help="--generate: image height,width (e.g. 1536,2048 for phone-sized photos)")
    args = ap.parse_args()
    tmp_data = None
    if args.generate:
        import tempfile

        from yolotools.convert import convert_voc
        from yolotools.synth import generate_shapes

        tmp_data = tempfile.TemporaryDirectory()
        hw = tuple(int(v) for v in args.image_hw.split(","))
        sh = generate_shapes(Path(tmp_data.name) / "shapes", n_train=args.generate, n_val=1, image_hw=hw, max_objects=6)
        for png in sorted(sh.images_dir.glob("*.png")):  # JPEG, as photos are (the generator writes PNG)
            import cv2

            cv2.imwrite(str(png.with_suffix(".jpg")), cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, 90])
            png.unlink()
        convert_voc([sh.voc_root], Path(tmp_data.name) / "yolo", split="train", images="link")
        args.data, args.split = Path(tmp_data.name) / "yolo" / "data.yaml", "train"

    import cv2
    import torch

    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    from yolotools.io import load_dataset
    from yolotools.io.yolo.data_yaml import dataset_root, image_list, load_data_yaml

    ds, _ = load_dataset(args.data, split=args.split)
    sizes = [int(s) for s in args.sizes.split(",")]
    recipes = args.recipes.split(",")
    cases = [(r, s, c) for r in recipes for s in sizes for c in ("off", "ram", "disk")]
    peer: dict[str, float] = {}
    if args.peer_python:
        y = load_data_yaml(args.data)
        imgs = image_list(y[args.split], dataset_root(y, args.data), args.data)
        img_dir = os.path.dirname(imgs[0])
        names = dict(enumerate(ds.class_map.names))
        peer_cases = [(r, s, c == "ram") for r, s, c in cases if r != "darknet" and c != "disk"]
        p = subprocess.run([args.peer_python, "-c", PEER, img_dir, json.dumps(names), json.dumps(peer_cases), str(args.n)],
                           capture_output=True, text=True, env={**os.environ, "YOLO_OFFLINE": "1"})
        if p.returncode != 0:
            sys.exit(f"peer failed: {p.stderr[-3000:]}")
        peer = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"{args.data} ({args.split}): {len(ds)} images, {args.n} samples per case, one process, one thread")
    print(f"{'recipe':<12} {'size':>4} {'cache':>5}  {'ours/s':>8}  {'peer/s':>8}  ratio")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for r, s, c in cases:
            o = ours(ds, r, s, c, args.n, tmp)
            if c == "ram":
                shutil.rmtree(f"/dev/shm/bench-{os.getpid()}-ram", ignore_errors=True)
            q = peer.get(f"{r}/{s}/{int(c == 'ram')}") if c != "disk" else None
            ratio = f"{o / q:5.2f}" if q else "    -"
            print(f"{r:<12} {s:>4} {c:>5}  {o:8.1f}  {q if q else float('nan'):8.1f}  {ratio}", flush=True)
    if args.workers:
        for r in recipes:
            for s in sizes:
                tot = ours_workers(ds, r, s, args.workers, args.n)
                print(f"{r:<12} {s:>4}   off  {args.workers} workers: {tot:.1f} samples/s in all, {tot / args.workers:.1f} per worker", flush=True)


if __name__ == "__main__":
    main()
