"""Class names and ids (:class:`ClassMap`) and VOC's 20 names: no numpy, so
that the commands that only move labels around start without it
(re-exported by :mod:`yolotools.annotations`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClassMap", "VOC_CLASSES"]

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)


@dataclass(frozen=True)
class ClassMap:
    """Contiguous class indices ``0..K-1``.  ``names[i]`` is class i's name and
    ``source_ids[i]`` the id it had in the source (COCO ``category_id``); for
    sources without ids (VOC, YOLO) ``source_ids[i] == i + 1``."""

    names: tuple[str, ...]
    source_ids: tuple[int, ...] = ()

    def __post_init__(self):
        names = tuple(str(n) for n in self.names)
        object.__setattr__(self, "names", names)
        bad = [n for n in names if not n.strip() or any(c in n for c in "\n\r\x00")]
        if bad:  # one name per line in .names files: a line break would shift every class id after it
            raise ValueError(f"class names must be non-empty single-line text; got {bad[0]!r}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"class names must be unique; repeated: {dup}")
        sids = tuple(int(s) for s in self.source_ids) or tuple(range(1, len(names) + 1))
        if len(sids) != len(names):
            raise ValueError(f"source_ids: expected {len(names)}, got {len(sids)}")
        if len(set(sids)) != len(sids):
            raise ValueError("source_ids must be unique")
        object.__setattr__(self, "source_ids", sids)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown class {name!r}; known: {list(self.names)}") from None

    @property
    def index_of_source_id(self) -> dict[int, int]:
        return {s: i for i, s in enumerate(self.source_ids)}
