"""Pascal VOC XML <-> :class:`DetectionDataset`.

Pixel conventions (``convention=``), VOC ``<bndbox>`` -> continuous xyxy pixels:

- ``exact`` (default): VOC coordinates are 1-based *inclusive* pixel indices, so
  the box covers ``[xmin - 1, xmax] x [ymin - 1, ymax]``.
- ``darknet``: what Darknet's ``voc_label.py`` (and Ultralytics' VOC.yaml) compute:
  centre ``(xmin + xmax) / 2 - 1``, width ``xmax - xmin``, i.e. the box
  ``[xmin - 1, xmax - 1]``.  Use it to reproduce existing label sets exactly.
- ``raw``: coordinates are taken as continuous pixels as they are (``[xmin, xmax]``),
  as CVAT's VOC export and many "VOC-like" tools write them.

Each object's *own* ``<bndbox>`` is read; ``<part>`` boxes (heads, hands) are not
objects.  XML is parsed without DTDs, entity expansion or network access; a file
that declares a DOCTYPE or entities is rejected.
"""

from __future__ import annotations

import logging
import math
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..annotations import VOC_CLASSES, Annotations, ClassMap, DetectionDataset, ImageRecord
from ..boxes import Boxes
from ..errors import Problems, YoloToolsError
from .files import atomic_write_text, confined_path, inside_root

__all__ = ["CONVENTIONS", "read_voc", "write_voc", "voc_to_xyxy", "xyxy_to_voc", "find_voc_roots"]

log = logging.getLogger(__name__)

CONVENTIONS = ("exact", "darknet", "raw")

# offsets added to (xmin, ymin, xmax, ymax) to get continuous xyxy
_OFFSETS = {
    "exact": np.array([-1.0, -1.0, 0.0, 0.0]),
    "darknet": np.array([-1.0, -1.0, -1.0, -1.0]),
    "raw": np.array([0.0, 0.0, 0.0, 0.0]),
}


def _offsets(convention: str) -> np.ndarray:
    try:
        return _OFFSETS[convention]
    except KeyError:
        raise YoloToolsError(f"unknown VOC pixel convention {convention!r}; choose from {list(CONVENTIONS)}") from None


def voc_to_xyxy(voc: np.ndarray, convention: str = "exact") -> np.ndarray:
    """``(N, 4)`` VOC (xmin, ymin, xmax, ymax) -> continuous xyxy pixels (new array)."""
    return np.asarray(voc, dtype=np.float64).reshape(-1, 4) + _offsets(convention)


def xyxy_to_voc(xyxy: np.ndarray, convention: str = "exact") -> np.ndarray:
    """Inverse of :func:`voc_to_xyxy` (new array)."""
    return np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) - _offsets(convention)


# ---------------------------------------------------------------- parsing

_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        from lxml import etree

        _PARSER = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, remove_comments=True, remove_pis=True,
        )
    return _PARSER


@dataclass
class _Parsed:
    """What one XML file holds, before class mapping (pickled between processes)."""

    xml: str
    image_id: str
    filename: str | None
    image_hw: tuple[int, int] | None
    names: list[str]
    voc: list[tuple[float, float, float, float]]
    difficult: list[bool]
    obj_index: list[int]
    problems: list[tuple[str, str, str, str]]  # severity, kind, where, message


_BOX_TAGS = ("xmin", "ymin", "xmax", "ymax")
_FALSE = (None, "", "0", "false", "False")


# Fast path for the plain VOC layout (no attributes, comments, CDATA or entity
# references; one <bndbox> per object outside <part>): expat checks that the file
# is well-formed (C, no callbacks), then a few regexes pull the fields.  Anything
# else goes to the lxml tree walk; a test asserts both give identical results on
# every VOC2007 file.
_RE_DECL = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?\s*<annotation>")
_RE_OBJ = re.compile(rb"<object>(.*?)</object>", re.S)
_RE_PART = re.compile(rb"<part>.*?</part>", re.S)
_RE_NAME = re.compile(rb"<name>([^<]*)</name>")
_RE_DIFF = re.compile(rb"<difficult>([^<]*)</difficult>")
_RE_BB = re.compile(
    rb"<bndbox>\s*<xmin>([^<]*)</xmin>\s*<ymin>([^<]*)</ymin>\s*<xmax>([^<]*)</xmax>\s*<ymax>([^<]*)</ymax>\s*</bndbox>"
)
_RE_SIZE = re.compile(rb"<size>\s*<width>([^<]*)</width>\s*<height>([^<]*)</height>\s*(?:<depth>[^<]*</depth>\s*)?</size>")
_RE_FILENAME = re.compile(rb"<filename>([^<]*)</filename>")


