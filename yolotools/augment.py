"""Augmentation recipes whose boxes stay in sync with the pixels.

One internal box format: xyxy in pixels of the current image (albumentations'
``pascal_voc``), converted once in (from :class:`Annotations`) and once out.
Every box carries its index through the pipeline (an albumentations label
field), so class ids and difficult/crowd flags travel with their box; boxes are
clipped to the image and dropped below ``min_visibility`` (share of the box
left) or ``min_area`` (pixels); the number dropped is returned.  An optional
instance ``mask`` goes through exactly the same geometry (the tests use it to
prove that boxes and pixels agree).

Recipes (``RECIPES``):

- ``letterbox``: deterministic resize keeping the aspect ratio and padding to
  ``img_size``; returns the :class:`LetterboxInfo` to map boxes back exactly.
- ``darknet``: Darknet's YOLOv3 training augmentation: stretch to the network
  size, random crop/jitter with aspect change (``jitter=0.3``, an affine with
  independent x/y scale and shift), horizontal flip, hue 0.1 / saturation 1.5 /
  exposure 1.5.
- ``ultralytics``: mosaic of 4 images around a random centre (every box of all
  four images kept and clipped), random affine (scale 0.5-1.5, translate 0.1, no
  shear: a sheared box is the bounding box of a parallelogram, looser than its
  object, and a detector trained on such boxes predicts boxes too large), HSV
  (0.015, 0.7, 0.4), horizontal flip; ``mixup`` blends a second mosaic in.  The
  affine, the crop of the centre S x S, HSV and flip are three OpenCV calls
  (:meth:`Augmenter._warp_hsv_flip`), not an albumentations pipeline: the 2S
  mosaic is never warped whole.

Randomness: one ``numpy.random.Generator`` per sample decides everything (which
mosaic partners, every affine/HSV/flip parameter, the albumentations seed of the
darknet recipe), so a sample depends only on ``(seed, epoch, index)``, never on
the worker that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .letterbox import LetterboxInfo, letterbox_image, to_letterbox

__all__ = ["Sample", "AugResult", "AugmentConfig", "Augmenter", "WarpParams", "RECIPES", "sample_rng", "load_sample"]

RECIPES = ("letterbox", "darknet", "ultralytics")


@dataclass
class Sample:
    """An image ``(H, W, 3) uint8 RGB`` and its boxes (xyxy pixels) with per-box
    fields; ``mask`` (optional, ``(H, W)`` ints) is transformed like the image."""

    image: np.ndarray
    xyxy: np.ndarray
    class_ids: np.ndarray
    is_difficult: np.ndarray | None = None
    is_crowd: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.xyxy)
        self.xyxy = np.asarray(self.xyxy, np.float64).reshape(-1, 4)
        self.class_ids = np.asarray(self.class_ids, np.int64).reshape(-1)
        self.is_difficult = np.zeros(n, bool) if self.is_difficult is None else np.asarray(self.is_difficult, bool)
        self.is_crowd = np.zeros(n, bool) if self.is_crowd is None else np.asarray(self.is_crowd, bool)
        if not (len(self.class_ids) == len(self.is_difficult) == len(self.is_crowd) == n):
            raise ValueError(f"per-box fields: expected ({n},) each")

    def take(self, idx) -> "Sample":
        """The same image with only the boxes ``idx``."""
        return Sample(self.image, self.xyxy[idx], self.class_ids[idx], self.is_difficult[idx], self.is_crowd[idx], self.mask)


@dataclass
class AugResult:
    sample: Sample
    dropped: int = 0
    letterbox: LetterboxInfo | None = None
    source_index: np.ndarray | None = None  # for each output box, its index in the (concatenated) inputs


@dataclass(frozen=True)
class AugmentConfig:
    img_size: int = 416
    min_visibility: float = 0.25
    min_area: float = 4.0
    jitter: float = 0.3  # darknet
    hue: float = 0.1  # darknet
    saturation: float = 1.5  # darknet
    exposure: float = 1.5  # darknet
    flip: float = 0.5
    mosaic_scale: tuple[float, float] = (0.5, 1.5)  # ultralytics
    translate: float = 0.1
    shear: float = 0.0  # degrees; a sheared box is the bounding box of a parallelogram, looser than the object
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    mixup: float = 0.0
    fill: int = 114


@dataclass(frozen=True)
class WarpParams:
    """The random part of the ultralytics recipe's affine + HSV + flip
    (:meth:`Augmenter.sample_warp`): scale, translation in pixels, shear
    tangents, hue/saturation/value shifts, and whether to flip."""

    scale: float
    tx: float
    ty: float
    shx: float
    shy: float
    dh: float
    ds: float
    dv: float
    flip: bool


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one sample: independent of workers and order."""
    return np.random.default_rng([seed, epoch, index])


