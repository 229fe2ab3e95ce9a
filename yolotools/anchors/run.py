"""``yolotools kmeans``: box sizes of a dataset at the training size, the
clustering (:mod:`.kmeans`), scoring given anchors, and the plot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import YoloToolsError
from .kmeans import AnchorResult, _best_iou, bpr, cfg_lines, kmeans_anchors

__all__ = ["dataset_wh", "scaled_wh", "parse_anchor_list", "evaluate_anchors", "KMeansRun", "run_kmeans", "plot_anchors"]

log = logging.getLogger(__name__)


def dataset_wh(dataset, *, mode: str = "img-size", size: int = 416, min_px: float = 2.0) -> tuple[np.ndarray, int, str]:
    """Box (w, h) of a :class:`DetectionDataset` in the units of ``mode``:

    - ``normalized``: ``w / W, h / H`` (YOLOv2 paper);
    - ``img-size``: letterbox to ``size`` (long side -> ``size``, as Ultralytics), pixels;
    - ``stretch``: ``w / W * size, h / H * size`` (Darknet's calc_anchors), pixels.

    Boxes with a side under ``min_px`` pixels at the training size (letterbox to
    ``size``) are dropped and counted.  Returns ``(wh, n_filtered, units)``."""
    recs = [r for r in dataset if len(r.annotations)]
    if not recs:
        return scaled_wh(np.zeros((0, 2)), np.zeros((0, 2), np.int64), mode=mode, size=size, min_px=min_px)
    bwh = np.concatenate([r.annotations.boxes.wh for r in recs])
    hw = np.repeat(np.array([r.image_hw for r in recs], np.int64), [len(r.annotations) for r in recs], axis=0)
    return scaled_wh(bwh, hw, mode=mode, size=size, min_px=min_px)


def scaled_wh(bwh: np.ndarray, hw: np.ndarray, *, mode: str = "img-size", size: int = 416, min_px: float = 2.0
              ) -> tuple[np.ndarray, int, str]:
    """:func:`dataset_wh` of box sizes ``bwh (N, 2)`` pixels whose images are ``hw (N, 2)``."""
    units = {"normalized": "fraction of image w/h", "img-size": f"pixels at letterbox {size}", "stretch": f"pixels at {size}x{size} stretch"}
    if mode not in units:
        raise YoloToolsError(f"unknown scaling mode {mode!r}")
    if not len(bwh):
        return np.zeros((0, 2)), 0, mode
    h, w = hw[:, 0].astype(np.float64), hw[:, 1].astype(np.float64)
    px = bwh * (size / np.maximum(h, w))[:, None]
    if mode == "normalized":
        wh = bwh / np.stack([w, h], 1)
    elif mode == "img-size":
        wh = px
    else:
        wh = bwh / np.stack([w, h], 1) * size
    keep = (px >= min_px).all(1)
    return wh[keep], int((~keep).sum()), units[mode]


def parse_anchor_list(text: str) -> np.ndarray:
    """``"10,13, 16,30, ..."`` -> ``(K, 2)``; a clear error for odd counts or junk."""
    try:
        vals = [float(t) for t in text.replace(";", ",").replace(" ", ",").split(",") if t.strip()]
    except ValueError:
        raise YoloToolsError(f"anchors {text!r}: expected numbers 'w,h, w,h, ...'") from None
    if not vals or len(vals) % 2:
        raise YoloToolsError(f"anchors {text!r}: expected an even number of values, got {len(vals)}")
    a = np.array(vals).reshape(-1, 2)
    if not np.isfinite(a).all() or (a <= 0).any():
        raise YoloToolsError(f"anchors {text!r}: every width/height must be a positive number")
    return a


def evaluate_anchors(wh: np.ndarray, anchors: np.ndarray, *, anchor_t: float = 4.0, units: str = "", n_filtered: int = 0, decimals: int = 0) -> AnchorResult:
    """Score given anchors on boxes (no clustering)."""
    wh = np.asarray(wh, np.float64)
    if len(wh) == 0:
        raise YoloToolsError("no boxes to evaluate the anchors on")
    anchors = np.asarray(anchors, np.float64)
    order = np.argsort(anchors[:, 0] * anchors[:, 1], kind="stable")
    anchors = anchors[order]
    best, idx = _best_iou(wh, anchors)
    return AnchorResult(
        anchors=anchors.tolist(),
        avg_iou=float(best.mean()),
        bpr=bpr(wh, anchors, anchor_t),
        boxes_per_anchor=np.bincount(idx, minlength=len(anchors)).tolist(),
        n_boxes=int(len(wh)),
        n_filtered=n_filtered,
        units=units,
        anchor_t=anchor_t,
        method={"evaluate": True},
        cfg=cfg_lines(anchors, decimals),
    )


@dataclass
class KMeansRun:
    """What ``yolotools kmeans`` reports: the result plus how boxes were scaled."""

    result: AnchorResult
    mode: str
    size: int
    grid: int | None
    source: str
    problems: list[dict]
    plot: str | None = None

    def to_dict(self) -> dict:
        d = self.result.to_dict()
        d.update({"mode": self.mode, "size": self.size, "grid": self.grid, "source": self.source, "problems": self.problems})
        if self.plot:
            d["plot"] = self.plot
        return d

    def to_table(self) -> str:
        return f"source           {self.source}\n" + self.result.to_table() + (f"\n\nplot: {self.plot}" if self.plot else "")


def run_kmeans(
    source,
    k: int = 9,
    *,
    split: str | None = None,
    convention: str = "exact",
    mode: str = "img-size",
    size: int = 416,
    grid: int | None = None,
    evaluate: str | None = None,
    min_px: float = 2.0,
    anchor_t: float = 4.0,
    plot: str | None = None,
    heads: int | None = None,
    progress: bool = False,
    **kmeans_kw,
) -> KMeansRun:
    """Load a dataset, scale its boxes (:func:`dataset_wh`), cluster or evaluate.

    With ``grid`` the anchors are given in grid-cell units (YOLOv2 ``[region]``):
    pixels / (size / grid), or fractions * grid."""
    from ..io import load_dataset

    ds, problems = load_dataset(source, split=split, convention=convention, progress=progress)
    wh, n_filtered, units = dataset_wh(ds, mode=mode, size=size, min_px=min_px)
    factor = 1.0
    if grid:
        factor = grid if mode == "normalized" else grid / size
        units = f"grid cells ({grid}x{grid})"
    decimals = 0 if (mode != "normalized" and not grid) else 4
    if evaluate:
        anchors = parse_anchor_list(evaluate) / factor
        res = evaluate_anchors(wh, anchors, anchor_t=anchor_t, n_filtered=n_filtered, units=units)
    else:
        res = kmeans_anchors(wh, k, anchor_t=anchor_t, units=units, **kmeans_kw)
        res.n_filtered = n_filtered
    if factor != 1.0:
        scaled = np.array(res.anchors) * factor
        res.anchors = scaled.tolist()
        res.cfg = cfg_lines(scaled, decimals, heads)
    else:
        res.cfg = cfg_lines(np.array(res.anchors), decimals, heads)
    if plot:
        plot_anchors(wh * factor, np.array(res.anchors), plot, title=f"{Path(str(source)).name}: k={len(res.anchors)}, avg IoU {res.avg_iou:.3f}, BPR {res.bpr:.3f}", units=units)
    return KMeansRun(res, mode, size, grid, str(source), [p.to_dict() for p in problems], str(plot) if plot else None)


def plot_anchors(wh: np.ndarray, anchors: np.ndarray, path, *, title: str = "", units: str = "", max_points: int = 20000) -> None:
    """Scatter of box sizes with the anchors, written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..figures import save_png

    rng = np.random.default_rng(0)
    pts = wh if len(wh) <= max_points else wh[rng.choice(len(wh), max_points, replace=False)]
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.25, color="tab:blue", label=f"boxes ({len(wh):,})")
    ax.scatter(anchors[:, 0], anchors[:, 1], s=80, marker="x", color="tab:red", label=f"anchors ({len(anchors)})")
    for a in anchors:
        ax.annotate(f"{a[0]:.3g}x{a[1]:.3g}", (a[0], a[1]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"width ({units})")
    ax.set_ylabel(f"height ({units})")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    save_png(fig, Path(path))
