"""Darknet ``.cfg`` files: parse, rewrite the heads for a custom dataset, write.

A cfg is a list of :class:`Section` (``[net]`` first, then one section per layer;
layer ``i`` is ``sections[i + 1]``).  Parsing is pure Python (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import YoloToolsError

__all__ = ["Section", "parse_cfg", "parse_cfg_text", "override_heads", "cfg_text", "SUPPORTED"]

SUPPORTED = ("net", "network", "convolutional", "shortcut", "route", "upsample", "maxpool", "reorg", "region", "yolo")


@dataclass
class Section:
    """One ``[type]`` block; ``options`` keeps the raw strings in file order."""

    type: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def get(self, key: str, default=None):
        return self.options.get(key, default)

    def _value(self, key: str, default, conv, what: str):
        v = self.options.get(key)
        if v is None:
            if default is None:
                raise YoloToolsError(f"cfg line {self.line}: [{self.type}] needs '{key}'")
            return default
        try:
            return conv(v)
        except ValueError:
            raise YoloToolsError(f"cfg line {self.line}: [{self.type}] {key}={v!r} is not {what}") from None

    def int(self, key: str, default: int | None = None) -> int:
        return self._value(key, default, lambda v: int(float(v)), "a number")

    def float(self, key: str, default: float | None = None) -> float:
        return self._value(key, default, float, "a number")

    def ints(self, key: str) -> list[int]:
        return self._value(key, [], lambda v: [int(x) for x in v.replace(" ", "").split(",") if x], "a list of integers")

    def floats(self, key: str) -> list[float]:
        return self._value(key, [], lambda v: [float(x) for x in v.replace(" ", "").split(",") if x], "a list of numbers")


def parse_cfg_text(text: str, name: str = "<cfg>") -> list[Section]:
    sections: list[Section] = []
    for ln, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise YoloToolsError(f"{name}:{ln}: malformed section header {raw.strip()!r}")
            t = line[1:-1].strip().lower()
            if t not in SUPPORTED:
                raise YoloToolsError(f"{name}:{ln}: layer type [{t}] is not supported (supported: {', '.join(SUPPORTED[2:])})")
            sections.append(Section(t, {}, ln))
            continue
        if "=" not in line:
            raise YoloToolsError(f"{name}:{ln}: expected key=value, got {raw.strip()!r}")
        if not sections:
            raise YoloToolsError(f"{name}:{ln}: option before the first [section]")
        k, v = line.split("=", 1)
        sections[-1].options[k.strip()] = v.strip()
    if not sections or sections[0].type not in ("net", "network"):
        raise YoloToolsError(f"{name}: a Darknet cfg starts with [net]")
    if len(sections) < 2:
        raise YoloToolsError(f"{name}: no layers")
    return sections


def parse_cfg(path: Path | str) -> list[Section]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise YoloToolsError(f"{p}: cfg file not found") from None
    return parse_cfg_text(text, str(p))


def cfg_text(sections: list[Section]) -> str:
    out = []
    for s in sections:
        out.append(f"[{s.type}]")
        out += [f"{k}={v}" for k, v in s.options.items()]
        out.append("")
    return "\n".join(out)


def override_heads(sections: list[Section], *, classes: int | None = None, anchors: list[float] | None = None) -> list[Section]:
    """A copy of ``sections`` with every ``[yolo]``/``[region]`` head set to
    ``classes`` and ``anchors`` (flat ``w,h,...``), and the convolution feeding
    each head resized: ``filters = len(mask) * (classes + 5)`` for ``[yolo]``,
    ``num * (classes + coords + 1)`` for ``[region]``.  With a new anchor count
    the YOLOv3 masks are recomputed (largest anchors on the first head)."""
    from ..anchors import yolov3_masks

    new = [Section(s.type, dict(s.options), s.line) for s in sections]
    heads = [i for i, s in enumerate(new) if s.type in ("yolo", "region")]
    if not heads:
        raise YoloToolsError("cfg has no [yolo] or [region] layer to rewrite")
    if anchors is not None and len(anchors) % 2:
        raise YoloToolsError(f"anchors: expected pairs w,h; got {len(anchors)} values")
    n_anchor = len(anchors) // 2 if anchors is not None else None
    yolo_heads = [i for i in heads if new[i].type == "yolo"]
    masks = None
    if n_anchor is not None and yolo_heads:
        old_n = new[yolo_heads[0]].int("num", len(new[yolo_heads[0]].floats("anchors")) // 2)
        if n_anchor != old_n:
            masks = yolov3_masks(n_anchor, len(yolo_heads))
    for hi, i in enumerate(heads):
        h = new[i]
        if classes is not None:
            h.options["classes"] = str(classes)
        if anchors is not None:
            h.options["anchors"] = ", ".join(f"{anchors[j]:g},{anchors[j + 1]:g}" for j in range(0, len(anchors), 2))
            h.options["num"] = str(n_anchor)
            if masks is not None and h.type == "yolo":
                h.options["mask"] = ",".join(map(str, masks[yolo_heads.index(i)]))
        # the convolution right before the head
        j = i - 1
        if new[j].type != "convolutional":
            raise YoloToolsError(f"cfg line {h.line}: the layer before [{h.type}] must be [convolutional]")
        c = h.int("classes")
        if h.type == "yolo":
            n = len(h.ints("mask")) if "mask" in h.options else h.int("num")
            new[j].options["filters"] = str(n * (c + 5))
        else:
            new[j].options["filters"] = str(h.int("num") * (c + h.int("coords", 4) + 1))
    return new
