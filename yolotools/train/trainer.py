"""The training loop (first cut): SGD/AdamW, linear warm-up then cosine or step
decay, gradient accumulation to a nominal batch, EMA of weights, AMP on CUDA,
per-epoch COCO mAP of the EMA model on the validation split, ``results.csv``,
atomic ``last.pt``/``best.pt`` (loadable with ``weights_only=True``) and resume.

Determinism: the epoch's sample order comes from ``(seed, epoch)`` and every
augmentation from ``(seed, epoch, index)``, so a run resumed from ``last.pt``
repeats the interrupted epoch exactly as an uninterrupted run would (on CPU).
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import YoloToolsError
from ..io.files import atomic_write_bytes, atomic_write_text

__all__ = ["TrainConfig", "Trainer", "predict", "evaluate_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    img_size: int = 416
    batch: int = 16
    nominal_batch: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 5e-4
    warmup_epochs: float = 3.0
    schedule: str = "cosine"  # cosine | step
    final_lr_ratio: float = 0.01
    box_loss: str = "ciou"
    recipe: str = "ultralytics"
    workers: int = 0
    device: str = "cpu"
    amp: bool = True
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    seed: int = 0
    conf_thres: float = 0.001
    iou_thres: float = 0.6
    max_det: int = 300


class ModelEMA:
    """Exponential moving average of the weights; decay ramps up as
    ``decay * (1 - exp(-updates / tau))`` (Ultralytics' schedule)."""

    def __init__(self, model: torch.nn.Module, decay: float, tau: float, updates: int = 0):
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, updates

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


@torch.no_grad()
def predict(model, dataset, img_size: int, *, device="cpu", batch: int = 16, conf: float = 0.001, iou: float = 0.6, max_det: int = 300) -> dict:
    """Letterboxed inference on every image of ``dataset``: ``image_id -> (xyxy in
    original pixels, class_ids, scores)`` (the input of ``eval.from_arrays``)."""
    from ..augment import load_sample
    from ..letterbox import from_letterbox, letterbox_image
    from ..model.decode import decode, postprocess

    model.eval()
    per = {}
    recs = [r for r in dataset.records if r.path is not None]
    for s in range(0, len(recs), batch):
        chunk = recs[s : s + batch]
        imgs, infos = [], []
        for r in chunk:
            lb, info = letterbox_image(load_sample(r).image, img_size)
            imgs.append(lb)
            infos.append(info)
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().div_(255).to(device)
        dets = postprocess(decode(model(x), model.heads, (img_size, img_size)), conf_thres=conf, iou_thres=iou, max_det=max_det)
        for r, info, d in zip(chunk, infos, dets):
            d = d.cpu().double().numpy()
            xyxy = from_letterbox(d[:, :4], info) if len(d) else np.zeros((0, 4))
            sh, sw = info.image_hw
            rh, rw = r.image_hw
            xyxy = xyxy * [rw / sw, rh / sh, rw / sw, rh / sh]
            per[r.image_id] = (xyxy, d[:, 5].astype(np.int64), d[:, 4])
    return per


def evaluate_model(model, dataset, img_size: int, **kw):
    """COCO metrics of ``model`` on ``dataset`` (see :func:`predict`); returns
    :class:`yolotools.eval.CocoEvalResult`."""
    from ..eval import evaluate_coco, from_arrays

    return evaluate_coco(dataset, from_arrays(dataset, predict(model, dataset, img_size, **kw)))


@dataclass
class EpochLog:
    epoch: int
    lr: float
    box: float
    obj: float
    cls: float
    map50: float
    map50_95: float
    images_per_s: float
    seconds: float


class Trainer:
    """``Trainer(model, train_ds, val_ds, cfg, out).fit()``; ``resume=True``
    continues from ``out/last.pt``."""

    def __init__(self, model, train_ds, val_ds, cfg: TrainConfig, out: Path | str, *, resume: bool = False):
        from ..model.loss import YoloLoss
        from .data import YoloDataset

        self.cfg, self.out = cfg, Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(cfg.device)
        self.model = model.to(self.device)
        self.train_ds, self.val_ds = train_ds, val_ds
        self.data = YoloDataset(train_ds, recipe=cfg.recipe, img_size=cfg.img_size, seed=cfg.seed)
        self.loss = YoloLoss(model.heads, box_loss=cfg.box_loss)
        self.accumulate = max(1, round(cfg.nominal_batch / cfg.batch))
        decay, no_decay = [], []
        for n, p in model.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)
        wd = cfg.weight_decay * cfg.batch * self.accumulate / cfg.nominal_batch
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr,
                                       momentum=cfg.momentum, nesterov=True)
        elif cfg.optimizer == "adamw":
            self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr,
                                         betas=(cfg.momentum, 0.999))
        else:
            raise YoloToolsError(f"optimizer must be sgd or adamw, got {cfg.optimizer!r}")
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.ema = ModelEMA(model, cfg.ema_decay, cfg.ema_tau)
        self.start_epoch, self.step, self.best = 0, 0, -1.0
        self.history: list[EpochLog] = []
        if resume:
            self._load(self.out / "last.pt")

    # ------------------------------------------------------------ schedule
    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        c = self.cfg
        warm = max(1, int(c.warmup_epochs * steps_per_epoch))
        if step < warm:
            return c.lr * (step + 1) / warm
        e = step / max(1, steps_per_epoch)
        if c.schedule == "cosine":
            return c.lr * (c.final_lr_ratio + (1 - c.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * e / c.epochs)))
        return c.lr * (0.1 ** sum(e >= f * c.epochs for f in (0.8, 0.9)))

    # ------------------------------------------------------------ checkpoints
    def _state(self, epoch: int) -> dict:
        from ..model.cfg import cfg_text

        return {
            "format": "yolotools-darknet", "version": 1, "cfg": cfg_text(self.model.sections), "header": [0, 2, 0, self.step * self.cfg.batch],
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in self.ema.ema.state_dict().items()}, "ema_updates": self.ema.updates,
            "optimizer": self.opt.state_dict(), "scaler": self.scaler.state_dict(), "epoch": epoch, "step": self.step,
            "best": self.best, "train_config": asdict(self.cfg), "torch_rng": torch.get_rng_state(),
            "class_names": list(self.train_ds.class_map.names),
        }

    def _save(self, path: Path, epoch: int) -> None:
        buf = io.BytesIO()
        torch.save(self._state(epoch), buf)
        atomic_write_bytes(path, buf.getvalue())

    def _load(self, path: Path) -> None:
        if not path.exists():
            raise YoloToolsError(f"{path}: no checkpoint to resume from")
        ck = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(ck["model"])
        self.ema.ema.load_state_dict(ck["ema"])
        self.ema.updates = int(ck["ema_updates"])
        self.opt.load_state_dict(ck["optimizer"])
        self.scaler.load_state_dict(ck["scaler"])
        torch.set_rng_state(ck["torch_rng"])
        self.start_epoch, self.step, self.best = int(ck["epoch"]) + 1, int(ck["step"]), float(ck["best"])
        if (self.out / "results.csv").exists():
            with open(self.out / "results.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            self.history = [EpochLog(**{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items()}) for r in rows if int(r["epoch"]) < self.start_epoch]

    # ------------------------------------------------------------ loop
    def fit(self, progress: bool = False, stop_after: int | None = None) -> list[EpochLog]:
        """Train to ``cfg.epochs`` (or stop after epoch ``stop_after``, as a kill
        between epochs would; the schedule is still that of ``cfg.epochs``)."""
        from tqdm.auto import tqdm

        from .data import make_loader

        c = self.cfg
        n = len(self.data)
        steps_per_epoch = math.ceil(n / c.batch)
        last = c.epochs if stop_after is None else min(c.epochs, stop_after)
        for epoch in range(self.start_epoch, last):
            self.data.set_epoch(epoch)
            g = torch.Generator().manual_seed(c.seed * 1000003 + epoch)
            order = torch.randperm(n, generator=g).tolist()
            loader = make_loader(self.data, batch_size=c.batch, workers=c.workers, sampler=order)
            self.model.train()
            t0, seen = time.perf_counter(), 0
            sums = np.zeros(3)
            self.opt.zero_grad(set_to_none=True)
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{c.epochs}", disable=not progress, leave=False)
            for i, (x, t) in enumerate(bar):
                x, t = x.to(self.device, non_blocking=True), t.to(self.device)
                lr = self.lr_at(self.step, steps_per_epoch)
                for gr in self.opt.param_groups:
                    gr["lr"] = lr
                with torch.autocast(self.device.type, enabled=self.use_amp, dtype=torch.float16):
                    out = self.model(x)
                loss, parts = self.loss([o.float() for o in out], t, (x.shape[2], x.shape[3]))
                if not torch.isfinite(loss):
                    raise YoloToolsError(f"loss became {loss.item()} at epoch {epoch + 1}, step {self.step}; last good checkpoint: {self.out / 'last.pt'}")
                self.scaler.scale(loss / self.accumulate).backward()
                if (i + 1) % self.accumulate == 0 or i + 1 == len(loader):
                    self.scaler.unscale_(self.opt)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
                    self.scaler.step(self.opt)
                    self.scaler.update()
                    self.opt.zero_grad(set_to_none=True)
                    self.ema.update(self.model)
                self.step += 1
                seen += len(x)
                sums += [parts["box"], parts["obj"], parts["cls"]]
                bar.set_postfix(loss=f"{loss.item():.3f}", ips=f"{seen / (time.perf_counter() - t0):.1f}")
            dt = time.perf_counter() - t0
            res = evaluate_model(self.ema.ema, self.val_ds, c.img_size, device=self.device, conf=c.conf_thres, iou=c.iou_thres,
                                 max_det=c.max_det) if self.val_ds is not None else None
            m50 = res.stats["AP50"] if res else 0.0
            m = res.stats["AP"] if res else 0.0
            nb = max(1, steps_per_epoch)
            self.history.append(EpochLog(epoch, lr, *(sums / nb).tolist(), m50, m, seen / dt, dt))
            self._write_results()
            self._save(self.out / "last.pt", epoch)
            if m > self.best:
                self.best = m
                self._save(self.out / "best.pt", epoch)
        return self.history

    def _write_results(self) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(asdict(self.history[0]).keys()))
        w.writeheader()
        for h in self.history:
            w.writerow(asdict(h))
        atomic_write_text(self.out / "results.csv", buf.getvalue())


