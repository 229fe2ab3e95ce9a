"""Reading predictions against a ground-truth dataset.

- COCO results JSON: a list of ``{image_id, category_id, bbox [x, y, w, h], score}``
  (or a dict with such an ``annotations`` list); ``image_id`` is the COCO image id
  of the ground truth (the ids :func:`yolotools.io.coco.coco_dict` writes),
  ``category_id`` its category id.
- YOLO txt folder: ``<image id>.txt`` with ``class cx cy w h conf`` lines,
  normalised by the ground-truth image size.

Prediction boxes are not clipped (pycocotools does not clip either).  File order
is kept: it breaks score ties exactly as pycocotools does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annotations import Annotations, DetectionDataset, ImageRecord
from ..boxes import Boxes
from ..errors import Problems, YoloToolsError
from ..io.files import load_json
from ..io.values import boxes4, column, int64_ok, numbers

__all__ = ["read_predictions", "read_coco_results", "coco_results_columns", "file_stems", "read_yolo_predictions", "coco_image_ids",
           "from_arrays"]


def coco_image_ids(gt: DetectionDataset) -> list[int]:
    """The COCO image id of each record (same rule as the COCO writer)."""
    sids = [r.source_id for r in gt.records]
    if all(s is not None for s in sids) and len(set(sids)) == len(sids):
        return sids
    return list(range(1, len(sids) + 1))


def read_coco_results(path: Path | str, gt: DetectionDataset, *, strict: bool = False) -> tuple[DetectionDataset, Problems]:
    problems = Problems(strict=strict)
    rec_idx, cls, xyxy, sc = coco_results_columns(path, coco_image_ids(gt), gt.class_map.source_ids, lambda: _stems(gt), problems)
    bounds = np.searchsorted(rec_idx, np.arange(len(gt.records) + 1))
    recs = []
    for i, r in enumerate(gt.records):
        s, e = bounds[i], bounds[i + 1]
        ann = Annotations(Boxes(xyxy[s:e], r.image_hw), cls[s:e], scores=sc[s:e])
        recs.append(ImageRecord(r.image_id, r.path, r.image_hw, ann, source_id=r.source_id))
    return DetectionDataset(gt.class_map, tuple(recs)), problems


def _stems(gt: DetectionDataset) -> dict[str, int]:
    return file_stems([r.path for r in gt.records], [r.image_id for r in gt.records])


def file_stems(paths, image_ids) -> dict[str, int]:
    """File stem (and image id stem) -> record index, for results named by file."""
    by_stem: dict[str, int] = {}
    for i, (pth, iid) in enumerate(zip(paths, image_ids)):
        by_stem.setdefault(Path(str(pth)).stem if pth is not None else str(iid), i)
        by_stem.setdefault(Path(str(iid)).stem, i)
    return by_stem


def coco_results_columns(path: Path | str, image_ids, source_ids, stems, problems: Problems, *, grouped: bool = True,
                         data=None):
    """A COCO results file as columns against a ground truth given by its COCO
    image ids (one per record) and category ids (one per class): ``(record index,
    class index, xyxy, score)`` of the detections of known images and classes,
    grouped by record, file order kept inside each.  ``stems()`` maps file stems to
    record indices (asked only when some ids are unknown and entries name files).
    ``data``: the file already parsed (:func:`load_results`).

    The entries are checked as columns (:func:`_detections`), a message for
    each entry a check stops."""
    path = Path(path)
    if data is None:
        data = load_results(path)
    img, cat, bb, sc, whole = _detections(data, path, problems)
    named = True
    neg = (bb[:, 2] < 0) | (bb[:, 3] < 0)
    if neg.any():  # pycocotools would take them (negative areas); a detector never means one
        first = int(np.flatnonzero(neg)[0])
        problems.error("bad_detection", path, f"{int(neg.sum())} detections with a negative bbox width or height "
                       f"(first: {bb[first].tolist()}); skipped", f"[{first}]")
        data = [d for d, n in zip(data, neg.tolist()) if not n] if whole else data
        img, cat, bb, sc = img[~neg], cat[~neg], bb[~neg], sc[~neg]
    # map COCO image ids -> record index, category ids -> class index (unknown -> -1)
    rec_idx = _lookup(np.array(image_ids, dtype=np.int64), img)
    cls = _lookup(np.array(source_ids, dtype=np.int64), cat)
    if (rec_idx < 0).any() and named:
        if data and all(isinstance(d, dict) and isinstance(d.get("file_name"), str) for d in data):
            # `yolotools detect` names each image; when its ids (file stems) are not the
            # ground truth's (e.g. a COCO export of VOC labels numbers images 1..N), match by file
            by_stem = stems()
            named_idx = np.array([by_stem.get(Path(d["file_name"]).stem, -1) for d in data], dtype=np.int64)
            if len(named_idx) == len(rec_idx):
                fix = (rec_idx < 0) & (named_idx >= 0)
                if fix.any():
                    problems.add("info", "matched_by_file_name", path, f"{int(fix.sum())} detections matched to the ground truth by file_name (their image ids are not its ids)")
                    rec_idx = np.where(fix, named_idx, rec_idx)
    bad_img, bad_cat = int((rec_idx < 0).sum()), int(((rec_idx >= 0) & (cls < 0)).sum())
    if bad_img:
        problems.warning("unknown_image", path, f"{bad_img} detections name image ids not in the ground truth; ignored")
    if bad_cat:
        problems.warning("unknown_class", path, f"{bad_cat} detections name category ids not in the ground truth; ignored")
    keep = (rec_idx >= 0) & (cls >= 0)
    if not keep.all():
        rec_idx, cls, bb, sc = rec_idx[keep], cls[keep], bb[keep], sc[keep]
    if grouped:
        order = np.argsort(rec_idx, kind="stable")  # file order kept inside each image
        rec_idx, cls, bb, sc = rec_idx[order], cls[order], bb[order], sc[order]
    xyxy = np.stack([bb[:, 0], bb[:, 1], bb[:, 0] + bb[:, 2], bb[:, 1] + bb[:, 3]], 1) if len(bb) else np.zeros((0, 4))
    return rec_idx, cls, xyxy, sc


def load_results(path: Path) -> list:
    """A COCO results file's list of detections (a list, or a dict's
    ``annotations`` list), parsed by orjson (:func:`~yolotools.io.files.load_json`)."""
    data = load_json(path)
    if isinstance(data, dict):
        data = data.get("annotations")
    if not isinstance(data, list):
        raise YoloToolsError(f"{path}: expected a list of detections (image_id, category_id, bbox, score)")
    return data


def _lookup(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``keys`` (unique), or -1."""
    if not len(keys):
        return np.full(len(values), -1, np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if lo >= 0 and hi < 8 * len(keys) + (1 << 22):  # small non-negative ids (COCO's): one table lookup
        table = np.full(hi + 2, -1, np.int64)
        table[keys] = np.arange(len(keys))
        return table[np.where((values >= 0) & (values <= hi), values, hi + 1)]
    o = np.argsort(keys, kind="stable")
    pos = np.clip(np.searchsorted(keys[o], values), 0, len(keys) - 1)
    return np.where(keys[o][pos] == values, o[pos], -1)


def _detections(data: list, path: Path, problems: Problems):
    """``(image ids, category ids, bbox (n, 4), scores, whether every entry was
    kept)`` of the entries that are objects with a bbox of 4 finite numbers, a
    finite score and integer ids (int64); each other entry is an error, in file order."""
    n = len(data)
    bb, ok = boxes4(column(data, "bbox"))
    sc, ok_s = numbers(column(data, "score"))
    ok &= ok_s
    ids = [column(data, k) for k in ("image_id", "category_id")]
    ok_id = np.ones(n, bool)
    for col in ids:
        ok_id &= _int64s(col)
    status = np.where(~ok, 2, np.where(~ok_id, 3, 0))
    d = data
    status[[i for i, x in enumerate(data) if x.__class__ is not dict]] = 1
    for i in np.flatnonzero(status).tolist():
        if status[i] == 1:
            problems.error("bad_detection", path, "not an object; skipped", f"[{i}]")
        elif status[i] == 2:
            problems.error("bad_detection", path, f"bbox {d[i].get('bbox')!r} / score {d[i].get('score')!r} not numbers; skipped", f"[{i}]")
        else:
            problems.error("bad_detection", path, "image_id/category_id not integers; skipped", f"[{i}]")
    keep = np.flatnonzero(status == 0)
    img, cat = (np.array(col if len(keep) == n else [col[i] for i in keep.tolist()], np.int64).reshape(-1) for col in ids)
    return img, cat, bb[keep].reshape(-1, 4), sc[keep], len(keep) == n


def _int64s(values: list) -> np.ndarray:
    """Per value: an integer (``isinstance(v, int)``) that fits int64."""
    if set(map(type, values)) <= {int}:
        try:
            np.array(values, np.int64)
            return np.ones(len(values), bool)
        except OverflowError:
            pass
    return np.fromiter(map(int64_ok, values), bool, len(values))


def read_yolo_predictions(folder: Path | str, gt: DetectionDataset, *, strict: bool = False) -> tuple[DetectionDataset, Problems]:
    from ..io.yolo import parse_label_text

    folder = Path(folder)
    if not folder.is_dir():
        raise YoloToolsError(f"{folder}: not a folder of YOLO prediction files")
    problems = Problems(strict=strict)
    known = {r.image_id for r in gt.records}
    extra = [p for p in folder.rglob("*.txt") if p.relative_to(folder).with_suffix("").as_posix() not in known]
    if extra:
        problems.warning("unknown_image", extra[0], f"{len(extra)} prediction files have no ground-truth image; ignored")
    for f in sorted(folder.rglob("*.txt"))[:20]:  # ground truth passed as predictions is a common slip: say so
        first = next((ln.split() for ln in f.read_text(encoding="utf-8-sig", errors="replace").splitlines() if ln.strip()), None)
        if first is not None:
            if len(first) == 5:
                raise YoloToolsError(f"{f}: 5 columns (class cx cy w h) and no confidence column: these look like ground-truth "
                                     "labels; predictions need 'class cx cy w h conf' (yolotools detect writes them)")
            break
    recs = []
    for r in gt.records:
        f = folder / f"{r.image_id}.txt"
        text = f.read_text(encoding="utf-8-sig") if f.is_file() else ""
        ann, _ = parse_label_text(text, str(f), r.image_hw, len(gt.class_map), problems, with_scores=True, clip=False)
        recs.append(ImageRecord(r.image_id, r.path, r.image_hw, ann, source_id=r.source_id))
    return DetectionDataset(gt.class_map, tuple(recs)), problems


def read_predictions(source: Path | str, gt: DetectionDataset, *, strict: bool = False) -> tuple[DetectionDataset, Problems]:
    """COCO results ``.json`` or a folder of YOLO txt predictions."""
    p = Path(source)
    if p.is_file() and p.suffix.lower() == ".json":
        return read_coco_results(p, gt, strict=strict)
    if p.is_dir():
        return read_yolo_predictions(p, gt, strict=strict)
    raise YoloToolsError(f"{p}: predictions must be a COCO results .json or a folder of YOLO txt files")


def from_arrays(gt: DetectionDataset, per_image: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> DetectionDataset:
    """Predictions from arrays (the trainer's path, no files): ``image_id ->
    (xyxy (N, 4) original-image pixels, class_ids (N,), scores (N,))``."""
    recs = []
    for r in gt.records:
        xyxy, cls, sc = per_image.get(r.image_id, (np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0)))
        recs.append(ImageRecord(r.image_id, r.path, r.image_hw, Annotations(Boxes(xyxy, r.image_hw), cls, scores=sc), source_id=r.source_id))
    return DetectionDataset(gt.class_map, tuple(recs))
