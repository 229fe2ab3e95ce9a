"""LabelMe JSON (one file per image, in a folder).

Pixel convention: ``points`` are continuous pixel coordinates, taken as they
are.  ``rectangle``: two corners in any order.  ``polygon`` becomes its
bounding box and ``circle`` (centre, a point on the circle) the circle's
bounding box, each counted; ``point``/``line``/``linestrip``/``points`` are
reported and skipped.  The image id is the JSON file's path in the folder
without ``.json``; ``imagePath`` is relative to the JSON file.  (The id is taken relative to the
deepest folder holding all the JSON files, so an ``annotations/`` folder beside
``images/`` does not become part of every id.)  Shape
``group_id``, ``flags`` and ``description`` are kept in ``attrs``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text, confined_path, inside_root, load_json
from ._build import DatasetBuilder, box_rows, finite, image_file_name, label_files

__all__ = ["read_labelme", "write_labelme"]


def read_labelme(
    folder: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    folder = Path(folder)
    files = label_files(folder, ".json", "a folder of LabelMe JSON files, one per image")
    problems = Problems(strict=strict)
    b = DatasetBuilder(folder, problems, classes=classes, images=images, image_sizes=image_sizes)
    # ids relative to the deepest folder holding every JSON (annotations/ in exports that keep images/ beside it)
    base = Path(os.path.commonpath([str(p.parent) for p in files]))
    for f in files:
        try:
            d = load_json(f)
        except YoloToolsError as e:
            problems.error("malformed_json", f, str(e).split(": ", 1)[-1] + "; skipped")
            continue
        if not isinstance(d, dict) or not isinstance(d.get("shapes"), list):
            problems.warning("not_labelme", f, "not a LabelMe file (no 'shapes' list); skipped")
            continue
        iid = b.image_id(f.relative_to(base).with_suffix("").as_posix(), "", file=f)
        if iid is None:
            continue
        ip = d.get("imagePath")
        path = None
        if isinstance(ip, str) and ip.strip():
            rel = os.path.relpath(os.path.join(os.path.dirname(f), ip.replace("\\", "/")), folder)
            try:
                path = inside_root(folder, rel, what="imagePath")
            except YoloToolsError as e:
                problems.warning("path_outside_dataset", f, f"{e}; image not linked")
            if path is not None and not path.exists() and images is not None:
                path = b.find_image(PurePosixPath(ip.replace("\\", "/")).name, "", file=f)
        hw = (d.get("imageHeight"), d.get("imageWidth")) if finite(d.get("imageHeight")) and finite(d.get("imageWidth")) else None
        img = b.add_image(iid, path, hw, "", file=f)
        if img is None:
            continue
        for j, s in enumerate(d["shapes"]):
            where = f"shapes[{j}]"
            if not isinstance(s, dict):
                problems.error("bad_box", f, "shape is not an object; skipped", where)
                continue
            kind = s.get("shape_type") or "polygon"
            try:
                pts = [(float(p[0]), float(p[1])) for p in s.get("points") or []]
            except (TypeError, ValueError, IndexError):
                problems.error("bad_box", f, f"points {s.get('points')!r} unreadable; skipped", where)
                continue
            if kind == "rectangle" and len(pts) == 2 or kind == "polygon" and len(pts) >= 3:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
                if kind == "polygon":
                    b.count("polygon_to_box")
            elif kind == "circle" and len(pts) == 2:
                r = math.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1])
                x1, y1, x2, y2 = pts[0][0] - r, pts[0][1] - r, pts[0][0] + r, pts[0][1] + r
                b.count("circle_to_box")
            else:
                problems.warning("unsupported_shape", f, f"{kind} with {len(pts)} points is not a box; skipped", where)
                continue
            attrs = {k: s[k] for k in ("group_id", "flags", "description") if s.get(k) not in (None, {}, "")}
            b.add_box(img, s.get("label"), x1, y1, x2, y2, where, file=f, attrs=attrs)
    return b.build(), problems


def write_labelme(dataset: DetectionDataset, folder: Path | str) -> dict:
    """Write one LabelMe JSON per image (``<image id>.json``, rectangles,
    ``imagePath`` = the image file name beside it, no embedded image data)."""
    folder = Path(folder)
    names = dataset.class_map.names
    for rec in dataset.records:
        h, w = rec.image_hw
        shapes = [{"label": names[c], "points": [[x1, y1], [x2, y2]], "group_id": a.get("group_id"),
                   "description": a.get("description", ""), "shape_type": "rectangle", "flags": a.get("flags", {})}
                  for x1, y1, x2, y2, c, a, *_ in box_rows(rec.annotations)]
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": PurePosixPath(image_file_name(rec)).name,
               "imageData": None, "imageHeight": h, "imageWidth": w}
        atomic_write_text(confined_path(folder, rec.image_id + ".json", what="image id"), json.dumps(doc, indent=2))
    return {"images": len(dataset), "boxes": dataset.num_boxes}
