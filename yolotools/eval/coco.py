"""COCO bbox evaluation, identical to pycocotools' ``COCOeval(iouType="bbox")``.

Same definitions, in one C kernel (``eval/_cocoeval.c``, built on every install)
instead of a Python loop per detection:

- images: every ground-truth image (sorted by COCO image id); categories: every
  ground-truth category; detections of other images or categories are ignored;
- per (image, category): detections sorted by score (stable, file order breaks
  ties), the first ``maxDets[-1]`` kept; IoU as pycocotools' ``bbIou`` (a crowd
  box's union is the detection's area);
- greedy matching per IoU threshold ``t`` (``min(t, 1 - 1e-10)``): each
  detection takes the unmatched non-ignored ground truth with the highest IoU
  ``>= t`` (the last one on ties), else an ignored one (crowd, or outside the area
  range; crowd boxes can be matched many times); unmatched detections outside the
  area range are ignored;
- accumulation: per category, detections of all images ordered by score
  (stable, image order then rank), 101-point precision with the monotone
  envelope, recall = last recall; ``-1`` where a category has no non-ignored
  ground truth; the summary means skip ``-1``.

The tests compare its arrays and the 12 numbers with pycocotools'.

Array layouts: ``precision[T, R, K, A, M]``, ``recall[T, K, A, M]`` with T IoU
thresholds, R recall thresholds, K classes, A area ranges (all, small, medium,
large), M max-detection settings (1, 10, 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..annotations import DetectionDataset

from ._cocoeval import coco_eval as _coco_eval

__all__ = ["CocoParams", "CocoEvalResult", "evaluate_coco", "evaluate_coco_arrays", "STAT_NAMES"]

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass(frozen=True)
class CocoParams:
    """pycocotools' default bbox parameters (the same float values)."""

    iou_thrs: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True).tolist())
    rec_thrs: tuple[float, ...] = tuple(np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True).tolist())
    max_dets: tuple[int, ...] = (1, 10, 100)
    area_rng: tuple[tuple[float, float], ...] = ((0, 1e5**2), (0, 32**2), (32**2, 96**2), (96**2, 1e5**2))
    area_names: tuple[str, ...] = ("all", "small", "medium", "large")


@dataclass
class CocoEvalResult:
    """The 12 COCO numbers (``stats``, keys :data:`STAT_NAMES`), per-class AP and
    the accumulated arrays (``precision[T,R,K,A,M]``, ``recall[T,K,A,M]``,
    ``scores[T,R,K,A,M]``)."""

    stats: dict[str, float]
    per_class: dict[str, dict[str, float]]
    precision: np.ndarray = field(repr=False)
    recall: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    params: CocoParams = field(default_factory=CocoParams, repr=False)
    class_names: tuple[str, ...] = ()
    num_images: int = 0
    num_gt: int = 0
    num_dt: int = 0

    @property
    def map50_95(self) -> float:
        return self.stats["AP"]

    @property
    def map50(self) -> float:
        return self.stats["AP50"]

    def to_dict(self) -> dict:
        return {**self.stats, "per_class": self.per_class, "images": self.num_images, "gt_boxes": self.num_gt, "detections": self.num_dt}

    def to_table(self) -> str:
        rows = []
        labels = [
            ("AP", "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"),
            ("AP50", "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]"),
            ("AP75", "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]"),
            ("APs", "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]"),
            ("APm", "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]"),
            ("APl", "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"),
            ("AR1", "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]"),
            ("AR10", "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]"),
            ("AR100", "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"),
            ("ARs", "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]"),
            ("ARm", "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]"),
            ("ARl", "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"),
        ]
        for k, label in labels:
            rows.append(f" {label} = {self.stats[k]:.3f}")
        rows.append("")
        rows.append(f"{'class':<20} {'AP':>7} {'AP50':>7} {'AP75':>7} {'gt':>7}")
        for name, v in self.per_class.items():
            rows.append(f"{name:<20} {v['AP']:7.3f} {v['AP50']:7.3f} {v['AP75']:7.3f} {v['gt']:7d}")
        return "\n".join(rows)


# ---------------------------------------------------------------- data preparation


def _image_order(gt: DetectionDataset) -> list[int]:
    sids = [r.source_id for r in gt.records]
    if all(s is not None for s in sids) and len(set(sids)) == len(sids):
        return sorted(range(len(sids)), key=lambda i: sids[i])
    return list(range(len(sids)))


def _flatten(ds: DetectionDataset, order_of: dict[str, int], with_scores: bool):
    """Concatenate per-box arrays, tagged with the evaluation image index."""
    img, cls, xyxy, area, crowd, score = [], [], [], [], [], []
    for r in ds.records:
        ii = order_of.get(r.image_id)
        if ii is None or not len(r.annotations):
            continue
        a = r.annotations
        n = len(a)
        img.append(np.full(n, ii, np.int64))
        cls.append(a.class_ids)
        xyxy.append(a.boxes.xyxy)
        area.append(a.areas if not with_scores else a.boxes.area)
        crowd.append(a.is_crowd)
        if with_scores:
            score.append(a.scores if a.scores is not None else np.ones(n))
    if not img:
        e = np.zeros(0)
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), e, np.zeros(0, bool), e
    return (
        np.concatenate(img), np.concatenate(cls), np.concatenate(xyxy), np.concatenate(area), np.concatenate(crowd),
        np.concatenate(score) if with_scores else None,
    )


