"""COCO bbox evaluation, identical to pycocotools' ``COCOeval(iouType="bbox")``.

Same definitions, vectorised in numpy instead of a Python loop per detection:

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

Two implementations give the same doubles: the C kernel ``yolotools._native``
(built at install when a compiler is there; ~20x faster) and the numpy path below
(``backend="numpy"``, always there).  The tests run both against pycocotools.

Array layouts: ``precision[T, R, K, A, M]``, ``recall[T, K, A, M]`` with T IoU
thresholds, R recall thresholds, K classes, A area ranges (all, small, medium,
large), M max-detection settings (1, 10, 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..annotations import DetectionDataset

try:
    from .. import _native
except ImportError:  # no C compiler at install time: the numpy path
    _native = None

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


def _segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted ``keys``: start index of each run and the rank of every element in its run."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.ones(n, bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    run_start = np.repeat(starts, np.diff(np.append(starts, n)))
    return starts, np.arange(n) - run_start


# ---------------------------------------------------------------- evaluation


@dataclass
class _Dets:
    """Detections kept for evaluation, sorted by (image, class) then score;
    ``rank`` is the position within its (image, class) pair (< maxDets[-1])."""

    pair: np.ndarray
    img: np.ndarray
    cls: np.ndarray
    box: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    area: np.ndarray


@dataclass
class _Gts:
    """Ground truth grouped by (image, class), file order inside each group."""

    pair: np.ndarray
    cls: np.ndarray
    box: np.ndarray
    area: np.ndarray  # the annotation's area (size buckets)
    crowd: np.ndarray
    box_area: np.ndarray  # w * h (IoU)


@dataclass
class _Matches:
    """Greedy matching per area range and IoU threshold: ``dtm[A, T, nd]``
    (matched), ``dt_ig[A, T, nd]`` (ignored), ``gt_ig[A, ng]``."""

    dtm: np.ndarray
    dt_ig: np.ndarray
    gt_ig: np.ndarray


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


def _prepare(g_flat: tuple, d_flat: tuple, K: int, p: CocoParams) -> tuple[_Dets, _Gts]:
    """The flat arrays in pycocotools' orders: ``(detections, ground truth)``."""
    (g_img, g_cls, g_box, g_area, g_crowd), (d_img, d_cls, d_box, d_score) = g_flat, d_flat
    # detections: per (image, class) by score, stable on file order; keep the first max_det
    d_pair = d_img * K + d_cls
    o = np.lexsort((-d_score, d_pair))
    d_pair, d_img, d_cls, d_box, d_score = d_pair[o], d_img[o], d_cls[o], d_box[o], d_score[o]
    _, d_rank = _segments(d_pair)
    keep = d_rank < p.max_dets[-1]
    d_box = d_box[keep]
    dets = _Dets(d_pair[keep], d_img[keep], d_cls[keep], d_box, d_score[keep], d_rank[keep],
                 (d_box[:, 2] - d_box[:, 0]) * (d_box[:, 3] - d_box[:, 1]))
    g_pair = g_img * K + g_cls
    og = np.argsort(g_pair, kind="stable")
    g_box = g_box[og]
    gts = _Gts(g_pair[og], g_cls[og], g_box, g_area[og], g_crowd[og], (g_box[:, 2] - g_box[:, 0]) * (g_box[:, 3] - g_box[:, 1]))
    return dets, gts


