"""``yolotools demo``: the main job end to end on the embedded shapes dataset.

Stages run through the same library calls as the CLI commands:
generate -> convert VOC and COCO (they must agree) -> YOLO back to COCO JSON
(must give the generated boxes again) -> k-means anchors (+ plot) ->
augmentation preview -> audit of train vs val (+ HTML) -> train a small
detector on CPU -> evaluate on val (PR curves, confusion matrix, detections
drawn) -> ``report.html``.
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
    anchors: list = field(default_factory=list)
    avg_iou: float = 0.0
    bpr: float = 0.0
    audit_drift: list = field(default_factory=list)
    audit_findings: int = 0
    epochs: int = 0
    train_seconds: float = 0.0
    map50: float = 0.0
    map50_95: float = 0.0
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
            f"anchors (k={len(self.anchors)})          " + ", ".join(f"{a:.0f}x{b:.0f}" for a, b in self.anchors),
            f"anchor avg IoU / BPR   {self.avg_iou:.4f} / {self.bpr:.4f}",
            f"audit train vs val     {len(self.audit_drift)} drift flags, {self.audit_findings} validation findings",
            f"trained                {self.epochs} epochs in {self.train_seconds:.0f} s on CPU",
            f"val mAP@0.5 / @.5:.95  {self.map50:.3f} / {self.map50_95:.3f}",
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
    log.info("generate ...")
    t0 = time.perf_counter()
    n_train, n_val = (128, 32) if fast else (240, 60)
    shapes = generate_shapes(out / "data", n_train=n_train, n_val=n_val, seed=seed)
    stages["generate"] = time.perf_counter() - t0
    log.info("generate done in %.1f s", stages["generate"])

    log.info("convert ...")
    t0 = time.perf_counter()
    voc_out, coco_out = out / "yolo_from_voc", out / "yolo_from_coco"
    for split in ("train", "val"):
        convert_voc([shapes.voc_root], voc_out, split=split, images="link")
        convert_coco(shapes.coco_json[split], coco_out, images=shapes.images_dir, split=split)
    agree = _labels_equal(voc_out / "labels", coco_out / "labels")
    if not agree:
        raise YoloToolsError(f"VOC and COCO conversions disagree: compare {voc_out / 'labels'} with {coco_out / 'labels'}")
    stages["convert"] = time.perf_counter() - t0
    log.info("convert done in %.1f s", stages["convert"])

    log.info("roundtrip ...")
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
    log.info("roundtrip done in %.1f s", stages["roundtrip"])

    log.info("kmeans ...")
    t0 = time.perf_counter()
    from .anchors import run_kmeans

    km = run_kmeans(voc_out / "data.yaml", 6, split="train", mode="img-size", size=128, plot=str(out / "anchors.png"), restarts=4)
    stages["kmeans"] = time.perf_counter() - t0
    log.info("kmeans done in %.1f s", stages["kmeans"])

    log.info("augment ...")
    t0 = time.perf_counter()
    from .augment_run import run_augment

    run_augment(voc_out / "data.yaml", out / "augment", recipe="ultralytics", n=8, seed=seed, img_size=160, split="train")
    stages["augment"] = time.perf_counter() - t0
    log.info("augment done in %.1f s", stages["augment"])

    log.info("audit ...")
    t0 = time.perf_counter()
    from .audit import run_audit

    aud = run_audit(voc_out / "data.yaml", against=voc_out / "data.yaml", split="train", split_b="val", html=str(out / "audit.html"))
    stages["audit"] = time.perf_counter() - t0
    log.info("audit done in %.1f s", stages["audit"])

    log.info("train+eval ...")
    t0 = time.perf_counter()
    tr_res = _train_and_eval(out, voc_out / "data.yaml", km.result.anchors, fast=fast, seed=seed)
    stages["train+eval"] = time.perf_counter() - t0
    log.info("train+eval done in %.1f s", stages["train+eval"])

    res = DemoResult(
        out=str(out),
        images={s: len(d) for s, d in shapes.truth.items()},
        boxes={s: d.num_boxes for s, d in shapes.truth.items()},
        classes=list(truth.class_map.names),
        convert_agree=agree,
        roundtrip_max_error_px=err,
        stages=stages,
        files={"data_yaml": str(voc_out / "data.yaml"), "summary": str(out / "summary.json"), "report": str(out / "report.html"),
               "audit": str(out / "audit.html"), "anchors_plot": str(out / "anchors.png"), "augment_preview": str(out / "augment" / "preview.jpg")},
        anchors=km.result.anchors,
        avg_iou=km.result.avg_iou,
        bpr=km.result.bpr,
        audit_drift=aud.drift.flagged if aud.drift else [],
        audit_findings=len(aud.validation.findings),
        **tr_res,
    )
    atomic_write_text(out / "summary.json", json.dumps(res.to_dict(), indent=2))
    _report(out, res)
    return res


def _train_and_eval(out: Path, data_yaml: Path, anchors, *, fast: bool, seed: int) -> dict:
    """Train the demo detector with the demo's k-means anchors, evaluate it on
    val, draw PR curves, training curves and detections.  Returns the summary
    fields."""

    from .eval import evaluate_coco, from_arrays
    from .eval.plots import write_eval_plots
    from .io import load_dataset
    from .model import load_checkpoint
    from .model.predict import predict_dataset
    from .train.trainer import Trainer, TrainConfig

    from .train.parts import build_model

    train_ds, _ = load_dataset(data_yaml, split="train")
    val_ds, _ = load_dataset(data_yaml, split="val")
    # AdamW at its default lr and beta1 (0.004, 0.9); the heads and biases `yolotools train` gives a fresh network
    cfg = TrainConfig(epochs=50 if fast else 60, img_size=128, batch=16, nominal_batch=16, optimizer="adamw", ema_decay=0.98, ema_tau=20,
                      warmup_epochs=1, recipe="letterbox" if fast else "darknet", seed=seed, eval_every=10)
    # the network `yolotools train` builds (the run's seed, heads, biases), with the demo's k-means anchors
    net, _ = build_model(cfg, train_ds, model="shapes-tiny", anchors=[[round(v) for v in wh] for wh in anchors])
    t0 = time.perf_counter()
    hist = Trainer(model=net, train=train_ds, val=val_ds, config=cfg, out=out / "train").fit()
    secs = time.perf_counter() - t0
    # one inference pass on val feeds the metrics, the PR curves/confusion matrix and the drawings
    from .augment import load_sample
    from .augment_run import preview_grid
    from .draw import draw_boxes

    # best.pt (EMA weights) is what the trainer's validation picked and what `detect` uses:
    # the summary's mAP is the one `detect --conf 0.001 --iou 0.6` + `eval` give on val
    best, _ = load_checkpoint(out / "train" / "best.pt")
    per = predict_dataset(best, val_ds, 128, conf=cfg.conf_thres, iou=cfg.iou_thres, max_det=cfg.max_det, merge_iou=cfg.merge_iou).to_arrays()
    pred = from_arrays(val_ds, per)
    res = evaluate_coco(val_ds, pred)
    write_eval_plots(out / "eval", val_ds, pred, res)
    drawn = []
    for r in val_ds.records[:8]:
        xyxy, cls, sc = per[r.image_id]
        keep = sc >= 0.3
        drawn.append(draw_boxes(load_sample(r).image, xyxy[keep], cls[keep], val_ds.class_map.names, scores=sc[keep]))
    import io as _io

    from PIL import Image

    from .io.files import atomic_write_bytes

    buf = _io.BytesIO()
    Image.fromarray(preview_grid(drawn)).save(buf, format="PNG")
    atomic_write_bytes(out / "eval" / "detections.png", buf.getvalue())
    return {"epochs": len(hist), "train_seconds": secs, "map50": res.stats["AP50"], "map50_95": res.stats["AP"]}


def _report(out: Path, res: DemoResult) -> None:
    """One self-contained page: summary, anchor plot, augmentation preview, audit link."""
    import base64
    import html

    def img(path: Path, mime: str, width: str = "48%") -> str:
        return f"<img src='data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}' style='max-width:{width}'>"

    def fmt(v) -> str:  # what a person reads: rounded numbers, one item per line
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, dict):
            return "<br>".join(f"{html.escape(str(k))}: {fmt(x)}" for k, x in v.items())
        if isinstance(v, list) and v and isinstance(v[0], list):
            return ", ".join("(" + ", ".join(fmt(x) for x in row) + ")" for row in v)
        if isinstance(v, list):
            return html.escape(", ".join(str(x) for x in v)) or "none"
        return html.escape(str(v))

    labels = {"stages": "stage seconds", "map50": "val mAP@0.5", "map50_95": "val mAP@.5:.95", "train_seconds": "training seconds",
              "avg_iou": "anchor avg IoU", "bpr": "anchor best possible recall", "roundtrip_max_error_px": "round-trip max error (px)"}
    rows = "".join(f"<tr><td>{html.escape(labels.get(k, k.replace('_', ' ')))}</td><td>{fmt(v)}</td></tr>"
                   for k, v in res.to_dict().items() if k not in ("files", "out"))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>yolotools demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:top}</style></head><body>"
        f"<h1>yolotools demo</h1><table>{rows}</table>"
        f"<h2>Anchors</h2>{img(out / 'anchors.png', 'image/png')}"
        f"<h2>Augmentation preview (ultralytics recipe)</h2>{img(out / 'augment' / 'preview.jpg', 'image/jpeg')}"
        f"<h2>Training</h2>{img(out / 'train' / 'results.png', 'image/png', '100%')}"
        f"<h2>Evaluation on val</h2>{img(out / 'eval' / 'pr_curves.png', 'image/png')}{img(out / 'eval' / 'confusion_matrix.png', 'image/png')}"
        f"<h2>Detections on val images</h2>{img(out / 'eval' / 'detections.png', 'image/png')}"
        f"<h2>Audit</h2><p>train vs val drift flags: {html.escape(', '.join(res.audit_drift) or 'none')}; "
        f"full report: <a href='audit.html'>audit.html</a></p></body></html>"
    )
    atomic_write_text(out / "report.html", page)
