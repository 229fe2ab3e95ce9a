"""The ``yolotools`` command line: a thin shell over the library.

Each command parses its options, makes one library call and prints the result
(a table, or JSON with ``--json``).  Library modules are imported inside the
commands so that ``yolotools convert`` never pays for torch or albumentations.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from .errors import YoloToolsError

VOC_CONVENTION_HELP = (
    "VOC pixel convention. exact (default): VOC coordinates are 1-based inclusive pixels, "
    "the box is [xmin-1, xmax] x [ymin-1, ymax] in continuous pixels. darknet: reproduce Darknet's "
    "voc_label.py (centre minus 1 px, width xmax-xmin). raw: take the numbers as continuous pixels "
    "(CVAT-style exports)."
)


def _user_errors(fn):
    """Turn user errors into a one-line message and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except YoloToolsError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _emit(result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(result.to_table())


def _progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _check_out(out, inputs, what: str) -> None:
    """Refuse an output that is, or holds, one of the inputs (see io.files.check_output)."""
    from .io import dataset_inputs
    from .io.files import check_output

    check_output(out, [q for i in inputs if i and Path(str(i)).exists() for q in dataset_inputs(i)], what=what)


def _strict_exit(result, strict: bool) -> None:
    if strict and any(p["severity"] == "error" for p in result.problems):
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="yolotools")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """yolotools: convert, check and train YOLO-family detectors on your own data.

    Boxes are held internally as continuous pixel coordinates of the original
    image (the image covers [0, W] x [0, H]); VOC's 1-based pixels and YOLO's
    normalised centres are converted at the file boundary only.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


# ---------------------------------------------------------------- convert


@main.group()
def convert() -> None:
    """Convert labels: VOC XML or COCO JSON -> YOLO txt, YOLO -> COCO JSON.

    Outputs (in OUT): labels/<image id>.txt, <split>.txt (image list), data.yaml
    (Ultralytics), classes.names (Darknet) and <split>.yolotools.json, a sidecar
    that keeps difficult/crowd flags, left-out boxes and image sizes, so nothing
    is lost. Inputs are never modified; every output file is written atomically.
    """


@convert.command("voc")
@click.argument("roots", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="trainval", show_default=True, help="ImageSets/Main/<split>.txt list, or 'all' for every XML.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--skip-difficult", is_flag=True, help="Leave difficult objects out of the txt (kept in the sidecar), as Darknet does.")
@click.option("--classes", default=None, help="Class order: a file with one name per line, or comma-separated names. Default: the 20 VOC classes if all names are VOC ones, else sorted names.")
@click.option("--images", "images_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True, help="Put the images under OUT/images as symlinks, copies, or not at all.")
@click.option("--workers", type=int, default=None, help="Processes for parsing (default: all cores).")
@click.option("--decimals", type=click.IntRange(1, 17), default=6, show_default=True, help="Decimals in the YOLO txt (6 bounds the round-trip error by 5e-7 x image size).")
@click.option("--strict", is_flag=True, help="Fail on the first invalid box or file instead of skipping and counting it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def convert_voc_cmd(roots, split, out, convention, skip_difficult, classes, images_mode, workers, decimals, strict, as_json, quiet):
    """Pascal VOC XML (one or more VOCdevkit/VOC20xx ROOTS) -> YOLO txt."""
    from .convert import convert_voc

    rep = convert_voc(
        list(roots), out, split=split, convention=convention, skip_difficult=skip_difficult,
        classes=_parse_classes(classes), strict=strict, images=images_mode, workers=workers,
        progress=_progress_enabled(quiet), decimals=decimals,
    )
    _emit(rep, as_json)
    _strict_exit(rep, strict)


def _parse_classes(spec: str | None):
    if spec is None:
        return None
    from pathlib import Path

    p = Path(spec)
    if p.is_file():
        names = [l.strip() for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise YoloToolsError(f"--classes {spec!r}: no class names")
    return names


@convert.command("coco")
@click.argument("annotations", type=click.Path(exists=True, dir_okay=False))
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False), default=None, help="Folder that file_name is relative to.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--split", default=None, help="Split name for the list/sidecar files (default: from the JSON name, e.g. val2017).")
@click.option("--class-order", type=click.Choice(["id", "file", "name"]), default="id", show_default=True, help="Order of the contiguous class indices: ascending category id (COCO 1..90 -> 0..79), file order, or by name.")
@click.option("--crowd", type=click.Choice(["skip", "keep"]), default="skip", show_default=True, help="Crowd boxes in the txt: skip (kept in the sidecar, as Ultralytics' converter) or keep.")
@click.option("--check-images", is_flag=True, help="Read every image header and compare its size with the JSON.")
@click.option("--decimals", type=click.IntRange(1, 17), default=6, show_default=True, help="Decimals in the YOLO txt (6 bounds the round-trip error by 5e-7 x image size).")
@click.option("--link", "link_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True, help="Images under OUT/images as symlinks, copies, or not at all.")
@click.option("--strict", is_flag=True, help="Fail on the first invalid entry instead of skipping and counting it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def convert_coco_cmd(annotations, images, out, split, class_order, crowd, check_images, decimals, link_mode, strict, as_json, quiet):
    """COCO instances JSON -> YOLO txt (bbox [x, y, w, h] with top-left corner)."""
    from .convert import convert_coco

    rep = convert_coco(
        annotations, out, images=images, split=split, class_order=class_order, crowd=crowd, strict=strict,
        check_images=check_images, link_images=link_mode, progress=_progress_enabled(quiet), decimals=decimals,
    )
    _emit(rep, as_json)
    _strict_exit(rep, strict)


@convert.command("yolo")
@click.argument("source", type=click.Path(exists=True))
@click.option("--to", "to", type=click.Choice(["coco"]), default="coco", show_default=True, help="Target format.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Output JSON file.")
@click.option("--split", default=None, help="data.yaml split (train/val/test; default val, else train).")
@click.option("--names", default=None, help="Class names (file or comma-separated) when SOURCE is a labels folder.")
@click.option("--images", type=click.Path(exists=True, file_okay=False), default=None, help="Image folder when SOURCE is a labels folder.")
@click.option("--strict", is_flag=True, help="Fail on the first invalid label line.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def convert_yolo_cmd(source, to, out, split, names, images, strict, as_json, quiet):
    """YOLO dataset (data.yaml or labels folder) -> COCO instances JSON.

    Image sizes come from image headers (never decoded), else from the
    yolotools sidecar; crowd/difficult boxes come back from the sidecar."""
    from .convert import convert_yolo_to_coco

    rep = convert_yolo_to_coco(source, out, split=split, names=_parse_classes(names), images=images, strict=strict,
                               progress=_progress_enabled(quiet))
    _emit(rep, as_json)
    _strict_exit(rep, strict)


# ---------------------------------------------------------------- kmeans


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("-k", "k", type=int, default=9, show_default=True, help="Number of anchors (9 for YOLOv3, 5 for YOLOv2).")
@click.option("--split", default=None, help="VOC ImageSets split (default trainval) or data.yaml split (default val, else train).")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--normalized", "mode", flag_value="normalized", help="Cluster w/W, h/H (YOLOv2 paper).")
@click.option("--img-size", "img_size", type=int, default=None, help="Letterbox to this size (long side), pixels, as Ultralytics. Default mode, 416.")
@click.option("--stretch", type=int, default=None, help="Stretch every image to SIZE x SIZE (Darknet's calc_anchors), pixels.")
@click.option("--grid", type=int, default=None, help="Give anchors in grid cells of a GRID x GRID output (YOLOv2 [region], e.g. 13).")
@click.option("--update", type=click.Choice(["auto", "mean", "median"]), default="auto", show_default=True, help="Cluster centre update; median = k-medians (reproduces published VOC numbers); auto runs both.")
@click.option("--restarts", type=int, default=12, show_default=True, help="k-means++ restarts.")
@click.option("--no-refine", is_flag=True, help="Skip the average-IoU refinement and mutation search.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--anchor-t", type=float, default=4.0, show_default=True, help="Side-ratio threshold for best-possible recall (Ultralytics anchor_t).")
@click.option("--min-px", type=float, default=2.0, show_default=True, help="Drop boxes with a side under this many pixels at the training size (counted).")
@click.option("--evaluate", default=None, help='Score these anchors ("10,13, 16,30, ...", in the output units) instead of clustering.')
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write a scatter plot of boxes and anchors (PNG).")
@click.option("--heads", type=int, default=None, help="[yolo] layers for the mask lines (default: 2 for -k 6 as YOLOv3-tiny, else 3).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON (keys anchors, avg_iou, bpr, ...).")
@_user_errors
def kmeans(data, k, split, convention, mode, img_size, stretch, grid, update, restarts, no_refine, seed, anchor_t, min_px, evaluate, plot, heads, as_json):
    """IoU-distance k-means anchors for DATA (VOC root, COCO JSON, YOLO data.yaml or labels folder).

    Prints anchors sorted by area, average IoU, best-possible recall, boxes per
    anchor and ready-to-paste Darknet (anchors/mask) and Ultralytics lines."""
    from .anchors import run_kmeans

    if sum(x is not None for x in (mode, img_size, stretch)) > 1:
        raise click.UsageError("choose one of --normalized, --img-size, --stretch")
    if plot:
        _check_out(plot, [data], "--plot")
    size = img_size or stretch or 416
    mode = mode or ("stretch" if stretch else "img-size")
    res = run_kmeans(
        data, k, split=split, convention=convention, mode=mode, size=size, grid=grid, evaluate=evaluate, min_px=min_px,
        anchor_t=anchor_t, plot=plot, heads=heads, seed=seed, restarts=restarts, update=update, refine=not no_refine,
    )
    _emit(res, as_json)


# ---------------------------------------------------------------- eval


@main.command("eval")
@click.option("--gt", "gt", required=True, type=click.Path(exists=True), help="Ground truth: YOLO data.yaml or labels folder, VOC root, or COCO JSON.")
@click.option("--pred", "pred", required=True, type=click.Path(exists=True), help="Predictions: COCO results JSON, or a folder of YOLO txt with a confidence column.")
@click.option("--metric", type=click.Choice(["coco", "voc07", "voc12"]), default="coco", show_default=True, help="coco: the 12 COCOeval numbers (identical to pycocotools); voc07: 11-point AP; voc12: all-point AP.")
@click.option("--iou", type=float, default=0.5, show_default=True, help="IoU threshold for voc07/voc12.")
@click.option("--pixels", type=click.Choice(["continuous", "inclusive"]), default="continuous", show_default=True, help="inclusive: the VOC devkit's +1 pixel areas in the IoU.")
@click.option("--split", default=None, help="VOC ImageSets split or data.yaml split of the ground truth.")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--plots", type=click.Path(file_okay=False), default=None, help="Write PR curves and a confusion matrix here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl for coco).")
@_user_errors
def eval_cmd(gt, pred, metric, iou, pixels, split, convention, plots, as_json):
    """Evaluate predictions: COCO mAP@[.5:.95] as pycocotools, or VOC AP as the devkit."""
    from .eval import run_eval

    if plots:
        _check_out(plots, [gt, pred], "--plots")
    res = run_eval(gt, pred, metric=metric, iou=iou, split=split, convention=convention, inclusive=pixels == "inclusive", plots=plots)
    _emit(res, as_json)


# ---------------------------------------------------------------- audit


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--against", type=click.Path(exists=True), default=None, help="A second dataset or split: measure drift (and diff shared images).")
@click.option("--split", default=None, help="Split of DATA (VOC ImageSets or data.yaml key).")
@click.option("--split-b", default=None, help="Split of --against (default: --split).")
@click.option("--anchors", default=None, help='Anchors to test on B ("w,h, ...", pixels at 640); default: k-means on A.')
@click.option("--html", "html", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report with plots.")
@click.option("--decode", is_flag=True, help="Decode every image (default: headers and last bytes only).")
@click.option("--strict", is_flag=True, help="Exit 1 when validation finds errors (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Every number as JSON.")
@_user_errors
def audit(data, against, split, split_b, anchors, html, decode, strict, as_json):
    """Validate DATA (file, line, severity, suggested fix for every finding), or
    measure label drift of --against relative to DATA."""
    from .audit import run_audit

    anc = None
    if anchors:
        from .anchors import parse_anchor_list

        anc = parse_anchor_list(anchors)
    if html:
        _check_out(html, [data, against], "--html")
    rep = run_audit(data, against=against, split=split, split_b=split_b, anchors=anc, html=html, decode=decode)
    _emit(rep, as_json)
    if strict and rep.validation.errors:
        sys.exit(1)


# ---------------------------------------------------------------- augment


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--recipe", type=click.Choice(["letterbox", "darknet", "ultralytics"]), default="ultralytics", show_default=True,
              help="letterbox: deterministic resize+pad; darknet: jitter/flip/HSV as Darknet YOLOv3; ultralytics: mosaic+affine+HSV+flip.")
@click.option("--n", "n", type=int, default=16, show_default=True, help="Augmented images to write.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--img-size", type=int, default=416, show_default=True)
@click.option("--split", default=None, help="VOC ImageSets split or data.yaml split.")
@click.option("--mixup", type=float, default=0.0, show_default=True, help="ultralytics: probability of mixing a second mosaic in.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def augment(data, recipe, n, out, seed, img_size, split, mixup, as_json, quiet):
    """Write N augmented images with YOLO labels to OUT, plus OUT/preview.jpg with the boxes drawn."""
    from .augment import AugmentConfig, run_augment

    res = run_augment(data, out, recipe=recipe, n=n, seed=seed, img_size=img_size, split=split, progress=_progress_enabled(quiet),
                      config=AugmentConfig(mixup=mixup))
    _emit(res, as_json)


# ---------------------------------------------------------------- model and detect

_CLASSES_HELP = "Rewrite every [yolo]/[region] head (and the convolution before it) for N classes."
_ANCHORS_HELP = 'Rewrite the head anchors ("w,h, w,h, ...", e.g. from yolotools kmeans); masks follow for a new count.'


def _anchors_opt(text):
    if text is None:
        return None
    from .anchors import parse_anchor_list

    return parse_anchor_list(text).reshape(-1).tolist()


@main.group()
def model() -> None:
    """Darknet networks: summary, fresh weights, .weights <-> .pt."""


@model.command("summary")
@click.argument("cfg")
@click.option("--classes", type=int, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@click.option("--img-size", type=int, default=None, help="Input size for the shapes (default: the cfg's).")
@click.option("--json", "as_json", is_flag=True, help="JSON with keys parameters (trainable) and darknet_values (floats in a .weights file).")
@_user_errors
def model_summary_cmd(cfg, classes, anchors, img_size, as_json):
    """Layer table and counts for CFG (a .cfg file, or yolov3 / yolov3-spp / yolov3-tiny / yolov2)."""
    from .model import load_network, model_summary

    net = load_network(cfg, classes=classes, anchors=_anchors_opt(anchors))
    res = model_summary(net, input_hw=(img_size, img_size) if img_size else None)
    _emit(res, as_json)


@model.command("init")
@click.argument("cfg")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Output .weights (or .pt).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--classes", type=int, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@_user_errors
def model_init_cmd(cfg, out, seed, classes, anchors):
    """A freshly initialised network in Darknet format (or a .pt checkpoint)."""
    import torch

    from .model import load_network, save_checkpoint
    from .model.weights import save_darknet_weights

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
@click.option("--classes", type=int, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@_user_errors
def model_convert_cmd(src, dst, cfg, classes, anchors):
    """Convert SRC to DST between Darknet .weights and a PyTorch .pt checkpoint (lossless, header kept)."""
    from .model import load_checkpoint, load_network, save_checkpoint
    from .model.weights import load_darknet_weights, save_darknet_weights

    _check_out(dst, [src, cfg], "DST")
    if src.endswith(".pt") and dst.endswith(".weights"):
        net, ckpt = load_checkpoint(src)
        h = ckpt.get("header") or [0, 2, 0, 0]
        n = save_darknet_weights(net, dst, seen=int(h[3]), header=tuple(h[:3]))
        cfg_out = Path(dst).with_suffix(".cfg")
        if not cfg_out.exists():  # Darknet needs the cfg with this model's classes and anchors
            from .io.files import atomic_write_text
            from .model.cfg import cfg_text

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
@click.option("--classes", type=int, default=None, help=_CLASSES_HELP)
@click.option("--anchors", default=None, help=_ANCHORS_HELP)
@click.option("--img-size", type=int, default=None, help="Network input size (default: the cfg's).")
@click.option("--conf", type=float, default=0.25, show_default=True, help="Score threshold (objectness x class probability).")
@click.option("--iou", type=float, default=0.45, show_default=True, help="NMS IoU threshold (class-aware).")
@click.option("--max-det", type=int, default=300, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--coco80", is_flag=True, help="Write COCO category ids (1..90) for 80-class models in the results JSON.")
@click.option("--no-draw", is_flag=True, help="Do not write images with boxes.")
@click.option("--json", "as_json", is_flag=True)
@_user_errors
def detect(images, cfg, weights, out, names, classes, anchors, img_size, conf, iou, max_det, device, coco80, no_draw, as_json):
    """Detect objects in IMAGES (files, folders or .txt image lists): OUT/labels/*.txt (YOLO + conf),
    OUT/detections.json (COCO results), OUT/images/*.jpg (boxes drawn)."""
    from .model.detect import run_detect

    res = run_detect(cfg, weights, images, out, names=_parse_classes(names) if names else None, classes=classes,
                     anchors=_anchors_opt(anchors), img_size=img_size, conf=conf, iou=iou, max_det=max_det, device=device,
                     coco80=coco80, draw=not no_draw)
    _emit(res, as_json)


# ---------------------------------------------------------------- train


def _load_config(ctx, param, value):
    """``--config FILE``: a YAML of option names (as on the command line, with
    dashes or underscores) that become the defaults; flags given on the command
    line still win."""
    if value is None:
        return None
    from .io.files import load_yaml

    try:
        doc = load_yaml(value, what="config") or {}
    except YoloToolsError as e:
        raise click.BadParameter(str(e)) from None
    if not isinstance(doc, dict):
        raise click.BadParameter(f"{value}: expected a mapping of option: value")
    names = {p.name: p for p in ctx.command.params}
    alias = {o.lstrip("-").replace("-", "_"): p.name for p in ctx.command.params for o in p.opts if o.startswith("--")}
    dm = {}
    for k, v in doc.items():
        key = str(k).replace("-", "_")
        key = alias.get(key, key)
        if key not in names or key == "config":
            raise click.BadParameter(f"{value}: unknown option {k!r} (known: {', '.join(sorted(alias))})")
        if key in ("data", "cfg_path", "weights") and isinstance(v, str) and not Path(v).exists() and (Path(value).parent / v).exists():
            v = str(Path(value).parent / v)  # paths: relative to the working directory first, then to the config file
        dm[key] = v
    ctx.default_map = {**(ctx.default_map or {}), **dm}
    return value


@main.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False), callback=_load_config, is_eager=True, expose_value=False,
              help="YAML file of option defaults (e.g. recipes/voc416.yaml); command-line flags override it.")
@click.option("--data", "data", default=None, type=click.Path(exists=True), help="data.yaml (train and val splits), or any dataset the readers load.")
@click.option("--model", "model_name", type=click.Choice(["yolov3", "yolov3-tiny", "yolov3-spp", "yolov2", "shapes-tiny"]), default="yolov3-tiny", show_default=True)
@click.option("--cfg", "cfg_path", default=None, help="A Darknet .cfg instead of --model (heads are resized to the dataset's classes).")
@click.option("--weights", default=None, type=click.Path(exists=True, dir_okay=False), help="Starting weights: .weights (full or a backbone prefix) or .pt.")
@click.option("--num-layers", type=int, default=None, help="Load only layers 0..N-1 from --weights (74 for darknet53.conv.74).")
@click.option("--anchors", default=None, help='"w,h, ..." or "auto" (our k-means on the training labels).')
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--img-size", type=int, default=416, show_default=True, help="Training size (multiple of 32).")
@click.option("--batch", type=int, default=16, show_default=True, help="Images per step and per process.")
@click.option("--nominal-batch", type=int, default=64, show_default=True, help="Gradient accumulation up to this batch (all processes together).")
@click.option("--optimizer", type=click.Choice(["sgd", "adamw"]), default="sgd", show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True)
@click.option("--momentum", type=float, default=0.937, show_default=True, help="SGD momentum / AdamW beta1.")
@click.option("--weight-decay", type=float, default=5e-4, show_default=True, help="At the nominal batch; not applied to biases and BN.")
@click.option("--warmup-epochs", type=float, default=3.0, show_default=True, help="Linear learning-rate warm-up (Darknet burn_in).")
@click.option("--schedule", type=click.Choice(["cosine", "step"]), default="cosine", show_default=True, help="step: x0.1 at 80% and 90% of the epochs (Darknet steps).")
@click.option("--box-loss", type=click.Choice(["ciou", "giou", "darknet"]), default="ciou", show_default=True)
@click.option("--recipe", type=click.Choice(["ultralytics", "darknet", "letterbox"]), default="ultralytics", show_default=True, help="Augmentation recipe.")
@click.option("--multi-scale", is_flag=True, help="A new size per step: multiples of 32 in [0.75, 1.5] x --img-size (320-608 at 416).")
@click.option("--amp", type=click.Choice(["auto", "bf16", "fp16", "off"]), default="auto", show_default=True, help="Mixed precision on CUDA (auto: bf16 where supported).")
@click.option("--channels-last", is_flag=True, help="NHWC memory format (faster convolutions with AMP on recent GPUs).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the network (slow first epoch).")
@click.option("--eval-every", type=int, default=1, show_default=True, help="Evaluate on val every N epochs (and after the last).")
@click.option("--workers", type=int, default=-1, show_default=True, help="Data loader processes (spawned once per run); -1: 0 on CPU, min(8, cores-1) on CUDA.")
@click.option("--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda, cuda:1; under torchrun each process takes cuda:LOCAL_RANK.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out", default="runs/train", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", "resume", default=None, is_flag=False, flag_value="", metavar="[RUN_DIR]",
              help="Continue RUN_DIR/last.pt (or OUT's) after a kill: network, data path and schedule come from the checkpoint; "
                   "--device/--workers/--eval-every may change.")
@click.option("--strict", is_flag=True, help="Fail if any image or label file has errors, instead of leaving it out and counting it.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def train(data, model_name, cfg_path, weights, num_layers, anchors, epochs, img_size, batch, nominal_batch, optimizer, lr, momentum, weight_decay,
          warmup_epochs, schedule, box_loss, recipe, multi_scale, amp, channels_last, compile_, eval_every, workers, device, seed, out, resume, strict,
          as_json, quiet):
    """Train a YOLO on DATA; writes OUT/results.csv, results.png, last.pt, best.pt.

    More than one GPU: the same command under ``torchrun --nproc_per_node N -m yolotools.cli train ...``."""
    import os

    from .train.trainer import run_train

    rank0 = os.environ.get("RANK", "0") == "0"
    if not quiet and rank0:
        logging.getLogger("yolotools.train").setLevel(logging.INFO)  # a line per epoch
    kw = dict(epochs=epochs, img_size=img_size, batch=batch, nominal_batch=nominal_batch, optimizer=optimizer, lr=lr, momentum=momentum,
              weight_decay=weight_decay, warmup_epochs=warmup_epochs, schedule=schedule, box_loss=box_loss, recipe=recipe,
              multi_scale=multi_scale, amp=amp, channels_last=channels_last, compile=compile_, eval_every=eval_every, workers=workers,
              device=device, seed=seed)
    if resume is not None:
        out = resume or out
        ctx = click.get_current_context()
        given = {"compile": "compile_"}
        kw = {k: v for k, v in kw.items() if ctx.get_parameter_source(given.get(k, k)) != click.core.ParameterSource.DEFAULT}
    elif data is None:
        raise click.UsageError("--data is required (unless --resume)")
    res = run_train(data, model=model_name, cfg_path=cfg_path, weights=weights, num_layers=num_layers, anchors=anchors, out=out,
                    resume=resume is not None, progress=_progress_enabled(quiet), strict=strict, **kw)
    if rank0:
        _emit(res, as_json)


# ---------------------------------------------------------------- demo


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--train", "n_train", type=int, default=160, show_default=True, help="Training images.")
@click.option("--val", "n_val", type=int, default=40, show_default=True, help="Validation images.")
@click.option("--size", type=int, default=160, show_default=True, help="Image side, pixels.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_user_errors
def shapes(out, n_train, n_val, size, seed, as_json):
    """Generate the shapes dataset (circles, squares, triangles with exact boxes) as
    VOC XML and COCO JSON under OUT: something to try every command on."""
    from .synth import generate_shapes

    _emit(generate_shapes(out, n_train=n_train, n_val=n_val, image_hw=(size, size), seed=seed).summary(), as_json)




@main.command()
@click.option("--out", "out", default="demo_out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--fast", is_flag=True, help="Smallest settings (used by the test suite).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_user_errors
def demo(out, fast, seed, as_json):
    """Run the main job end to end on a generated dataset (no download)."""
    from .demo import run_demo

    res = run_demo(out, fast=fast, seed=seed)
    _emit(res, as_json)


if __name__ == "__main__":  # pragma: no cover
    main()
