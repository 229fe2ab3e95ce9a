"""YOLO txt rows (``class cx cy w h [conf]``, normalised) <-> boxes: the one
parser, and the formatter and staged label-file writer of :mod:`.lines`.  With the rest of
``io/yolo/`` this is the only place that divides by the image width/height."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ...annotations import Annotations
from ...boxes import Boxes
from ...errors import Problems
from .lines import write_label_file, yolo_lines

__all__ = ["yolo_lines", "format_label_lines", "parse_label_text", "parse_label_texts", "LabelRows", "write_label_file"]


def format_label_lines(ann: Annotations, image_hw: tuple[int, int], *, with_scores: bool = False, decimals: int = 6) -> str:
    """YOLO txt text for ``ann`` (see :func:`yolo_lines`)."""
    if len(ann) == 0:
        return ""
    scores = None
    if with_scores:
        scores = (ann.scores if ann.scores is not None else np.ones(len(ann))).tolist()
    return yolo_lines(ann.class_ids.tolist(), ann.boxes.xyxy.tolist(), image_hw, scores, decimals)


TOLERANCE = 1e-6  # coordinates this far outside [0, 1] are kept as written; further ones are clipped (with a warning)


class LabelRows(NamedTuple):
    """The boxes of many label files, as columns: ``xyxy (n, 4)`` pixels,
    ``class_ids (n,)``, ``scores (n,)`` or None, ``lines (n,)`` (1-based line
    in its file), and ``bounds``: the boxes of file ``i`` are rows
    ``bounds[i]:bounds[i + 1]``.  Read-only arrays."""

    xyxy: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray | None
    lines: np.ndarray
    bounds: np.ndarray


def parse_label_texts(texts: Sequence[str], paths: Sequence[str], image_hws: Sequence[tuple[int, int]], num_classes: int | None,
                      problems: Sequence[Problems], *, with_scores: bool = False, tolerance: float = TOLERANCE,
                      clip: bool = True) -> LabelRows:
    """Parse many YOLO txt files at once (the one parser: :func:`parse_label_text`
    is this for one file).  Bad lines are reported to ``problems[i]`` (file
    ``paths[i]``, in line order) and skipped; coordinates more than ``tolerance``
    outside [0, 1] are clipped with a warning (``clip=False``, for predictions:
    kept as they are).

    Every line's numbers go into one array (Python's ``float`` of each token, as
    ``numpy`` converts text), the checks are array operations over all of them,
    and a message is made only for a line a check stops."""
    ncol = 6 if with_scores else 5
    rows, file_of, line_of, events = [], [], [], []  # events: (file, line, status, tokens) of the lines a check stops
    for f, text in enumerate(texts):
        for ln, line in enumerate(text.splitlines(), 1):
            t = line.split()
            if len(t) == ncol:
                rows.append(t)
                file_of.append(f)
                line_of.append(ln)
            elif t:
                events.append((f, ln, 0, t))
    a, numeric = _numbers(rows, ncol)
    file_of = np.array(file_of, np.int64)
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
    status = np.where(~numeric, 1, np.where(~finite, 2, np.where(~good_class, 3, np.where(~sized, 4, np.where(outside, 5, 0)))))
    status = np.where((status == 0) & clipped, 6, status)
    for r in np.flatnonzero(status).tolist():
        events.append((int(file_of[r]), line_of[r], int(status[r]), (rows[r], a[r])))
    for f, ln, st, info in sorted(events, key=lambda e: (e[0], e[1])):
        _report(st, info, texts[f], ln, num_classes, ncol, paths[f], problems[f])
    k = np.flatnonzero(sized & ~outside)
    kf = file_of[k]
    hw = np.array(image_hws, np.float64).reshape(-1, 2)[kf]
    xyxy = np.stack([x1[k], y1[k], x2[k], y2[k]], 1)
    xyxy *= np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], 1)  # Boxes.from_array's product: w h w h per row
    out_rows = LabelRows(xyxy, c[k].astype(np.int64), a[k, 5].copy() if with_scores else None, np.array(line_of, np.int64)[k],
                         np.searchsorted(kf, np.arange(len(texts) + 1)))
    for arr in out_rows[:4]:
        if arr is not None:
            arr.setflags(write=False)
    return out_rows


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
    """One YOLO txt file (:func:`parse_label_texts`): its annotations and, for
    each kept box, its 1-based line number."""
    r = parse_label_texts([text], [path], [image_hw], num_classes, [problems], with_scores=with_scores, tolerance=tolerance, clip=clip)
    boxes = Boxes.adopt(np.array(r.xyxy), image_hw)
    return Annotations(boxes, r.class_ids, scores=r.scores), r.lines.tolist()


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


def _report(status: int, info, text: str, ln: int, num_classes, ncol: int, path, problems: Problems) -> None:
    """The problem of line ``ln`` that check ``status`` stopped (0: its number of columns; ``info``: its tokens,
    else its tokens and numbers)."""
    if status == 0:
        problems.error("bad_columns", path, f"expected {ncol} columns, found {len(info)}; line skipped", ln)
        return
    tok, v = info
    if status == 1:
        line = text.splitlines()[ln - 1]
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
