"""Read a YOLO dataset (a data.yaml split or a labels folder) into a
:class:`DetectionDataset`, with the sidecar's flags and left-out boxes put back."""

from __future__ import annotations

import functools
import logging
import os
import stat
from pathlib import Path
from typing import Sequence

import numpy as np

from ...annotations import (Annotations, BoxColumns, ClassMap, DetectionDataset, ImageRecord, checked_hw, dataset_with_columns,
                             trusted_record)
from ...boxes import Boxes
from ...errors import Problems, YoloToolsError
from ...parallel import map_chunks
from ..files import IMAGE_EXTS, image_size_hw, is_normal_abs, load_json, path_objects
from .data_yaml import dataset_root, image_list, label_paths_for_images, load_data_yaml, names_from_yaml, yaml_key_for_split
from .txt import parse_label_texts
from .writer import SIDECAR_SUFFIX

__all__ = ["read_yolo"]

log = logging.getLogger(__name__)


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

    problems = Problems(strict=strict)
    class_map, pairs, sidecar = _resolve(source, split, names, images, problems)
    jobs = _jobs(pairs, sidecar, problems)
    worker = functools.partial(_read_chunk, k=len(class_map), with_scores=with_scores)
    records, parts, plain = [], [], True
    for chunk, rows, flags in map_chunks(worker, jobs, progress=progress, desc="read YOLO", unit="img", chunk_size=None):
        b = rows.bounds.tolist()
        for i, (image_id, img, hw, source_id, probs, rec) in enumerate(chunk):
            for sev, kind, path, msg, where in probs:
                problems.add(sev, kind, path, msg, where)
            if hw is None:
                continue
            if rec is None:  # a slice of the chunk's columns
                sl = slice(b[i], b[i + 1])
                rec = trusted_record(image_id, img, hw, rows.xyxy[sl], rows.class_ids[sl], flags[0][sl], flags[1][sl],
                                     scores=None if rows.scores is None else rows.scores[sl], source_id=source_id)
            else:
                plain = False
            records.append(rec)
            if line_numbers is not None:
                line_numbers[image_id] = rows.lines[b[i] : b[i + 1]].tolist()
        parts.append((rows, flags, chunk))
    if plain and not with_scores:  # (a skipped image has no rows: the columns still match the records)
        cols = BoxColumns(*(np.concatenate([x for x in arrs]) if arrs else e for arrs, e in (
            ([r.xyxy for r, _f, _c in parts], np.zeros((0, 4))), ([r.class_ids for r, _f, _c in parts], np.zeros(0, np.int64)),
            ([f[0] for _r, f, _c in parts], np.zeros(0, bool)), ([f[1] for _r, f, _c in parts], np.zeros(0, bool)))),
            [len(r.annotations) for r in records])
        for a in cols[:4]:
            a.setflags(write=False)
        return dataset_with_columns(class_map, records, cols), problems
    return DetectionDataset(class_map, tuple(records)), problems


