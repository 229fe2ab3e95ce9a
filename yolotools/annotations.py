"""The one in-memory dataset model shared by every command.

- :class:`Annotations`: parallel arrays for N boxes (ground truth or predictions).
- :class:`ImageRecord`: one image, its size and its annotations.
- :class:`ClassMap`: contiguous class index -> name and source id (COCO category id).
- :class:`DetectionDataset`: a class map plus image records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from .boxes import Boxes
from .classmap import VOC_CLASSES, ClassMap

__all__ = ["Annotations", "ImageRecord", "ClassMap", "DetectionDataset", "VOC_CLASSES", "trusted_record", "checked_hw",
           "BoxColumns", "dataset_with_columns"]


def _frozen(a, dtype, n: int, name: str) -> np.ndarray:
    arr = np.array(a, dtype=dtype)  # always a copy: callers keep their arrays
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected ({n},), got {np.shape(a)}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Annotations:
    """N boxes with parallel per-box arrays, indexed together.

    - ``boxes``: :class:`Boxes` (xyxy, original-image pixels)
    - ``class_ids``: ``(N,) int64``, contiguous indices into the dataset's :class:`ClassMap`
    - ``scores``: ``(N,) float64`` confidences, or ``None`` for ground truth
    - ``is_difficult`` / ``is_crowd``: ``(N,) bool`` (VOC ``difficult``, COCO ``iscrowd``)
    - ``area``: ``(N,) float64`` area used for COCO size buckets; ``None`` means the box area
    - ``attrs``: ``(N,) object`` array of ``dict`` or ``None``: what a source format says of a box
      that the model has no field for (KITTI's 3-D fields, Open Images' IsOccluded, CVAT's
      attributes), kept so that a writer of that format, or the YOLO sidecar, loses nothing
    """

    boxes: Boxes
    class_ids: np.ndarray
    scores: np.ndarray | None = None
    is_difficult: np.ndarray | None = None
    is_crowd: np.ndarray | None = None
    area: np.ndarray | None = None
    attrs: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.boxes)
        if self.attrs is not None:
            arr = np.empty(n, dtype=object)
            vals = list(self.attrs)
            if len(vals) != n:
                raise ValueError(f"attrs: expected {n}, got {len(vals)}")
            arr[:] = [v if v else None for v in vals]
            arr.setflags(write=False)
            object.__setattr__(self, "attrs", None if all(v is None for v in arr) else arr)
        object.__setattr__(self, "class_ids", _frozen(self.class_ids, np.int64, n, "class_ids"))
        for name in ("is_difficult", "is_crowd"):
            v = getattr(self, name)
            object.__setattr__(self, name, _frozen(np.zeros(n, bool) if v is None else v, np.bool_, n, name))
        for name in ("scores", "area"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _frozen(v, np.float64, n, name))

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, image_hw: tuple[int, int]) -> "Annotations":
        return cls(Boxes.empty(image_hw), np.zeros(0, np.int64))

    @property
    def areas(self) -> np.ndarray:
        """The COCO-style area of each box: ``area`` when given, else the box area."""
        return self.boxes.area if self.area is None else self.area

    def __getitem__(self, idx) -> "Annotations":
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]
        return Annotations(
            boxes=self.boxes[idx],
            class_ids=self.class_ids[idx],
            scores=None if self.scores is None else self.scores[idx],
            is_difficult=self.is_difficult[idx],
            is_crowd=self.is_crowd[idx],
            area=None if self.area is None else self.area[idx],
            attrs=None if self.attrs is None else self.attrs[idx],
        )

    @staticmethod
    def concat(parts: Sequence["Annotations"], image_hw: tuple[int, int]) -> "Annotations":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Annotations.empty(image_hw)

        def cat(name):
            vals = [getattr(p, name) for p in parts]
            if all(v is None for v in vals):
                return None
            if name == "area":
                vals = [p.areas for p in parts]
            if any(v is None for v in vals):
                raise ValueError(f"{name}: present in some parts and missing in others")
            return np.concatenate(vals)

        return Annotations(
            boxes=Boxes(np.concatenate([p.boxes.xyxy for p in parts]), image_hw),
            class_ids=np.concatenate([p.class_ids for p in parts]),
            scores=cat("scores"),
            is_difficult=np.concatenate([p.is_difficult for p in parts]),
            is_crowd=np.concatenate([p.is_crowd for p in parts]),
            area=cat("area"),
            attrs=None if all(p.attrs is None for p in parts) else
            [a for p in parts for a in (p.attrs if p.attrs is not None else [None] * len(p))],
        )


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image.  ``image_id`` is a string key unique in its dataset (VOC id, file
    stem); ``source_id`` keeps a numeric id from the source (COCO image id)."""

    image_id: str
    path: Path | None
    image_hw: tuple[int, int]
    annotations: Annotations
    source_id: int | None = None

    def __post_init__(self):
        hw = checked_hw(self.image_id, self.image_hw)
        object.__setattr__(self, "image_hw", hw)
        if self.annotations.boxes.image_hw != hw:
            raise ValueError(
                f"image {self.image_id!r}: annotations.boxes.image_hw {self.annotations.boxes.image_hw} != image_hw {hw}"
            )

    def with_annotations(self, annotations: Annotations) -> "ImageRecord":
        return replace(self, annotations=annotations)

    def __reduce__(self):
        # compact pickling (process pools send thousands of records back): the arrays as raw bytes,
        # rebuilt without re-checking what a valid record already is; 3x faster than the default
        a = self.annotations
        raw = (a.boxes.xyxy.tobytes(), a.class_ids.tobytes(), a.is_difficult.tobytes(), a.is_crowd.tobytes(),
               None if a.scores is None else a.scores.tobytes(), None if a.area is None else a.area.tobytes())
        return _rebuild_record, (self.image_id, self.path, self.image_hw, self.source_id, raw, a.attrs)


