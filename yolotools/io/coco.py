"""COCO instances JSON <-> :class:`DetectionDataset`.

- Category ids may have gaps (COCO's 1..90 for 80 classes).  Class index ``i`` is
  the ``i``-th category in *ascending category id* order (``class_order="id"``,
  the order Ultralytics and Detectron2 use), or in file order (``"file"``) or
  by name (``"name"``); :class:`ClassMap.source_ids` keeps the original ids.
- ``bbox`` is ``[x, y, w, h]`` with (x, y) the top-left corner, continuous pixels.
- ``iscrowd`` is kept as ``is_crowd``; ``area`` is kept (COCO size buckets use it).
- Images without annotations are kept as records with no boxes.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from ..annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from ..boxes import BoxFormat, Boxes
from ..errors import Problems, YoloToolsError
from .files import atomic_write_text, image_size_hw, inside_root, load_json, plain_image_id, relative_name

__all__ = ["read_coco", "coco_tables", "CocoTables", "write_coco", "coco_dict", "CLASS_ORDERS"]

log = logging.getLogger(__name__)

CLASS_ORDERS = ("id", "file", "name")


def _require_list(data: dict, key: str, path) -> list:
    v = data.get(key)
    if not isinstance(v, list):
        raise YoloToolsError(f"{path}: '{key}' missing or not a list (is this a COCO instances file?)")
    return v


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class CocoTables:
    """A COCO instances file as columns: the kept images (file order) and every
    kept annotation (file order) with the index of its image among them.  Boxes are
    ``xyxy`` pixels (``x + w``, ``y + h``), clipped when read with ``clip=True``."""

    class_map: ClassMap
    coco_ids: list[int]
    image_ids: list[str]
    hws: list[tuple[int, int]]
    paths: list[Path | None]
    ann_image: np.ndarray  # int64, index into the image columns
    ann_cls: np.ndarray  # int64
    ann_xyxy: np.ndarray  # float64 (n, 4)
    ann_crowd: np.ndarray  # bool
    ann_area: np.ndarray  # float64: the file's area, else w * h

    def to_dataset(self) -> DetectionDataset:
        """One record per image (boxes in file order), ``source_id`` = COCO id."""
        order = np.argsort(self.ann_image, kind="stable")
        bounds = np.searchsorted(self.ann_image[order], np.arange(len(self.coco_ids) + 1))
        xyxy, cls, crowd, area = self.ann_xyxy[order], self.ann_cls[order], self.ann_crowd[order], self.ann_area[order]
        records = []
        for i, (sid, iid, hw, pth) in enumerate(zip(self.coco_ids, self.image_ids, self.hws, self.paths)):
            s, e = bounds[i], bounds[i + 1]
            ann = Annotations(Boxes(xyxy[s:e], hw), cls[s:e], is_crowd=crowd[s:e], area=area[s:e])
            records.append(ImageRecord(iid, pth, hw, ann, source_id=sid))
        return DetectionDataset(self.class_map, tuple(records))


def read_coco(
    path: Path | str,
    images: Path | str | None = None,
    *,
    class_order: str = "id",
    strict: bool = False,
    check_images: bool = False,
    clip: bool = True,
) -> tuple[DetectionDataset, Problems]:
    """Read a COCO instances JSON.  ``images`` is the folder that ``file_name``
    is relative to; with ``check_images`` every image header is read and its size
    compared with the JSON (a mismatch is an error, the header wins).

    ``clip=True`` (conversion): boxes partly outside the image are clipped, empty
    or fully outside ones skipped, each reported.  ``clip=False`` (evaluation):
    every numeric box is kept as it is, as pycocotools does."""
    tables, problems = coco_tables(path, images, class_order=class_order, strict=strict, check_images=check_images, clip=clip)
    return tables.to_dataset(), problems


def coco_tables(
    path: Path | str,
    images: Path | str | None = None,
    *,
    class_order: str = "id",
    strict: bool = False,
    check_images: bool = False,
    clip: bool = True,
) -> tuple[CocoTables, Problems]:
    """:func:`read_coco` as columns (the evaluator's fast path reads these without
    building records).  A clean file is checked a column at a time; any entry that
    needs a report sends its part through the entry-by-entry reader, which names it."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict):
        raise YoloToolsError(f"{path}: expected a JSON object with images/annotations/categories")
    problems = Problems(strict=strict)
    cats = _require_list(data, "categories", path)
    imgs = _require_list(data, "images", path)
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        raise YoloToolsError(f"{path}: 'annotations' is not a list")

    cat_rows = []
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or "name" not in c:
            raise YoloToolsError(f"{path}: categories[{i}] needs an integer 'id' and a 'name'")
        cat_rows.append((c["id"], str(c["name"]), i))
    if class_order == "id":
        cat_rows.sort()
    elif class_order == "name":
        cat_rows.sort(key=lambda r: r[1])
    elif class_order != "file":
        raise YoloToolsError(f"unknown class order {class_order!r}; choose from {list(CLASS_ORDERS)}")
    try:
        class_map = ClassMap(tuple(r[1] for r in cat_rows), tuple(r[0] for r in cat_rows))
    except ValueError as e:
        raise YoloToolsError(f"{path}: categories: {e}") from None
    cat_index = class_map.index_of_source_id

    img_dir = Path(images) if images is not None else None
    cols = None if (img_dir is not None or check_images) else _images_fast(imgs)
    if cols is None:
        cols = _images_slow(imgs, img_dir, check_images, path, problems)
    coco_ids, image_ids, hws, paths = cols
    index_of = {cid: n for n, cid in enumerate(coco_ids)}
    arrays = _annotations_fast(anns, index_of, cat_index, hws, clip)
    if arrays is None:
        arrays = _annotations_slow(anns, index_of, cat_index, hws, clip, path, problems)
    return CocoTables(class_map, coco_ids, image_ids, hws, paths, *arrays), problems


