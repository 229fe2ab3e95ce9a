"""Benchmark: COCO bbox evaluation on a val2017-sized case, ours vs pycocotools,
faster-coco-eval and hotcoco, in one run; all must give the same 12 numbers.

Case: 5,000 images, ~36,000 ground-truth boxes over 80 classes (1% crowd),
~100 detections per image (jittered copies of ground truth plus clutter).
Each tool is timed from the JSON files on disk to its 12 numbers (load,
evaluate, accumulate, summarize), best of ``--rounds``.  ``yolotools`` is what
``yolotools eval GT.json RESULTS.json`` runs (columns, C kernels);
``yolotools-records`` reads both files into datasets first (the library path).

    pip install pycocotools faster-coco-eval hotcoco
    python bench/eval_coco.py [--images 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def make_case(n_images: int, seed: int = 0) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    cats = [{"id": int(c), "name": f"c{c}"} for c in sorted(rng.choice(np.arange(1, 91), 80, replace=False))]
    cat_ids = np.array([c["id"] for c in cats])
    images, anns, dets = [], [], []
    for i in range(1, n_images + 1):
        W, H = int(rng.integers(320, 641)), int(rng.integers(320, 641))
        images.append({"id": i, "file_name": f"{i:012d}.jpg", "width": W, "height": H})
        n = int(rng.poisson(7.3))
        g = []
        for _ in range(n):
            w = float(np.clip(np.exp(rng.normal(3.6, 1.1)), 2, W - 1))
            h = float(np.clip(w * np.exp(rng.normal(0, 0.5)), 2, H - 1))
            x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
            c = int(rng.choice(cat_ids))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": [x, y, w, h], "area": w * h * float(rng.uniform(0.6, 1.0)),
                         "iscrowd": int(rng.random() < 0.01)})
            g.append((x, y, w, h, c))
        for _ in range(100):
            if g and rng.random() < 0.3:
                x, y, w, h, c = g[int(rng.integers(len(g)))]
                s = rng.normal(0, 0.1, 4)
                bb = [x + s[0] * w, y + s[1] * h, w * float(np.exp(s[2])), h * float(np.exp(s[3]))]
                c = c if rng.random() < 0.9 else int(rng.choice(cat_ids))
            else:
                w = float(np.exp(rng.normal(3.5, 1.0)))
                h = float(w * np.exp(rng.normal(0, 0.5)))
                bb = [float(rng.uniform(0, W)), float(rng.uniform(0, H)), w, h]
                c = int(rng.choice(cat_ids))
            dets.append({"image_id": i, "category_id": c, "bbox": [round(v, 2) for v in bb], "score": round(float(rng.random()), 4)})
    return {"images": images, "annotations": anns, "categories": cats}, dets


def run_pycocotools(gt_path, dt_path, module="pycocotools"):
    if module == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt_path))
        d = g.loadRes(str(dt_path))
        e = COCOeval(g, d, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return list(map(float, e.stats[:12]))


def run_hotcoco(gt_path, dt_path):
    import hotcoco

    with contextlib.redirect_stdout(io.StringIO()):
        g = hotcoco.COCO(str(gt_path))
        d = g.load_res(str(dt_path)) if hasattr(g, "load_res") else g.loadRes(str(dt_path))
        e = hotcoco.COCOeval(g, d, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return list(map(float, e.stats[:12]))


def run_ours(gt_path, dt_path):
    """What `yolotools eval GT.json RESULTS.json` runs (columns, the C kernel)."""
    from yolotools.eval import run_eval

    r = run_eval(gt_path, dt_path).result
    return [r.stats[k] for k in STATS]


def run_ours_records(gt_path, dt_path):
    """The library path through datasets (a record per image), as the trainer's validation uses."""
    from yolotools.eval import evaluate_coco, read_predictions
    from yolotools.io.coco import read_coco

    gt, _ = read_coco(gt_path, clip=False)
    pred, _ = read_predictions(dt_path, gt)
    r = evaluate_coco(gt, pred)
    return [r.stats[k] for k in STATS]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="write this run's README row (bench/rows/eval_coco.md)")
    args = ap.parse_args()
    gt, dets = make_case(args.images)
    print(f"case: {len(gt['images'])} images, {len(gt['annotations'])} gt boxes, {len(dets)} detections, 80 classes")
    tools = {"yolotools": run_ours, "yolotools-records": run_ours_records,
             "pycocotools": lambda g, d: run_pycocotools(g, d, "pycocotools")}
    try:
        import faster_coco_eval  # noqa: F401

        tools["faster-coco-eval"] = lambda g, d: run_pycocotools(g, d, "faster")
    except ImportError:
        print("faster-coco-eval not installed")
    try:
        import hotcoco  # noqa: F401

        tools["hotcoco"] = run_hotcoco
    except ImportError:
        print("hotcoco not installed")
    with tempfile.TemporaryDirectory() as tmp:
        gp, dp = Path(tmp) / "gt.json", Path(tmp) / "dt.json"
        gp.write_text(json.dumps(gt))
        dp.write_text(json.dumps(dets))
        best, stats = {}, {}
        for r in range(args.rounds):
            for name, fn in tools.items():
                if name == "pycocotools" and r > 0:
                    continue  # ~slow: once is enough
                t = time.perf_counter()
                stats[name] = fn(gp, dp)
                dt = time.perf_counter() - t
                best[name] = min(best.get(name, 1e9), dt)
                print(f"round {r}: {name:<17} {dt:6.2f} s", flush=True)
    ref = stats["pycocotools"]
    print("\n" + " ".join(f"{s:>7}" for s in STATS))
    for name, st in stats.items():
        same = max(abs(a - b) for a, b in zip(st, ref))
        print(" ".join(f"{v:7.4f}" for v in st) + f"   {name} (max |diff| vs pycocotools {same:.1e})")
    ours = best["yolotools"]
    print("\nbest wall time (load + evaluate + accumulate + summarize)")
    for name, t in best.items():
        print(f"  {name:<17} {t:6.2f} s" + ("" if name == "yolotools" else f"   ratio {name}/yolotools = {t / ours:.2f}"))
    if "hotcoco" in best:
        print(f"\nyolotools (yolotools eval) vs hotcoco, the fastest peer: {ours:.3f} s vs {best['hotcoco']:.3f} s, "
              f"ratio hotcoco/yolotools = {best['hotcoco'] / ours:.2f} (>= 1: we are faster)")
    if args.record:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        from readme_table import record, today

        same = all(max(abs(a - b) for a, b in zip(st, ref)) == 0 for st in stats.values())
        peers = ", ".join(f"{n} {best[n]:.2f} s" + (f" (ratio {n}/ours {best[n] / ours:.2f})" if n == "hotcoco" else "")
                          for n in ("hotcoco", "faster-coco-eval", "pycocotools") if n in best)
        record("eval_coco", f"| `bench/eval_coco.py` COCO eval: {len(gt['images']):,} images, {len(gt['annotations']):,} GT, "
                            f"{len(dets):,} detections, JSON files to the 12 numbers, best of {args.rounds} ({today()}; "
                            f"{'all 12 numbers equal' if same else 'NOT all 12 numbers equal to'} pycocotools') | "
                            f"`yolotools eval` (orjson, columns, the C kernel) {ours:.2f} s; through datasets "
                            f"{best['yolotools-records']:.2f} s | {peers} |")


if __name__ == "__main__":
    main()
