"""Darknet ``.cfg`` files: parse, rewrite the heads for a custom dataset, write.

A cfg is a list of :class:`Section` (``[net]`` first, then one section per layer;
layer ``i`` is ``sections[i + 1]``).  Parsing is pure Python (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import YoloToolsError

__all__ = ["Section", "parse_cfg", "parse_cfg_text", "override_heads", "cfg_text", "SUPPORTED", "check_cfg", "ACTIVATIONS",
           "MAX_VALUES", "MAX_ACTIVATION_BYTES"]

ACTIVATIONS = ("leaky", "linear", "relu", "mish", "logistic", "swish")
MAX_VALUES = 1_000_000_000  # parameters: 16x YOLOv3; a cfg asking for more is a typo or an attack
MAX_ACTIVATION_BYTES = 16 << 30  # float32 activations of one image at the cfg's size

SUPPORTED = ("net", "network", "convolutional", "shortcut", "route", "upsample", "maxpool", "reorg", "region", "yolo")


@dataclass
class Section:
    """One ``[type]`` block; ``options`` keeps the raw strings in file order."""

    type: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0
    source: str = ""  # the cfg file (for messages)

    def where(self, key: str | None = None) -> str:
        loc = f"{self.source}:{self.line}" if self.source else f"cfg line {self.line}"
        return f"{loc}: [{self.type}]" + (f" {key}" if key else "")

    def get(self, key: str, default=None):
        return self.options.get(key, default)

    def _value(self, key: str, default, conv, what: str):
        v = self.options.get(key)
        if v is None:
            if default is None:
                raise YoloToolsError(f"{self.where()} needs '{key}'")
            return default
        try:
            return conv(v)
        except (ValueError, OverflowError):
            raise YoloToolsError(f"{self.where()} {key}={v!r} is not {what}") from None

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
            sections.append(Section(t, {}, ln, name))
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

    new = [Section(s.type, dict(s.options), s.line, s.source) for s in sections]
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
            raise YoloToolsError(f"{h.where()}: the layer before [{h.type}] must be [convolutional]")
        c = h.int("classes")
        if h.type == "yolo":
            n = len(h.ints("mask")) if "mask" in h.options else h.int("num")
            new[j].options["filters"] = str(n * (c + 5))
        else:
            new[j].options["filters"] = str(h.int("num") * (c + h.int("coords", 4) + 1))
    return new


def _bad(s: Section, key: str, value, why: str) -> YoloToolsError:
    return YoloToolsError(f"{s.where(key)}={value}: {why}")


def check_cfg(sections: list[Section]) -> dict:
    """Walk the layers as the network would (channels, height, width), refusing
    with one line naming the file, line, section and key: non-positive sizes,
    unknown activations, [route]/[shortcut] indices outside the earlier layers
    or joining different shapes, heads whose anchors are not finite and positive
    or whose mask points past them, and networks whose parameters (over
    :data:`MAX_VALUES`) or activations at the cfg's size (over
    :data:`MAX_ACTIVATION_BYTES`) could not be allocated.  Pure Python, before
    any tensor exists.  Returns ``{"values": parameters, "activation_bytes": ...}``."""
    import math

    net = sections[0]

    def pos(s: Section, key: str, default, hi: int | None = None) -> int:
        v = s.int(key, default)
        if v < 1:
            raise _bad(s, key, v, "must be at least 1")
        if hi is not None and v > hi:
            raise _bad(s, key, v, f"must be at most {hi}")
        return v

    c, h, w = pos(net, "channels", 3, 64), pos(net, "height", 416, 16384), pos(net, "width", 416, 16384)
    shapes: list[tuple[int, int, int]] = []
    values = 0
    act = 0
    for i, s in enumerate(sections[1:]):
        t = s.type
        if t == "convolutional":
            f, k, st = pos(s, "filters", None, 1 << 16), pos(s, "size", 1, 63), pos(s, "stride", 1, 64)
            a = s.get("activation", "logistic").lower()
            if a not in ACTIVATIONS:
                raise _bad(s, "activation", a, f"unknown activation (choose from {', '.join(ACTIVATIONS)})")
            pad = (k // 2) if s.int("pad", 0) else s.int("padding", 0)
            if pad < 0:
                raise _bad(s, "padding", pad, "must not be negative")
            h, w = (h + 2 * pad - k) // st + 1, (w + 2 * pad - k) // st + 1
            values += f * c * k * k + (4 * f if s.int("batch_normalize", 0) else f)
            c = f
        elif t == "maxpool":
            k, st = pos(s, "size", 2, 63), pos(s, "stride", 2, 64)
            h, w = (h + k - 1 - k) // st + 1, (w + k - 1 - k) // st + 1
        elif t == "upsample":
            st = pos(s, "stride", 2, 64)
            h, w = h * st, w * st
        elif t == "reorg":
            st = pos(s, "stride", 2, 64)
            if h % st or w % st:
                raise _bad(s, "stride", st, f"does not divide the {h}x{w} input")
            c, h, w = c * st * st, h // st, w // st
        elif t == "route":
            idx = s.ints("layers")
            if not idx:
                raise _bad(s, "layers", s.get("layers"), "needs at least one layer")
            idx = [j if j >= 0 else i + j for j in idx]
            if any(j < 0 or j >= i for j in idx):
                raise _bad(s, "layers", s.get("layers"), f"points outside the earlier layers 0..{i - 1}")
            hw = {shapes[j][1:] for j in idx}
            if len(hw) > 1:
                raise _bad(s, "layers", s.get("layers"), f"joins layers of different sizes {sorted(hw)}")
            c, (h, w) = sum(shapes[j][0] for j in idx), hw.pop()
        elif t == "shortcut":
            j = s.int("from")
            j = j if j >= 0 else i + j
            if j < 0 or j >= i:
                raise _bad(s, "from", s.get("from"), f"points outside the earlier layers 0..{i - 1}")
            if shapes[j] != (c, h, w):
                raise _bad(s, "from", s.get("from"), f"adds a {shapes[j]} layer to a {(c, h, w)} one")
            if s.get("activation", "linear") != "linear":
                raise _bad(s, "activation", s.get("activation"), "only linear is supported")
        elif t in ("yolo", "region"):
            pos(s, "classes", None, 1 << 16)
            anchors = s.floats("anchors")
            if not anchors or len(anchors) % 2 or not all(math.isfinite(v) and v > 0 for v in anchors):
                raise _bad(s, "anchors", s.get("anchors"), "must be pairs of finite positive numbers")
            if t == "yolo" and "mask" in s.options:
                mask = s.ints("mask")
                if not mask or any(m < 0 or m >= len(anchors) // 2 for m in mask):
                    raise _bad(s, "mask", s.get("mask"), f"must index the {len(anchors) // 2} anchors")
            if t == "region":
                pos(s, "num", None, len(anchors) // 2)
            for key in ("ignore_thresh", "scale_x_y"):
                if key in s.options and not (math.isfinite(s.float(key)) and s.float(key) >= 0):
                    raise _bad(s, key, s.get(key), "must be a finite number >= 0")
        if h < 1 or w < 1:
            raise _bad(s, "size" if t != "route" else "layers", s.get("size", s.get("stride", "")),
                       f"leaves nothing of the input (output {h}x{w})")
        if values > MAX_VALUES:
            raise YoloToolsError(f"{s.where()}: the network needs over {MAX_VALUES:,} parameters; refused")
        act += 4 * c * h * w
        if act > MAX_ACTIVATION_BYTES:
            raise YoloToolsError(f"{s.where()}: activations at {sections[0].int('width', 416)} px exceed "
                                 f"{MAX_ACTIVATION_BYTES >> 30} GiB; refused (check filters/size/stride)")
        shapes.append((c, h, w))
    return {"values": values, "activation_bytes": act}
