"""Box rows of a YOLO dataset as arrays, for tools that need only the numbers
(``kmeans``): the same sources, checks and arithmetic as :func:`read_yolo`,
without building a record per image.

:func:`read_yolo_columns` reads each label file's bytes and each image's
header, then parses a whole chunk of files at once: one pass over the bytes
finds lines and tokens, one ``numpy`` parse reads the numbers, and the checks of
the reader's vectorised path (columns, integer classes in range, positive
sizes, boxes inside the image within the same tolerance) run on the chunk.  It
returns ``None`` whenever :func:`read_yolo` would have something to say per
file (a bad line, a box to clip, a missing or unreadable image, an unreadable
label file, a BOM, a character that is not part of a number) or keeps boxes the
label files do not hold (a sidecar's ``not_written``): the caller then reads the
dataset with :func:`read_yolo`, which reports every problem by file and line.
So for a given dataset the boxes, image sizes and problems are those of
:func:`read_yolo` (a test compares them bit for bit).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ...annotations import ClassMap
from ...errors import Problems
from ...parallel import map_chunks
from .reader import _image_hw, _jobs, _resolve
from .txt import clean_corners, corners_to_pixels, row_corners

__all__ = ["YoloColumns", "read_yolo_columns"]

# bytes a clean label file holds: digits, sign, point, exponent, blanks, line ends
_ALLOWED = np.zeros(256, bool)
_ALLOWED[np.frombuffer(b"0123456789+-.eE \t\r\n", np.uint8)] = True


@dataclass
class YoloColumns:
    """``image_ids (M,)``, ``image_hw (M, 2)``, ``counts (M,)`` boxes per image,
    ``rows (N, 5)`` float64 ``class cx cy w h`` normalised, in file order, and
    the problems :func:`read_yolo` reports for the same source."""

    class_map: ClassMap
    image_ids: list[str]
    image_hw: np.ndarray
    counts: np.ndarray
    rows: np.ndarray
    problems: Problems

    def xyxy(self) -> np.ndarray:
        """``(N, 4)`` pixels, computed as :func:`read_yolo` computes them."""
        hw = np.repeat(self.image_hw.astype(np.float64), self.counts, axis=0)
        return corners_to_pixels(*row_corners(self.rows), hw[:, 1], hw[:, 0])


def read_yolo_columns(source: Path | str, split: str | None = None, *, names: Sequence[str] | None = None,
                      images: Path | str | None = None, progress: bool = False) -> YoloColumns | None:
    """The box rows of a YOLO source (data.yaml split or labels folder), or
    ``None`` when only :func:`read_yolo` can say what is wrong (module doc)."""
    problems = Problems()
    class_map, pairs, sidecar = _resolve(source, split, names, images, problems)
    jobs = _jobs(pairs, sidecar, problems)
    if any((j[3] or {}).get("not_written") for j in jobs):
        return None
    ids, hws, counts, rows = [], [], [], []
    worker = functools.partial(_columns_chunk, k=len(class_map))
    for res in map_chunks(worker, jobs, progress=progress, desc="read YOLO", unit="img", chunk_size=None):
        if res is None:
            return None
        c_ids, c_hw, c_counts, c_rows, missing = res
        for img, lab in missing:
            problems.add("info", "missing_label", img, f"no label file {lab}; image used as background (no objects)")
        ids += c_ids
        hws.append(c_hw)
        counts.append(c_counts)
        rows.append(c_rows)
    if not ids:
        return YoloColumns(class_map, [], np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros((0, 5)), problems)
    return YoloColumns(class_map, ids, np.concatenate(hws), np.concatenate(counts), np.concatenate(rows), problems)


def _columns_chunk(jobs, *, k: int):
    """Worker: ``(image ids, hw (m, 2), counts (m,), rows (n, 5), missing labels)``
    of one chunk, or ``None`` if any file needs :func:`read_yolo`."""
    ids, hws, texts, missing = [], [], [], []
    for image_id, img, lab, side in jobs:
        img, hw, _ = _image_hw(img, side or {})
        if hw is None:
            return None
        try:
            with open(lab, "rb") as f:
                texts.append(f.read())
        except FileNotFoundError:
            missing.append((img, lab))
            texts.append(b"")
        except OSError:
            return None
        ids.append(image_id)
        hws.append(hw)
    parsed = _parse_many(texts, k)
    if parsed is None:
        return None
    counts, rows = parsed
    return ids, np.array(hws, np.int64).reshape(-1, 2), counts, rows, missing


def _parse_many(texts: list[bytes], k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Boxes per file and the ``(n, 5)`` rows of many label files, or ``None``
    unless every non-blank line of every file is a valid box that needs no
    clipping (the conditions of the reader's vectorised path)."""
    data = b"\n".join(texts) + b"\n"
    b = np.frombuffer(data, np.uint8)
    if not _ALLOWED[b].all():
        return None
    eol = (b == 10) | (b == 13)
    blank = eol | (b == 32) | (b == 9)
    start = ~blank
    start[1:] &= blank[:-1]  # first byte of each token
    line = np.cumsum(eol) - eol  # line index of every byte (a line end belongs to its line)
    n_lines = int(eol.sum())
    tokens = np.bincount(line[start], minlength=n_lines)
    filled = tokens > 0
    if (tokens[filled] != 5).any():
        return None
    # lines of each file: file i starts at byte offsets[i]; its lines are [line[off_i], line[off_{i+1}])
    lens = np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))
    first = line[np.concatenate([[0], np.cumsum(lens)[:-1]])]
    per_line = np.concatenate([[0], np.cumsum(filled)])
    last = np.concatenate([first[1:], [n_lines]])
    counts = per_line[last] - per_line[first]
    n = int(counts.sum())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # older numpy warns on a short parse: the count below catches it
            vals = np.fromstring(data.decode("ascii"), sep=" ") if n else np.zeros(0)
    except ValueError:  # a token numpy cannot read to its end
        return None
    if len(vals) != 5 * n:
        return None
    a = vals.reshape(n, 5)
    if n and clean_corners(a, k) is None:  # the reader's own test of a clean file
        return None
    return counts.astype(np.int64), a
