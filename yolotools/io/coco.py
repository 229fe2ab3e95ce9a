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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from ..boxes import BoxFormat, Boxes
from ..errors import Problems, YoloToolsError
from .files import atomic_write_text, image_size_hw, inside_root, load_json, plain_image_id, relative_name
from .values import MAX_SIDE, boxes4, int64_ok, numbers
from .values import is_num as _num

__all__ = ["read_coco", "coco_tables", "CocoTables", "write_coco", "coco_dict", "CLASS_ORDERS"]

log = logging.getLogger(__name__)

CLASS_ORDERS = ("id", "file", "name")


def _require_list(data: dict, key: str, path) -> list:
    v = data.get(key)
    if not isinstance(v, list):
        raise YoloToolsError(f"{path}: '{key}' missing or not a list (is this a COCO instances file?)")
    return v


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
    """:func:`read_coco` as columns (the evaluator reads these without building
    records).  Annotations are checked a column at a time (array operations);
    only the entries a check stops get a message, in file order."""
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
        if not isinstance(c, dict) or not int64_ok(c.get("id")) or "name" not in c:
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
    coco_ids, image_ids, hws, paths = _images(imgs, img_dir, check_images, path, problems)
    index_of = {cid: n for n, cid in enumerate(coco_ids)}
    arrays = _annotations(anns, index_of, cat_index, hws, clip, path, problems)
    return CocoTables(class_map, coco_ids, image_ids, hws, paths, *arrays), problems


def _images(imgs: list, img_dir: Path | None, check_images: bool, path: Path, problems: Problems):
    """The kept images' columns ``(COCO ids, image ids, (h, w), paths)``, each entry checked in file order."""
    coco_ids, image_ids, hws, paths = [], [], [], []
    ids_seen: set[str] = set()
    kept: set[int] = set()
    for i, im in enumerate(imgs):
        where = f"images[{i}]"
        if not isinstance(im, dict) or not int64_ok(im.get("id")) or not isinstance(im.get("file_name"), str):
            problems.error("bad_image_entry", path, "image entry needs integer 'id' and string 'file_name'; skipped", where)
            continue
        fname = im["file_name"].replace("\\", "/")
        plain = plain_image_id(fname)  # (a plain name's id without a path object)
        pp = relative_name(fname) if plain is None else None
        if plain is None and pp is None:
            problems.error("path_outside_dataset", path, f"file_name {im['file_name']!r} points outside the image folder "
                           "(absolute, '..', drive or NUL); image and its boxes skipped", where)
            continue
        if img_dir is not None:
            try:  # links followed: a symlinked folder must not lead out either
                inside_root(img_dir, fname, what="file_name")
            except YoloToolsError as e:
                problems.error("path_outside_dataset", path, f"{e}; image and its boxes skipped", where)
                continue
        image_id = plain if plain is not None else str(pp.with_suffix(""))
        if im["id"] in kept or image_id in ids_seen:
            problems.error("duplicate_image", path, f"duplicate image id {im['id']} / file_name {fname!r}; skipped", where)
            continue
        w, h = im.get("width"), im.get("height")
        img_path = (img_dir / (fname if plain is not None else pp)) if img_dir is not None else None
        hw = (int(h), int(w)) if _num(w) and _num(h) and 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE else None  # (0.5 px is no size either)
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


def _annotations(anns: list, index_of: dict, cat_index: dict, hws: list, clip: bool, path: Path, problems: Problems):
    """The kept annotations' columns ``(image index, class index, xyxy, crowd,
    area)``: every check an array operation, a message for each entry a check
    stops (in file order: not an object, unknown image, unknown category, bbox
    not 4 finite numbers; with ``clip``: empty, outside the image, clipped)."""
    n = len(anns)
    d = [a if a.__class__ is dict else None for a in anns]
    ri = np.fromiter((_index(index_of, a.get("image_id")) if a is not None else -1 for a in d), np.int64, n)
    ci = np.fromiter((_index(cat_index, a.get("category_id")) if a is not None else -1 for a in d), np.int64, n)
    bb, ok_bb = boxes4([a.get("bbox") if a is not None else None for a in d])
    x, y, w, h = bb.T
    xyxy = np.stack([x, y, x + w, y + h], 1)
    status = np.where(ri < 0, 2, np.where(ci < 0, 3, np.where(~ok_bb, 4, 0)))
    status[[i for i, a in enumerate(d) if a is None]] = 1
    if clip:
        hw = np.array(hws, np.float64).reshape(-1, 2)[np.maximum(ri, 0)] if len(hws) else np.ones((n, 2))
        with np.errstate(invalid="ignore"):
            # Python's max(v, 0.0) / min(v, bound): v itself unless the bound is beyond it
            c = np.stack([np.where(0.0 > x, 0.0, x), np.where(0.0 > y, 0.0, y), np.where(hw[:, 1] < xyxy[:, 2], hw[:, 1], xyxy[:, 2]),
                          np.where(hw[:, 0] < xyxy[:, 3], hw[:, 0], xyxy[:, 3])], 1)
            empty = (w <= 0) | (h <= 0)
            outside = (c[:, 2] <= c[:, 0]) | (c[:, 3] <= c[:, 1])
            clipped = (c != xyxy).any(1)
        status = np.where(status == 0, np.where(empty, 5, np.where(outside, 6, np.where(clipped, 7, 0))), status)
        xyxy = np.where((status == 7)[:, None], c, xyxy)
    for i in np.flatnonzero(status).tolist():
        _report(int(status[i]), i, anns[i], hws, int(ri[i]), path, problems)
    keep = np.flatnonzero((status == 0) | (status == 7))
    kept = [d[i] for i in keep.tolist()]
    area, has_area = numbers([a.get("area") for a in kept])
    area = np.where(has_area, area, w[keep] * h[keep])
    crowd = np.fromiter((bool(a.get("iscrowd", 0)) for a in kept), bool, len(kept))
    return ri[keep], ci[keep], xyxy[keep].reshape(-1, 4), crowd, area.astype(np.float64)


def _index(table: dict, key) -> int:
    """``table[key]`` (an id's index), -1 when absent or not an id at all."""
    try:
        return table.get(key, -1)
    except TypeError:  # a list or object where an id should be
        return -1


def _report(status: int, i: int, a, hws: list, ri: int, path: Path, problems: Problems) -> None:
    """The problem of annotation ``i`` that check ``status`` stopped (7: clipped, a warning)."""
    where = f"annotations[{i}]" + (f" (id {a.get('id')})" if isinstance(a, dict) and "id" in a else "")
    if status == 1:
        problems.error("bad_annotation", path, "annotation is not an object; skipped", where)
    elif status == 2:
        problems.error("unknown_image", path, f"image_id {a.get('image_id')!r} not in images; skipped", where)
    elif status == 3:
        problems.error("unknown_class", path, f"category_id {a.get('category_id')!r} not in categories; skipped", where)
    elif status == 4:
        problems.error("bad_bbox", path, f"bbox {a.get('bbox')!r} is not 4 finite numbers; skipped", where)
    elif status == 5:
        problems.error("empty_box", path, f"bbox {a.get('bbox')} has zero or negative size; skipped", where)
    else:
        ih, iw = hws[ri]
        if status == 6:
            problems.error("box_outside_image", path, f"bbox {a.get('bbox')} lies outside the {iw}x{ih} image; skipped", where)
        else:
            problems.warning("box_clipped", path, f"bbox {a.get('bbox')} extends outside the {iw}x{ih} image; clipped", where)


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
