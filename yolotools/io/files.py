"""File helpers shared by every writer: atomic writes, confined output paths,
safe XML/JSON loading, header-only image sizes."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from ..errors import YoloToolsError

__all__ = [
    "atomic_write_text",
    "atomic_write_bytes",
    "confined_path",
    "load_json",
    "image_size_hw",
    "IMAGE_EXTS",
]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and
    ``os.replace``: readers see the old file or the new one, never half."""
    path = os.fspath(path)
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            os.write(fd, data) if len(data) < (1 << 20) else _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def check_relative(relative: str, root, *, what: str = "path") -> str:
    """Lexical check that ``relative`` stays below its root: no absolute path,
    no ``..`` part, no drive letter.  Returns it with ``/`` separators."""
    rel = str(relative).replace("\\", "/")
    if not rel or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":") or ".." in rel.split("/"):
        raise YoloToolsError(f"{what} {relative!r} would be written outside the output folder {root}; refusing")
    return rel


def confined_path(root: Path, relative: str, *, what: str = "path") -> Path:
    """``root / relative``, refusing anything that would land outside ``root``
    (absolute paths, ``..`` parts, drive letters, backslash tricks, symlinked
    folders that lead out)."""
    rel = check_relative(relative, root, what=what)
    out = Path(root, *PurePosixPath(rel).parts)
    root_r = os.path.realpath(root)
    # resolve the folder only: the leaf itself may be a symlink we made (and
    # os.replace swaps the link, it never writes through it)
    out_r = os.path.join(os.path.realpath(out.parent), out.name)
    if out_r != root_r and not out_r.startswith(root_r.rstrip(os.sep) + os.sep):
        raise YoloToolsError(f"{what} {relative!r} resolves outside the output folder {root} (symlink?); refusing")
    return out


def load_json(path: Path):
    """Parse a JSON file (orjson when installed: 3-5x faster on large results
    files), turning I/O and syntax errors into one-line user errors."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise YoloToolsError(f"{path}: file not found") from None
    except OSError as e:
        raise YoloToolsError(f"{path}: cannot read: {e.strerror}") from None
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency
        orjson = None
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # re-parse with json for its line/column message
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise YoloToolsError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise YoloToolsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def image_size_hw(path: Path) -> tuple[int, int]:
    """(height, width) from the image header only (no decoding).  Raises
    :class:`YoloToolsError` naming the file when it is missing or unreadable."""
    import imagesize

    try:
        w, h = imagesize.get(str(path))
    except FileNotFoundError:
        raise YoloToolsError(f"{path}: image not found") from None
    except (OSError, ValueError) as e:
        raise YoloToolsError(f"{path}: cannot read image header: {e}") from None
    if w is None or h is None or w <= 0 or h <= 0:
        raise YoloToolsError(f"{path}: unreadable or unsupported image header")
    return int(h), int(w)
