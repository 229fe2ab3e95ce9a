"""YOLO txt rows (``class cx cy w h [conf]``, normalised) <-> boxes: the one
parser, and the formatter and staged label-file writer of :mod:`.lines`.  With the rest of
``io/yolo/`` this is the only place that divides by the image width/height."""

from __future__ import annotations

import math

import numpy as np

from ...annotations import Annotations
from ...boxes import BoxFormat, Boxes
from ...errors import Problems
from .lines import write_label_file, yolo_lines

__all__ = ["yolo_lines", "format_label_lines", "parse_label_text", "write_label_file"]


def format_label_lines(ann: Annotations, image_hw: tuple[int, int], *, with_scores: bool = False, decimals: int = 6) -> str:
    """YOLO txt text for ``ann`` (see :func:`yolo_lines`)."""
    if len(ann) == 0:
        return ""
    scores = None
    if with_scores:
        scores = (ann.scores if ann.scores is not None else np.ones(len(ann))).tolist()
    return yolo_lines(ann.class_ids.tolist(), ann.boxes.xyxy.tolist(), image_hw, scores, decimals)


TOLERANCE = 1e-6  # coordinates this far outside [0, 1] are kept as written; further ones are clipped (with a warning)


def row_corners(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised corners ``(xy1, xy2)`` of rows ``class cx cy w h ...``."""
    half = a[:, 3:5] / 2
    return a[:, 1:3] - half, a[:, 1:3] + half


def clean_corners(a: np.ndarray, num_classes: int | None, tolerance: float = TOLERANCE, clip: bool = True
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """Normalised corners ``(xy1, xy2)`` of rows ``a (n >= 1, 5+)`` (``class cx cy
    w h ...``), or None unless every row is a valid box: finite, an integer class
    in range, positive size, inside [0, 1] within ``tolerance`` (``clip``).  The
    checks are column minima and maxima (NaN and inf show there), a handful of
    reductions instead of one per check.  The one test of the vectorised YOLO
    paths (this module's parser and :mod:`.columns`)."""
    mn, mx = a.min(0), a.max(0)
    if not (np.isfinite(mn).all() and np.isfinite(mx).all()):
        return None
    c = a[:, 0]
    if mn[0] < 0 or (num_classes is not None and mx[0] >= num_classes) or (c != np.floor(c)).any():
        return None
    if mn[3] <= 0 or mn[4] <= 0:
        return None
    xy1, xy2 = row_corners(a)
    if clip and (xy1.min() < -tolerance or xy2.max() > 1 + tolerance):
        return None
    return xy1, xy2


def corners_to_pixels(xy1: np.ndarray, xy2: np.ndarray, w, h) -> np.ndarray:
    """``(n, 4)`` xyxy pixels of normalised corners; ``w``, ``h`` the image size
    (numbers, or one per row).  The one place the YOLO readers multiply by it."""
    xyxy = np.concatenate([xy1, xy2], 1)
    xyxy *= np.stack([w, h, w, h], -1).astype(np.float64)
    return xyxy


def _parse_clean(text: str, image_hw, num_classes, ncol: int, with_scores: bool, tolerance: float, clip: bool):
    """The vectorised path of :func:`parse_label_text`, or None when any line
    would need a problem reported (wrong columns, blank lines, non-numbers, and
    what :func:`clean_corners` refuses)."""
    rows = [ln.split() for ln in text.splitlines()]
    if not rows:
        return None
    for r in rows:
        if len(r) != ncol:
            return None
    try:
        a = np.array(rows, dtype=np.float64)
    except ValueError:
        return None
    corners = clean_corners(a, num_classes, tolerance, clip)
    if corners is None:
        return None
    h, w = image_hw
    xyxy = corners_to_pixels(*corners, w, h)
    ann = Annotations(Boxes.adopt(xyxy, image_hw), a[:, 0].astype(np.int64), scores=a[:, 5].copy() if with_scores else None)
    return ann, list(range(1, len(rows) + 1))


def parse_label_text(
    text: str,
    path: str,
    image_hw: tuple[int, int],
    num_classes: int | None,
    problems: Problems,
    *,
    with_scores: bool = False,
    tolerance: float = TOLERANCE,
    clip: bool = True,
) -> tuple[Annotations, list[int]]:
    """Parse YOLO txt.  Returns the annotations and, for each kept box, its
    1-based line number.  Bad lines are reported to ``problems`` and skipped;
    coordinates slightly outside [0, 1] (more than ``tolerance``) are clipped with
    a warning (``clip=False``, for predictions: kept as they are).

    Files whose every line is a valid box inside the image (nearly all) take a
    vectorised path with the same arithmetic; any other file takes the line by
    line path that names each problem (a test checks both agree)."""
    ncol = 6 if with_scores else 5
    fast = _parse_clean(text, image_hw, num_classes, ncol, with_scores, tolerance, clip)
    if fast is not None:
        return fast
    rows, cls, scores, lines = [], [], [], []
    for ln, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != ncol:
            problems.error("bad_columns", path, f"expected {ncol} columns, found {len(tok)}; line skipped", ln)
            continue
        try:
            c = float(tok[0])
            vals = [float(t) for t in tok[1:]]
        except ValueError:
            problems.error("not_numeric", path, f"non-numeric value in {line.strip()!r}; line skipped", ln)
            continue
        if not all(math.isfinite(v) for v in vals) or not math.isfinite(c):
            problems.error("not_numeric", path, "NaN or infinite value; line skipped", ln)
            continue
        if c != int(c) or c < 0 or (num_classes is not None and c >= num_classes):
            rng = f"0..{num_classes - 1}" if num_classes else "a non-negative integer"
            problems.error("bad_class", path, f"class id {tok[0]} outside {rng}; line skipped", ln)
            continue
        cx, cy, w, h = vals[:4]
        if w <= 0 or h <= 0:
            problems.error("empty_box", path, f"width/height {w:g}x{h:g} not positive; line skipped", ln)
            continue
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if clip and (x1 < -tolerance or y1 < -tolerance or x2 > 1 + tolerance or y2 > 1 + tolerance):
            cl = (max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0))
            if cl[2] <= cl[0] or cl[3] <= cl[1]:
                problems.error("box_outside_image", path, "box lies entirely outside the image; line skipped", ln)
                continue
            problems.warning("box_clipped", path, "box extends outside [0, 1]; clipped", ln)
            x1, y1, x2, y2 = cl
        rows.append((x1, y1, x2, y2))
        cls.append(int(c))
        lines.append(ln)
        if with_scores:
            scores.append(vals[4])
    boxes = Boxes.from_array(np.array(rows, dtype=np.float64).reshape(-1, 4), BoxFormat.XYXY, normalized=True, image_hw=image_hw)
    ann = Annotations(boxes, cls, scores=scores if with_scores else None)
    return ann, lines
