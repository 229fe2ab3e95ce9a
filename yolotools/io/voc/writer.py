"""Write Pascal VOC XML (``Annotations/<id>.xml``) and an ImageSets list."""

from __future__ import annotations

from pathlib import Path

from ...annotations import DetectionDataset
from ..files import atomic_write_text, confined_path
from .convention import _offsets

__all__ = ["write_voc"]


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(v: float) -> str:
    r = round(v)
    return str(int(r)) if abs(v - r) < 1e-9 else f"{v:.3f}".rstrip("0").rstrip(".")


def write_voc(dataset: DetectionDataset, root: Path, split: str, *, convention: str = "exact") -> None:
    """Write ``root/Annotations/<id>.xml`` and ``root/ImageSets/Main/<split>.txt``
    (atomic, one file at a time).  Coordinates follow ``convention``."""
    offs = _offsets(convention)
    root = Path(root)
    for rec in dataset.records:
        h, w = rec.image_hw
        ann = rec.annotations
        voc = ann.boxes.xyxy - offs
        fname = rec.path.name if rec.path is not None else f"{rec.image_id}.jpg"
        parts = [
            "<annotation>",
            f"\t<folder>{_esc(root.name)}</folder>",
            f"\t<filename>{_esc(fname)}</filename>",
            f"\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n\t\t<depth>3</depth>\n\t</size>",
            "\t<segmented>0</segmented>",
        ]
        for i in range(len(ann)):
            x1, y1, x2, y2 = voc[i]
            parts.append(
                "\t<object>\n"
                f"\t\t<name>{_esc(dataset.class_map.names[ann.class_ids[i]])}</name>\n"
                "\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
                f"\t\t<difficult>{int(ann.is_difficult[i])}</difficult>\n"
                f"\t\t<bndbox>\n\t\t\t<xmin>{_fmt(x1)}</xmin>\n\t\t\t<ymin>{_fmt(y1)}</ymin>\n"
                f"\t\t\t<xmax>{_fmt(x2)}</xmax>\n\t\t\t<ymax>{_fmt(y2)}</ymax>\n\t\t</bndbox>\n"
                "\t</object>"
            )
        parts.append("</annotation>\n")
        atomic_write_text(confined_path(root / "Annotations", f"{rec.image_id}.xml", what="image id"), "\n".join(parts))
    listing = "".join(f"{r.image_id}\n" for r in dataset.records)
    atomic_write_text(root / "ImageSets" / "Main" / f"{split}.txt", listing)
