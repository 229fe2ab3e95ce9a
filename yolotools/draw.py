"""Drawing boxes on images (previews, detections)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["draw_boxes", "PALETTE"]

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230)]


def draw_boxes(img: np.ndarray, xyxy: np.ndarray, class_ids: np.ndarray, names: Sequence[str], scores: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``img (H, W, 3) uint8 RGB`` with boxes and ``name [score]`` labels drawn."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    sc = [None] * len(xyxy) if scores is None else list(np.asarray(scores).tolist())
    for (x1, y1, x2, y2), c, s in zip(np.asarray(xyxy).tolist(), np.asarray(class_ids).astype(int).tolist(), sc):
        col = PALETTE[c % len(PALETTE)]
        d.rectangle([x1, y1, x2, y2], outline=col, width=2)
        label = names[c] if c < len(names) else str(c)
        d.text((x1 + 2, max(0, y1 - 11) if s is not None else y1 + 1), label if s is None else f"{label} {s:.2f}", fill=col)
    return np.asarray(im)
