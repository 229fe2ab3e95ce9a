"""YOLO txt labels (``class cx cy w h``, normalised) <-> :class:`DetectionDataset`.

This module is the only place that normalises by the image width/height.

Layout written by :func:`write_yolo` into ``OUT``::

    OUT/labels/<image id>.txt      one line per box, 6 decimals
    OUT/images/<image id>.<ext>    symlinks (or copies) of the source images
    OUT/<split>.txt                Darknet list: one image path per line
    OUT/classes.names              one class name per line
    OUT/data.yaml                  Ultralytics data YAML (path, train, val, test, names)
    OUT/<split>.yolotools.json     sidecar that keeps what YOLO txt cannot hold:
                                   difficult flags, crowd/skipped boxes, image sizes,
                                   COCO image and category ids

The sidecar makes the conversion lossless: :func:`read_yolo` puts difficult and
crowd boxes back, so YOLO -> COCO JSON gives the source boxes again.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from ..boxes import BoxFormat, Boxes
from ..errors import Problems, YoloToolsError
from .files import (IMAGE_EXTS, atomic_write_text, check_relative, confined_path, image_size_hw, inside_root, is_regular_file,
                    load_json, load_yaml)

__all__ = [
    "write_yolo",
    "read_yolo",
    "format_label_lines",
    "parse_label_text",
    "YoloWriteReport",
    "yaml_key_for_split",
    "load_data_yaml",
]

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".yolotools.json"


# ---------------------------------------------------------------- formatting


def yolo_lines(class_ids: Sequence[int], xyxy_rows: Sequence[Sequence[float]], image_hw: tuple[int, int],
               scores: Sequence[float] | None = None, decimals: int = 6) -> str:
    """The one YOLO txt formatter: ``class cx cy w h [conf]``, normalised, ``decimals``
    decimals (6, as Darknet/Ultralytics tools write; 6 decimals bound the round-trip
    error by 5e-7 x the image size).

    Pure Python on lists (faster than numpy for the few boxes of one image, and
    the same IEEE arithmetic): ``cx = ((x1 + x2) / 2) / W``, ``w = (x2 - x1) / W``."""
    fh, fw = float(image_hw[0]), float(image_hw[1])
    if decimals == 6 and scores is None:
        return "".join(
            f"{c} {(x1 + x2) / 2.0 / fw:.6f} {(y1 + y2) / 2.0 / fh:.6f} {(x2 - x1) / fw:.6f} {(y2 - y1) / fh:.6f}\n"
            for c, (x1, y1, x2, y2) in zip(class_ids, xyxy_rows)
        )
    f = f"{{:.{int(decimals)}f}}"
    fmt = "{} " + " ".join([f] * 4) + (" {:.6f}" if scores is not None else "") + "\n"
    rows = zip(class_ids, xyxy_rows, scores if scores is not None else [None] * len(class_ids))
    return "".join(
        fmt.format(c, (x1 + x2) / 2.0 / fw, (y1 + y2) / 2.0 / fh, (x2 - x1) / fw, (y2 - y1) / fh, *(() if s is None else (s,)))
        for c, (x1, y1, x2, y2), s in rows
    )


def format_label_lines(ann: Annotations, image_hw: tuple[int, int], *, with_scores: bool = False, decimals: int = 6) -> str:
    """YOLO txt text for ``ann`` (see :func:`yolo_lines`)."""
    if len(ann) == 0:
        return ""
    scores = None
    if with_scores:
        scores = (ann.scores if ann.scores is not None else np.ones(len(ann))).tolist()
    return yolo_lines(ann.class_ids.tolist(), ann.boxes.xyxy.tolist(), image_hw, scores, decimals)


def parse_label_text(
    text: str,
    path: str,
    image_hw: tuple[int, int],
    num_classes: int | None,
    problems: Problems,
    *,
    with_scores: bool = False,
    tolerance: float = 1e-6,
    clip: bool = True,
) -> tuple[Annotations, list[int]]:
    """Parse YOLO txt.  Returns the annotations and, for each kept box, its
    1-based line number.  Bad lines are reported to ``problems`` and skipped;
    coordinates slightly outside [0, 1] (more than ``tolerance``) are clipped with
    a warning (``clip=False``, for predictions: kept as they are)."""
    ncol = 6 if with_scores else 5
    rows, cls, scores, lines = [], [], [], []
    for ln, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != ncol:
            problems.error("bad_columns", path, f"expected {ncol} columns, found {len(tok)}; line skipped", ln)
            continue
        try:
            c = float(tok[0])
            vals = [float(t) for t in tok[1:]]
        except ValueError:
            problems.error("not_numeric", path, f"non-numeric value in {line.strip()!r}; line skipped", ln)
            continue
        if not all(math.isfinite(v) for v in vals) or not math.isfinite(c):
            problems.error("not_numeric", path, "NaN or infinite value; line skipped", ln)
            continue
        if c != int(c) or c < 0 or (num_classes is not None and c >= num_classes):
            rng = f"0..{num_classes - 1}" if num_classes else "a non-negative integer"
            problems.error("bad_class", path, f"class id {tok[0]} outside {rng}; line skipped", ln)
            continue
        cx, cy, w, h = vals[:4]
        if w <= 0 or h <= 0:
            problems.error("empty_box", path, f"width/height {w:g}x{h:g} not positive; line skipped", ln)
            continue
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if clip and (x1 < -tolerance or y1 < -tolerance or x2 > 1 + tolerance or y2 > 1 + tolerance):
            cl = (max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0))
            if cl[2] <= cl[0] or cl[3] <= cl[1]:
                problems.error("box_outside_image", path, "box lies entirely outside the image; line skipped", ln)
                continue
            problems.warning("box_clipped", path, "box extends outside [0, 1]; clipped", ln)
            x1, y1, x2, y2 = cl
        rows.append((x1, y1, x2, y2))
        cls.append(int(c))
        lines.append(ln)
        if with_scores:
            scores.append(vals[4])
    boxes = Boxes.from_array(np.array(rows, dtype=np.float64).reshape(-1, 4), BoxFormat.XYXY, normalized=True, image_hw=image_hw)
    ann = Annotations(boxes, cls, scores=scores if with_scores else None)
    return ann, lines


# ---------------------------------------------------------------- data.yaml


def yaml_key_for_split(split: str) -> str:
    s = split.lower()
    if "train" in s:
        return "train"
    if "val" in s:
        return "val"
    if "test" in s:
        return "test"
    return split


def load_data_yaml(path: Path) -> dict:
    """The one data.yaml loader (every command reads data.yaml through it): safe,
    bounded YAML (:func:`~yolotools.io.files.load_yaml`), a mapping, and ``names``
    (when present) a list or 0..K-1 mapping of plain names."""
    data = load_yaml(path, what="data.yaml")
    if not isinstance(data, dict):
        raise YoloToolsError(f"{path}: expected a mapping with path/train/val/names")
    if data.get("names") is not None:
        _names_from_yaml(data, path)
    return data


MAX_CLASSES = 100_000


def _class_name(v, path, where) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise YoloToolsError(f"{path}: names[{where}] is a {type(v).__name__}, expected a class name (text)")
    s = str(v).strip()
    if not s or any(c in s for c in "\n\r\x00"):
        raise YoloToolsError(f"{path}: names[{where}] {s!r} is empty or holds a line break/NUL (it would shift a .names file)")
    return s


def _names_from_yaml(data: dict, path: Path) -> tuple[str, ...]:
    names = data.get("names")
    if isinstance(names, (dict, list)) and len(names) > MAX_CLASSES:
        raise YoloToolsError(f"{path}: {len(names)} names; more than {MAX_CLASSES} classes refused")
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise YoloToolsError(f"{path}: 'names' keys must be integers 0..K-1") from None
        if keys != list(range(len(keys))):
            raise YoloToolsError(f"{path}: 'names' keys must be 0..{len(keys) - 1} without gaps, got {keys[:10]}...")
        return tuple(_class_name(names[k] if k in names else names[str(k)], path, k) for k in keys)
    if isinstance(names, list):
        return tuple(_class_name(n, path, i) for i, n in enumerate(names))
    raise YoloToolsError(f"{path}: 'names' missing or not a list/mapping")


def _yaml_dump(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


# ---------------------------------------------------------------- writer


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


def write_label_file(staging_labels: str, image_id: str, text: str, made: set) -> None:
    """Plain write of one label file into the staging folder (made atomic by
    :func:`commit_staging`)."""
    rel = check_relative(image_id, staging_labels, what="image id")
    path = staging_labels + "/" + rel + ".txt"
    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


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
    from tqdm.auto import tqdm

    if crowd not in ("skip", "keep"):
        raise YoloToolsError(f"crowd must be 'skip' or 'keep', got {crowd!r}")
    if images not in ("link", "copy", "none"):
        raise YoloToolsError(f"images must be 'link', 'copy' or 'none', got {images!r}")
    out = Path(out).absolute()
    labels_dir, images_dir = out / "labels", out / "images"
    rep = YoloWriteReport(out=str(out), split=split)
    staging = staged if staged is not None else new_staging(out, split)
    staging_labels = str(staging / "labels")
    skipped: dict[str, int] = {}
    side_images: dict[str, dict] = {}
    list_lines: list[str] = []
    made_dirs: set = set()
    for rec in tqdm(dataset.records, desc=f"write {split}", unit="img", disable=not progress, leave=False):
        ann = rec.annotations
        diff = ann.is_difficult.tolist()
        crowdf = ann.is_crowd.tolist()
        reason = [
            "difficult" if (skip_difficult and d) else ("crowd" if (crowd == "skip" and c) else "")
            for d, c in zip(diff, crowdf)
        ]
        keep = [j for j, r in enumerate(reason) if not r]
        if staged is None:
            kept = ann if len(keep) == len(ann) else ann[keep]
            write_label_file(staging_labels, rec.image_id, format_label_lines(kept, rec.image_hw, decimals=decimals), made_dirs)
        rep.images += 1
        rep.boxes_written += len(keep)
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
                unw.append(d)
            entry["not_written"] = unw
        side_images[rec.image_id] = entry
        list_lines.append(_place_image(rec, images_dir, images, rep, made_dirs) + "\n")
    commit_staging(staging, out)
    rep.boxes_not_written = dict(sorted(skipped.items()))

    names_text = "".join(f"{n}\n" for n in dataset.class_map.names)
    atomic_write_text(out / "classes.names", names_text)
    atomic_write_text(out / f"{split}.txt", "".join(list_lines))
    import json

    sidecar = {
        "format": "yolotools-sidecar",
        "version": 1,
        "split": split,
        "class_names": list(dataset.class_map.names),
        "category_ids": list(dataset.class_map.source_ids),
        "images": side_images,
    }
    atomic_write_text(out / f"{split}{SIDECAR_SUFFIX}", json.dumps(sidecar, separators=(",", ":")))

    yaml_path = out / "data.yaml"
    data: dict = {}
    if yaml_path.exists():
        try:
            data = load_data_yaml(yaml_path)
        except YoloToolsError as e:
            rep.notes.append(f"existing data.yaml unreadable ({e}); rewritten")
            data = {}
        old_names = data.get("names")
        if old_names is not None and _names_from_yaml(data, yaml_path) != dataset.class_map.names:
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
    if key == "test" and "train" in new and new.get("val") == new["train"]:
        # val was only the placeholder copy of train: validate on the test split instead, as the VOC
        # protocol (train on trainval, evaluate on 2007 test) and Ultralytics' VOC.yaml do
        new["val"] = new["test"]
        rep.notes.append(f"'val' now points at {new['test']} (it was a copy of train); convert a val split to change it")
    if "val" not in new and "train" in new:
        new["val"] = new["train"]
        rep.notes.append(f"data.yaml has no val split yet; 'val' points at {new['train']} until you convert one into {out}")
    if "train" not in new and "val" in new:
        new["train"] = new["val"]
        rep.notes.append(f"data.yaml has no train split yet; 'train' points at {new['val']}")
    new["nc"] = len(dataset.class_map)
    new["names"] = {i: n for i, n in enumerate(dataset.class_map.names)}
    new["category_ids"] = list(dataset.class_map.source_ids)
    atomic_write_text(yaml_path, _yaml_dump(new))
    rep.files = {
        "labels": str(labels_dir),
        "list": str(out / f"{split}.txt"),
        "data_yaml": str(yaml_path),
        "names": str(out / "classes.names"),
        "sidecar": str(out / f"{split}{SIDECAR_SUFFIX}"),
    }
    if rep.images_missing:
        rep.notes.append(f"{rep.images_missing} source images not found; labels written, images not linked")
    return rep


def _place_image(rec: ImageRecord, images_dir: Path, mode: str, rep: YoloWriteReport, made: set) -> str:
    """Link/copy the record's image to ``images/<image id><ext>``; returns the path
    to list in ``<split>.txt``."""
    src = None if rec.path is None else os.fspath(rec.path)
    ext = os.path.splitext(src)[1] if src else ""
    ext = ext or ".jpg"
    rel = check_relative(rec.image_id, images_dir, what="image id") + ext
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


# ---------------------------------------------------------------- reader


def _label_path_for_image(img: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` becomes ``/labels/``, suffix ``.txt``."""
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("images", "JPEGImages"):
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _image_list(entry, base: Path, yaml_path: Path, problems: Problems | None = None) -> list[Path]:
    """Image paths of one data.yaml split entry (a folder, a list file, or a list
    of those).  Every entry and every list line must stay inside the dataset root
    ``base`` (data.yaml ``path``): a line that leaves it is an error for that line
    (reported to ``problems`` with the list file and line number), an entry that
    leaves it a :class:`YoloToolsError`."""
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    problems = problems if problems is not None else Problems()
    for e in entries:
        if not isinstance(e, (str, int, float)) or isinstance(e, bool):
            raise YoloToolsError(f"{yaml_path}: split entry {e!r} is not a path")
        try:
            p = inside_root(base, str(e), what="split entry", follow_links=False)
        except YoloToolsError as err:
            raise YoloToolsError(f"{yaml_path}: {err} (the dataset root is {base})") from None
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS))
        elif p.is_file() and p.suffix == ".txt":
            with open(p, encoding="utf-8-sig", errors="replace") as f:
                for ln, line in enumerate(f, 1):
                    s = line.strip()
                    if not s:
                        continue
                    try:
                        out.append(inside_root(base, str(p.parent / s) if s.startswith("./") else s, what="list entry",
                                               follow_links=False))
                    except YoloToolsError as err:
                        problems.error("path_outside_dataset", p, f"{err} (the dataset root is {base}); line skipped", ln)
        else:
            raise YoloToolsError(f"{yaml_path}: split entry {e!r} -> {p} is neither an image folder nor a list file")
    return out


