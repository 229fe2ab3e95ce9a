"""The embedded default dataset: rendered shapes with exactly known boxes.

Solid shapes (classes ``circle``, ``square``, ``triangle``) in random colours on a
plain, slightly noisy background; objects do not overlap, so every box is the
exact extent of its object's pixels.  Written as Pascal VOC XML *and* COCO JSON
(with non-contiguous category ids, as real COCO has), with train and val splits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from .boxes import Boxes

__all__ = ["SHAPE_CLASSES", "SHAPE_CATEGORY_IDS", "render_shapes_image", "generate_shapes", "ShapesDataset"]

SHAPE_CLASSES = ("circle", "square", "triangle")
SHAPE_CATEGORY_IDS = (1, 3, 7)  # gaps on purpose: COCO ids are not contiguous


def _shape_mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask (size, size) whose True pixels touch all four sides."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    if kind == "circle":
        c = size / 2
        m = (xx - c) ** 2 + (yy - c) ** 2 <= (size / 2) ** 2
    elif kind == "square":
        m = np.ones((size, size), bool)
    else:  # triangle, apex at the top centre
        m = (yy >= size * np.abs(xx - size / 2) / (size / 2) * 1.0) & (yy <= size)
    # trim to the pixels actually set so the box is the exact extent
    return m


def render_shapes_image(
    rng: np.random.Generator, image_hw: tuple[int, int], max_objects: int = 4, min_size: int = 12, max_size: int | None = None,
    *, return_mask: bool = False, kinds: tuple[int, ...] | None = None,
):
    """Render one image.  Returns ``(image (H, W, 3) uint8, xyxy (N, 4) float64
    continuous pixels, class_ids (N,) int64)``, plus with ``return_mask`` an
    instance mask ``(H, W) int32`` (object ``k`` is ``k + 1``); each box is the
    exact pixel extent of its object (pixel ``i`` spans ``[i, i + 1)``).  ``kinds``
    limits the shapes to these class indices."""
    h, w = image_hw
    max_size = max_size or max(min_size + 1, min(h, w) // 2)
    bg = rng.integers(30, 225, size=3)
    img = np.empty((h, w, 3), np.int16)
    img[:] = bg
    img += rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
    occupied = np.zeros((h, w), bool)
    inst = np.zeros((h, w), np.int32)
    boxes, classes = [], []
    n = int(rng.integers(1, max_objects + 1))
    for _ in range(n * 10):
        if len(boxes) >= n:
            break
        size = int(rng.integers(min_size, max_size + 1))
        if size >= min(h, w):
            continue
        x0, y0 = int(rng.integers(0, w - size + 1)), int(rng.integers(0, h - size + 1))
        k = int(rng.integers(0, len(SHAPE_CLASSES))) if kinds is None else int(kinds[int(rng.integers(0, len(kinds)))])
        m = _shape_mask(SHAPE_CLASSES[k], size, rng)
        ys, xs = np.nonzero(m)
        if ys.size == 0:
            continue
        region = occupied[max(y0 - 2, 0) : y0 + size + 2, max(x0 - 2, 0) : x0 + size + 2]
        if region.any():
            continue
        color = rng.integers(0, 256, size=3)
        while np.abs(color - bg).sum() < 150:
            color = rng.integers(0, 256, size=3)
        img[y0 + ys, x0 + xs] = color
        inst[y0 + ys, x0 + xs] = len(boxes) + 1
        occupied[y0 : y0 + size, x0 : x0 + size] = True
        boxes.append((x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1))
        classes.append(k)
    out = (np.clip(img, 0, 255).astype(np.uint8), np.array(boxes, np.float64).reshape(-1, 4), np.array(classes, np.int64))
    return (*out, inst) if return_mask else out


@dataclass
class ShapesDataset:
    """Where :func:`generate_shapes` wrote things, and the ground truth per split."""

    root: Path
    voc_root: Path
    coco_json: dict[str, Path]
    images_dir: Path
    truth: dict[str, DetectionDataset]

    def summary(self) -> "ShapesSummary":
        return ShapesSummary(str(self.voc_root), {k: str(v) for k, v in self.coco_json.items()}, str(self.images_dir),
                             {k: {"images": len(d), "boxes": d.num_boxes} for k, d in self.truth.items()})


@dataclass
class ShapesSummary:
    voc_root: str
    coco_json: dict
    images: str
    counts: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        return "\n".join([f"VOC root      {self.voc_root}  (ImageSets/Main/train.txt, val.txt)",
                          *[f"COCO {k:<8} {v}" for k, v in self.coco_json.items()], f"images        {self.images}",
                          *[f"{k:<13} {c['images']} images, {c['boxes']} boxes" for k, c in self.counts.items()]])


def generate_shapes(
    root: Path | str,
    *,
    n_train: int = 160,
    n_val: int = 40,
    image_hw: tuple[int, int] = (160, 160),
    seed: int = 0,
    max_objects: int = 4,
    object_size: tuple[int, int] | None = None,
    progress: bool = False,
) -> ShapesDataset:
    """Render the shapes dataset into ``root`` (idempotent for the same arguments).

    Layout: ``root/VOCdevkit/VOC2026/{Annotations,ImageSets/Main,JPEGImages}``
    (PNG images, VOC XML in the exact 1-based convention, ``classes.txt``) and
    ``root/annotations/instances_{train,val}.json`` (COCO, file names relative to
    ``JPEGImages``).  ``max_objects`` per image (1 to it, uniformly),
    ``object_size`` ``(min, max)`` side in pixels (default 12 to half the image)."""
    from PIL import Image

    from .io.coco import write_coco
    from .io.files import atomic_write_bytes
    from .io.voc import write_voc

    root = Path(root)
    voc_root = root / "VOCdevkit" / "VOC2026"
    img_dir = voc_root / "JPEGImages"
    img_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    class_map = ClassMap(SHAPE_CLASSES, SHAPE_CATEGORY_IDS)
    truth: dict[str, DetectionDataset] = {}
    coco: dict[str, Path] = {}
    counter = 0
    for split, n in (("train", n_train), ("val", n_val)):
        records = []
        from tqdm.auto import tqdm

        for _ in tqdm(range(n), desc=f"render {split}", unit="img", disable=not progress, leave=False):
            counter += 1
            lo, hi = object_size if object_size is not None else (12, None)
            img, xyxy, cls = render_shapes_image(rng, image_hw, max_objects=max_objects, min_size=lo, max_size=hi)
            image_id = f"{counter:06d}"
            path = img_dir / f"{image_id}.png"
            import io

            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG", optimize=False, compress_level=1)
            atomic_write_bytes(path, buf.getvalue())
            ann = Annotations(Boxes(xyxy, image_hw), cls)
            records.append(ImageRecord(image_id, path, image_hw, ann, source_id=counter))
        ds = DetectionDataset(class_map, tuple(records))
        write_voc(ds, voc_root, split, convention="exact")
        atomic_write_bytes(voc_root / "classes.txt", "".join(f"{n}\n" for n in SHAPE_CLASSES).encode())
        coco[split] = root / "annotations" / f"instances_{split}.json"
        write_coco(ds, coco[split])
        truth[split] = ds
    return ShapesDataset(root=root, voc_root=voc_root, coco_json=coco, images_dir=img_dir, truth=truth)