def _candidates(d: _Dets, g: _Gts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (detection, ground truth) pair of the same (image, class) with its
    IoU as pycocotools' ``bbIou`` (a crowd box's union is the detection's area):
    ``(det index, gt index, iou)``."""
    starts = np.searchsorted(g.pair, d.pair, side="left")
    cnt = np.searchsorted(g.pair, d.pair, side="right") - starts
    c_det = np.repeat(np.arange(len(d.pair)), cnt)
    offs = np.arange(len(c_det)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    c_gt = np.repeat(starts, cnt) + offs
    D, G = d.box[c_det], g.box[c_gt]
    iw = np.minimum(D[:, 2], G[:, 2]) - np.maximum(D[:, 0], G[:, 0])
    ih = np.minimum(D[:, 3], G[:, 3]) - np.maximum(D[:, 1], G[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = np.where(g.crowd[c_gt], d.area[c_det], d.area[c_det] + g.box_area[c_gt] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_iou = np.where(inter > 0, inter / union, 0.0)
    return c_det, c_gt, c_iou


def match(d: _Dets, g: _Gts, p: CocoParams) -> _Matches:
    """pycocotools' greedy matching, vectorised over detections of one rank:
    each detection takes the unmatched non-ignored ground truth with the highest
    IoU >= t (the last on ties), else an ignored one; crowd boxes match many times."""
    c_det, c_gt, c_iou = _candidates(d, g)
    T, A, nd, ng, max_det = len(p.iou_thrs), len(p.area_rng), len(d.pair), len(g.pair), p.max_dets[-1]
    thr = np.minimum(np.array(p.iou_thrs), 1 - 1e-10)
    dtm = np.zeros((A, T, nd), bool)
    dt_ig = np.zeros((A, T, nd), bool)
    gt_ig = np.zeros((A, ng), bool)
    g_pos_base = np.arange(ng) - np.searchsorted(g.pair, g.pair, side="left")
    for a, (lo, hi) in enumerate(p.area_rng):
        ig = g.crowd | (g.area < lo) | (g.area > hi)
        gt_ig[a] = ig
        # position of each gt in pycocotools' gtind order (non-ignored first, stable)
        pos = np.empty(ng, np.int64)
        if ng:
            key = np.lexsort((g_pos_base, ig, g.pair))
            _, pos[key] = _segments(g.pair[key])
        # candidates ordered so the wanted match is the *last* eligible one of its detection:
        # ignored before non-ignored, then IoU ascending, then gtind position ascending
        c_ig = ig[c_gt]
        co = np.lexsort((pos[c_gt], c_iou, ~c_ig, c_det, d.rank[c_det]))
        cd, cg, ciou, cig, ccrowd = c_det[co], c_gt[co], c_iou[co], c_ig[co], g.crowd[c_gt[co]]
        gtm = np.zeros((T, ng), bool)
        r_bounds = np.searchsorted(d.rank[cd], np.arange(max_det + 1), side="left")
        for r in range(max_det):
            s, e = r_bounds[r], r_bounds[r + 1]
            if s == e:
                continue
            dets = cd[s:e]
            starts, _ = _segments(dets)
            gg = cg[s:e]
            elig = (ciou[s:e][None, :] >= thr[:, None]) & (~gtm[:, gg] | ccrowd[s:e][None, :])
            idx = np.where(elig, np.arange(s, e)[None, :] + 1, 0)
            best = np.maximum.reduceat(idx, starts, axis=1)  # [T, n_dets_at_rank]
            hit = best > 0
            if not hit.any():
                continue
            b = best - 1
            seg_det = dets[starts]
            tt, jj = np.nonzero(hit)
            m = b[tt, jj]
            dtm[a, tt, seg_det[jj]] = True
            dt_ig[a, tt, seg_det[jj]] = cig[m]
            gtm[tt, cg[m]] = True  # crowd stays available through ccrowd
        out = (d.area < lo) | (d.area > hi)
        dt_ig[a] |= ~dtm[a] & out[None, :]
    return _Matches(dtm, dt_ig, gt_ig)


def accumulate(d: _Dets, g: _Gts, m: _Matches, p: CocoParams, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class, detections of all images by score: 101-point interpolated
    precision ``[T, R, K, A, M]``, final recall ``[T, K, A, M]`` and the score
    at each recall threshold; ``-1`` where a class has no non-ignored ground truth."""
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rng), len(p.max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    rec_thrs = np.array(p.rec_thrs)
    eps = np.spacing(1)
    # detections of a class in image order then rank (pycocotools' concatenation order)
    oc = np.lexsort((d.rank, d.img, d.cls))
    k_bounds = np.searchsorted(d.cls[oc], np.arange(K + 1))
    g_by_cls = np.argsort(g.cls, kind="stable")
    gk_bounds = np.searchsorted(g.cls[g_by_cls], np.arange(K + 1))
    for k in range(K):
        sel = oc[k_bounds[k] : k_bounds[k + 1]]
        gsel = g_by_cls[gk_bounds[k] : gk_bounds[k + 1]]
        # one stable sort by score per class; a maxDet subset keeps that relative order
        sel = sel[np.argsort(-d.score[sel], kind="mergesort")]
        sel_rank = d.rank[sel]
        for a in range(A):
            npig = int(np.count_nonzero(~m.gt_ig[a, gsel]))
            if npig == 0:
                continue
            m_all = m.dtm[a][:, sel]
            ig_all = m.dt_ig[a][:, sel]
            for mi, mdet in enumerate(p.max_dets):
                keep_m = sel_rank < mdet
                sc = d.score[sel[keep_m]]
                m_, ig_ = m_all[:, keep_m], ig_all[:, keep_m]
                tp_sum = np.cumsum(m_ & ~ig_, axis=1).astype(float)
                fp_sum = np.cumsum(~m_ & ~ig_, axis=1).astype(float)
                n = tp_sum.shape[1]
                if n == 0:
                    recall[:, k, a, mi] = 0
                    precision[:, :, k, a, mi] = 0
                    scores[:, :, k, a, mi] = 0
                    continue
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + eps)
                recall[:, k, a, mi] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(T):
                    ri = np.searchsorted(rc[t], rec_thrs, side="left")
                    ok = ri < n
                    q = np.zeros(R)
                    ss = np.zeros(R)
                    q[ok] = pr[t, ri[ok]]
                    ss[ok] = sc[ri[ok]]
                    precision[t, :, k, a, mi] = q
                    scores[t, :, k, a, mi] = ss
    return precision, recall, scores


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


