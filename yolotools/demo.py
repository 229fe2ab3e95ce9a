"""``yolotools demo``: the main job end to end on the embedded shapes dataset.

Stages run through the same library calls as the CLI commands:
generate -> convert VOC and COCO (they must agree) -> YOLO back to COCO JSON
(must give the generated boxes again) -> later stages as they exist.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import YoloToolsError
from .io.files import atomic_write_text

__all__ = ["run_demo", "DemoResult"]

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    out: str
    images: dict[str, int]
    boxes: dict[str, int]
    classes: list[str]
    convert_agree: bool
    roundtrip_max_error_px: float
    stages: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [
            f"output                 {self.out}",
            f"classes                {', '.join(self.classes)}",
            f"images (train/val)     {self.images.get('train', 0)}/{self.images.get('val', 0)}",
            f"boxes (train/val)      {self.boxes.get('train', 0)}/{self.boxes.get('val', 0)}",
            f"VOC and COCO agree     {'yes' if self.convert_agree else 'NO'}",
            f"YOLO->COCO round trip  max error {self.roundtrip_max_error_px:.2e} px",
        ]
        lines += [f"stage {k:<16} {v:6.2f} s" for k, v in self.stages.items()]
        lines += [f"{k:<22} {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _labels_equal(a: Path, b: Path) -> bool:
    fa = sorted(p.relative_to(a) for p in a.rglob("*.txt"))
    fb = sorted(p.relative_to(b) for p in b.rglob("*.txt"))
    return fa == fb and all((a / f).read_bytes() == (b / f).read_bytes() for f in fa)


def run_demo(out: Path | str, *, fast: bool = False, seed: int = 0) -> DemoResult:
    """Run every stage into ``out`` and write ``out/summary.json``."""
    from .convert import convert_coco, convert_voc, convert_yolo_to_coco
    from .io.coco import read_coco
    from .synth import generate_shapes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    n_train, n_val = (48, 16) if fast else (240, 60)
    shapes = generate_shapes(out / "data", n_train=n_train, n_val=n_val, seed=seed)
    stages["generate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    voc_out, coco_out = out / "yolo_from_voc", out / "yolo_from_coco"
    for split in ("train", "val"):
        convert_voc([shapes.voc_root], voc_out, split=split, images="link")
        convert_coco(shapes.coco_json[split], coco_out, images=shapes.images_dir, split=split)
    agree = _labels_equal(voc_out / "labels", coco_out / "labels")
    if not agree:
        raise YoloToolsError(f"VOC and COCO conversions disagree: compare {voc_out / 'labels'} with {coco_out / 'labels'}")
    stages["convert"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    back = out / "val_from_yolo.json"
    convert_yolo_to_coco(voc_out / "data.yaml", back, split="val")
    got, _ = read_coco(back)
    truth = shapes.truth["val"]
    by = got.by_id()
    err = 0.0
    for rec in truth:
        g = by[rec.image_id].annotations
        if len(g) != len(rec.annotations) or not np.array_equal(g.class_ids, rec.annotations.class_ids):
            raise YoloToolsError(f"round trip changed the boxes of image {rec.image_id}")
        if len(g):
            err = max(err, float(np.abs(g.boxes.xyxy - rec.annotations.boxes.xyxy).max()))
    stages["roundtrip"] = time.perf_counter() - t0

    res = DemoResult(
        out=str(out),
        images={s: len(d) for s, d in shapes.truth.items()},
        boxes={s: d.num_boxes for s, d in shapes.truth.items()},
        classes=list(truth.class_map.names),
        convert_agree=agree,
        roundtrip_max_error_px=err,
        stages=stages,
        files={"data_yaml": str(voc_out / "data.yaml"), "summary": str(out / "summary.json")},
    )
    atomic_write_text(out / "summary.json", json.dumps(res.to_dict(), indent=2))
    return res
