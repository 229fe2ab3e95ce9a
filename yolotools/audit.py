"""``yolotools audit``: validate one dataset, or measure drift between two.

Validation (:func:`validate`): everything the readers report (file, line or
object index: malformed files, wrong column counts, non-numeric values, class
ids outside the names, coordinates outside the image, empty boxes, missing or
orphan label files, missing images), plus checks on the loaded boxes and image
files: duplicate and near-duplicate boxes, boxes under ``min_px`` at the
training size, extreme aspect ratios, classes with few samples, truncated JPEGs,
EXIF rotation, header size vs the annotation's size.  Image files are only
opened for their headers (and last bytes) unless ``decode=True``.  Nothing is
ever modified.

Drift (:func:`drift`): per-box properties (area, width, height, aspect, centre)
overall and per class, boxes per image, and class frequencies.  Scores: PSI
(10 quantile bins of A, with a bootstrap interval), Kolmogorov-Smirnov
(statistic, p-value), Wasserstein distance, and for classes Cramér's V plus a
per-class share change.  Flags need both an effect above a stated floor (about
10% in box size or aspect, 3% of the image in centre position, 10% relative in
a class share) and a permutation p-value below ``alpha`` (0.001) from moving
*whole images* between A and B (or, when A and B hold the same images, two
versions of one dataset, from swapping A and B within each image): boxes of one image are not independent (a herd
of sheep), and with ~150 tests at 0.001 a same-distribution pair raises no
false alarm.  Plus the fit of A's anchors (k-means on A, or given ones) on B.

Diff (:func:`diff`): for image ids present in both, boxes matched one-to-one by
IoU >= 0.5 (optimal assignment, same class first, then across classes):
added, removed, class changed, moved/resized (IoU < ``moved_iou``), per class
and the worst images.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .annotations import DetectionDataset
from .boxes import box_iou
from .errors import Problem, Problems

__all__ = ["Finding", "ValidationReport", "validate", "DriftReport", "drift", "DiffReport", "diff", "run_audit", "AuditReport", "box_table"]

log = logging.getLogger(__name__)

FIXES = {
    "malformed_xml": "fix or re-export the XML file",
    "unsafe_xml": "remove the DOCTYPE/ENTITY declarations",
    "missing_size": "add <size> to the XML or make the image readable",
    "bad_columns": "each line must be 'class cx cy w h'",
    "not_numeric": "replace the non-numeric value",
    "bad_class": "use a class id within the names list, or add the class to names",
    "unknown_class": "add the class to the class list or fix the name",
    "empty_box": "delete the line or redraw the box",
    "box_outside_image": "delete the box or redraw it inside the image",
    "box_clipped": "clip the coordinates to the image (0..1)",
    "missing_label": "add a label file (an empty one marks a true background image)",
    "orphan_label": "delete the label file or add its image",
    "missing_image": "add the image or delete its label file",
    "unreadable_image": "re-export or delete the image",
    "truncated_image": "re-export the image (it ends early)",
    "exif_rotation": "apply the EXIF rotation to the pixels and check the boxes",
    "size_mismatch": "fix <size>/width/height to match the image",
    "duplicate_box": "delete the repeated line",
    "near_duplicate_box": "keep one of the two overlapping boxes of the same class",
    "tiny_box": "delete the box or label at a higher resolution",
    "extreme_aspect": "check the box: width/height ratio is extreme",
    "few_samples": "collect more examples of this class or merge it",
    "unreadable_label": "fix the file encoding or permissions",
    "bad_bbox": "bbox must be 4 numbers",
    "unknown_image": "the annotation refers to an image id that does not exist",
    "duplicate_image": "remove the repeated image entry",
}


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    kind: str
    file: str
    where: str
    message: str
    fix: str

    @classmethod
    def of(cls, p: Problem) -> "Finding":
        return cls(p.severity, p.kind, p.path, p.where, p.message, FIXES.get(p.kind, ""))


@dataclass
class ValidationReport:
    source: str
    images: int
    boxes: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        return {"source": self.source, "images": self.images, "boxes": self.boxes, "errors": self.errors, "counts": self.counts(),
                "findings": [asdict(f) for f in self.findings]}

    def to_table(self, limit: int = 40) -> str:
        lines = [f"source   {self.source}", f"images   {self.images}", f"boxes    {self.boxes}",
                 f"findings {len(self.findings)} ({self.errors} errors)"]
        for k, n in self.counts().items():
            lines.append(f"  {k:<22} {n}")
        for f in self.findings[:limit]:
            loc = f"{f.file}:{f.where}" if f.where else f.file
            lines.append(f"{f.severity}: {loc}: {f.message}" + (f"  [fix: {f.fix}]" if f.fix else ""))
        if len(self.findings) > limit:
            lines.append(f"... {len(self.findings) - limit} more (see --json)")
        return "\n".join(lines)


def _line_of(rec, j: int, line_maps: dict) -> str:
    lm = line_maps.get(rec.image_id)
    return str(lm[j]) if lm is not None and j < len(lm) else f"box {j}"


def validate(
    source,
    *,
    split: str | None = None,
    train_size: int = 640,
    min_px: float = 2.0,
    max_aspect: float = 20.0,
    min_samples: int = 10,
    near_dup_iou: float = 0.95,
    decode: bool = False,
) -> tuple[ValidationReport, DetectionDataset]:
    """Validate a dataset (any format the readers load); see the module doc."""
    from .io import detect_format, load_dataset

    fmt = detect_format(source)
    line_maps: dict = {}
    ds, problems = load_dataset(source, split=split, strict=False, line_numbers=line_maps if fmt == "yolo" else None)
    findings = [Finding.of(p) for p in problems]
    recs = ds.records
    # every box of the dataset at once: image index, xyxy, class, training-size scale
    n_per = np.array([len(r.annotations) for r in recs], np.int64)
    img = np.repeat(np.arange(len(recs)), n_per)
    if len(img):
        xyxy = np.concatenate([r.annotations.boxes.xyxy for r in recs if len(r.annotations)])
        cls = np.concatenate([r.annotations.class_ids for r in recs if len(r.annotations)])
        scale = np.array([train_size / max(r.image_hw) for r in recs])[img]
        j_in = np.arange(len(img)) - np.repeat(np.cumsum(n_per) - n_per, n_per)  # box index within its image
        bw, bh = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        label_file: dict[int, str] = {}

        def where(i: int, j: int) -> tuple[str, str]:
            if i not in label_file:
                label_file[i] = _label_path(recs[i], fmt, source)
            if fmt == "coco":
                return label_file[i], f"image {recs[i].image_id} box {j}"
            return label_file[i], _line_of(recs[i], j, line_maps)

        for b in np.flatnonzero(np.minimum(bw, bh) * scale < min_px):
            f, w_ = where(img[b], j_in[b])
            findings.append(Finding("warning", "tiny_box", f, w_, f"box {bw[b]:.1f}x{bh[b]:.1f} px is under {min_px:g} px at training size {train_size}",
                                    FIXES["tiny_box"]))
        asp = np.maximum(bw / np.maximum(bh, 1e-9), bh / np.maximum(bw, 1e-9))
        for b in np.flatnonzero(asp > max_aspect):
            f, w_ = where(img[b], j_in[b])
            findings.append(Finding("warning", "extreme_aspect", f, w_, f"aspect ratio {asp[b]:.1f} > {max_aspect:g}", FIXES["extreme_aspect"]))
        for p, q in _same_class_pairs(img, cls):
            iou = _pair_iou(xyxy[p], xyxy[q])
            for a_, b_, v in zip(p[iou >= near_dup_iou], q[iou >= near_dup_iou], iou[iou >= near_dup_iou]):
                exact = np.allclose(xyxy[a_], xyxy[b_], atol=1e-6)
                kind = "duplicate_box" if exact else "near_duplicate_box"
                f, w_ = where(img[b_], j_in[b_])
                _, w_a = where(img[a_], j_in[a_])
                findings.append(Finding("warning", kind, f, w_, f"{'same box as' if exact else f'IoU {v:.3f} with'} {w_a} (same class)", FIXES[kind]))
    findings += _map_image_checks([(r.path, r.image_hw if fmt != "yolo" else None) for r in recs if r.path is not None], decode)
    counts = ds.counts_per_class()
    for k, n in enumerate(counts):
        if n < min_samples:
            findings.append(Finding("info", "few_samples", str(source), ds.class_map.names[k], f"class {ds.class_map.names[k]!r} has {n} boxes (< {min_samples})",
                                    FIXES["few_samples"]))
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), f.file, f.where))
    return ValidationReport(str(source), len(ds), ds.num_boxes, findings), ds


def _same_class_pairs(img: np.ndarray, cls: np.ndarray):
    """Yield ``(p, q)`` index arrays of every pair of boxes (p < q in file order)
    that share image and class; vectorised per group size."""
    key = img * (int(cls.max()) + 1 if len(cls) else 1) + cls
    o = np.argsort(key, kind="stable")
    ks = key[o]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    sizes = np.diff(np.r_[starts, len(ks)])
    for m in np.unique(sizes[sizes > 1]):
        st = starts[sizes == m]
        groups = o[st[:, None] + np.arange(m)[None, :]]  # (G, m) original indices, file order within image
        pi, qi = np.triu_indices(m, 1)
        yield groups[:, pi].ravel(), groups[:, qi].ravel()


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _checks_chunk(args) -> list[Finding]:
    items, decode = args
    out = []
    for path, hw in items:
        out += _image_checks(path, hw, decode)
    return out


def _map_image_checks(items: list, decode: bool) -> list[Finding]:
    """Image-file checks, in a process pool (fork) above 2,000 images."""
    import math
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .io.voc import _mp_context

    workers = min(os.cpu_count() or 1, 8)
    if len(items) < 2000 or workers == 1 or _mp_context() is None:
        return _checks_chunk((items, decode))
    size = max(256, math.ceil(len(items) / (workers * 8)))
    chunks = [(items[s : s + size], decode) for s in range(0, len(items), size)]
    out: list[Finding] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
        for res in ex.map(_checks_chunk, chunks):
            out += res
    return out


def _label_path(rec, fmt: str, source) -> str:
    """The file a finding about this record's boxes names: the YOLO txt, the VOC
    XML, or the COCO JSON (string ops: this runs per image)."""
    import os

    if fmt == "coco":
        return str(source)
    if rec.path is None:
        return rec.image_id
    p = os.fspath(rec.path)
    if fmt == "voc":
        return os.path.join(os.path.dirname(os.path.dirname(p)), "Annotations", rec.image_id + ".xml")
    if fmt != "yolo":
        return p
    for marker in ("/images/", "/JPEGImages/"):
        i = p.rfind(marker)
        if i >= 0:
            p = p[:i] + "/labels/" + p[i + len(marker):]
            break
    return os.path.splitext(p)[0] + ".txt"


def _image_checks(path, image_hw, decode: bool) -> list[Finding]:
    import os

    out = []
    path = os.fspath(path)
    if not os.path.exists(path):
        return out
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(-2, 2)
            tail = f.read(2)
    except OSError as e:
        return [Finding("error", "unreadable_image", str(path), "", f"cannot read: {e}", FIXES["unreadable_image"])]
    if head[:3] == b"\xff\xd8\xff" and tail != b"\xff\xd9":
        out.append(Finding("error", "truncated_image", str(path), "", "JPEG has no end marker (truncated)", FIXES["truncated_image"]))
    from .errors import YoloToolsError
    from .io.files import image_size_hw

    if image_hw is not None:
        try:
            hw = image_size_hw(path)
        except YoloToolsError as e:
            return out + [Finding("error", "unreadable_image", str(path), "", str(e).split(": ", 1)[-1], FIXES["unreadable_image"])]
    if image_hw is not None and tuple(hw) != tuple(image_hw):
        out.append(Finding("error", "size_mismatch", str(path), "", f"annotation says {image_hw[1]}x{image_hw[0]}, image header {hw[1]}x{hw[0]}",
                           FIXES["size_mismatch"]))
    if head[:3] == b"\xff\xd8\xff":
        try:
            from PIL import Image

            with Image.open(path) as im:
                o = im.getexif().get(0x0112, 1)
                if decode:
                    im.load()
            if o not in (1, None):
                out.append(Finding("warning", "exif_rotation", str(path), "", f"EXIF orientation {o}: viewers rotate the image, labels may not",
                                   FIXES["exif_rotation"]))
        except Exception as e:  # PIL raises many types for corrupt data
            out.append(Finding("error", "unreadable_image", str(path), "", f"cannot decode: {e}", FIXES["unreadable_image"]))
    return out


# ---------------------------------------------------------------- drift


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
    for k, n in enumerate(names):
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
    from .anchors import avg_iou, bpr, dataset_wh, kmeans_anchors

    wa, _, _ = dataset_wh(a, mode="img-size", size=640)
    wb, _, _ = dataset_wh(b, mode="img-size", size=640)
    if len(wa) < 9 or len(wb) == 0:
        return {}
    if anchors is None:
        anchors = np.array(kmeans_anchors(wa, min(9, len(np.unique(wa, axis=0))), restarts=4, mutate_generations=30).anchors)
    return {"anchors": np.asarray(anchors).tolist(), "avg_iou_a": avg_iou(wa, anchors), "avg_iou_b": avg_iou(wb, anchors),
            "bpr_a": bpr(wa, anchors), "bpr_b": bpr(wb, anchors), "units": "pixels at letterbox 640"}


# ---------------------------------------------------------------- diff


@dataclass
class DiffReport:
    shared_images: int
    added: dict[str, int]
    removed: dict[str, int]
    class_changed: dict[str, int]
    moved: dict[str, int]
    unchanged: int
    worst_images: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"images in both   {self.shared_images}", f"boxes unchanged  {self.unchanged}"]
        for title, d in (("added", self.added), ("removed", self.removed), ("class changed", self.class_changed), ("moved/resized", self.moved)):
            tot = sum(d.values())
            lines.append(f"{title:<16} {tot}" + ("  (" + ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda t: -t[1])[:8]) + ")" if tot else ""))
        for w in self.worst_images[:10]:
            lines.append(f"  {w['image_id']}: {w['changes']} changes")
        return "\n".join(lines)


def _assign(score: np.ndarray):
    """Rows/cols of the one-to-one matching with the largest total score."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(-score)


