"""Letterbox geometry: resize keeping the aspect ratio, pad to a square (or any)
size, and map boxes exactly both ways (pure numpy; images via OpenCV)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LetterboxInfo", "letterbox_info", "letterbox_image", "to_letterbox", "from_letterbox"]


@dataclass(frozen=True)
class LetterboxInfo:
    """How an ``image_hw`` image was placed in an ``out_hw`` canvas: scaled by
    ``scale_xy`` (new size / old size, per axis) and shifted by ``pad_xy``
    (left, top) pixels.  A point ``x`` maps to ``x * sx + left``."""

    image_hw: tuple[int, int]
    out_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    scale_xy: tuple[float, float]
    pad_xy: tuple[int, int]


def letterbox_info(image_hw: tuple[int, int], out_hw: tuple[int, int] | int) -> LetterboxInfo:
    if isinstance(out_hw, int):
        out_hw = (out_hw, out_hw)
    h, w = image_hw
    H, W = out_hw
    r = min(H / h, W / w)
    nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
    left, top = (W - nw) // 2, (H - nh) // 2
    return LetterboxInfo((h, w), (H, W), (nh, nw), (nw / w, nh / h), (left, top))


def letterbox_image(img: np.ndarray, out_hw: tuple[int, int] | int, *, fill: int = 114,
                    shrink: str = "area") -> tuple[np.ndarray, LetterboxInfo]:
    """``img (H, W, C) uint8`` -> letterboxed image and its :class:`LetterboxInfo`.
    ``shrink``: ``"area"`` (inference and evaluation: no aliasing) or ``"linear"``
    (the training loader, as Ultralytics' loader; 2-3x faster) when the image is
    made smaller; enlarging is always bilinear."""
    import cv2

    info = letterbox_info(img.shape[:2], out_hw)
    nh, nw = info.resized_hw
    interp = cv2.INTER_AREA if (nh < img.shape[0] and shrink == "area") else cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp) if (nh, nw) != img.shape[:2] else img
    out = np.full((*info.out_hw, img.shape[2]), fill, dtype=img.dtype)
    left, top = info.pad_xy
    out[top : top + nh, left : left + nw] = resized
    return out, info


def to_letterbox(xyxy: np.ndarray, info: LetterboxInfo) -> np.ndarray:
    """Original-image xyxy -> letterboxed-canvas xyxy (new array)."""
    sx, sy = info.scale_xy
    left, top = info.pad_xy
    return np.asarray(xyxy, np.float64) * [sx, sy, sx, sy] + [left, top, left, top]


def from_letterbox(xyxy: np.ndarray, info: LetterboxInfo, *, clip: bool = True) -> np.ndarray:
    """Letterboxed-canvas xyxy -> original-image xyxy (new array), clipped to the image."""
    sx, sy = info.scale_xy
    left, top = info.pad_xy
    out = (np.asarray(xyxy, np.float64) - [left, top, left, top]) / [sx, sy, sx, sy]
    if clip:
        h, w = info.image_hw
        out = np.clip(out, 0, [w, h, w, h])
    return out
