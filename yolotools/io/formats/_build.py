"""What every labelling-tool reader and writer shares.

- :class:`DatasetBuilder`: a reader hands it images and boxes in the file's own
  order; it checks them the way the VOC and COCO readers do (finite numbers,
  empty boxes, boxes outside the image clipped or skipped, unknown classes,
  duplicate images, names that would leave the dataset), each finding a
  :class:`~yolotools.errors.Problem` naming the file and the record, and builds
  the :class:`~yolotools.annotations.DetectionDataset`.
- Image sizes: many tool formats (createML, KITTI, VIA, Open Images) do not
  store them.  They come from ``image_sizes`` (a mapping image id -> (h, w)),
  else from the image header in the ``images`` folder, else the image is an
  error that says so.
- Coordinates are snapped to 1e-9 pixel, so that a box written in percent or
  normalised units and read back lands on the same pixel (352.99999999999994
  is 353) and is not reported as clipped.
- Writers: :func:`num` prints a coordinate as the shortest text that reads back
  to the same float (``104`` for 104.0), so writing loses nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence

import numpy as np

from ...annotations import ClassMap, DetectionDataset, ImageRecord, checked_hw, trusted_record
from ...errors import Problems, YoloToolsError
from ..files import folder_entries, image_size_hw, inside_root, plain_image_id, relative_name

__all__ = ["DatasetBuilder", "num", "finite", "image_file_name", "class_order", "label_files", "box_rows"]


def num(v: float) -> str:
    """Shortest text that parses back to ``v`` (``104`` for 104.0, ``0.1`` for 0.1)."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def finite(v) -> float | None:
    """``v`` as a finite float (numbers or numeric text; a decimal comma is
    accepted, as CVAT's Open Images export writes ``"0,358"``), else ``None``."""
    t = type(v)
    if t is float:  # the common case (JSON numbers): NaN and inf fail v - v == 0
        return v if v - v == 0 else None
    if t is int:
        return float(v)
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        try:  # the common case: float() takes the text as it is (surrounding spaces included)
            f = float(v)
            return f if f - f == 0 else None
        except ValueError:
            pass
        v = v.strip().replace(",", ".")
        if not v:
            return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def image_file_name(rec: ImageRecord) -> str:
    """The file name a writer records for an image: its id plus the source
    image's extension (``.jpg`` when unknown)."""
    ext = rec.path.suffix if rec.path is not None and rec.path.suffix else ".jpg"
    return rec.image_id + ext


def label_files(folder: Path, suffix: str, what: str) -> list[Path]:
    """The ``suffix`` files below ``folder`` (sorted), or a clear error when
    ``folder`` is not a folder or holds none; ``what`` says what it should be."""
    if not folder.is_dir():
        raise YoloToolsError(f"{folder}: expected {what}")
    files = sorted(p for p in folder.rglob("*" + suffix) if p.is_file())
    if not files:
        raise YoloToolsError(f"{folder}: no {suffix} files ({what})")
    return files


def box_rows(ann) -> list[tuple]:
    """Each box of ``ann`` as ``(x1, y1, x2, y2, class index, attrs dict,
    difficult, crowd)`` with plain Python numbers: what every writer loops over."""
    attrs = ann.attrs.tolist() if ann.attrs is not None else [None] * len(ann)
    return [(*b, c, a or {}, d, k) for b, c, a, d, k in
            zip(ann.boxes.xyxy.tolist(), ann.class_ids.tolist(), attrs, ann.is_difficult.tolist(), ann.is_crowd.tolist())]


def class_order(names: Iterable[str], *, classes: Sequence[str] | None = None, declared: Sequence[str] = ()) -> list[str]:
    """The class order: ``classes`` when given; else the names the format
    declares (CVAT's label list) in their order, then the other names found,
    sorted."""
    if classes:
        return list(classes)
    out = list(dict.fromkeys(declared))
    seen = set(out)
    out += sorted({n for n in names if n not in seen})
    return out


class _Img:
    __slots__ = ("image_id", "path", "hw", "boxes", "labels", "difficult", "crowd", "attrs", "where")

    def __init__(self, image_id, path, hw, where):
        self.image_id, self.path, self.hw, self.where = image_id, path, hw, where
        self.boxes: list[tuple] = []
        self.labels: list[str] = []
        self.difficult: list[bool] = []
        self.crowd: list[bool] = []
        self.attrs: list[dict | None] = []


def _has_suffix(name: str) -> bool:
    """``bool(PurePosixPath(name).suffix)``, without a path object for a name whose
    last part is a plain file name (readers call this once per image)."""
    last = name.rpartition("/")[2]
    if last in ("", ".", ".."):
        return bool(PurePosixPath(name).suffix)
    i = last.rfind(".")
    return 0 < i < len(last) - 1


