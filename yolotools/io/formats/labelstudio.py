"""Label Studio JSON export (a list of tasks, rectangle labels).

Pixel convention: ``value.x/y/width/height`` are percent (0-100) of the
original image size (``original_width``/``original_height`` in each result);
the box is ``[x, x + width] x [y, y + height]`` in continuous pixels after
scaling.  A ``rotation`` (degrees about the top-left corner) becomes the
bounding box of the rotated rectangle (counted, the angle kept in ``attrs``);
polygon labels become their bounding box (counted).  Each task's first
annotation that is not cancelled is read; further annotations of the same task
(a second annotator) are counted and reported, not merged.  The image name is
the last part of ``data.image`` (an upload path or URL).
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence
from urllib.parse import unquote, urlparse

import numpy as np

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text, load_json
from ..values import finite
from ._build import DatasetBuilder
from .text import Columns, json_str

__all__ = ["read_labelstudio", "write_labelstudio"]


def _image_name(data: dict) -> str | None:
    v = data.get("image")
    if not isinstance(v, str):
        v = next((x for x in data.values() if isinstance(x, str) and "." in x), None)
    if not isinstance(v, str):
        return None
    p = urlparse(v).path if "://" in v or v.startswith("/data/") else v
    if "?d=" in v:  # local-files storage: /data/local-files/?d=folder/img.jpg
        p = v.split("?d=", 1)[1]
    return unquote(PurePosixPath(p).name)


def _task(task: dict) -> tuple[list, list, tuple | None]:
    """A task's annotations (not cancelled), the first one's results (objects)
    and the image size they or the task's data give (``(h, w)`` as written)."""
    anns = [a for a in (task.get("annotations") or []) if isinstance(a, dict) and not a.get("was_cancelled")]
    results = [r for r in (anns[0].get("result") or []) if isinstance(r, dict)] if anns else []
    for r in results:
        if finite(r.get("original_width")) and finite(r.get("original_height")):
            return anns, results, (r["original_height"], r["original_width"])
    data = task["data"]
    if finite(data.get("width")) and finite(data.get("height")):
        return anns, results, (data["height"], data["width"])
    return anns, results, None


def read_labelstudio(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    path = Path(path)
    tasks = load_json(path)
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise YoloToolsError(f"{path}: expected a Label Studio JSON export (a list of tasks)")
    problems = Problems(strict=strict)
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    for t, task in enumerate(tasks):
        where = f"task {task.get('id', t) if isinstance(task, dict) else t}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            problems.error("bad_image_entry", path, "task is not an object with 'data'; skipped", where)
            continue
        name = _image_name(task["data"])
        if not name:
            problems.error("bad_image_entry", path, "task data has no image; skipped", where)
            continue
        anns, results, hw = _task(task)
        if len(anns) > 1:
            problems.warning("extra_annotations", path, f"{len(anns)} annotations of this task; the first one read, "
                             f"{len(anns) - 1} left out", where)
        img = b.entry_image(name, where, hw)
        if img is None:
            continue
        ih, iw = img.hw
        for j, r in enumerate(results):
            where_b = f"{where}, result {r.get('id', j)}"
            v = r.get("value") if isinstance(r.get("value"), dict) else {}
            kind = r.get("type")
            labels = v.get("rectanglelabels") or v.get("polygonlabels") or v.get("labels")
            if kind not in ("rectanglelabels", "polygonlabels", "rectangle", "polygon", "labels"):
                if kind not in ("choices", "textarea", "rating", "taxonomy", "relation"):
                    problems.warning("unsupported_shape", path, f"result type {kind!r} is not a box; skipped", where_b)
                continue
            if not isinstance(labels, list) or len(labels) != 1:
                problems.error("missing_class", path, f"result needs exactly one label, got {labels!r}; skipped", where_b)
                continue
            attrs: dict = {}
            if "points" in v:
                try:
                    xs = [float(p[0]) for p in v["points"]]
                    ys = [float(p[1]) for p in v["points"]]
                    x1, x2 = min(xs) * iw / 100, max(xs) * iw / 100
                    y1, y2 = min(ys) * ih / 100, max(ys) * ih / 100
                except (TypeError, ValueError, IndexError):
                    problems.error("bad_box", path, "polygon points unreadable; skipped", where_b)
                    continue
                b.count("polygon_to_box")
            else:
                x, y, w, h = (finite(v.get(k)) for k in ("x", "y", "width", "height"))
                if None in (x, y, w, h):
                    problems.error("bad_box", path, f"value {v!r} needs numeric x, y, width, height; skipped", where_b)
                    continue
                x, y, w, h = x * iw / 100, y * ih / 100, w * iw / 100, h * ih / 100
                rot = finite(v.get("rotation")) or 0.0
                if rot:
                    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
                    xs = [x, x + w * c, x + w * c - h * s, x - h * s]
                    ys = [y, y + w * s, y + w * s + h * c, y + h * c]
                    x1, x2, y1, y2 = min(xs), max(xs), min(ys), max(ys)
                    attrs["rotation"] = rot
                    b.count("rotated_box_to_box")
                else:
                    x1, y1, x2, y2 = x, y, x + w, y + h
            b.add_box(img, labels[0], x1, y1, x2, y2, where_b, attrs=attrs)
    return b.build(), problems




def write_labelstudio(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write a Label Studio JSON export (one task per image, one completed
    annotation of ``rectanglelabels`` results in percent); ``json.dumps``'
    compact text, made from the columns."""
    cols = Columns(dataset)
    names = [json_str(n) for n in dataset.class_map.names]
    h, w = cols.box_hw()
    x = cols.xyxy
    t = Columns.rows(np.stack([x[:, 0] / w * 100, x[:, 1] / h * 100, (x[:, 2] - x[:, 0]) / w * 100, (x[:, 3] - x[:, 1]) / h * 100], 1),
                     ("", ',"y":', ',"width":', ',"height":', ""), as_repr=True)
    cls = cols.cls
    tasks = []
    for i, (rec, fname, b0, b1) in enumerate(zip(cols.records, cols.files, cols.starts, cols.ends), 1):
        hh, ww = rec.image_hw
        head = (f'"type":"rectanglelabels","from_name":"label","to_name":"image","original_width":{ww},"original_height":{hh},'
                f'"image_rotation":0,"value":{{"x":')
        res = ",".join(f'{{"id":"{i}_{j - b0}",{head}{t[j]},'
                       f'"rotation":0,"rectanglelabels":[{names[cls[j]]}]}}}}' for j in range(b0, b1))
        tasks.append(f'{{"id":{i},"data":{{"image":{json_str(fname)}}},"annotations":[{{"id":{i},"was_cancelled":false,"result":[{res}]}}]}}')
    atomic_write_text(Path(path), "[" + ",".join(tasks) + "]")
    return {"images": len(tasks), "boxes": len(cls)}
