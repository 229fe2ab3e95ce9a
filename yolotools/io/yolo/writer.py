"""Write a YOLO dataset (layout in :mod:`yolotools.io.yolo`): staged label
files moved into place, images linked or copied (regular files only), list,
names, sidecar and data.yaml written atomically."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import YoloToolsError
from ...parallel import progress_bar
from ..files import atomic_write_text, check_relative, confined_path, is_plain_name, is_regular_file
from .data_yaml import load_data_yaml, names_from_yaml, yaml_dump, yaml_key_for_split
from .lines import write_label_file

if TYPE_CHECKING:
    from ...annotations import DetectionDataset, ImageRecord

__all__ = ["YoloWriteReport", "write_yolo", "new_staging", "commit_staging", "finish_split", "image_entry", "place_image",
           "SIDECAR_SUFFIX"]

SIDECAR_SUFFIX = ".yolotools.json"


@dataclass
class YoloWriteReport:
    """What :func:`write_yolo` wrote and left out (by reason)."""

    out: str
    split: str
    images: int = 0
    boxes_written: int = 0
    boxes_not_written: dict[str, int] = field(default_factory=dict)
    images_linked: int = 0
    images_missing: int = 0
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def new_staging(out: Path, split: str) -> Path:
    """A fresh staging folder for label files inside ``out``; stale ones from
    killed runs are removed first."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f".staging-{split}-*"):
        shutil.rmtree(old, ignore_errors=True)
    st = out / f".staging-{split}-{os.getpid()}"
    (st / "labels").mkdir(parents=True)
    return st


def commit_staging(staging: Path, out: Path) -> None:
    """Move staged labels into ``out/labels``: one directory rename when
    ``out/labels`` does not exist yet, else one atomic ``os.replace`` per file.
    Either way no reader ever sees a half-written label file."""
    src = staging / "labels"
    dst = out / "labels"
    if not dst.exists():
        os.rename(src, dst)
    else:
        confined_path(out, "labels", what="labels folder")
        for dirpath, _dirs, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            tdir = dst if rel == "." else confined_path(dst, rel, what="label folder")
            tdir.mkdir(parents=True, exist_ok=True)
            for fn in files:
                os.replace(os.path.join(dirpath, fn), os.path.join(tdir, fn))
    shutil.rmtree(staging, ignore_errors=True)


def write_yolo(
    dataset: DetectionDataset,
    out: Path | str,
    split: str,
    *,
    skip_difficult: bool = False,
    crowd: str = "skip",
    images: str = "link",
    progress: bool = False,
    staged: Path | None = None,
    decimals: int = 6,
) -> YoloWriteReport:
    """Write ``dataset`` as a YOLO dataset into ``out`` (layout in the module doc).

    ``skip_difficult``: leave VOC-difficult boxes out of the txt (kept in the
    sidecar).  ``crowd``: ``"skip"`` (default, as Ultralytics' COCO converter) or
    ``"keep"`` COCO crowd boxes in the txt.  ``images``: ``"link"`` (symlinks),
    ``"copy"`` or ``"none"``.  Label files are written to a staging folder and
    moved into place (see :func:`commit_staging`); the other files are written
    atomically; input files are never touched; re-running into the same ``out``
    replaces this split's files.  ``staged``: a staging folder whose label files
    were already written by the caller under the same policy.
    """
    from .txt import format_label_lines

    if crowd not in ("skip", "keep"):
        raise YoloToolsError(f"crowd must be 'skip' or 'keep', got {crowd!r}")
    if images not in ("link", "copy", "none"):
        raise YoloToolsError(f"images must be 'link', 'copy' or 'none', got {images!r}")
    out = Path(out).absolute()
    images_dir = out / "images"
    rep = YoloWriteReport(out=str(out), split=split)
    staging = staged if staged is not None else new_staging(out, split)
    staging_labels = str(staging / "labels")
    skipped: dict[str, int] = {}
    side_images: dict[str, dict] = {}
    list_lines: list[str] = []
    made_dirs: set = set()
    made_labels: set = {staging_labels}
    if staged is None:
        os.makedirs(staging_labels, exist_ok=True)
    for rec in progress_bar(progress, dataset.records, desc=f"write {split}", unit="img", leave=False):
        ann = rec.annotations
        entry, keep = image_entry(rec, skip_difficult, crowd, skipped)
        if staged is None:
            kept = ann if len(keep) == len(ann) else ann[keep]
            write_label_file(staging_labels, rec.image_id, format_label_lines(kept, rec.image_hw, decimals=decimals), made_labels)
        rep.boxes_written += len(keep)
        rep.images += 1
        side_images[rec.image_id] = entry
        list_lines.append(place_image(rec.image_id, rec.path, images_dir, images, rep, made_dirs) + "\n")
    finish_split(out, split, dataset.class_map, staging, list_lines, side_images, skipped, rep)
    return rep