class DatasetBuilder:
    """Collects what a reader finds and checks it (see the module doc).

    ``classes``: a fixed class order; a box of any other class is an error
    (``unknown_class``) and is skipped.  Without it the order is
    :func:`class_order` of ``declared`` and the names found.
    """

    def __init__(
        self,
        source: Path | str,
        problems: Problems,
        *,
        classes: Sequence[str] | None = None,
        declared: Sequence[str] = (),
        images: Path | str | None = None,
        image_sizes: Mapping[str, tuple[int, int]] | None = None,
    ):
        self.source = Path(source)
        self.problems = problems
        self.classes = list(classes) if classes else None
        self._class_set = set(self.classes or ())
        self.declared = list(declared)
        self.images = Path(images) if images is not None else None
        self.image_sizes = image_sizes or {}
        self._imgs: dict[str, _Img] = {}
        self._dirs: dict[tuple[str, str], dict[str, bool] | None] = {}
        self._refused: set[str] = set()
        self._row_imgs: dict[str, _Img] = {}

    def count(self, what: str, n: int = 1) -> None:
        """Count a shape the reader turned into a box (``polygon_to_box``); the
        counts travel in ``problems.converted`` to the report."""
        self.problems.converted[what] = self.problems.converted.get(what, 0) + n

    # ------------------------------------------------------------------ images
    def image_id(self, name: str, where: str, *, file: Path | str | None = None) -> str | None:
        """The image id for a file name from the labels (``a/b.jpg`` -> ``a/b``),
        or ``None`` (and an error) when the name would leave the dataset."""
        s = str(name).replace("\\", "/").strip()
        plain = plain_image_id(s)
        if plain is not None:
            return plain
        pp = relative_name(s)
        if pp is None:
            self.problems.error("path_outside_dataset", file or self.source,
                                f"image name {name!r} is empty or points outside the dataset (absolute, '..', drive or NUL); "
                                "image and its boxes skipped", where)
            return None
        return str(pp.with_suffix("")) if pp.suffix else str(pp)

    def find_image(self, name: str, where: str, *, file=None) -> Path | None:
        """The image file ``name`` in the ``images`` folder, confined to it;
        tries the usual extensions when ``name`` has none.  ``None`` when there
        is no folder."""
        root = self.images
        if root is None:
            return None
        cands = [name] if _has_suffix(name) else [name + e for e in (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")]
        for c in cands:  # fast path: a plain file listed in its (confined) folder, read once per folder
            d, _, base = c.replace("\\", "/").rpartition("/")
            entries = self._listing(root, d)
            if entries is not None and entries.get(base) is False:
                return Path(root, c)
        for c in cands:
            try:
                p = inside_root(root, c, what="image name")
            except YoloToolsError as e:
                self.problems.error("path_outside_dataset", file or self.source, f"{e}; image and its boxes skipped", where)
                return None
            if os.path.exists(p):
                return p
        return Path(root) / cands[0]

    def _listing(self, root: Path, sub: str) -> dict[str, bool] | None:
        """``{name: is_symlink}`` of the folder ``root/sub`` when it is confined to
        ``root`` (checked once per folder), else ``None`` (the slow path decides)."""
        key = (str(root), sub)
        if key not in self._dirs:
            try:
                entries = folder_entries(inside_root(root, sub, what="image folder") if sub else Path(root))
            except YoloToolsError:
                entries = None
            self._dirs[key] = entries
        return self._dirs[key]

    def add_image(self, image_id: str | None, path: Path | None, hw, where: str, *, file=None) -> _Img | None:
        """Register an image; ``hw`` may be ``None`` (then from ``image_sizes`` or
        the image header).  Returns ``None`` (with an error) for an image whose
        size cannot be known; an id already registered returns that image
        (:meth:`entry_image` refuses such duplicates, :meth:`row_image` shares them)."""
        if image_id is None:
            return None
        prev = self._imgs.get(image_id)
        if prev is not None:
            return prev
        if hw is not None:
            try:
                hw = (int(hw[0]), int(hw[1]))
            except (TypeError, ValueError):
                hw = None
            if hw is not None and (hw[0] <= 0 or hw[1] <= 0):
                self.problems.error("bad_image_size", file or self.source, f"image {image_id!r}: size {hw[1]}x{hw[0]} is not positive", where)
                hw = None
        if hw is None:
            hw = self.image_sizes.get(image_id)
        if hw is None and path is not None:
            try:
                hw = image_size_hw(path)
            except YoloToolsError as e:
                self.problems.error("missing_size", file or self.source, f"image {image_id!r}: the labels give no size and {e}; skipped", where)
                return None
        if hw is None:
            self.problems.error("missing_size", file or self.source,
                                f"image {image_id!r}: the labels give no image size; give the image folder (--images) so it can "
                                "be read from the image header; skipped", where)
            return None
        img = _Img(image_id, path, hw, where)
        self._imgs[image_id] = img
        return img

    def entry_image(self, name: str, where: str, hw=None, *, file=None) -> _Img | None:
        """The image of one entry of a format with an entry per image (CVAT
        ``<image>``, a Label Studio task, a createML or VIA item): its id, a
        second entry for it refused (``duplicate_image``), its file and size."""
        iid = self.image_id(name, where, file=file)
        if iid is None:
            return None
        if iid in self._imgs:
            self.problems.error("duplicate_image", file or self.source, f"image {name!r} listed twice; the second entry skipped", where)
            return None
        return self.add_image(iid, self.find_image(name, where, file=file), hw, where, file=file)

    def row_image(self, name: str, where: str, hw=None) -> _Img | None:
        """The image of one row of a format with a row per box (Open Images,
        TFOD): rows of the same image share it; an image refused once (bad name,
        no size) is not reported again for each of its rows."""
        if name in self._refused:
            return None
        seen = self._row_imgs.get(name)  # a later row of the same image
        if seen is not None:
            return seen
        iid = self.image_id(name, where)
        img = None
        if iid is not None:
            img = self._imgs.get(iid) or self.add_image(iid, self.find_image(name, where), hw, where)
        if img is None:
            self._refused.add(name)
        else:
            self._row_imgs[name] = img
        return img

    # ------------------------------------------------------------------- boxes
    def add_box(self, img: _Img, label, x1, y1, x2, y2, where: str, *, file=None, difficult=False, crowd=False,
                attrs: dict | None = None, clip: bool = True) -> bool:
        """Add one box in continuous pixels of the image; returns whether it was kept."""
        f = file or self.source
        label = "" if label is None else str(label)
        if not label.strip():
            self.problems.error("missing_class", f, "box has no class name; skipped", where)
            return False
        if self.classes is not None and label not in self._class_set:
            self.problems.error("unknown_class", f, f"class {label!r} is not in the given class list; skipped", where)
            return False
        vals = (finite(x1), finite(y1), finite(x2), finite(y2))
        if None in vals:
            self.problems.error("bad_box", f, f"box {[x1, y1, x2, y2]!r} is not 4 finite numbers; skipped", where)
            return False
        # snapped to 1e-9 px: percent and normalised formats come back as 352.99999999999994 for 353
        x1, y1, x2, y2 = round(vals[0], 9), round(vals[1], 9), round(vals[2], 9), round(vals[3], 9)
        if x2 <= x1 or y2 <= y1:
            self.problems.error("empty_box", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) has zero or negative size; skipped", where)
            return False
        if clip:
            ih, iw = img.hw
            if x1 < 0 or y1 < 0 or x2 > iw or y2 > ih:
                c = (max(x1, 0.0), max(y1, 0.0), min(x2, float(iw)), min(y2, float(ih)))
                if c[2] <= c[0] or c[3] <= c[1]:
                    self.problems.error("box_outside_image", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) lies outside the "
                                        f"{iw}x{ih} image; skipped", where)
                    return False
                self.problems.warning("box_clipped", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) extends outside the "
                                      f"{iw}x{ih} image; clipped", where)
                x1, y1, x2, y2 = c
        img.boxes.append((x1, y1, x2, y2))
        img.labels.append(label)
        img.difficult.append(bool(difficult))
        img.crowd.append(bool(crowd))
        img.attrs.append(attrs or None)
        return True

    # ------------------------------------------------------------------- build
    def build(self) -> DetectionDataset:
        names = class_order((l for im in self._imgs.values() for l in im.labels), classes=self.classes, declared=self.declared)
        try:
            cmap = ClassMap(tuple(names))
        except ValueError as e:
            raise YoloToolsError(f"{self.source}: classes: {e}") from None
        index = {n: i for i, n in enumerate(names)}
        imgs = list(self._imgs.values())
        # every image's arrays are read-only slices of one array per field: one numpy call per field, not per image
        xyxy = np.array([b for im in imgs for b in im.boxes], dtype=np.float64).reshape(-1, 4)
        cls = np.array([index[l] for im in imgs for l in im.labels], dtype=np.int64)
        diff = np.array([d for im in imgs for d in im.difficult], dtype=np.bool_)
        crowd = np.array([c for im in imgs for c in im.crowd], dtype=np.bool_)
        for a in (xyxy, cls, diff, crowd):
            a.setflags(write=False)
        records = []
        b0 = 0
        for im in imgs:
            b1 = b0 + len(im.boxes)
            attrs = None
            if any(im.attrs):  # as Annotations keeps them: an object array, empty dicts as None
                attrs = np.empty(b1 - b0, dtype=object)
                attrs[:] = [v if v else None for v in im.attrs]
                attrs.setflags(write=False)
            hw = checked_hw(im.image_id, im.hw)  # sizes given by a caller (image_sizes) may be any numbers
            records.append(trusted_record(im.image_id, im.path, hw, xyxy[b0:b1], cls[b0:b1], diff[b0:b1], crowd[b0:b1],
                                          attrs=attrs))
            b0 = b1
        return DetectionDataset(cmap, tuple(records))
