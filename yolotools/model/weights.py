"""Darknet ``.weights`` files: load, save, count.

Layout: header ``major, minor, revision`` (int32) and ``seen`` (int64 when
``major * 10 + minor >= 2`` and both are below 1000, else int32), then for every
convolutional layer in network order: with batch norm ``bias (beta), scale
(gamma), rolling mean, rolling variance``, without it ``bias``; then the
convolution weights ``(out, in, k, k)``; all float32 little-endian.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ..errors import YoloToolsError
from ..io.files import atomic_write_bytes
from .layers import ConvBNAct

log = logging.getLogger(__name__)

__all__ = ["darknet_value_count", "load_darknet_weights", "save_darknet_weights"]


def _conv_count(m: ConvBNAct) -> int:
    n = m.conv.weight.numel()
    if m.bn is not None:
        n += 4 * m.bn.num_features
    else:
        n += m.conv.bias.numel()
    return n


def darknet_value_count(convs: list[ConvBNAct]) -> int:
    """Floats a ``.weights`` file stores for these convolutions."""
    return sum(_conv_count(m) for m in convs)


def _read_header(data: bytes, path) -> tuple[tuple[int, int, int, int], int]:
    if len(data) < 16:
        raise YoloToolsError(f"{path}: {len(data)} bytes is too short for a Darknet weights header")
    major, minor, revision = np.frombuffer(data[:12], "<i4")
    if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
        if len(data) < 20:
            raise YoloToolsError(f"{path}: truncated header")
        seen = int(np.frombuffer(data[12:20], "<i8")[0])
        off = 20
    else:
        seen = int(np.frombuffer(data[12:16], "<i4")[0])
        off = 16
    return (int(major), int(minor), int(revision), seen), off


def load_darknet_weights(model, path: Path | str, *, num_layers: int | None = None, strict_size: bool = True) -> dict:
    """Load ``path`` into ``model`` (anything with ``darknet_convs()`` and, for a
    layer cutoff, ``conv_layer_indices()``).

    ``num_layers``: load only layers ``0 .. num_layers-1`` (a backbone prefix,
    e.g. 74 for ``darknet53.conv.74``); the file must hold exactly those values.
    A truncated file, or one with extra values, is an error that says how many
    values were expected and found."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise YoloToolsError(f"{path}: weights file not found") from None
    header, off = _read_header(data, path)
    convs = model.darknet_convs()
    if num_layers is not None:
        idx = model.conv_layer_indices()
        convs = [m for m, i in zip(convs, idx) if i < num_layers]
    need = darknet_value_count(convs)
    have_bytes = len(data) - off
    if have_bytes % 4:
        raise YoloToolsError(f"{path}: {have_bytes} bytes after the header is not a whole number of float32 values")
    have = have_bytes // 4
    if have < need or (strict_size and have != need):
        what = f"layers 0..{num_layers - 1}" if num_layers is not None else f"{len(convs)} convolutional layers"
        raise YoloToolsError(
            f"{path}: expected {need:,} float32 values for {what}, found {have:,} "
            f"({'truncated file' if have < need else 'file is for a larger network'}; wrong cfg, --classes or --num-layers?)"
        )
    vals = np.frombuffer(data, "<f4", count=need, offset=off)
    p = 0

    def take(t: torch.Tensor):
        nonlocal p
        n = t.numel()
        with torch.no_grad():
            t.copy_(torch.from_numpy(vals[p : p + n].copy()).view_as(t))
        p += n

    for m in convs:
        if m.bn is not None:
            take(m.bn.bias)
            take(m.bn.weight)
            take(m.bn.running_mean)
            take(m.bn.running_var)
        else:
            take(m.conv.bias)
        take(m.conv.weight)
    return {"major": header[0], "minor": header[1], "revision": header[2], "seen": header[3], "values": need, "convs": len(convs)}


def save_darknet_weights(model, path: Path | str, *, seen: int = 0, num_layers: int | None = None,
                         header: tuple[int, int, int] = (0, 2, 0)) -> int:
    """Write ``model`` as Darknet weights, atomically: ``header`` (major, minor,
    revision; default 0.2.0) and ``seen`` (int64 when major*10+minor >= 2, else
    int32, as Darknet reads it).  Returns the number of float values written."""
    convs = model.darknet_convs()
    if num_layers is not None:
        convs = [m for m, i in zip(convs, model.conv_layer_indices()) if i < num_layers]
    major, minor, revision = (int(v) for v in header)
    wide = major * 10 + minor >= 2 and major < 1000 and minor < 1000
    parts = [np.array([major, minor, revision], "<i4").tobytes(), np.array([seen], "<i8" if wide else "<i4").tobytes()]
    n = 0
    for m in convs:
        ts = [m.bn.bias, m.bn.weight, m.bn.running_mean, m.bn.running_var] if m.bn is not None else [m.conv.bias]
        ts.append(m.conv.weight)
        for t in ts:
            a = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").ravel()
            parts.append(a.tobytes())
            n += a.size
    atomic_write_bytes(Path(path), b"".join(parts))
    return n


def load_darknet_weights_resized(model, path: Path | str) -> dict:
    """Load a full-model ``.weights`` file trained for another number of classes
    (e.g. Darknet's 80-class ``yolov3.weights`` into a 20-class network): the
    file's class count is solved from its size, the file is read into that
    network, and every layer whose shape matches is copied; the convolutions
    feeding the heads keep their initialisation.  A file for this very network
    loads as :func:`load_darknet_weights` does."""
    from .cfg import override_heads
    from .darknet import DarknetNet

    path = Path(path)
    try:
        return load_darknet_weights(model, path)
    except YoloToolsError as first:
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                _, off = _read_header(f.read(20), path)
        except OSError:
            raise first from None

        def need(classes: int) -> int:
            with torch.device("meta"):  # shapes only, nothing allocated
                return darknet_value_count(DarknetNet(sections=override_heads(model.sections, classes=classes)).darknet_convs())

        n1, n2 = need(1), need(2)  # values are linear in the class count (a network needs at least one class)
        have, base, per_class = (size - off) // 4, 2 * n1 - n2, n2 - n1
        if per_class <= 0 or (have - base) % per_class or not 0 < (have - base) // per_class <= 100_000:
            raise YoloToolsError(f"{path}: {have:,} float32 values fit neither this network nor it with any other number of classes "
                                 f"({base:,} + {per_class:,} per class); a truncated file, or weights of another architecture?") from None
        classes = (have - base) // per_class
        src = DarknetNet(sections=override_heads(model.sections, classes=classes))
        info = load_darknet_weights(src, path)
    kept = load_matching(model, src.state_dict())
    log.info("%s: weights for %d classes; %d head tensors left initialised", path, classes, len(kept))
    return {**info, "file_classes": classes, "initialised": kept}


def load_matching(model, state: dict) -> list[str]:
    """Copy every tensor of ``state`` whose name and shape match ``model``'s;
    returns the names of ``model``'s tensors left as they were (sorted)."""
    own = model.state_dict()
    copied = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(copied, strict=False)
    return sorted(set(own) - set(copied))