def image_entry(rec: ImageRecord, skip_difficult: bool, crowd: str, skipped: dict[str, int]) -> tuple[dict, list[int]]:
    """The sidecar entry of one image and the indices of its boxes that go into
    its txt; boxes left out are counted by reason into ``skipped``."""
    ann = rec.annotations
    diff = ann.is_difficult.tolist()
    crowdf = ann.is_crowd.tolist()
    reason = [
        "difficult" if (skip_difficult and d) else ("crowd" if (crowd == "skip" and c) else "")
        for d, c in zip(diff, crowdf)
    ]
    keep = [j for j, r in enumerate(reason) if not r]
    entry: dict = {"image_hw": list(rec.image_hw)}
    if rec.source_id is not None:
        entry["source_id"] = rec.source_id
    if rec.path is not None:
        entry["source_path"] = str(rec.path)
    dl = [n for n, j in enumerate(keep, 1) if diff[j]]
    if dl:
        entry["difficult_lines"] = dl
    cl = [n for n, j in enumerate(keep, 1) if crowdf[j]]
    if cl:
        entry["crowd_lines"] = cl
    if ann.area is not None:
        areas = ann.area.tolist()
        entry["area"] = [areas[j] for j in keep]
    at = ann.attrs.tolist() if ann.attrs is not None else None
    if at is not None:
        kept_attrs = {str(n): at[j] for n, j in enumerate(keep, 1) if at[j]}
        if kept_attrs:
            entry["attrs"] = kept_attrs
    if len(keep) < len(ann):
        unw = []
        rows = ann.boxes.xyxy.tolist()
        cls = ann.class_ids.tolist()
        for j, r in enumerate(reason):
            if not r:
                continue
            skipped[r] = skipped.get(r, 0) + 1
            d = {"class": cls[j], "xyxy": rows[j], "difficult": diff[j], "crowd": crowdf[j], "reason": r}
            if ann.area is not None:
                d["area"] = areas[j]
            if at is not None and at[j]:
                d["attrs"] = at[j]
            unw.append(d)
        entry["not_written"] = unw
    return entry, keep


