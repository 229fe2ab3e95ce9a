"""The networks we know, from typed configs: Darknet-53 YOLOv3 (+SPP), YOLOv3-tiny
and YOLOv2, as Darknet layer lists (so ``.weights`` files load in Darknet order)
and, for YOLOv3, as a structured module (:mod:`yolotools.model.yolov3`).

``build_model(name, classes=..., anchors=...)`` returns a :class:`DarknetNet`;
``cfg_sections(name, ...)`` the layer list (``cfg_text`` writes it as a .cfg).
Registry names are unique; an unknown one is a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import YoloToolsError
from .cfg import Section

__all__ = ["DarknetCfg", "DARKNET53", "YOLOV3_ANCHORS", "YOLOV3_TINY_ANCHORS", "YOLOV2_ANCHORS", "MODELS", "cfg_sections", "build_model", "register"]


@dataclass(frozen=True)
class DarknetCfg:
    """Darknet-53: a 3x3 stem, then stages of (stride-2 3x3 conv + ``depth`` residual blocks)."""

    depths: tuple[int, ...] = (1, 2, 8, 8, 4)
    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    stem: int = 32


DARKNET53 = DarknetCfg()
YOLOV3_ANCHORS = (10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326)
YOLOV3_TINY_ANCHORS = (10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319)
YOLOV2_ANCHORS = (0.57273, 0.677385, 1.87446, 2.06253, 3.33843, 5.47434, 7.88282, 3.52778, 9.77052, 9.16828)


def _S(t: str, **kw) -> Section:
    return Section(t, {k: str(v) for k, v in kw.items()})


def _conv(f: int, k: int, s: int = 1, bn: bool = True, act: str = "leaky") -> Section:
    o = {"batch_normalize": 1} if bn else {}
    return _S("convolutional", **o, filters=f, size=k, stride=s, pad=1, activation=act)


def _net(size: int) -> Section:
    return _S("net", batch=64, subdivisions=16, width=size, height=size, channels=3, momentum=0.9, decay=0.0005,
              learning_rate=0.001, burn_in=1000, max_batches=500200, policy="steps", steps="400000,450000", scales=".1,.1")


def _anchor_str(a) -> str:
    return ", ".join(f"{a[i]:g},{a[i + 1]:g}" for i in range(0, len(a), 2))


def _yolo(mask, anchors, classes) -> Section:
    return _S("yolo", mask=",".join(map(str, mask)), anchors=_anchor_str(anchors), classes=classes, num=len(anchors) // 2,
              jitter=0.3, ignore_thresh=0.7, truth_thresh=1, random=1)


def yolov3_sections(classes: int = 80, anchors=YOLOV3_ANCHORS, *, spp: bool = False, size: int = 416, backbone: DarknetCfg = DARKNET53) -> list[Section]:
    from ..anchors import yolov3_masks

    s = [_net(size), _conv(backbone.stem, 3)]
    taps = []
    for w, d in zip(backbone.widths, backbone.depths):
        s.append(_conv(w, 3, 2))
        for _ in range(d):
            s += [_conv(w // 2, 1), _conv(w, 3), _S("shortcut", **{"from": -3}, activation="linear")]
        taps.append(len(s) - 2)  # layer index of the stage output
    masks = yolov3_masks(len(anchors) // 2, 3)
    na = [len(m) for m in masks]
    top = backbone.widths[-1]
    # scale 1 (stride 32)
    s += [_conv(top // 2, 1), _conv(top, 3), _conv(top // 2, 1)]
    if spp:
        s += [_S("maxpool", stride=1, size=5), _S("route", layers=-2), _S("maxpool", stride=1, size=9), _S("route", layers=-4),
              _S("maxpool", stride=1, size=13), _S("route", layers="-1,-3,-5,-6")]
        s += [_conv(top // 2, 1)]
    s += [_conv(top, 3), _conv(top // 2, 1), _conv(top, 3), _conv(na[0] * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[0], anchors, classes)]
    for head, (tap, w) in enumerate(zip((taps[3], taps[2]), (top // 4, top // 8)), 1):
        s += [_S("route", layers=-4), _conv(w, 1), _S("upsample", stride=2), _S("route", layers=f"-1, {tap}")]
        s += [_conv(w, 1), _conv(w * 2, 3), _conv(w, 1), _conv(w * 2, 3), _conv(w, 1), _conv(w * 2, 3)]
        s += [_conv(na[head] * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[head], anchors, classes)]
    return s


def yolov3_tiny_sections(classes: int = 80, anchors=YOLOV3_TINY_ANCHORS, *, size: int = 416) -> list[Section]:
    from ..anchors import yolov3_masks

    masks = yolov3_masks(len(anchors) // 2, 2)
    s = [_net(size)]
    for i, f in enumerate((16, 32, 64, 128, 256, 512)):
        s += [_conv(f, 3), _S("maxpool", size=2, stride=2 if i < 5 else 1)]
    s += [_conv(1024, 3), _conv(256, 1), _conv(512, 3), _conv(len(masks[0]) * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[0], anchors, classes)]
    s += [_S("route", layers=-4), _conv(128, 1), _S("upsample", stride=2), _S("route", layers="-1, 8")]
    s += [_conv(256, 3), _conv(len(masks[1]) * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[1], anchors, classes)]
    return s


def yolov2_sections(classes: int = 80, anchors=YOLOV2_ANCHORS, *, size: int = 416) -> list[Section]:
    s = [_net(size)]
    plan = [(32, 3), "M", (64, 3), "M", (128, 3), (64, 1), (128, 3), "M", (256, 3), (128, 1), (256, 3), "M",
            (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M", (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)]
    for p in plan:
        s.append(_S("maxpool", size=2, stride=2) if p == "M" else _conv(*p))
    s += [_conv(1024, 3), _conv(1024, 3), _S("route", layers=-9), _conv(64, 1), _S("reorg", stride=2), _S("route", layers="-1,-4"), _conv(1024, 3)]
    n = len(anchors) // 2
    s += [_conv(n * (classes + 5), 1, bn=False, act="linear")]
    s += [_S("region", anchors=_anchor_str(anchors), bias_match=1, classes=classes, coords=4, num=n, softmax=1, jitter=0.2, rescore=1,
             object_scale=5, noobject_scale=1, class_scale=1, coord_scale=1, absolute=1, thresh=0.6, random=1)]
    return s


SHAPES_TINY_ANCHORS = (14, 14, 22, 22, 30, 30, 38, 38, 48, 48, 62, 62)


def shapes_tiny_sections(classes: int = 3, anchors=SHAPES_TINY_ANCHORS, *, size: int = 128) -> list[Section]:
    """The demo's detector for small, simple datasets (the generated shapes): six
    plain 3x3 convolutions, a head at stride 16 (large objects) and one at
    stride 8; ~0.3 M parameters, trains on a laptop CPU in minutes."""
    from ..anchors import yolov3_masks

    masks = yolov3_masks(len(anchors) // 2, 2)
    s = [_net(size), _conv(16, 3, 2), _conv(32, 3, 2), _conv(64, 3, 2), _conv(64, 3), _conv(128, 3, 2), _conv(128, 3)]
    s += [_conv(len(masks[0]) * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[0], anchors, classes)]
    s += [_S("route", layers=-5), _conv(len(masks[1]) * (classes + 5), 1, bn=False, act="linear"), _yolo(masks[1], anchors, classes)]
    return s


MODELS: dict[str, Callable[..., list[Section]]] = {}


def register(name: str, fn: Callable[..., list[Section]]) -> None:
    if name in MODELS:
        raise KeyError(f"model {name!r} is already registered")
    MODELS[name] = fn


register("yolov3", yolov3_sections)
register("yolov3-spp", lambda classes=80, anchors=YOLOV3_ANCHORS, size=416: yolov3_sections(classes, anchors, spp=True, size=size))
register("yolov3-tiny", yolov3_tiny_sections)
register("yolov2", yolov2_sections)
register("shapes-tiny", shapes_tiny_sections)


def cfg_sections(name: str, *, classes: int = 80, anchors=None, size: int = 416) -> list[Section]:
    try:
        fn = MODELS[name]
    except KeyError:
        raise YoloToolsError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None
    if anchors is None:
        return fn(classes=classes, size=size)
    return fn(classes=classes, anchors=tuple(anchors), size=size)


def build_model(name: str, *, classes: int = 80, anchors=None, size: int = 416):
    from .darknet import DarknetNet

    return DarknetNet(sections=cfg_sections(name, classes=classes, anchors=anchors, size=size))
