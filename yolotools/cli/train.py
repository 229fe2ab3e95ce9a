"""``yolotools train`` (options generated from TrainConfig), ``shapes`` and ``demo``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..errors import YoloToolsError
from .common import POS, SIZE, _emit, _progress_enabled, _user_errors, main

# ---------------------------------------------------------------- train


def train_options():
    """The TrainConfig fields as options (declared once, in yolotools/train/config.py)."""
    from ..train.config import click_options

    return click_options()


def _load_config(ctx, param, value):
    """``--config FILE``: a YAML of option names (as on the command line, with
    dashes or underscores) that become the defaults; flags given on the command
    line still win."""
    if value is None:
        return None
    from ..io.files import load_yaml

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
@click.option("--num-layers", type=POS, default=None, help="Load only layers 0..N-1 from --weights (74 for darknet53.conv.74).")
@click.option("--anchors", default=None, help='"w,h, ..." or "auto" (our k-means on the training labels).')
@train_options()
@click.option("--out", "out", default="runs/train", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", "resume", default=None, is_flag=False, flag_value="", metavar="[RUN_DIR]",
              help="Continue RUN_DIR/last.pt (or OUT's) after a kill: network, data path and schedule come from the checkpoint; "
                   "--device/--workers/--eval-every may change.")
@click.option("--strict", is_flag=True, help="Fail if any image or label file has errors, instead of leaving it out and counting it.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def train(data, model_name, cfg_path, weights, num_layers, anchors, out, resume, strict, as_json, quiet, **kw):
    """Train a YOLO on DATA; writes OUT/results.csv, results.png, last.pt, best.pt.

    More than one GPU: the same command under ``torchrun --nproc_per_node N -m yolotools.cli train ...``."""
    import os

    from ..train.run import run_train

    rank0 = os.environ.get("RANK", "0") == "0"
    if not quiet and rank0:
        logging.getLogger("yolotools.train").setLevel(logging.INFO)  # a line per epoch
    if resume is not None:
        out = resume or out
        ctx = click.get_current_context()
        kw = {k: v for k, v in kw.items() if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    elif data is None:
        raise click.UsageError("--data is required (unless --resume)")
    res = run_train(data, model=model_name, cfg_path=cfg_path, weights=weights, num_layers=num_layers, anchors=anchors, out=out,
                    resume=resume is not None, progress=_progress_enabled(quiet), strict=strict, **kw)
    if rank0:
        _emit(res, as_json)


# ---------------------------------------------------------------- demo


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--train", "n_train", type=POS, default=160, show_default=True, help="Training images.")
@click.option("--val", "n_val", type=POS, default=40, show_default=True, help="Validation images.")
@click.option("--size", type=SIZE, default=160, show_default=True, help="Image side, pixels.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-objects", type=click.IntRange(1, 200), default=4, show_default=True, help="Objects per image: 1 to this many.")
@click.option("--object-size", default=None, metavar="MIN,MAX", help="Object side range in pixels (default: 12 to half the image).")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def shapes(out, n_train, n_val, size, seed, max_objects, object_size, as_json, quiet):
    """Generate the shapes dataset (circles, squares, triangles with exact boxes) as
    VOC XML and COCO JSON under OUT: something to try every command on."""
    from ..synth import generate_shapes

    osz = None
    if object_size:
        try:
            osz = tuple(int(v) for v in object_size.split(","))
        except ValueError:
            osz = ()
        if len(osz) != 2 or not 2 <= osz[0] <= osz[1] < size:
            raise click.BadParameter(f"{object_size!r}: expected MIN,MAX with 2 <= MIN <= MAX < --size", param_hint="--object-size")
    _emit(generate_shapes(out, n_train=n_train, n_val=n_val, image_hw=(size, size), seed=seed, max_objects=max_objects,
                          object_size=osz, progress=_progress_enabled(quiet)).summary(), as_json)




@main.command()
@click.option("--out", "out", default="demo_out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--fast", is_flag=True, help="Smallest settings (used by the test suite).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No stage and epoch lines on stderr.")
@_user_errors
def demo(out, fast, seed, as_json, quiet):
    """Run the main job end to end on a generated dataset (no download).

    Each stage (generate, convert, roundtrip, kmeans, augment, audit, train+eval)
    says on stderr when it starts and how long it took, and training prints a
    line per epoch."""
    from ..demo import run_demo

    if not quiet:
        for name in ("yolotools.demo", "yolotools.train"):
            logging.getLogger(name).setLevel(logging.INFO)

    res = run_demo(out, fast=fast, seed=seed)
    _emit(res, as_json)
