"""Reproduce: our COCO evaluation equals pycocotools (and the published numbers).

On the cocoapi demo's fake detections (instances_val2014_fakebbox100_results.json)
against the 100-image val2014 ground-truth sample, it runs

  - pycocotools COCOeval (evaluate, accumulate, summarize),
  - yolotools.eval.evaluate_coco,
  - ``yolotools eval`` on the command line (JSON output),

and prints the 12 numbers side by side with the values published by
rafaelpadilla/review_object_detection_metrics ("results obtained with coco's
official implementation"), the largest difference, and the timings.

    python recipes/eval_parity_coco.py [GT.json] [RESULTS.json]
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GT = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED / "review_object_detection_metrics/tests/test_coco_eval/gts/sampled_gts_bbox_area.json"
DT = Path(sys.argv[2]) if len(sys.argv) > 2 else SHARED / "cocoapi/results/instances_val2014_fakebbox100_results.json"
PUBLISHED = [0.503647, 0.696973, 0.571667, 0.593252, 0.557991, 0.489363, 0.386813, 0.593680, 0.595353, 0.654764, 0.603130, 0.553744]


def main() -> int:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from yolotools.eval.coco import STAT_NAMES, evaluate_coco
    from yolotools.eval.predictions import read_coco_results
    from yolotools.io.coco import read_coco

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(GT))
        ev = COCOeval(gt, gt.loadRes(str(DT)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    t_ref = time.perf_counter() - t

    t = time.perf_counter()
    ds, _ = read_coco(GT, clip=False)
    pred, _ = read_coco_results(DT, ds)
    ours = evaluate_coco(ds, pred)
    t_ours = time.perf_counter() - t

    cli = subprocess.run([sys.executable, "-m", "yolotools.cli", "eval", "--gt", str(GT), "--pred", str(DT), "--json"],
                         capture_output=True, text=True, check=True)
    cli_stats = json.loads(cli.stdout)

    print(f"{'metric':<8} {'pycocotools':>12} {'yolotools':>12} {'CLI':>12} {'published':>10}")
    worst = 0.0
    for name, ref, pub in zip(STAT_NAMES, ev.stats, PUBLISHED):
        o = ours.stats[name]
        c = cli_stats.get(name, cli_stats.get("stats", {}).get(name))
        worst = max(worst, abs(o - ref), abs(c - ref))
        print(f"{name:<8} {ref:12.6f} {o:12.6f} {c:12.6f} {pub:10.6f}")
    same_pr = (ours.precision == ev.eval["precision"]).all()
    print(f"\nlargest difference from pycocotools: {worst:.2e}; precision array identical: {bool(same_pr)}")
    print(f"time: pycocotools {t_ref:.2f} s, yolotools {t_ours:.2f} s (ratio {t_ref / t_ours:.1f}x)")
    return 0 if worst <= 1e-9 and same_pr else 1


if __name__ == "__main__":
    sys.exit(main())
