"""``yolotools augment``: write augmented images and labels of a dataset, and
a preview grid with the boxes drawn (the kernels are :mod:`yolotools.augment`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .augment import AugmentConfig, Augmenter, Sample, load_sample, sample_rng

__all__ = ["AugmentReport", "run_augment", "preview_grid"]


def preview_grid(images: list[np.ndarray], cols: int = 4) -> np.ndarray:
    h, w = images[0].shape[:2]
    rows = (len(images) + cols - 1) // cols
    grid = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h : r * h + im.shape[0], c * w : c * w + im.shape[1]] = im
    return grid


@dataclass
class AugmentReport:
    out: str
    recipe: str
    images: int
    boxes_in: int
    boxes_out: int
    boxes_dropped: int
    seconds_per_image: float
    files: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)  # images skipped, with why

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    def to_table(self) -> str:
        lines = [f"recipe           {self.recipe}", f"images written   {self.images}", f"boxes in         {self.boxes_in}",
                 f"boxes out        {self.boxes_out}", f"boxes dropped    {self.boxes_dropped} (clipped below min visibility/area)",
                 f"time per image   {self.seconds_per_image * 1000:.1f} ms"]
        lines += [f"{k:<16} {v}" for k, v in self.files.items()]
        lines += [f"skipped: {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... {len(self.problems) - 20} more images skipped (see --json)")
        return "\n".join(lines)


def run_augment(data, out, *, recipe: str = "ultralytics", n: int = 16, seed: int = 0, img_size: int = 416, split: str | None = None,
                progress: bool = False, config: AugmentConfig | None = None) -> AugmentReport:
    """Write ``n`` augmented image/label pairs (YOLO format) and ``preview.jpg``."""
    import time
    from dataclasses import replace
    from pathlib import Path

    import cv2
    from tqdm.auto import tqdm

    from .draw import draw_boxes
    from .errors import YoloToolsError
    from .io import load_dataset
    from .io.files import atomic_write_bytes, atomic_write_text, check_output
    from .io.yolo import yolo_lines

    from .io import dataset_inputs

    check_output(out, dataset_inputs(data))
    if n < 1:
        raise YoloToolsError(f"--n {n}: augment at least one image")
    from .io.images import check_image_file

    ds, _ = load_dataset(data, split=split)
    recs, skipped = [], []
    for r in ds.records:  # a missing, truncated or huge image is skipped and reported, the rest augmented
        if r.path is None:
            continue
        try:
            check_image_file(r.path)
            recs.append(r)
        except YoloToolsError as e:
            skipped.append(str(e))
    if not recs:
        raise YoloToolsError(f"{data}: no usable images for the labels (augmentation needs the pixels)"
                             + (f"; first problem: {skipped[0]}" if skipped else ""))
    cfg = replace(config or AugmentConfig(), img_size=img_size)
    aug = Augmenter(recipe, cfg)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    cache: dict[int, Sample] = {}

    def get(i: int) -> Sample:
        if i not in cache:
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
            try:
                cache[i] = load_sample(recs[i])
            except YoloToolsError as e:  # undecodable despite a sound header: use the next image, say so
                if len(recs) == 1:
                    raise
                skipped.append(str(e))
                cache[i] = load_sample(recs[(i + 1) % len(recs)])
        return cache[i]

    partners = lambda g: get(int(g.integers(len(recs))))  # noqa: E731
    shown, b_in, b_out, dropped = [], 0, 0, 0
    t0 = time.perf_counter()
    for i in tqdm(range(n), desc=f"augment {recipe}", disable=not progress, leave=False):
        rng = sample_rng(seed, 0, i)
        src = get(i % len(recs))
        res = aug(src, rng, partners)
        o = res.sample
        b_in += len(o.xyxy) + res.dropped
        b_out += len(o.xyxy)
        dropped += res.dropped
        name = f"{i:06d}"
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(o.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        atomic_write_bytes(out / "images" / f"{name}.jpg", buf.tobytes())
        atomic_write_text(out / "labels" / f"{name}.txt", yolo_lines(o.class_ids.tolist(), o.xyxy.tolist(), o.image.shape[:2]))
        if len(shown) < 16:
            shown.append(draw_boxes(o.image, o.xyxy, o.class_ids, ds.class_map.names))
    dt = (time.perf_counter() - t0) / max(n, 1)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(preview_grid(shown), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    atomic_write_bytes(out / "preview.jpg", buf.tobytes())
    atomic_write_text(out / "classes.names", "".join(f"{x}\n" for x in ds.class_map.names))
    import yaml

    atomic_write_text(out / "data.yaml", yaml.safe_dump({"path": str(out.absolute()), "train": "images", "val": "images",
                                                          "names": dict(enumerate(ds.class_map.names))}, sort_keys=False))
    return AugmentReport(str(out), recipe, n, b_in, b_out, dropped, dt,
                         {"images": str(out / "images"), "labels": str(out / "labels"), "preview": str(out / "preview.jpg"),
                          "data_yaml": str(out / "data.yaml")}, problems=sorted(set(skipped)))
