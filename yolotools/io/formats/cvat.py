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
from xml.sax.saxutils import escape, quoteattr

from ...annotations import DetectionDataset
from ...errors import Problems, YoloToolsError
from ..files import atomic_write_text
from ._build import DatasetBuilder, box_rows, image_file_name, num

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


def write_cvat(dataset: DetectionDataset, path: Path | str) -> dict:
    """Write CVAT for images 1.1 XML (atomic).  Coordinates are written in full
    precision; difficult and crowd become boolean attributes of the label."""
    path = Path(path)
    names = dataset.class_map.names
    flags = {k for r in dataset.records for k, arr in (("difficult", r.annotations.is_difficult), ("iscrowd", r.annotations.is_crowd)) if arr.any()}
    rows = [box_rows(r.annotations) for r in dataset.records]
    attr_names: dict[str, set] = {}
    for rr in rows:
        for *_, c, a, _d, _k in rr:
            for k in a.get("attributes") or {}:
                attr_names.setdefault(names[c], set()).add(k)
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>", "  <meta>", "    <task>",
           f"      <size>{len(dataset)}</size>", "      <mode>annotation</mode>", "      <labels>"]
    for n in names:
        out.append(f"        <label>\n          <name>{escape(n)}</name>\n          <attributes>")
        for k in sorted(flags) + sorted(attr_names.get(n, set()) - flags):
            kind = "checkbox" if k in flags else "text"
            vals = "false\ntrue" if k in flags else ""
            out.append(f"            <attribute>\n              <name>{escape(k)}</name>\n              <mutable>False</mutable>\n"
                       f"              <input_type>{kind}</input_type>\n              <default_value>{'false' if k in flags else ''}</default_value>\n"
                       f"              <values>{vals}</values>\n            </attribute>")
        out.append("          </attributes>\n        </label>")
    out += ["      </labels>", "    </task>", "  </meta>"]
    qlabel = [quoteattr(n) for n in names]
    for i, (rec, rr) in enumerate(zip(dataset.records, rows)):
        h, w = rec.image_hw
        out.append(f"  <image id=\"{i}\" name={quoteattr(image_file_name(rec))} width=\"{w}\" height=\"{h}\">")
        for x1, y1, x2, y2, c, a, difficult, crowd in rr:
            if a:
                head = (f"    <box label={qlabel[c]} source={quoteattr(str(a.get('source', 'manual')))} "
                        f"occluded={quoteattr(str(a.get('occluded', '0')))} xtl=\"{num(x1)}\" ytl=\"{num(y1)}\" xbr=\"{num(x2)}\" "
                        f"ybr=\"{num(y2)}\" z_order={quoteattr(str(a.get('z_order', '0')))}")
                if "group_id" in a:
                    head += f" group_id={quoteattr(str(a['group_id']))}"
                if "rotation" in a:
                    head += f" rotation={quoteattr(str(a['rotation']))}"
            else:
                head = (f"    <box label={qlabel[c]} source=\"manual\" occluded=\"0\" xtl=\"{num(x1)}\" ytl=\"{num(y1)}\" "
                        f"xbr=\"{num(x2)}\" ybr=\"{num(y2)}\" z_order=\"0\"")
            out.append(head + ">")
            if flags:
                for k, flag in (("difficult", difficult), ("iscrowd", crowd)):
                    if k in flags:
                        out.append(f"      <attribute name=\"{k}\">{'true' if flag else 'false'}</attribute>")
            for k, v in (a.get("attributes") or {}).items():
                out.append(f"      <attribute name={quoteattr(str(k))}>{escape(str(v))}</attribute>")
            out.append("    </box>")
        out.append("  </image>")
    out.append("</annotations>\n")
    atomic_write_text(path, "\n".join(out))
    return {"images": len(dataset), "boxes": dataset.num_boxes}
