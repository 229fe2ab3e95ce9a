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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import YoloToolsError
from ..io.files import atomic_write_bytes, atomic_write_text
from ..model.predict import evaluate_model
from .config import TrainConfig, multi_scale_range
from .parts import build_evaluator, build_loader, build_optimizer

__all__ = ["TrainConfig", "Trainer", "evaluate_model", "plot_results", "multi_scale_range"]

log = logging.getLogger(__name__)


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
    data_wait_s: float = float("nan")  # time the training loop waited for the next batch (not in results.csv before stop 14)


def _dist_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


class Trainer:
    """``Trainer(model=net, train=ds, val=ds_or_None, config=TrainConfig(...), out=run_dir).fit()``
    (built parts, keyword-only: the network from :func:`~yolotools.train.run.build_model`);
    ``resume=True`` continues from ``out/last.pt``.  Under ``torchrun`` (``WORLD_SIZE`` > 1) it
    joins the process group itself (NCCL on CUDA, gloo on CPU)."""

    def __init__(self, *, model, train, val, config: TrainConfig, out: Path | str, data=None, optimizer=None, evaluator=None,
                 resume: bool = False, run_args: dict | None = None, checkpoint: dict | None = None, progress: bool = False):
        """``data``, ``optimizer``, ``evaluator``: built parts (default: :func:`build_loader`,
        :func:`build_optimizer`, :func:`build_evaluator` of ``config``)."""
        train_ds, val_ds, cfg = train, val, config
        from ..model.loss import YoloLoss

        cfg = cfg.resolved()  # device "auto" and workers -1 become this machine's values
        self.cfg, self.out = cfg, Path(out)
        self.run_args = dict(run_args or {})  # what `train --resume RUN_DIR` needs besides the config (the data path)
        self.world, self.rank = 1, 0
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))  # this process's place on its machine (torchrun)
        device = torch.device(cfg.device)
        if _dist_world() > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.world, self.rank = dist.get_world_size(), dist.get_rank()
        cfg = cfg.for_run(len(train_ds.records), self.world)  # optimizer "auto" and unset lr/momentum become this run's
        self.cfg = cfg
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
        if cfg.cache != "off" and self.world > 1:  # one process per machine decodes; the others find the files
            if self.local_rank == 0:
                from .cache import DiskCache

                DiskCache([r for r in train_ds.records if r.path is not None], cfg.img_size, mode=cfg.cache).fill(progress=progress)
            self._barrier()
        self.data = data if data is not None else build_loader(cfg, train_ds, progress=progress and self.rank == 0)
        self.loss = YoloLoss(model.heads, box_loss=cfg.box_loss, assign=cfg.assign, anchor_t=cfg.anchor_t,
                             box_gain=cfg.box_gain if cfg.assign == "ultralytics" else None,
                             obj_gain=cfg.obj_gain if cfg.assign == "ultralytics" else None,
                             cls_gain=cfg.cls_gain if cfg.assign == "ultralytics" else None)
        self.accumulate = max(1, round(cfg.nominal_batch / (cfg.batch * self.world)))
        self.opt = optimizer if optimizer is not None else build_optimizer(cfg, model, world=self.world, accumulate=self.accumulate)
        self.evaluate = evaluator if evaluator is not None else build_evaluator(cfg, val_ds, device=device)
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

    def _set_lr(self, lr: float, steps_per_epoch: int) -> None:
        """``lr`` for every group; during an SGD warm-up the biases fall linearly
        from ``warmup_bias_lr`` and the momentum rises from 0.8 (Ultralytics' warm-up)."""
        c = self.cfg
        warm = max(1, int(c.warmup_epochs * steps_per_epoch))
        f = min(1.0, (self.step + 1) / warm)
        bias0 = c.warmup_bias_lr if c.optimizer == "sgd" else 0.0  # Adam's steps do not scale with lr that way: no bias boost
        for gi, gr in enumerate(self.opt.param_groups):
            gr["lr"] = bias0 + (lr - bias0) * f if (gi == 2 and f < 1.0 and bias0 > 0) else lr
            if "momentum" in gr:  # SGD only, as Ultralytics (AdamW's betas stay)
                gr["momentum"] = 0.8 + (c.momentum - 0.8) * f if c.momentum > 0.8 else c.momentum

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
            known = set(EpochLog.__dataclass_fields__)  # a results.csv from an older version may lack a column
            self.history = [EpochLog(**{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items() if k in known})
                            for r in rows if int(r["epoch"]) < self.start_epoch]

    # ------------------------------------------------------------ loop
    def _barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def fit(self, progress: bool = False, stop_after: int | None = None) -> list[EpochLog]:
        """Train to ``cfg.epochs`` (or stop after epoch ``stop_after``, as a kill
        between epochs would; the schedule is still that of ``cfg.epochs``)."""
        try:
            return self._fit(progress, stop_after)
        finally:  # --cache ram lives in /dev/shm (memory): this run's files go when it ends, however it ends
            if self.data._disk is not None and self.cfg.cache == "ram" and self.local_rank == 0:
                self.data._disk.remove()

    def _fit(self, progress: bool, stop_after: int | None) -> list[EpochLog]:
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
            wait, ready = 0.0, t0  # data wait: from the end of one step to the arrival of the next batch
            sums = torch.zeros(3, device=self.device)
            bad = torch.zeros((), dtype=torch.bool, device=self.device)  # a non-finite loss since the last check
            self.opt.zero_grad(set_to_none=True)
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{c.epochs}", disable=not (progress and self.main), leave=False, unit="batch")
            for i, (x, t) in enumerate(bar):
                wait += time.perf_counter() - ready
                x, t = x.to(self.device, non_blocking=True).float().div_(255.0), t.to(self.device, non_blocking=True)
                size = self.size_at(epoch, i)
                if size != x.shape[-1]:
                    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                if c.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                lr = self.lr_at(self.step, steps_per_epoch)
                self._set_lr(lr, steps_per_epoch)
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
                        bar.set_postfix(loss=f"{loss.item():.3f}", size=size, img_s=f"{seen * self.world / (time.perf_counter() - t0):.1f}",
                                        data=f"{wait / max(time.perf_counter() - t0, 1e-9):.0%}")
                ready = time.perf_counter()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            dt = time.perf_counter() - t0
            if self.main and self.device.type == "cuda" and wait > 0.1 * dt:
                msg = (f"epoch {epoch + 1}: the GPU waited {wait:.1f} s of {dt:.1f} s ({wait / dt:.0%}) for data; "
                       f"more --workers (now {c.workers}) or a cache would keep it busy")
                log.warning(msg)
                if not bar.disable:
                    bar.write(msg)
            if self.world > 1:  # the logged losses are the mean over all processes
                torch.distributed.all_reduce(sums)
                sums /= self.world
            evaluate = (epoch + 1) % c.eval_every == 0 or epoch + 1 == c.epochs
            m50 = m = float("nan")
            if self.main:
                if evaluate and self.evaluate is not None:
                    res = self.evaluate(self.ema.ema)
                    m50, m = res.stats["AP50"], res.stats["AP"]
                    m50, m = max(m50, 0.0), max(m, 0.0)  # COCOeval's -1 (no ground truth) is not a score
                mean = (sums / max(1, steps_per_epoch)).tolist()
                self.history.append(EpochLog(epoch, lr, *mean, m50, m, seen * self.world / dt, dt, wait))
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

    from ..figures import save_png

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