def _dataset_root(data: dict, yaml_path: Path) -> Path:
    """The dataset root a data.yaml names: ``path`` (relative to the yaml's
    folder), else the yaml's folder.  ``path`` is the file's declaration of where
    its dataset lives (absolute paths elsewhere are allowed, as in Ultralytics);
    every name *inside* the dataset is then confined to it."""
    raw = data.get("path")
    if raw is None or raw == "":
        return yaml_path.parent.absolute()
    if not isinstance(raw, str) or "\x00" in raw:
        raise YoloToolsError(f"{yaml_path}: 'path' {raw!r} is not a folder path")
    p = Path(raw)
    p = p if p.is_absolute() else yaml_path.parent.absolute() / p
    p = Path(os.path.normpath(p))
    if not p.is_dir():
        raise YoloToolsError(f"{yaml_path}: 'path' {raw!r} -> {p} is not a folder")
    return p


def read_yolo(
    source: Path | str,
    split: str | None = None,
    *,
    names: Sequence[str] | None = None,
    images: Path | str | None = None,
    strict: bool = False,
    with_scores: bool = False,
    progress: bool = False,
    line_numbers: dict | None = None,
) -> tuple[DetectionDataset, Problems]:
    """Read a YOLO dataset.

    ``source`` is a ``data.yaml`` (``split`` picks ``train``/``val``/``test``,
    default ``val`` if present else ``train``), or a labels folder (``names``
    or a ``classes.names``/``*.names`` beside it give the class names; ``images``
    the image folder, by default the sibling ``images/``).  Image sizes come
    from image headers, else from a yolotools sidecar.  Images without a label
    file are kept as images with no boxes.  ``line_numbers``, when given, is
    filled with ``image_id -> label file line of each box`` (for reports).
    """
    from tqdm.auto import tqdm

    source = Path(source)
    problems = Problems(strict=strict)
    sidecar: dict = {}
    category_ids: tuple[int, ...] = ()
    if source.is_file() and source.suffix in (".yaml", ".yml"):
        data = load_data_yaml(source)
        class_names = tuple(names) if names else _names_from_yaml(data, source)
        base = _dataset_root(data, source)
        if split is None:
            split = "val" if data.get("val") else "train"
        key = yaml_key_for_split(split) if split not in data else split
        if not data.get(key):
            raise YoloToolsError(f"{source}: no {key!r} entry (has: {[k for k in ('train', 'val', 'test') if data.get(k)]})")
        img_paths = _image_list(data[key], base, source, problems)
        pairs = [(ip, _label_path_for_image(ip)) for ip in img_paths]
        entries = data[key] if isinstance(data[key], list) else [data[key]]
        for e in entries:
            sc = (base / str(e)).with_suffix("") if str(e).endswith(".txt") else None
            if sc is not None:
                scp = sc.parent / (sc.name + SIDECAR_SUFFIX)
                if scp.is_file():
                    sidecar.update(_load_sidecar(scp, problems))
        cid = data.get("category_ids")
        if isinstance(cid, list) and len(cid) == len(class_names):
            category_ids = tuple(int(c) for c in cid)
        # orphans: label files no split of the data.yaml refers to (splits may share labels/)
        listed = {str(lp) for _, lp in pairs}
        for other in ("train", "val", "test"):
            if other != key and data.get(other) and data.get(other) != data[key]:
                try:
                    listed.update(str(_label_path_for_image(ip)) for ip in _image_list(data[other], base, source))
                except YoloToolsError:
                    pass
        for d in sorted({lp.parent for _, lp in pairs}):
            if d.is_dir():
                for q in sorted(d.glob("*.txt")):
                    if str(q) not in listed:
                        problems.warning("orphan_label", q, "label file with no image in the split; not used")
    elif source.is_dir():
        labels_dir = source
        class_names = tuple(names) if names else _find_names(labels_dir)
        img_dir = Path(images) if images else labels_dir.parent / "images"
        label_files = sorted(labels_dir.rglob("*.txt"))
        by_stem = {}
        if img_dir.is_dir():
            for q in img_dir.rglob("*"):
                if q.suffix.lower() in IMAGE_EXTS:
                    by_stem[q.relative_to(img_dir).with_suffix("").as_posix()] = q
        pairs = []
        seen = set()
        for lf in label_files:
            rel = lf.relative_to(labels_dir).with_suffix("").as_posix()
            seen.add(rel)
            pairs.append((by_stem.get(rel, img_dir / (rel + ".jpg")), lf))
        for rel, q in sorted(by_stem.items()):
            if rel not in seen:
                pairs.append((q, labels_dir / (rel + ".txt")))
        for scp in sorted(labels_dir.parent.glob("*" + SIDECAR_SUFFIX)):
            sidecar.update(_load_sidecar(scp, problems))
    else:
        raise YoloToolsError(f"{source}: not a data.yaml or a labels folder")

    if sidecar.get("__category_ids__") and not category_ids:
        cid = sidecar["__category_ids__"]
        if len(cid) == len(class_names):
            category_ids = tuple(cid)
    class_map = ClassMap(class_names, category_ids)
    k = len(class_map)
    # duplicates are decided up front (first one wins), so chunks can be read in parallel
    jobs, ids_seen = [], set()
    for img, lab in pairs:
        image_id = _image_id(img, lab)
        if image_id in ids_seen:
            problems.error("duplicate_image_id", lab, f"image id {image_id!r} listed twice; skipped")
            continue
        ids_seen.add(image_id)
        jobs.append((image_id, str(img), str(lab), sidecar.get(image_id)))
    records = []
    for recs, probs, lines in _map_chunks(jobs, k, with_scores, progress):
        for sev, kind, path, msg, where in probs:
            problems.add(sev, kind, path, msg, where)
        records.extend(recs)
        if line_numbers is not None:
            line_numbers.update(lines)
    return DetectionDataset(class_map, tuple(records)), problems