def _resolve(source, split, names, images, problems: Problems) -> tuple[ClassMap, list[tuple[str, str]], dict]:
    """The class map, the (image, label file) path pairs and the sidecar of a
    YOLO source (data.yaml split or labels folder); orphan labels reported."""
    source = Path(source)
    sidecar: dict = {}
    category_ids: tuple[int, ...] = ()
    if source.is_file() and source.suffix in (".yaml", ".yml"):
        data = load_data_yaml(source)
        class_names = tuple(names) if names else names_from_yaml(data, source)
        base = dataset_root(data, source)
        splits = [k for k, v in data.items() if k not in ("path", "nc", "names", "category_ids", "download") and isinstance(v, (str, list)) and v]
        if split is None:
            split = next((k for k in ("val", "train", "test") if data.get(k)), splits[0] if len(splits) == 1 else "val")
        key = yaml_key_for_split(split) if split not in data else split
        if not data.get(key):
            raise YoloToolsError(f"{source}: no {split!r} split (it has: {', '.join(splits) or 'none'}); choose one with --split")
        if key != split:
            log.warning("%s: split %r read from data.yaml key %r", source, split, key)
        img_paths = image_list(data[key], base, source, problems)
        pairs = list(zip(img_paths, label_paths_for_images(img_paths)))
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
        listed = {lp for _, lp in pairs}
        for other in ("train", "val", "test"):
            if other != key and data.get(other) and data.get(other) != data[key]:
                try:
                    listed.update(label_paths_for_images(image_list(data[other], base, source)))
                except YoloToolsError:
                    pass
        folders: dict[str, set] = {}  # folder -> the names listed in it (strings: this runs over every label)
        for q in listed:
            d = _folder(q)
            folders.setdefault(d, set()).add(q[len(d) + 1 :] if q.startswith(d + "/") else os.path.basename(q))
        for d in sorted(folders):
            try:
                names = sorted(n for n in set(os.listdir(d)) - folders[d] if n.endswith(".txt"))
            except OSError:
                continue
            for n in names:
                q = os.path.join(d, n)
                if q not in listed and os.path.isfile(q):
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
            pairs.append((str(by_stem.get(rel, img_dir / (rel + ".jpg"))), str(lf)))
        for rel, q in sorted(by_stem.items()):
            if rel not in seen:
                pairs.append((str(q), str(labels_dir / (rel + ".txt"))))
        for scp in sorted(labels_dir.parent.glob("*" + SIDECAR_SUFFIX)):
            sidecar.update(_load_sidecar(scp, problems))
    else:
        raise YoloToolsError(f"{source}: not a data.yaml or a labels folder")

    if sidecar.get("__category_ids__") and not category_ids:
        cid = sidecar["__category_ids__"]
        if len(cid) == len(class_names):
            category_ids = tuple(cid)
    try:
        class_map = ClassMap(class_names, category_ids)
    except ValueError as e:
        raise YoloToolsError(f"{source}: {e}") from None
    return class_map, pairs, sidecar


def _folder(path: str) -> str:
    """``os.path.dirname`` of a path string, by one ``rpartition`` for a normal absolute one."""
    if path.count("/") > 1 and is_normal_abs(path):
        return path.rpartition("/")[0]
    return os.path.dirname(path)


def _jobs(pairs, sidecar: dict, problems: Problems) -> list[tuple[str, str, str, dict | None]]:
    """``(image_id, image path, label path, sidecar entry)`` per pair; a repeated
    image id is an error and skipped (the first one wins, decided up front so
    chunks can be read in parallel)."""
    jobs, ids_seen = [], set()
    for img, lab in pairs:
        image_id = _image_id(img, lab)
        if image_id in ids_seen:
            problems.error("duplicate_image_id", lab, f"image id {image_id!r} listed twice; skipped")
            continue
        ids_seen.add(image_id)
        jobs.append((image_id, img, lab, sidecar.get(image_id)))
    return jobs


