"""Conversions between VOC, COCO and YOLO, as one call each (what the CLI runs).

Each returns a :class:`ConvertReport`: counts of images and boxes read and
written, boxes left out of the YOLO txt (by reason, kept in the sidecar),
boxes clipped or skipped as invalid (with the problems that say where).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from .annotations import DetectionDataset
from .errors import Problems
from .io import dataset_inputs
from .io.files import check_output
from .io.yolo import write_yolo

__all__ = ["ConvertReport", "convert_voc", "convert_coco", "convert_yolo_to_coco"]

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


def _report(source: str, dataset: DetectionDataset, problems: Problems, out, split, write_rep) -> ConvertReport:
    counts = problems.counts()
    invalid = {k: v for k, v in counts.items() if k not in ("box_clipped",) and any(p.kind == k and p.severity == "error" for p in problems)}
    rep = ConvertReport(
        source=source,
        out=str(out),
        split=split,
        classes=list(dataset.class_map.names),
        images=write_rep.images,
        boxes_read=dataset.num_boxes,
        boxes_written=write_rep.boxes_written,
        boxes_not_written=write_rep.boxes_not_written,
        boxes_clipped=counts.get("box_clipped", 0),
        invalid_skipped=invalid,
        images_linked=write_rep.images_linked,
        images_missing=write_rep.images_missing,
        problems=[p.to_dict() for p in problems],
        files=write_rep.files,
        notes=write_rep.notes,
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
    return _report(", ".join(map(str, roots)), ds, problems, out, split, wr)


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
    return _report(str(annotations), ds, problems, out, split, wr)


@dataclass
class CocoExportReport:
    source: str
    out: str
    images: int
    annotations: int
    categories: int
    problems: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [
            f"source       {self.source}",
            f"output       {self.out}",
            f"images       {self.images}",
            f"annotations  {self.annotations}",
            f"categories   {self.categories}",
        ]
        lines += [f"{p['severity']}: {p['path']}{':' + p['where'] if p['where'] else ''}: {p['message']}" for p in self.problems[:20]]
        return "\n".join(lines)


def convert_yolo_to_coco(
    source: Path | str,
    out_json: Path | str,
    *,
    split: str | None = None,
    names: Sequence[str] | None = None,
    images: Path | str | None = None,
    strict: bool = False,
    progress: bool = False,
) -> CocoExportReport:
    """YOLO dataset (data.yaml or labels folder) -> COCO instances JSON.  Image
    sizes come from image headers (never decoded), else from the sidecar."""
    from .io.coco import write_coco
    from .io.yolo import read_yolo

    check_output(out_json, dataset_inputs(source, images))
    ds, problems = read_yolo(source, split, names=names, images=images, strict=strict, progress=progress)
    counts = write_coco(ds, out_json)
    return CocoExportReport(str(source), str(out_json), problems=[p.to_dict() for p in problems], **counts)

