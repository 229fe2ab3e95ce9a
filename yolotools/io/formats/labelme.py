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

import numpy as np

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import inside_root, load_json
from ._build import Columns, DatasetBuilder, _has_suffix, clean_dataset, finite, int_hw, json_str, label_files, read_many, write_texts

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
    if not strict:
        ds = _fast(folder, files, images, classes, image_sizes)
        if ds is not None:
            return ds, problems
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


def _fast(folder: Path, files: list[Path], images, classes, image_sizes):
    """The reader's fast path (:func:`~._build.clean_dataset`): a flat folder
    of LabelMe files with rectangles only and nothing to report (their images
    found as the per-file path finds them); None otherwise."""
    import orjson

    fd = os.fspath(folder)
    if not os.path.isabs(fd) or os.path.normpath(fd) != fd:
        return None
    strs = [os.fspath(f) for f in files]
    rels = []
    for s in strs:
        if not s.startswith(fd + "/") or "/" in s[len(fd) + 1 :]:
            return None
        rels.append(s[len(fd) + 1 : -5])
    probe = Problems()
    b = DatasetBuilder(folder, probe, images=images)  # its find_image, whose problems must stay none
    listing = None
    if images is not None:  # name -> (is a link, is a file) of the images folder, read once
        try:
            with os.scandir(images) as it:
                listing = {e.name: (e.is_symlink(), e.is_file()) for e in it}
        except OSError:
            return None
    img_root = os.fspath(images) if images is not None else ""
    texts = read_many(strs)
    if any(t is None for t in texts):
        return None

    def image_path(f, ip):
        """The image file of a LabelMe file as the per-file path finds it (a path string or None); False: not plain."""
        if not (isinstance(ip, str) and ip.strip()):
            return None
        ip2 = ip.replace("\\", "/")
        full = os.path.normpath(os.path.join(fd, ip2))
        if full.startswith(fd + "/"):  # inside the folder read: as the per-file path does it
            rel = os.path.relpath(os.path.join(os.path.dirname(f), ip2), folder)
            try:
                path = inside_root(folder, rel, what="imagePath")
            except YoloToolsError:
                return False
            if not path.exists() and images is not None:
                path = b.find_image(PurePosixPath(ip2).name, "", file=f)
            return os.fspath(path) if path is not None else None
        if listing is None:  # outside it (what inside_root refuses): the image of that name in the images folder
            return False
        name = ip2.rpartition("/")[2]
        entry = listing.get(name) if name and _has_suffix(name) else None
        if entry is None or entry[0] or not entry[1]:
            return False
        return f"{img_root.rstrip('/')}/{name}"

    plain = _plain_files(texts)
    if plain is not None:  # every file read in C: rectangles with no attributes, integer sizes
        ips, hw, counts, labels, pts = plain
        paths = [image_path(f, ip) for f, ip in zip(files, ips)]
        if False in paths or probe.items:
            return None
        ax, ay, bx, by = pts.T
        xyxy = np.stack([np.where(bx < ax, bx, ax), np.where(by < ay, by, ay), np.where(bx > ax, bx, ax),
                         np.where(by > ay, by, ay)], 1)  # min() and max() of the two points, as the per-file path
        return clean_dataset(folder, names=rels, hws=[tuple(v) for v in hw.tolist()],
                             box_image=np.repeat(np.arange(len(counts)), counts), labels=labels, xyxy=xyxy,
                             image_sizes=image_sizes, classes=classes, paths=paths)
    names, hws, paths, box_image, labels, xyxy, attrs = [], [], [], [], [], [], []
    for i, (f, raw) in enumerate(zip(files, texts)):
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(d, dict) or not isinstance(d.get("shapes"), list):
            return None
        path = image_path(f, d.get("imagePath"))
        if path is False:
            return None
        names.append(rels[i])
        paths.append(path)
        hh, ww = d.get("imageHeight"), d.get("imageWidth")
        hws.append(int_hw(hh, ww) if finite(hh) and finite(ww) else None)
        for s in d["shapes"]:
            if not isinstance(s, dict) or (s.get("shape_type") or "polygon") != "rectangle":
                return None
            try:
                pts = [(float(p[0]), float(p[1])) for p in s.get("points") or []]
            except (TypeError, ValueError, IndexError):
                return None
            if len(pts) != 2:
                return None
            (ax, ay), (bx, by) = pts
            box_image.append(i)
            labels.append(s.get("label"))
            xyxy.append((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)))
            attrs.append({k: s[k] for k in ("group_id", "flags", "description") if s.get(k) not in (None, {}, "")})
    if probe.items:
        return None
    return clean_dataset(folder, names=names, hws=hws, box_image=box_image, labels=labels,
                         xyxy=np.array(xyxy, dtype=np.float64).reshape(-1, 4), attrs=attrs, image_sizes=image_sizes,
                         classes=classes, paths=paths)


def _plain_files(texts: list[bytes]):
    """``(imagePaths, (h, w) per file, shapes per file, labels, (N, 4) points)``
    of LabelMe files read in C (``_native.labelme_plain``), or None."""
    try:
        from ... import _native
    except ImportError:
        return None
    got = _native.labelme_plain(texts)
    if got is None:
        return None
    ips, hw, counts, labels, pts = got
    return (ips, np.frombuffer(hw, dtype=np.int64).reshape(-1, 2), np.frombuffer(counts, dtype=np.int32), labels,
            np.frombuffer(pts, dtype=np.float64).reshape(-1, 4))


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
