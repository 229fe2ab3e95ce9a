"""Read VOC roots (one or more ``VOC20xx`` folders) into a :class:`DetectionDataset`,
files parsed once in the process pool, names confined to the root."""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ...classmap import VOC_CLASSES, ClassMap
from ...errors import Problems, YoloToolsError
from ...parallel import map_chunks
from ..files import inside_root_str
from .convention import _offsets
from .parse import _RE_OBJ, _RE_PART, _Parsed, _parse_one

if TYPE_CHECKING:  # numpy-based: imported where a record is made
    from ...annotations import DetectionDataset

__all__ = ["LabelStage", "read_voc", "find_voc_roots"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- roots and splits


def find_voc_roots(paths: Iterable[Path]) -> list[Path]:
    """Each path is a ``VOC20xx`` folder (with ``Annotations/``), a ``VOCdevkit``
    folder holding several, or a flat folder of XML files (LabelImg saves them
    beside the images; CVAT's VOC export unpacked flat); returns the roots."""
    roots: list[Path] = []
    for p in map(Path, paths):
        if (p / "Annotations").is_dir():
            roots.append(p)
            continue
        subs = sorted(c for c in p.glob("*") if (c / "Annotations").is_dir()) if p.is_dir() else []
        if not subs and p.is_dir() and any(f.endswith(".xml") for f in os.listdir(p)):
            roots.append(p)
            continue
        if not subs:
            raise YoloToolsError(f"{p}: not a VOC root (no Annotations/ folder here or in a VOC20xx subfolder, and no .xml files)")
        roots.extend(subs)
    return roots


def voc_dirs(root: Path) -> tuple[Path, Path]:
    """(annotations folder, images folder) of a root: ``Annotations/`` and
    ``JPEGImages/``, or the folder itself for a flat folder of XML files."""
    if (root / "Annotations").is_dir():
        return root / "Annotations", root / "JPEGImages"
    return root, root


def _split_ids(root: Path, split: str | None) -> tuple[list[tuple[str, int]], Path | None]:
    """``(image id, line)`` pairs of a split (line 0 for ``all``) and the list file read.
    A flat folder of XML files has no ImageSets: every file is read, whatever the split."""
    ann = voc_dirs(root)[0]
    flat = ann == root
    if split in (None, "all") or (flat and not (root / "ImageSets" / "Main" / f"{split}.txt").is_file()):
        return [(f[:-4], 0) for f in sorted(os.listdir(ann)) if f.endswith(".xml")], None
    lst = root / "ImageSets" / "Main" / f"{split}.txt"
    if not lst.is_file():
        main = root / "ImageSets" / "Main"
        avail = sorted(f[:-4] for f in os.listdir(main) if f.endswith(".txt") and "_" not in f) if main.is_dir() else []
        raise YoloToolsError(f"{lst}: split list not found; available splits: {avail or 'none'} (or use --split all)")
    ids = []
    with open(lst, encoding="utf-8-sig", errors="replace") as f:
        for ln, line in enumerate(f, 1):
            tok = line.split()
            if tok:
                ids.append((tok[0], ln))
    return ids, lst


# ---------------------------------------------------------------- reader


def read_voc(
    roots: Sequence[Path | str],
    split: str | None = "trainval",
    *,
    convention: str = "exact",
    classes: Sequence[str] | None = None,
    strict: bool = False,
    workers: int | None = None,
    progress: bool = False,
    stage_labels: "LabelStage | None" = None,
) -> tuple[DetectionDataset, Problems]:
    """Read VOC XML from one or more ``VOC20xx`` roots.

    Returns every object (difficult ones flagged, not dropped) as a dataset whose
    boxes are continuous xyxy pixels per ``convention``; boxes partly outside the
    image are clipped (warning), empty or fully outside ones skipped (error).
    ``classes`` fixes the class order; by default it is ``<root>/classes.txt``
    (one name per line) when the root has one, else the 20 VOC classes in the
    standard order when every name is one of them, else the names of this split
    sorted (give ``classes`` so that every split of a custom dataset agrees).

    Files are parsed by a process pool (:func:`yolotools.parallel.map_chunks`),
    once.  ``stage_labels`` (a :class:`LabelStage`) also makes the workers write
    each image's YOLO txt into its folder (used by
    :func:`yolotools.convert.convert_voc`, so that formatting and writing run in
    parallel too).  Without ``classes`` and ``classes.txt`` the class list is
    found first by a cheap scan of the ``<name>`` tags, so that the one parse
    already knows every class index.
    """
    from ...annotations import DetectionDataset

    plan = _plan(roots, split, classes, workers, progress, strict)
    worker = functools.partial(_convert_chunk, class_names=plan.class_names, offs=_offsets(convention), stage=stage_labels)
    results = [r for chunk in map_chunks(worker, plan.items, workers=workers, progress=progress, desc="read VOC", unit="xml")
               for r in chunk]
    full = _reread_classes(plan, {n for _rec, _probs, names in results for n in names}, workers, progress)
    if full is not None:
        return read_voc(roots, split, convention=convention, classes=full, strict=strict, workers=workers,
                        progress=progress, stage_labels=stage_labels)
    problems = plan.early
    records = []
    for (xml, _, _), (rec, probs, _names) in zip(plan.items, results):
        for sev, kind, where, msg in probs:
            problems.add(sev, kind, xml, msg, where)
        if rec is not None:
            records.append(rec)
    return DetectionDataset(plan.class_map, tuple(records)), problems


@dataclass
class _Plan:
    """What to read: (xml path, image id, images folder) per file, and the class list."""

    items: list[tuple[str, str, str]]
    class_names: tuple[str, ...]
    class_map: ClassMap
    early: Problems  # problems found while listing (ids that leave Annotations/)
    auto: bool  # the class list was guessed (no classes given, no classes.txt)
    found: dict[str, str]  # the class scan's names (empty when the guess came from a sample)


def _plan(roots, split, classes, workers, progress, strict) -> _Plan:
    items: list[tuple[str, str, str]] = []
    found_roots = find_voc_roots(roots)
    if classes is None:
        lists = [r / "classes.txt" for r in found_roots if (r / "classes.txt").is_file()]
        if lists:
            classes = [l.strip() for l in lists[0].read_text(encoding="utf-8-sig").splitlines() if l.strip()]
    early = Problems(strict=strict)
    for root in found_roots:
        ann_p, jpeg_p = voc_dirs(root)
        jpeg_dir, ann_dir = str(jpeg_p), str(ann_p)
        ids, lst = _split_ids(root, split)
        for image_id, ln in ids:
            if lst is not None:  # an id from a list file names a file: it must stay in Annotations/
                try:
                    inside_root_str(ann_dir, f"{image_id}.xml", what="image-set id")
                except YoloToolsError as e:
                    early.error("path_outside_dataset", lst, f"{e}; skipped", ln)
                    continue
            items.append((os.path.join(ann_dir, f"{image_id}.xml"), image_id, jpeg_dir))
    seen: dict[str, str] = {}
    for xml, image_id, _ in items:
        if image_id in seen and seen[image_id] != xml:
            raise YoloToolsError(f"{xml}: image id {image_id!r} also comes from {seen[image_id]}; convert these roots separately")
        seen[image_id] = xml
    auto = classes is None
    found: dict[str, str] = {}
    if auto:
        # the 20 VOC names when every name is one of them, else this split's names sorted; a sample of
        # the files says which case this is likely to be: VOC's own names need no scan of every file (the
        # parse checks the guess and reads again with the names it found when it was wrong)
        paths = [xml for xml, _, _ in items]
        sample = _names_chunk(paths[:: max(1, len(paths) // 200)]) if len(paths) > 400 else None
        if sample and set(sample) <= set(VOC_CLASSES):
            classes = VOC_CLASSES
        else:
            found = _scan_names(paths, workers=workers, progress=progress)
            classes = VOC_CLASSES if set(found) <= set(VOC_CLASSES) else tuple(sorted(found))
    class_names = tuple(classes)
    try:  # before any file is parsed or label written: a name with a line break would shift a .names file
        class_map = ClassMap(class_names)
    except ValueError as e:
        bad = next((n for n in class_names if n in found and (not n.strip() or any(c in n for c in "\n\r\x00"))), None)
        raise YoloToolsError(f"{found[bad] if bad else ', '.join(map(str, found_roots))}: {e}") from None
    return _Plan(items, class_names, class_map, early, auto, found)


def _reread_classes(plan: _Plan, parsed: set, workers, progress):
    """None when the parsed object names all have a class index; else (a guessed class list that
    missed some: the tag scan cannot see CDATA, entities or attributes, a sample can miss a custom
    name) the class list to read everything again with."""
    if not plan.auto or parsed <= set(plan.class_names):
        return None
    log.info("class scan missed %s; reading again with every class", sorted(parsed - set(plan.class_names)))
    class_names, found = plan.class_names, plan.found
    if not found:  # the VOC guess from a sample was wrong: what a scan of every file would have chosen
        found = dict.fromkeys(_scan_names([xml for xml, _, _ in plan.items], workers=workers, progress=progress))
        class_names = VOC_CLASSES if set(found) <= set(VOC_CLASSES) else tuple(sorted(found))
    return VOC_CLASSES if parsed <= set(VOC_CLASSES) else sorted(parsed | set(class_names))


_BOX_LEVEL = ("missing_name", "missing_bndbox", "bad_coordinates")


@dataclass(frozen=True)
class LabelStage:
    """Where the VOC workers write each image's YOLO txt as they go (a staging
    folder that :func:`yolotools.io.yolo.commit_staging` moves into place), and
    how: difficult boxes left out or not, decimals."""

    folder: str
    skip_difficult: bool = False
    decimals: int = 6


_RE_NAME_ANY = re.compile(rb"<name>\s*([^<]*?)\s*</name>")


def _names_chunk(paths: list[str]) -> dict[str, str]:
    """Worker: the object class names in these files (``<part>`` names left
    out), each with the first file it is in."""
    found: dict[str, str] = {}
    for xml in paths:
        try:
            with open(xml, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for o in _RE_OBJ.findall(data):
            m = _RE_NAME_ANY.search(_RE_PART.sub(b"", o))
            if m and m.group(1):
                found.setdefault(m.group(1).decode("utf-8", "replace"), xml)
    return found


def _scan_names(paths: list[str], *, workers: int | None, progress: bool) -> dict[str, str]:
    """Class name -> the first file that names it, over ``paths``."""
    found: dict[str, str] = {}
    for names in map_chunks(_names_chunk, paths, workers=workers, progress=progress, desc="scan classes", unit="xml"):
        for n, xml in names.items():
            found.setdefault(n, xml)
    return found


def _convert_chunk(items, *, class_names: tuple[str, ...], offs, stage: LabelStage | None) -> list:
    """Worker: parse each file, build its record with class indices from
    ``class_names`` and (optionally) write its label file.  Returns, per file,
    ``(record or None, problems as tuples, object names)``."""
    index = {n: i for i, n in enumerate(class_names)}
    out = []
    made: set = set()
    for xml, image_id, jpeg_dir in items:
        p = _parse_one(xml, image_id)
        probs = Problems()
        rec = None
        if p.filename is not None:
            try:  # <filename> names a file: it must stay inside JPEGImages/ (links followed)
                inside_root_str(jpeg_dir, p.filename, what="<filename>")
            except YoloToolsError as e:
                p.problems.append(("error", "path_outside_dataset", "filename", f"{e}; image skipped"))
        if not any(s == "error" and k not in _BOX_LEVEL for s, k, _, _ in p.problems):
            img_path = _image_file(p.filename, image_id, jpeg_dir)
            hw = p.image_hw
            if hw is None:
                from ..files import image_size_hw

                try:
                    hw = image_size_hw(img_path)
                except YoloToolsError as e:
                    p.problems.append(("error", "missing_size", "", f"no usable <size> and {e}; image skipped"))
            if hw is not None:
                boxes, cls, diff = _checked_boxes(p, hw, index, offs, probs)
                rec = _record(image_id, Path(img_path), hw, boxes, cls, diff)
                if stage is not None:
                    from ..yolo.lines import write_label_file, yolo_lines

                    if stage.skip_difficult and any(diff):
                        keep = [i for i, d in enumerate(diff) if not d]
                        boxes, cls = [boxes[i] for i in keep], [cls[i] for i in keep]
                    write_label_file(stage.folder, image_id, yolo_lines(cls, boxes, hw, decimals=stage.decimals), made)
        tuples = list(p.problems) + [(q.severity, q.kind, q.where, q.message) for q in probs]
        out.append((rec, tuples, p.names))
    return out


def _image_file(filename: str | None, image_id: str, jpeg_dir: str) -> str:
    """The image of a file whose ``<filename>`` (already checked to stay in
    JPEGImages/) is ``filename``: that file, else ``<image id>.jpg`` when only that
    one exists (annotations whose <filename> is stale), ``<image id>.jpg`` when
    there is no <filename>."""
    img_path = os.path.join(jpeg_dir, filename or f"{image_id}.jpg")
    if filename and not os.path.exists(img_path):
        alt = os.path.join(jpeg_dir, f"{image_id}.jpg")
        img_path = alt if os.path.exists(alt) else img_path
    return img_path


def _checked_boxes(p: _Parsed, hw, index, offs, problems: Problems):
    """The boxes of one parsed file that are kept (continuous xyxy, clipped to the
    image), their class indices and difficult flags, as lists; what is skipped or
    clipped is said in ``problems``."""
    h, w = hw
    fw, fh = float(w), float(h)
    o0, o1, o2, o3 = (float(v) for v in offs)
    boxes, cls, diff = [], [], []
    for name, v, d, oi in zip(p.names, p.voc, p.difficult, p.obj_index):
        ci = index.get(name)
        if ci is None:
            problems.error("unknown_class", p.xml, f"unknown class {name!r}; box skipped", f"object {oi}")
            continue
        x1, y1, x2, y2 = v[0] + o0, v[1] + o1, v[2] + o2, v[3] + o3
        if x2 <= x1 or y2 <= y1:
            problems.error("empty_box", p.xml, f"{name!r} box {v} has zero or negative size; skipped", f"object {oi}")
            continue
        c = (max(x1, 0.0), max(y1, 0.0), min(x2, fw), min(y2, fh))
        if c[2] <= c[0] or c[3] <= c[1]:
            problems.error("box_outside_image", p.xml, f"{name!r} box {v} lies outside the {w}x{h} image; skipped", f"object {oi}")
            continue
        if c != (x1, y1, x2, y2):
            problems.warning("box_clipped", p.xml, f"{name!r} box {v} extends outside the {w}x{h} image; clipped", f"object {oi}")
        boxes.append(c)
        cls.append(ci)
        diff.append(d)
    return boxes, cls, diff


def _record(image_id: str, img_path: Path, hw, boxes, cls, diff):
    """The record of checked parts (boxes inside the image, known classes, a
    positive int size): made without re-checking them."""
    import numpy as np

    from ...annotations import checked_hw, trusted_record

    arrays = (np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(cls, dtype=np.int64).reshape(-1),
              np.array(diff, dtype=np.bool_).reshape(-1), np.zeros(len(cls), dtype=np.bool_))
    for a in arrays:
        a.setflags(write=False)
    return trusted_record(image_id, img_path, checked_hw(image_id, hw), *arrays)
