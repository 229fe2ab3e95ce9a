"""The one YOLO txt formatter and the staged label-file writer, on plain lists:
no numpy, so that ``convert voc`` starts without it (re-exported by
:mod:`yolotools.io.yolo.txt`)."""

from __future__ import annotations

import os
from typing import Sequence

from ..files import check_relative

__all__ = ["yolo_lines", "write_label_file"]


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
