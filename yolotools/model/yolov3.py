"""YOLOv3 assembled in code: ``YOLOv3(backbone=Darknet53, neck=YOLOv3FPN, heads=...)``.

Its parameters are those of the cfg-built network (:func:`darknet_convs` lists
the convolutions in ``.weights`` file order), so Darknet weights load into either
and both give the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .darknet import HeadSpec
from .layers import ConvBNAct, DarkResidual, Upsample
from .zoo import DARKNET53, YOLOV3_ANCHORS, DarknetCfg

__all__ = ["YOLOv3Cfg", "Darknet53", "YOLOv3FPN", "YOLOv3"]


@dataclass(frozen=True)
class YOLOv3Cfg:
    backbone: DarknetCfg = DARKNET53
    num_classes: int = 80
    anchors: tuple[float, ...] = YOLOV3_ANCHORS
    masks: tuple[tuple[int, ...], ...] = field(default=((6, 7, 8), (3, 4, 5), (0, 1, 2)))


class Darknet53(nn.Module):
    """Stem + stages; returns the outputs of the last three stages (strides 8, 16, 32)."""

    def __init__(self, cfg: DarknetCfg = DARKNET53):
        super().__init__()
        self.stem = ConvBNAct(3, cfg.stem, 3)
        stages = []
        c = cfg.stem
        for w, d in zip(cfg.widths, cfg.depths):
            stages.append(nn.Sequential(ConvBNAct(c, w, 3, 2), *[DarkResidual(w) for _ in range(d)]))
            c = w
        self.stages = nn.ModuleList(stages)
        self.out_channels = tuple(cfg.widths[-3:])

    def darknet_convs(self) -> list[ConvBNAct]:
        out = [self.stem]
        for st in self.stages:
            out.append(st[0])
            for blk in st[1:]:
                out += [blk.cv1, blk.cv2]
        return out

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for st in self.stages:
            x = st(x)
            feats.append(x)
        return feats[-3:]


def _five(c_in: int, c: int) -> nn.Sequential:
    return nn.Sequential(ConvBNAct(c_in, c, 1), ConvBNAct(c, 2 * c, 3), ConvBNAct(2 * c, c, 1), ConvBNAct(c, 2 * c, 3), ConvBNAct(2 * c, c, 1))


class YOLOv3FPN(nn.Module):
    """Top-down path: five convs per scale, 1x1 lateral + 2x upsample + concat."""

    def __init__(self, in_channels=(256, 512, 1024)):
        super().__init__()
        c3, c4, c5 = in_channels
        self.block5 = _five(c5, c5 // 2)
        self.lat5 = ConvBNAct(c5 // 2, c5 // 4, 1)
        self.block4 = _five(c5 // 4 + c4, c4 // 2)
        self.lat4 = ConvBNAct(c4 // 2, c4 // 4, 1)
        self.block3 = _five(c4 // 4 + c3, c3 // 2)
        self.up = Upsample(2)
        self.out_channels = (c5 // 2, c4 // 2, c3 // 2)

    def forward(self, feats):
        c3, c4, c5 = feats
        p5 = self.block5(c5)
        p4 = self.block4(torch.cat([self.up(self.lat5(p5)), c4], 1))
        p3 = self.block3(torch.cat([self.up(self.lat4(p4)), c3], 1))
        return [p5, p4, p3]


class _Head(nn.Module):
    def __init__(self, c_in: int, n_anchors: int, classes: int):
        super().__init__()
        self.cv = ConvBNAct(c_in, 2 * c_in, 3)
        self.out = ConvBNAct(2 * c_in, n_anchors * (classes + 5), 1, bn=False, act="linear")

    def forward(self, x):
        return self.out(self.cv(x))


class YOLOv3(nn.Module):
    """``forward(x)`` -> raw outputs at strides 32, 16, 8 (as the cfg network)."""

    def __init__(self, *, backbone: Darknet53, neck: YOLOv3FPN, heads: nn.ModuleList, specs: list[HeadSpec]):
        super().__init__()
        self.backbone, self.neck, self.head = backbone, neck, heads
        self.heads = specs

    @classmethod
    def from_config(cls, cfg: YOLOv3Cfg = YOLOv3Cfg()) -> "YOLOv3":
        bb = Darknet53(cfg.backbone)
        neck = YOLOv3FPN(bb.out_channels)
        a = cfg.anchors
        pairs = [(float(a[i]), float(a[i + 1])) for i in range(0, len(a), 2)]
        specs = [HeadSpec("yolo", tuple(pairs[j] for j in m), cfg.num_classes, -1) for m in cfg.masks]
        heads = nn.ModuleList(_Head(c, len(m), cfg.num_classes) for c, m in zip(neck.out_channels, cfg.masks))
        return cls(backbone=bb, neck=neck, heads=heads, specs=specs)

    def darknet_convs(self) -> list[ConvBNAct]:
        n = self.neck
        h = self.head
        return (
            self.backbone.darknet_convs()
            + list(n.block5) + [h[0].cv, h[0].out, n.lat5]
            + list(n.block4) + [h[1].cv, h[1].out, n.lat4]
            + list(n.block3) + [h[2].cv, h[2].out]
        )

    def forward(self, x):
        return [hd(p) for hd, p in zip(self.head, self.neck(self.backbone(x)))]
