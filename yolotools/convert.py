"""Conversions between every format and YOLO, as one call each (what the CLI runs).

Each returns a :class:`ConvertReport`: counts of images and boxes read and
written, boxes left out of the YOLO txt (by reason, kept in the sidecar),
boxes clipped or skipped as invalid (with the problems that say where).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import Problems, YoloToolsError
from .io import dataset_inputs
from .io.files import check_output
from .io.yolo import write_yolo

if TYPE_CHECKING:  # numpy-based: convert voc's C path never makes a dataset
    from .annotations import DetectionDataset

__all__ = ["ConvertReport", "ExportReport", "convert_voc", "convert_coco", "convert_format", "convert_yolo_to",
           "convert_yolo_to_coco"]

log = logging.getLogger(__name__)


@dataclass
class ConvertReport:
    source: str
    out: str
    split: str
    classes: list[str]
    images: int = 0
    boxes_read: int = 0
    boxes_written: int = 0
    boxes_not_written: dict[str, int] = field(default_factory=dict)
    boxes_clipped: int = 0
    invalid_skipped: dict[str, int] = field(default_factory=dict)
    images_linked: int = 0
    images_missing: int = 0
    problems: list[dict] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    shapes_to_boxes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self, max_problems: int = 20) -> str:
        lines = [
            f"source           {self.source}",
            f"output           {self.out}",
            f"split            {self.split}",
            f"classes          {len(self.classes)}",
            f"images           {self.images}",
            f"boxes read       {self.boxes_read}",
            f"boxes written    {self.boxes_written}",
        ]
        for reason, n in self.boxes_not_written.items():
            lines.append(f"  not written    {n} {reason} (kept in the sidecar)")
        for kind, n in self.shapes_to_boxes.items():
            lines.append(f"  converted      {n} {kind.replace('_to_box', '')} shapes to their bounding box")
        lines.append(f"boxes clipped    {self.boxes_clipped}")
        for kind, n in self.invalid_skipped.items():
            lines.append(f"  skipped        {n} {kind}")
        if self.images_missing:
            lines.append(f"images missing   {self.images_missing} (labels written; images not linked)")
        for k, v in self.files.items():
            lines.append(f"{k:<16} {v}")
        for note in self.notes:
            lines.append(f"note: {note}")
        shown = [p for p in self.problems][:max_problems]
        for p in shown:
            loc = f"{p['path']}:{p['where']}" if p["where"] else p["path"]
            lines.append(f"{p['severity']}: {loc}: {p['message']}")
        if len(self.problems) > len(shown):
            lines.append(f"... {len(self.problems) - len(shown)} more problems (see --json)")
        return "\n".join(lines)


def _report(source: str, class_names, num_boxes: int, problems: Problems, out, split, write_rep) -> ConvertReport:
    counts = problems.counts()
    invalid = {k: v for k, v in counts.items() if k not in ("box_clipped",) and any(p.kind == k and p.severity == "error" for p in problems)}
    rep = ConvertReport(
        source=source,
        out=str(out),
        split=split,
        classes=list(class_names),
        images=write_rep.images,
        boxes_read=num_boxes,
        boxes_written=write_rep.boxes_written,
        boxes_not_written=write_rep.boxes_not_written,
        boxes_clipped=counts.get("box_clipped", 0),
        invalid_skipped=invalid,
        images_linked=write_rep.images_linked,
        images_missing=write_rep.images_missing,
        problems=[p.to_dict() for p in problems],
        files=write_rep.files,
        notes=write_rep.notes,
        shapes_to_boxes=dict(problems.converted),
    )
    return rep


def convert_voc(
    roots: Sequence[Path | str],
    out: Path | str,
    *,
    split: str = "trainval",
    convention: str = "exact",
    skip_difficult: bool = False,
    classes: Sequence[str] | None = None,
    strict: bool = False,
    images: str = "link",
    workers: int | None = None,
    progress: bool = False,
    decimals: int = 6,
) -> ConvertReport:
    """VOC XML -> YOLO txt (see :mod:`yolotools.io.voc` for ``convention``)."""
    from .io.voc import LabelStage, read_voc
    from .io.yolo import new_staging

    out = Path(out).absolute()
    check_output(out, roots)
    split_name = split or "all"
    staging = new_staging(out, split_name)
    try:
        ds, problems = read_voc(roots, split, convention=convention, classes=classes, strict=strict, workers=workers,
                                progress=progress, stage_labels=LabelStage(str(staging / "labels"), skip_difficult, decimals))
        wr = write_yolo(ds, out, split_name, skip_difficult=skip_difficult, images=images, progress=progress, staged=staging,
                        decimals=decimals)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return _report(", ".join(map(str, roots)), ds.class_map.names, ds.num_boxes, problems, out, split, wr)


def convert_coco(
    annotations: Path | str,
    out: Path | str,
    *,
    images: Path | str | None = None,
    split: str | None = None,
    class_order: str = "id",
    crowd: str = "skip",
    strict: bool = False,
    check_images: bool = False,
    link_images: str = "link",
    progress: bool = False,
    decimals: int = 6,
) -> ConvertReport:
    """COCO instances JSON -> YOLO txt.  ``split`` defaults to the JSON's stem
    with ``instances_`` removed (``instances_val2017.json`` -> ``val2017``)."""
    from .io.coco import read_coco

    annotations = Path(annotations)
    check_output(out, [annotations, images])
    split = split or annotations.stem.replace("instances_", "") or "train"
    ds, problems = read_coco(annotations, images, class_order=class_order, strict=strict, check_images=check_images)
    wr = write_yolo(ds, out, split, crowd=crowd, images=link_images if images is not None else "none", progress=progress,
                    decimals=decimals)
    return _report(str(annotations), ds.class_map.names, ds.num_boxes, problems, out, split, wr)


def convert_format(
    fmt: str,
    source: Path | str,
    out: Path | str,
    *,
    images: Path | str | None = None,
    split: str = "train",
    classes: Sequence[str] | None = None,
    image_sizes=None,
    strict: bool = False,
    image_mode: str = "link",
    progress: bool = False,
    decimals: int = 6,
    **options,
) -> ConvertReport:
    """A labelling-tool format (``cvat``, ``labelstudio``, ``labelme``,
    ``openimages``, ``createml``, ``kitti``, ``tfod``, ``via``; see
    :data:`yolotools.io.formats.FORMATS`) -> YOLO txt.  ``images`` is the folder
    the file's image names are relative to: images are linked from it and sizes
    read from their headers where the format has none (``image_sizes``, a
    mapping image id -> (h, w), gives them instead).  ``options``: the format's
    own (``units``, ``label_key``, ``class_descriptions``)."""
    from .io.formats import get_format, read_format

    f = get_format(fmt)
    if f.name in ("voc", "coco", "yolo"):
        raise YoloToolsError(f"use convert_{f.name} for {f.name}")
    out = Path(out).absolute()
    check_output(out, [Path(source)] + ([Path(images)] if images is not None else []))
    ds, problems = read_format(f.name, source, images, classes=classes, image_sizes=image_sizes, strict=strict, **options)
    # images are linked when the reader found their files (KITTI's image_2/, LabelMe's imagePath, or --images)
    linked = image_mode if any(r.path is not None for r in ds.records) else "none"
    wr = write_yolo(ds, out, split, images=linked, progress=progress, decimals=decimals)
    return _report(str(source), ds.class_map.names, ds.num_boxes, problems, out, split, wr)


@dataclass
class ExportReport:
    """What ``convert yolo --to FORMAT`` wrote, and what the format could not hold."""

    source: str
    out: str
    format: str
    images: int
    boxes: int
    categories: int
    lost: dict[str, int] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)

    @property
    def annotations(self) -> int:  # the COCO word, kept for callers of convert_yolo_to_coco
        return self.boxes

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.format == "coco":
            d["annotations"] = self.boxes
        return d

    def to_table(self) -> str:
        lines = [
            f"source       {self.source}",
            f"output       {self.out}",
            f"format       {self.format}",
            f"images       {self.images}",
            f"{'annotations' if self.format == 'coco' else 'boxes':<12} {self.boxes}",  # COCO's word, as before
            f"categories   {self.categories}",
        ]
        lines += [f"not kept     {n} {what}" for what, n in self.lost.items()]
        lines += [f"{p['severity']}: {p['path']}{':' + p['where'] if p['where'] else ''}: {p['message']}" for p in self.problems[:20]]
        return "\n".join(lines)


def _lost(fmt, dataset: DetectionDataset) -> dict[str, int]:
    """What writing ``dataset`` as ``fmt`` cannot keep, counted."""
    lost = {}
    recs = dataset.records
    import numpy as np

    def flags(field: str) -> int:  # one count over all boxes, not one numpy call per image
        return int(np.count_nonzero(getattr(dataset.box_columns(), field)))

    checks = (
        ("difficult", "difficult flags", lambda: flags("is_difficult")),
        ("crowd", "crowd flags", lambda: flags("is_crowd")),
        ("empty_images", "images with no box (no row for them)", lambda: sum(1 for r in recs if not len(r.annotations))),
        ("sizes", "image sizes (the format has none; readers take them from the images)", lambda: len(recs)),
    )
    for key, what, count in checks:
        if key not in fmt.holds:
            n = count()
            if n:
                lost[what] = n
    return lost


def convert_yolo_to(
    fmt: str,
    source: Path | str,
    out: Path | str,
    *,
    split: str | None = None,
    names: Sequence[str] | None = None,
    images: Path | str | None = None,
    strict: bool = False,
    progress: bool = False,
    convention: str = "exact",
) -> ExportReport:
    """YOLO dataset (data.yaml or labels folder) -> any writable format.  Image
    sizes come from image headers (never decoded), else from the sidecar; the
    sidecar's flags and attributes come back too, so a format that holds them
    (CVAT's attributes, KITTI's 3-D fields) gets them back.  ``out`` is a file
    or a folder as the format is (:attr:`Format.target`)."""
    from .io.formats import get_format, write_format
    from .io.yolo import read_yolo

    f = get_format(fmt)
    if not f.can_write:
        raise YoloToolsError(f"{f.name}: yolotools reads this format but does not write it")
    check_output(out, dataset_inputs(source, images))
    ds, problems = read_yolo(source, split, names=names, images=images, strict=strict, progress=progress)
    counts = write_format(f.name, ds, out, split=split or "trainval", convention=convention)
    return ExportReport(str(source), str(out), f.name, counts["images"], counts["boxes"], len(ds.class_map),
                        lost=_lost(f, ds), problems=[p.to_dict() for p in problems])


def convert_yolo_to_coco(source: Path | str, out_json: Path | str, **kw) -> ExportReport:
    """YOLO dataset -> COCO instances JSON (:func:`convert_yolo_to` with ``"coco"``)."""
    return convert_yolo_to("coco", source, out_json, **kw)