def _read_chunk(jobs, *, k: int, with_scores: bool):
    """Worker: read the images' headers and label files of one chunk of jobs
    (plain strings and one ``stat`` per image: this loop runs for every image)
    and parse every label file of the chunk at once (:func:`parse_label_texts`).
    Returns ``(per job (image id, image path, (h, w) or None when skipped,
    source id, problems, record or None), the chunk's box rows, (difficult,
    crowd) flags per row)``: a job's boxes are its slice of the rows, except
    where the sidecar adds areas, attributes or left-out boxes (then its record
    is made here)."""
    got = []  # per job: (image path, (h, w) or None, label text, problems)
    for image_id, img, lab, side in jobs:
        probs = Problems()
        img, hw, why = _image_hw(img, side or {})
        text = ""
        if hw is None:
            probs.error(why[0], img, why[1])
        else:
            try:
                with open(lab, encoding="utf-8-sig") as f:  # a BOM is not part of the first line
                    text = f.read()
            except FileNotFoundError:
                probs.add("info", "missing_label", img, f"no label file {lab}; image used as background (no objects)")
            except (OSError, UnicodeDecodeError) as e:
                probs.error("unreadable_label", lab, f"cannot read: {e}; image kept without boxes")
        got.append((img, hw, text, probs))
    rows = parse_label_texts([t for _i, _h, t, _p in got], [j[2] for j in jobs], [hw or (1, 1) for _i, hw, _t, _p in got], k,
                             [p for *_x, p in got], with_scores=with_scores)
    b = rows.bounds.tolist()
    diff, crowd = np.zeros(len(rows.class_ids), bool), np.zeros(len(rows.class_ids), bool)
    paths = path_objects([img for img, *_x in got])
    out = []
    for i, ((image_id, _img, lab, side), (_im, hw, _t, probs), path) in enumerate(zip(jobs, got, paths)):
        side = side or {}
        rec = None
        if hw is not None and side:
            lines = rows.lines[b[i] : b[i + 1]].tolist()
            if _PLAIN_SIDECAR_KEYS.issuperset(side):
                d, c = _sidecar_flags(side, lines, lab, probs)
                diff[b[i] : b[i + 1]], crowd[b[i] : b[i + 1]] = d, c
            else:  # areas, attributes or left-out boxes: a record of its own
                sl = slice(b[i], b[i + 1])
                ann = Annotations(Boxes.adopt(np.array(rows.xyxy[sl]), hw), rows.class_ids[sl],
                                  scores=None if rows.scores is None else rows.scores[sl])
                rec = ImageRecord(image_id, path, hw, _apply_sidecar(ann, lines, side, hw, lab, probs), source_id=side.get("source_id"))
        out.append((image_id, path, checked_hw(image_id, hw) if hw is not None else None, side.get("source_id"), _plain(probs), rec))
    diff.setflags(write=False)
    crowd.setflags(write=False)
    return out, rows, (diff, crowd)


_PLAIN_SIDECAR_KEYS = frozenset(("image_hw", "source_id", "source_path", "difficult_lines", "crowd_lines"))


def _plain(problems: Problems) -> list[tuple]:
    return [(p.severity, p.kind, p.path, p.message, p.where) for p in problems]


def _image_hw(img: str, side: dict) -> tuple[str, tuple[int, int] | None, tuple[str, str] | None]:
    """``(image path, (h, w), None)`` from the image's header (or the sidecar's
    source image, or its recorded size when no image is there), else ``(image
    path, None, (problem kind, message))``."""
    st = _stat(img)
    if st is None and side.get("source_path"):
        st2 = _stat(side["source_path"])
        if st2 is not None:
            img, st = side["source_path"], st2
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            return img, None, ("unreadable_image", "not a regular file; image skipped")
        try:
            return img, image_size_hw(img), None
        except YoloToolsError as e:
            return img, None, ("unreadable_image", str(e).split(": ", 1)[-1] + "; image skipped")
    if side.get("image_hw"):
        return img, tuple(side["image_hw"]), None
    return img, None, ("missing_image", "image not found and no size known for its labels; skipped")


def _stat(path: str):
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _image_id(img: str, lab: str) -> str:
    """The label file's path below the last ``labels`` folder, without suffix
    (``train/0001``), else its stem."""
    i = lab.rfind("/labels/")
    if i > 0 and is_normal_abs(lab):  # (what image_list gives)
        rest = lab[i + 8 :]
        stem, ext = os.path.splitext(rest.rpartition("/")[2])
        if stem != "labels":
            return rest[: len(rest) - len(ext)]
    head, name = os.path.split(lab)
    parts = [q for q in head.split(os.sep) if q] + [os.path.splitext(name)[0]]
    if "labels" in parts:
        i = len(parts) - 1 - parts[::-1].index("labels")
        return "/".join(parts[i + 1 :])
    return parts[-1]


