"""The dataset operations: ``split``, ``merge``, ``remap``, ``sample``.

Each reads any supported format (`convert --list`) and writes a YOLO dataset
(labels, lists, data.yaml, sidecars) into --out, printing per-split class
counts (images/boxes)."""

from __future__ import annotations

import click

from .common import POS, _check_out, _emit, _progress_enabled, _user_errors, main


def _source_options(fn):
    for deco in reversed((
        click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder (a YOLO dataset)."),
        click.option("--format", "fmt", default=None, help="Input format (default: from the path; see `convert --list`)."),
        click.option("--images", type=click.Path(exists=True, file_okay=False), default=None,
                     help="Image folder, for formats whose labels name images relative to one."),
        click.option("--image-mode", "image_mode", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True,
                     help="Put the images under OUT/images as symlinks, copies, or not at all."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    )):
        fn = deco(fn)
    return fn


def _ratios(spec: str) -> list[float]:
    try:
        r = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{spec!r}: comma-separated numbers, e.g. 0.8,0.1,0.1", param_hint="--ratios") from None
    if not r or any(not (0 <= x < float("inf")) for x in r) or sum(r) <= 0:
        raise click.BadParameter(f"{spec!r}: non-negative numbers with a positive sum", param_hint="--ratios")
    return r


@main.command("split")
@click.argument("data", type=click.Path(exists=True))
@click.option("--ratios", default="0.8,0.1,0.1", show_default=True, help="Split fractions (train,val[,test]); normalised to sum 1.")
@click.option("--names", default=None, help="Split names, comma-separated (default train,val,test).")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same split on any machine.")
@click.option("--stratify", is_flag=True, help="Stratify by class presence: rare classes land in every split.")
@click.option("--split", "in_split", default=None, help="Read only this split of DATA (default: every split, pooled).")
@_source_options
@_user_errors
def split_cmd(data, ratios, names, seed, stratify, in_split, out, fmt, images, image_mode, as_json, quiet):
    """Split DATA (any format; all its splits pooled) into train/val/test, deterministically."""
    from ..dataset_ops import run_split

    _check_out(out, [data, images], "--out")
    rep = run_split(data, out, _ratios(ratios), seed=seed, stratify=stratify, names=names.split(",") if names else None,
                    fmt=fmt, split=in_split, images=images, image_mode=image_mode, progress=_progress_enabled(quiet))
    _emit(rep, as_json)


@main.command("merge")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--map", "mapping", default=None, help='Rename classes before the union: "old=new,..." (old=- drops a class).')
@click.option("--prefix", is_flag=True, help="Prefix image ids with their dataset's name (ids that clash are refused without it).")
@_source_options
@_user_errors
def merge_cmd(datasets, mapping, prefix, out, fmt, images, image_mode, as_json, quiet):
    """Merge DATASETS (any formats), split by split; classes joined by name."""
    from ..dataset_ops import run_merge

    _check_out(out, [*datasets, images], "--out")
    rep = run_merge(list(datasets), out, mapping=mapping, prefix=prefix, fmt=fmt, images=images, image_mode=image_mode,
                    progress=_progress_enabled(quiet))
    _emit(rep, as_json)


@main.command("remap")
@click.argument("data", type=click.Path(exists=True))
@click.option("--map", "mapping", required=True, help='"car=vehicle,bus=vehicle,bicycle=-": rename, merge (two names to one), drop (-).')
@click.option("--split", "in_split", default=None, help="Only this split of DATA (default: every split).")
@_source_options
@_user_errors
def remap_cmd(data, mapping, in_split, out, fmt, images, image_mode, as_json, quiet):
    """Rename, merge or drop classes of DATA (any format) into a new YOLO dataset."""
    from ..dataset_ops import run_remap

    _check_out(out, [data, images], "--out")
    rep = run_remap(data, out, mapping, fmt=fmt, split=in_split, images=images, image_mode=image_mode,
                    progress=_progress_enabled(quiet))
    _emit(rep, as_json)


@main.command("sample")
@click.argument("data", type=click.Path(exists=True))
@click.option("-n", "n", type=POS, required=True, help="Images to draw (with --by-class: images per class, at least).")
@click.option("--by-class", is_flag=True, help="Every class in at least N images of the sample (rarest first).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split", "in_split", default=None, help="Draw from this split only (default: every split, each image keeps its split).")
@_source_options
@_user_errors
def sample_cmd(data, n, by_class, seed, in_split, out, fmt, images, image_mode, as_json, quiet):
    """Draw N images of DATA (any format), seeded, into a new YOLO dataset."""
    from ..dataset_ops import run_sample

    _check_out(out, [data, images], "--out")
    rep = run_sample(data, out, n, seed=seed, by_class=by_class, fmt=fmt, split=in_split, images=images, image_mode=image_mode,
                     progress=_progress_enabled(quiet))
    _emit(rep, as_json)
