"""Dataset readers and writers.  :func:`load_dataset` picks the reader from the
path: a VOC root (``Annotations/``), a COCO ``.json``, a YOLO ``data.yaml`` or a
YOLO labels folder, or one of the labelling-tool formats of
:mod:`yolotools.io.formats` (CVAT XML, Label Studio JSON, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import YoloToolsError

__all__ = ["load_dataset", "detect_format", "dataset_inputs"]


def detect_format(source: Path | str) -> str:
    """The format name of a dataset path (``"voc"``, ``"coco"``, ``"yolo"``,
    ``"cvat"``, ...; see :mod:`yolotools.io.formats`), or a clear error."""
    from .formats import sniff_format

    return sniff_format(source)


def load_dataset(
    source: Path | str,
    *,
    fmt: str | None = None,
    split: str | None = None,
    convention: str = "exact",
    names: Sequence[str] | None = None,
    images: Path | str | None = None,
    strict: bool = False,
    progress: bool = False,
    clip: bool = True,
    line_numbers: dict | None = None,
    **options,
):
    """Read any supported dataset; returns ``(DetectionDataset, Problems)``.
    ``split`` is the VOC ImageSets list (default ``trainval``) or the data.yaml
    split (default ``val``, else ``train``).  ``clip=False`` keeps COCO boxes
    exactly as written (evaluation).  ``fmt`` names the format (default: from
    the path); ``options`` are a labelling-tool format's own (see
    :func:`yolotools.io.formats.read_format`)."""
    fmt = fmt or detect_format(source)
    if fmt not in ("voc", "coco", "yolo"):
        from .formats import read_format

        return read_format(fmt, source, images, classes=names, strict=strict, **options)
    if fmt == "voc":
        from .voc import read_voc

        return read_voc([source], split or "trainval", convention=convention, classes=names, strict=strict, progress=progress)
    if fmt == "coco":
        from .coco import read_coco

        return read_coco(source, images, strict=strict, clip=clip)
    from .yolo import read_yolo

    return read_yolo(source, split, names=names, images=images, strict=strict, progress=progress, line_numbers=line_numbers)


def dataset_inputs(source: Path | str | None, images: Path | str | None = None) -> list[Path]:
    """The files and folders a dataset is read from, which no output may
    replace (see :func:`yolotools.io.files.check_output`): a COCO JSON itself; a
    VOC root's Annotations/, ImageSets/ and JPEGImages/; a data.yaml with the
    list, names and sidecar files beside it and its labels/ and images/; a labels
    folder itself."""
    if source is None:
        return []
    p = Path(source)
    out: list[Path] = [p] + ([Path(images)] if images is not None else [])
    if not p.exists():
        return out
    if p.is_file():
        if p.suffix.lower() in (".yaml", ".yml"):
            for pat in ("*.yaml", "*.yml", "*.txt", "*.names", "*.yolotools.json"):
                out.extend(p.parent.glob(pat))
            out += [p.parent / "labels", p.parent / "images"]
        return [q for q in out if q.exists()]
    if detect_format(p) == "voc":
        from .voc import find_voc_roots

        try:
            roots = find_voc_roots([p])
        except YoloToolsError:
            roots = []
        for r in roots:
            out += [r / "Annotations", r / "ImageSets", r / "JPEGImages", r / "classes.txt"]
    return [q for q in out if q.exists()]