def _rebuild_record(image_id, path, image_hw, source_id, raw, attrs) -> ImageRecord:
    """Inverse of :meth:`ImageRecord.__reduce__` (read-only arrays over the pickled bytes)."""
    xyxy, cls, diff, crowd, scores, area = raw
    return trusted_record(image_id, path, image_hw, np.frombuffer(xyxy, np.float64).reshape(-1, 4), np.frombuffer(cls, np.int64),
                          np.frombuffer(diff, np.bool_), np.frombuffer(crowd, np.bool_),
                          scores=None if scores is None else np.frombuffer(scores, np.float64),
                          area=None if area is None else np.frombuffer(area, np.float64), attrs=attrs, source_id=source_id)


def checked_hw(image_id: str, image_hw) -> tuple[int, int]:
    """``image_hw`` as two positive ints, or a ValueError naming the image: what
    every record's size is (:class:`ImageRecord` checks it; callers of
    :func:`trusted_record` check it here)."""
    if image_hw.__class__ is tuple and len(image_hw) == 2 and image_hw[0].__class__ is int and image_hw[1].__class__ is int \
            and image_hw[0] > 0 and image_hw[1] > 0:  # already what it must be
        return image_hw
    hw = tuple(int(v) for v in image_hw)
    if len(hw) != 2 or hw[0] <= 0 or hw[1] <= 0:
        raise ValueError(f"image {image_id!r}: image_hw must be two positive ints, got {image_hw!r}")
    return hw


def trusted_record(image_id: str, path, image_hw: tuple[int, int], xyxy: np.ndarray, class_ids: np.ndarray,
                   is_difficult: np.ndarray, is_crowd: np.ndarray, *, scores=None, area=None, attrs=None,
                   source_id=None) -> ImageRecord:
    """An :class:`ImageRecord` made without the checks of its constructors, for a
    caller that built valid parts itself (``(N, 4) float64`` boxes, ``int64``
    classes, ``bool`` flags, read-only; ``image_hw`` two positive ints; ``attrs``
    None or an object array with a dict somewhere; see :func:`checked_hw`): pickled records, readers that
    build every image's arrays as slices of one array."""
    put = object.__setattr__  # the instances' __dict__ set whole (frozen dataclasses, no __slots__)
    boxes = object.__new__(Boxes)
    put(boxes, "__dict__", {"xyxy": xyxy, "image_hw": image_hw})
    ann = object.__new__(Annotations)
    put(ann, "__dict__", {"boxes": boxes, "class_ids": class_ids, "is_difficult": is_difficult, "is_crowd": is_crowd,
                          "scores": scores, "area": area, "attrs": attrs})
    rec = object.__new__(ImageRecord)
    put(rec, "__dict__", {"image_id": image_id, "path": path, "image_hw": image_hw, "annotations": ann, "source_id": source_id})
    return rec


