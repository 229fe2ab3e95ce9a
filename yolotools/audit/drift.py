"""Drift between two datasets or splits: per-box properties overall and per
class, boxes per image, class frequencies; PSI, KS, Wasserstein, Cramér's V;
flags need an effect above a floor *and* an image-level permutation p-value
below ``alpha``; plus the fit of A's anchors on B."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from ..annotations import DetectionDataset

__all__ = ["PROPS", "SCALE_PROPS", "FLOORS", "box_table", "psi", "DriftReport", "drift"]

log = logging.getLogger(__name__)


PROPS = ("area", "width", "height", "aspect", "cx", "cy")


def box_table(ds: DetectionDataset) -> dict[str, np.ndarray]:
    """Per-box arrays: class, normalised area/width/height, log aspect, centre."""
    cols = {k: [] for k in ("cls", *PROPS)}
    per_image = []
    for r in ds.records:
        a = r.annotations
        per_image.append(len(a))
        if not len(a):
            continue
        h, w = r.image_hw
        wh = a.boxes.wh / [w, h]
        c = (a.boxes.xyxy[:, :2] + a.boxes.xyxy[:, 2:]) / 2 / [w, h]
        cols["cls"].append(a.class_ids)
        cols["width"].append(wh[:, 0])
        cols["height"].append(wh[:, 1])
        cols["area"].append(wh[:, 0] * wh[:, 1])
        cols["aspect"].append(np.log(np.maximum(wh[:, 0], 1e-12) / np.maximum(wh[:, 1], 1e-12)))
        cols["cx"].append(c[:, 0])
        cols["cy"].append(c[:, 1])
    out = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    out["cls"] = out["cls"].astype(np.int64)
    out["per_image"] = np.array(per_image, float)
    return out


def psi(a: np.ndarray, b: np.ndarray, bins: int = 10) -> float:
    """Population stability index with ``bins`` quantile bins of ``a``."""
    if len(a) < 2 or len(b) < 2:
        return 0.0
    edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0
    pa = np.histogram(np.clip(a, edges[0], edges[-1]), edges)[0] / len(a)
    pb = np.histogram(np.clip(b, edges[0], edges[-1]), edges)[0] / len(b)
    pa, pb = np.maximum(pa, 1e-4), np.maximum(pb, 1e-4)
    return float(np.sum((pb - pa) * np.log(pb / pa)))


def _bootstrap_psi(a, b, rng, n_boot: int) -> tuple[float, float]:
    vals = [psi(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))]) for _ in range(n_boot)]
    lo, hi = np.quantile(vals, [0.05, 0.95])
    return float(lo), float(hi)


def _score(a, b, rng, n_boot) -> dict:
    from scipy import stats

    if len(a) < 5 or len(b) < 5:
        return {"n_a": int(len(a)), "n_b": int(len(b)), "psi": None, "flag": False}
    p = psi(a, b)
    lo, hi = _bootstrap_psi(a, b, rng, n_boot)
    # a statistic computed on resamples of one set alone: the noise floor of PSI at these sizes
    null = [psi(a[rng.integers(0, len(a), len(a))], a[rng.integers(0, len(a), len(b))]) for _ in range(max(20, n_boot // 2))]
    import warnings

    with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp" is expected for large sets
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(a, b)
    return {"n_a": int(len(a)), "n_b": int(len(b)), "psi": p, "psi_ci90": [lo, hi], "psi_noise95": float(np.quantile(null, 0.95)),
            "ks": float(ks.statistic), "ks_p": float(ks.pvalue), "wasserstein": float(stats.wasserstein_distance(a, b)),
            "mean_a": float(np.mean(a)), "mean_b": float(np.mean(b))}


@dataclass
class DriftReport:
    a: str
    b: str
    properties: dict[str, dict]
    per_class: dict[str, dict[str, dict]]
    classes: dict[str, dict]
    cramers_v: float
    anchor_fit: dict
    flagged: list[str]
    alpha: float
    share_threshold: float
    paired: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"A  {self.a}", f"B  {self.b}",
                 f"{'property':<16} {'PSI':>7} {'noise95':>8} {'KS':>6} {'KS p':>9} {'EMD':>8} {'shift':>8} {'perm p':>8}  flag"]
        # noise95: the PSI two resamples of A reach at these sizes (95th percentile); a PSI under it is noise.
        # (The bootstrap interval psi_ci90 stays in the JSON; PSI is biased upward under resampling, so on small
        # sets that interval can lie entirely above the point estimate.)
        for k, v in self.properties.items():
            if v.get("psi") is None:
                continue
            lines.append(f"{k:<16} {v['psi']:7.3f} {v['psi_noise95']:8.3f} {v['ks']:6.3f} {v['ks_p']:9.2e} {v['wasserstein']:8.4f} {v['mean_shift']:8.3f} "
                         f"{v['p_perm']:8.4f}  {'DRIFT' if v['flag'] else ''}")
        lines.append(f"class frequencies: Cramér's V {self.cramers_v:.3f}")
        for name, v in self.classes.items():
            if v["flag"]:
                lines.append(f"  {name:<16} share {v['share_a']:.4f} -> {v['share_b']:.4f} ({v['rel_change']:+.0%})  DRIFT")
        for name, props in self.per_class.items():
            fl = [p for p, v in props.items() if v.get("flag")]
            if fl:
                lines.append(f"  class {name:<12} drift in {', '.join(fl)}")
        af = self.anchor_fit
        if af:
            lines.append(f"anchors of A on B: avg IoU {af['avg_iou_b']:.4f} (on A {af['avg_iou_a']:.4f}), BPR {af['bpr_b']:.4f} (on A {af['bpr_a']:.4f})")
        lines.append("flagged: " + (", ".join(self.flagged) if self.flagged else "none (no drift at the stated thresholds)"))
        return "\n".join(lines)


SCALE_PROPS = ("area", "width", "height")  # compared in log space: a floor of 0.1 is a ~10% size change
FLOORS = {"area": 0.1, "width": 0.1, "height": 0.1, "aspect": 0.1, "cx": 0.03, "cy": 0.03, "per_image": 0.25}


def _per_image(ds: DetectionDataset, names_index: np.ndarray | None = None):
    """Per image: class ids and property values of its boxes (for image-level permutation)."""
    t = box_table(ds)
    counts = t["per_image"].astype(np.int64)
    img = np.repeat(np.arange(len(counts)), counts)
    cls = t["cls"] if names_index is None else names_index[t["cls"]]
    vals = {p: (np.log(np.maximum(t[p], 1e-12)) if p in SCALE_PROPS else t[p]) for p in PROPS}
    return img, cls, vals, counts, t


def _perm_sets(n_a: int, n_b: int, n_perm: int, rng) -> np.ndarray:
    """``(n_perm, n_a + n_b)`` float32 0/1 rows: which images play "B" in each
    permutation (shared by every test of one drift run)."""
    n = n_a + n_b
    sel = np.zeros((n_perm, n), np.float32)
    for s in range(0, n_perm, 256):
        m = min(256, n_perm - s)
        idx = np.argpartition(rng.random((m, n)), n_b - 1, axis=1)[:, :n_b] if n_b < n else np.tile(np.arange(n), (m, 1))
        np.put_along_axis(sel[s : s + m], idx, 1.0, axis=1)
    return sel


def _perm_test(img_a, v_a, n_img_a, img_b, v_b, n_img_b, sel: np.ndarray) -> tuple[float, float]:
    """Difference of means (B - A) and its two-sided p-value from permuting whole
    images between A and B (boxes of one image move together)."""
    if len(v_a) < 2 or len(v_b) < 2:
        return 0.0, 1.0
    n = n_img_a + n_img_b
    s = np.zeros(n)
    c = np.zeros(n)
    np.add.at(s, img_a, v_a)
    np.add.at(c, img_a, 1)
    np.add.at(s, img_b + n_img_a, v_b)
    np.add.at(c, img_b + n_img_a, 1)
    d0 = float(np.mean(v_b) - np.mean(v_a))
    used = c > 0  # only images with boxes in this test matter
    sl = sel[:, used].astype(np.float64)
    sb, cb = sl @ s[used], sl @ c[used]
    sa, ca = s.sum() - sb, c.sum() - cb
    ok = (cb > 0) & (ca > 0)
    d = np.where(ok, sb / np.maximum(cb, 1) - sa / np.maximum(ca, 1), 0.0)
    hits = int((np.abs(d) >= abs(d0) - 1e-12).sum())
    return d0, (hits + 1) / (len(sel) + 1)


def _paired_test(img_a, v_a, img_b, v_b, n_img: int, swap: np.ndarray) -> tuple[float, float]:
    """Paired version (A and B hold the same images, index-aligned): the
    permutations swap A and B *within* each image."""
    if len(v_a) < 2 or len(v_b) < 2:
        return 0.0, 1.0
    sa, ca, sb, cb = (np.zeros(n_img) for _ in range(4))
    np.add.at(sa, img_a, v_a)
    np.add.at(ca, img_a, 1)
    np.add.at(sb, img_b, v_b)
    np.add.at(cb, img_b, 1)
    d0 = float(np.mean(v_b) - np.mean(v_a))
    used = (ca + cb) > 0
    w = swap[:, used].astype(np.float64)
    ds, dc = (sa - sb)[used], (ca - cb)[used]
    SB, CB = sb.sum() + w @ ds, cb.sum() + w @ dc
    SA, CA = sa.sum() + sb.sum() - SB, ca.sum() + cb.sum() - CB
    ok = (CB > 0) & (CA > 0)
    d = np.where(ok, SB / np.maximum(CB, 1) - SA / np.maximum(CA, 1), 0.0)
    return d0, (int((np.abs(d) >= abs(d0) - 1e-12).sum()) + 1) / (len(swap) + 1)


def drift(
    a: DetectionDataset,
    b: DetectionDataset,
    *,
    name_a: str = "A",
    name_b: str = "B",
    alpha: float = 0.001,
    share_threshold: float = 0.1,
    n_perm: int = 2000,
    n_boot: int = 50,
    seed: int = 0,
    anchors: np.ndarray | None = None,
    min_class_boxes: int = 30,
    progress: bool = False,
) -> DriftReport:
    """Drift scores of B against A.  A property (overall or within a class) is
    flagged when its mean shift (log space for sizes) exceeds its floor
    (``FLOORS``: ~10% in size or aspect, 3% of the image in centre position) and
    a permutation test that moves whole images between A and B gives
    ``p < alpha``; a class share is flagged when it changes by more than
    ``share_threshold`` (relative) with ``p < alpha``.  PSI (with bootstrap
    interval), KS and Wasserstein are reported for every property."""
    rng = np.random.default_rng(seed)
    m_b = None
    if b.class_map.names != a.class_map.names:  # compare classes by name
        m_b = np.array([a.class_map.names.index(n) if n in a.class_map.names else -1 for n in b.class_map.names], np.int64)
    ids_a = [r.image_id for r in a.records]
    ids_b = {r.image_id: i for i, r in enumerate(b.records)}
    paired = len(ids_a) == len(ids_b) and all(i in ids_b for i in ids_a)
    if paired:  # two versions of one dataset: align B's images with A's and test within images
        b = DetectionDataset(b.class_map, tuple(b.records[ids_b[i]] for i in ids_a))
    ia, ca_, va, cnt_a, ta = _per_image(a)
    ib, cb_, vb, cnt_b, tb = _per_image(b, m_b)
    na_img, nb_img = len(cnt_a), len(cnt_b)
    if paired:
        swap = (rng.random((n_perm, na_img)) < 0.5).astype(np.float32)

        def _perm(i_a, v_a, n_a, i_b, v_b, n_b, _sel):
            return _paired_test(i_a, v_a, i_b, v_b, n_a, swap)
    else:
        _perm = _perm_test
    sel = None if paired else _perm_sets(na_img, nb_img, n_perm, rng)

    def test(prop, mask_a, mask_b, raw_a, raw_b):
        sc = _score(raw_a, raw_b, rng, n_boot)
        d, p = _perm(ia[mask_a], va[prop][mask_a] if prop in va else raw_a, na_img, ib[mask_b], vb[prop][mask_b] if prop in vb else raw_b,
                          nb_img, sel)
        sc.update({"mean_shift": d, "p_perm": p, "floor": FLOORS[prop]})
        sc["flag"] = bool(abs(d) > FLOORS[prop] and p < alpha)
        return sc

    all_a, all_b = np.ones(len(ia), bool), np.ones(len(ib), bool)
    props = {p: test(p, all_a, all_b, ta[p], tb[p]) for p in PROPS}
    # boxes per image: one value per image
    sc = _score(cnt_a.astype(float), cnt_b.astype(float), rng, n_boot)
    d, pv = _perm(np.arange(na_img), cnt_a.astype(float), na_img, np.arange(nb_img), cnt_b.astype(float), nb_img, sel)
    sc.update({"mean_shift": d, "p_perm": pv, "floor": FLOORS["per_image"], "flag": bool(abs(d) > FLOORS["per_image"] and pv < alpha)})
    props["boxes_per_image"] = sc
    names = a.class_map.names
    per_class = {}
    from tqdm.auto import tqdm

    for k, n in enumerate(tqdm(names, desc="drift per class", unit="class", disable=not progress, leave=False)):
        ma, mb = ca_ == k, cb_ == k
        if ma.sum() < min_class_boxes or mb.sum() < min_class_boxes:
            continue
        per_class[n] = {p: test(p, ma, mb, ta[p][ma], tb[p][mb]) for p in PROPS}
    K = len(names)
    cka, ckb = np.bincount(ca_[ca_ >= 0], minlength=K).astype(float), np.bincount(cb_[cb_ >= 0], minlength=K).astype(float)
    cv = _cramers_v(cka, ckb)
    classes = {}
    na, nb = max(cka.sum(), 1), max(ckb.sum(), 1)
    for k, n in enumerate(names):
        sa, sb = cka[k] / na, ckb[k] / nb
        rel = (sb - sa) / sa if sa > 0 else (np.inf if sb > 0 else 0.0)
        # share of class k = mean over boxes of [class == k]; permute images
        d, pv = _perm(ia, (ca_ == k).astype(float), na_img, ib, (cb_ == k).astype(float), nb_img, sel) if cka[k] + ckb[k] else (0.0, 1.0)
        fl = bool(cka[k] + ckb[k] >= min_class_boxes and abs(rel) > share_threshold and pv < alpha)
        classes[n] = {"count_a": int(cka[k]), "count_b": int(ckb[k]), "share_a": float(sa), "share_b": float(sb), "rel_change": float(rel),
                      "p_perm": pv, "flag": fl}
    anchor_fit = _anchor_fit(a, b, anchors)
    flagged = [p for p, v in props.items() if v["flag"]] + [f"class:{n}" for n, v in classes.items() if v["flag"]]
    flagged += [f"{n}:{p}" for n, pp in per_class.items() for p, v in pp.items() if v["flag"]]
    return DriftReport(name_a, name_b, props, per_class, classes, cv, anchor_fit, flagged, alpha, share_threshold, paired)


def _cramers_v(ca: np.ndarray, cb: np.ndarray) -> float:
    table = np.stack([ca, cb])
    table = table[:, table.sum(0) > 0]
    if table.shape[1] < 2:
        return 0.0
    n = table.sum()
    exp = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - exp) ** 2 / exp).sum())
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def _anchor_fit(a: DetectionDataset, b: DetectionDataset, anchors) -> dict:
    from ..anchors import avg_iou, bpr, dataset_wh, kmeans_anchors

    wa, _, _ = dataset_wh(a, mode="img-size", size=640)
    wb, _, _ = dataset_wh(b, mode="img-size", size=640)
    if len(wa) < 9 or len(wb) == 0:
        return {}
    if anchors is None:
        anchors = np.array(kmeans_anchors(wa, min(9, len(np.unique(wa, axis=0))), restarts=4, mutate_generations=30).anchors)
    return {"anchors": np.asarray(anchors).tolist(), "avg_iou_a": avg_iou(wa, anchors), "avg_iou_b": avg_iou(wb, anchors),
            "bpr_a": bpr(wa, anchors), "bpr_b": bpr(wb, anchors), "units": "pixels at letterbox 640"}


# ---------------------------------------------------------------- diff