def finish_split(out: Path, split: str, class_map, staging: Path, list_lines: list[str], side_images: dict[str, dict],
                 skipped: dict[str, int], rep: YoloWriteReport) -> None:
    """Move the staged labels into place and write the split's list, names,
    sidecar and data.yaml (what :func:`write_yolo` writes after its label files).
    Every text is made first (an existing data.yaml with other class names is
    refused before anything is moved or written), then the labels are moved in
    and the files written."""
    labels_dir = out / "labels"
    rep.boxes_not_written = dict(sorted(skipped.items()))
    names_text = "".join(f"{n}\n" for n in class_map.names)
    list_text = "".join(list_lines)
    head = {
        "format": "yolotools-sidecar",
        "version": 1,
        "split": split,
        "class_names": list(class_map.names),
        "category_ids": list(class_map.source_ids),
    }
    side_text = json.dumps({**head, "images": side_images}, separators=(",", ":"))

    yaml_path = out / "data.yaml"
    data: dict = {}
    if yaml_path.exists():
        try:
            data = load_data_yaml(yaml_path)
        except YoloToolsError as e:
            rep.notes.append(f"existing data.yaml unreadable ({e}); rewritten")
            data = {}
        old_names = data.get("names")
        if old_names is not None and names_from_yaml(data, yaml_path) != class_map.names:
            raise YoloToolsError(
                f"{yaml_path}: existing data.yaml has different class names; convert into an empty --out or use the same classes"
            )
    key = yaml_key_for_split(split)
    new = {"path": str(out)}
    for k in ("train", "val", "test"):
        if k == key:
            new[k] = f"{split}.txt"
        elif k in data:
            new[k] = data[k]
    for k, v in data.items():  # splits of other names (e.g. "x" from instances_x.json) stay, and this one is added
        if k not in new and k not in ("path", "nc", "names", "category_ids") and isinstance(v, (str, list)):
            new[k] = v
    if key not in ("train", "val", "test"):
        new[key] = f"{split}.txt"
        rep.notes.append(f"split {split!r} is not train/val/test: written as data.yaml key {key!r}")
    if key == "test" and "train" in new and new.get("val") == new["train"]:
        # val was only the placeholder copy of train: validate on the test split instead, as the VOC
        # protocol (train on trainval, evaluate on 2007 test) and Ultralytics' VOC.yaml do
        new["val"] = new["test"]
        rep.notes.append(f"'val' now points at {new['test']} (it was a copy of train); convert a val split to change it")
    if "train" not in new and "val" not in new and key not in ("train", "val", "test"):
        new["train"] = new[key]
        rep.notes.append(f"data.yaml has no train split; 'train' points at {new[key]}")
    if "val" not in new and "train" in new:
        new["val"] = new["train"]
        rep.notes.append(f"data.yaml has no val split yet; 'val' points at {new['train']} until you convert one into {out}")
    if "train" not in new and "val" in new:
        new["train"] = new["val"]
        rep.notes.append(f"data.yaml has no train split yet; 'train' points at {new['val']}")
    new["nc"] = len(class_map)
    new["names"] = {i: n for i, n in enumerate(class_map.names)}
    new["category_ids"] = list(class_map.source_ids)
    yaml_text = yaml_dump(new)

    commit_staging(staging, out)
    atomic_write_text(out / "classes.names", names_text)
    atomic_write_text(out / f"{split}.txt", list_text)
    atomic_write_text(out / f"{split}{SIDECAR_SUFFIX}", side_text)
    atomic_write_text(yaml_path, yaml_text)
    rep.files = {
        "labels": str(labels_dir),
        "list": str(out / f"{split}.txt"),
        "data_yaml": str(yaml_path),
        "names": str(out / "classes.names"),
        "sidecar": str(out / f"{split}{SIDECAR_SUFFIX}"),
    }
    if rep.images_missing:
        rep.notes.append(f"{rep.images_missing} source images not found; labels written, images not linked")


def place_image(image_id: str, path, images_dir: Path, mode: str, rep: YoloWriteReport, made: set) -> str:
    """Link/copy an image (``path``, None when unknown) to ``images/<image id><ext>``;
    returns the path to list in ``<split>.txt``."""
    src = None if path is None else os.fspath(path)
    ext = os.path.splitext(src)[1] if src else ""
    ext = ext or ".jpg"
    if mode == "none" and is_plain_name(image_id):  # what the lines below give for it
        return f"{os.fspath(images_dir)}{os.sep}{image_id}{ext}"
    rel = check_relative(image_id, images_dir, what="image id") + ext
    if mode == "none":
        # listed where Ultralytics/Darknet look for images next to labels/; the
        # sidecar keeps the source path
        return os.path.join(images_dir, rel)
    if src is None or not os.path.exists(src):
        rep.images_missing += 1
        return os.path.join(images_dir, rel)
    if not is_regular_file(src):  # a device, FIFO or folder is never copied or linked (/dev/zero would copy forever)
        rep.images_missing += 1
        rep.notes.append(f"{src}: not a regular file; not {'linked' if mode == 'link' else 'copied'}")
        return os.path.join(images_dir, rel)
    dst = confined_path(images_dir, rel, what="image id")
    if dst.parent not in made:
        dst.parent.mkdir(parents=True, exist_ok=True)
        made.add(dst.parent)
    src_abs = os.path.abspath(src)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    if mode == "link":
        if os.path.islink(dst) and os.readlink(dst) == src_abs:
            rep.images_linked += 1
            return str(dst)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(src_abs, tmp)
    else:
        shutil.copyfile(src_abs, tmp)
    os.replace(tmp, dst)
    rep.images_linked += 1
    return str(dst)
