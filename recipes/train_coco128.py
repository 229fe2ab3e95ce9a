"""Train on the real COCO128 set (128 COCO train2017 images, 80 classes) and
report the mAP curve; validation is on the same 128 images, as in Ultralytics'
coco128.yaml (this is a "does it learn real data" check, not a benchmark).

    python recipes/train_coco128.py                                   # CPU: yolov3-tiny, 320, 10 epochs
    python recipes/train_coco128.py --model yolov3 --img-size 416 --epochs 300 --batch 64 --device cuda --workers 8
    python recipes/train_coco128.py --weights yolov3-tiny.weights      # from Darknet COCO weights: mAP should start high

Writes OUT/data.yaml (pointing at ../shared/data, nothing is copied), the usual
run files (results.csv, results.png, last.pt, best.pt) and prints the curve.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco128_yolo_lightly" / "object_detection"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=DEFAULT, help="folder with images/train2017, labels/train2017 and config.yaml")
    ap.add_argument("--model", default="yolov3-tiny")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--img-size", type=int, default=320)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=2)
    ap.add_argument("--out", default="runs/coco128")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()

    import yaml

    from yolotools.io.files import atomic_write_text
    from yolotools.train.run import run_train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = yaml.safe_load((a.root / "config.yaml").read_text())["names"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.yaml"
    atomic_write_text(data, yaml.safe_dump({"path": str(a.root.resolve()), "train": "images/train2017", "val": "images/train2017",
                                            "nc": len(names), "names": names}, sort_keys=False))
    rep = run_train(data, model=a.model, weights=a.weights, out=str(out / "run"), resume=a.resume, progress=sys.stderr.isatty(),
                    epochs=a.epochs, img_size=a.img_size, batch=a.batch, device=a.device, workers=a.workers, eval_every=a.eval_every,
                    nominal_batch=64, recipe="ultralytics")
    import csv

    print(f"\n{'epoch':>5} {'box':>7} {'obj':>8} {'cls':>7} {'mAP50':>7} {'mAP50-95':>9} {'img/s':>7}")
    with open(out / "run" / "results.csv") as f:
        for r in csv.DictReader(f):
            print(f"{int(r['epoch']) + 1:5d} {float(r['box']):7.3f} {float(r['obj']):8.2f} {float(r['cls']):7.3f} {float(r['map50']):7.4f} "
                  f"{float(r['map50_95']):9.4f} {float(r['images_per_s']):7.1f}")
    print(f"\n{rep.epochs} epochs in {rep.train_seconds:.0f} s; curve: {out / 'run' / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