def _find_names(labels_dir: Path) -> tuple[str, ...]:
    for cand in [labels_dir.parent / "classes.names", labels_dir / "classes.names", labels_dir.parent / "classes.txt"]:
        if cand.is_file():
            return tuple(l.strip() for l in cand.read_text(encoding="utf-8-sig").splitlines() if l.strip())
    found = sorted(labels_dir.parent.glob("*.names"))
    if found:
        return tuple(l.strip() for l in found[0].read_text(encoding="utf-8-sig").splitlines() if l.strip())
    raise YoloToolsError(f"{labels_dir}: no class names found (give --names FILE or put classes.names beside the labels folder)")


def _load_sidecar(path: Path, problems: Problems) -> dict:
    data = load_json(path)
    if not isinstance(data, dict) or data.get("format") != "yolotools-sidecar":
        problems.warning("bad_sidecar", path, "not a yolotools sidecar; ignored")
        return {}
    out = dict(data.get("images", {}))
    out["__category_ids__"] = data.get("category_ids", [])
    return out


def _flag_positions(side: dict, lines) -> tuple[list[int], list[int], list]:
    """Where in ``lines`` (the boxes' label-file line numbers) the boxes a
    sidecar entry flags difficult and crowd are, and the flagged lines with no
    box (difficult's first, each in the entry's order)."""
    pos = {ln: i for i, ln in enumerate(lines)}
    at: tuple[list[int], list[int]] = ([], [])
    stale = []
    for key, out in (("difficult_lines", at[0]), ("crowd_lines", at[1])):
        for ln in side.get(key, []):
            try:
                i = pos.get(ln)
            except TypeError:  # not a line number at all (a list in a hand-edited sidecar)
                i = None
            if i is None:
                stale.append(ln)
            else:
                out.append(i)
    return at[0], at[1], stale


def _stale_message(ln) -> str:
    return f"sidecar flags line {ln}, which has no box; flag ignored"


def _sidecar_flags(side: dict, lines: list[int], lab, problems: Problems) -> tuple[np.ndarray, np.ndarray]:
    """The difficult and crowd flags of the boxes on ``lines`` (their label-file
    line numbers) from a sidecar entry; a flagged line with no box is a warning."""
    d_at, c_at, stale = _flag_positions(side, lines)
    diff = np.zeros(len(lines), bool)
    crowd = np.zeros(len(lines), bool)
    diff[d_at] = True
    crowd[c_at] = True
    for ln in stale:
        problems.warning("stale_sidecar", lab, _stale_message(ln))
    return diff, crowd


def _apply_sidecar(ann: Annotations, lines: list[int], side: dict, hw, lab: Path, problems: Problems) -> Annotations:
    n = len(ann)
    diff, crowd = _sidecar_flags(side, lines, lab, problems)
    area = None
    if "area" in side and len(side["area"]) == n:
        area = np.array(side["area"], dtype=np.float64)
    attrs = None
    if isinstance(side.get("attrs"), dict):
        pos = {ln: i for i, ln in enumerate(lines)}
        attrs = [None] * n
        for ln, a in side["attrs"].items():
            i = pos.get(int(ln)) if str(ln).isdigit() else None
            if i is None or not isinstance(a, dict):
                problems.warning("stale_sidecar", lab, f"sidecar attributes for line {ln}, which has no box; ignored")
                continue
            attrs[i] = a
    base = Annotations(ann.boxes, ann.class_ids, scores=ann.scores, is_difficult=diff, is_crowd=crowd, area=area, attrs=attrs)
    extra = side.get("not_written") or []
    if not extra or ann.scores is not None:
        return base
    ex = Annotations(
        Boxes(np.array([e["xyxy"] for e in extra], dtype=np.float64), hw),
        [e["class"] for e in extra],
        is_difficult=[e.get("difficult", False) for e in extra],
        is_crowd=[e.get("crowd", False) for e in extra],
        area=[e["area"] for e in extra] if all("area" in e for e in extra) else None,
        attrs=[e.get("attrs") if isinstance(e.get("attrs"), dict) else None for e in extra],
    )
    return Annotations.concat([base, ex], hw)