def _parse_fast(data: bytes, out: _Parsed) -> bool:
    """Fill ``out`` from a plain VOC file and return True, or return False (the
    caller then uses lxml).  Never reports an error itself."""
    import xml.parsers.expat

    if b"&" in data or b"<!" in data or b"=" in data[data.find(b"<annotation") :] or not _RE_DECL.match(data):
        return False
    try:
        xml.parsers.expat.ParserCreate().Parse(data, True)
    except xml.parsers.expat.ExpatError:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    body = data
    objs = _RE_OBJ.findall(body)
    if len(objs) != body.count(b"<object>") or body.count(b"<object") != len(objs):
        return False
    if b"<size>" in body:
        m = _RE_SIZE.search(body)
        if m is None or body.count(b"<size>") != 1:
            return False
        try:
            w, h = int(float(m.group(1))), int(float(m.group(2)))
        except ValueError:
            return False
        if not (w > 0 and h > 0):
            return False
        out.image_hw = (h, w)
    fn = _RE_FILENAME.findall(body)
    if len(fn) > 1:
        return False
    if fn:
        out.filename = fn[0].decode("utf-8").strip() or None
    for i, o in enumerate(objs):
        if b"<part" in o:
            o = _RE_PART.sub(b"", o)
            if b"<part" in o:
                return False
        names = _RE_NAME.findall(o)
        bbs = _RE_BB.findall(o)
        diffs = _RE_DIFF.findall(o)
        if len(names) != 1 or len(bbs) != 1 or o.count(b"<bndbox") != 1 or len(diffs) > 1:
            return False
        name = names[0].decode("utf-8").strip()
        try:
            vals = tuple(float(v) for v in bbs[0])
        except ValueError:
            return False
        if not name or not all(math.isfinite(v) for v in vals):
            return False
        diff = diffs[0].decode("utf-8").strip() if diffs else None
        out.names.append(name)
        out.voc.append(vals)
        out.difficult.append(diff not in _FALSE)
        out.obj_index.append(i)
    del text
    return True


