"""Reproduce YOLOv2 (YOLO9000) Table 1 "dimension clusters" on VOC2007 trainval.

All 15,662 objects (difficult included), w = (xmax - xmin) / W, h = (ymax - ymin) / H
(yolotools' ``raw`` VOC convention, as the paper's and lars76's code), distance
1 - IoU.  Prints ours (default settings) next to the published figures, the
k-medians reproduction, Darknet's own yolov2-voc.cfg anchors and Euclidean
k-means ("Cluster SSE").

    python recipes/anchors_voc2007.py [VOC2007 root]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from yolotools.anchors import avg_iou, dataset_wh, kmeans_anchors, parse_anchor_list
from yolotools.io.voc import read_voc

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/data/voc2007_chenyicai-0611_yolov5-PASCAL-VOC/VOCdevkit/VOC2007"
DARKNET_VOC = "1.3221,1.73145, 3.19275,4.00944, 5.05587,8.09892, 9.47112,4.84053, 11.2364,10.0071"  # grid units, 13x13

ds, _ = read_voc([ROOT], "trainval", convention="raw")
wh, _, _ = dataset_wh(ds, mode="normalized", min_px=0)
print(f"VOC2007 trainval: {len(ds)} images, {len(wh)} objects\n")
print(f"{'method':<58} {'k=5':>7} {'k=9':>7}")
rows = {}
for k in (5, 9):
    t = time.perf_counter()
    r = kmeans_anchors(wh, k)
    rows.setdefault("yolotools kmeans (defaults)", {})[k] = (r.avg_iou, time.perf_counter() - t)
    rows.setdefault("yolotools, k-medians only (--update median --no-refine)", {})[k] = (kmeans_anchors(wh, k, update="median", refine=False).avg_iou, 0)
    eu = KMeans(k, n_init=10, random_state=0).fit(wh).cluster_centers_
    rows.setdefault("Euclidean k-means, scikit-learn (Cluster SSE)", {})[k] = (avg_iou(wh, eu), 0)
published = {
    "YOLOv2 paper, Table 1 (Cluster IoU)": {5: 0.610, 9: 0.672},
    "lars76/kmeans-anchor-boxes (k-medians)": {5: 0.6015, 9: 0.6713},
}
for name, v in published.items():
    print(f"{name:<58} {v[5]:7.4f} {v[9]:7.4f}")
for name, v in rows.items():
    print(f"{name:<58} {v[5][0]:7.4f} {v[9][0]:7.4f}")
dk = avg_iou(wh, parse_anchor_list(DARKNET_VOC) / 13)
print(f"{'Darknet yolov2-voc.cfg anchors (k=5)':<58} {dk:7.4f} {'-':>7}")
print(f"\ntime (defaults): k=5 {rows['yolotools kmeans (defaults)'][5][1]:.1f} s, k=9 {rows['yolotools kmeans (defaults)'][9][1]:.1f} s")
