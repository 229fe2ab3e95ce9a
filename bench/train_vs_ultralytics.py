"""Our trainer against Ultralytics on the same generated data, epochs, size and
batch, both scored by our evaluator (COCO mAP on the val split, predictions at
conf 0.001, NMS IoU 0.6).

Ultralytics needs torchvision, which needs its own torch: it runs through
another venv's python (``--peer-python``; make it with
``python -m venv V && V/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics``),
never in ours, with ``YOLO_OFFLINE=1``.

Sets: ``shapes`` (the issue's: 400 train / 100 val images at 160, up to 4
objects of 12-80 px) and ``small`` (more, smaller objects: up to 12 of 6-28 px).

    python bench/train_vs_ultralytics.py --peer-python /path/to/venv/bin/python [--epochs 30] [--sets shapes,small]

Prints one row per tool and set (mAP@0.5, mAP@.5:.95, wall seconds) and the
ratio ours / Ultralytics on mAP@.5:.95.  Without a peer, ours alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETS = {
    "shapes": dict(train=400, val=100, size=160, max_objects=4, object_size=None),
    "small": dict(train=400, val=100, size=160, max_objects=12, object_size=(6, 28)),
}

PEER = r"""
import json, os, sys, time
from pathlib import Path
os.environ.setdefault("YOLO_OFFLINE", "1")
from ultralytics import YOLO
data, out, epochs, imgsz, batch, val_list = sys.argv[1:7]
t0 = time.time()
model = YOLO("yolov3-tinyu.yaml")
model.train(data=data, epochs=int(epochs), imgsz=int(imgsz), batch=int(batch), pretrained=False, amp=False, device="cpu",
            project=out, name="run", exist_ok=True, plots=False, verbose=False)
secs = time.time() - t0
best = YOLO(str(Path(out) / "run" / "weights" / "best.pt"))
rows = []
paths = [l.strip() for l in open(val_list) if l.strip()]
for i in range(0, len(paths), 32):
    for r in best.predict(paths[i:i + 32], imgsz=int(imgsz), conf=0.001, iou=0.6, max_det=300, verbose=False, device="cpu"):
        b = r.boxes
        for (x1, y1, x2, y2), s, c in zip(b.xyxy.tolist(), b.conf.tolist(), b.cls.tolist()):
            rows.append({"image_id": 0, "file_name": Path(r.path).name, "category_id": int(c) + 1,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s})
json.dump(rows, open(Path(out) / "detections.json", "w"))
print(json.dumps({"seconds": secs}))
"""


def _run(cmd, **kw):
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr[-3000:]}")
    return p.stdout


def make_set(work: Path, name: str) -> Path:
    s = SETS[name]
    y = work / name / "yolo"
    if (y / "data.yaml").exists():
        return y
    exe = [sys.executable, "-m", "yolotools.cli"]
    src = work / name / "src"
    shp = [*exe, "shapes", src, "--train", s["train"], "--val", s["val"], "--size", s["size"], "--max-objects", s["max_objects"]]
    if s["object_size"]:
        shp += ["--object-size", ",".join(map(str, s["object_size"]))]
    _run(shp)
    for split in ("train", "val"):
        _run([*exe, "convert", "voc", src / "VOCdevkit" / "VOC2026", "--split", split, "--out", y, "-q"])
    _run([*exe, "convert", "yolo", y / "data.yaml", "--split", "val", "--to", "coco", "--out", work / name / "val_gt.json"])
    return y


def score(gt: Path, pred: Path) -> dict:
    out = _run([sys.executable, "-m", "yolotools.cli", "eval", "--gt", gt, "--pred", pred, "--json"])
    d = json.loads(out)
    return {"map50": d["AP50"], "map50_95": d["AP"]}


def ours(work: Path, name: str, y: Path, epochs: int, extra: list[str]) -> dict:
    exe = [sys.executable, "-m", "yolotools.cli"]
    run = work / name / "ours"
    t0 = time.perf_counter()
    _run([*exe, "train", "--data", y / "data.yaml", "--model", "yolov3-tiny", "--anchors", "auto", "--epochs", epochs, "--img-size",
          SETS[name]["size"], "--batch", 16, "--device", "cpu", "--out", run, "-q", *extra])
    secs = time.perf_counter() - t0
    _run([*exe, "detect", "--weights", run / "best.pt", y / "val.txt", "--out", work / name / "ours_det", "--conf", 0.001, "--iou", 0.6,
          "--img-size", SETS[name]["size"], "--no-draw"])
    return {"seconds": secs, **score(work / name / "val_gt.json", work / name / "ours_det" / "detections.json")}


def peer(work: Path, name: str, y: Path, epochs: int, python: str) -> dict:
    script = work / "peer_train.py"
    script.write_text(PEER)
    out = work / name / "ultralytics"
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(work / "ultralytics_config")}
    res = json.loads(_run([python, script, y / "data.yaml", out, epochs, SETS[name]["size"], 16, y / "val.txt"], env=env).strip().splitlines()[-1])
    return {"seconds": res["seconds"], **score(work / name / "val_gt.json", out / "detections.json")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-python", default=None, help="python of a venv with ultralytics (and its torch/torchvision)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--sets", default="shapes,small")
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--ours-args", default="", help="extra `yolotools train` flags (ablations), e.g. '--assign darknet'")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="yt_vs_ul_"))
    print(f"work folder {work}", flush=True)
    rows = []
    for name in a.sets.split(","):
        y = make_set(work, name)
        o = ours(work, name, y, a.epochs, a.ours_args.split())
        rows.append((name, "yolotools yolov3-tiny", o))
        print(f"{name:<8} yolotools     mAP50 {o['map50']:.3f}  mAP50-95 {o['map50_95']:.3f}  {o['seconds']:.0f} s", flush=True)
        if a.peer_python:
            p = peer(work, name, y, a.epochs, a.peer_python)
            rows.append((name, "ultralytics yolov3-tinyu", p))
            print(f"{name:<8} ultralytics   mAP50 {p['map50']:.3f}  mAP50-95 {p['map50_95']:.3f}  {p['seconds']:.0f} s", flush=True)
            print(f"{name:<8} ratio ours/ultralytics mAP50-95 {o['map50_95'] / max(p['map50_95'], 1e-9):.3f}", flush=True)
    print()
    print(f"| set | tool | mAP@0.5 | mAP@.5:.95 | wall s | (epochs {a.epochs}, batch 16, CPU) |")
    print("|---|---|---|---|---|---|")
    for name, tool, r in rows:
        print(f"| {name} | {tool} | {r['map50']:.3f} | {r['map50_95']:.3f} | {r['seconds']:.0f} | |")


if __name__ == "__main__":
    main()
