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

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text
from ._build import DatasetBuilder, box_rows, finite, image_file_name, num

__all__ = ["read_openimages", "write_openimages", "read_tfod", "write_tfod", "OI_COLUMNS", "TFOD_COLUMNS"]

OI_COLUMNS = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax",
              "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
OI_FLAGS = ("IsOccluded", "IsTruncated", "IsDepiction", "IsInside")
TFOD_COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
_MAX_CSV = 2 << 30


def _rows(path: Path, need: Sequence[str]):
    """(header, iterator of (line number, row dict)) of a CSV file with the columns ``need``."""
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

    def it():
        try:
            for row in reader:
                if not row or not any(c.strip() for c in row):
                    continue
                yield reader.line_num, dict(zip(header, (c.strip() for c in row))), len(row) == len(header)
        except csv.Error as e:
            raise YoloToolsError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None

    return header, it()


def _full_rows(rows, header, path, problems):
    """The rows with as many cells as the header; the others are errors."""
    for line, r, full in rows:
        if full:
            yield line, r
        else:
            problems.error("bad_row", path, f"{len(r)} columns, header has {len(header)}; skipped", f"line {line}")


def _flag(v) -> bool | None:
    f = finite(v)
    return None if f is None else f > 0


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
    header, rows = _rows(path, ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax"))
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    for line, r in _full_rows(rows, header, path, problems):
        where = f"line {line}"
        name = r["ImageID"]
        img = b.row_image(name, where)
        if img is None:
            continue
        label = r["LabelName"]
        if label.startswith("/m/") or label.startswith("/g/"):
            if label in mids:
                label = mids[label]
            elif mids:
                problems.error("unknown_class", path, f"MID {label!r} not in {class_descriptions}; skipped", where)
                continue
        h, w = img.hw
        x1, x2, y1, y2 = (finite(r[k]) for k in ("XMin", "XMax", "YMin", "YMax"))
        if None in (x1, x2, y1, y2):
            problems.error("bad_box", path, f"XMin/XMax/YMin/YMax {[r[k] for k in ('XMin', 'XMax', 'YMin', 'YMax')]} are not numbers; skipped", where)
            continue
        attrs = {}
        for k in ("Source", "Confidence") + OI_FLAGS:
            if r.get(k):
                attrs[k] = r[k]
        b.add_box(img, label, x1 * w, y1 * h, x2 * w, y2 * h, where, crowd=bool(_flag(r.get("IsGroupOf"))), attrs=attrs)
    return b.build(), problems


def write_openimages(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write an Open Images box CSV (class names in ``LabelName``); flags and
    source come back from ``attrs`` where a reader kept them, ``IsGroupOf`` from
    the crowd flag, the rest are left empty (unknown)."""
    names = dataset.class_map.names

    def rows(rec):
        h, w = rec.image_hw
        for x1, y1, x2, y2, c, a, _difficult, crowd in box_rows(rec.annotations):
            yield [rec.image_id, a.get("Source", ""), names[c], a.get("Confidence", "1"),
                   num(x1 / w), num(x2 / w), num(y1 / h), num(y2 / h),
                   a.get("IsOccluded", ""), a.get("IsTruncated", ""), "1" if crowd else "0", a.get("IsDepiction", ""), a.get("IsInside", "")]

    return _write_csv(dataset, path, OI_COLUMNS, rows)


def _write_csv(dataset: DetectionDataset, path: Path | str, columns, rows) -> dict:
    """A one-row-per-box CSV (atomic): ``rows(record)`` yields each box's cells;
    an image with no box has no row, and is counted as not written."""
    out = [",".join(columns)]
    for rec in dataset.records:
        out += [_csv_line(r) for r in rows(rec)]
    skipped = sum(1 for rec in dataset.records if not len(rec.annotations))
    atomic_write_text(Path(path), "\n".join(out) + "\n")
    return {"images": len(dataset) - skipped, "boxes": dataset.num_boxes, "images_without_boxes_not_written": skipped}


def _csv_line(row) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([str(v) for v in row])
    return buf.getvalue()


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
    header, rows = _rows(path, TFOD_COLUMNS)
    rows = list(rows)
    if units == "auto":
        coords = [finite(r[k]) for _, r, _ in rows for k in ("xmin", "ymin", "xmax", "ymax")]
        coords = [c for c in coords if c is not None]
        units = "normalized" if coords and max(coords) <= 1.0 and any(0 < c < 1 for c in coords) else "pixels"
        if units == "normalized":
            problems.warning("normalized_units", path, "every corner is within 0-1: read as normalised coordinates "
                             "(pass units='pixels' / --units pixels if they are pixels)")
    b = DatasetBuilder(path, problems, classes=classes, images=images, image_sizes=image_sizes)
    for line, r in _full_rows(rows, header, path, problems):
        where = f"line {line}"
        name = r["filename"]
        wh = (finite(r["height"]), finite(r["width"]))
        img = b.row_image(name, where, wh if None not in wh else None)
        if img is None:
            continue
        if None not in wh and (int(wh[0]), int(wh[1])) != img.hw:
            problems.error("size_mismatch", path, f"image {name!r} is {int(wh[1])}x{int(wh[0])} here but "
                           f"{img.hw[1]}x{img.hw[0]} on an earlier row; box skipped", where)
            continue
        x1, y1, x2, y2 = (finite(r[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        if units == "normalized" and None not in (x1, y1, x2, y2):
            h, w = img.hw
            x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
        b.add_box(img, r["class"], x1, y1, x2, y2, where)
    return b.build(), problems


def write_tfod(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write a TFOD CSV with pixel corners (images with no box have no row)."""
    names = dataset.class_map.names

    def rows(rec):
        h, w = rec.image_hw
        fname = image_file_name(rec)
        for x1, y1, x2, y2, c, *_ in box_rows(rec.annotations):
            yield [fname, w, h, names[c], num(x1), num(y1), num(x2), num(y2)]

    return _write_csv(dataset, path, TFOD_COLUMNS, rows)