def _read_chunk(args) -> tuple[list[ImageRecord], list[tuple], dict[str, list[int]]]:
    """Worker: read images' headers and label files for one chunk of jobs."""
    jobs, k, with_scores = args
    problems = Problems()
    recs, lines_of = [], {}
    for image_id, img_s, lab_s, side in jobs:
        img, lab = Path(img_s), Path(lab_s)
        side = side or {}
        hw = None
        if not img.exists() and side.get("source_path") and os.path.exists(side["source_path"]):
            img = Path(side["source_path"])
        if img.exists():
            if not is_regular_file(img):
                problems.error("unreadable_image", img, "not a regular file; image skipped")
                continue
            try:
                hw = image_size_hw(img)
            except YoloToolsError as e:
                problems.error("unreadable_image", img, str(e).split(": ", 1)[-1] + "; image skipped")
                continue
        elif side.get("image_hw"):
            hw = tuple(side["image_hw"])
        else:
            problems.error("missing_image", img, "image not found and no size known for its labels; skipped")
            continue
        try:
            text = lab.read_text(encoding="utf-8-sig")  # a BOM is not part of the first line
        except FileNotFoundError:
            problems.add("info", "missing_label", img, f"no label file {lab}; image used as background (no objects)")
            text = ""
        except (OSError, UnicodeDecodeError) as e:
            problems.error("unreadable_label", lab, f"cannot read: {e}; image kept without boxes")
            text = ""
        ann, lines = parse_label_text(text, str(lab), hw, k, problems, with_scores=with_scores)
        lines_of[image_id] = lines
        if side:
            ann = _apply_sidecar(ann, lines, side, hw, lab, problems)
        recs.append(ImageRecord(image_id, img, hw, ann, source_id=side.get("source_id")))
    return recs, [(p.severity, p.kind, p.path, p.message, p.where) for p in problems], lines_of


