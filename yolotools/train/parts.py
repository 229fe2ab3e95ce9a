"""The parts a training run is built from (as YOLOX's ``Exp`` builds them):
:func:`build_model` (the network, once), :func:`build_loader` (the training
samples), :func:`build_optimizer` (parameter groups, SGD or AdamW),
:func:`build_evaluator` (the per-epoch validation); ``run_train``, the demo and
the :class:`~yolotools.train.trainer.Trainer` use them."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .config import TrainConfig

__all__ = ["build_model", "build_loader", "build_optimizer", "build_evaluator", "head_options", "init_head_biases"]

log = logging.getLogger(__name__)


def build_model(cfg: TrainConfig, train_ds, *, model: str, anchors=None, weights: str | None = None, num_layers: int | None = None):
    """The network a run trains, built once: ``model`` (a ``.cfg`` or a registry
    name) for the dataset's classes, its heads' anchors ``anchors`` (a list of
    ``w,h`` text, an array, ``"auto"``: our k-means on the training boxes at
    ``img_size``, or None: the cfg's own), head biases initialised, starting
    ``weights`` loaded.  Returns ``(network, anchors array or None)``."""
    from ..anchors import dataset_wh, kmeans_anchors, parse_anchor_list
    from ..model import anchor_count, load_weights_any, network_sections
    from ..model.darknet import DarknetNet

    k = len(train_ds.class_map)
    heads = head_options(cfg)
    sections = network_sections(model, classes=k, size=cfg.img_size, head_options=heads)
    anc = None
    if isinstance(anchors, str) and anchors == "auto":
        wh, _, _ = dataset_wh(train_ds, mode="img-size", size=cfg.img_size)
        anc = np.round(np.array(kmeans_anchors(wh, anchor_count(sections), seed=cfg.seed).anchors), 2)
        if any(s.type == "region" for s in sections):
            anc = anc / (cfg.img_size / 32)
    elif isinstance(anchors, str) and anchors:
        anc = parse_anchor_list(anchors)
    elif anchors is not None and not isinstance(anchors, str):
        anc = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if anc is not None:
        sections = network_sections(model, classes=k, anchors=anc.reshape(-1).tolist(), size=cfg.img_size, head_options=heads)
    torch.manual_seed(cfg.seed)  # the initial weights are part of the run
    net = DarknetNet(sections=sections)
    if cfg.bias_init and not weights:
        init_head_biases(net, cfg.img_size)
    if weights:
        info = load_weights_any(net, weights, num_layers=num_layers, resize_heads=True)
        if info.get("initialised"):
            log.warning("%s: made for other classes; %d head tensors start from scratch", weights, len(info["initialised"]))
    return net, anc


def head_options(cfg: TrainConfig) -> dict[str, str] | None:
    """``[yolo]`` options the assignment needs: the ultralytics one puts positives
    on neighbouring cells, which heads reach with Darknet's ``scale_x_y=2``."""
    return {"scale_x_y": "2.0"} if cfg.assign == "ultralytics" else None


def init_head_biases(net, img_size: int) -> None:
    """Start each [yolo] head's objectness bias at ~8 objects per 640x640 image
    spread over its cells, and class biases at 0.6 / classes (YOLOv5's prior), so
    that a network trained from scratch does not begin by predicting objects
    everywhere.  [region] heads are left as they are."""
    with torch.no_grad():
        outs = net.eval()(torch.zeros(1, net.in_channels, img_size, img_size))
        net.train()
        for spec, o in zip(net.heads, outs):
            if spec.kind != "yolo":
                continue
            conv = net.layers[spec.layer - 1].conv
            if conv.bias is None:
                continue
            stride = img_size / o.shape[-1]
            b = conv.bias.view(len(spec.anchors), -1)
            b[:, 4] += math.log(8 / (640 / stride) ** 2)
            b[:, 5:] += math.log(0.6 / (spec.classes - 0.99)) if spec.classes > 1 else 0.0


def build_loader(cfg: TrainConfig, train_ds, *, progress: bool = False):
    """The training samples (:class:`~yolotools.train.data.YoloDataset`): the
    recipe, size, seed, mosaic schedule, cache and buffer of ``cfg``."""
    from .data import YoloDataset

    return YoloDataset(train_ds, recipe=cfg.recipe, img_size=cfg.img_size, seed=cfg.seed, uint8=True,
                       mosaic_until=cfg.epochs - cfg.close_mosaic, cache=cfg.cache, buffer_mb=cfg.buffer_mb, progress=progress)


def build_optimizer(cfg: TrainConfig, model: torch.nn.Module, *, world: int = 1, accumulate: int = 1) -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW over three groups: weights (decayed, the decay
    scaled to the effective batch), norm weights and biases (not decayed;
    biases last, their warm-up starts from ``warmup_bias_lr``)."""
    decay, bn, biases = [], [], []
    for n, p in model.named_parameters():
        (decay if p.ndim > 1 else biases if n.endswith(".bias") else bn).append(p)
    wd = cfg.weight_decay * cfg.batch * world * accumulate / cfg.nominal_batch
    groups = [{"params": decay, "weight_decay": wd}, {"params": bn, "weight_decay": 0.0}, {"params": biases, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))


def build_evaluator(cfg: TrainConfig, val_ds, *, device=None):
    """The per-epoch validation: ``evaluate(model) -> CocoEvalResult`` on
    ``val_ds`` through the one inference path (``detect --conf conf_thres --iou
    iou_thres`` + ``eval`` give the same numbers), or None without a val split."""
    if val_ds is None:
        return None
    from ..model.predict import evaluate_model

    def evaluate(model):
        return evaluate_model(model, val_ds, cfg.img_size, device=device, conf=cfg.conf_thres, iou=cfg.iou_thres, max_det=cfg.max_det,
                              merge_iou=cfg.merge_iou)

    return evaluate
