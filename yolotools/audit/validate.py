"""Validation: everything the readers report (file, line or object index),
plus checks on the loaded boxes and image files (duplicates, tiny boxes,
extreme aspect ratios, few samples, truncated or undecodable images, EXIF
rotation, header size vs annotation size), each with a suggested fix."""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from ..annotations import DetectionDataset
from ..errors import Problem
from ..parallel import map_chunks

__all__ = ["FIXES", "Finding", "ValidationReport", "validate"]

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
    crowd: int = 0  # boxes flagged crowd (counted in boxes; convert leaves them out of the txt by default)
    train_size: int = 416

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        return {"source": self.source, "images": self.images, "boxes": self.boxes, "crowd_boxes": self.crowd, "train_size": self.train_size,
                "errors": self.errors, "counts": self.counts(), "findings": [asdict(f) for f in self.findings]}

    def to_table(self, limit: int = 40) -> str:
        lines = [f"source   {self.source}", f"images   {self.images}",
                 f"boxes    {self.boxes}" + (f" ({self.crowd} crowd: convert leaves them out of the txt, keeps them in the sidecar)"
                                            if self.crowd else ""),
                 f"findings {len(self.findings)} ({self.errors} errors)" + ("" if self.findings else ": no findings")]
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
    train_size: int = 416,
    min_px: float = 2.0,
    max_aspect: float = 20.0,
    min_samples: int = 10,
    near_dup_iou: float = 0.95,
    decode: bool = False,
    progress: bool = False,
) -> tuple[ValidationReport, DetectionDataset]:
    """Validate a dataset (any format the readers load); see the module doc."""
    from ..io import detect_format, load_dataset

    fmt = detect_format(source)
    line_maps: dict = {}
    ds, problems = load_dataset(source, split=split, strict=False, line_numbers=line_maps if fmt == "yolo" else None, progress=progress)
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
            findings.append(Finding("warning", "tiny_box", f, w_, f"box {bw[b]:.1f}x{bh[b]:.1f} px becomes {bw[b] * scale[b]:.1f}x{bh[b] * scale[b]:.1f} px "
                                    f"at training size {train_size}, under {min_px:g} px",
                                    FIXES["tiny_box"]))
        asp = np.maximum(bw / np.maximum(bh, 1e-9), bh / np.maximum(bw, 1e-9))
        for b in np.flatnonzero(asp > max_aspect):
            f, w_ = where(img[b], j_in[b])
            findings.append(Finding("warning", "extreme_aspect", f, w_, f"aspect ratio {asp[b]:.1f} > {max_aspect:g}", FIXES["extreme_aspect"]))
        p, q, iou = duplicate_pairs(img, cls, xyxy, near_dup_iou)
        # at most MAX_DUP_FINDINGS_PER_IMAGE findings per image, then one line with the rest's count
        o = np.argsort(img[q], kind="stable")
        p, q, iou = p[o], q[o], iou[o]
        qi = img[q]
        rank = np.arange(len(q)) - np.searchsorted(qi, qi, side="left")
        for i_, n_more in zip(*np.unique(qi[rank >= MAX_DUP_FINDINGS_PER_IMAGE], return_counts=True)):
            f, _ = where(int(i_), 0)
            findings.append(Finding("warning", "duplicate_box", f, "", f"{int(n_more)} more duplicate or near-duplicate boxes in this file",
                                    FIXES["duplicate_box"]))
        keep = rank < MAX_DUP_FINDINGS_PER_IMAGE
        p, q, iou = p[keep], q[keep], iou[keep]
        for a_, b_, v in zip(p.tolist(), q.tolist(), iou.tolist()):
            exact = bool(np.allclose(xyxy[a_], xyxy[b_], atol=1e-6))
            kind = "duplicate_box" if exact else "near_duplicate_box"
            f, w_ = where(img[b_], j_in[b_])
            _, w_a = where(img[a_], j_in[a_])
            findings.append(Finding("warning", kind, f, w_, f"{'same box as' if exact else f'IoU {v:.3f} with'} {w_a} (same class)", FIXES[kind]))
    findings += _map_image_checks([(r.path, r.image_hw if fmt != "yolo" else None) for r in recs if r.path is not None], decode, progress)
    counts = ds.counts_per_class()
    empty = [ds.class_map.names[k] for k, n in enumerate(counts) if n == 0]
    if empty:  # one line for all the classes this split never uses (COCO128 has 9 of 80)
        shown = ", ".join(empty[:12]) + (f" and {len(empty) - 12} more" if len(empty) > 12 else "")
        findings.append(Finding("info", "few_samples", str(source), "", f"{len(empty)} classes have no boxes: {shown}", FIXES["few_samples"]))
    few = [(ds.class_map.names[k], int(n)) for k, n in enumerate(counts) if 0 < n < min_samples]
    if len(few) > 5:  # one line, not one per class (COCO128: 40 classes under 10 boxes)
        shown = ", ".join(f"{c} ({n})" for c, n in few[:20]) + (f" and {len(few) - 20} more" if len(few) > 20 else "")
        findings.append(Finding("info", "few_samples", str(source), "", f"{len(few)} classes have fewer than {min_samples} boxes: {shown}",
                                FIXES["few_samples"]))
    else:
        for c, n in few:
            findings.append(Finding("info", "few_samples", str(source), c, f"class {c!r} has {n} boxes (< {min_samples})", FIXES["few_samples"]))
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), f.file, f.where))
    crowd = int(sum(int(r.annotations.is_crowd.sum()) for r in recs))
    return ValidationReport(str(source), len(ds), ds.num_boxes, findings, crowd, train_size), ds