def _types(values) -> set:
    return set(map(type, values))


def _images_fast(imgs: list):
    """Image columns of a clean ``images`` list (int ids, plain file names,
    positive sizes, nothing repeated); None when any entry needs a report."""
    try:
        ids = [im["id"] for im in imgs]
        names = [im["file_name"] for im in imgs]
        ws = [im.get("width") for im in imgs]
        hs = [im.get("height") for im in imgs]
    except (TypeError, KeyError, AttributeError):
        return None
    if _types(ids) - {int} or _types(names) - {str} or _types(ws) - {int, float} or _types(hs) - {int, float}:
        return None
    image_ids = [plain_image_id(n) for n in names]
    if None in image_ids or len(set(ids)) != len(ids) or len(set(image_ids)) != len(ids):
        return None
    wa, ha = np.array(ws, np.float64), np.array(hs, np.float64)
    if len(ids) and not (np.isfinite(wa).all() and np.isfinite(ha).all() and (wa >= 1).all() and (ha >= 1).all()):
        return None
    hws = [(int(h), int(w)) for w, h in zip(ws, hs)]
    return ids, image_ids, hws, [None] * len(ids)


def _images_slow(imgs: list, img_dir: Path | None, check_images: bool, path: Path, problems: Problems):
    coco_ids, image_ids, hws, paths = [], [], [], []
    ids_seen: set[str] = set()
    kept: set[int] = set()
    for i, im in enumerate(imgs):
        where = f"images[{i}]"
        if not isinstance(im, dict) or not isinstance(im.get("id"), int) or not isinstance(im.get("file_name"), str):
            problems.error("bad_image_entry", path, "image entry needs integer 'id' and string 'file_name'; skipped", where)
            continue
        fname = im["file_name"].replace("\\", "/")
        pp = relative_name(fname)
        if pp is None:
            problems.error("path_outside_dataset", path, f"file_name {im['file_name']!r} points outside the image folder "
                           "(absolute, '..', drive or NUL); image and its boxes skipped", where)
            continue
        if img_dir is not None:
            try:  # links followed: a symlinked folder must not lead out either
                inside_root(img_dir, fname, what="file_name")
            except YoloToolsError as e:
                problems.error("path_outside_dataset", path, f"{e}; image and its boxes skipped", where)
                continue
        image_id = str(pp.with_suffix(""))
        if im["id"] in kept or image_id in ids_seen:
            problems.error("duplicate_image", path, f"duplicate image id {im['id']} / file_name {fname!r}; skipped", where)
            continue
        w, h = im.get("width"), im.get("height")
        img_path = (img_dir / pp) if img_dir is not None else None
        hw = (int(h), int(w)) if _num(w) and _num(h) and w >= 1 and h >= 1 else None  # (0.5 px is no size either)
        if check_images or hw is None:
            if img_path is None:
                problems.error("missing_size", path, f"image {fname!r} has no width/height and no --images folder given; skipped", where)
                continue
            try:
                real = image_size_hw(img_path)
            except YoloToolsError as e:
                if hw is None:
                    problems.error("missing_size", path, f"no width/height and {e}; skipped", where)
                    continue
                problems.warning("missing_image", img_path, "image not found or unreadable")
                real = hw
            if hw is not None and real != hw:
                problems.error("size_mismatch", img_path, f"JSON says {hw[1]}x{hw[0]}, image header says {real[1]}x{real[0]}; using the header", where)
            hw = real
        ids_seen.add(image_id)
        kept.add(im["id"])
        coco_ids.append(im["id"])
        image_ids.append(image_id)
        hws.append(hw)
        paths.append(img_path)
    return coco_ids, image_ids, hws, paths


