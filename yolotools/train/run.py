"""``yolotools train`` as one call (:func:`run_train`): load the splits, build
the network for the dataset (anchors given or k-means), load starting weights,
train; ``resume=True`` continues a run folder from its ``last.pt``."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


from ..errors import YoloToolsError
from ..io.files import atomic_write_text
from .config import TrainConfig
from .parts import build_model
from .trainer import Trainer

__all__ = ["TrainReport", "run_train", "RESUME_MAY_CHANGE"]

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    out: str
    epochs: int
    best_map50_95: float
    last: dict = field(default_factory=dict)
    anchors: list = field(default_factory=list)
    train_seconds: float = 0.0
    skipped: dict = field(default_factory=dict)  # split -> images/labels left out because of errors
    problems: list = field(default_factory=list)
    world_size: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"run dir          {self.out}", f"epochs           {self.epochs}" + (f" on {self.world_size} processes" if self.world_size > 1 else ""),
                 f"best mAP50-95    {self.best_map50_95:.4f}", f"train seconds    {self.train_seconds:.1f}"]
        if self.last:
            lines.append("last epoch       " + ", ".join(f"{k} {v:.4g}" for k, v in self.last.items() if isinstance(v, float)))
        if self.anchors:
            lines.append("anchors          " + ", ".join(f"{a:.0f},{b:.0f}" for a, b in self.anchors))
        if any(self.skipped.values()):
            lines.append("skipped          " + ", ".join(f"{k}: {v} (see the log)" for k, v in self.skipped.items()))
        lines.append(f"files            {self.out}/results.csv, results.png, last.pt, best.pt (yolotools model convert ... -> .weights)")
        return "\n".join(lines)


def _load_split(data, split: str, strict: bool, required: bool):
    """A split and its problems; errors are logged by file and counted (the
    readers already left those files out), or raised with ``strict``."""
    from ..io import load_dataset

    try:
        ds, probs = load_dataset(data, split=split)
    except YoloToolsError:
        if required:
            raise
        return None, []
    errors = [p for p in probs if p.severity == "error"]
    if errors and strict:
        shown = "\n  ".join(str(p) for p in errors[:10])
        raise YoloToolsError(f"{len(errors)} problem(s) in the {split} split (--strict):\n  {shown}")
    for p in errors[:50]:
        log.warning("%s split: %s", split, p)
    if len(errors) > 50:
        log.warning("%s split: %d more problems not shown", split, len(errors) - 50)
    return ds, errors


def _load_splits(data, strict: bool):
    """``(train, val or None, train errors, val errors)``."""
    train_ds, train_err = _load_split(data, "train", strict, required=True)
    val_ds, val_err = _load_split(data, "val", strict, required=False)
    if val_ds is None:
        log.warning("%s: no val split; training without evaluation (best.pt = last epoch)", data)
    return train_ds, val_ds, train_err, val_err


def run_train(data, *, model: str = "yolov3-tiny", cfg_path: str | None = None, weights: str | None = None, num_layers: int | None = None,
              anchors: str | None = None, out: str = "runs/train", resume: bool = False, progress: bool = False, strict: bool = False,
              **kw) -> TrainReport:
    """Everything ``yolotools train`` does: load the train/val splits (files with
    errors are reported and left out, or fail with ``strict``), build the
    network for the dataset's classes (and anchors: given, or ``"auto"`` = our
    k-means on the training labels), load starting weights, train."""
    if resume:
        return _resume(data, out, progress=progress, strict=strict, **kw)
    from ..io import dataset_inputs
    from ..io.files import check_output

    check_output(out, [*dataset_inputs(data), weights, cfg_path if cfg_path and Path(cfg_path).exists() else None])
    cfg = TrainConfig(**kw)
    train_ds, val_ds, train_err, val_err = _load_splits(data, strict)
    net, anc = build_model(cfg, train_ds, model=cfg_path or model, anchors=anchors, weights=weights, num_layers=num_layers)
    t0 = time.perf_counter()
    tr = Trainer(model=net, train=train_ds, val=val_ds, config=cfg, out=out, run_args={"data": str(Path(data).resolve())}, progress=progress)
    if anc is not None and tr.main:
        atomic_write_text(Path(out) / "anchors.txt", ", ".join(f"{a:g},{b:g}" for a, b in anc) + "\n")
    return _fit_report(tr, progress, t0, [] if anc is None else anc.tolist(), train_err, val_err)


def _fit_report(tr: Trainer, progress: bool, t0: float, anchors: list, train_err: list, val_err: list) -> TrainReport:
    hist = tr.fit(progress=progress)
    return TrainReport(str(tr.out), len(hist), tr.best, asdict(hist[-1]) if hist else {}, anchors, time.perf_counter() - t0,
                       {"train": len(train_err), "val": len(val_err)}, [p.to_dict() for p in (train_err + val_err)[:100]], tr.world)


# options a resumed run may change (another machine); everything else is the run's own
RESUME_MAY_CHANGE = ("device", "workers", "eval_every", "plots")


def _resume(data, out, *, progress: bool, strict: bool, **given) -> TrainReport:
    """Continue ``out/last.pt``: the network (its cfg, classes and anchors), the
    training config and the data path come from the checkpoint, so
    ``train --resume RUN_DIR`` needs nothing else.  ``given`` options other than
    :data:`RESUME_MAY_CHANGE` that differ from the run's are ignored with a
    warning (the schedule must stay the same)."""
    from ..model import read_checkpoint
    from ..model.cfg import parse_cfg_text
    from ..model.darknet import DarknetNet

    path = Path(out) / "last.pt"
    if not path.exists():
        raise YoloToolsError(f"{path}: no checkpoint to resume from (is {out} a run folder?)")
    ck = read_checkpoint(path)  # read once: the Trainer restores its state from this dict
    if not isinstance(ck.get("train_config"), dict):
        raise YoloToolsError(f"{path}: a model checkpoint, not a training run's (no train_config)")
    saved, cfg_text = dict(ck["train_config"]), ck["cfg"]
    changed = {k: v for k, v in given.items() if k in saved and saved[k] != v}
    ignored = sorted(k for k in changed if k not in RESUME_MAY_CHANGE)
    if ignored:
        log.warning("resuming %s with its own %s (given values ignored)", out, ", ".join(ignored))
    cfg = TrainConfig(**{**saved, **{k: v for k, v in changed.items() if k in RESUME_MAY_CHANGE}})
    data = data or (ck.get("run_args") or {}).get("data")
    if not data:
        raise YoloToolsError(f"{path}: the checkpoint does not name its data; give --data")
    train_ds, val_ds, train_err, val_err = _load_splits(data, strict)
    if list(train_ds.class_map.names) != list(ck.get("class_names", train_ds.class_map.names)):
        raise YoloToolsError(f"{data}: its classes {list(train_ds.class_map.names)} are not the run's {ck.get('class_names')}")
    net = DarknetNet(sections=parse_cfg_text(cfg_text, str(path)))
    t0 = time.perf_counter()
    tr = Trainer(model=net, train=train_ds, val=val_ds, config=cfg, out=out, resume=True, run_args={"data": str(Path(data).resolve())}, checkpoint=ck,
                 progress=progress)
    from ..anchors import parse_anchor_list

    txt = Path(out) / "anchors.txt"
    anchors = parse_anchor_list(txt.read_text()).tolist() if txt.exists() else []
    return _fit_report(tr, progress, t0, anchors, train_err, val_err)