NEAR_DUP_WINDOW = 16
MAX_DUP_FINDINGS_PER_IMAGE = 50  # then one summary line for that image  # boxes of one image and class compared with each box, in left-edge order


def duplicate_pairs(img: np.ndarray, cls: np.ndarray, xyxy: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same-image, same-class box pairs with IoU >= ``min_iou``: ``(earlier
    index, later index, IoU)``, time ``O(n log n)`` and memory linear in boxes
    (a label file of 300k lines is fine).

    Exact repeats are found by sorting (each repeat paired with the first
    occurrence); near duplicates by a sweep over boxes sorted by left edge,
    since IoU >= t needs ``|x1a - x1b| <= (1 - t) min(wa, wb)``, each box
    compared with at most :data:`NEAR_DUP_WINDOW` following candidates."""
    n = len(img)
    e = np.zeros(0, np.int64)
    if n < 2:
        return e, e, np.zeros(0)
    rows = np.column_stack([img, cls, np.round(xyxy, 6)])
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    rep = first[inverse]
    dup = np.flatnonzero(rep != np.arange(n))  # later copies of an earlier identical box
    p_ex, q_ex = rep[dup], dup
    uniq = np.sort(first)
    if min_iou > 1.0:
        return p_ex, q_ex, np.ones(len(dup))
    u_img, u_cls, u_box = img[uniq], cls[uniq], xyxy[uniq]
    o = np.lexsort((u_box[:, 0], u_cls, u_img))
    g = (u_img[o] * (int(cls.max()) + 1) + u_cls[o]).astype(np.int64)
    x1 = u_box[o, 0]
    w = u_box[o, 2] - u_box[o, 0]
    # group bounds, and how far right each box's window reaches within its group
    g_end = np.searchsorted(g, g, side="right")
    reach = x1 + (1 - min_iou) * np.maximum(w, 0)
    # searchsorted per group: offset x1 by a large multiple of the group index so groups never mix
    span = float(np.abs(xyxy).max()) * 4 + 1.0
    key = g * span + x1
    end = np.searchsorted(key, g * span + reach, side="right")
    end = np.minimum(np.minimum(end, g_end), np.arange(len(o)) + 1 + NEAR_DUP_WINDOW)
    cnt = np.maximum(end - np.arange(len(o)) - 1, 0)
    a = np.repeat(np.arange(len(o)), cnt)
    b = a + 1 + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    pa, pb = uniq[o[a]], uniq[o[b]]
    iou = _pair_iou(xyxy[pa], xyxy[pb])
    keep = iou >= min_iou
    pa, pb, iou = pa[keep], pb[keep], iou[keep]
    lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
    p = np.concatenate([p_ex, lo])
    q = np.concatenate([q_ex, hi])
    v = np.concatenate([np.ones(len(dup)), iou])
    order = np.lexsort((p, q))
    return p[order], q[order], v[order]


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _checks_chunk(items, *, decode: bool) -> list[Finding]:
    out = []
    for path, hw in items:
        out += _image_checks(path, hw, decode)
    return out


def _map_image_checks(items: list, decode: bool, progress: bool = False) -> list[Finding]:
    """Image-file checks, in the process pool above 2,000 images."""
    out: list[Finding] = []
    for res in map_chunks(functools.partial(_checks_chunk, decode=decode), items, progress=progress, desc="check images", unit="img"):
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
    """Checks of one image file through the decoder's own gate
    (:func:`yolotools.io.images.check_image_file`: regular file, header,
    complete JPEG/PNG, size bound) and, with ``decode``, the decoder itself
    (:func:`~yolotools.io.images.decode_rgb`, as training and detect decode)."""
    import os

    from ..errors import YoloToolsError
    from ..io.images import ImageFileError, inspect_image_file

    path = os.fspath(path)
    if not os.path.lexists(path):
        return [Finding("error", "missing_image", path, "", "image file not found (training would fail on it)", FIXES["missing_image"])]
    try:
        info = inspect_image_file(path)
    except ImageFileError as e:
        return [Finding("error", e.kind, path, "", str(e).split(": ", 1)[-1], FIXES[e.kind])]
    hw = info.image_hw
    out = []
    if image_hw is not None and tuple(hw) != tuple(image_hw):
        out.append(Finding("error", "size_mismatch", path, "", f"annotation says {image_hw[1]}x{image_hw[0]}, image header {hw[1]}x{hw[0]}",
                           FIXES["size_mismatch"]))
    if decode:
        from ..io.images import decode_rgb

        try:
            decode_rgb(path)
        except YoloToolsError as e:
            return out + [Finding("error", "unreadable_image", path, "", str(e).split(": ", 1)[-1], FIXES["unreadable_image"])]
    if info.is_jpeg:
        try:
            from PIL import Image

            with Image.open(path) as im:
                o = im.getexif().get(0x0112, 1)
            if o not in (1, None):
                out.append(Finding("warning", "exif_rotation", path, "", f"EXIF orientation {o}: viewers rotate the image, labels may not",
                                   FIXES["exif_rotation"]))
        except Exception as e:  # PIL raises many types for corrupt data
            out.append(Finding("error", "unreadable_image", path, "", f"cannot read EXIF: {e}", FIXES["unreadable_image"]))
    return out


# ---------------------------------------------------------------- drift
