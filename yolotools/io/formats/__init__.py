"""Every label format yolotools reads or writes, in one table.

Each reader returns ``(DetectionDataset, Problems)`` and each writer takes a
:class:`~yolotools.annotations.DetectionDataset`: every conversion goes through
the one dataset model (no format-to-format shortcuts).  :data:`FORMATS` says,
per format, how its pixels are read, what it cannot hold, and whether it is one
file or a folder; ``yolotools convert --list`` prints it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ...errors import YoloToolsError

__all__ = ["Format", "FORMATS", "get_format", "read_format", "write_format", "sniff_format"]


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    reader: str | None  # "module:function" under yolotools.io
    writer: str | None
    target: str  # "file" or "folder": what SOURCE / --out is
    convention: str  # how the file's numbers become continuous pixel corners
    lost: str  # what the format cannot hold (kept in our YOLO sidecar when reading; lost when writing)
    holds: frozenset  # of "difficult", "crowd", "empty_images", "sizes"
    aliases: tuple[str, ...] = ()
    suffix: str = ""

    @property
    def can_read(self) -> bool:
        return self.reader is not None

    @property
    def can_write(self) -> bool:
        return self.writer is not None


_F = frozenset
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("voc", "Pascal VOC XML", "voc:read_voc", "voc:write_voc", "folder",
           "1-based inclusive pixels: [xmin-1, xmax] (--convention exact; raw for CVAT-style exports)",
           "crowd flag; attributes", _F({"difficult", "empty_images", "sizes"})),
    Format("coco", "COCO instances JSON", "coco:read_coco", "coco:write_coco", "file",
           "bbox [x, y, w, h], top-left corner, continuous pixels", "attributes (difficult is written as 'ignore')",
           _F({"difficult", "crowd", "empty_images", "sizes"}), suffix=".json"),
    Format("yolo", "YOLO txt + data.yaml", "yolo:read_yolo", None, "folder",
           "class cx cy w h, normalised to the image size", "nothing: flags, left-out boxes and sizes in the sidecar",
           _F({"difficult", "crowd", "empty_images", "sizes"})),
    Format("cvat", "CVAT for images 1.1 XML", "formats.cvat:read_cvat", "formats.cvat:write_cvat", "file",
           "xtl ytl xbr ybr, continuous pixels", "masks, cuboids, skeletons, tracks (polygons/ellipses become boxes)",
           _F({"difficult", "crowd", "empty_images", "sizes"}), suffix=".xml"),
    Format("labelstudio", "Label Studio JSON", "formats.labelstudio:read_labelstudio", "formats.labelstudio:write_labelstudio",
           "file", "x y width height in percent of original_width/height",
           "difficult and crowd flags; rotation (rotated boxes become their bounding box); second annotators",
           _F({"empty_images", "sizes"}), aliases=("label-studio",), suffix=".json"),
    Format("labelme", "LabelMe JSON (one per image)", "formats.labelme:read_labelme", "formats.labelme:write_labelme",
           "folder", "points, continuous pixels", "difficult and crowd flags; polygons/circles become boxes; points and lines",
           _F({"empty_images", "sizes"})),
    Format("openimages", "Open Images CSV", "formats.tables:read_openimages", "formats.tables:write_openimages", "file",
           "XMin XMax YMin YMax normalised to the image size", "image sizes (read from images); images with no box; difficult flag",
           _F({"crowd"}), aliases=("open-images",), suffix=".csv"),
    Format("createml", "Apple createML JSON", "formats.createml:read_createml", "formats.createml:write_createml", "file",
           "centre x y, width, height in pixels", "image sizes (read from images); difficult and crowd flags",
           _F({"empty_images"}), aliases=("create-ml",), suffix=".json"),
    Format("kitti", "KITTI object labels", "formats.kitti:read_kitti", "formats.kitti:write_kitti", "folder",
           "left top right bottom, pixels (continuous)", "image sizes (read from image_2/); difficult and crowd flags",
           _F({"empty_images"})),
    Format("tfod", "TensorFlow Object Detection CSV", "formats.tables:read_tfod", "formats.tables:write_tfod", "file",
           "xmin ymin xmax ymax in pixels (normalised read too)", "images with no box; difficult and crowd flags",
           _F({"sizes"}), suffix=".csv"),
    Format("via", "VGG Image Annotator 2 JSON", "formats.via:read_via", "formats.via:write_via", "file",
           "rect x y width height, continuous pixels", "image sizes (read from images); difficult and crowd flags; points",
           _F({"empty_images"}), suffix=".json"),
)}


def get_format(name: str) -> Format:
    key = name.lower()
    for f in FORMATS.values():
        if key == f.name or key in f.aliases:
            return f
    raise YoloToolsError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")


def _load(ref: str):
    mod, fn = ref.split(":")
    return getattr(importlib.import_module(f"yolotools.io.{mod}"), fn)


def read_format(
    name: str,
    source: Path | str,
    images: Path | str | None = None,
    *,
    classes: Sequence[str] | None = None,
    image_sizes: Mapping[str, tuple[int, int]] | None = None,
    strict: bool = False,
    **options,
):
    """Read ``source`` as format ``name``; returns ``(DetectionDataset, Problems)``.
    ``options`` are the format's own (``units`` for tfod, ``label_key`` for via,
    ``class_descriptions`` for openimages)."""
    f = get_format(name)
    if f.name in ("voc", "coco", "yolo"):
        from .. import load_dataset

        return load_dataset(source, fmt=f.name, names=classes, images=images, strict=strict, **options)
    return _load(f.reader)(source, images, classes=classes, image_sizes=image_sizes, strict=strict, **options)


def write_format(name: str, dataset, out: Path | str, **options) -> dict:
    """Write ``dataset`` as format ``name`` to ``out`` (a file or folder, see
    :attr:`Format.target`); returns counts."""
    f = get_format(name)
    if not f.can_write:
        raise YoloToolsError(f"{f.name}: no writer (write YOLO with `yolotools convert FORMAT`)")
    if f.name == "voc":
        from ..voc import write_voc

        write_voc(dataset, Path(out), options.get("split", "trainval"), convention=options.get("convention", "exact"))
        return {"images": len(dataset), "boxes": dataset.num_boxes}
    if f.name == "coco":
        from ..coco import write_coco

        c = write_coco(dataset, out)
        return {"images": c["images"], "boxes": c["annotations"]}
    return _load(f.writer)(dataset, out)


def sniff_format(path: Path | str) -> str:
    """The format of a file or folder, from its name and first bytes."""
    p = Path(path)
    if not p.exists():
        raise YoloToolsError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "Annotations").is_dir() or any((c / "Annotations").is_dir() for c in p.iterdir() if c.is_dir()):
            return "voc"
        if any(c.suffix.lower() == ".xml" for c in p.iterdir()):
            return "voc"  # a flat folder of VOC XML files (LabelImg)
        if (p / "label_2").is_dir():
            return "kitti"
        if not (p / "labels").is_dir() and not any(p.glob("*.txt")):
            js = min(p.rglob("*.json"), default=None)
            head = _head(js) if js is not None else b""
            if b'"shapes"' in head or b'"imagePath"' in head:
                return "labelme"
        return "yolo"
    suf = p.suffix.lower()
    if suf in (".yaml", ".yml"):
        return "yolo"
    if suf == ".xml":
        return "cvat"
    head = _head(p)
    if suf == ".csv":
        first = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
        if "ImageID" in first:
            return "openimages"
        if "filename" in first and "xmin" in first:
            return "tfod"
        raise YoloToolsError(f"{p}: a CSV with header {first.strip()!r}: neither Open Images (ImageID,...) nor TFOD (filename,width,...)")
    if suf == ".json":
        s = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if s.startswith(b"["):
            if b'"coordinates"' in head:
                return "createml"
            if b'"data"' in head:
                return "labelstudio"
            if b'"image"' in head:
                return "createml"
        if b'"_via_img_metadata"' in head or b'"regions"' in head:
            return "via"
        if b'"shapes"' in head and b'"imagePath"' in head:
            raise YoloToolsError(f"{p}: a single LabelMe file; give the folder that holds the LabelMe JSON files")
        return "coco"
    raise YoloToolsError(f"{p}: cannot tell the format from the name; give it (--format)")


def _head(p: Path, n: int = 65536) -> bytes:
    try:
        with open(p, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise YoloToolsError(f"{p}: cannot read: {e.strerror}") from None
