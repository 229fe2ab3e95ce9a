"""``yolotools model`` (summary, init, convert) and ``yolotools detect``."""

from __future__ import annotations

from pathlib import Path

import click

from ..model import MERGE_IOU
from .common import POS, SIZE, UNIT, _check_out, _emit, _parse_classes, _progress_enabled, _user_errors, main

# ---------------------------------------------------------------- model and detect

_CLASSES_HELP = "Rewrite every [yolo]/[region] head (and the convolution before it) for N classes."
_ANCHORS_HELP = 'Rewrite the head anchors ("w,h, w,h, ...", e.g. from yolotools kmeans); masks follow for a new count.'


def _head_options(fn):
    """--classes N and --anchors "...": rewrite the network's heads (every command that builds one)."""
    fn = click.option("--anchors", default=None, help=_ANCHORS_HELP)(fn)
    return click.option("--classes", type=POS, default=None, help=_CLASSES_HELP)(fn)


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
@_head_options
@click.option("--img-size", type=SIZE, default=None, help="Input size for the shapes (default: the cfg's).")
@click.option("--json", "as_json", is_flag=True, help="JSON with keys parameters (trainable) and darknet_values (floats in a .weights file).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def model_summary_cmd(cfg, classes, anchors, img_size, as_json, quiet):
    """Layer table and counts for CFG (a .cfg file, or yolov3 / yolov3-spp / yolov3-tiny / yolov2)."""
    from ..model import load_network, model_summary

    net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
    res = model_summary(net, input_hw=(img_size, img_size) if img_size else None)
    _emit(res, as_json)


@model.command("init")
@click.argument("cfg")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Output .weights (or .pt).")
@click.option("--seed", type=int, default=0, show_default=True)
@_head_options
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def model_init_cmd(cfg, out, seed, classes, anchors, as_json, quiet):
    """A freshly initialised network in Darknet format (or a .pt checkpoint)."""
    import torch

    from ..model import load_network, save_checkpoint
    from ..model.weights import save_darknet_weights

    _check_out(out, [cfg], "--out")
    torch.manual_seed(seed)
    net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
    if out.endswith(".pt"):
        save_checkpoint(net, out)
        _written([out], None, as_json)
    else:
        _written([out], save_darknet_weights(net, out), as_json)


@model.command("convert")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--cfg", "cfg", default=None, help="The network's .cfg (or model name); needed to read a .weights file.")
@_head_options
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def model_convert_cmd(src, dst, cfg, classes, anchors, as_json, quiet):
    """Convert SRC to DST between Darknet .weights and a PyTorch .pt checkpoint (lossless, header kept)."""
    from ..model import load_checkpoint, load_network, save_checkpoint
    from ..model.weights import load_darknet_weights, save_darknet_weights

    _check_out(dst, [src, cfg], "DST")
    written: list[str] = []
    if src.endswith(".pt") and dst.endswith(".weights"):
        net, ckpt = load_checkpoint(src)
        h = ckpt.get("header") or [0, 2, 0, 0]
        n = save_darknet_weights(net, dst, seen=int(h[3]), header=tuple(h[:3]))
        cfg_out = Path(dst).with_suffix(".cfg")
        if not cfg_out.exists():  # Darknet needs the cfg with this model's classes and anchors
            from ..io.files import atomic_write_text
            from ..model.cfg import cfg_text

            atomic_write_text(cfg_out, cfg_text(net.sections))
            written.append(str(cfg_out))
    elif src.endswith(".weights") and dst.endswith(".pt"):
        if not cfg:
            raise click.UsageError("--cfg is needed to read a .weights file")
        net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
        info = load_darknet_weights(net, src)
        save_checkpoint(net, dst, header=(info["major"], info["minor"], info["revision"], info["seen"]))
        n = info["values"]
    else:
        raise click.UsageError("convert .weights -> .pt or .pt -> .weights")
    _written(written + [dst], n, as_json)


def _written(files: list[str], values: int | None, as_json: bool) -> None:
    """What `model init`/`model convert` wrote: one line per file (the last with
    its value count), or JSON ``{"wrote": [...], "values": N}``."""
    if as_json:
        import json

        click.echo(json.dumps({"wrote": [str(f) for f in files], "values": values}, indent=2))
        return
    for f in files[:-1]:
        click.echo(f"wrote {f}")
    click.echo(f"wrote {files[-1]}" + (f": {values:,} values" if values is not None else ""))


@model.command("export")
@click.argument("weights", type=click.Path(exists=True, dir_okay=False))
@click.option("--cfg", "cfg", default=None, help="The network's .cfg (or model name); needed for a .weights file (a .pt carries its cfg).")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Output file (M.onnx).")
@click.option("--img-size", type=SIZE, default=None, help="Input size (default: the cfg's).")
@click.option("--dynamic-batch", is_flag=True, help="A variable batch dimension (default: batch 1).")
@click.option("--opset", type=click.IntRange(11, 23), default=17, show_default=True)
@click.option("--decode", is_flag=True, help="Include decoding: outputs boxes (B, N, 4, xyxy input pixels) and scores (B, N, C).")
@_head_options
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def model_export_cmd(weights, cfg, fmt, out, img_size, dynamic_batch, opset, decode, classes, anchors, as_json, quiet):
    """Export WEIGHTS (.pt, or .weights with --cfg) to ONNX: the raw head outputs, or with --decode boxes and scores."""
    from ..model import load_checkpoint, load_network, load_weights_any
    from ..model.export import export_onnx

    _check_out(out, [weights, cfg], "--out")
    if Path(weights).suffix == ".pt" and cfg is None:
        net, _ = load_checkpoint(weights)
    else:
        if cfg is None:
            raise click.UsageError("--cfg is needed to read a .weights file")
        net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors), size=img_size)
        load_weights_any(net, weights)
    _emit(export_onnx(net, out, img_size=img_size, opset=opset, dynamic_batch=dynamic_batch, decode=decode,
                      progress=_progress_enabled(quiet)), as_json)


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--cfg", "cfg", default=None, help="Network .cfg or model name (not needed with a yolotools .pt: it carries its cfg and class names).")
@click.option("--weights", "weights", required=True, type=click.Path(exists=True, dir_okay=False), help=".weights or .pt")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--names", default=None, help="Class names file (one per line).")
@_head_options
@click.option("--img-size", type=SIZE, default=None, help="Network input size (default: the cfg's).")
@click.option("--conf", type=UNIT, default=0.25, show_default=True, help="Score threshold (objectness x class probability).")
@click.option("--iou", type=UNIT, default=0.45, show_default=True, help="NMS IoU threshold (class-aware).")
@click.option("--max-det", type=POS, default=300, show_default=True)
@click.option("--merge-iou", type=UNIT, default=MERGE_IOU, show_default=True,
              help="Each kept box becomes the score x IoU^4 weighted mean of the same-class boxes overlapping it by this much; 1 = plain NMS.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--coco80", is_flag=True, help="Write COCO category ids (1..90) for 80-class models in the results JSON.")
@click.option("--no-draw", is_flag=True, help="Do not write images with boxes.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def detect(images, cfg, weights, out, names, classes, anchors, img_size, conf, iou, max_det, merge_iou, device, coco80, no_draw, as_json, quiet):
    """Detect objects in IMAGES (files, folders or .txt image lists): OUT/labels/*.txt (YOLO + conf),
    OUT/detections.json (COCO results), OUT/images/*.jpg (boxes drawn)."""
    from ..model.detect import run_detect

    res = run_detect(cfg, weights, images, out, names=_parse_classes(names) if names else None, classes=classes,
                     anchors=_anchors_opt(anchors), img_size=img_size, conf=conf, iou=iou, max_det=max_det, merge_iou=merge_iou,
                     device=device, coco80=coco80, draw=not no_draw, progress=_progress_enabled(quiet))
    _emit(res, as_json)
