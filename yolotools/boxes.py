"""Box formats and the immutable :class:`Boxes` container (pure numpy).

Frame: every :class:`Boxes` holds ``xyxy`` in *continuous original-image pixels*:
the image covers ``[0, W] x [0, H]``, pixel ``i`` spans ``[i, i + 1)``.  File
formats with other conventions (VOC 1-based inclusive pixels, YOLO normalised
centres) are converted once, at their reader/writer.

dtype: float64, not the float32 that ``../shared/STYLE.md`` suggests.  Reason:
reproducing third-party label files to 6 decimals and pycocotools' float64 IoU
at exact threshold ties (IoU == 0.5) needs more than float32's ~1e-3 px
resolution at 10,000 px.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["BoxFormat", "Boxes", "convert", "box_iou", "box_area"]


class BoxFormat(enum.Enum):
    """Box layouts.  ``XYWH`` is the *top-left* corner plus size (COCO ``bbox``);
    the centre form is ``CXCYWH`` (YOLO)."""

    XYXY = "xyxy"
    XYWH = "xywh"
    CXCYWH = "cxcywh"


def _as_n4(a, name: str = "boxes") -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name}: expected (N, 4), got {arr.shape}")
    return arr


def convert(a, src: BoxFormat, dst: BoxFormat) -> np.ndarray:
    """Convert an ``(N, 4)`` array between formats.  Always returns a new array;
    the input is never modified."""
    arr = _as_n4(a)
    if src is dst:
        return arr.copy()
    if src is BoxFormat.XYXY:
        xyxy = arr
    elif src is BoxFormat.XYWH:
        xyxy = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:]], axis=1)
    else:  # CXCYWH
        half = arr[:, 2:] / 2.0
        xyxy = np.concatenate([arr[:, :2] - half, arr[:, :2] + half], axis=1)
    if dst is BoxFormat.XYXY:
        return xyxy.copy() if xyxy is arr else xyxy
    wh = xyxy[:, 2:] - xyxy[:, :2]
    if dst is BoxFormat.XYWH:
        return np.concatenate([xyxy[:, :2], wh], axis=1)
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2.0, wh], axis=1)


def box_area(xyxy: np.ndarray) -> np.ndarray:
    """(N,) area of xyxy boxes; negative extents count as 0."""
    xyxy = _as_n4(xyxy)
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(N, M)`` of xyxy boxes (float64, continuous coordinates)."""
    a = _as_n4(a, "a")
    b = _as_n4(b, "b")
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


@dataclass(frozen=True, eq=False)
class Boxes:
    """Immutable boxes: ``xyxy`` is ``(N, 4) float64``, continuous pixels of the
    original image of size ``image_hw = (height, width)``."""

    xyxy: np.ndarray
    image_hw: tuple[int, int]

    def __post_init__(self):
        arr = _as_n4(self.xyxy, "xyxy")
        if arr is self.xyxy:
            arr = arr.copy()
        arr.setflags(write=False)
        object.__setattr__(self, "xyxy", arr)
        hw = tuple(int(v) for v in self.image_hw)
        if len(hw) != 2:
            raise ValueError(f"image_hw: expected (height, width), got {self.image_hw!r}")
        object.__setattr__(self, "image_hw", hw)

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @classmethod
    def empty(cls, image_hw: tuple[int, int]) -> "Boxes":
        return cls(np.zeros((0, 4)), image_hw)

    @classmethod
    def adopt(cls, xyxy: np.ndarray, image_hw: tuple[int, int]) -> "Boxes":
        """Boxes that take ownership of a fresh ``(N, 4) float64`` array without
        copying it (readers that just built it; made read-only here)."""
        if xyxy.dtype != np.float64 or xyxy.ndim != 2 or xyxy.shape[1] != 4:
            return cls(xyxy, image_hw)
        b = object.__new__(cls)
        xyxy.setflags(write=False)
        object.__setattr__(b, "xyxy", xyxy)
        object.__setattr__(b, "image_hw", (int(image_hw[0]), int(image_hw[1])))
        return b

    @classmethod
    def from_array(cls, a, fmt: BoxFormat, *, normalized: bool, image_hw: tuple[int, int]) -> "Boxes":
        """Build from rows in ``fmt``; ``normalized=True`` means coordinates are
        fractions of the image width/height (only the YOLO reader uses this)."""
        arr = _as_n4(a)
        if normalized:
            h, w = image_hw
            arr = arr * np.array([w, h, w, h], dtype=np.float64)
        return cls(convert(arr, fmt, BoxFormat.XYXY), image_hw)

    def to_array(self, fmt: BoxFormat, *, normalized: bool) -> np.ndarray:
        """A new ``(N, 4) float64`` array in ``fmt``, in pixels or fractions."""
        out = convert(self.xyxy, BoxFormat.XYXY, fmt)
        if normalized:
            h, w = self.image_hw
            out /= np.array([w, h, w, h], dtype=np.float64)
        return out

    @property
    def area(self) -> np.ndarray:
        return box_area(self.xyxy)

    @property
    def wh(self) -> np.ndarray:
        return self.xyxy[:, 2:] - self.xyxy[:, :2]

    def clip(self) -> "Boxes":
        """A new Boxes clipped to ``[0, W] x [0, H]``."""
        h, w = self.image_hw
        return Boxes(np.clip(self.xyxy, 0, [w, h, w, h]), self.image_hw)

    def __getitem__(self, idx) -> "Boxes":
        return Boxes(self.xyxy[idx].reshape(-1, 4), self.image_hw)
