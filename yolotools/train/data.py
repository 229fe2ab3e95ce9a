"""The trainer's data loader: a torch ``Dataset`` over any dataset the readers
load, applying an augmentation recipe and ending at the training size.

Each item is decided by ``sample_rng(seed, epoch, index)`` alone, so two
workers never repeat an augmentation and a resumed run sees the same samples.
The trainer's :class:`EpochSampler` yields ``(epoch, index)`` keys, so one
loader with persistent workers serves every epoch (spawned workers start only
once per run); plain integer keys use :meth:`YoloDataset.set_epoch`.  Items are
``(image (3, S, S) float32 0..1 (uint8 0..255 with ``uint8=True``), targets (n, 6) [0, class, cx, cy, w, h]
normalised)``; :func:`collate` stacks a batch and writes the image index into
column 0.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from ..augment import AugmentConfig, Augmenter, Sample, load_sample, sample_rng
from ..boxes import BoxFormat, Boxes

__all__ = ["YoloDataset", "EpochSampler", "collate", "worker_init", "make_loader"]


class YoloDataset(Dataset):
    def __init__(self, dataset, *, recipe: str = "ultralytics", img_size: int = 416, seed: int = 0,
                 config: AugmentConfig | None = None, cache_images: bool = False, uint8: bool = False,
                 mosaic_until: int | None = None, cache: str = "off", cache_dir=None, progress: bool = False,
                 buffer_mb: int = 256):
        from dataclasses import replace

        import cv2

        from ..errors import YoloToolsError

        # OpenCV's own thread pool deadlocks forked DataLoader workers once the
        # parent has used it; parallelism comes from the workers instead
        cv2.setNumThreads(0)

        self.records = [r for r in dataset.records if r.path is not None]
        if not self.records:
            raise YoloToolsError("no images to train on (records without image paths)")
        self.class_map = dataset.class_map
        self.img_size = img_size
        self.aug = Augmenter(recipe, replace(config or AugmentConfig(), img_size=img_size))
        self.seed = seed
        self.uint8 = uint8  # items as uint8 0..255 (a quarter of the bytes through worker IPC and to the GPU)
        self.epoch = 0
        self.mosaic_until = mosaic_until  # epochs from this one on: no mosaic (ultralytics recipe's close_mosaic)
        self._cache: dict[int, Sample] | None = {} if cache_images else None  # this process's decoded images (API only)
        if cache not in ("off", "disk", "ram"):
            raise YoloToolsError(f"cache must be 'off', 'disk' or 'ram', got {cache!r}")
        self._disk = None
        # --cache off, mosaic and letterbox recipes: each process keeps the images it decodes, resized as
        # the cache stores them, up to buffer_mb (most recently used kept); Ultralytics keeps such a buffer
        # too (buffer_mb=0 keeps nothing: every image decoded each time, by the same decode_resized)
        use_buffer = cache == "off" and recipe in ("ultralytics", "letterbox")
        self._buffer: OrderedDict[int, np.ndarray] | None = OrderedDict() if use_buffer else None
        self._buffer_mb = buffer_mb
        self._buffer_left = buffer_mb << 20
        if cache != "off":  # decoded once, resized to img_size (long side), memory-mapped .npy files (train/cache.py)
            from .cache import DiskCache

            self._disk = DiskCache(self.records, img_size, cache_dir, mode=cache).fill(progress=progress)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getstate__(self):  # a loader worker starts with an empty buffer (not a copy of this process's images)
        state = dict(self.__dict__)
        if state.get("_buffer") is not None:
            state["_buffer"] = OrderedDict()
            state["_buffer_left"] = self._buffer_mb << 20
        return state

    def __len__(self) -> int:
        return len(self.records)

    def _resized(self, i: int, img: np.ndarray) -> Sample:
        """Image ``i`` as cached (long side ``img_size``): its boxes scaled exactly as the mosaic scales them."""
        rec = self.records[i]
        a = rec.annotations
        (h0, w0), (h, w) = rec.image_hw, img.shape[:2]
        xyxy = np.clip(a.boxes.xyxy, 0, [w0, h0, w0, h0]) * [w / w0, h / h0, w / w0, h / h0]
        return Sample(img, xyxy, a.class_ids, a.is_difficult, a.is_crowd)

    def _buffered(self, i: int) -> Sample:
        img = self._buffer.get(i)
        if img is not None:
            self._buffer.move_to_end(i)
            return self._resized(i, img)
        from .cache import decode_resized

        rec = self.records[i]
        if rec.path is None:
            return load_sample(rec)  # its error
        img = decode_resized(str(rec.path), rec.image_hw, self.img_size)
        if img is None:
            return load_sample(rec)  # decoded at another size than its labels say: as it is, not kept (as the cache)
        while self._buffer and self._buffer_left < img.nbytes:
            self._buffer_left += self._buffer.popitem(last=False)[1].nbytes
        if self._buffer_left >= img.nbytes:
            self._buffer[i] = img
            self._buffer_left -= img.nbytes
        return self._resized(i, img)

    def _load(self, i: int) -> Sample:
        if self._disk is not None:
            img = self._disk.load(i)
            if img is not None:  # boxes scaled to the resized image exactly as the mosaic scales them
                return self._resized(i, img)
        if self._buffer is not None:
            return self._buffered(i)
        if self._cache is not None:
            if i not in self._cache:
                self._cache[i] = load_sample(self.records[i])
            return self._cache[i]
        return load_sample(self.records[i])

    def __getitem__(self, key):
        epoch, i = key if isinstance(key, tuple) else (self.epoch, key)
        rng = None if self.aug.recipe == "letterbox" else sample_rng(self.seed, epoch, i)  # letterbox draws nothing
        mosaic = self.mosaic_until is None or epoch < self.mosaic_until
        res = self.aug(self._load(i), rng, lambda g: self._load(int(g.integers(len(self.records)))), mosaic=mosaic)
        s = res.sample
        h, w = s.image.shape[:2]
        cxcywh = Boxes(s.xyxy, (h, w)).to_array(BoxFormat.CXCYWH, normalized=True)
        t = np.zeros((len(cxcywh), 6), np.float32)
        t[:, 1] = s.class_ids
        t[:, 2:] = cxcywh
        img = torch.from_numpy(np.ascontiguousarray(s.image.transpose(2, 0, 1)))
        return (img if self.uint8 else img.float().div_(255.0)), torch.from_numpy(t)


class EpochSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` for the order set by :meth:`set`; the loader
    reads it afresh each epoch in the main process, so persistent workers need
    no restart to see a new epoch."""

    def __init__(self, length: int):
        self.epoch, self.order = 0, list(range(length))

    def set(self, epoch: int, order: list[int]) -> None:
        self.epoch, self.order = epoch, list(order)

    def __iter__(self):
        return ((self.epoch, i) for i in self.order)

    def __len__(self) -> int:
        return len(self.order)


def collate(batch):
    imgs, targets = zip(*batch)
    for k, t in enumerate(targets):
        t[:, 0] = k
    return torch.stack(imgs), torch.cat(targets, 0)


def worker_init(worker_id: int) -> None:
    """Keep each worker's numpy/OpenCV from sharing state (the samples
    themselves are seeded per index, see the module doc)."""
    import cv2

    cv2.setNumThreads(1)
    np.random.seed((torch.initial_seed() + worker_id) % 2**32)


def make_loader(dataset: YoloDataset, *, batch_size: int, workers: int = 0, shuffle: bool = False, sampler=None,
                drop_last: bool = False, pin_memory: bool = False):
    """A DataLoader whose workers are *spawned*, not forked: a forked child of a
    process whose OpenCV (or OpenMP) thread pool has run can deadlock, so the
    workers start clean.  (Scripts that use it need the usual
    ``if __name__ == "__main__":`` guard.)"""
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle if sampler is None else False, sampler=sampler, num_workers=workers,
        collate_fn=collate, worker_init_fn=worker_init if workers else None, drop_last=drop_last, pin_memory=pin_memory,
        multiprocessing_context="spawn" if workers else None, persistent_workers=bool(workers),
    )
