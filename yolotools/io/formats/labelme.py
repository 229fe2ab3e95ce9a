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
from ..files import inside_root, load_json
from ..values import finite
from ._build import DatasetBuilder
from .images import label_files
from .text import Columns, json_str, write_texts

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
                # outside the labels folder (an export's ../images/x.jpg): the image of that name in the images
                # folder the user gave, else a warning
                found = _in_images(b, ip, f) if images is not None else None
                if found is None:
                    problems.warning("path_outside_dataset", f, f"{e}; image not linked")
                path = found
            else:
                if not path.exists() and images is not None:
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


def _in_images(b: DatasetBuilder, ip: str, f) -> Path | None:
    """The file named as ``imagePath``'s last part in the builder's images folder, when it is there."""
    p = b.find_image(PurePosixPath(ip.replace("\\", "/")).name, "", file=f)
    return p if p is not None and os.path.isfile(p) else None


def write_labelme(dataset: DetectionDataset, folder: Path | str) -> dict:
    """Write one LabelMe JSON per image (``<image id>.json``, rectangles,
    ``imagePath`` = the image file name beside it, no embedded image data),
    each file atomically.  The text is ``json.dumps(doc, indent=2)``'s, made
    from the columns (a box with attributes goes through ``json.dumps``)."""
    folder = Path(folder)
    cols = Columns(dataset)
    names = [json_str(n) for n in dataset.class_map.names]
    t = Columns.rows(cols.xyxy, ('      "points": [\n        [\n          ', ",\n          ", "\n        ],\n        [\n          ",
                                 ",\n          ", "\n        ]\n      ],\n"), as_repr=True)
    cls = cols.cls
    texts = []
    for rec, fname, b0, b1 in zip(cols.records, cols.files, cols.starts, cols.ends):
        h, w = rec.image_hw
        shapes = []
        for j in range(b0, b1):
            a = cols.attr(j)
            if a.get("group_id") is not None or a.get("description", "") != "" or a.get("flags", {}) != {}:
                x1, y1, x2, y2 = cols.xyxy[j].tolist()
                shape = {"label": dataset.class_map.names[cls[j]], "points": [[x1, y1], [x2, y2]], "group_id": a.get("group_id"),
                         "description": a.get("description", ""), "shape_type": "rectangle", "flags": a.get("flags", {})}
                shapes.append("    " + json.dumps(shape, indent=2).replace("\n", "\n    "))
                continue
            shapes.append(f'    {{\n      "label": {names[cls[j]]},\n{t[j]}'
                          f'      "group_id": null,\n      "description": "",\n      "shape_type": "rectangle",\n      "flags": {{}}\n    }}')
        body = "[\n" + ",\n".join(shapes) + "\n  ]" if shapes else "[]"
        texts.append(f'{{\n  "version": "5.4.1",\n  "flags": {{}},\n  "shapes": {body},\n  "imagePath": '
                     f'{json_str(PurePosixPath(fname).name)},\n  "imageData": null,\n  "imageHeight": {h},\n  "imageWidth": {w}\n}}')
    write_texts(folder, [r.image_id + ".json" for r in cols.records], texts, "image id")
    return {"images": len(cols), "boxes": len(cls)}
