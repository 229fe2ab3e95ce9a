"""The data commands: ``kmeans``, ``eval``, ``audit``, ``augment``."""

from __future__ import annotations

import sys

import click

from .common import Finite, POS, SIZE, UNIT, VOC_CONVENTION_HELP, _check_out, _emit, _progress_enabled, _user_errors, main

# ---------------------------------------------------------------- kmeans


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("-k", "k", type=click.IntRange(1, 1000), default=9, show_default=True, help="Number of anchors (9 for YOLOv3, 5 for YOLOv2).")
@click.option("--split", default=None, help="VOC ImageSets split (default trainval) or data.yaml split (default val, else train).")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--normalized", "mode", flag_value="normalized", help="Cluster w/W, h/H (YOLOv2 paper).")
@click.option("--img-size", "img_size", type=SIZE, default=None, help="Letterbox to this size (long side), pixels, as Ultralytics. Default mode, 416.")
@click.option("--stretch", type=SIZE, default=None, help="Stretch every image to SIZE x SIZE (Darknet's calc_anchors), pixels.")
@click.option("--grid", type=POS, default=None, help="Give anchors in grid cells of a GRID x GRID output (YOLOv2 [region], e.g. 13).")
@click.option("--update", type=click.Choice(["auto", "mean", "median"]), default="auto", show_default=True, help="Cluster centre update; median = k-medians (reproduces published VOC numbers); auto runs both.")
@click.option("--restarts", type=POS, default=12, show_default=True, help="k-means++ restarts.")
@click.option("--no-refine", is_flag=True, help="Skip the average-IoU refinement and mutation search.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--anchor-t", type=Finite(1.0), default=4.0, show_default=True, help="Side-ratio threshold for best-possible recall (Ultralytics anchor_t).")
@click.option("--min-px", type=Finite(0.0), default=2.0, show_default=True, help="Drop boxes with a side under this many pixels at the training size (counted).")
@click.option("--evaluate", default=None, help='Score these anchors ("10,13, 16,30, ...", in the output units) instead of clustering.')
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write a scatter plot of boxes and anchors (PNG).")
@click.option("--heads", type=POS, default=None, help="[yolo] layers for the mask lines (default: 2 for -k 6 as YOLOv3-tiny, else 3).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON (keys anchors, avg_iou, bpr, ...).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def kmeans(data, k, split, convention, mode, img_size, stretch, grid, update, restarts, no_refine, seed, anchor_t, min_px, evaluate, plot, heads, as_json, quiet):
    """IoU-distance k-means anchors for DATA (VOC root, COCO JSON, YOLO data.yaml or labels folder).

    Prints anchors sorted by area, average IoU, best-possible recall, boxes per
    anchor and ready-to-paste Darknet (anchors/mask) and Ultralytics lines."""
    from ..anchors import run_kmeans

    if sum(x is not None for x in (mode, img_size, stretch)) > 1:
        raise click.UsageError("choose one of --normalized, --img-size, --stretch")
    if plot:
        _check_out(plot, [data], "--plot")
    size = img_size if img_size is not None else stretch if stretch is not None else 416
    mode = mode or ("stretch" if stretch else "img-size")
    res = run_kmeans(
        data, k, split=split, convention=convention, mode=mode, size=size, grid=grid, evaluate=evaluate, min_px=min_px,
        anchor_t=anchor_t, plot=plot, heads=heads, seed=seed, restarts=restarts, update=update, refine=not no_refine,
        progress=_progress_enabled(quiet),
    )
    _emit(res, as_json)


# ---------------------------------------------------------------- eval


@main.command("eval")
@click.option("--gt", "gt", required=True, type=click.Path(exists=True), help="Ground truth: YOLO data.yaml or labels folder, VOC root, or COCO JSON.")
@click.option("--pred", "pred", required=True, type=click.Path(exists=True), help="Predictions: COCO results JSON, or a folder of YOLO txt with a confidence column.")
@click.option("--metric", type=click.Choice(["coco", "voc07", "voc12"]), default="coco", show_default=True, help="coco: the 12 COCOeval numbers (identical to pycocotools); voc07: 11-point AP; voc12: all-point AP.")
@click.option("--iou", type=UNIT, default=0.5, show_default=True, help="IoU threshold for voc07/voc12.")
@click.option("--pixels", type=click.Choice(["continuous", "inclusive"]), default="continuous", show_default=True, help="inclusive: the VOC devkit's +1 pixel areas in the IoU.")
@click.option("--split", default=None, help="VOC ImageSets split or data.yaml split of the ground truth.")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--plots", type=click.Path(file_okay=False), default=None, help="Write PR curves and a confusion matrix here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl for coco).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def eval_cmd(gt, pred, metric, iou, pixels, split, convention, plots, as_json, quiet):
    """Evaluate predictions: COCO mAP@[.5:.95] as pycocotools, or VOC AP as the devkit."""
    from ..eval import run_eval

    if plots:
        _check_out(plots, [gt, pred], "--plots")
    res = run_eval(gt, pred, metric=metric, iou=iou, split=split, convention=convention, inclusive=pixels == "inclusive", plots=plots,
                   progress=_progress_enabled(quiet))
    _emit(res, as_json)