def _map_chunks(jobs: list, k: int, with_scores: bool, progress: bool):
    """Yield chunk results in order; a process pool (fork, both cores) above 2,000 images."""
    import math
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    from .voc import _mp_context

    n = len(jobs)
    workers = min(os.cpu_count() or 1, 8)
    size = 512 if n < 2000 or workers == 1 else max(256, math.ceil(n / (workers * 8)))
    chunks = [(jobs[s : s + size], k, with_scores) for s in range(0, n, size)]
    with tqdm(total=n, desc="read YOLO", unit="img", disable=not progress, leave=False) as bar:
        if n < 2000 or workers == 1 or _mp_context() is None:
            for c in chunks:
                yield _read_chunk(c)
                bar.update(len(c[0]))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
                for c, res in zip(chunks, ex.map(_read_chunk, chunks)):
                    yield res
                    bar.update(len(c[0]))


def _image_id(img: Path, lab: Path) -> str:
    parts = list(lab.with_suffix("").parts)
    if "labels" in parts:
        i = len(parts) - 1 - parts[::-1].index("labels")
        return "/".join(parts[i + 1 :])
    return lab.stem


def _find_names(labels_dir: Path) -> tuple[str, ...]:
    for cand in [labels_dir.parent / "classes.names", labels_dir / "classes.names", labels_dir.parent / "classes.txt"]:
        if cand.is_file():
            return tuple(l.strip() for l in cand.read_text(encoding="utf-8").splitlines() if l.strip())
    found = sorted(labels_dir.parent.glob("*.names"))
    if found:
        return tuple(l.strip() for l in found[0].read_text(encoding="utf-8").splitlines() if l.strip())
    raise YoloToolsError(f"{labels_dir}: no class names found (give --names FILE or put classes.names beside the labels folder)")


