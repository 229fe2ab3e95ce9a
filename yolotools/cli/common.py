"""The ``yolotools`` group and what every command shares: one-line user errors,
--json output, progress only on a terminal, outputs that may not replace inputs.

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

from ..errors import YoloToolsError

VOC_CONVENTION_HELP = (
    "VOC pixel convention. exact (default): VOC coordinates are 1-based inclusive pixels, "
    "the box is [xmin-1, xmax] x [ymin-1, ymax] in continuous pixels. darknet: reproduce Darknet's "
    "voc_label.py (centre minus 1 px, width xmax-xmin). raw: take the numbers as continuous pixels "
    "(CVAT-style exports)."
)


class Finite(click.FloatRange):
    """A float in [min, max] that is not NaN or infinite (click's FloatRange lets NaN through)."""

    def convert(self, value, param, ctx):
        import math

        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


POS = click.IntRange(min=1)
SIZE = click.IntRange(min=32, max=16384)
UNIT = Finite(0.0, 1.0)


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
    from ..io import dataset_inputs
    from ..io.files import check_output

    check_output(out, [q for i in inputs if i and Path(str(i)).exists() for q in dataset_inputs(i)], what=what)


def _strict_exit(result, strict: bool) -> None:
    if strict and any(p["severity"] == "error" for p in result.problems):
        sys.exit(1)


class LazyGroup(click.Group):
    """The command group, whose commands' modules are imported when a command is
    asked for (``lazy_command``, set by :mod:`yolotools.cli`)."""

    lazy_command = None
    lazy_names: tuple = ()

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and self.lazy_command is not None:
            return self.lazy_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(self.lazy_names))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    # A command builds many small objects (records, rows, problems) and no cycles worth collecting while it runs:
    # the start-up's objects are frozen out of the collector's scans and the young generation is collected 50x
    # less often (converting VOC2007's 9,963 images: 25-50 ms of collection saved).  A command, not the library.
    import gc

    gc.freeze()
    gc.set_threshold(35_000, 10, 10)


def _parse_classes(spec: str | None):
    if spec is None:
        return None
    from pathlib import Path

    p = Path(spec)
    if p.is_file():
        names = [l.strip() for l in p.read_text(encoding="utf-8-sig").splitlines() if l.strip()]
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise YoloToolsError(f"--classes {spec!r}: no class names")
    return names