def _parse_one(xml_path: str, image_id: str) -> _Parsed:
    """Parse one VOC file.  Reads direct children of <annotation> and of each
    <object> only: ``<part><bndbox>`` boxes are never objects."""
    out = _Parsed(xml_path, image_id, None, None, [], [], [], [], [])
    try:
        with open(xml_path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        out.problems.append(("error", "missing_annotation", "", "annotation file not found"))
        return out
    except OSError as e:
        out.problems.append(("error", "unreadable_annotation", "", f"cannot read: {e.strerror}"))
        return out
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        out.problems.append(("error", "unsafe_xml", "", "XML declares a DOCTYPE/entities; refused (entity expansion is disabled)"))
        return out
    if _parse_fast(data, out):
        return out
    out.filename, out.image_hw = None, None
    del out.names[:], out.voc[:], out.difficult[:], out.obj_index[:], out.problems[:]
    return _parse_lxml(data, out)


def _parse_lxml(data: bytes, out: _Parsed) -> _Parsed:
    from lxml import etree

    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        out.problems.append(("error", "malformed_xml", str(e.lineno or ""), f"malformed XML: {e.msg}"))
        return out
    if root.tag != "annotation":
        out.problems.append(("error", "malformed_xml", "", f"root element is <{root.tag}>, expected <annotation>"))
        return out
    obj_i = -1
    for child in root:
        tag = child.tag
        if tag == "object":
            obj_i += 1
            _parse_object(child, obj_i, out)
        elif tag == "filename":
            out.filename = (child.text or "").strip() or None
        elif tag == "size":
            wh = {c.tag: c.text for c in child}
            try:
                w = int(float(wh.get("width") or "nan"))
                h = int(float(wh.get("height") or "nan"))
            except ValueError:
                out.problems.append(("warning", "bad_size", "size", "<size> width/height not numbers; reading the image header instead"))
                continue
            if w > 0 and h > 0:
                out.image_hw = (h, w)
            else:
                out.problems.append(("warning", "bad_size", "size", f"<size> is {w}x{h}; reading the image header instead"))
    return out


def _parse_object(obj, i: int, out: _Parsed) -> None:
    where = f"object {i}"
    name = bb = diff = None
    for c in obj:
        t = c.tag
        if t == "name":
            name = (c.text or "").strip()
        elif t == "bndbox" and bb is None:  # the object's own box, never <part>/<bndbox>
            bb = {cc.tag: cc.text for cc in c}
        elif t == "difficult":
            diff = (c.text or "").strip()
    if not name:
        out.problems.append(("error", "missing_name", where, "object has no <name>; skipped"))
        return
    if bb is None:
        out.problems.append(("error", "missing_bndbox", where, f"object {name!r} has no <bndbox>; skipped"))
        return
    try:
        vals = tuple(float(bb[t]) for t in _BOX_TAGS)
    except (KeyError, TypeError, ValueError):
        out.problems.append(("error", "bad_coordinates", where, f"object {name!r}: <bndbox> values missing or not numbers; skipped"))
        return
    if not all(math.isfinite(v) for v in vals):
        out.problems.append(("error", "bad_coordinates", where, f"object {name!r}: non-finite coordinates; skipped"))
        return
    out.names.append(name)
    out.voc.append(vals)
    out.difficult.append(diff not in _FALSE)
    out.obj_index.append(i)


# ---------------------------------------------------------------- roots and splits


def find_voc_roots(paths: Iterable[Path]) -> list[Path]:
    """Each path is a ``VOC20xx`` folder (with ``Annotations/``) or a ``VOCdevkit``
    folder holding several; returns the ``VOC20xx`` folders."""
    roots: list[Path] = []
    for p in map(Path, paths):
        if (p / "Annotations").is_dir():
            roots.append(p)
            continue
        subs = sorted(c for c in p.glob("*") if (c / "Annotations").is_dir()) if p.is_dir() else []
        if not subs:
            raise YoloToolsError(f"{p}: not a VOC root (no Annotations/ folder here or in a VOC20xx subfolder)")
        roots.extend(subs)
    return roots


def _split_ids(root: Path, split: str | None) -> tuple[list[tuple[str, int]], Path | None]:
    """``(image id, line)`` pairs of a split (line 0 for ``all``) and the list file read."""
    ann = root / "Annotations"
    if split in (None, "all"):
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
    stage_labels: tuple[str, bool, int] | None = None,
) -> tuple[DetectionDataset, Problems]:
    """Read VOC XML from one or more ``VOC20xx`` roots.

    Returns every object (difficult ones flagged, not dropped) as a dataset whose
    boxes are continuous xyxy pixels per ``convention``; boxes partly outside the
    image are clipped (warning), empty or fully outside ones skipped (error).
    ``classes`` fixes the class order; by default it is ``<root>/classes.txt``
    (one name per line) when the root has one, else the 20 VOC classes in the
    standard order when every name is one of them, else the names of this split
    sorted (give ``classes`` so that every split of a custom dataset agrees).

    Files are parsed by a process pool.  ``stage_labels=(folder, skip_difficult, decimals)``
    also makes the workers write each image's YOLO txt into ``folder`` (used by
    :func:`yolotools.convert.convert_voc`, so that formatting and writing run in
    parallel too).
    """
    offs = _offsets(convention)
    items: list[tuple[str, str, str]] = []
    found_roots = find_voc_roots(roots)
    if classes is None:
        lists = [r / "classes.txt" for r in found_roots if (r / "classes.txt").is_file()]
        if lists:
            classes = [l.strip() for l in lists[0].read_text(encoding="utf-8").splitlines() if l.strip()]
    early = Problems(strict=strict)
    for root in found_roots:
        jpeg_dir = str(root / "JPEGImages")
        ann_dir = os.path.join(str(root), "Annotations")
        ids, lst = _split_ids(root, split)
        for image_id, ln in ids:
            if lst is not None:  # an id from a list file names a file: it must stay in Annotations/
                try:
                    inside_root(ann_dir, f"{image_id}.xml", what="image-set id")
                except YoloToolsError as e:
                    early.error("path_outside_dataset", lst, f"{e}; skipped", ln)
                    continue
            items.append((os.path.join(ann_dir, f"{image_id}.xml"), image_id, jpeg_dir))
    seen: dict[str, str] = {}
    for xml, image_id, _ in items:
        if image_id in seen and seen[image_id] != xml:
            raise YoloToolsError(f"{xml}: image id {image_id!r} also comes from {seen[image_id]}; convert these roots separately")
        seen[image_id] = xml
    provisional = tuple(classes) if classes is not None else VOC_CLASSES
    results = _run_chunks(items, provisional, offs, stage_labels, workers=workers, progress=progress)

    names_seen: dict[str, None] = {}
    for _rec, _probs, names in results:
        for n in names:
            names_seen.setdefault(n, None)
    if classes is None and not set(names_seen) <= set(VOC_CLASSES):
        # not a VOC-class dataset: the class list is the sorted names; read again with it
        return read_voc(roots, split, convention=convention, classes=sorted(names_seen), strict=strict,
                        workers=workers, progress=progress, stage_labels=stage_labels)
    problems = early
    records = []
    for (xml, _, _), (rec, probs, _names) in zip(items, results):
        for sev, kind, where, msg in probs:
            problems.add(sev, kind, xml, msg, where)
        if rec is not None:
            records.append(rec)
    return DetectionDataset(ClassMap(provisional), tuple(records)), problems


