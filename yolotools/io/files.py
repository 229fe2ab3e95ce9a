"""File helpers shared by every writer: atomic writes, confined output paths,
safe XML/JSON loading, header-only image sizes."""

from __future__ import annotations

import contextlib

import functools
import json
import os
import re
import sys
from pathlib import Path, PosixPath as _PosixPath, PurePosixPath

from ..errors import YoloToolsError

__all__ = [
    "atomic_write_text",
    "inside_root",
    "is_regular_file",
    "is_plain_name",
    "is_normal_abs",
    "json_str",
    "folder_entries",
    "check_output",
    "load_yaml",
    "atomic_write_bytes",
    "confined_path",
    "relative_name",
    "load_json",
    "plain_image_id",
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


def relative_name(name: str) -> PurePosixPath | None:
    """``name`` (an image name read from a label file, ``/`` separators) as a
    relative path, or ``None`` when it is empty or would leave its folder:
    absolute, a ``..`` part, a drive letter, a NUL byte.  The lexical check every
    reader makes before a name becomes a path or an image id."""
    pp = PurePosixPath(name)
    if not name.strip() or "\x00" in name or pp.is_absolute() or ".." in pp.parts or (len(name) > 1 and name[1] == ":"):
        return None
    return pp


def plain_image_id(name: str) -> str | None:
    """``str(PurePosixPath(name).with_suffix(""))`` for a plain relative name
    (no empty, ``.`` or ``..`` part, no backslash, NUL or drive), as string
    operations (no path object: readers call this once per image); None for any
    other name, which then goes through :func:`relative_name`."""
    if "\\" in name or "\x00" in name or (len(name) > 1 and name[1] == ":") or not name.strip():
        return None
    if "/" not in name:  # one part (the common case)
        if name == "." or name == "..":
            return None
        i = name.rfind(".")
        return name[:i] if 0 < i < len(name) - 1 else name
    parts = name.split("/")
    if "" in parts or "." in parts or ".." in parts:
        return None
    last = parts[-1]
    i = last.rfind(".")
    return name[: len(name) - len(last) + i] if 0 < i < len(last) - 1 else name


_JSON_PLAIN = re.compile(r'[ -!#-\[\]-~]*')  # printable ASCII but '"' and '\\': what json.dumps writes as it is


def json_str(s: str) -> str:
    """``json.dumps(s)`` (ASCII, escaped), without the encoder for plain text
    (writers call it once per name)."""
    if _JSON_PLAIN.fullmatch(s):
        return f'"{s}"'
    return json.dumps(s)


def is_plain_name(name: str) -> bool:
    """A name that is one path component below its folder as written: no
    separator, dot part, NUL or drive (joining it to a folder is a string
    concatenation, and it cannot leave the folder but through a symlink)."""
    return bool(name) and "/" not in name and "\\" not in name and "\x00" not in name and name not in (".", "..") \
        and not (len(name) > 1 and name[1] == ":")


def folder_entries(folder) -> dict[str, bool] | None:
    """``{name: is_symlink}`` of a folder's entries, read once (``os.scandir``: no
    ``stat`` per name where the file system gives the entry type), or None when it
    cannot be listed: for readers that look up thousands of image names in it."""
    try:
        with os.scandir(folder) as it:
            return {e.name: e.is_symlink() for e in it}
    except OSError:
        return None


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


def _norm(p) -> str:
    return os.path.normpath(os.path.abspath(os.fspath(p)))


@functools.lru_cache(maxsize=256)
def _norm_root(root: str) -> str:
    """:func:`_norm` of a root folder, cached: every name of a dataset is checked against the same few."""
    return _norm(root)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_normal_abs(path: str) -> bool:
    """An absolute POSIX path string that ``os.path.normpath`` leaves as it is
    (no empty, ``.`` or ``..`` part, no trailing ``/``) and that has no
    backslash or NUL (which the readers treat apart): its parts are its
    ``/``-separated pieces, so string operations give what the path functions
    would.  The test of every such shortcut."""
    if os.sep != "/" or path[:1] != "/" or "\\" in path or "\x00" in path:
        return False
    return path == "/" or ("//" not in path and "/./" not in path and "/../" not in path and not path.endswith(("/", "/.", "/..")))


def path_object(path: str) -> Path:
    """``Path(path)``, by :func:`path_objects`' shortcut where it applies."""
    return path_objects([path])[0]


def path_objects(paths: list[str]) -> list[Path]:
    """``[Path(s) for s in paths]`` for many path strings, faster (readers make one
    per image): on CPython 3.11 a path :func:`is_normal_abs` takes is split
    here instead of by pathlib's general parser; any
    other string, or another Python, goes through ``Path``."""
    make = getattr(_PosixPath, "_from_parsed_parts", None)
    if make is None or sys.version_info[:2] != (3, 11) or os.sep != "/":
        return [Path(s) for s in paths]
    out = []
    for s in paths:
        if s != "/" and is_normal_abs(s):
            out.append(make("", "/", ["/", *s[1:].split("/")]))
        else:
            out.append(Path(s))
    return out


def inside_root(root: Path | str, name: str, *, what: str = "file name", follow_links: bool = True) -> Path:
    """:func:`inside_root_str` as a ``Path``."""
    return Path(inside_root_str(root, name, what=what, follow_links=follow_links))


def inside_root_str(root: Path | str, name: str, *, what: str = "file name", follow_links: bool = True) -> str:
    """The path (a normalised absolute string) that ``name`` (read from a data file: an image file name, an
    image-set id, a list-file line) names below ``root``, or a
    :class:`YoloToolsError` saying why it is refused.

    Refused: empty names, NUL bytes, and anything that leaves ``root``:
    ``..`` parts, absolute paths elsewhere, drive letters, backslash tricks, and
    (``follow_links=True``) a symlink, at any level, that resolves outside
    ``root``.  An absolute name inside ``root`` is accepted (Darknet list files
    hold absolute paths).  ``follow_links=False`` is for datasets whose images
    are links to their sources by design (``convert --images link`` output):
    the name is then checked as written."""
    s = str(name)
    if not s.strip():
        raise YoloToolsError(f"empty {what}")
    if "\x00" in s:
        raise YoloToolsError(f"{what} {s!r} contains a NUL byte; refused")
    s = s.replace("\\", "/")
    r = os.fspath(root)
    root_n = _norm_root(r) if os.path.isabs(r) else _norm(r)  # a relative root depends on the working folder: not cached
    if len(s) > 1 and s[1] == ":" and s[0].isalpha():
        raise YoloToolsError(f"{what} {name!r} is a drive path outside {root}; refused")
    cand = _norm(s if os.path.isabs(s) else os.path.join(root_n, s))
    if not _within(cand, root_n):
        raise YoloToolsError(f"{what} {name!r} points outside {root}; refused")
    if follow_links and not _within(_real(cand), _real_dir(root_n)):
        raise YoloToolsError(f"{what} {name!r} resolves outside {root} (through a symlink); refused")
    return cand


@functools.lru_cache(maxsize=4096)
def _real_dir(d: str) -> str:
    """``realpath`` of a folder, cached: thousands of names share a few folders."""
    return os.path.realpath(d)


def _real(p: str) -> str:
    """``realpath`` of ``p`` with its folder resolved once (one ``lstat`` per name
    unless the name itself is a link)."""
    if os.path.islink(p):
        return os.path.realpath(p)
    return os.path.join(_real_dir(os.path.dirname(p)), os.path.basename(p))


def is_regular_file(path: Path | str) -> bool:
    """True for a regular file (links followed); False for folders, devices,
    FIFOs, sockets and missing paths: only regular files are read as images or
    copied/linked into an output."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_output(out: Path | str, inputs, *, what: str = "--out") -> None:
    """Refuse an output path that is one of the inputs or a folder that holds
    one (writing there could replace what is being read).  ``inputs``: paths of
    input files or folders; ``None`` entries are ignored."""
    o = _norm(out)
    o_real = os.path.realpath(o)
    o_is_file = os.path.isfile(o_real)
    for i in inputs:
        if i is None:
            continue
        for cand in {_norm(i), os.path.realpath(_norm(i))}:
            if cand in (o, o_real):
                raise YoloToolsError(f"{what} {out} is an input ({i}); choose another output path")
            if _within(cand, o) or _within(cand, o_real):
                raise YoloToolsError(f"{what} {out} contains the input {i}; choose an output folder outside the inputs")
            if o_is_file and os.path.isdir(cand) and _within(o_real, cand):
                raise YoloToolsError(f"{what} {out} is an input (a file inside {i}); choose another output path")


MAX_YAML_BYTES = 16 << 20


def load_yaml(path: Path | str, *, what: str = "YAML file"):
    """Parse a YAML file safely: ``yaml.SafeLoader`` (no Python objects), at most
    16 MiB, and no aliases (``*name``): data files never need them and nested
    aliases expand exponentially (the "billion laughs" of YAML).  Errors are
    one line naming the file."""
    import yaml

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                ev = self.peek_event()
                raise YoloToolsError(
                    f"{path}: line {ev.start_mark.line + 1}: YAML alias *{ev.anchor} refused "
                    f"(aliases can expand without bound; write the values out)")
            return super().compose_node(parent, index)

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise YoloToolsError(f"{path}: file not found") from None
    except OSError as e:
        raise YoloToolsError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_YAML_BYTES:
        raise YoloToolsError(f"{path}: {what} larger than {MAX_YAML_BYTES >> 20} MiB; refused")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise YoloToolsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise YoloToolsError(f"{path}: malformed YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise YoloToolsError(f"{path}: YAML nested too deeply; refused") from None


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off while a bounded job builds many objects
    and no cycles (parsing a JSON file, turning it into columns), then back as it
    was: with it on, parsing a 47 MB COCO results file took 1.3 s instead of 0.4 s
    here (each young-generation pass scans the objects made so far).  Reference
    counting still frees everything."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_json(path: Path):
    """Parse a JSON file with orjson, turning I/O and syntax errors into
    one-line user errors.  The one rule for text: valid UTF-8 without lone
    surrogates (raw or escaped), or the file is refused.  What orjson refuses
    only for JSON's non-finite numbers (``NaN``, ``1e400``; Python's json writes
    them) is read by the standard library's parser, which also words the
    message for a malformed file; the readers then report such numbers per
    record."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise YoloToolsError(f"{path}: file not found") from None
    except OSError as e:
        raise YoloToolsError(f"{path}: cannot read: {e.strerror}") from None
    import orjson

    try:
        with gc_paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        # the encoding JSON allows (UTF-8, with or without a BOM, or UTF-16/32), strictly: no encoded surrogates
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as e:
        raise YoloToolsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        out = json.loads(text)
    except RecursionError:
        raise YoloToolsError(f"{path}: JSON nested too deeply; refused") from None
    except json.JSONDecodeError as e:
        raise YoloToolsError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        json.dumps(out, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        raise YoloToolsError(f"{path}: not UTF-8 text (a string escapes a lone surrogate, e.g. \\ud800)") from None
    except RecursionError:
        raise YoloToolsError(f"{path}: JSON nested too deeply; refused") from None
    return out


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
