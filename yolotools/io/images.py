"""The one image decoder: every command that needs pixels (augment, train,
detect, the trainer's validation, ``audit --decode``) decodes through
:func:`decode_rgb`, so an image that fails there fails the same way everywhere.

Before decoding, the header's size is checked against :data:`MAX_PIXELS` (a PNG
header can claim 60000 x 60000: 10 GiB of pixels) and the file's last bytes
against its format's end marker (a truncated JPEG or PNG decodes to a silently
grey half in some libraries)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import YoloToolsError
from .files import image_size_hw, is_regular_file

__all__ = ["MAX_PIXELS", "decode_rgb", "check_image_file", "inspect_image_file", "ImageFile", "ImageFileError"]

MAX_PIXELS = 1 << 28  # 268 M pixels (16384 x 16384): 0.8 GB as RGB; OpenCV's own limit is 4x this

_PNG_END = b"IEND\xaeB`\x82"


class ImageFileError(YoloToolsError):
    """An image file that cannot be used; ``kind`` is ``"truncated_image"`` or
    ``"unreadable_image"`` (the audit's finding kinds)."""

    def __init__(self, message: str, kind: str = "unreadable_image"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ImageFile:
    """What the header and the last bytes of an image file say."""

    image_hw: tuple[int, int]
    is_jpeg: bool


def inspect_image_file(path: Path | str) -> ImageFile:
    """Header size and format of a regular, complete, not absurdly large image
    file, or an :class:`ImageFileError` saying what is wrong (no decoding)."""
    if not is_regular_file(path):
        raise ImageFileError(f"{path}: missing or not a regular file")
    try:
        hw = image_size_hw(path)
    except YoloToolsError as e:
        raise ImageFileError(str(e)) from None
    if hw[0] * hw[1] > MAX_PIXELS:
        raise ImageFileError(f"{path}: header says {hw[1]}x{hw[0]} pixels, more than the {MAX_PIXELS:,} decoded images may have")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, os.fstat(f.fileno()).st_size - 12))
            tail = f.read()
    except OSError as e:
        raise ImageFileError(f"{path}: cannot read: {e.strerror or e}") from None
    is_jpeg = head[:3] == b"\xff\xd8\xff"
    if is_jpeg and not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ImageFileError(f"{path}: JPEG has no end marker (truncated)", "truncated_image")
    if head == b"\x89PNG\r\n\x1a\n" and _PNG_END not in tail:
        raise ImageFileError(f"{path}: PNG has no IEND chunk (truncated)", "truncated_image")
    return ImageFile(hw, is_jpeg)


def check_image_file(path: Path | str) -> tuple[int, int]:
    """``(height, width)`` of an image file that :func:`inspect_image_file` accepts."""
    return inspect_image_file(path).image_hw


def decode_rgb(path: Path | str, *, reduce: int = 1):
    """``(H, W, 3) uint8`` RGB of an image file, or a :class:`YoloToolsError`
    naming it (missing, not a regular file, truncated, too large, undecodable).
    ``reduce`` (2, 4 or 8): a JPEG is decoded at that fraction of its size by the
    decoder itself (scaled in the DCT, several times faster; each side is the
    ceiling of size / reduce); other formats are decoded whole."""
    import cv2

    info = inspect_image_file(path)
    if reduce > 1 and info.is_jpeg:
        flag, bgr = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce], True
    else:
        rgb = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10: the decoder writes RGB (7% faster, same pixels)
        flag, bgr = (cv2.IMREAD_COLOR, True) if rgb is None else (rgb, False)
    try:
        img = cv2.imread(str(path), flag)
    except cv2.error as e:
        raise YoloToolsError(f"{path}: cannot decode image ({str(e).strip().splitlines()[-1]})") from None
    if img is None:
        raise YoloToolsError(f"{path}: cannot decode image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if bgr else img
