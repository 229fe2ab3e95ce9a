"""The two one-row-per-box CSV formats: Open Images and TFOD.

Open Images (``ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,
IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside``): corners normalised to
0-1 of the image size, which the file does not hold (sizes come from the image
headers or ``image_sizes``).  ``LabelName`` is a class name or a MID
(``/m/01g317``) mapped through ``class_descriptions`` (Open Images'
``class-descriptions-boxable.csv``: ``MID,name`` lines).  ``IsGroupOf`` is
kept as the crowd flag; ``Source``, ``Confidence`` and the other flags are kept
in ``attrs`` when present.  Decimal commas (``"0,358"``, as CVAT writes) are
read.  Images with no box cannot be written (the format has no row for them).

TFOD (``filename,width,height,class,xmin,ymin,xmax,ymax``): corners in pixels
as the TensorFlow Object Detection API's ``generate_tfrecord.py`` reads them;
``units="auto"`` also reads files whose corners are normalised (every
coordinate in the file within 0-1, as panlabel writes them), and says so.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text
from ..values import finite, finite_values
from ._build import DatasetBuilder
from .text import Columns, csv_cell

__all__ = ["read_openimages", "write_openimages", "read_tfod", "write_tfod", "OI_COLUMNS", "TFOD_COLUMNS"]

OI_COLUMNS = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax",
              "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
OI_FLAGS = ("IsOccluded", "IsTruncated", "IsDepiction", "IsInside")
TFOD_COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
_MAX_CSV = 2 << 30


def _rows(path: Path, need: Sequence[str]):
    """``(header, column, rows)`` of a CSV file with the columns ``need``:
    ``column[name]`` is the cell index of a column (the last one of a repeated
    name), ``rows`` a list of ``(line number, stripped cells, whether it has as
    many cells as the header)`` of the non-blank rows."""
    try:
        if path.stat().st_size > _MAX_CSV:
            raise YoloToolsError(f"{path}: larger than 2 GiB; refused")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise YoloToolsError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise YoloToolsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise YoloToolsError(f"{path}: empty file") from None
    missing = [c for c in need if c not in header]
    if missing:
        raise YoloToolsError(f"{path}: header lacks {', '.join(missing)} (header is {','.join(header)!r})")
    column = {h: k for k, h in enumerate(header)}
    n = len(header)
    # a cell can need stripping only where the text has whitespace other than line ends outside quotes
    strip = not text.isascii() or '"' in text or any(c in text for c in " \t\x0b\x0c\x1c\x1d\x1e\x1f")
    rows = []
    try:
        for row in reader:
            if strip:
                row = [c.strip() for c in row]
            if not any(row):
                continue
            rows.append((reader.line_num, row, len(row) == n))
    except csv.Error as e:
        raise YoloToolsError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None
    return header, column, rows


def _full_rows(rows, header, path, problems):
    """The rows with as many cells as the header; the others are errors."""
    for line, r, full in rows:
        if full:
            yield line, r
        else:
            cells = len(dict(zip(header, r)))  # as counted when rows were dicts of the header's names
            problems.error("bad_row", path, f"{cells} columns, header has {len(header)}; skipped", f"line {line}")


def read_openimages(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    class_descriptions: Path | str | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    path = Path(path)
    problems = Problems(strict=strict)
    mids: dict[str, str] = {}
    if class_descriptions is not None:
        cd = Path(class_descriptions)
        try:
            for row in csv.reader(io.StringIO(cd.read_text(encoding="utf-8-sig"), newline="")):
                if len(row) >= 2 and row[0].strip() and row[0] != "LabelName":
                    mids[row[0].strip()] = row[1].strip()
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise YoloToolsError(f"{cd}: cannot read class descriptions: {e}") from None
    need = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
    header, col, rows = _rows(path, need)
    full = [r for _, r, f in rows if f]
    c_id, c_label = col["ImageID"], col["LabelName"]
    c_box = [col[k] for k in ("XMin", "XMax", "YMin", "YMax")]
    coords = finite_values([r[k] for r in full for k in c_box])
    crowd, attrs = _oi_extras(col, lambda k: [r[col[k]] for r in full], len(full))
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    b.prefetch_sizes(r[c_id] for r in full)
    n = -1
    for line, r in _full_rows(rows, header, path, problems):
        n += 1
        where = f"line {line}"
        img = b.row_image(r[c_id], where)
        if img is None:
            continue
        label = r[c_label]
        if label.startswith("/m/") or label.startswith("/g/"):
            if label in mids:
                label = mids[label]
            elif mids:
                problems.error("unknown_class", path, f"MID {label!r} not in {class_descriptions}; skipped", where)
                continue
        h, w = img.hw
        x1, x2, y1, y2 = coords[4 * n : 4 * n + 4]
        if None in (x1, x2, y1, y2):
            problems.error("bad_box", path, f"XMin/XMax/YMin/YMax {[r[k] for k in c_box]} are not numbers; skipped", where)
            continue
        b.add_box(img, label, x1 * w, y1 * h, x2 * w, y2 * h, where, crowd=crowd[n], attrs=attrs[n])
    return b.build(), problems


def _oi_extras(col: dict, column, n: int) -> tuple[list[bool], list[dict]]:
    """Per row of an Open Images table: the crowd flag (``IsGroupOf`` > 0) and
    the attributes kept (``Source``, ``Confidence`` and the other flags that are
    not empty); ``column(name)``: that column's cells."""
    keys = [k for k in ("Source", "Confidence") + OI_FLAGS if k in col]
    attrs = [{k: v for k, v in zip(keys, vals) if v} for vals in zip(*(column(k) for k in keys))] if keys else [{} for _ in range(n)]
    crowd = [g is not None and g > 0 for g in finite_values(column("IsGroupOf"))] if "IsGroupOf" in col else [False] * n
    return crowd, attrs


