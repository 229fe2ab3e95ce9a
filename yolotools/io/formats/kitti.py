"""KITTI object labels (``label_2/<id>.txt``, one object per line:
``type truncated occluded alpha left top right bottom height width length x y z
rotation_y [score]``).

Pixel convention: ``left top right bottom`` are pixel corners, taken as
continuous coordinates.  The class is ``type`` (``DontCare`` regions are kept
as a class of that name).  ``truncated``, ``occluded``, ``alpha``, the 3-D
dimensions, location, ``rotation_y`` and a ``score`` are kept in ``attrs``
unless they hold the values KITTI uses for "no 3-D annotation" (0, 0, -10,
-1 -1 -1, -1000 -1000 -1000, -10), which the writer puts back.  The labels hold
no image size: images come from ``image_2/`` beside ``label_2/`` (or
``images``), sizes from their headers or ``image_sizes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence


from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..values import finite
from ._build import DatasetBuilder
from .images import label_files
from .text import Columns, num, write_texts

__all__ = ["read_kitti", "write_kitti", "kitti_label_dir"]

_DEFAULTS = {"truncated": 0.0, "occluded": 0, "alpha": -10.0, "dimensions": [-1.0, -1.0, -1.0],
             "location": [-1000.0, -1000.0, -1000.0], "rotation_y": -10.0}


def kitti_label_dir(folder: Path) -> Path:
    return folder / "label_2" if (folder / "label_2").is_dir() else folder


def read_kitti(
    folder: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    """Read KITTI labels from ``folder/label_2`` (or ``folder`` itself)."""
    folder = Path(folder)
    labels = kitti_label_dir(folder)
    files = label_files(labels, ".txt", "a KITTI folder (with label_2/) or a folder of label .txt files")
    if images is None and (folder / "image_2").is_dir():
        images = folder / "image_2"
    problems = Problems(strict=strict)
    b = DatasetBuilder(folder, problems, classes=classes, images=images, image_sizes=image_sizes)
    rels = [f.relative_to(labels).with_suffix("").as_posix() for f in files]
    b.prefetch_sizes(rels)
    for f, rel in zip(files, rels):
        iid = b.image_id(rel, "", file=f)
        img = None if iid is None else b.add_image(iid, b.find_image(rel, "", file=f), None, "", file=f)
        if img is None:
            continue
        try:
            lines = f.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            problems.error("unreadable_label", f, f"cannot read: {e}; image kept without boxes")
            continue
        for ln, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            where = f"line {ln}"
            if len(parts) not in (15, 16):
                problems.error("bad_row", f, f"{len(parts)} fields, KITTI has 15 (16 with a score); skipped", where)
                continue
            vals = [finite(v) for v in parts[1:]]
            if any(v is None for v in vals):
                problems.error("bad_box", f, "fields 2-15 must be finite numbers; skipped", where)
                continue
            a = {"truncated": vals[0], "occluded": int(vals[1]), "alpha": vals[2], "dimensions": vals[7:10],
                 "location": vals[10:13], "rotation_y": vals[13]}
            attrs = {k: v for k, v in a.items() if v != _DEFAULTS[k]}
            if len(vals) == 15:
                attrs["score"] = vals[14]
            b.add_box(img, parts[0], vals[3], vals[4], vals[5], vals[6], where, file=f, attrs=attrs)
    return b.build(), problems


def write_kitti(dataset: DetectionDataset, folder: Path | str) -> dict:
    """Write ``folder/label_2/<id>.txt`` (an empty file for an image with no box),
    each file atomically."""
    folder = Path(folder)
    names = dataset.class_map.names
    bad = [n for n in names if any(c.isspace() for c in n)]
    if bad:
        raise YoloToolsError(f"KITTI labels are space-separated: class name {bad[0]!r} has a space; remap it first (yolotools remap)")
    cols = Columns(dataset)
    t = Columns.rows(cols.xyxy, ("", " ", " ", " ", ""))
    d = _DEFAULTS
    head = f"{num(d['truncated'])} {int(d['occluded'])} {num(d['alpha'])}"
    tail = " ".join([num(v) for v in d["dimensions"]] + [num(v) for v in d["location"]] + [num(d["rotation_y"])])
    cls = cols.cls
    texts = []
    for b0, b1 in zip(cols.starts, cols.ends):
        lines = []
        for j in range(b0, b1):
            at = cols.attr(j)
            if not at:
                lines.append(f"{names[cls[j]]} {head} {t[j]} {tail}\n")
                continue
            a = dict(_DEFAULTS)
            a.update({k: v for k, v in at.items() if k in _DEFAULTS or k == "score"})
            f = [names[cls[j]], num(a["truncated"]), str(int(a["occluded"])), num(a["alpha"]), *t[j].split(" ")]
            f += [num(v) for v in a["dimensions"]] + [num(v) for v in a["location"]] + [num(a["rotation_y"])]
            if "score" in a:
                f.append(num(a["score"]))
            lines.append(" ".join(f) + "\n")
        texts.append("".join(lines))
    write_texts(folder / "label_2", [r.image_id + ".txt" for r in cols.records], texts, "image id")
    return {"images": len(cols), "boxes": len(cls)}
