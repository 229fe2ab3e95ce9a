"""Parse one VOC XML file, safely, with lxml: no DTD, no entities, no network
(a file that declares a DOCTYPE or entities is refused before it is parsed)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..values import MAX_SIDE

__all__ = ["_parse_one"]

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


# <object> elements and their <part>s as bytes, for the class-name scan of
# io/voc/reader.py (which reads names only, to fix the class order before the parse)
_RE_OBJ = re.compile(rb"<object>(.*?)</object>", re.S)
_RE_PART = re.compile(rb"<part>.*?</part>", re.S)


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
            except (ValueError, OverflowError):  # not a number, or inf
                out.problems.append(("warning", "bad_size", "size", "<size> width/height not numbers; reading the image header instead"))
                continue
            if 0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE:
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