def _load_sidecar(path: Path, problems: Problems) -> dict:
    data = load_json(path)
    if not isinstance(data, dict) or data.get("format") != "yolotools-sidecar":
        problems.warning("bad_sidecar", path, "not a yolotools sidecar; ignored")
        return {}
    out = dict(data.get("images", {}))
    out["__category_ids__"] = data.get("category_ids", [])
    return out


def _apply_sidecar(ann: Annotations, lines: list[int], side: dict, hw, lab: Path, problems: Problems) -> Annotations:
    n = len(ann)
    diff = np.zeros(n, bool)
    crowd = np.zeros(n, bool)
    pos = {ln: i for i, ln in enumerate(lines)}
    for key, arr in (("difficult_lines", diff), ("crowd_lines", crowd)):
        for ln in side.get(key, []):
            if ln in pos:
                arr[pos[ln]] = True
            else:
                problems.warning("stale_sidecar", lab, f"sidecar flags line {ln}, which has no box; flag ignored")
    area = None
    if "area" in side and len(side["area"]) == n:
        area = np.array(side["area"], dtype=np.float64)
    base = Annotations(ann.boxes, ann.class_ids, scores=ann.scores, is_difficult=diff, is_crowd=crowd, area=area)
    extra = side.get("not_written") or []
    if not extra or ann.scores is not None:
        return base
    ex = Annotations(
        Boxes(np.array([e["xyxy"] for e in extra], dtype=np.float64), hw),
        [e["class"] for e in extra],
        is_difficult=[e.get("difficult", False) for e in extra],
        is_crowd=[e.get("crowd", False) for e in extra],
        area=[e["area"] for e in extra] if all("area" in e for e in extra) else None,
    )
    return Annotations.concat([base, ex], hw)
