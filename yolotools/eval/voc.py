"""Pascal VOC AP, as the VOC devkit (and py-faster-rcnn's ``voc_eval.py``) computes it.

Per class: detections of all images sorted by confidence (highest first, stable);
each takes the ground truth of its image with the highest IoU (any, taken or not);
if that IoU ``> t`` (``>= t`` with ``at_least=True``, as Padilla's toolkit): a
difficult (or crowd) ground truth makes it neither TP nor FP, an untaken one makes
it a TP, a taken one a FP; otherwise FP.  ``voc07``: 11-point interpolated AP at
recall levels ``np.arange(0, 1.1, 0.1)`` (the devkit's floats); ``voc12``: area
under the monotone precision envelope at every recall change.

``inclusive=True`` uses the devkit's "+1" pixel areas in the IoU (``x2 - x1 + 1``);
the default treats coordinates as continuous.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..annotations import DetectionDataset

__all__ = ["VocResult", "evaluate_voc", "voc_ap"]


def voc_ap(rec: np.ndarray, prec: np.ndarray, metric: str) -> float:
    """AP from recall/precision arrays (in detection order)."""
    if metric == "voc07":
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            m = rec >= t
            ap += (float(np.max(prec[m])) if m.any() else 0.0) / 11.0
        return ap
    if metric != "voc12":
        raise ValueError(f"metric must be 'voc07' or 'voc12', got {metric!r}")
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass
class VocResult:
    metric: str
    iou: float
    map: float
    per_class: dict[str, dict] = field(default_factory=dict)
    inclusive: bool = False

    def to_dict(self) -> dict:
        return {"metric": self.metric, "iou": self.iou, "map": self.map, "inclusive": self.inclusive, "per_class": self.per_class}

    def to_table(self) -> str:
        rows = [f"{'class':<20} {'AP':>7} {'gt':>6} {'dets':>6} {'TP':>6} {'FP':>6}"]
        for name, v in self.per_class.items():
            ap = "-" if v["AP"] is None else f"{v['AP']:.4f}"
            rows.append(f"{name:<20} {ap:>7} {v['gt']:>6} {v['detections']:>6} {v['tp']:>6} {v['fp']:>6}")
        rows.append(f"mAP@{self.iou:g} ({self.metric}{', +1 pixels' if self.inclusive else ''}) = {self.map:.4f}")
        if any(v["tp"] + v["fp"] != v["detections"] for v in self.per_class.values()):
            rows.append("note: TP + FP < dets where detections matched a difficult box: those count neither way (the devkit's rule)")
        return "\n".join(rows)


def evaluate_voc(
    gt: DetectionDataset,
    pred: DetectionDataset,
    *,
    iou: float = 0.5,
    metric: str = "voc07",
    inclusive: bool = False,
    at_least: bool = False,
) -> VocResult:
    """VOC AP per class and their mean over classes with ground truth."""
    K = len(gt.class_map)
    plus = 1.0 if inclusive else 0.0
    gt_by = {r.image_id: r.annotations for r in gt.records}
    per_class = {}
    aps = []
    for k in range(K):
        recs, det_img, det_sc, det_box = {}, [], [], []
        npos = 0
        for r in gt.records:
            a = r.annotations
            m = a.class_ids == k
            if m.any():
                ign = (a.is_difficult | a.is_crowd)[m]
                recs[r.image_id] = (a.boxes.xyxy[m], ign, np.zeros(int(m.sum()), bool))
                npos += int((~ign).sum())
        for r in pred.records:
            if r.image_id not in gt_by:
                continue
            a = r.annotations
            m = a.class_ids == k
            if m.any():
                det_img += [r.image_id] * int(m.sum())
                det_sc.append(a.scores[m] if a.scores is not None else np.ones(int(m.sum())))
                det_box.append(a.boxes.xyxy[m])
        sc = np.concatenate(det_sc) if det_sc else np.zeros(0)
        bx = np.concatenate(det_box) if det_box else np.zeros((0, 4))
        order = np.argsort(-sc, kind="stable")
        nd = len(order)
        tp = np.zeros(nd)
        fp = np.zeros(nd)
        for d, j in enumerate(order):
            g = recs.get(det_img[j])
            ovmax, jmax = -np.inf, -1
            bb = bx[j]
            if g is not None:
                G = g[0]
                iw = np.maximum(np.minimum(G[:, 2], bb[2]) - np.maximum(G[:, 0], bb[0]) + plus, 0.0)
                ih = np.maximum(np.minimum(G[:, 3], bb[3]) - np.maximum(G[:, 1], bb[1]) + plus, 0.0)
                inter = iw * ih
                uni = (bb[2] - bb[0] + plus) * (bb[3] - bb[1] + plus) + (G[:, 2] - G[:, 0] + plus) * (G[:, 3] - G[:, 1] + plus) - inter
                ov = inter / uni
                jmax = int(np.argmax(ov))
                ovmax = float(ov[jmax])
            if (ovmax >= iou) if at_least else (ovmax > iou):
                if not g[1][jmax]:
                    if not g[2][jmax]:
                        tp[d] = 1.0
                        g[2][jmax] = True
                    else:
                        fp[d] = 1.0
            else:
                fp[d] = 1.0
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        if npos > 0:
            rec = ctp / npos
            prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
            ap = voc_ap(rec, prec, metric)
            aps.append(ap)
        else:
            ap = None
        per_class[gt.class_map.names[k]] = {"AP": ap, "gt": npos, "detections": nd, "tp": int(tp.sum()), "fp": int(fp.sum())}
    return VocResult(metric=metric, iou=iou, map=float(np.mean(aps)) if aps else 0.0, per_class=per_class, inclusive=inclusive)