def _auto_units(corners, path: Path, problems: Problems) -> str:
    """TFOD's ``units="auto"``: normalised when every corner (the finite ones
    given) is within 0-1 and one is strictly inside, which is said; else pixels."""
    v = np.asarray(corners, dtype=np.float64)
    if v.size and v.max() <= 1.0 and ((v > 0) & (v < 1)).any():
        problems.warning("normalized_units", path, "every corner is within 0-1: read as normalised coordinates "
                         "(pass units='pixels' / --units pixels if they are pixels)")
        return "normalized"
    return "pixels"


def write_openimages(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write an Open Images box CSV (class names in ``LabelName``); flags and
    source come back from ``attrs`` where a reader kept them, ``IsGroupOf`` from
    the crowd flag, the rest are left empty (unknown)."""
    cols = Columns(dataset)
    names = [csv_cell(n) for n in dataset.class_map.names]
    h, w = cols.box_hw()
    x = cols.xyxy
    t = Columns.rows(np.stack([x[:, 0] / w, x[:, 2] / w, x[:, 1] / h, x[:, 3] / h], 1), ("", ",", ",", ",", ""))
    out = [",".join(OI_COLUMNS)]
    cls, crowd = cols.cls, cols.crowd
    for rec, b0, b1 in zip(cols.records, cols.starts, cols.ends):
        iid = csv_cell(rec.image_id)
        for j in range(b0, b1):
            a = cols.attr(j)
            if a:
                out.append(",".join(csv_cell(v) for v in (
                    rec.image_id, a.get("Source", ""), dataset.class_map.names[cls[j]], a.get("Confidence", "1"), *t[j].split(","),
                    a.get("IsOccluded", ""), a.get("IsTruncated", ""), "1" if crowd[j] else "0", a.get("IsDepiction", ""),
                    a.get("IsInside", ""))))
            else:
                out.append(f"{iid},,{names[cls[j]]},1,{t[j]},,,{'1' if crowd[j] else '0'},,")
    return _finish_csv(cols, path, out)


def _finish_csv(cols: Columns, path: Path | str, out: list[str]) -> dict:
    """Write a one-row-per-box CSV (atomic); an image with no box has no row,
    and is counted as not written."""
    skipped = sum(1 for b0, b1 in zip(cols.starts, cols.ends) if b0 == b1)
    atomic_write_text(Path(path), "\n".join(out) + "\n")
    return {"images": len(cols) - skipped, "boxes": len(cols.cls), "images_without_boxes_not_written": skipped}


def read_tfod(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    units: str = "auto",
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    path = Path(path)
    if units not in ("auto", "pixels", "normalized"):
        raise YoloToolsError(f"units must be auto, pixels or normalized, got {units!r}")
    problems = Problems(strict=strict)
    header, col, rows = _rows(path, TFOD_COLUMNS)
    c_box = [col[k] for k in ("xmin", "ymin", "xmax", "ymax")]
    if units == "auto":  # every row's corners, whole or not
        units = _auto_units([v for v in finite_values([r[k] if k < len(r) else None for _, r, _ in rows for k in c_box])
                             if v is not None], path, problems)
    full = [r for _, r, f in rows if f]
    c_name, c_w, c_h, c_class = col["filename"], col["width"], col["height"], col["class"]
    coords = finite_values([r[k] for r in full for k in c_box])
    sizes: dict[tuple[str, str], tuple] = {}  # (height, width) cells -> their numbers: every row of an image repeats them
    for r in full:
        key = (r[c_h], r[c_w])
        if key not in sizes:
            sizes[key] = (finite(key[0]), finite(key[1]))
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    n = -1
    for line, r in _full_rows(rows, header, path, problems):
        n += 1
        where = f"line {line}"
        name = r[c_name]
        wh = sizes[(r[c_h], r[c_w])]
        img = b.row_image(name, where, wh if None not in wh else None)
        if img is None:
            continue
        if None not in wh and (int(wh[0]), int(wh[1])) != img.hw:
            problems.error("size_mismatch", path, f"image {name!r} is {int(wh[1])}x{int(wh[0])} here but "
                           f"{img.hw[1]}x{img.hw[0]} on an earlier row; box skipped", where)
            continue
        x1, y1, x2, y2 = coords[4 * n : 4 * n + 4]
        if units == "normalized" and None not in (x1, y1, x2, y2):
            h, w = img.hw
            x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
        b.add_box(img, r[c_class], x1, y1, x2, y2, where)
    return b.build(), problems


def write_tfod(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write a TFOD CSV with pixel corners (images with no box have no row)."""
    cols = Columns(dataset)
    names = [csv_cell(n) for n in dataset.class_map.names]
    t = Columns.rows(cols.xyxy, ("", ",", ",", ",", ""))
    cls = cols.cls
    out = [",".join(TFOD_COLUMNS)]
    for rec, fname, b0, b1 in zip(cols.records, cols.files, cols.starts, cols.ends):
        if b0 == b1:
            continue
        h, w = rec.image_hw
        head = f"{csv_cell(fname)},{w},{h},"
        out += [f"{head}{names[cls[j]]},{t[j]}" for j in range(b0, b1)]
    return _finish_csv(cols, path, out)
