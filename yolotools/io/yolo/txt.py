"""YOLO txt rows (``class cx cy w h [conf]``, normalised) <-> boxes: the one
parser, and the formatter and staged label-file writer of :mod:`.lines`.  With the rest of
``io/yolo/`` this is the only place that divides by the image width/height."""

from __future__ import annotations

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

    One path: every line's numbers in one array (Python's ``float`` of each
    token, as ``numpy`` converts text), the checks as array operations, and a
    message only for the lines a check stops, in line order."""
    ncol = 6 if with_scores else 5
    toks = [ln.split() for ln in text.splitlines()]
    at = [i for i, t in enumerate(toks) if len(t) == ncol]  # the lines with a box's number of columns
    a, numeric = _numbers([toks[i] for i in at], ncol)
    c, cx, cy, w, h = a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4]
    with np.errstate(invalid="ignore"):
        finite = numeric & np.isfinite(a).all(1)
        good_class = finite & (c == np.floor(c)) & (c >= 0) & (c < (num_classes if num_classes is not None else np.inf))
        sized = good_class & (w > 0) & (h > 0)
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        out = (x1 < -tolerance) | (y1 < -tolerance) | (x2 > 1 + tolerance) | (y2 > 1 + tolerance) if clip else np.zeros(len(a), bool)
        clipped = sized & out
        # Python's max(v, 0.0) and min(v, 1.0): v itself unless the bound is beyond it
        x1 = np.where(clipped & (0.0 > x1), 0.0, x1)
        y1 = np.where(clipped & (0.0 > y1), 0.0, y1)
        x2 = np.where(clipped & (1.0 < x2), 1.0, x2)
        y2 = np.where(clipped & (1.0 < y2), 1.0, y2)
        outside = clipped & ((x2 <= x1) | (y2 <= y1))
    keep = sized & ~outside
    status = np.where(~numeric, 1, np.where(~finite, 2, np.where(~good_class, 3, np.where(~sized, 4, np.where(outside, 5, 0)))))
    status = np.where((status == 0) & clipped, 6, status)
    row_of = dict(zip(at, range(len(at))))
    bad_rows = set(np.flatnonzero(status).tolist())
    for i, t in enumerate(toks):  # the lines a check stops, in order
        r = row_of.get(i)
        if r is None:
            if t:
                problems.error("bad_columns", path, f"expected {ncol} columns, found {len(t)}; line skipped", i + 1)
            continue
        if r in bad_rows:
            _report(int(status[r]), t, a[r], text, i, num_classes, path, problems)
    k = np.flatnonzero(keep)
    boxes = Boxes.from_array(np.stack([x1[k], y1[k], x2[k], y2[k]], 1), BoxFormat.XYXY, normalized=True, image_hw=image_hw)
    ann = Annotations(boxes, c[k].astype(np.int64), scores=a[k, 5] if with_scores else None)
    return ann, [at[j] + 1 for j in k.tolist()]


def _numbers(rows: list[list[str]], ncol: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows as an (n, ncol) float64 array, whether each row is all numbers)``;
    a row with a token that is not a number is NaN (found row by row only then)."""
    try:
        return np.array(rows, dtype=np.float64).reshape(-1, ncol), np.ones(len(rows), bool)
    except ValueError:
        pass
    a = np.full((len(rows), ncol), np.nan)
    numeric = np.zeros(len(rows), bool)
    for r, t in enumerate(rows):
        try:
            a[r] = np.array(t, dtype=np.float64)
            numeric[r] = True
        except ValueError:
            pass
    return a, numeric


def _report(status: int, tok: list[str], v: np.ndarray, text: str, i: int, num_classes, path, problems: Problems) -> None:
    """The problem of line ``i + 1`` (tokens ``tok``, numbers ``v``) that check ``status`` stopped."""
    ln = i + 1
    if status == 1:
        line = text.splitlines()[i]
        problems.error("not_numeric", path, f"non-numeric value in {line.strip()!r}; line skipped", ln)
    elif status == 2:
        problems.error("not_numeric", path, "NaN or infinite value; line skipped", ln)
    elif status == 3:
        rng = f"0..{num_classes - 1}" if num_classes else "a non-negative integer"
        problems.error("bad_class", path, f"class id {tok[0]} outside {rng}; line skipped", ln)
    elif status == 4:
        w, h = float(v[3]), float(v[4])
        problems.error("empty_box", path, f"width/height {w:g}x{h:g} not positive; line skipped", ln)
    elif status == 5:
        problems.error("box_outside_image", path, "box lies entirely outside the image; line skipped", ln)
    else:
        problems.warning("box_clipped", path, "box extends outside [0, 1]; clipped", ln)
