"""Canonical, machine-independent text of what a reader or writer gave.

A reader's result becomes ``{"images", "boxes", "classes", "records": sha256,
"problems": [...]}`` (the records hashed over every field: ids, paths, sizes,
box doubles' bytes, class ids, flags, areas, scores, attributes; problems in
full, in order), or ``{"error": "Type: message"}``; a writer's output folder
becomes ``{relative path: sha256}``.  Paths under the case's temporary folder
and under ../shared/data are written as ``<tmp>`` and ``<shared>``, so the
golden files hold on any machine.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.conftest import SHARED

from yolotools.annotations import DetectionDataset
from yolotools.errors import Problems

_ROOTS: list[tuple[str, str]] = []


def set_tmp(tmp: Path) -> None:
    """The case's temporary folder (and the shared data), longest first, to write as placeholders."""
    roots = {os.fspath(tmp): "<tmp>", os.path.realpath(tmp): "<tmp>", os.fspath(SHARED): "<shared>",
             os.path.realpath(SHARED): "<shared>", os.path.abspath(SHARED): "<shared>"}
    _ROOTS[:] = sorted(roots.items(), key=lambda kv: -len(kv[0]))


def rel(s) -> str | None:
    if s is None:
        return None
    s = os.fspath(s) if isinstance(s, os.PathLike) else str(s)
    for root, name in _ROOTS:
        s = s.replace(root, name)
    return s


def _arr(h, a) -> None:
    if a is None:
        h.update(b"None;")
    else:
        h.update(f"{a.dtype.str}{a.shape}:".encode())
        h.update(a.tobytes())


def dataset_digest(ds: DetectionDataset) -> dict:
    h = hashlib.sha256()
    h.update(repr((ds.class_map.names, getattr(ds.class_map, "source_ids", None))).encode())
    for r in ds.records:
        a = r.annotations
        h.update(repr((r.image_id, rel(r.path), tuple(r.image_hw), r.source_id, a.boxes.image_hw)).encode())
        _arr(h, a.boxes.xyxy)
        for name in ("class_ids", "scores", "is_difficult", "is_crowd", "area"):
            _arr(h, getattr(a, name))
        h.update(repr(None if a.attrs is None else list(a.attrs)).encode())
    return {"images": len(ds), "boxes": int(ds.num_boxes), "classes": list(ds.class_map.names), "records": h.hexdigest()}


def problems_list(probs) -> list:
    items = probs.items if isinstance(probs, Problems) else probs
    out = []
    for p in items:
        d = p.to_dict() if hasattr(p, "to_dict") else dict(p)
        out.append([d["severity"], d["kind"], rel(d["path"]), rel(d["where"]), rel(d["message"])])
    return out


def _value(v):
    """Anything else a reader returns (line-number maps, arrays, results with to_dict)."""
    import numpy as np

    if isinstance(v, DetectionDataset):
        return dataset_digest(v)
    if isinstance(v, Problems):
        return problems_list(v)
    if isinstance(v, np.ndarray):
        h = hashlib.sha256()
        _arr(h, v)
        return {"array": h.hexdigest(), "shape": list(v.shape)}
    if hasattr(v, "to_dict"):
        return _value(v.to_dict())
    if isinstance(v, dict):
        return {rel(k): _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (str, os.PathLike)):
        return rel(v)
    return v


def _result(r):
    if isinstance(r, tuple) and len(r) >= 2 and isinstance(r[0], DetectionDataset):
        out = dataset_digest(r[0])
        out["problems"] = problems_list(r[1])
        if len(r) > 2:
            out["extra"] = _value(r[2:])
        return out
    return _value(r)


def reader_result(run, *, need: Path | None = None, many: bool = False):
    """``run()``'s result made canonical; ``many``: a list of ``(name, result)``."""
    if need is not None and not Path(need).exists():
        return "skip"
    try:
        r = run()
    except Exception as e:  # the error a user sees is part of the answer
        return {"error": f"{type(e).__name__}: {rel(str(e))}"}
    if many:
        return [[name, _result(x)] for name, x in r]
    return _result(r)


def tree_result(run, *, need: Path | None = None):
    """The files ``run()`` wrote under the folder it returns: ``{path: sha256}`` (text with the tmp folder replaced)."""
    if need is not None and not Path(need).exists():
        return "skip"
    try:
        out = Path(run())
    except Exception as e:
        return {"error": f"{type(e).__name__}: {rel(str(e))}"}
    return _tree(out, out)


def _tree(folder: Path, out: Path) -> dict:
    """``{path: sha256 or '-> link'}``; a sub-folder of more than 50 files as ``{path/: {"files": n, "sha256": of the list}}``."""
    files = {}
    for p in sorted(folder.iterdir()):
        name = rel(p.relative_to(out))
        if p.is_symlink():
            files[name] = "-> " + rel(os.readlink(p))
        elif p.is_file():
            data = p.read_bytes()
            for root, ph in _ROOTS:
                data = data.replace(root.encode(), ph.encode())
            files[name] = hashlib.sha256(data).hexdigest()
        elif p.is_dir():
            sub = _tree(p, out)
            if len(sub) > 50:
                files[name + "/"] = {"files": len(sub), "sha256": hashlib.sha256(repr(sorted(sub.items())).encode()).hexdigest()}
            else:
                files.update(sub)
    return files
