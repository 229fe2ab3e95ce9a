"""Apple createML JSON (``[{"image": ..., "annotations": [{"label", "coordinates": {x, y, width, height}}]}]``).

Pixel convention: ``x, y`` is the box centre and ``width, height`` its size, in
pixels of the image (continuous: the box is ``[x - w/2, x + w/2]``).  The file
holds no image size: it comes from the image header (``images``) or
``image_sizes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text, load_json
from ..values import finite
from ._build import DatasetBuilder
from .text import Columns, json_str

__all__ = ["read_createml", "write_createml"]


def read_createml(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise YoloToolsError(f"{path}: expected a createML JSON list of {{image, annotations}} objects")
    problems = Problems(strict=strict)
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    b.prefetch_sizes(item["image"] for item in data if isinstance(item, dict) and isinstance(item.get("image"), str))
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("image"), str):
            problems.error("bad_image_entry", path, "entry needs a string 'image'; skipped", where)
            continue
        name = item["image"]
        img = b.entry_image(name, where)
        if img is None:
            continue
        anns = item.get("annotations") or []
        if not isinstance(anns, list):
            problems.error("bad_box", path, "'annotations' is not a list; image kept without boxes", where)
            continue
        for j, a in enumerate(anns):
            where_b = f"[{i}].annotations[{j}] ({name})"
            c = a.get("coordinates") if isinstance(a, dict) else None
            if not isinstance(c, dict):
                problems.error("bad_box", path, "annotation needs 'coordinates'; skipped", where_b)
                continue
            x, y, w, h = (finite(c.get(k)) for k in ("x", "y", "width", "height"))
            if None in (x, y, w, h):
                problems.error("bad_box", path, f"coordinates {c!r} need numeric x, y, width, height; skipped", where_b)
                continue
            b.add_box(img, a.get("label"), x - w / 2, y - h / 2, x + w / 2, y + h / 2, where_b)
    return b.build(), problems


def write_createml(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write createML JSON (what ``json.dumps`` writes for it, compact; made as
    text from the columns: every float as its repr)."""
    cols = Columns(dataset)
    names = [json_str(n) for n in dataset.class_map.names]
    x = cols.xyxy
    t = Columns.rows(np.stack([(x[:, 0] + x[:, 2]) / 2, (x[:, 1] + x[:, 3]) / 2, x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]], 1),
                     ('"coordinates":{"x":', ',"y":', ',"width":', ',"height":', "}}"), as_repr=True)
    cls = cols.cls
    items = []
    for fname, b0, b1 in zip(cols.files, cols.starts, cols.ends):
        boxes = ",".join(f'{{"label":{names[cls[j]]},{t[j]}' for j in range(b0, b1))
        items.append(f'{{"image":{json_str(fname)},"annotations":[{boxes}]}}')
    atomic_write_text(Path(path), "[" + ",".join(items) + "]")
    return {"images": len(items), "boxes": len(cls)}