class BoxColumns(NamedTuple):
    """Every box of a dataset, image after image in the records' order, one
    read-only array per field, and each image's number of boxes."""

    xyxy: np.ndarray  # (N, 4) float64
    class_ids: np.ndarray  # (N,) int64
    is_difficult: np.ndarray  # (N,) bool
    is_crowd: np.ndarray  # (N,) bool
    counts: list[int]


@dataclass(frozen=True, eq=False)
class DetectionDataset:
    """A class map and image records (unique ``image_id``)."""

    class_map: ClassMap
    records: tuple[ImageRecord, ...] = field(default_factory=tuple)

    def __post_init__(self):
        recs = tuple(self.records)
        object.__setattr__(self, "records", recs)
        k = len(self.class_map)
        if len({r.image_id for r in recs}) != len(recs):
            seen: set[str] = set()
            for r in recs:
                if r.image_id in seen:
                    raise ValueError(f"duplicate image_id {r.image_id!r}")
                seen.add(r.image_id)
        if len(recs) > 8:  # one test for all (records are often slices of one array), then the one to blame
            ids = np.concatenate([r.annotations.class_ids for r in recs] or [np.zeros(0, np.int64)])
            if not ids.size or (ids.min() >= 0 and ids.max() < k):
                return
        for r in recs:
            ids = r.annotations.class_ids
            if ids.size and (ids.min() < 0 or ids.max() >= k):
                raise ValueError(f"image {r.image_id!r}: class id outside 0..{k - 1}")

    def __len__(self) -> int:
        return len(self.records)

    def box_columns(self) -> BoxColumns:
        """The records' boxes as :class:`BoxColumns` (made once: writers take
        them instead of a numpy call per image; a reader that built the records
        as slices of such arrays hands them over, :func:`dataset_with_columns`)."""
        cols = self.__dict__.get("_columns")
        if cols is None:
            anns = [r.annotations for r in self.records]
            if anns:
                cols = BoxColumns(np.concatenate([a.boxes.xyxy for a in anns]).reshape(-1, 4),
                                  np.concatenate([a.class_ids for a in anns]), np.concatenate([a.is_difficult for a in anns]),
                                  np.concatenate([a.is_crowd for a in anns]), [len(a.class_ids) for a in anns])
            else:
                cols = BoxColumns(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool), [])
            for a in cols[:4]:
                a.setflags(write=False)
            object.__setattr__(self, "_columns", cols)
        return cols

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.records)

    def by_id(self) -> dict[str, ImageRecord]:
        return {r.image_id: r for r in self.records}

    @property
    def num_boxes(self) -> int:
        cols = self.__dict__.get("_columns")
        if cols is not None:
            return len(cols.xyxy)
        return sum(len(r.annotations) for r in self.records)

    def counts_per_class(self) -> np.ndarray:
        """(K,) int64 number of boxes of each class."""
        out = np.zeros(len(self.class_map), np.int64)
        for r in self.records:
            np.add.at(out, r.annotations.class_ids, 1)
        return out

    def subset(self, image_ids: Iterable[str]) -> "DetectionDataset":
        by = self.by_id()
        return DetectionDataset(self.class_map, tuple(by[i] for i in image_ids))


def dataset_with_columns(class_map: ClassMap, records: Sequence[ImageRecord], columns: BoxColumns) -> DetectionDataset:
    """A dataset whose records' boxes are, image after image, ``columns`` (the
    caller made each record's arrays as slices of them, read-only): what
    :meth:`DetectionDataset.box_columns` then gives without concatenating."""
    ds = DetectionDataset(class_map, tuple(records))
    if len(columns.counts) != len(ds.records) or sum(columns.counts) != len(columns.xyxy) or \
            not len(columns.xyxy) == len(columns.class_ids) == len(columns.is_difficult) == len(columns.is_crowd):
        raise ValueError("dataset_with_columns: the columns do not match the records")
    object.__setattr__(ds, "_columns", columns)
    return ds
