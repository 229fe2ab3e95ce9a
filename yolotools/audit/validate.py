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
    from ..io import detect_format, load_dataset

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


def _checks_chunk(items, *, decode: bool) -> list[Finding]:
    out = []
    for path, hw in items:
        out += _image_checks(path, hw, decode)
    return out


def _map_image_checks(items: list, decode: bool) -> list[Finding]:
    """Image-file checks, in the process pool above 2,000 images."""
    out: list[Finding] = []
    for res in map_chunks(functools.partial(_checks_chunk, decode=decode), items):
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
    from ..errors import YoloToolsError
    from ..io.files import image_size_hw

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
