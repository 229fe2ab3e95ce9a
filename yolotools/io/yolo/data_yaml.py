"""Ultralytics data.yaml: the one loader (safe, bounded), class names, the
dataset root and the image lists of a split, every name confined to the root."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...errors import Problems, YoloToolsError
from ..files import IMAGE_EXTS, inside_root, inside_root_str, is_normal_abs, load_yaml

__all__ = ["yaml_key_for_split", "load_data_yaml", "names_from_yaml", "dataset_root", "image_list", "label_path_for_image", "label_paths_for_images",
           "yaml_dump", "MAX_CLASSES"]


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
        names_from_yaml(data, path)
    return data


MAX_CLASSES = 100_000


def _class_name(v, path, where) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise YoloToolsError(f"{path}: names[{where}] is a {type(v).__name__}, expected a class name (text)")
    s = str(v).strip()
    if not s or any(c in s for c in "\n\r\x00"):
        raise YoloToolsError(f"{path}: names[{where}] {s!r} is empty or holds a line break/NUL (it would shift a .names file)")
    return s


def names_from_yaml(data: dict, path: Path) -> tuple[str, ...]:
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


def yaml_dump(data: dict) -> str:
    """``yaml.safe_dump`` of a data.yaml dict (block style, keys in order); a
    dict of plain keys and values (what convert writes for ASCII names) is
    written here without importing PyYAML (8 ms), the same text (tested)."""
    text = _plain_yaml(data)
    if text is not None:
        return text
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


_PLAIN_SCALAR = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_YAML_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL y Y n N".split())


def _plain_yaml(data: dict) -> str | None:
    """The block YAML of ``data`` when every key is a plain word and every value
    a plain word, an int, or a list / int-keyed dict of those (what PyYAML
    writes unquoted); None for anything else."""
    def scalar(v):
        if v.__class__ is int:
            return str(v)
        if v.__class__ is str and _PLAIN_SCALAR.match(v) and v not in _YAML_WORDS:
            return v
        return None

    out = []
    for k, v in data.items():
        key = scalar(k) if k.__class__ is str else None
        if key is None:
            return None
        if v.__class__ is list:
            items = [scalar(x) for x in v]
            if None in items:
                return None
            out.append(f"{key}: []" if not items else f"{key}:\n" + "".join(f"- {x}\n" for x in items)[:-1])
        elif v.__class__ is dict:
            items = [(scalar(a), scalar(b)) for a, b in v.items()]
            if any(a is None or b is None or a.__class__ is not str for a, b in items) or any(k2.__class__ is not int for k2 in v):
                return None
            out.append(f"{key}: {{}}" if not items else f"{key}:\n" + "".join(f"  {a}: {b}\n" for a, b in items)[:-1])
        else:
            t = scalar(v)
            if t is None:
                return None
            out.append(f"{key}: {t}")
    return "\n".join(out) + "\n"


def label_path_for_image(img: str) -> str:
    """Ultralytics' rule: the last ``/images/`` (or ``/JPEGImages/``) folder
    becomes ``/labels/``, suffix ``.txt``.  Strings (normalised paths, as
    :func:`image_list` gives): this runs for every image of a dataset."""
    head, name = os.path.split(img)
    if os.sep == "/" and head[:1] == "/":
        h = head + "/"
        i, j = h.rfind("/images/"), h.rfind("/JPEGImages/")
        if i >= 0 or j >= 0:
            h = h[:i] + "/labels/" + h[i + 8 :] if i > j else h[:j] + "/labels/" + h[j + 12 :]
            return h + os.path.splitext(name)[0] + ".txt"
    parts = head.split(os.sep)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("images", "JPEGImages"):
            parts[i] = "labels"
            break
    return os.path.join(os.sep.join(parts), os.path.splitext(name)[0] + ".txt")


def label_paths_for_images(imgs: list[str]) -> list[str]:
    """``[label_path_for_image(p) for p in imgs]``, each folder worked out once
    (a dataset's images share a few folders)."""
    folders: dict[str, str] = {}
    out = []
    for img in imgs:
        d, sep, name = img.rpartition("/")
        i = name.rfind(".")
        if os.sep != "/" or not sep or i <= 0 or name[0] == "." or "//" in img:  # the general rule decides
            out.append(label_path_for_image(img))
            continue
        lab = folders.get(d)
        if lab is None:
            lab = folders[d] = label_path_for_image(d + "/x")[:-5]  # the folder's labels folder, with its "/"
        out.append(lab + name[:i] + ".txt")
    return out


def image_list(entry, base: Path, yaml_path: Path, problems: Problems | None = None) -> list[str]:
    """Image paths of one data.yaml split entry (a folder, a list file, or a list
    of those).  Every entry and every list line must stay inside the dataset root
    ``base`` (data.yaml ``path``): a line that leaves it is an error for that line
    (reported to ``problems`` with the list file and line number), an entry that
    leaves it a :class:`YoloToolsError`.  Normalised absolute path strings."""
    entries = entry if isinstance(entry, list) else [entry]
    out: list[str] = []
    problems = problems if problems is not None else Problems()
    for e in entries:
        if not isinstance(e, (str, int, float)) or isinstance(e, bool):
            raise YoloToolsError(f"{yaml_path}: split entry {e!r} is not a path")
        try:
            p = inside_root(base, str(e), what="split entry", follow_links=False)
        except YoloToolsError as err:
            raise YoloToolsError(f"{yaml_path}: {err} (the dataset root is {base})") from None
        if p.is_dir():
            out.extend(str(q) for q in sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS))
        elif p.is_file() and p.suffix == ".txt":
            parent = str(p.parent)
            prefix = str(base).rstrip(os.sep) + os.sep
            with open(p, encoding="utf-8-sig", errors="replace") as f:
                for ln, line in enumerate(f, 1):
                    s = line.strip()
                    if not s:
                        continue
                    if s.startswith(prefix) and is_normal_abs(s):  # what inside_root_str returns for it, without its work
                        out.append(s)
                        continue
                    try:
                        out.append(inside_root_str(base, os.path.join(parent, s[2:]) if s.startswith("./") else s, what="list entry",
                                                   follow_links=False))
                    except YoloToolsError as err:
                        problems.error("path_outside_dataset", p, f"{err} (the dataset root is {base}); line skipped", ln)
        else:
            raise YoloToolsError(f"{yaml_path}: split entry {e!r} -> {p} is neither an image folder nor a list file")
    return out


def dataset_root(data: dict, yaml_path: Path) -> Path:
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
