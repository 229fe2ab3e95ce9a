"""VOC pixel conventions: ``<bndbox>`` numbers <-> continuous xyxy pixels."""

from __future__ import annotations

from ...errors import YoloToolsError

__all__ = ["CONVENTIONS", "voc_to_xyxy", "xyxy_to_voc"]

CONVENTIONS = ("exact", "darknet", "raw")

# offsets added to (xmin, ymin, xmax, ymax) to get continuous xyxy
_OFFSETS = {
    "exact": (-1.0, -1.0, 0.0, 0.0),
    "darknet": (-1.0, -1.0, -1.0, -1.0),
    "raw": (0.0, 0.0, 0.0, 0.0),
}


def _offsets(convention: str) -> tuple[float, float, float, float]:
    try:
        return _OFFSETS[convention]
    except KeyError:
        raise YoloToolsError(f"unknown VOC pixel convention {convention!r}; choose from {list(CONVENTIONS)}") from None


def voc_to_xyxy(voc, convention: str = "exact"):
    """``(N, 4)`` VOC (xmin, ymin, xmax, ymax) -> continuous xyxy pixels (new array)."""
    import numpy as np

    return np.asarray(voc, dtype=np.float64).reshape(-1, 4) + _offsets(convention)


def xyxy_to_voc(xyxy, convention: str = "exact"):
    """Inverse of :func:`voc_to_xyxy` (new array)."""
    import numpy as np

    return np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) - _offsets(convention)