# ---------------------------------------------------------------- audit


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--against", type=click.Path(exists=True), default=None, help="A second dataset or split: measure drift (and diff shared images).")
@click.option("--split", default=None, help="Split of DATA (VOC ImageSets or data.yaml key).")
@click.option("--split-b", default=None, help="Split of --against (default: --split).")
@click.option("--anchors", default=None, help='Anchors to test on B ("w,h, ...", pixels at 640); default: k-means on A.')
@click.option("--html", "html", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report with plots.")
@click.option("--img-size", "train_size", type=SIZE, default=416, show_default=True,
              help="Training size the boxes are judged at (tiny boxes), pixels of the long side.")
@click.option("--decode", is_flag=True, help="Decode every image (default: headers and last bytes only).")
@click.option("--strict", is_flag=True, help="Exit 1 when validation finds errors (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Every number as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def audit(data, against, split, split_b, anchors, html, train_size, decode, strict, as_json, quiet):
    """Validate DATA (file, line, severity, suggested fix for every finding), or
    measure label drift of --against relative to DATA."""
    from ..audit import run_audit

    anc = None
    if anchors:
        from ..anchors import parse_anchor_list

        anc = parse_anchor_list(anchors)
    if html:
        _check_out(html, [data, against], "--html")
    rep = run_audit(data, against=against, split=split, split_b=split_b, anchors=anc, html=html, decode=decode,
                    progress=_progress_enabled(quiet), train_size=train_size)
    _emit(rep, as_json)
    if strict and rep.validation.errors:
        sys.exit(1)


# ---------------------------------------------------------------- augment


@main.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--recipe", type=click.Choice(["letterbox", "darknet", "ultralytics"]), default="ultralytics", show_default=True,
              help="letterbox: deterministic resize+pad; darknet: jitter/flip/HSV as Darknet YOLOv3; ultralytics: mosaic+affine+HSV+flip.")
@click.option("--n", "n", type=POS, default=16, show_default=True, help="Augmented images to write.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--img-size", type=SIZE, default=416, show_default=True)
@click.option("--split", default=None, help="VOC ImageSets split or data.yaml split.")
@click.option("--mixup", type=UNIT, default=0.0, show_default=True, help="ultralytics: probability of mixing a second mosaic in.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def augment(data, recipe, n, out, seed, img_size, split, mixup, as_json, quiet):
    """Write N augmented images with YOLO labels to OUT, plus OUT/preview.jpg with the boxes drawn."""
    from ..augment import AugmentConfig
    from ..augment_run import run_augment

    res = run_augment(data, out, recipe=recipe, n=n, seed=seed, img_size=img_size, split=split, progress=_progress_enabled(quiet),
                      config=AugmentConfig(mixup=mixup))
    _emit(res, as_json)
