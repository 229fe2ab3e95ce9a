"""Figures: matplotlib to PNG bytes, files (atomic) and data URIs for self-contained HTML."""

from __future__ import annotations

import base64
import io
from pathlib import Path


__all__ = ["png_bytes", "save_png", "png_data_uri"]


def png_bytes(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def save_png(fig, path: Path, dpi: int = 100) -> str:
    """Write a figure as PNG, atomically; returns the path."""
    from .io.files import atomic_write_bytes

    atomic_write_bytes(Path(path), png_bytes(fig, dpi))
    return str(path)


def png_data_uri(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi=90)).decode()