def diff(a: DetectionDataset, b: DetectionDataset, *, match_iou: float = 0.5, moved_iou: float = 0.9) -> DiffReport | None:
    bb = b.by_id()
    shared = [r for r in a.records if r.image_id in bb]
    if not shared:
        return None
    names_a, names_b = a.class_map.names, b.class_map.names
    added, removed, changed, moved = {}, {}, {}, {}
    unchanged = 0
    worst = []

    def inc(d, k):
        d[k] = d.get(k, 0) + 1

    for ra in shared:
        rb = bb[ra.image_id]
        A, B = ra.annotations, rb.annotations
        used_a, used_b = set(), set()
        n_changes = 0
        if len(A) and len(B):
            iou = box_iou(A.boxes.xyxy, B.boxes.xyxy)
            same = np.array([[names_a[x] == names_b[y] for y in B.class_ids] for x in A.class_ids])
            # optimal one-to-one matching: same class first, then any class (relabelled boxes)
            for allowed in (same, np.ones_like(same)):
                ra_ = [i for i in range(len(A)) if i not in used_a]
                rb_ = [j for j in range(len(B)) if j not in used_b]
                if not ra_ or not rb_:
                    break
                sub = iou[np.ix_(ra_, rb_)] * allowed[np.ix_(ra_, rb_)]
                for r, c in zip(*_assign(sub)):
                    if sub[r, c] < match_iou:
                        continue
                    i, j = ra_[r], rb_[c]
                    used_a.add(i)
                    used_b.add(j)
                    ca, cb = names_a[A.class_ids[i]], names_b[B.class_ids[j]]
                    if ca != cb:
                        inc(changed, f"{ca}->{cb}")
                        n_changes += 1
                    elif iou[i, j] < moved_iou:
                        inc(moved, ca)
                        n_changes += 1
                    else:
                        unchanged += 1
        for i in range(len(A)):
            if i not in used_a:
                inc(removed, names_a[A.class_ids[i]])
                n_changes += 1
        for j in range(len(B)):
            if j not in used_b:
                inc(added, names_b[B.class_ids[j]])
                n_changes += 1
        if n_changes:
            worst.append({"image_id": ra.image_id, "changes": n_changes})
    worst.sort(key=lambda w: -w["changes"])
    return DiffReport(len(shared), added, removed, changed, moved, unchanged, worst[:50])