def _annotations_fast(anns: list, index_of: dict, cat_index: dict, hws: list, clip: bool):
    """Annotation arrays of a clean list (known images and categories, 4 finite
    numbers per bbox, and with ``clip`` every box inside its image); None when any
    annotation needs a report."""
    n = len(anns)
    try:
        iid = [a["image_id"] for a in anns]
        cid = [a["category_id"] for a in anns]
        bbs = [a["bbox"] for a in anns]
        areas = [a.get("area") for a in anns]
        crowd = [a.get("iscrowd", 0) for a in anns]
    except (TypeError, KeyError, AttributeError):
        return None
    if _types(iid) - {int} or _types(cid) - {int} or _types(bbs) - {list} or _types(chain.from_iterable(bbs)) - {int, float}:
        return None
    img = np.array([index_of.get(v, -1) for v in iid], np.int64)
    cls = np.array([cat_index.get(v, -1) for v in cid], np.int64)
    try:
        bb = np.array(bbs, np.float64).reshape(n, 4)
    except (ValueError, OverflowError):
        return None
    if (img < 0).any() or (cls < 0).any() or not np.isfinite(bb).all():
        return None
    x, y, w, h = bb.T
    xyxy = np.stack([x, y, x + w, y + h], 1) if n else np.zeros((0, 4))
    if clip and n:
        hw = np.array(hws, np.float64).reshape(-1, 2)[img]
        inside = ((w > 0) & (h > 0) & (x >= 0) & (y >= 0) & (xyxy[:, 2] <= hw[:, 1]) & (xyxy[:, 3] <= hw[:, 0])
                  & (xyxy[:, 2] > x) & (xyxy[:, 3] > y))
        if not inside.all():
            return None
    if _types(areas) <= {int, float}:
        area = np.array(areas, np.float64).reshape(n)
        if not np.isfinite(area).all():
            return None
    else:
        area = np.array([float(v) if _num(v) else float(bw * bh) for v, bw, bh in zip(areas, w.tolist(), h.tolist())], np.float64)
    return img, cls, xyxy, np.fromiter(map(bool, crowd), bool, n), area


