"""Parse one VOC XML file, safely: no DTD, no entities, no network.  A regex
fast path (after expat checks the file is well-formed) for the plain layout,
lxml for anything else; a test compares both on every VOC2007 file."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["_parse_one"]

try:
    from ... import _native
except ImportError:  # no C compiler at install time: the regex path
    _native = None

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
    caller then uses lxml).  Never reports an error itself.  The C reader
    (``yolotools._native.parse_voc_plain``, when built) takes the plainest files
    (ASCII, no declaration but the usual ones; '=' and XML's five entities allowed
    in text it does not read) with the same results; the regex path below takes
    the rest."""
    if _native is not None:
        got = _native.parse_voc_plain(data)
        if got is not None:
            out.filename, out.image_hw, out.names, out.voc, out.difficult = got
            out.obj_index = list(range(len(out.names)))
            return True
    return _parse_regex(data, out)


def _parse_regex(data: bytes, out: _Parsed) -> bool:
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
        except (ValueError, OverflowError):  # not a number, or inf
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