def _native_eval(g_flat: tuple, d_flat: tuple, n_img: int, K: int, p: CocoParams):
    """The C kernel: ``(precision, recall, scores, detections kept)``."""
    (g_img, g_cls, g_box, g_area, g_crowd), (d_img, d_cls, d_box, d_score) = g_flat, d_flat
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rng), len(p.max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    c = np.ascontiguousarray
    f8, i8 = np.float64, np.int64
    kept = _native.coco_eval(
        c(g_img, i8), c(g_cls, i8), c(g_box, f8), c(g_area, f8), c(g_crowd, np.uint8),
        c(d_img, i8), c(d_cls, i8), c(d_box, f8), c(d_score, f8), n_img, K,
        np.minimum(np.array(p.iou_thrs), 1 - 1e-10), np.array(p.rec_thrs, f8), np.array(p.area_rng, f8), np.array(p.max_dets, i8),
        precision, recall, scores,
    )
    return precision, recall, scores, kept


def evaluate_coco(gt: DetectionDataset, pred: DetectionDataset, params: CocoParams | None = None, *,
                  backend: str | None = None) -> CocoEvalResult:
    """Evaluate ``pred`` (annotations with ``scores``) against ``gt``.  Both use
    ``gt.class_map``; images are matched by ``image_id``.  See
    :func:`evaluate_coco_arrays` for ``backend``."""
    g_flat, d_flat, n_img = _flat_pair(gt, pred)
    return evaluate_coco_arrays(g_flat, d_flat, n_img, gt.class_map.names, params, backend=backend)


def evaluate_coco_arrays(g_flat: tuple, d_flat: tuple, n_img: int, names, params: CocoParams | None = None, *,
                         backend: str | None = None) -> CocoEvalResult:
    """COCO evaluation of flat arrays: ground truth ``(image, class, xyxy, area,
    crowd)``, detections ``(image, class, xyxy, score)``, ``image`` the evaluation
    image index (``0..n_img-1``, pycocotools' sorted image ids), each in file order.
    Steps: prepare (sort, keep maxDets), :func:`match`, :func:`accumulate`, summarise.

    ``backend``: ``"native"`` (the C kernel), ``"numpy"``, or None: the C kernel
    when it was built, else numpy.  Both give the same doubles."""
    p = params or CocoParams()
    K = len(names)
    if backend not in (None, "native", "numpy"):
        raise ValueError(f"backend {backend!r}: choose 'native' or 'numpy'")
    if backend == "native" and _native is None:
        raise RuntimeError("yolotools._native was not built (no C compiler at install time)")
    if backend != "numpy" and _native is not None and K > 0:  # no class at all: nothing to evaluate, numpy says -1
        precision, recall, scores, num_dt = _native_eval(g_flat, d_flat, n_img, K, p)
    else:
        dets, gts = _prepare(g_flat, d_flat, K, p)
        matches = match(dets, gts, p)
        precision, recall, scores = accumulate(dets, gts, matches, p, K)
        num_dt = len(dets.pair)
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
