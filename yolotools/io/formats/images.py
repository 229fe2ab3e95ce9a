"""Where the labelling-tool readers find their files: label files below a
folder, images by name in an images folder (each sub-folder listed once, names
confined to it), and image sizes from headers (imagesize, in the process pool)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Sequence

from ...errors import YoloToolsError
from ..files import folder_entries, image_size_hw, inside_root, path_objects

__all__ = ["label_files", "ImageFolder", "header_sizes", "has_suffix"]


def label_files(folder: Path, suffix: str, what: str) -> list[Path]:
    """The ``suffix`` files below ``folder`` (sorted), or a clear error when
    ``folder`` is not a folder or holds none; ``what`` says what it should be."""
    if not folder.is_dir():
        raise YoloToolsError(f"{folder}: expected {what}")
    files = _flat_files(folder, suffix)
    if files is None:  # sub-folders: the general walk
        files = sorted(p for p in folder.rglob("*" + suffix) if p.is_file())
    if not files:
        raise YoloToolsError(f"{folder}: no {suffix} files ({what})")
    return files


def _flat_files(folder: Path, suffix: str) -> list[Path] | None:
    """:func:`label_files`' list for a folder with no sub-folder (one ``scandir``,
    no ``stat`` per file where the file system gives the entry type), else None."""
    names = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.is_dir():
                    return None
                if e.name.endswith(suffix) and e.is_file():
                    names.append(e.name)
    except OSError:
        return None
    base = os.fspath(folder)
    return path_objects([os.path.join(base, n) for n in sorted(names)])


def has_suffix(name: str) -> bool:
    """``bool(PurePosixPath(name).suffix)``, without a path object for a name whose
    last part is a plain file name (readers call this once per image)."""
    last = name.rpartition("/")[2]
    if last in ("", ".", ".."):
        return bool(PurePosixPath(name).suffix)
    i = last.rfind(".")
    return 0 < i < len(last) - 1


_TRIED_EXTS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")  # for an image name written without its extension


class ImageFolder:
    """An images folder, each sub-folder listed once (confined to the folder):
    where readers look up thousands of image names."""

    def __init__(self, root):
        self.root = Path(root)
        self.root_str = os.fspath(root).rstrip("/")
        self._dirs: dict[str, dict[str, bool] | None] = {}

    def listing(self, sub: str) -> dict[str, bool] | None:
        """``{name: is_symlink}`` of ``root/sub`` when it is confined to the root, else None."""
        if sub not in self._dirs:
            try:
                self._dirs[sub] = folder_entries(inside_root(self.root, sub, what="image folder") if sub else self.root)
            except YoloToolsError:
                self._dirs[sub] = None
        return self._dirs[sub]

    @staticmethod
    def candidates(name: str) -> list[str]:
        """``name``, or with each usual extension when it has none."""
        return [name] if has_suffix(name) else [name + e for e in _TRIED_EXTS]

    def listed(self, name: str) -> str | None:
        """The first of :meth:`candidates` that its folder's listing holds as a
        file that is not a link (the name as written), else None."""
        for c in self.candidates(name):
            d, _, base = c.replace("\\", "/").rpartition("/")
            entries = self.listing(d)
            if entries is not None and entries.get(base) is False:
                return c
        return None


def header_sizes(paths: Sequence[str]) -> dict[int, tuple[int, int]]:
    """``{index: (h, w)}`` of the image headers ``imagesize`` reads, in the
    process pool from 2,000 images (:func:`~yolotools.parallel.map_chunks`);
    the others are left to the caller (which reports them)."""
    from ...parallel import map_chunks

    sizes = [hw for part in map_chunks(_sizes_chunk, list(paths)) for hw in part]
    return {i: hw for i, hw in enumerate(sizes) if hw is not None}


def _sizes_chunk(paths: list[str]) -> list[tuple[int, int] | None]:
    """Worker: each header's ``(h, w)``, None where it cannot be read."""
    out: list[tuple[int, int] | None] = []
    for q in paths:
        try:
            out.append(image_size_hw(q))
        except YoloToolsError:
            out.append(None)
    return out