def _bbox_params(cfg: AugmentConfig):
    import albumentations as A

    return A.BboxParams(format="pascal_voc", label_fields=["box_ids"], min_visibility=cfg.min_visibility, min_area=cfg.min_area,
                        clip=True, filter_invalid_bboxes=True)


class Augmenter:
    """``Augmenter(recipe, cfg)(sample, rng, partners=...)`` -> :class:`AugResult`.

    ``partners`` is a callable ``rng -> Sample`` that draws further samples
    (mosaic, mixup)."""

    def __init__(self, recipe: str, cfg: AugmentConfig = AugmentConfig()):
        if recipe not in RECIPES:
            from .errors import YoloToolsError

            raise YoloToolsError(f"unknown recipe {recipe!r}; choose from {list(RECIPES)}")
        self.recipe, self.cfg = recipe, cfg
        self._pipe = self._build()

    def _build(self):
        """The darknet recipe's albumentations pipeline (the others are OpenCV calls of ours)."""
        c, S = self.cfg, self.cfg.img_size
        if self.recipe != "darknet":
            return None
        import albumentations as A
        import cv2

        j = c.jitter
        tf = [
            A.Resize(S, S, mask_interpolation=cv2.INTER_NEAREST_EXACT),
            A.Affine(scale={"x": (1 - j, 1 + j), "y": (1 - j, 1 + j)}, translate_percent={"x": (-j / 2, j / 2), "y": (-j / 2, j / 2)},
                     keep_ratio=False, border_mode=cv2.BORDER_CONSTANT, fill=127, fill_mask=0, p=1.0),
            A.HorizontalFlip(p=c.flip),
            A.ColorJitter(brightness=(1 / c.exposure, c.exposure), contrast=(1, 1), saturation=(1 / c.saturation, c.saturation),
                          hue=(-c.hue, c.hue), p=1.0),
        ]
        return A.Compose(tf, bbox_params=_bbox_params(c))

    # ------------------------------------------------------------ pieces

    def _letterbox(self, s: Sample) -> AugResult:
        img, info = letterbox_image(s.image, self.cfg.img_size, fill=self.cfg.fill, shrink="linear")
        mask = None
        if s.mask is not None:
            import cv2

            nh, nw = info.resized_hw
            m = cv2.resize(s.mask, (nw, nh), interpolation=cv2.INTER_NEAREST_EXACT)
            mask = np.zeros(info.out_hw, s.mask.dtype)
            l, t = info.pad_xy
            mask[t : t + nh, l : l + nw] = m
        l, t = info.pad_xy
        nh, nw = info.resized_hw
        xyxy = np.clip(to_letterbox(s.xyxy, info), [l, t, l, t], [l + nw, t + nh, l + nw, t + nh])
        return AugResult(Sample(img, xyxy, s.class_ids, s.is_difficult, s.is_crowd, mask), 0, info, np.arange(len(xyxy)))

    def _mosaic(self, s: Sample, rng: np.random.Generator, partners) -> tuple[Sample, np.ndarray, int]:
        """4 images in the quadrants around a random centre of a 2S canvas; boxes
        shifted with their image and clipped to its visible part (dropped below
        ``min_visibility``/``min_area``).  Returns the sample, the kept indices
        into the four images' concatenated boxes, and their total count.  The
        canvas is this augmenter's one reused buffer: the caller warps it before
        the next mosaic."""
        import cv2

        S = self.cfg.img_size
        items = [s] + [partners(rng) for _ in range(3)]
        if getattr(self, "_canvas", None) is None or self._canvas.shape[0] != 2 * S:
            self._canvas = np.empty((2 * S, 2 * S, 3), np.uint8)
        canvas = self._canvas
        canvas.fill(self.cfg.fill)
        mcanvas = np.zeros((2 * S, 2 * S), np.int32) if s.mask is not None else None
        xc, yc = (int(v) for v in rng.uniform(0.5 * S, 1.5 * S, 2))
        boxes, cls, dif, crw, full = [], [], [], [], []
        mask_offset = 0
        for k, it in enumerate(items):
            h0, w0 = it.image.shape[:2]
            r = S / max(h0, w0)
            h, w = max(1, int(round(h0 * r))), max(1, int(round(w0 * r)))
            # bilinear also when shrinking (INTER_AREA cost 4x more here, 2 ms per COCO image): training
            # augmentation, as Ultralytics' loader does; letterbox for evaluation keeps INTER_AREA
            img = it.image if (h, w) == (h0, w0) else cv2.resize(it.image, (w, h), interpolation=cv2.INTER_LINEAR)  # cached: no copy
            if k == 0:
                x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
                x1b, y1b, x2b, y2b = w - (x2a - x1a), h - (y2a - y1a), w, h
            elif k == 1:
                x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, 2 * S), yc
                x1b, y1b, x2b, y2b = 0, h - (y2a - y1a), min(w, x2a - x1a), h
            elif k == 2:
                x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(2 * S, yc + h)
                x1b, y1b, x2b, y2b = w - (x2a - x1a), 0, w, min(y2a - y1a, h)
            else:
                x1a, y1a, x2a, y2a = xc, yc, min(xc + w, 2 * S), min(2 * S, yc + h)
                x1b, y1b, x2b, y2b = 0, 0, min(w, x2a - x1a), min(y2a - y1a, h)
            canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
            if mcanvas is not None:
                m = cv2.resize(it.mask.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
                m = np.where(m > 0, m + mask_offset, 0)
                mcanvas[y1a:y2a, x1a:x2a] = m[y1b:y2b, x1b:x2b]
                mask_offset += int(it.mask.max()) if it.mask.size else 0
            # box mapping: scale by (w/w0, h/h0), shift by (x1a - x1b, y1a - y1b), clip to the pasted region
            b = it.xyxy * [w / w0, h / h0, w / w0, h / h0] + [x1a - x1b, y1a - y1b, x1a - x1b, y1a - y1b]
            full.append(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))
            b = np.clip(b, [x1a, y1a, x1a, y1a], [x2a, y2a, x2a, y2a])
            boxes.append(b)
            cls.append(it.class_ids)
            dif.append(it.is_difficult)
            crw.append(it.is_crowd)
        xyxy = np.concatenate(boxes)
        area = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
        full_area = np.concatenate(full)
        keep = np.flatnonzero((area >= self.cfg.min_area) & (area >= self.cfg.min_visibility * np.maximum(full_area, 1e-12)) & (area > 0))
        out = Sample(canvas, xyxy, np.concatenate(cls), np.concatenate(dif), np.concatenate(crw), mcanvas).take(keep)
        return out, keep, len(xyxy)

    def _albu(self, s: Sample, rng: np.random.Generator) -> tuple[Sample, np.ndarray]:
        self._pipe.set_random_seed(int(rng.integers(0, 2**31 - 1)))
        kw = {"image": s.image, "bboxes": s.xyxy.astype(np.float32).reshape(-1, 4), "box_ids": np.arange(len(s.xyxy))}
        if s.mask is not None:
            kw["mask"] = s.mask
        r = self._pipe(**kw)
        ids = np.asarray(r["box_ids"], np.int64).reshape(-1)
        h, w = r["image"].shape[:2]
        # albumentations works in float32: clip its rounding back into the image
        xyxy = np.clip(np.asarray(r["bboxes"], np.float64).reshape(-1, 4), 0, [w, h, w, h])
        out = Sample(r["image"], xyxy, s.class_ids[ids], s.is_difficult[ids], s.is_crowd[ids], r.get("mask"))
        return out, ids

    def sample_warp(self, rng: np.random.Generator, image_hw: tuple[int, int]) -> "WarpParams":
        """Every random number of :meth:`warp_hsv_flip`, drawn first (in the order the recipe
        has always drawn them, so a sample is the same as before the split)."""
        c = self.cfg
        H, W = image_hw
        scale = float(rng.uniform(*c.mosaic_scale))
        tx, ty = rng.uniform(-c.translate, c.translate, 2) * (W, H)
        shx, shy = np.tan(np.radians(rng.uniform(-c.shear, c.shear, 2))) if c.shear else (0.0, 0.0)
        dh, ds, dv = rng.uniform(-1.0, 1.0, 3) * (c.hsv_h * 180, c.hsv_s * 100, c.hsv_v * 100)
        return WarpParams(scale, float(tx), float(ty), float(shx), float(shy), float(dh), float(ds), float(dv), bool(rng.random() < c.flip))

    def _warp_hsv_flip(self, s: Sample, rng: np.random.Generator, offset: float) -> tuple[Sample, np.ndarray]:
        return self.warp_hsv_flip(s, self.sample_warp(rng, s.image.shape[:2]), offset)

    def warp_hsv_flip(self, s: Sample, p: "WarpParams", offset: float) -> tuple[Sample, np.ndarray]:
        """The ``ultralytics`` recipe after the mosaic (a pure kernel of the sample and the
        parameters :meth:`sample_warp` drew), in three OpenCV calls: the random affine
        (scale, translate and shear about the image centre) and the crop of the S x S window at
        ``(offset, offset)`` as one ``warpAffine`` straight to S x S (the mosaic's 2S canvas is
        never warped whole); HSV shifts by one lookup table on the HSV image; a horizontal flip.
        Boxes: their 4 corners through the same affine, the enclosing box, clipped, kept when at
        least ``min_area`` pixels and ``min_visibility`` of the transformed box stay in the window.
        The affine is applied in continuous pixel coordinates (pixel i spans [i, i+1)); OpenCV's
        matrix is the same map between pixel centres.  Returns the sample and the kept boxes' indices."""
        import cv2

        c, S = self.cfg, self.cfg.img_size
        H, W = s.image.shape[:2]
        a = np.array([[1.0, p.shx], [p.shy, 1.0]]) * p.scale
        centre = np.array([W / 2.0, H / 2.0])
        t = centre + (p.tx, p.ty) - a @ centre - offset  # p' = a (p - centre) + centre + (tx, ty) - offset
        m = np.hstack([a, (t + a @ (0.5, 0.5) - 0.5)[:, None]])  # the same map between pixel centres
        img = cv2.warpAffine(s.image, m, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(c.fill,) * 3)
        mask = None
        if s.mask is not None:  # ids exact in float32 below 2**24; nearest keeps them ids
            mask = cv2.warpAffine(s.mask.astype(np.float32), m, (S, S), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=0).astype(s.mask.dtype)
        xy = s.xyxy[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2) @ a.T + t  # the 4 corners of each box
        box = np.concatenate([xy.min(1), xy.max(1)], 1)
        full = np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)
        box = np.clip(box, 0, S)
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        ids = np.flatnonzero((box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1]) & (area >= c.min_area)
                             & (area >= c.min_visibility * np.maximum(full, 1e-12)))
        if p.dh or p.ds or p.dv:  # HueSaturationValue's shifts: hue wraps at 180, saturation 0 (grey) stays grey
            x = np.arange(256, dtype=np.float64)
            lut = np.stack([np.mod(x + p.dh, 180), np.clip(np.rint(x + p.ds), 0, 255), np.clip(np.rint(x + p.dv), 0, 255)], 1)
            lut[0, 1] = 0
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            img = cv2.cvtColor(cv2.LUT(hsv, lut.astype(np.uint8).reshape(256, 1, 3)), cv2.COLOR_HSV2RGB)
        box = box[ids]
        if p.flip:
            img = np.ascontiguousarray(img[:, ::-1])
            mask = None if mask is None else np.ascontiguousarray(mask[:, ::-1])
            box = np.stack([S - box[:, 2], box[:, 1], S - box[:, 0], box[:, 3]], 1)
        out = Sample(img, box, s.class_ids[ids], s.is_difficult[ids], s.is_crowd[ids], mask)
        return out, ids

    # ------------------------------------------------------------ entry point

    def __call__(self, s: Sample, rng: np.random.Generator, partners: Callable[[np.random.Generator], Sample] | None = None,
                 *, mosaic: bool = True) -> AugResult:
        """``mosaic=False`` (ultralytics recipe, the trainer's last ``close_mosaic``
        epochs): the image alone, letterboxed to S, then the same affine, HSV and flip."""
        if self.recipe == "letterbox":
            return self._letterbox(s)
        n_in = len(s.xyxy)
        if self.recipe == "ultralytics" and not mosaic:
            lb = self._letterbox(s)
            out, ids = self._warp_hsv_flip(lb.sample, rng, 0.0)
            return AugResult(out, n_in - len(out.xyxy), None, lb.source_index[ids])
        if self.recipe == "ultralytics":
            if partners is None:
                partners = lambda g: s  # noqa: E731 - a mosaic of the same image
            half = self.cfg.img_size / 2.0  # the S x S window at the centre of the 2S mosaic
            s, keep, n_in = self._mosaic(s, rng, partners)
            out, ids = self._warp_hsv_flip(s, rng, half)
            ids = keep[ids]
            if self.cfg.mixup > 0 and rng.random() < self.cfg.mixup:
                s2, keep2, n2 = self._mosaic(partners(rng), rng, partners)
                o2, ids2 = self._warp_hsv_flip(s2, rng, half)
                ids2 = keep2[ids2] + n_in
                n_in += n2
                lam = float(rng.beta(32.0, 32.0))
                img = (out.image.astype(np.float32) * lam + o2.image.astype(np.float32) * (1 - lam)).astype(np.uint8)
                out = Sample(img, np.concatenate([out.xyxy, o2.xyxy]), np.concatenate([out.class_ids, o2.class_ids]),
                             np.concatenate([out.is_difficult, o2.is_difficult]), np.concatenate([out.is_crowd, o2.is_crowd]), out.mask)
                ids = np.concatenate([ids, ids2])
            return AugResult(out, n_in - len(out.xyxy), None, ids)
        out, ids = self._albu(s, rng)
        return AugResult(out, n_in - len(out.xyxy), None, ids)


# ---------------------------------------------------------------- dataset-level helpers


def load_sample(record) -> Sample:
    """Decode the record's image (RGB) and take its boxes.  A missing or corrupt
    image is a :class:`YoloToolsError` naming the file."""
    from .errors import YoloToolsError
    from .io.images import decode_rgb

    if record.path is None:
        raise YoloToolsError(f"image {record.image_id}: no image file")
    img = decode_rgb(record.path)
    a = record.annotations
    xyxy = a.boxes.xyxy
    h, w = img.shape[:2]
    if (h, w) != tuple(record.image_hw):  # labels are normalised: rescale to the decoded size
        rh, rw = record.image_hw
        xyxy = xyxy * [w / rw, h / rh, w / rw, h / rh]
    return Sample(img, np.clip(xyxy, 0, [w, h, w, h]), a.class_ids, a.is_difficult, a.is_crowd)
