"""The training options, declared once.

:class:`TrainConfig` is a frozen dataclass whose every field carries its
default, its help text and (where it has them) its choices and lower bound in
the field's metadata.  The ``yolotools train`` options are generated from it
(:func:`click_options`), so ``TrainConfig()`` with no arguments is what
``yolotools train`` with no flags does (``device`` and ``workers`` auto), and a
new option is one new field.  Recipe YAML keys are these field names (dashes or
underscores).

Imports no torch: ``device="auto"`` is resolved by :meth:`TrainConfig.resolved`.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, dataclass, field, fields, replace

from ..errors import YoloToolsError
from ..model import MERGE_IOU

__all__ = ["TrainConfig", "multi_scale_range", "click_options", "option_name"]


def auto_workers() -> int:
    """Loader workers for one GPU process: the cores this process may use,
    divided among the GPU processes of this machine (``LOCAL_WORLD_SIZE`` under
    torchrun), less one for the training loop itself; at least 1.  No fixed cap:
    a 64-core machine with 8 GPUs gives each 7."""
    from ..parallel import usable_cores

    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, usable_cores() // local - 1)


def opt(default, help: str, *, choices: tuple | None = None, min: float | None = None, flag: str | None = None):  # noqa: A002
    """A TrainConfig field: default, help, choices, lower bound (metadata read
    by ``__post_init__`` and by :func:`click_options`)."""
    return field(default=default, metadata={"help": help, "choices": choices, "min": min, "flag": flag})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = opt(100, "Epochs to train.", min=1)
    img_size: int = opt(416, "Training size in pixels (multiple of 32).", min=32)
    batch: int = opt(16, "Images per step and per process.", min=1)
    nominal_batch: int = opt(64, "Gradient accumulation up to this batch (all processes together).", min=1)
    optimizer: str = opt("auto", "Optimiser; auto: AdamW for runs under 10,000 optimiser steps, SGD for longer ones (Ultralytics' rule).",
                         choices=("auto", "sgd", "adamw"))
    lr: float | None = opt(None, "Initial learning rate (default: 0.01 for SGD, 0.004 for AdamW).", min=0.0)
    momentum: float | None = opt(None, "SGD momentum / AdamW beta1 (default: 0.937 for SGD, 0.9 for AdamW).", min=0.0)
    weight_decay: float = opt(5e-4, "Weight decay at the nominal batch; not applied to biases and BN.", min=0.0)
    warmup_epochs: float = opt(3.0, "Linear learning-rate warm-up (Darknet burn_in), epochs.", min=0.0)
    schedule: str = opt("cosine", "Learning-rate decay; step: x0.1 at 80% and 90% of the epochs (Darknet steps).",
                        choices=("cosine", "step"))
    final_lr_ratio: float = opt(0.01, "Final learning rate as a fraction of --lr (cosine).", min=0.0)
    box_loss: str = opt("ciou", "Box regression loss.", choices=("ciou", "giou", "darknet"))
    assign: str = opt("ultralytics", "Target assignment: ultralytics (every anchor within --anchor-t of the box, on its cell and the two "
                      "nearest neighbours; objectness target = IoU; per-head objectness weights; heads get scale_x_y=2) or darknet "
                      "(the best anchor only, ignore region; as the YOLOv3 paper).", choices=("ultralytics", "darknet"))
    anchor_t: float = opt(4.0, "--assign ultralytics: largest side ratio between a box and an anchor that still makes it a positive.",
                          min=1.0)
    box_gain: float = opt(0.05, "--assign ultralytics: box loss weight (at 3 heads; scaled by 3/heads).", min=0.0)
    obj_gain: float = opt(1.0, "--assign ultralytics: objectness loss weight (at 640 px, 3 heads; scaled by (size/640)^2 x 3/heads).",
                          min=0.0)
    cls_gain: float = opt(0.5, "--assign ultralytics: class loss weight (at 80 classes, 3 heads; scaled by classes/80 x 3/heads).",
                          min=0.0)
    recipe: str = opt("ultralytics", "Augmentation recipe.", choices=("ultralytics", "darknet", "letterbox"))
    close_mosaic: int = opt(10, "Last N epochs of the ultralytics recipe without mosaic (letterboxed images, same affine/HSV/flip).",
                            min=0)
    bias_init: bool = opt(True, "Start head biases at the object and class priors (objectness ~8 objects per 640x640 image), "
                          "for networks trained from scratch.", flag="--bias-init/--no-bias-init")
    warmup_bias_lr: float = opt(0.1, "SGD: bias learning rate at the start of warm-up (falls to --lr); momentum warms up from 0.8.", min=0.0)
    workers: int = opt(-1, "Data loader processes (spawned once per run); -1: 0 on CPU, on CUDA every core this process may use, "
                           "shared among the GPU processes of the machine (torchrun's LOCAL_WORLD_SIZE), less one for the trainer.", min=-1)
    device: str = opt("auto", "auto (cuda if available), cpu, cuda, cuda:1; under torchrun each process takes cuda:LOCAL_RANK.")
    amp: str = opt("auto", "Mixed precision on CUDA (auto: bf16 where supported).", choices=("auto", "bf16", "fp16", "off"))
    multi_scale: bool = opt(False, "A new size per step: multiples of 32 in [0.75, 1.5] x --img-size (320-608 at 416).")
    channels_last: bool = opt(False, "NHWC memory format (faster convolutions with AMP on recent GPUs).")
    compile: bool = opt(False, "torch.compile the network (slow first epoch).")
    eval_every: int = opt(1, "Evaluate on val every N epochs (and after the last).", min=1)
    plots: bool = opt(True, "Write results.png after each epoch.", flag="--plots/--no-plots")
    ema_decay: float = opt(0.9999, "EMA decay of the weights (ramped up as decay * (1 - exp(-updates / tau))).", min=0.0)
    ema_tau: float = opt(2000.0, "EMA ramp, optimiser updates.", min=1e-9)
    seed: int = opt(0, "Seed of the initial weights, sample order, augmentation and multi-scale sizes.")
    conf_thres: float = opt(0.001, "Score threshold of the validation predictions.", min=0.0)
    iou_thres: float = opt(0.6, "NMS IoU threshold of the validation predictions.", min=0.0)
    max_det: int = opt(300, "Detections kept per validation image.", min=1)
    cache: str = opt("off", "Training images: off (decoded when needed; with the ultralytics and letterbox recipes each loader "
                            "process keeps them resized, up to --buffer-mb); disk (decoded once, resized to --img-size, .npy files in "
                            "$XDG_CACHE_HOME/yolotools/images, reused by later runs); ram (the same in /dev/shm, removed at the end). "
                            "Memory-mapped: one copy per machine for all workers and ranks; mosaic samples are unchanged.",
                     choices=("off", "disk", "ram"))
    buffer_mb: int = opt(256, "--cache off, ultralytics/letterbox recipes: MiB of resized images each loader process keeps (the most recently "
                              "used; Ultralytics keeps such a buffer too); 0 decodes every image every time.", min=0)
    merge_iou: float = opt(MERGE_IOU, "Weighted box merge after NMS in validation (as detect --merge-iou); 1 = plain NMS.", min=0.0)

    def __post_init__(self):
        if isinstance(self.amp, bool):
            object.__setattr__(self, "amp", "auto" if self.amp else "off")
        for f in fields(self):
            v, meta = getattr(self, f.name), f.metadata
            if meta.get("choices") and v not in meta["choices"]:
                raise YoloToolsError(f"{f.name} must be one of {', '.join(meta['choices'])}, got {v!r}")
            numeric = f.type in ("int", "float", "float | None")
            if v is None and f.type.endswith("| None"):
                continue
            if numeric and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise YoloToolsError(f"{f.name} must be a number, got {v!r}")
            if numeric and not math.isfinite(v):
                raise YoloToolsError(f"{f.name} must be a finite number, got {v!r}")
            if meta.get("min") is not None and v < meta["min"]:
                raise YoloToolsError(f"{f.name} must be at least {meta['min']:g}, got {v}")
        if self.img_size % 32:
            raise YoloToolsError(f"img_size must be a multiple of 32, got {self.img_size}")

    def resolved(self) -> "TrainConfig":
        """``device="auto"`` -> cuda when available, else cpu; ``workers=-1`` ->
        0 on CPU (the loader in this process: workers would take cores from
        the training threads), on CUDA :func:`auto_workers`."""
        from ..model import torch_device

        device = str(torch_device(self.device))
        workers = self.workers
        if workers < 0:
            workers = 0 if not device.startswith("cuda") else auto_workers()
        return replace(self, device=device, workers=workers)

    def for_run(self, n_images: int, world: int = 1) -> "TrainConfig":
        """The optimiser for this run: ``auto`` becomes AdamW below 10,000
        optimiser steps and SGD above; ``lr``/``momentum`` left unset take the
        chosen optimiser's defaults (SGD 0.01 / 0.937, AdamW 0.004 / 0.9)."""
        per_step = self.batch * world
        accumulate = max(1, round(self.nominal_batch / per_step))
        steps = self.epochs * math.ceil(max(n_images, 1) / per_step) / accumulate
        optimizer = self.optimizer if self.optimizer != "auto" else ("adamw" if steps < 10_000 else "sgd")
        lr = self.lr if self.lr is not None else OPTIMIZER_DEFAULTS[optimizer][0]
        momentum = self.momentum if self.momentum is not None else OPTIMIZER_DEFAULTS[optimizer][1]
        return replace(self, optimizer=optimizer, lr=lr, momentum=momentum)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


