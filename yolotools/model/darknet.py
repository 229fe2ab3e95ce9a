"""A Darknet ``.cfg`` as a PyTorch module (flat layer list, Darknet order).

``DarknetNet.from_cfg(path, classes=..., anchors=...)`` builds the network;
``forward(x)`` returns the raw output of every detection head (the tensor that
feeds each ``[yolo]``/``[region]`` layer), shape ``(B, A*(5+C), H, W)``;
``heads`` describes them (:class:`HeadSpec`) for decoding and the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import YoloToolsError
from .cfg import Section, override_heads, parse_cfg
from .layers import ConvBNAct, DarknetMaxPool, Reorg, Upsample

__all__ = ["HeadSpec", "DarknetNet"]


@dataclass(frozen=True)
class HeadSpec:
    """One detection head.  ``anchors`` are ``(w, h)`` in input pixels for
    ``yolo`` heads, in grid cells for ``region`` (YOLOv2) heads."""

    kind: str  # "yolo" | "region"
    anchors: tuple[tuple[float, float], ...]
    classes: int
    layer: int  # index of the head layer in the cfg
    ignore_thresh: float = 0.7
    scale_x_y: float = 1.0


class _Route(nn.Module):
    def __init__(self, layers: list[int]):
        super().__init__()
        self.layers = layers


class _Shortcut(nn.Module):
    def __init__(self, source: int, act: str):
        super().__init__()
        self.source = source
        if act != "linear":
            raise YoloToolsError(f"[shortcut] activation={act} is not supported (linear only)")


class _Head(nn.Module):
    def __init__(self, spec: HeadSpec):
        super().__init__()
        self.spec = spec


class DarknetNet(nn.Module):
    """Flat Darknet network.  ``layers[i]`` is cfg layer ``i``."""

    def __init__(self, *, sections: list[Section]):
        super().__init__()
        from .cfg import check_cfg

        check_cfg(sections)  # every size, index and the memory, before any tensor is made
        self.sections = sections
        net = sections[0]
        self.input_hw = (net.int("height", 416), net.int("width", 416))
        self.in_channels = net.int("channels", 3)
        self.layers = nn.ModuleList()
        self.heads: list[HeadSpec] = []
        out_ch: list[int] = []
        c = self.in_channels
        for i, s in enumerate(sections[1:]):
            t = s.type
            if t == "convolutional":
                k = s.int("size", 1)
                pad = s.int("pad", 0)
                m = ConvBNAct(c, s.int("filters"), k, s.int("stride", 1), bn=bool(s.int("batch_normalize", 0)),
                              act=s.get("activation", "logistic"), pad=bool(pad))
                if not pad and s.int("padding", 0):
                    m.conv.padding = (s.int("padding"),) * 2
                c = s.int("filters")
            elif t == "maxpool":
                m = DarknetMaxPool(s.int("size", 2), s.int("stride", 2))
            elif t == "upsample":
                m = Upsample(s.int("stride", 2))
            elif t == "reorg":
                m = Reorg(s.int("stride", 2))
                c = c * m.s * m.s
            elif t == "route":
                idx = [j if j >= 0 else i + j for j in s.ints("layers")]
                if any(j < 0 or j >= i for j in idx):
                    raise YoloToolsError(f"{s.where()} layers={s.get('layers')} points outside 0..{i - 1}")
                m = _Route(idx)
                c = sum(out_ch[j] for j in idx)
            elif t == "shortcut":
                src = s.int("from")
                src = src if src >= 0 else i + src
                m = _Shortcut(src, s.get("activation", "linear"))
            elif t in ("yolo", "region"):
                m = _Head(self._head_spec(s, i, c))
                self.heads.append(m.spec)
            else:  # pragma: no cover - parse_cfg rejects others
                raise YoloToolsError(f"{s.where()}: unsupported layer [{t}]")
            self.layers.append(m)
            out_ch.append(c)
        self._keep = set()
        for m in self.layers:
            if isinstance(m, _Route):
                self._keep.update(m.layers)
            elif isinstance(m, _Shortcut):
                self._keep.add(m.source)

    @staticmethod
    def _head_spec(s: Section, i: int, c_in: int) -> HeadSpec:
        classes = s.int("classes")
        a = s.floats("anchors")
        pairs = [(a[j], a[j + 1]) for j in range(0, len(a) - 1, 2)]
        if s.type == "yolo":
            mask = s.ints("mask") if "mask" in s.options else list(range(len(pairs)))
            if any(m >= len(pairs) for m in mask):
                raise YoloToolsError(f"{s.where()} mask {mask} refers to missing anchors ({len(pairs)} given)")
            pairs = [pairs[m] for m in mask]
            want = len(pairs) * (classes + 5)
        else:
            want = s.int("num") * (classes + s.int("coords", 4) + 1)
            pairs = pairs[: s.int("num")]
        if c_in != want:
            raise YoloToolsError(
                f"{s.where()} with {classes} classes and {len(pairs)} anchors needs {want} filters "
                f"in the convolution before it, found {c_in} (use --classes N to rewrite the heads)"
            )
        return HeadSpec(s.type, tuple(pairs), classes, i, s.float("ignore_thresh", 0.7 if s.type == "yolo" else 0.6),
                        s.float("scale_x_y", 1.0))

    @classmethod
    def from_cfg(cls, path: Path | str, *, classes: int | None = None, anchors: list[float] | None = None) -> "DarknetNet":
        sections = parse_cfg(path)
        if classes is not None or anchors is not None:
            sections = override_heads(sections, classes=classes, anchors=anchors)
        return cls(sections=sections)

    def darknet_convs(self) -> list[ConvBNAct]:
        """Convolutions in ``.weights`` file order, with their layer index."""
        return [m for m in self.layers if isinstance(m, ConvBNAct)]

    def conv_layer_indices(self) -> list[int]:
        return [i for i, m in enumerate(self.layers) if isinstance(m, ConvBNAct)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs: dict[int, torch.Tensor] = {}
        heads = []
        for i, m in enumerate(self.layers):
            if isinstance(m, _Route):
                x = outs[m.layers[0]] if len(m.layers) == 1 else torch.cat([outs[j] for j in m.layers], 1)
            elif isinstance(m, _Shortcut):
                x = x + outs[m.source]
            elif isinstance(m, _Head):
                heads.append(x)
            else:
                x = m(x)
            if i in self._keep:
                outs[i] = x
        return heads
