"""``yolotools model`` (summary, init, convert) and ``yolotools detect``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import POS, SIZE, UNIT, _check_out, _emit, _parse_classes, _user_errors, main

# ---------------------------------------------------------------- model and detect

_CLASSES_HELP = "Rewrite every [yolo]/[region] head (and the convolution before it) for N classes."
_ANCHORS_HELP = 'Rewrite the head anchors ("w,h, w,h, ...", e.g. from yolotools kmeans); masks follow for a new count.'


def _anchors_opt(text):
    if text is None:
        return None
    from ..anchors import parse_anchor_list

    return parse_anchor_list(text).reshape(-1).tolist()


@main.group()
def model() -> None:
    """Darknet networks: summary, fresh weights, .weights <-> .pt."""


@model.command("summary")
@click.argument("cfg")
@click.option("--classes", type=POS, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@click.option("--img-size", type=SIZE, default=None, help="Input size for the shapes (default: the cfg's).")
@click.option("--json", "as_json", is_flag=True, help="JSON with keys parameters (trainable) and darknet_values (floats in a .weights file).")
@_user_errors
def model_summary_cmd(cfg, classes, anchors, img_size, as_json):
    """Layer table and counts for CFG (a .cfg file, or yolov3 / yolov3-spp / yolov3-tiny / yolov2)."""
    from ..model import load_network, model_summary

    net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
    res = model_summary(net, input_hw=(img_size, img_size) if img_size else None)
    _emit(res, as_json)


@model.command("init")
@click.argument("cfg")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Output .weights (or .pt).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--classes", type=POS, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@_user_errors
def model_init_cmd(cfg, out, seed, classes, anchors):
    """A freshly initialised network in Darknet format (or a .pt checkpoint)."""
    import torch

    from ..model import load_network, save_checkpoint
    from ..model.weights import save_darknet_weights

    _check_out(out, [cfg], "--out")
    torch.manual_seed(seed)
    net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
    if out.endswith(".pt"):
        save_checkpoint(net, out)
        click.echo(f"wrote {out}")
    else:
        n = save_darknet_weights(net, out)
        click.echo(f"wrote {out}: {n:,} values")


@model.command("convert")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--cfg", "cfg", default=None, help="The network's .cfg (or model name); needed to read a .weights file.")
@click.option("--classes", type=POS, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@_user_errors
def model_convert_cmd(src, dst, cfg, classes, anchors):
    """Convert SRC to DST between Darknet .weights and a PyTorch .pt checkpoint (lossless, header kept)."""
    from ..model import load_checkpoint, load_network, save_checkpoint
    from ..model.weights import load_darknet_weights, save_darknet_weights

    _check_out(dst, [src, cfg], "DST")
    if src.endswith(".pt") and dst.endswith(".weights"):
        net, ckpt = load_checkpoint(src)
        h = ckpt.get("header") or [0, 2, 0, 0]
        n = save_darknet_weights(net, dst, seen=int(h[3]), header=tuple(h[:3]))
        cfg_out = Path(dst).with_suffix(".cfg")
        if not cfg_out.exists():  # Darknet needs the cfg with this model's classes and anchors
            from ..io.files import atomic_write_text
            from ..model.cfg import cfg_text

            atomic_write_text(cfg_out, cfg_text(net.sections))
            click.echo(f"wrote {cfg_out}")
    elif src.endswith(".weights") and dst.endswith(".pt"):
        if not cfg:
            raise click.UsageError("--cfg is needed to read a .weights file")
        net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
        info = load_darknet_weights(net, src)
        save_checkpoint(net, dst, header=(info["major"], info["minor"], info["revision"], info["seen"]))
        n = info["values"]
    else:
        raise click.UsageError("convert .weights -> .pt or .pt -> .weights")
    click.echo(f"wrote {dst}: {n:,} values")


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--cfg", "cfg", default=None, help="Network .cfg or model name (not needed with a yolotools .pt: it carries its cfg and class names).")
@click.option("--weights", "weights", required=True, type=click.Path(exists=True, dir_okay=False), help=".weights or .pt")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--names", default=None, help="Class names file (one per line).")
@click.option("--classes", type=POS, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@click.option("--img-size", type=SIZE, default=None, help="Network input size (default: the cfg's).")
@click.option("--conf", type=UNIT, default=0.25, show_default=True, help="Score threshold (objectness x class probability).")
@click.option("--iou", type=UNIT, default=0.45, show_default=True, help="NMS IoU threshold (class-aware).")
@click.option("--max-det", type=POS, default=300, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--coco80", is_flag=True, help="Write COCO category ids (1..90) for 80-class models in the results JSON.")
@click.option("--no-draw", is_flag=True, help="Do not write images with boxes.")
@click.option("--json", "as_json", is_flag=True)
@_user_errors
def detect(images, cfg, weights, out, names, classes, anchors, img_size, conf, iou, max_det, device, coco80, no_draw, as_json):
    """Detect objects in IMAGES (files, folders or .txt image lists): OUT/labels/*.txt (YOLO + conf),
    OUT/detections.json (COCO results), OUT/images/*.jpg (boxes drawn)."""
    from ..model.detect import run_detect

    res = run_detect(cfg, weights, images, out, names=_parse_classes(names) if names else None, classes=classes,
                     anchors=_anchors_opt(anchors), img_size=img_size, conf=conf, iou=iou, max_det=max_det, device=device,
                     coco80=coco80, draw=not no_draw)
    _emit(res, as_json)