# ---------------------------------------------------------------- the command


@dataclass
class AuditReport:
    validation: ValidationReport
    drift: DriftReport | None = None
    diff: DiffReport | None = None
    html: str | None = None

    def to_dict(self) -> dict:
        d = {"validation": self.validation.to_dict()}
        if self.drift is not None:
            d["drift"] = self.drift.to_dict()
        if self.diff is not None:
            d["diff"] = self.diff.to_dict()
        if self.html:
            d["html"] = self.html
        return d

    def to_table(self) -> str:
        parts = [self.validation.to_table()]
        if self.drift is not None:
            parts.append(self.drift.to_table())
        if self.diff is not None:
            parts.append(self.diff.to_table())
        if self.html:
            parts.append(f"report: {self.html}")
        return "\n\n".join(parts)


def run_audit(source, *, against=None, split: str | None = None, split_b: str | None = None, anchors: np.ndarray | None = None,
              html: str | None = None, decode: bool = False, n_boot: int = 100) -> AuditReport:
    val, ds_a = validate(source, split=split, decode=decode)
    rep = AuditReport(val)
    ds_b = None
    if against is not None:
        from .io import load_dataset

        ds_b, _ = load_dataset(against, split=split_b or split)
        if ds_b.class_map.names != ds_a.class_map.names:
            log.warning("class lists differ between A and B; comparing by name")
        rep.drift = drift(ds_a, ds_b, name_a=str(source), name_b=str(against), anchors=anchors, n_boot=n_boot)
        rep.diff = diff(ds_a, ds_b)
    if html:
        from .report import write_audit_html

        rep.html = write_audit_html(Path(html), rep, ds_a, ds_b)
    return rep
