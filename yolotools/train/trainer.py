"""The training loop: SGD/AdamW, linear warm-up then cosine or step decay,
gradient accumulation to a nominal batch, EMA of weights, AMP (bf16/fp16) on
CUDA, multi-scale, ``channels_last``, optional ``torch.compile``, DDP when
started by ``torchrun``; mAP of the EMA model on the validation split every
``eval_every`` epochs; ``results.csv`` + ``results.png``; atomic
``last.pt``/``best.pt`` (loadable with ``weights_only=True``) and resume.

Determinism: the epoch's sample order comes from ``(seed, epoch)``, every
augmentation from ``(seed, epoch, index)`` and every multi-scale size from
``(seed, epoch, step)``, so a run resumed from ``last.pt`` repeats the
interrupted epoch exactly as an uninterrupted run would (on CPU).

Distributed: under ``torchrun --nproc_per_node N`` each process takes every
N-th sample of the epoch's order (padded to equal length, like
``DistributedSampler``), gradients are averaged by DDP (so the effective batch
is ``N x batch`` and accumulation counts that), and only rank 0 evaluates,
plots and writes files.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ..errors import YoloToolsError
from ..io.files import atomic_write_bytes, atomic_write_text

__all__ = ["TrainConfig", "Trainer", "predict", "evaluate_model", "plot_results", "multi_scale_range"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    img_size: int = 416
    batch: int = 16  # per process
    nominal_batch: int = 64  # accumulate gradients up to this many images (all processes together)
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.937
    weight_decay: float = 5e-4
    warmup_epochs: float = 3.0
    schedule: str = "cosine"  # cosine | step
    final_lr_ratio: float = 0.01
    box_loss: str = "ciou"
    recipe: str = "ultralytics"
    workers: int = 0  # data loader processes; -1 = auto (0 on CPU, min(8, cores - 1) on CUDA)
    device: str = "cpu"
    amp: str = "auto"  # auto (bf16 where supported, else fp16; CUDA only) | bf16 | fp16 | off
    multi_scale: bool = False  # a new square size per optimiser step, multiple of 32 in [0.75, 1.5] x img_size
    channels_last: bool = False
    compile: bool = False
    eval_every: int = 1  # evaluate on val every N epochs (and always after the last)
    plots: bool = True
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    seed: int = 0
    conf_thres: float = 0.001
    iou_thres: float = 0.6
    max_det: int = 300

    def __post_init__(self):
        if isinstance(self.amp, bool):
            object.__setattr__(self, "amp", "auto" if self.amp else "off")
        checks = {"optimizer": ("sgd", "adamw"), "schedule": ("cosine", "step"), "amp": ("auto", "bf16", "fp16", "off"),
                  "box_loss": ("ciou", "giou", "darknet"), "recipe": ("letterbox", "darknet", "ultralytics")}
        for k, allowed in checks.items():
            if getattr(self, k) not in allowed:
                raise YoloToolsError(f"{k} must be one of {', '.join(allowed)}, got {getattr(self, k)!r}")
        for k in ("epochs", "img_size", "batch", "nominal_batch", "eval_every"):
            if getattr(self, k) < 1:
                raise YoloToolsError(f"{k} must be at least 1, got {getattr(self, k)}")
        if self.device == "auto":
            object.__setattr__(self, "device", "cuda" if torch.cuda.is_available() else "cpu")
        if self.workers < 0:  # auto: the loader in this process on CPU; on a GPU, enough processes to keep it fed
            object.__setattr__(self, "workers", 0 if not self.device.startswith("cuda") else max(1, min(8, (os.cpu_count() or 2) - 1)))
        if self.img_size % 32:
            raise YoloToolsError(f"img_size must be a multiple of 32, got {self.img_size}")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def multi_scale_range(img_size: int) -> tuple[int, int]:
    """Sizes multi-scale training draws from: multiples of 32 from 0.75x to 1.5x
    the training size (320..608 for 416, Darknet's range)."""
    return 32 * math.ceil(0.75 * img_size / 32), 32 * math.floor(1.5 * img_size / 32)


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
    map50: float  # NaN on epochs without evaluation
    map50_95: float
    images_per_s: float
    seconds: float


def _dist_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


class Trainer:
    """``Trainer(model, train_ds, val_ds, cfg, out).fit()``; ``resume=True``
    continues from ``out/last.pt``.  Under ``torchrun`` (``WORLD_SIZE`` > 1) it
    joins the process group itself (NCCL on CUDA, gloo on CPU)."""

    def __init__(self, model, train_ds, val_ds, cfg: TrainConfig, out: Path | str, *, resume: bool = False, run_args: dict | None = None,
                 checkpoint: dict | None = None):
        from ..model.loss import YoloLoss
        from .data import YoloDataset

        self.cfg, self.out = cfg, Path(out)
        self.run_args = dict(run_args or {})  # what `train --resume RUN_DIR` needs besides the config (the data path)
        self.world, self.rank = 1, 0
        device = torch.device(cfg.device)
        if _dist_world() > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.world, self.rank = dist.get_world_size(), dist.get_rank()
        self.main = self.rank == 0
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.model = model.to(device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.forward = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.forward = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.compile:
            self.forward = torch.compile(self.forward)
        self.train_ds, self.val_ds = train_ds, val_ds
        self.data = YoloDataset(train_ds, recipe=cfg.recipe, img_size=cfg.img_size, seed=cfg.seed, uint8=True)
        self.loss = YoloLoss(model.heads, box_loss=cfg.box_loss)
        self.accumulate = max(1, round(cfg.nominal_batch / (cfg.batch * self.world)))
        decay, no_decay = [], []
        for n, p in model.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)
        wd = cfg.weight_decay * cfg.batch * self.world * self.accumulate / cfg.nominal_batch
        groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
        else:
            self.opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
        self.amp_dtype = None
        if device.type == "cuda" and cfg.amp != "off":
            bf16 = cfg.amp == "bf16" or (cfg.amp == "auto" and torch.cuda.is_bf16_supported())
            self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.ema = ModelEMA(model, cfg.ema_decay, cfg.ema_tau)
        self.start_epoch, self.step, self.best = 0, 0, -1.0
        self.history: list[EpochLog] = []
        if resume:  # ``checkpoint``: out/last.pt already read by the caller
            self._load(self.out / "last.pt", checkpoint)

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

    def epoch_order(self, epoch: int) -> list[int]:
        """This process's samples for ``epoch``, in order."""
        n = len(self.data)
        g = torch.Generator().manual_seed(self.cfg.seed * 1000003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
        if self.world > 1:
            per = math.ceil(n / self.world)
            order = (order * math.ceil(per * self.world / n))[: per * self.world][self.rank :: self.world]
        return order

    def size_at(self, epoch: int, i: int) -> int:
        """Input size of batch ``i`` of ``epoch`` (one size per optimiser step)."""
        if not self.cfg.multi_scale:
            return self.cfg.img_size
        lo, hi = multi_scale_range(self.cfg.img_size)
        rng = np.random.default_rng([self.cfg.seed, epoch, i // self.accumulate])
        return 32 * int(rng.integers(lo // 32, hi // 32 + 1))

    # ------------------------------------------------------------ checkpoints
    def _state(self, epoch: int) -> dict:
        from ..model.cfg import cfg_text

        return {
            "format": "yolotools-darknet", "version": 1, "cfg": cfg_text(self.model.sections), "header": [0, 2, 0, self.step * self.cfg.batch * self.world],
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in self.ema.ema.state_dict().items()}, "ema_updates": self.ema.updates,
            "optimizer": self.opt.state_dict(), "scaler": self.scaler.state_dict(), "epoch": epoch, "step": self.step,
            "best": self.best, "train_config": asdict(self.cfg), "torch_rng": torch.get_rng_state(),
            "class_names": list(self.train_ds.class_map.names), "world_size": self.world, "run_args": self.run_args,
        }

    def _serialize(self, epoch: int) -> bytes:
        buf = io.BytesIO()
        torch.save(self._state(epoch), buf)
        return buf.getvalue()

    def _load(self, path: Path, ck: dict | None = None) -> None:
        if ck is None:
            if not path.exists():
                raise YoloToolsError(f"{path}: no checkpoint to resume from")
            from ..model import read_checkpoint

            ck = read_checkpoint(path)
        if ck.get("world_size", 1) != self.world:
            log.warning("%s was written by %d process(es), resuming with %d: the sample order differs from an uninterrupted run",
                        path, ck.get("world_size", 1), self.world)
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
    def _barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def fit(self, progress: bool = False, stop_after: int | None = None) -> list[EpochLog]:
        """Train to ``cfg.epochs`` (or stop after epoch ``stop_after``, as a kill
        between epochs would; the schedule is still that of ``cfg.epochs``)."""
        from tqdm.auto import tqdm

        from .data import EpochSampler, make_loader

        c = self.cfg
        last = c.epochs if stop_after is None else min(c.epochs, stop_after)
        sampler = EpochSampler(len(self.epoch_order(self.start_epoch)))
        # one loader for the whole run: its (spawned, persistent) workers start once
        loader = make_loader(self.data, batch_size=c.batch, workers=c.workers, sampler=sampler, pin_memory=self.device.type == "cuda")
        for epoch in range(self.start_epoch, last):
            order = self.epoch_order(epoch)
            sampler.set(epoch, order)
            steps_per_epoch = math.ceil(len(order) / c.batch)
            self.model.train()
            t0, seen = time.perf_counter(), 0
            sums = torch.zeros(3, device=self.device)
            bad = torch.zeros((), dtype=torch.bool, device=self.device)  # a non-finite loss since the last check
            self.opt.zero_grad(set_to_none=True)
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{c.epochs}", disable=not (progress and self.main), leave=False, unit="batch")
            for i, (x, t) in enumerate(bar):
                x, t = x.to(self.device, non_blocking=True).float().div_(255.0), t.to(self.device, non_blocking=True)
                size = self.size_at(epoch, i)
                if size != x.shape[-1]:
                    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                if c.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                lr = self.lr_at(self.step, steps_per_epoch)
                for gr in self.opt.param_groups:
                    gr["lr"] = lr
                stepping = (i + 1) % self.accumulate == 0 or i + 1 == steps_per_epoch
                sync = self.forward.no_sync() if self.world > 1 and not stepping else contextlib.nullcontext()
                with sync:
                    with torch.autocast(self.device.type, enabled=self.amp_dtype is not None, dtype=self.amp_dtype or torch.float32):
                        out = self.forward(x)
                    loss, parts = self.loss([o.float() for o in out], t, (x.shape[2], x.shape[3]))
                    bad = bad | ~torch.isfinite(loss.detach())
                    self.scaler.scale(loss / self.accumulate).backward()
                if stepping:
                    self.scaler.unscale_(self.opt)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
                    self.scaler.step(self.opt)
                    self.scaler.update()
                    self.opt.zero_grad(set_to_none=True)
                    self.ema.update(self.model)
                self.step += 1
                seen += len(x)
                sums += torch.stack([parts["box"], parts["obj"], parts["cls"]])
                if i % 10 == 0 or i + 1 == steps_per_epoch:  # one device sync per 10 steps, not per step
                    self._check_finite(bad, loss, epoch)
                    if not bar.disable:
                        bar.set_postfix(loss=f"{loss.item():.3f}", size=size, img_s=f"{seen * self.world / (time.perf_counter() - t0):.1f}")
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            dt = time.perf_counter() - t0
            if self.world > 1:  # the logged losses are the mean over all processes
                torch.distributed.all_reduce(sums)
                sums /= self.world
            evaluate = (epoch + 1) % c.eval_every == 0 or epoch + 1 == c.epochs
            m50 = m = float("nan")
            if self.main:
                if evaluate and self.val_ds is not None:
                    res = evaluate_model(self.ema.ema, self.val_ds, c.img_size, device=self.device, conf=c.conf_thres, iou=c.iou_thres,
                                         max_det=c.max_det)
                    m50, m = res.stats["AP50"], res.stats["AP"]
                    m50, m = max(m50, 0.0), max(m, 0.0)  # COCOeval's -1 (no ground truth) is not a score
                mean = (sums / max(1, steps_per_epoch)).tolist()
                self.history.append(EpochLog(epoch, lr, *mean, m50, m, seen * self.world / dt, dt))
                log.info("epoch %d/%d: loss box %.4f obj %.4f cls %.4f, mAP50 %.4f, mAP50-95 %.4f, %.1f img/s", epoch + 1, c.epochs, *mean, m50, m,
                         seen * self.world / dt)
                self._write_results()
                if c.plots and (evaluate or epoch + 1 == last):
                    plot_results(self.out, self.history)
                improved = evaluate and not math.isnan(m) and m > self.best
                if improved:
                    self.best = m  # before saving: last.pt must carry it, or a resumed run compares against a stale best
                blob = self._serialize(epoch)  # one serialisation for last.pt and best.pt
                atomic_write_bytes(self.out / "last.pt", blob)
                if improved or (self.val_ds is None and epoch + 1 == last):
                    atomic_write_bytes(self.out / "best.pt", blob)
            self._barrier()
        return self.history

    def _check_finite(self, bad: torch.Tensor, loss: torch.Tensor, epoch: int) -> None:
        """Stop (before anything is saved) if a loss since the last check was NaN/inf."""
        flag = bad.float()
        if self.world > 1:  # every process stops together, none is left waiting in an all-reduce
            torch.distributed.all_reduce(flag)
        if flag.item():
            v = "nan" if torch.isnan(loss).item() else "inf" if torch.isinf(loss).item() else "nan/inf"  # this loss or one of the last 10
            raise YoloToolsError(f"loss became {v} at epoch {epoch + 1} (by step {self.step}); "
                                 f"training stopped, the last good checkpoint is {self.out / 'last.pt'} (try a lower --lr, then --resume)")

    def _write_results(self) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(asdict(self.history[0]).keys()))
        w.writeheader()
        for h in self.history:
            w.writerow(asdict(h))
        atomic_write_text(self.out / "results.csv", buf.getvalue())


def plot_results(run: Path | str, history: list[EpochLog]) -> Path:
    """``run/results.png``: losses, mAP (epochs with an evaluation), learning
    rate and throughput per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report import save_png

    e = np.array([h.epoch + 1 for h in history])
    fig, axs = plt.subplots(1, 4, figsize=(15, 3.2))
    for k in ("box", "obj", "cls"):
        axs[0].plot(e, [getattr(h, k) for h in history], label=k)
    axs[0].set_title("training loss (per image)")
    axs[0].set_yscale("log")  # obj starts orders of magnitude above box and cls
    axs[0].legend(fontsize=7)
    m50 = np.array([h.map50 for h in history])
    m = np.array([h.map50_95 for h in history])
    ok = ~np.isnan(m50)
    axs[1].plot(e[ok], m50[ok], "o-", ms=3, label="mAP@0.5")
    axs[1].plot(e[ok], m[ok], "o-", ms=3, label="mAP@.5:.95")
    axs[1].set_title("val (EMA weights)")
    axs[1].set_ylim(0, 1)
    axs[1].legend(fontsize=7)
    axs[2].plot(e, [h.lr for h in history])
    axs[2].set_title("learning rate (end of epoch)")
    axs[3].plot(e, [h.images_per_s for h in history])
    axs[3].set_title("images / s")
    for a in axs:
        a.set_xlabel("epoch")
    path = Path(run) / "results.png"
    save_png(fig, path, dpi=80)
    return path


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
    from ..anchors import dataset_wh, kmeans_anchors, parse_anchor_list
    from ..model import load_network, load_weights_any

    if resume:
        return _resume(data, out, progress=progress, strict=strict, **kw)
    from ..io import dataset_inputs
    from ..io.files import check_output

    check_output(out, [*dataset_inputs(data), weights, cfg_path if cfg_path and Path(cfg_path).exists() else None])
    cfg = TrainConfig(**kw)
    train_ds, val_ds, train_err, val_err = _load_splits(data, strict)
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
        info = load_weights_any(net, weights, num_layers=num_layers, resize_heads=True)
        if info.get("initialised"):
            log.warning("%s: made for other classes; %d head tensors start from scratch", weights, len(info["initialised"]))
    t0 = time.perf_counter()
    tr = Trainer(net, train_ds, val_ds, cfg, out, run_args={"data": str(Path(data).resolve())})
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
    tr = Trainer(net, train_ds, val_ds, cfg, out, resume=True, run_args={"data": str(Path(data).resolve())}, checkpoint=ck)
    from ..anchors import parse_anchor_list

    txt = Path(out) / "anchors.txt"
    anchors = parse_anchor_list(txt.read_text()).tolist() if txt.exists() else []
    return _fit_report(tr, progress, t0, anchors, train_err, val_err)
