"""Benchmark: anchor k-means on 1,000,000 boxes, k=9, default settings (restarts
and refinement included) vs one scikit-learn ``KMeans(n_clusters=9, n_init=1)``
on the same (w, h) array, in the same process.

    python bench/kmeans.py [--n 1000000] [--k 9]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def boxes(n: int, seed: int = 0) -> np.ndarray:
    """COCO-like box sizes in pixels at 416: log-normal areas, log-normal aspect."""
    rng = np.random.default_rng(seed)
    area = np.exp(rng.normal(np.log(40 * 40), 1.3, n))
    aspect = np.exp(rng.normal(0, 0.6, n))
    wh = np.stack([np.sqrt(area * aspect), np.sqrt(area / aspect)], 1)
    return np.clip(np.round(wh, 2), 2, 416)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=9)
    args = ap.parse_args()
    wh = boxes(args.n)
    from sklearn.cluster import KMeans

    from yolotools.anchors import avg_iou, kmeans_anchors

    t = time.perf_counter()
    km = KMeans(n_clusters=args.k, n_init=1, random_state=0).fit(wh)
    t_sk = time.perf_counter() - t
    t = time.perf_counter()
    res = kmeans_anchors(wh, args.k)
    t_ours = time.perf_counter() - t
    iou_sk = avg_iou(wh, km.cluster_centers_)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"boxes {args.n:,}  k={args.k}")
    print(f"  scikit-learn KMeans(n_init=1)   {t_sk:6.2f} s   avg IoU {iou_sk:.4f}  (Euclidean)")
    print(f"  yolotools kmeans (defaults)     {t_ours:6.2f} s   avg IoU {res.avg_iou:.4f}  BPR {res.bpr:.4f}")
    print(f"  ratio sklearn/yolotools = {t_sk / t_ours:.2f} (> 1: we are faster)   peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
