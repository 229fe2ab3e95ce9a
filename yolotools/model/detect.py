"""``yolotools detect``: images -> YOLO txt with confidences, COCO results JSON,
and images with the boxes drawn."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import YoloToolsError
from ..io.files import IMAGE_EXTS, atomic_write_bytes, atomic_write_text
from . import MERGE_IOU

__all__ = ["run_detect", "DetectReport", "COCO80_TO_91"]

log = logging.getLogger(__name__)

# Darknet's coco.names order (80) -> COCO category ids (1..90 with gaps)
COCO80_TO_91 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
                35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
                67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)


@dataclass
class DetectReport:
    images: int
    detections: int
    per_class: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds_per_image: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"images       {self.images}", f"detections   {self.detections}", f"time/image   {self.seconds_per_image * 1000:.0f} ms"]
        lines += [f"  {k:<18} {v}" for k, v in sorted(self.per_class.items(), key=lambda t: -t[1])]
        lines += [f"{k:<12} {v}" for k, v in self.files.items()]
        lines += [f"error: {p}" for p in self.problems]
        return "\n".join(lines)


def _images(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTS)
        elif p.suffix.lower() == ".txt":  # a Darknet list file (e.g. OUT/val.txt from convert): one image path per line
            for line in p.read_text(encoding="utf-8-sig").splitlines():
                q = Path(line.strip())
                if line.strip():
                    out.append(q if q.is_absolute() or q.exists() else p.parent / q)
        else:
            out.append(p)
    if not out:
        raise YoloToolsError("no images given")
    return out


def _draw(img: np.ndarray, dets: np.ndarray, names: list[str]) -> bytes:
    import io

    from PIL import Image

    from ..draw import draw_boxes

    buf = io.BytesIO()
    Image.fromarray(draw_boxes(img, dets[:, :4], dets[:, 5], names, scores=dets[:, 4])).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _warn_other_cfg(model, weights) -> None:
    """A ``.weights`` file with a ``.cfg`` of the same name beside it (what
    ``model convert`` writes) that describes other heads than the network built
    from ``--cfg``: say so (the anchors or classes would silently differ)."""
    from .cfg import parse_cfg

    beside = Path(weights).with_suffix(".cfg")
    if Path(weights).suffix != ".weights" or not beside.is_file():
        return
    try:
        theirs = [dict(s.options) for s in parse_cfg(beside) if s.type in ("yolo", "region")]
    except YoloToolsError:
        return
    ours = [dict(s.options) for s in model.sections if s.type in ("yolo", "region")]
    keys = ("anchors", "mask", "classes", "num", "scale_x_y")
    if [{k: d.get(k, "").replace(" ", "") for k in keys} for d in theirs] != [{k: d.get(k, "").replace(" ", "") for k in keys} for d in ours]:
        log.warning("%s has heads (anchors/classes/masks) that differ from the network built from --cfg; detect with --cfg %s",
                    beside, beside)


def run_detect(
    cfg,
    weights,
    images,
    out,
    *,
    names: list[str] | None = None,
    classes: int | None = None,
    anchors: list[float] | None = None,
    img_size: int | None = None,
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    merge_iou: float = MERGE_IOU,
    device: str = "cpu",
    coco80: bool = False,
    batch: int = 8,
    draw: bool = True,
    progress: bool = False,
) -> DetectReport:
    import time

    from ..io.files import check_output
    from . import load_network, load_weights_any
    from .predict import predict_paths

    check_output(out, [*images, weights, cfg if cfg and Path(str(cfg)).exists() else None])
    if cfg is None:  # a yolotools checkpoint carries its cfg and class names
        if Path(weights).suffix != ".pt":
            raise YoloToolsError(f"{weights}: a Darknet .weights file needs --cfg")
        from . import load_checkpoint

        model, ck = load_checkpoint(weights)
        names = names or ck.get("class_names")
    else:
        model = load_network(cfg, classes=classes, anchors=anchors, size=img_size)
        _warn_other_cfg(model, weights)
        load_weights_any(model, weights)
    from . import torch_device

    device = torch_device(device)
    model.eval().to(device)
    size = img_size or model.input_hw[0]
    n_cls = model.heads[0].classes
    names = list(names or [str(i) for i in range(n_cls)])
    out = Path(out)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    paths = _images(images)
    per_class: dict[str, int] = {}

    def write(p, img: np.ndarray) -> None:  # as each image's detections come, with the pixels already decoded
        atomic_write_text(out / "labels" / f"{p.path.stem}.txt", p.to_yolo())
        for c in p.class_ids.tolist():
            nm = names[c] if c < len(names) else str(c)
            per_class[nm] = per_class.get(nm, 0) + 1
        if draw:
            d = np.concatenate([p.xyxy, p.scores[:, None], p.class_ids[:, None]], 1)
            atomic_write_bytes(out / "images" / f"{p.path.stem}.jpg", _draw(img, d, names))

    t0 = time.perf_counter()
    preds = predict_paths(model, paths, size, batch=batch, device=device, conf=conf, iou=iou, max_det=max_det, merge_iou=merge_iou,
                          progress=progress,
                          each=write)
    secs = time.perf_counter() - t0
    results = preds.to_coco(category_ids=COCO80_TO_91 if coco80 else None)
    atomic_write_text(out / "detections.json", json.dumps(results))
    problems = preds.problems
    n_img, n_det = len(preds.images), preds.num_detections
    files = {"labels": str(out / "labels"), "coco_results": str(out / "detections.json")}
    if draw:
        files["images"] = str(out / "images")
    return DetectReport(n_img, n_det, per_class, files, problems, secs / max(n_img, 1))
