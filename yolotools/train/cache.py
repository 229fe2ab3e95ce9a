"""``--cache disk|ram``: every training image decoded once, resized so its long
side is the training size (bilinear, as the mosaic resizes it), and kept as an
uncompressed ``.npy`` that later epochs (and, for ``disk``, later runs) read
instead of the JPEG.

Files are memory-mapped, not copied, by whoever reads them: every loader worker
and every DDP rank of a machine shares the same pages, so the cache is in memory
once per machine, not once per process (Ultralytics' RAM cache is one copy per
rank).  ``ram`` puts the files in ``/dev/shm`` (memory, checked against its free
space before caching) and removes this run's files when training ends; a killed
run leaves them for the next run on the same images, which reuses and removes
them.  ``disk`` keeps them under ``$XDG_CACHE_HOME/yolotools/images``.

A cached image is named by a hash of its resolved path, byte size, modification
time and the training size, so a changed image (or another ``--img-size``) is
decoded again and a stale file is never used; files of other images and sizes
stay for the runs that need them.  The cache folder defaults to
``$XDG_CACHE_HOME/yolotools/images`` (``~/.cache/...``): the dataset's own
folders are never written to.  Before caching, the bytes still missing are
compared with the free space of that disk and a run that would not fit stops
with a clear error; caching shows a progress bar and uses the data tools' pool.

The ``ultralytics`` recipe's mosaic resizes each image to this same size first,
so its samples are pixel-identical with and without the cache (a test checks
it); the ``letterbox`` and ``darknet`` recipes, and the last ``close_mosaic``
epochs, start from the resized image instead of the full one (bilinear rather
than area-averaged shrinking), as Ultralytics' cache does.  An image whose
decoded size differs from its record's (labels made for another size) is not
cached and is decoded each time.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import YoloToolsError

__all__ = ["DiskCache", "default_cache_dir", "ram_cache_dir", "cached_hw"]

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "yolotools" / "images"


def ram_cache_dir() -> Path:
    """The ``--cache ram`` folder: on the memory filesystem ``/dev/shm``."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        raise YoloToolsError("--cache ram needs a shared-memory filesystem (/dev/shm), which this system does not have; use --cache disk")
    return shm / f"yolotools-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "images"


MAX_OPEN_MAPS = 2048  # per process (Linux allows each process about 65k memory maps)


def cached_hw(hw: tuple[int, int], size: int) -> tuple[int, int]:
    """The size an image of ``hw`` is cached at: long side ``size``, rounded as the mosaic rounds."""
    h0, w0 = hw
    r = size / max(h0, w0)
    return max(1, int(round(h0 * r))), max(1, int(round(w0 * r)))


def _key(path: str, size: int) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    ident = f"{os.path.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{size}"
    return hashlib.sha1(ident.encode("utf-8", "surrogateescape")).hexdigest()


