"""``yolotools convert``: any format -> YOLO, YOLO -> any writable format, ``--list``."""

from __future__ import annotations


from pathlib import Path

import click

from .common import POS, VOC_CONVENTION_HELP, _emit, _parse_classes, _progress_enabled, _strict_exit, _user_errors, main

# ---------------------------------------------------------------- convert


@main.group(invoke_without_command=True)
@click.option("--list", "list_formats", is_flag=True, help="List the formats: read, write, pixel convention, what each cannot hold.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print the table as JSON.")
@click.pass_context
def convert(ctx, list_formats, as_json) -> None:
    """Convert labels: VOC, COCO, CVAT, Label Studio, LabelMe, Open Images,
    createML, KITTI, TFOD, VIA -> YOLO txt (`convert FORMAT SOURCE --out OUT`),
    and YOLO -> any of them (`convert yolo DATA.yaml --to FORMAT --out OUT`).

    Outputs (in OUT): labels/<image id>.txt, <split>.txt (image list), data.yaml
    (Ultralytics), classes.names (Darknet) and <split>.yolotools.json, a sidecar
    that keeps difficult/crowd flags, attributes, left-out boxes and image sizes,
    so nothing is lost. Inputs are never modified; every output file is written
    atomically. `convert --list` shows every format.
    """
    if list_formats:
        _print_formats(as_json)
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    # a conversion is a bounded job that makes one object per image and box and no cycles to reclaim: the cyclic
    # collector only costs it time (15-30 ms on VOC2007's 9,963 images); reference counting still frees everything
    import gc

    gc.disable()


def _print_formats(as_json: bool) -> None:
    import json

    from ..io.formats import FORMATS

    rows = [{"format": f.name, "name": f.title, "read": f.can_read, "write": f.can_write, "target": f.target,
             "pixels": f.convention, "lost": f.lost, "aliases": list(f.aliases)} for f in FORMATS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    w = max(len(r["format"]) for r in rows)
    click.echo(f"{'FORMAT':<{w}}  READ  WRITE  {'SOURCE/OUT':<10}  WHAT IS LOST (kept in the YOLO sidecar when reading)")
    for r in rows:
        click.echo(f"{r['format']:<{w}}  {'yes' if r['read'] else 'no':<4}  {'yes' if r['write'] else 'no':<5}  {r['target']:<10}  {r['lost']}")
    click.echo("\npixel conventions:")
    for r in rows:
        click.echo(f"  {r['format']:<{w}}  {r['pixels']}")


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


_FORMAT_OPTIONS = {
    "openimages": [click.option("--class-descriptions", type=click.Path(exists=True, dir_okay=False), default=None,
                                help="Open Images class-descriptions CSV (MID,name) when LabelName holds MIDs (/m/...).")],
    "tfod": [click.option("--units", type=click.Choice(["auto", "pixels", "normalized"]), default="auto", show_default=True,
                          help="Corner units; auto: normalised when every corner is within 0-1 (said in the output).")],
    "via": [click.option("--label-key", default=None, help="Region attribute that holds the class (default: label, class, name or type).")],
}


def _reader_command(fmt):
    from ..io.formats import FORMATS

    f = FORMATS[fmt]

    def cmd(source, images, out, split, classes, images_mode, decimals, strict, as_json, quiet, **options):
        from ..convert import convert_format

        rep = convert_format(fmt, source, out, images=images, split=split, classes=_parse_classes(classes), strict=strict,
                             image_mode=images_mode, progress=_progress_enabled(quiet), decimals=decimals, **options)
        _emit(rep, as_json)
        _strict_exit(rep, strict)

    cmd.__doc__ = (f"{f.title} ({'a folder' if f.target == 'folder' else 'a file'}) -> YOLO txt.\n\n"
                   f"Pixels: {f.convention}. Not in this format: {f.lost}.")
    for deco in reversed([
        click.argument("source", type=click.Path(exists=True, dir_okay=f.target == "folder", file_okay=f.target == "file")),
        click.option("--images", type=click.Path(exists=True, file_okay=False), default=None,
                     help="Folder the image names are relative to: images are linked from it and sizes read from their headers "
                          "where the format has none."),
        click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder."),
        click.option("--split", default="train", show_default=True, help="Split name of the output (list, sidecar, data.yaml key)."),
        click.option("--classes", default=None, help="Class order: a file with one name per line, or comma-separated names "
                     "(default: the format's own label list, else sorted names). Other names are errors."),
        click.option("--image-mode", "images_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True,
                     help="Put the images under OUT/images as symlinks, copies, or not at all."),
        *_FORMAT_OPTIONS.get(fmt, []),
        _to_yolo_options,
        _user_errors,
    ]):
        cmd = deco(cmd)
    return cmd


def _register_readers():
    from ..io.formats import FORMATS

    for name, f in FORMATS.items():
        if name in ("voc", "coco", "yolo") or not f.can_read:
            continue
        c = _reader_command(name)
        convert.command(name)(c)
        for alias in f.aliases:
            convert.add_command(convert.commands[name], alias)


_register_readers()


@convert.command("yolo")
@click.argument("source", type=click.Path(exists=True))
@click.option("--to", "to", default="coco", show_default=True,
              help="Target format: coco, voc, cvat, labelstudio, labelme, openimages, createml, kitti, tfod, via.")
@click.option("--out", "out", required=True, type=click.Path(), help="Output file (coco, cvat, labelstudio, openimages, createml, tfod, via) "
              "or folder (voc, labelme, kitti).")
@click.option("--split", default=None, help="data.yaml split (train/val/test; default val, else train).")
@click.option("--names", default=None, help="Class names (file or comma-separated) when SOURCE is a labels folder.")
@click.option("--images", type=click.Path(exists=True, file_okay=False), default=None, help="Image folder when SOURCE is a labels folder.")
@click.option("--convention", type=click.Choice(["exact", "darknet", "raw"]), default="exact", show_default=True,
              help="--to voc: pixel convention of the written XML (exact: 1-based inclusive, as the VOC devkit).")
@click.option("--strict", is_flag=True, help="Fail on the first invalid label line.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def convert_yolo_cmd(source, to, out, split, names, images, convention, strict, as_json, quiet):
    """YOLO dataset (data.yaml or labels folder) -> COCO JSON or any format of `convert --list`.

    Image sizes come from image headers (never decoded), else from the
    yolotools sidecar; difficult/crowd flags and attributes come back from the
    sidecar. What the target format cannot hold is counted in the summary."""
    from ..convert import convert_yolo_to
    from ..io.formats import get_format

    f = get_format(to)
    if f.target == "folder" and Path(out).is_file():
        raise click.UsageError(f"--to {f.name} writes a folder; --out {out} is a file")
    if f.target == "file" and Path(out).is_dir():
        raise click.UsageError(f"--to {f.name} writes one file; --out {out} is a folder")
    rep = convert_yolo_to(f.name, source, out, split=split, names=_parse_classes(names), images=images, strict=strict,
                          progress=_progress_enabled(quiet), convention=convention)
    _emit(rep, as_json)
    _strict_exit(rep, strict)
