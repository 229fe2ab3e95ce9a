"""``yolotools convert``: VOC / COCO -> YOLO, YOLO -> COCO."""

from __future__ import annotations


import click

from .common import POS, VOC_CONVENTION_HELP, _emit, _parse_classes, _progress_enabled, _strict_exit, _user_errors, main

# ---------------------------------------------------------------- convert


@main.group()
def convert() -> None:
    """Convert labels: VOC XML or COCO JSON -> YOLO txt, YOLO -> COCO JSON.

    Outputs (in OUT): labels/<image id>.txt, <split>.txt (image list), data.yaml
    (Ultralytics), classes.names (Darknet) and <split>.yolotools.json, a sidecar
    that keeps difficult/crowd flags, left-out boxes and image sizes, so nothing
    is lost. Inputs are never modified; every output file is written atomically.
    """


def _to_yolo_options(fn):
    """The options every reader -> YOLO conversion shares."""
    for deco in reversed((
        click.option("--decimals", type=click.IntRange(1, 17), default=6, show_default=True,
                     help="Decimals in the YOLO txt (6 bounds the round-trip error by 5e-7 x image size)."),
        click.option("--strict", is_flag=True, help="Fail on the first invalid box, entry or file instead of skipping and counting it."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    )):
        fn = deco(fn)
    return fn


@convert.command("voc")
@click.argument("roots", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="trainval", show_default=True, help="ImageSets/Main/<split>.txt list, or 'all' for every XML.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True, help=VOC_CONVENTION_HELP)
@click.option("--skip-difficult", is_flag=True, help="Leave difficult objects out of the txt (kept in the sidecar), as Darknet does.")
@click.option("--classes", default=None, help="Class order: a file with one name per line, or comma-separated names. Default: the 20 VOC classes if all names are VOC ones, else sorted names.")
@click.option("--image-mode", "--images", "images_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True,
              help="Put the images under OUT/images as symlinks, copies, or not at all (--images: the older spelling).")
@click.option("--workers", type=POS, default=None, help="Processes for parsing (default: all cores).")
@_to_yolo_options
@_user_errors
def convert_voc_cmd(roots, split, out, convention, skip_difficult, classes, images_mode, workers, decimals, strict, as_json, quiet):
    """Pascal VOC XML (one or more VOCdevkit/VOC20xx ROOTS) -> YOLO txt."""
    from ..convert import convert_voc

    rep = convert_voc(
        list(roots), out, split=split, convention=convention, skip_difficult=skip_difficult,
        classes=_parse_classes(classes), strict=strict, images=images_mode, workers=workers,
        progress=_progress_enabled(quiet), decimals=decimals,
    )
    _emit(rep, as_json)
    _strict_exit(rep, strict)


@convert.command("coco")
@click.argument("annotations", type=click.Path(exists=True, dir_okay=False))
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False), default=None, help="Folder that file_name is relative to.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--split", default=None, help="Split name for the list/sidecar files (default: from the JSON name, e.g. val2017).")
@click.option("--class-order", type=click.Choice(["id", "file", "name"]), default="id", show_default=True, help="Order of the contiguous class indices: ascending category id (COCO 1..90 -> 0..79), file order, or by name.")
@click.option("--crowd", type=click.Choice(["skip", "keep"]), default="skip", show_default=True, help="Crowd boxes in the txt: skip (kept in the sidecar, as Ultralytics' converter) or keep.")
@click.option("--check-images", is_flag=True, help="Read every image header and compare its size with the JSON.")
@click.option("--image-mode", "--link", "link_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True,
              help="Put the images under OUT/images as symlinks, copies, or not at all (--link: the older spelling).")
@_to_yolo_options
@_user_errors
def convert_coco_cmd(annotations, images, out, split, class_order, crowd, check_images, decimals, link_mode, strict, as_json, quiet):
    """COCO instances JSON -> YOLO txt (bbox [x, y, w, h] with top-left corner)."""
    from ..convert import convert_coco

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
    from ..convert import convert_yolo_to_coco

    rep = convert_yolo_to_coco(source, out, split=split, names=_parse_classes(names), images=images, strict=strict,
                               progress=_progress_enabled(quiet))
    _emit(rep, as_json)
    _strict_exit(rep, strict)
