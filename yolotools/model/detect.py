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
            for line in p.read_text(encoding="utf-8").splitlines():
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
    device: str = "cpu",
    coco80: bool = False,
    batch: int = 8,
    draw: bool = True,
) -> DetectReport:
    import time

    import cv2
    import torch

    from ..io.yolo import yolo_lines
    from ..letterbox import from_letterbox, letterbox_image
    from . import load_network, load_weights_any
    from .decode import decode, postprocess
    from ..io.files import check_output

    check_output(out, [*images, weights, cfg if cfg and Path(str(cfg)).exists() else None])
    if cfg is None:  # a yolotools checkpoint carries its cfg and class names
        if Path(weights).suffix != ".pt":
            raise YoloToolsError(f"{weights}: a Darknet .weights file needs --cfg")
        from . import load_checkpoint

        model, ck = load_checkpoint(weights)
        names = names or ck.get("class_names")
    else:
        model = load_network(cfg, classes=classes, anchors=anchors, size=img_size)
        load_weights_any(model, weights)
    model.eval().to(device)
    size = img_size or model.input_hw[0]
    n_cls = model.heads[0].classes
    names = list(names or [str(i) for i in range(n_cls)])
    out = Path(out)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    paths = _images(images)
    results, problems, per_class = [], [], {}
    n_det = 0
    t0 = time.perf_counter()
    for s in range(0, len(paths), batch):
        chunk, infos, arrs, origs = [], [], [], []
        for p in paths[s : s + batch]:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                problems.append(f"{p}: missing or unreadable image; skipped")
                continue
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            lb, info = letterbox_image(img, size, fill=127)
            chunk.append(p)
            infos.append(info)
            origs.append(img)
            arrs.append(lb)
        if not chunk:
            continue
        x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float().div_(255).to(device)
        with torch.no_grad():
            dets = postprocess(decode(model(x), model.heads, (size, size)), conf_thres=conf, iou_thres=iou, max_det=max_det)
        for p, info, img, d in zip(chunk, infos, origs, dets):
            d = d.cpu().numpy().astype(np.float64)
            if len(d):
                d[:, :4] = from_letterbox(d[:, :4], info)
            h, w = img.shape[:2]
            text = yolo_lines(d[:, 5].astype(int).tolist(), d[:, :4].tolist(), (h, w), scores=d[:, 4].tolist())
            atomic_write_text(out / "labels" / f"{p.stem}.txt", text)
            iid = int(p.stem) if p.stem.isdigit() else len(results) + 1
            for x1, y1, x2, y2, sc, c in d.tolist():
                c = int(c)
                cat = COCO80_TO_91[c] if coco80 and c < 80 else c + 1
                results.append({"image_id": iid, "category_id": cat, "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                                "score": round(sc, 5), "file_name": p.name})
                nm = names[c] if c < len(names) else str(c)
                per_class[nm] = per_class.get(nm, 0) + 1
            n_det += len(d)
            if draw:
                atomic_write_bytes(out / "images" / f"{p.stem}.jpg", _draw(img, d, names))
    atomic_write_text(out / "detections.json", json.dumps(results))
    n_img = len(paths) - len(problems)
    files = {"labels": str(out / "labels"), "coco_results": str(out / "detections.json")}
    if draw:
        files["images"] = str(out / "images")
    return DetectReport(n_img, n_det, per_class, files, problems, (time.perf_counter() - t0) / max(n_img, 1))
