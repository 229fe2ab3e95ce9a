"""Evaluation plots: per-class precision-recall curves and a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annotations import DetectionDataset
from ..boxes import box_iou
from ..figures import save_png

__all__ = ["confusion_matrix", "write_eval_plots"]


def confusion_matrix(gt: DetectionDataset, pred: DetectionDataset, *, iou: float = 0.5, conf: float = 0.25) -> np.ndarray:
    """``(K+1, K+1)`` counts, rows = predicted class (last: background = missed
    ground truth), columns = true class (last: background = false positive).
    Predictions with score >= ``conf`` are matched one-to-one to ground truth of
    any class by IoU >= ``iou``, highest IoU first (crowd/difficult ground truth
    left out)."""
    K = len(gt.class_map)
    m = np.zeros((K + 1, K + 1), np.int64)
    preds = {r.image_id: r.annotations for r in pred.records}
    for r in gt.records:
        g = r.annotations
        keep = ~(g.is_crowd | g.is_difficult)
        gb, gc = g.boxes.xyxy[keep], g.class_ids[keep]
        p = preds.get(r.image_id)
        if p is None or not len(p):
            np.add.at(m, (K, gc), 1)
            continue
        sel = (p.scores if p.scores is not None else np.ones(len(p))) >= conf
        pb, pc = p.boxes.xyxy[sel], p.class_ids[sel]
        if not len(gb):
            np.add.at(m, (pc, K), 1)
            continue
        ious = box_iou(pb, gb)
        pi, gi = np.nonzero(ious >= iou)
        order = np.argsort(-ious[pi, gi], kind="stable")
        used_p, used_g = set(), set()
        for j in order:
            a, b = int(pi[j]), int(gi[j])
            if a in used_p or b in used_g:
                continue
            used_p.add(a)
            used_g.add(b)
            m[pc[a], gc[b]] += 1
        for a in range(len(pb)):
            if a not in used_p:
                m[pc[a], K] += 1
        for b in range(len(gb)):
            if b not in used_g:
                m[K, gc[b]] += 1
    return m


def write_eval_plots(out: Path, gt: DetectionDataset, pred: DetectionDataset, res, *, iou: float = 0.5) -> list[str]:
    """PR curves (``pr_curves.png``) and confusion matrix (``confusion_matrix.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .coco import CocoEvalResult

    out.mkdir(parents=True, exist_ok=True)
    names = gt.class_map.names
    made = []
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    if isinstance(res, CocoEvalResult):
        rec = np.array(res.params.rec_thrs)
        ap50 = []
        for k, n in enumerate(names):
            pk = res.precision[0, :, k, 0, -1]
            if (pk > -1).any():
                ax.plot(rec, pk, lw=1, label=f"{n} {pk.mean():.3f}")
                ap50.append(pk)
        if ap50:
            mean = np.mean(ap50, axis=0)
            ax.plot(rec, mean, lw=3, color="black", label=f"all classes {res.stats['AP50']:.3f} mAP@0.5")
        title = "precision-recall at IoU 0.5 (COCO 101-point)"
    else:
        title = f"precision-recall at IoU {res.iou:g} ({res.metric})"
        ax.text(0.5, 0.5, "\n".join(f"{n}: AP {v['AP']:.3f}" for n, v in res.per_class.items() if v["AP"] is not None)[:2000],
                ha="center", va="center", fontsize=8, transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=10)
    if len(names) <= 20:
        ax.legend(fontsize=7, loc="lower left")
    made.append(save_png(fig, out / "pr_curves.png"))

    cm = confusion_matrix(gt, pred, iou=iou)
    K = len(names)
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * K + 3), max(4, 0.35 * K + 2)), dpi=100)
    norm = cm / np.maximum(cm.sum(0, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = list(names) + ["background"]
    if K <= 30:
        ax.set_xticks(range(K + 1), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(K + 1), labels, fontsize=7)
        for i in range(K + 1):
            for j in range(K + 1):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6, color="black" if norm[i, j] < 0.6 else "white")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(f"confusion matrix (IoU {iou:g}, conf 0.25)\ncolour: share of each true class (column); numbers: counts", fontsize=9)
    made.append(save_png(fig, out / "confusion_matrix.png"))
    return made