_BOX_LEVEL = ("missing_name", "missing_bndbox", "bad_coordinates")


def _convert_chunk(args) -> list:
    """Worker: parse each file, build its record with class indices from
    ``class_names`` and (optionally) write its label file.  Returns, per file,
    ``(record or None, problems as tuples, object names)``."""
    items, class_names, offs, stage = args
    index = {n: i for i, n in enumerate(class_names)}
    out = []
    made: set = set()
    for xml, image_id, jpeg_dir in items:
        p = _parse_one(xml, image_id)
        probs = Problems()
        rec = None
        if p.filename is not None:
            try:  # <filename> names a file: it must stay inside JPEGImages/ (links followed)
                inside_root(jpeg_dir, p.filename, what="<filename>")
            except YoloToolsError as e:
                p.problems.append(("error", "path_outside_dataset", "filename", f"{e}; image skipped"))
        if not any(s == "error" and k not in _BOX_LEVEL for s, k, _, _ in p.problems):
            fname = p.filename or f"{image_id}.jpg"
            img_path = os.path.join(jpeg_dir, fname)
            if p.filename and not os.path.exists(img_path):
                alt = os.path.join(jpeg_dir, f"{image_id}.jpg")
                img_path = alt if os.path.exists(alt) else img_path
            hw = p.image_hw
            if hw is None:
                from .files import image_size_hw

                try:
                    hw = image_size_hw(img_path)
                except YoloToolsError as e:
                    p.problems.append(("error", "missing_size", "", f"no usable <size> and {e}; image skipped"))
            if hw is not None:
                rec, boxes, cls, diff = _make_record(p, hw, Path(img_path), index, offs, probs)
                if stage is not None:
                    from .yolo import write_label_file, yolo_lines

                    folder, skip_difficult, decimals = stage
                    if skip_difficult and any(diff):
                        keep = [i for i, d in enumerate(diff) if not d]
                        boxes, cls = [boxes[i] for i in keep], [cls[i] for i in keep]
                    write_label_file(folder, image_id, yolo_lines(cls, boxes, hw, decimals=decimals), made)
        tuples = list(p.problems) + [(q.severity, q.kind, q.where, q.message) for q in probs]
        out.append((rec, tuples, p.names))
    return out


def _make_record(p: _Parsed, hw, img_path, index, offs, problems: Problems):
    """The record of one parsed file, plus its kept boxes/classes/flags as lists."""
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
    ann = Annotations(Boxes(np.array(boxes, dtype=np.float64).reshape(-1, 4), hw), cls, is_difficult=diff)
    return ImageRecord(p.image_id, img_path, hw, ann), boxes, cls, diff


def _run_chunks(items, class_names, offs, stage, *, workers: int | None, progress: bool) -> list:
    from tqdm.auto import tqdm

    n = len(items)
    workers = min(os.cpu_count() or 1, 8) if workers is None else max(1, workers)
    chunk = 512 if workers == 1 or n < 2000 else max(128, math.ceil(n / (workers * 8)))
    jobs = [(items[s : s + chunk], class_names, offs, stage) for s in range(0, n, chunk)]
    out: list = []
    with tqdm(total=n, desc="read VOC", unit="xml", disable=not progress, leave=False) as bar:
        if workers == 1 or n < 2000:
            for job in jobs:
                out.extend(_convert_chunk(job))
                bar.update(len(job[0]))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
                for res in ex.map(_convert_chunk, jobs):
                    out.extend(res)
                    bar.update(len(res))
    return out


def _mp_context():
    import multiprocessing as mp

    # fork is cheapest where it exists and safe here (no threads started yet by us)
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None


# ---------------------------------------------------------------- writer


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