@dataclass
class TrainReport:
    out: str
    epochs: int
    best_map50_95: float
    last: dict = field(default_factory=dict)
    anchors: list = field(default_factory=list)
    train_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"run dir          {self.out}", f"epochs           {self.epochs}", f"best mAP50-95    {self.best_map50_95:.4f}",
                 f"train seconds    {self.train_seconds:.1f}"]
        if self.last:
            lines.append("last epoch       " + ", ".join(f"{k} {v:.4g}" for k, v in self.last.items() if isinstance(v, float)))
        if self.anchors:
            lines.append("anchors          " + ", ".join(f"{a:.0f},{b:.0f}" for a, b in self.anchors))
        lines.append(f"checkpoints      {self.out}/last.pt, {self.out}/best.pt (yolotools model convert ... --> .weights)")
        return "\n".join(lines)


def run_train(data, *, model: str = "yolov3-tiny", cfg_path: str | None = None, weights: str | None = None, num_layers: int | None = None,
              anchors: str | None = None, out: str = "runs/train", resume: bool = False, progress: bool = False, **kw) -> TrainReport:
    """Everything ``yolotools train`` does: load the train/val splits, build the
    network for the dataset's classes (and anchors: given, or ``"auto"`` = our
    k-means on the training labels), load starting weights, train."""
    from ..anchors import dataset_wh, kmeans_anchors, parse_anchor_list
    from ..io import load_dataset
    from ..model import load_network, load_weights_any

    cfg = TrainConfig(**kw)
    train_ds, _ = load_dataset(data, split="train")
    try:
        val_ds, _ = load_dataset(data, split="val")
    except YoloToolsError:
        val_ds = None
    k = len(train_ds.class_map)
    torch.manual_seed(cfg.seed)  # the initial weights are part of the run
    net = load_network(cfg_path or model, classes=k, size=cfg.img_size)
    anc = None
    if anchors == "auto":
        n_anchors = sum(len(h.anchors) for h in net.heads)
        wh, _, _ = dataset_wh(train_ds, mode="img-size", size=cfg.img_size)
        res = kmeans_anchors(wh, n_anchors, seed=cfg.seed)
        anc = np.round(np.array(res.anchors), 2)
        if net.heads[0].kind == "region":
            anc = anc / (cfg.img_size / 32)
    elif anchors:
        anc = parse_anchor_list(anchors)
    if anc is not None:
        torch.manual_seed(cfg.seed)
        net = load_network(cfg_path or model, classes=k, anchors=anc.reshape(-1).tolist(), size=cfg.img_size)
    if weights and not resume:
        load_weights_any(net, weights, num_layers=num_layers)
    Path(out).mkdir(parents=True, exist_ok=True)
    if anc is not None:
        atomic_write_text(Path(out) / "anchors.txt", ", ".join(f"{a:g},{b:g}" for a, b in anc) + "\n")
    t0 = time.perf_counter()
    tr = Trainer(net, train_ds, val_ds, cfg, out, resume=resume)
    hist = tr.fit(progress=progress)
    return TrainReport(str(out), len(hist), tr.best, asdict(hist[-1]) if hist else {}, [] if anc is None else anc.tolist(),
                       time.perf_counter() - t0)
