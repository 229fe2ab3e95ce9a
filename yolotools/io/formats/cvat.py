"""CVAT for images 1.1 XML (``annotations.xml``).

Pixel convention: ``xtl ytl xbr ybr`` are continuous pixel corners (CVAT draws
a box from (xtl, ytl) to (xbr, ybr)), taken as they are.  Class order: the
``<labels>`` list of the task or project, then any other label found.
``<box>`` is read; ``<polygon>``/``<polyline>``/``<points>`` become their
bounding box and ``<ellipse>`` its bounding box (each counted);
``<cuboid>``, ``<mask>``, ``<skeleton>`` and video ``<track>`` are reported and
skipped.  ``occluded``, ``z_order``, ``source``, ``group_id`` and
``<attribute>`` children are kept in ``attrs`` (an attribute named
``difficult`` or ``iscrowd`` set to true becomes the flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence


from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text
from ._build import DatasetBuilder
from .text import Columns

__all__ = ["read_cvat", "write_cvat"]

_TRUE = ("1", "true", "yes")
_POINT_SHAPES = ("polygon", "polyline", "points")


def _parse(path: Path):
    from lxml import etree

    from ..voc.parse import _parser

    try:
        data = path.read_bytes()
    except OSError as e:
        raise YoloToolsError(f"{path}: cannot read: {e.strerror}") from None
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise YoloToolsError(f"{path}: malformed XML at line {e.lineno}: {e.msg}") from None
    if root.tag != "annotations":
        raise YoloToolsError(f"{path}: root element is <{root.tag}>, expected <annotations> (CVAT for images 1.1)")
    return root


def read_cvat(
    path: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
) -> tuple[DetectionDataset, Problems]:
    """Read a CVAT for images XML file; ``images`` is the folder its image
    names are relative to (for linking, and sizes where the XML has none)."""
    path = Path(path)
    problems = Problems(strict=strict)
    root = _parse(path)
    declared = [n.text.strip() for n in root.iterfind("meta/*/labels/label/name") if n.text and n.text.strip()]
    b = DatasetBuilder(path, problems, classes=classes, declared=declared, images=images, image_sizes=image_sizes)
    tracks = root.findall("track")
    if tracks:
        problems.warning("unsupported_shape", path, f"{len(tracks)} video <track> elements skipped (export 'CVAT for images' instead)")
    for el in root.iterfind("image"):
        where = f"line {el.sourceline}"
        name = el.get("name")
        if name is None:
            problems.error("bad_image_entry", path, "<image> has no name; skipped", where)
            continue
        w, h = el.get("width"), el.get("height")
        img = b.entry_image(name, where, (h, w) if w is not None and h is not None else None)
        if img is None:
            continue
        for j, sh in enumerate(el):
            where_b = f"line {sh.sourceline} (image {name}, shape {j})"
            tag = sh.tag
            if not isinstance(tag, str):
                continue
            attrs: dict = {}
            for k in ("occluded", "z_order", "source", "group_id"):
                v = sh.get(k)
                if v is not None and not (k == "occluded" and v == "0") and not (k == "z_order" and v == "0") and not (k == "source" and v == "manual"):
                    attrs[k] = v
            extra = {a.get("name"): (a.text or "") for a in sh.iterfind("attribute") if a.get("name")}
            difficult = extra.pop("difficult", "0").strip().lower() in _TRUE
            crowd = extra.pop("iscrowd", "0").strip().lower() in _TRUE
            if extra:
                attrs["attributes"] = extra
            if tag == "box":
                x1, y1, x2, y2 = sh.get("xtl"), sh.get("ytl"), sh.get("xbr"), sh.get("ybr")
                if sh.get("rotation") not in (None, "0", "0.0", "0.00"):
                    attrs["rotation"] = sh.get("rotation")
                    b.count("rotated_box_kept_unrotated")
            elif tag in _POINT_SHAPES:
                try:
                    pts = [tuple(float(v) for v in p.split(",")) for p in (sh.get("points") or "").split(";") if p.strip()]
                    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
                except (ValueError, IndexError):
                    problems.error("bad_box", path, f"<{tag}> points {sh.get('points')!r} unreadable; skipped", where_b)
                    continue
                b.count(f"{tag}_to_box")
            elif tag == "ellipse":
                try:
                    cx, cy, rx, ry = (float(sh.get(k)) for k in ("cx", "cy", "rx", "ry"))
                except (TypeError, ValueError):
                    problems.error("bad_box", path, "<ellipse> needs numeric cx, cy, rx, ry; skipped", where_b)
                    continue
                x1, y1, x2, y2 = cx - rx, cy - ry, cx + rx, cy + ry
                b.count("ellipse_to_box")
            elif tag in ("tag", "attribute"):
                continue
            else:
                problems.warning("unsupported_shape", path, f"<{tag}> is not a box shape; skipped", where_b)
                continue
            b.add_box(img, sh.get("label"), x1, y1, x2, y2, where_b, difficult=difficult, crowd=crowd, attrs=attrs)
    return b.build(), problems




def _escape(s: str) -> str:
    """``xml.sax.saxutils.escape`` (``&``, ``<``, ``>``), without importing it."""
    return s.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _quoteattr(s: str) -> str:
    """``xml.sax.saxutils.quoteattr``: escaped, tabs and line ends as character
    references, in the quotes that need no escaping."""
    s = _escape(s)
    if "\n" in s or "\r" in s or "\t" in s:
        s = s.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in s:
        return '"%s"' % s.replace('"', "&quot;") if "'" in s else f"'{s}'"
    return f'"{s}"'


def write_cvat(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write CVAT for images 1.1 XML (atomic).  Coordinates are written in full
    precision; difficult and crowd become boolean attributes of the label."""
    path = Path(path)
    names = dataset.class_map.names
    cols = Columns(dataset)
    flags = {k for k, v in (("difficult", cols.difficult), ("iscrowd", cols.crowd)) if any(v)}
    attr_names: dict[str, set] = {}
    if cols.attrs is not None:
        for c, a in zip(cols.cls, cols.attrs):
            for k in a.get("attributes") or {}:
                attr_names.setdefault(names[c], set()).add(k)
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>", "  <meta>", "    <task>",
           f"      <size>{len(dataset)}</size>", "      <mode>annotation</mode>", "      <labels>"]
    for n in names:
        out.append(f"        <label>\n          <name>{_escape(n)}</name>\n          <attributes>")
        for k in sorted(flags) + sorted(attr_names.get(n, set()) - flags):
            kind = "checkbox" if k in flags else "text"
            vals = "false\ntrue" if k in flags else ""
            out.append(f"            <attribute>\n              <name>{_escape(k)}</name>\n              <mutable>False</mutable>\n"
                       f"              <input_type>{kind}</input_type>\n              <default_value>{'false' if k in flags else ''}</default_value>\n"
                       f"              <values>{vals}</values>\n            </attribute>")
        out.append("          </attributes>\n        </label>")
    out += ["      </labels>", "    </task>", "  </meta>"]
    qlabel = [_quoteattr(n) for n in names]
    t = Columns.rows(cols.xyxy, ('xtl="', '" ytl="', '" xbr="', '" ybr="', '"'))
    cls, diff, crowd = cols.cls, cols.difficult, cols.crowd
    # the flag attribute lines of a box, by its (difficult, crowd): the lines below, as one text
    flag_text = {(d, c): "".join(f"\n      <attribute name=\"{k}\">{'true' if v else 'false'}</attribute>"
                                 for k, v in (("difficult", d), ("iscrowd", c)) if k in flags)
                 for d in (False, True) for c in (False, True)}
    for i, (rec, fname, b0, b1) in enumerate(zip(cols.records, cols.files, cols.starts, cols.ends)):
        h, w = rec.image_hw
        out.append(f"  <image id=\"{i}\" name={_quoteattr(fname)} width=\"{w}\" height=\"{h}\">")
        for j in range(b0, b1):
            a = cols.attr(j)
            xy = t[j]
            if not a:  # the common box: one text
                out.append(f'    <box label={qlabel[cls[j]]} source="manual" occluded="0" {xy} z_order="0">'
                           f'{flag_text[(diff[j], crowd[j])]}\n    </box>')
                continue
            head = (f"    <box label={qlabel[cls[j]]} source={_quoteattr(str(a.get('source', 'manual')))} "
                    f"occluded={_quoteattr(str(a.get('occluded', '0')))} {xy} z_order={_quoteattr(str(a.get('z_order', '0')))}")
            if "group_id" in a:
                head += f" group_id={_quoteattr(str(a['group_id']))}"
            if "rotation" in a:
                head += f" rotation={_quoteattr(str(a['rotation']))}"
            out.append(head + ">")
            if flags:
                for k, flag in (("difficult", diff[j]), ("iscrowd", crowd[j])):
                    if k in flags:
                        out.append(f"      <attribute name=\"{k}\">{'true' if flag else 'false'}</attribute>")
            for k, v in (a.get("attributes") or {}).items():
                out.append(f"      <attribute name={_quoteattr(str(k))}>{_escape(str(v))}</attribute>")
            out.append("    </box>")
        out.append("  </image>")
    out.append("</annotations>\n")
    atomic_write_text(path, "\n".join(out))
    return {"images": len(dataset), "boxes": len(cls)}