def _annotations_slow(anns: list, index_of: dict, cat_index: dict, hws: list, clip: bool, path: Path, problems: Problems):
    img, cls, boxes, crowd, areas = [], [], [], [], []
    for i, a in enumerate(anns):
        where = f"annotations[{i}]" + (f" (id {a.get('id')})" if isinstance(a, dict) and "id" in a else "")
        if not isinstance(a, dict):
            problems.error("bad_annotation", path, "annotation is not an object; skipped", where)
            continue
        ri = index_of.get(a.get("image_id"))
        if ri is None:
            problems.error("unknown_image", path, f"image_id {a.get('image_id')!r} not in images; skipped", where)
            continue
        ci = cat_index.get(a.get("category_id"))
        if ci is None:
            problems.error("unknown_class", path, f"category_id {a.get('category_id')!r} not in categories; skipped", where)
            continue
        bb = a.get("bbox")
        if not (isinstance(bb, list) and len(bb) == 4 and all(_num(v) for v in bb)):
            problems.error("bad_bbox", path, f"bbox {bb!r} is not 4 finite numbers; skipped", where)
            continue
        x, y, w, h = (float(v) for v in bb)
        box = (x, y, x + w, y + h)
        if clip:
            if w <= 0 or h <= 0:
                problems.error("empty_box", path, f"bbox {bb} has zero or negative size; skipped", where)
                continue
            ih, iw = hws[ri]
            x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, float(iw)), min(y + h, float(ih))
            if x2 <= x1 or y2 <= y1:
                problems.error("box_outside_image", path, f"bbox {bb} lies outside the {iw}x{ih} image; skipped", where)
                continue
            if (x1, y1, x2, y2) != box:
                problems.warning("box_clipped", path, f"bbox {bb} extends outside the {iw}x{ih} image; clipped", where)
            box = (x1, y1, x2, y2)
        area = a.get("area")
        img.append(ri)
        cls.append(ci)
        boxes.append(box)
        crowd.append(bool(a.get("iscrowd", 0)))
        areas.append(float(area) if _num(area) else w * h)
    return (np.array(img, np.int64), np.array(cls, np.int64), np.array(boxes, np.float64).reshape(-1, 4),
            np.array(crowd, bool), np.array(areas, np.float64))


def coco_dict(dataset: DetectionDataset, *, check_images: bool = False) -> dict:
    """The COCO instances dict for ``dataset``.

    Image ids: the records' ``source_id`` when every record has a distinct one,
    else 1..N in record order.  Category ids: ``class_map.source_ids``.  ``area``:
    the annotation's own area when known, else the box area.  With
    ``check_images`` sizes are re-read from image headers (never by decoding)."""
    sids = [r.source_id for r in dataset.records]
    use_src = all(s is not None for s in sids) and len(set(sids)) == len(sids)
    images, annotations = [], []
    ann_id = 0
    for n, rec in enumerate(dataset.records, 1):
        iid = rec.source_id if use_src else n
        h, w = image_size_hw(rec.path) if (check_images and rec.path is not None) else rec.image_hw
        suffix = rec.path.suffix if rec.path is not None and rec.path.suffix else ".jpg"
        images.append({"id": iid, "file_name": rec.image_id + suffix, "width": w, "height": h})
        ann = rec.annotations
        xywh = ann.boxes.to_array(BoxFormat.XYWH, normalized=False)
        areas = ann.areas
        for j in range(len(ann)):
            ann_id += 1
            annotations.append({
                "id": ann_id,
                "image_id": iid,
                "category_id": dataset.class_map.source_ids[int(ann.class_ids[j])],
                "bbox": [float(v) for v in xywh[j]],
                "area": float(areas[j]),
                "iscrowd": int(ann.is_crowd[j]),
                "ignore": int(ann.is_difficult[j]),
                "segmentation": [],
            })
    categories = [{"id": s, "name": nm, "supercategory": ""} for s, nm in zip(dataset.class_map.source_ids, dataset.class_map.names)]
    return {
        "info": {"description": "written by yolotools"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(dataset: DetectionDataset, path: Path | str, *, check_images: bool = False) -> dict:
    """Write :func:`coco_dict` to ``path`` atomically; returns counts."""
    d = coco_dict(dataset, check_images=check_images)
    atomic_write_text(Path(path), json.dumps(d, separators=(",", ":")))
    return {"images": len(d["images"]), "annotations": len(d["annotations"]), "categories": len(d["categories"])}
