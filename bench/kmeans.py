"""Benchmark: anchor k-means on 1,000,000 boxes, k=9, default settings (restarts
and refinement included) vs one scikit-learn ``KMeans(n_clusters=9, n_init=1)``
on the same (w, h) array, in the same process.

    python bench/kmeans.py [--n 1000000] [--k 9]

``--files 20000`` (or ``--data DATA.yaml``) times the whole job instead: ``yolotools
kmeans DATA -k 9 --json`` as a user runs it (start-up, reading the 20,000 label
files and image headers, clustering) against a script that reads the same label
files (``np.array(text.split())`` per file) and runs one scikit-learn KMeans on
(w, h) x 416, each in its own process, median of ``--rounds``.
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


PEER = """
import os, sys, time, numpy as np
t = time.perf_counter()
lab = os.path.join(os.path.dirname(sys.argv[1]), "labels")
rows = []
for f in sorted(os.listdir(lab)):
    with open(os.path.join(lab, f)) as fh:
        rows.append(np.array(fh.read().split(), dtype=np.float64).reshape(-1, 5))
wh = np.concatenate(rows)[:, 3:5] * 416
from sklearn.cluster import KMeans
KMeans(n_clusters=int(sys.argv[2]), n_init=1, random_state=0).fit(wh)
"""


def end_to_end(args) -> None:
    import statistics
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    tmp = None
    data = args.data
    if data is None:
        sys.path.insert(0, str(Path(__file__).parent))
        from audit import make

        tmp = tempfile.TemporaryDirectory()
        data = make(Path(tmp.name), args.files, args.n // args.files)
    ours, peer = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "yolotools.cli", "kmeans", str(data), "-k", str(args.k), "--json"],
                             capture_output=True, text=True, check=True).stdout
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", PEER, str(data), str(args.k)], check=True)
        peer.append(time.perf_counter() - t)
    import json

    j = json.loads(out)
    o, p = statistics.median(ours), statistics.median(peer)
    print(f"{data}: {j['n_boxes']:,} boxes, k={args.k}, whole command, median of {args.rounds}")
    print(f"  yolotools kmeans                    {o:6.2f} s   avg IoU {j['avg_iou']:.4f}  BPR {j['bpr']:.4f}")
    print(f"  read files + scikit-learn KMeans    {p:6.2f} s")
    print(f"  ratio peer/yolotools = {p / o:.2f} (> 1: we are faster)")
    if args.record:
        files = f"{args.files:,} YOLO label files, " if args.files else "a YOLO dataset, "
        _record("kmeans-command", f"| `bench/kmeans.py {'--data' if args.data else '--files'}` {files}"
                                  f"{j['n_boxes']:,} boxes, the whole `yolotools kmeans -k {args.k}` (start-up, labels, image "
                                  f"headers, clustering; {{date}}, median of {args.rounds}) | {o:.2f} s | read the label files "
                                  f"+ one scikit-learn KMeans {p:.2f} s: ratio peer/ours {p / o:.2f} |")
    if tmp is not None:
        tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=9)
    ap.add_argument("--files", type=int, default=None, help="end to end on this many generated label files (n boxes in all)")
    ap.add_argument("--data", default=None, help="end to end on an existing YOLO data.yaml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="write this run's README row (bench/rows/)")
    args = ap.parse_args()
    if args.files or args.data:
        return end_to_end(args)
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
    if args.record:
        _record("kmeans", f"| `bench/kmeans.py` {args.n:,} boxes, k={args.k}, defaults ({{date}}; avg IoU {res.avg_iou:.4f}) | "
                          f"{t_ours:.2f} s | one scikit-learn KMeans(n_init=1) {t_sk:.2f} s (ratio peer/ours {t_sk / t_ours:.2f}) |")


def _record(name: str, row: str) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from readme_table import record, today

    record(name, row.replace("{date}", today()))


if __name__ == "__main__":
    main()
