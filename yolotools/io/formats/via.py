"""VGG Image Annotator (VIA 1.x/2.x) JSON: an export (``{key: {filename, size,
regions, file_attributes}}``) or a whole project (``_via_img_metadata`` holds
the same).

Pixel convention: ``rect`` regions are ``x, y, width, height`` in continuous
pixels (top-left corner).  ``polygon``/``polyline`` regions become their
bounding box, ``circle``/``ellipse`` theirs (counted); ``point`` regions are
reported and skipped.  The class is the region attribute ``label_key``
(default: ``label``, ``class``, ``name`` or ``type``, whichever is there, or
the only attribute); a checkbox-style value (``{"cat": true}``) gives its one
true key.  Other region attributes are kept in ``attrs``.  The file holds no
image size: it comes from the image header or ``image_sizes``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text, load_json
from ..values import finite
from ._build import DatasetBuilder
from .text import Columns, json_str

__all__ = ["read_via", "write_via"]

_KEYS = ("label", "class", "name", "type")


def _label(ra: dict, key: str | None):
    k = key or next((c for c in _KEYS if c in ra), None) or (next(iter(ra)) if len(ra) == 1 else None)
    if k is None or k not in ra:
        return None, k
    v = ra[k]
    if isinstance(v, dict):
        on = [n for n, t in v.items() if t]
        v = on[0] if len(on) == 1 else None
    return v, k


def read_via(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    label_key: str | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    path = Path(path)
    data = load_json(path)
    if isinstance(data, dict) and "_via_img_metadata" in data:
        data = data["_via_img_metadata"]
    if isinstance(data, dict) and "project" in data and "file" in data and "metadata" in data:
        raise YoloToolsError(f"{path}: a VIA 3 project; export annotations as VIA 2 JSON (this reader reads VIA 1/2)")
    if not isinstance(data, dict):
        raise YoloToolsError(f"{path}: expected a VIA JSON object keyed by filename+size")
    problems = Problems(strict=strict)
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    b.prefetch_sizes(item["filename"] for item in data.values() if isinstance(item, dict) and isinstance(item.get("filename"), str))
    for key, item in data.items():
        where = f"{key!r}"
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            problems.error("bad_image_entry", path, "entry needs a string 'filename'; skipped", where)
            continue
        name = item["filename"]
        img = b.entry_image(name, where)
        if img is None:
            continue
        regions = item.get("regions") or []
        if isinstance(regions, dict):  # VIA 1: {"0": region, ...}
            regions = list(regions.values())
        for j, reg in enumerate(regions):
            where_b = f"{where} regions[{j}]"
            sa = reg.get("shape_attributes") if isinstance(reg, dict) else None
            ra = reg.get("region_attributes") if isinstance(reg, dict) else None
            if not isinstance(sa, dict):
                problems.error("bad_box", path, "region has no shape_attributes; skipped", where_b)
                continue
            ra = ra if isinstance(ra, dict) else {}
            kind = sa.get("name")
            if kind == "rect":
                x, y, w, h = (finite(sa.get(k)) for k in ("x", "y", "width", "height"))
                if None in (x, y, w, h):
                    problems.error("bad_box", path, f"rect {sa!r} needs numeric x, y, width, height; skipped", where_b)
                    continue
                x1, y1, x2, y2 = x, y, x + w, y + h
            elif kind in ("polygon", "polyline"):
                xs, ys = sa.get("all_points_x") or [], sa.get("all_points_y") or []
                xs, ys = [finite(v) for v in xs], [finite(v) for v in ys]
                if not xs or len(xs) != len(ys) or None in xs or None in ys:
                    problems.error("bad_box", path, f"{kind} points unreadable; skipped", where_b)
                    continue
                x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
                b.count(f"{kind}_to_box")
            elif kind in ("circle", "ellipse"):
                cx, cy = finite(sa.get("cx")), finite(sa.get("cy"))
                rx = finite(sa.get("r") if kind == "circle" else sa.get("rx"))
                ry = finite(sa.get("r") if kind == "circle" else sa.get("ry"))
                if None in (cx, cy, rx, ry):
                    problems.error("bad_box", path, f"{kind} {sa!r} unreadable; skipped", where_b)
                    continue
                x1, y1, x2, y2 = cx - rx, cy - ry, cx + rx, cy + ry
                b.count(f"{kind}_to_box")
            else:
                problems.warning("unsupported_shape", path, f"region shape {kind!r} is not a box; skipped", where_b)
                continue
            label, k = _label(ra, label_key)
            attrs = {a: v for a, v in ra.items() if a != k and v not in ("", None, {})}
            b.add_box(img, label, x1, y1, x2, y2, where_b, attrs={"region_attributes": attrs} if attrs else None)
    return b.build(), problems


def write_via(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write a VIA 2 annotations export (rect regions, class in region attribute
    ``label``; the key's size is the image file's byte size when it exists, else 0, as panlabel writes);
    ``json.dumps``' compact text, made from the columns."""
    cols = Columns(dataset)
    names = dataset.class_map.names
    qnames = [json_str(n) for n in names]
    x = cols.xyxy
    t = Columns.rows(np.stack([x[:, 0], x[:, 1], x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]], 1),
                     ('{"shape_attributes":{"name":"rect","x":', ',"y":', ',"width":', ',"height":', "},"), as_repr=True)
    cls = cols.cls
    out: dict[str, str] = {}
    for rec, fname, b0, b1 in zip(cols.records, cols.files, cols.starts, cols.ends):
        try:
            size = os.path.getsize(rec.path) if rec.path is not None else 0
        except OSError:
            size = 0
        regs = []
        for j in range(b0, b1):
            shape = t[j]
            extra = cols.attr(j).get("region_attributes")
            if extra:
                regs.append(shape + '"region_attributes":' + json.dumps({"label": names[cls[j]], **extra}, separators=(",", ":")) + "}")
            else:
                regs.append(f'{shape}"region_attributes":{{"label":{qnames[cls[j]]}}}}}')
        out[f"{fname}{size}"] = f'{{"filename":{json_str(fname)},"size":{size},"regions":[{",".join(regs)}],"file_attributes":{{}}}}'
    atomic_write_text(Path(path), "{" + ",".join(f"{json_str(k)}:{v}" for k, v in out.items()) + "}")
    return {"images": len(out), "boxes": len(cls)}
