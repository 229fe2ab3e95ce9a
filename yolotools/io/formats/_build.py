"""The one builder every labelling-tool reader hands its images and boxes to.

:class:`DatasetBuilder` checks them the way the VOC and COCO readers do (finite
numbers, empty boxes, boxes outside the image clipped or skipped, unknown
classes, duplicate images, names that would leave the dataset, sizes too big),
each finding a :class:`~yolotools.errors.Problem` naming the file and the
record, and builds the :class:`~yolotools.annotations.DetectionDataset`.  Image
sizes the format does not store come from ``image_sizes`` (image id -> (h, w)),
else from the image header in the ``images`` folder (:mod:`.images`), else the
image is an error that says so.  Coordinates are snapped to 1e-9 pixel, so that
a box written in percent or normalised units and read back lands on the same
pixel (352.99999999999994 is 353) and is not reported as clipped.  Boxes are
checked all at once in :meth:`DatasetBuilder.build` (array operations); the
per-box checks run only on the rows a test stops, so every message comes from
one place.  (Writers' text: :mod:`.text`; the numbers rule: :mod:`..values`.)
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ...annotations import BoxColumns, ClassMap, DetectionDataset, checked_hw, dataset_with_columns, trusted_record
from ...errors import Problems, YoloToolsError
from ..files import image_size_hw, inside_root, path_object, plain_image_id, relative_name
from ..values import MAX_SIDE, box_floats, finite, int_hw
from .images import ImageFolder, header_sizes
from .text import num

log = logging.getLogger("yolotools")  # as errors.Problems logs

__all__ = ["DatasetBuilder", "class_order"]


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
    __slots__ = ("image_id", "path", "hw", "boxes", "labels", "difficult", "crowd", "attrs", "where", "index")

    def __init__(self, image_id, path, hw, where, index=0):
        self.image_id, self.path, self.hw, self.where, self.index = image_id, path, hw, where, index
        self.boxes: list[tuple] = []
        self.labels: list[str] = []
        self.difficult: list[bool] = []
        self.crowd: list[bool] = []
        self.attrs: list[dict | None] = []


_SPACE = frozenset(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                   "\u2028\u2029\u202f\u205f\u3000")  # what str.strip() removes


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
        self._refused: set[str] = set()
        self._row_imgs: dict[str, _Img] = {}
        # boxes are checked when the dataset is built, all at once (see build); strict mode checks each at once, so
        # that the first error raised is the first in the file
        self._defer = not problems.strict
        self._rows: list[tuple] = []
        self._folder = ImageFolder(self.images) if self.images is not None else None
        self._found: dict[str, Path] = {}  # image name -> file found by find_image's listing
        self._header_hw: dict[str, tuple[int, int]] = {}  # image file -> (h, w) read by prefetch_sizes

    def count(self, what: str, n: int = 1) -> None:
        """Count a shape the reader turned into a box (``polygon_to_box``); the
        counts travel in ``problems.converted`` to the report."""
        self.problems.converted[what] = self.problems.converted.get(what, 0) + n

    # ------------------------------------------------------------------ images
    def image_id(self, name: str, where: str, *, file: Path | str | None = None) -> str | None:
        """The image id for a file name from the labels (``a/b.jpg`` -> ``a/b``),
        or ``None`` (and an error) when the name would leave the dataset."""
        if name.__class__ is str and "\\" not in name:
            plain = plain_image_id(name)
            if plain is not None and name[:1] not in _SPACE and name[-1:] not in _SPACE:  # what stripping would not change
                return plain
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
        found = self._found.get(name)
        if found is not None:
            return found
        c = self._folder.listed(name)  # fast path: a plain file listed in its (confined) folder, read once per folder
        if c is not None:
            p = path_object(f"{self._folder.root_str}/{c}") if "\\" not in c and c[:1] != "/" else Path(root, c)
            self._found[name] = p
            return p
        cands = self._folder.candidates(name)
        for c in cands:
            try:
                p = inside_root(root, c, what="image name")
            except YoloToolsError as e:
                self.problems.error("path_outside_dataset", file or self.source, f"{e}; image and its boxes skipped", where)
                return None
            if os.path.exists(p):
                return p
        return Path(root) / cands[0]

    def prefetch_sizes(self, names: Iterable[str]) -> None:
        """Read the image headers of these image names (as the reader will pass
        them to :meth:`entry_image` / :meth:`row_image`) at once, for a format
        that holds no sizes: the plain names found in the images folder, by
        ``imagesize`` in the process pool (:func:`_header_sizes`); the others,
        and any header it cannot read, are read one by one as before.  Nothing
        is reported here."""
        if self.images is None:
            return
        paths = []
        for name in dict.fromkeys(names):
            if name.__class__ is str and name not in self.image_sizes and plain_image_id(name) is not None:
                p = self._found.get(name)
                if p is None:
                    c = self._folder.listed(name)
                    if c is not None:
                        p = self._found[name] = path_object(f"{self._folder.root_str}/{c}")
                if p is not None:
                    paths.append(os.fspath(p))
        self._header_hw.update((paths[i], hw) for i, hw in header_sizes(paths).items())

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
            hw = int_hw(hw[0], hw[1])
            if hw is not None and (hw[0] <= 0 or hw[1] <= 0):
                self.problems.error("bad_image_size", file or self.source, f"image {image_id!r}: size {hw[1]}x{hw[0]} is not positive", where)
                hw = None
            elif hw is not None and (hw[0] > MAX_SIDE or hw[1] > MAX_SIDE):
                self.problems.error("bad_image_size", file or self.source,
                                    f"image {image_id!r}: size {hw[1]}x{hw[0]} is more than {MAX_SIDE} pixels a side", where)
                hw = None
        if hw is None:
            hw = self.image_sizes.get(image_id)
        if hw is None and path is not None:
            try:
                hw = self._header_hw.get(os.fspath(path)) or image_size_hw(path)
            except YoloToolsError as e:
                self.problems.error("missing_size", file or self.source, f"image {image_id!r}: the labels give no size and {e}; skipped", where)
                return None
        if hw is None:
            self.problems.error("missing_size", file or self.source,
                                f"image {image_id!r}: the labels give no image size; give the image folder (--images) so it can "
                                "be read from the image header; skipped", where)
            return None
        img = _Img(image_id, path, hw, where, len(self._imgs))
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
                attrs: dict | None = None, clip: bool = True) -> None:
        """Add one box in continuous pixels of the image.  It is checked (and
        clipped, skipped and reported) when :meth:`build` runs, its problems in
        the place they would have had here."""
        if self._defer:
            self._rows.append((img, label, x1, y1, x2, y2, where, file, difficult, crowd, attrs, clip, len(self.problems.items)))
            return
        got = self._check_box(img, label, x1, y1, x2, y2, where, file, clip, self.problems)
        if got is not None:
            label, x1, y1, x2, y2 = got
            img.boxes.append((x1, y1, x2, y2))
            img.labels.append(label)
            img.difficult.append(bool(difficult))
            img.crowd.append(bool(crowd))
            img.attrs.append(attrs or None)

    def _check_box(self, img: _Img, label, x1, y1, x2, y2, where, file, clip: bool, problems: Problems):
        """The checks of one box: ``(label, x1, y1, x2, y2)`` as kept (snapped,
        clipped), or None (skipped); the problems go to ``problems``."""
        f = file or self.source
        label = "" if label is None else str(label)
        if not label.strip():
            problems.error("missing_class", f, "box has no class name; skipped", where)
            return None
        if self.classes is not None and label not in self._class_set:
            problems.error("unknown_class", f, f"class {label!r} is not in the given class list; skipped", where)
            return None
        vals = (finite(x1), finite(y1), finite(x2), finite(y2))
        if None in vals:
            problems.error("bad_box", f, f"box {[x1, y1, x2, y2]!r} is not 4 finite numbers; skipped", where)
            return None
        # snapped to 1e-9 px: percent and normalised formats come back as 352.99999999999994 for 353
        x1, y1, x2, y2 = round(vals[0], 9), round(vals[1], 9), round(vals[2], 9), round(vals[3], 9)
        if x2 <= x1 or y2 <= y1:
            problems.error("empty_box", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) has zero or negative size; skipped", where)
            return None
        if clip:
            ih, iw = img.hw
            if x1 < 0 or y1 < 0 or x2 > iw or y2 > ih:
                c = (max(x1, 0.0), max(y1, 0.0), min(x2, float(iw)), min(y2, float(ih)))
                if c[2] <= c[0] or c[3] <= c[1]:
                    problems.error("box_outside_image", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) lies outside the "
                                   f"{iw}x{ih} image; skipped", where)
                    return None
                problems.warning("box_clipped", f, f"box ({num(x1)}, {num(y1)}, {num(x2)}, {num(y2)}) extends outside the "
                                 f"{iw}x{ih} image; clipped", where)
                x1, y1, x2, y2 = c
        return label, x1, y1, x2, y2

    def _settle_rows(self):
        """The deferred boxes checked: every coordinate read and snapped at once
        (:func:`_box_floats`), the checks of :meth:`_check_box` as array
        operations, and the rows any check stops (or with a label to convert)
        through :meth:`_check_box` itself, their problems put where
        :meth:`add_box` would have put them.  Returns the kept boxes as columns
        in row order: ``(image index, xyxy, labels, difficult, crowd, attrs)``."""
        rows = self._rows
        self._rows = []
        n = len(rows)
        (imgs, labels, x1s, y1s, x2s, y2s, wheres, files, diffs, crowds, attrs, clips, poss) = zip(*rows)
        v, ok = box_floats([*x1s, *y1s, *x2s, *y2s])
        v = v.reshape(4, n)
        good = ok.reshape(4, n).all(0)
        idx = np.fromiter((im.index for im in imgs), np.int64, n)
        hw = np.array([im.hw for im in self._imgs.values()], dtype=np.float64).reshape(-1, 2)[idx]
        x1, y1, x2, y2 = v
        with np.errstate(invalid="ignore"):
            good &= (x2 > x1) & (y2 > y1)
            good &= ((x1 >= 0) & (y1 >= 0) & (x2 <= hw[:, 1]) & (y2 <= hw[:, 0])) | ~np.fromiter(clips, bool, n)
        okl: dict = {}
        for lab in set(labels):  # a plain str label, not blank, in the class list when there is one
            okl[lab] = lab.__class__ is str and bool(lab.strip()) and (self.classes is None or lab in self._class_set)
        good &= np.fromiter((okl[lab] for lab in labels), bool, n)
        xyxy = v.T.copy()
        keep = good.copy()
        labels = list(labels)
        inserts = []
        for i in np.flatnonzero(~good).tolist():
            probs = Problems()
            got = self._check_box(imgs[i], labels[i], x1s[i], y1s[i], x2s[i], y2s[i], wheres[i], files[i], clips[i], probs)
            if got is not None:
                labels[i] = got[0]
                xyxy[i] = got[1:]
                keep[i] = True
            if probs.items:
                inserts.append((poss[i], probs.items))
        if inserts:
            items, merged, at = self.problems.items, [], 0
            for pos, ps in inserts:
                merged += items[at:pos]
                merged += ps
                at = pos
            merged += items[at:]
            items[:] = merged
            for pos, ps in inserts:
                for p in ps:
                    log.debug("%s", p)
        kept = np.flatnonzero(keep)
        order = kept[np.argsort(idx[kept], kind="stable")].tolist()  # each image's boxes together, in file order
        return (idx[order], xyxy[order], [labels[i] for i in order], [bool(diffs[i]) for i in order],
                [bool(crowds[i]) for i in order], [attrs[i] or None for i in order])

    # ------------------------------------------------------------------- build
    def build(self) -> DetectionDataset:
        imgs = list(self._imgs.values())
        if self._rows:
            idx, xyxy, labels, difficult, crowd, attrs = self._settle_rows()
            counts = np.bincount(idx, minlength=len(imgs)).tolist()
        else:  # boxes checked as they came (strict), or none
            labels = [l for im in imgs for l in im.labels]
            xyxy = np.array([b for im in imgs for b in im.boxes], dtype=np.float64).reshape(-1, 4)
            difficult = [d for im in imgs for d in im.difficult]
            crowd = [c for im in imgs for c in im.crowd]
            attrs = [a for im in imgs for a in im.attrs]
            counts = [len(im.boxes) for im in imgs]
        return _dataset(self.source, [(im.image_id, im.path, im.hw) for im in imgs], counts, labels, xyxy, difficult, crowd,
                        attrs, classes=self.classes, declared=self.declared)


def _dataset(source, imgs, counts, labels, xyxy, difficult, crowd, attrs, *, classes, declared) -> DetectionDataset:
    """The dataset of checked columns: ``imgs`` ``(image id, path, (h, w))`` in
    order, ``counts`` their numbers of boxes, the boxes' columns image by
    image.  Every image's arrays are read-only slices of one array per field."""
    names = class_order(labels, classes=classes, declared=declared)
    try:
        cmap = ClassMap(tuple(names))
    except ValueError as e:
        raise YoloToolsError(f"{source}: classes: {e}") from None
    index = {n: i for i, n in enumerate(names)}
    xyxy = np.ascontiguousarray(xyxy, dtype=np.float64).reshape(-1, 4)
    cls = np.array([index[l] for l in labels], dtype=np.int64)
    diff = np.array(difficult, dtype=np.bool_).reshape(-1)
    crowd = np.array(crowd, dtype=np.bool_).reshape(-1)
    for a in (xyxy, cls, diff, crowd):
        a.setflags(write=False)
    records = []
    b0 = 0
    has_attrs = any(attrs)
    for (image_id, path, hw), b1 in zip(imgs, itertools.accumulate(counts)):
        at = None
        if has_attrs and any(attrs[b0:b1]):  # as Annotations keeps them: an object array, empty dicts as None
            at = np.empty(b1 - b0, dtype=object)
            at[:] = [v if v else None for v in attrs[b0:b1]]
            at.setflags(write=False)
        hw = checked_hw(image_id, hw)  # sizes given by a caller (image_sizes) may be any numbers
        records.append(trusted_record(image_id, path, hw, xyxy[b0:b1], cls[b0:b1], diff[b0:b1], crowd[b0:b1], attrs=at))
        b0 = b1
    return dataset_with_columns(cmap, records, BoxColumns(xyxy, cls, diff, crowd, list(counts)))
