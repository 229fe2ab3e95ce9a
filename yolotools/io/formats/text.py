"""What the labelling-tool writers share: the shortest text of a coordinate
(:func:`num`), a dataset as flat columns (:class:`Columns`), CSV cells, and
many small files written atomically and confined to their folder."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ...annotations import DetectionDataset, ImageRecord
from ..files import atomic_write_text, confined_path, is_plain_name, json_str

__all__ = ["num", "image_file_name", "Columns", "csv_cell", "json_str", "write_texts"]


def num(v: float) -> str:
    """Shortest text that parses back to ``v`` (``104`` for 104.0, ``0.1`` for 0.1)."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def image_file_name(rec: ImageRecord) -> str:
    """The file name a writer records for an image: its id plus the source
    image's extension (``.jpg`` when unknown)."""
    ext = rec.path.suffix if rec.path is not None and rec.path.suffix else ".jpg"
    return rec.image_id + ext


class Columns:
    """A dataset as flat columns for a writer: every box's corners, class,
    flags and attributes in one list each (one numpy call per field, not per
    image), and per image its record and the range of its boxes
    (``starts[i]:ends[i]``).  :meth:`texts` gives many numbers' texts at once."""

    def __init__(self, dataset: DetectionDataset):
        recs = dataset.records
        self.records = recs
        anns = [r.annotations for r in recs]
        cols = dataset.box_columns()
        counts = cols.counts
        self.ends = list(itertools.accumulate(counts))
        self.starts = [e - k for e, k in zip(self.ends, counts)]
        self.xyxy = cols.xyxy
        self.cls = cols.class_ids.tolist()
        self.difficult = cols.is_difficult.tolist()
        self.crowd = cols.is_crowd.tolist()
        self.attrs: list[dict] | None = None  # per box ({} for none), or None when no box has any
        if any(a.attrs is not None for a in anns):
            self.attrs = [x or {} for a, k in zip(anns, counts) for x in (a.attrs.tolist() if a.attrs is not None else [None] * k)]
        self.files = [image_file_name(r) for r in recs]

    def __len__(self) -> int:
        return len(self.records)

    def box_hw(self) -> tuple[np.ndarray, np.ndarray]:
        """Each box's image height and width (float64), for writers of normalised or percent units."""
        hw = np.array([r.image_hw for r in self.records], dtype=np.float64).reshape(-1, 2)
        per_box = np.repeat(hw, np.diff([0] + self.ends).astype(np.int64), axis=0)
        return per_box[:, 0], per_box[:, 1]

    def attr(self, j: int) -> dict:
        return self.attrs[j] if self.attrs is not None else {}

    @staticmethod
    def texts(values: np.ndarray, *, as_repr: bool = False) -> list[str]:
        """:func:`num` of each value (``as_repr``: ``repr``, what ``json.dumps``
        writes for a float)."""
        a = np.ascontiguousarray(values, dtype=np.float64).ravel().tolist()
        return list(map(repr, a)) if as_repr else list(map(num, a))

    @staticmethod
    def rows(values: np.ndarray, parts: Sequence[str], *, as_repr: bool = False) -> list[str]:
        """Per row of ``values`` (``(N, k)``): ``parts[0] + t0 + parts[1] + ... +
        parts[k]`` with each number's :meth:`texts` text (one template per box)."""
        k = len(parts) - 1
        a = np.ascontiguousarray(values, dtype=np.float64).reshape(-1, k)
        t = Columns.texts(a, as_repr=as_repr)
        fmt = "".join(p.replace("{", "{{").replace("}", "}}") + "{}" for p in parts[:k]) + parts[k].replace("{", "{{").replace("}", "}}")
        return [fmt.format(*t[r * k : r * k + k]) for r in range(len(a))]


_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def csv_cell(v) -> str:
    """``v`` as one CSV cell, quoted as ``csv.writer`` quotes it (minimal)."""
    s = str(v)
    if not _CSV_SPECIAL.search(s) and s:
        return s
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([s, ""])  # two cells: a lone empty cell would be written as ""
    return buf.getvalue()[:-1]


def write_texts(folder: Path, names: Sequence[str], texts: Sequence[str], what: str) -> None:
    """Write ``texts[i]`` to ``folder/names[i]`` (names relative, ``/``
    separators, confined to ``folder``), each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(folder)
    for name, text in zip(names, texts):
        q = os.path.join(root, name) if is_plain_name(name) else confined_path(folder, name, what=what)
        atomic_write_text(q, text)