def decode_resized(path: str, hw: tuple[int, int], size: int) -> np.ndarray | None:
    """Image ``path`` as the cache and the mosaic's buffer keep it: RGB, long side ``size``
    (:func:`cached_hw`), bilinear.  A JPEG at least 2, 4 or 8 times larger than that is decoded
    at 1/2, 1/4 or 1/8 scale by the decoder itself (scaled in the DCT: 3-10x faster for large
    photos), then resized.  None when the image does not decode at the labels' size ``hw``
    (e.g. an EXIF rotation): the caller then decodes it whole; a bad file is a
    :class:`YoloToolsError` naming it, as :func:`yolotools.io.images.decode_rgb` says."""
    import cv2

    from ..io.images import decode_rgb

    h0, w0 = int(hw[0]), int(hw[1])
    f = next((k for k in (8, 4, 2) if max(h0, w0) >= size * k), 1)
    img = decode_rgb(path, reduce=f)
    if img.shape[:2] not in ((h0, w0), (-(-h0 // f), -(-w0 // f))):  # whole, or a JPEG scaled by the decoder (the ceiling)
        return None
    h, w = cached_hw((h0, w0), size)
    return img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def _fill_chunk(jobs) -> list[tuple[int, bool]]:
    """Worker: decode, resize and write the cache files of ``jobs``
    (``(index, image path, record hw, size, file)``); ``(index, cached)``."""
    from ..io.files import atomic_write_bytes

    out = []
    for i, path, hw, size, file in jobs:
        try:
            small = decode_resized(path, hw, size)
        except YoloToolsError:
            small = None  # the loader reports it when it needs the image
        if small is None:
            out.append((i, False))
            continue
        buf = io.BytesIO()
        np.save(buf, small, allow_pickle=False)
        atomic_write_bytes(file, buf.getvalue())
        out.append((i, True))
    return out


def _map_npy(f: Path, hw: tuple[int, int]) -> np.ndarray:
    """A read-only map of one cache file, which must hold a C-order ``(h, w, 3)``
    uint8 array: its header is checked against that, not parsed as a Python
    literal (``np.load`` compiles one per file; this is 5x cheaper)."""
    with open(f, "rb") as fh:
        head = fh.read(10)
        if len(head) < 10 or head[:8] != b"\x93NUMPY\x01\x00":
            return np.load(f, mmap_mode="r", allow_pickle=False)  # another version: numpy reads it
        n = int.from_bytes(head[8:10], "little")
        text = fh.read(n).decode("latin1")
    want = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, 3), }" % hw
    if text.rstrip() != want:
        return np.load(f, mmap_mode="r", allow_pickle=False)
    return np.memmap(f, dtype=np.uint8, mode="r", offset=10 + n, shape=(hw[0], hw[1], 3))


class DiskCache:
    """The cache files of ``records`` at ``size`` (``files[i]`` or None when
    image ``i`` is not cached); :meth:`fill` makes the missing ones."""

    def __init__(self, records, size: int, folder: Path | str | None = None, mode: str = "disk"):
        self.size, self.mode = size, mode
        self.folder = Path(folder) if folder is not None else ram_cache_dir() if mode == "ram" else default_cache_dir()
        self.records = records
        self.keys = [_key(str(r.path), size) if r.path is not None else None for r in records]
        self.files: list[Path | None] = [None] * len(records)
        self._maps: "OrderedDict[int, np.ndarray]" = OrderedDict()  # this process's open maps, most recent last

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def missing_bytes(self) -> tuple[list[int], int]:
        todo = [i for i, k in enumerate(self.keys) if k is not None and not self._file(k).is_file()]
        need = sum(int(np.prod(cached_hw(self.records[i].image_hw, self.size))) * 3 + 128 for i in todo)
        return todo, need

    def fill(self, *, progress: bool = False, workers: int | None = None) -> "DiskCache":
        """Write the missing files (a clear error when the disk cannot hold them)."""
        from ..parallel import map_chunks

        todo, need = self.missing_bytes()
        skipped: set[int] = set()
        if todo:
            self.folder.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.folder).free
            if need > free - (256 << 20):  # leave the disk some room
                raise YoloToolsError(f"--cache {self.mode}: {len(todo)} images need {need / 2**30:.2f} GiB in {self.folder}, which has "
                                     f"{free / 2**30:.2f} GiB free; free some space"
                                     + (", set XDG_CACHE_HOME elsewhere" if self.mode == "disk" else ", use --cache disk")
                                     + ", or train with --cache off")
            log.info("caching %d images (%.2f GiB) in %s", len(todo), need / 2**30, self.folder)
            jobs = [(i, str(self.records[i].path), tuple(self.records[i].image_hw), self.size, str(self._file(self.keys[i])))
                    for i in todo]
            for d in {os.path.dirname(j[4]) for j in jobs}:
                os.makedirs(d, exist_ok=True)
            skipped = {i for res in map_chunks(_fill_chunk, jobs, workers=workers, progress=progress, desc="cache images", unit="img",
                                               min_items=64) for i, ok in res if not ok}
            if skipped:
                log.info("%d images not cached (unreadable, or decoded at another size than their labels)", len(skipped))
        # present before (missing_bytes looked) or written now; a file removed since is a decode in load()
        self.files = [None if k is None or i in skipped else self._file(k) for i, k in enumerate(self.keys)]
        return self

    def load(self, i: int) -> np.ndarray | None:
        """The cached ``(h, w, 3) uint8`` RGB image ``i`` (a read-only memory map
        of its file: shared with every process reading it), or None."""
        m = self._maps.get(i)
        if m is not None:
            self._maps.move_to_end(i)
            return m
        f = self.files[i]
        if f is None:
            return None
        try:
            m = _map_npy(f, cached_hw(self.records[i].image_hw, self.size))
        except (OSError, ValueError):  # removed or damaged since: decode instead
            return None
        self._maps[i] = m  # kept open (parsing the .npy header costs more than the copy out of it)
        if len(self._maps) > MAX_OPEN_MAPS:
            self._maps.popitem(last=False)
        return m

    def __getstate__(self):  # loader workers open their own maps
        return {**self.__dict__, "_maps": OrderedDict()}

    def remove(self) -> None:
        """Delete this cache's files (``--cache ram`` at the end of training) and
        the folders they leave empty."""
        parents = set()
        for f in self.files:
            if f is not None:
                try:
                    os.unlink(f)
                    parents.add(f.parent)
                except OSError:
                    pass
        ours = [self.folder] + ([self.folder.parent] if self.mode == "ram" and self.folder == ram_cache_dir() else [])
        for d in sorted(parents) + ours:
            try:
                d.rmdir()  # only when empty: other runs' files stay
            except OSError:
                pass
