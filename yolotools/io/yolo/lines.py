"""The one YOLO txt formatter and the staged label-file writer, on plain lists:
no numpy, so that ``convert voc`` starts without it (re-exported by
:mod:`yolotools.io.yolo.txt`)."""

from __future__ import annotations

import os
from typing import Sequence

from ..files import check_relative, is_plain_name

__all__ = ["yolo_lines", "write_label_file", "LabelWriter"]


def yolo_lines(class_ids: Sequence[int], xyxy_rows: Sequence[Sequence[float]], image_hw: tuple[int, int],
               scores: Sequence[float] | None = None, decimals: int = 6) -> str:
    """The one YOLO txt formatter: ``class cx cy w h [conf]``, normalised, ``decimals``
    decimals (6, as Darknet/Ultralytics tools write; 6 decimals bound the round-trip
    error by 5e-7 x the image size).

    Pure Python on lists (faster than numpy for the few boxes of one image, and
    the same IEEE arithmetic): ``cx = ((x1 + x2) / 2) / W``, ``w = (x2 - x1) / W``."""
    fh, fw = float(image_hw[0]), float(image_hw[1])
    if decimals == 6 and scores is None:
        return "".join(
            f"{c} {(x1 + x2) / 2.0 / fw:.6f} {(y1 + y2) / 2.0 / fh:.6f} {(x2 - x1) / fw:.6f} {(y2 - y1) / fh:.6f}\n"
            for c, (x1, y1, x2, y2) in zip(class_ids, xyxy_rows)
        )
    f = f"{{:.{int(decimals)}f}}"
    fmt = "{} " + " ".join([f] * 4) + (" {:.6f}" if scores is not None else "") + "\n"
    rows = zip(class_ids, xyxy_rows, scores if scores is not None else [None] * len(class_ids))
    return "".join(
        fmt.format(c, (x1 + x2) / 2.0 / fw, (y1 + y2) / 2.0 / fh, (x2 - x1) / fw, (y2 - y1) / fh, *(() if s is None else (s,)))
        for c, (x1, y1, x2, y2), s in rows
    )


def write_label_file(staging_labels: str, image_id: str, text: str, made: set) -> None:
    """Plain write of one label file into the staging folder (made atomic by
    :func:`commit_staging`)."""
    rel = check_relative(image_id, staging_labels, what="image id")
    path = staging_labels + "/" + rel + ".txt"
    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


class LabelWriter:
    """Write label files into a staging folder as :func:`write_label_file` does,
    the plain ones (an id with no folder part) in batches on one more thread by
    the C module's ``write_files`` (no GIL), so that the caller formats the next
    images while the disk creates these; without the C module, one by one here.
    ``close()`` waits for the thread and raises its first ``OSError`` (which
    names the file)."""

    BATCH = 512

    def __init__(self, staging_labels: str):
        try:
            from ... import _native
        except ImportError:
            _native = None
        os.makedirs(staging_labels, exist_ok=True)
        self.folder = staging_labels
        self._native = _native
        self._made: set = {staging_labels}
        self._paths: list[str] = []
        self._texts: list[str] = []
        self._pending: list = []
        self._pool = None

    def add(self, image_id: str, text: str) -> None:
        if self._native is None or not text.isascii() or not is_plain_name(image_id):
            write_label_file(self.folder, image_id, text, self._made)
            return
        self._paths.append(f"{self.folder}/{image_id}.txt")
        self._texts.append(text)
        if len(self._paths) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._paths:
            return
        from array import array
        from itertools import accumulate

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1)
        ends = array("q", accumulate(map(len, self._texts))).tobytes()  # ASCII: one byte per character
        self._pending.append(self._pool.submit(self._native.write_files, self._paths, bytes(len(self._paths)),
                                               "".join(self._texts).encode("ascii"), ends))
        self._paths, self._texts = [], []

    def close(self, check: bool = True) -> None:
        """Wait for every batch; ``check``: raise the first error (False: the caller is
        already raising one, and only needs no thread writing after it)."""
        if check:
            self._flush()
        try:
            for f in self._pending:
                if check:
                    f.result()
                else:
                    f.exception()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            self._pending = []