def _flat_pair(gt: DetectionDataset, pred: DetectionDataset):
    """Both datasets as flat arrays in file order, tagged with the evaluation image
    index; detections of unknown classes dropped.  Returns ``(ground truth
    (img, cls, xyxy, area, crowd), detections (img, cls, xyxy, score), images)``."""
    K = len(gt.class_map)
    order = _image_order(gt)
    order_of = {gt.records[i].image_id: n for n, i in enumerate(order)}
    g_img, g_cls, g_box, g_area, g_crowd, _ = _flatten(gt, order_of, False)
    d_img, d_cls, d_box, _d_area, _, d_score = _flatten(pred, order_of, True)
    keep = d_cls < K
    return (g_img, g_cls, g_box, g_area, g_crowd), (d_img[keep], d_cls[keep], d_box[keep], d_score[keep]), len(order)


def _iou_rows(p: CocoParams, iou_thr: float | None) -> np.ndarray:
    """Row indices of ``precision``/``recall`` for one IoU threshold (all when None)."""
    iou = np.array(p.iou_thrs)
    return np.arange(len(iou)) if iou_thr is None else np.where(iou == iou_thr)[0]


def _per_class(precision: np.ndarray, g_cls: np.ndarray, g_crowd: np.ndarray, names, p: CocoParams) -> dict[str, dict[str, float]]:
    K = len(names)
    n_gt = np.bincount(g_cls[~g_crowd], minlength=K) if len(g_cls) else np.zeros(K, int)
    a_all, m_last = p.area_names.index("all"), len(p.max_dets) - 1
    out = {}
    for k in range(K):
        pk = precision[:, :, k, :, m_last]
        out[names[k]] = {
            "AP": _mean_valid(pk[:, :, a_all]),
            "AP50": _mean_valid(pk[_iou_rows(p, 0.5), :, a_all]),
            "AP75": _mean_valid(pk[_iou_rows(p, 0.75), :, a_all]),
            "APs": _mean_valid(pk[:, :, p.area_names.index("small")]),
            "APm": _mean_valid(pk[:, :, p.area_names.index("medium")]),
            "APl": _mean_valid(pk[:, :, p.area_names.index("large")]),
            "gt": int(n_gt[k]),
        }
    return out


def _kernel(g_flat: tuple, d_flat: tuple, n_img: int, K: int, p: CocoParams):
    """The C kernel (``eval/_cocoeval.c``): ``(precision, recall, scores, detections kept)``;
    ``-1`` everywhere (nothing evaluated) when there is no class."""
    (g_img, g_cls, g_box, g_area, g_crowd), (d_img, d_cls, d_box, d_score) = g_flat, d_flat
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rng), len(p.max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    if K == 0:
        return precision, recall, scores, 0
    c = np.ascontiguousarray
    f8, i8 = np.float64, np.int64
    kept = _coco_eval(
        c(g_img, i8), c(g_cls, i8), c(g_box, f8), c(g_area, f8), c(g_crowd, np.uint8),
        c(d_img, i8), c(d_cls, i8), c(d_box, f8), c(d_score, f8), n_img, K,
        np.minimum(np.array(p.iou_thrs), 1 - 1e-10), np.array(p.rec_thrs, f8), np.array(p.area_rng, f8), np.array(p.max_dets, i8),
        precision, recall, scores,
    )
    return precision, recall, scores, kept


def evaluate_coco(gt: DetectionDataset, pred: DetectionDataset, params: CocoParams | None = None) -> CocoEvalResult:
    """Evaluate ``pred`` (annotations with ``scores``) against ``gt``.  Both use
    ``gt.class_map``; images are matched by ``image_id``."""
    g_flat, d_flat, n_img = _flat_pair(gt, pred)
    return evaluate_coco_arrays(g_flat, d_flat, n_img, gt.class_map.names, params)


def evaluate_coco_arrays(g_flat: tuple, d_flat: tuple, n_img: int, names, params: CocoParams | None = None) -> CocoEvalResult:
    """COCO evaluation of flat arrays: ground truth ``(image, class, xyxy, area,
    crowd)``, detections ``(image, class, xyxy, score)``, ``image`` the evaluation
    image index (``0..n_img-1``, pycocotools' sorted image ids), each in file order.
    The C kernel evaluates and accumulates; this summarises."""
    p = params or CocoParams()
    K = len(names)
    precision, recall, scores, num_dt = _kernel(g_flat, d_flat, n_img, K, p)
    g_cls, g_crowd = np.asarray(g_flat[1], np.int64), np.asarray(g_flat[4], bool)
    names = tuple(names)
    return CocoEvalResult(
        stats=_summarize(precision, recall, p), per_class=_per_class(precision, g_cls, g_crowd, names, p), precision=precision,
        recall=recall, scores=scores, params=p, class_names=names, num_images=n_img, num_gt=len(g_cls), num_dt=num_dt,
    )


def _mean_valid(a: np.ndarray) -> float:
    v = a[a > -1]
    return float(np.mean(v)) if v.size else -1.0


def _summarize(precision, recall, p: CocoParams) -> dict[str, float]:
    """The 12 COCO numbers, each named by its IoU threshold, area and maxDets."""

    def s(ap: bool, iou_thr=None, area="all", max_det=100):
        a, m, rows = p.area_names.index(area), p.max_dets.index(max_det), _iou_rows(p, iou_thr)
        return _mean_valid(precision[rows][:, :, :, a, m] if ap else recall[rows][:, :, a, m])

    return {
        "AP": s(True),
        "AP50": s(True, 0.5),
        "AP75": s(True, 0.75),
        "APs": s(True, area="small"),
        "APm": s(True, area="medium"),
        "APl": s(True, area="large"),
        "AR1": s(False, max_det=1),
        "AR10": s(False, max_det=10),
        "AR100": s(False),
        "ARs": s(False, area="small"),
        "ARm": s(False, area="medium"),
        "ARl": s(False, area="large"),
    }