OPTIMIZER_DEFAULTS = {"sgd": (0.01, 0.937), "adamw": (0.004, 0.9)}  # lr, momentum (beta1)


def multi_scale_range(img_size: int) -> tuple[int, int]:
    """Sizes multi-scale training draws from: multiples of 32 from 0.75x to 1.5x
    the training size (320..608 for 416, Darknet's range)."""
    return 32 * math.ceil(0.75 * img_size / 32), 32 * math.floor(1.5 * img_size / 32)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def click_options(cls=TrainConfig):
    """A decorator adding one click option per field of ``cls`` (same name with
    dashes, same default, choices and help; booleans are flags)."""
    import click

    def deco(fn):
        for f in reversed(fields(cls)):
            meta = f.metadata
            default = f.default if f.default is not MISSING else None
            kw = dict(default=default, show_default=True, help=meta.get("help"))
            if f.type == "bool":
                decl = meta.get("flag") or option_name(f.name)
                kw["is_flag"] = True
                kw.pop("show_default")
            else:
                decl = option_name(f.name)
                if meta.get("choices"):
                    kw["type"] = click.Choice(list(meta["choices"]))
                elif f.type == "int":
                    kw["type"] = click.IntRange(min=int(meta["min"])) if meta.get("min") is not None else int
                elif f.type in ("float", "float | None"):
                    kw["type"] = click.FloatRange(min=meta["min"]) if meta.get("min") is not None else float
                    if default is None:
                        kw.pop("show_default")
                else:
                    kw["type"] = str
            fn = click.option(decl, f.name, **kw)(fn)
        return fn

    return deco
