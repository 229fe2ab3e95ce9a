"""Raw head outputs -> boxes; class-aware NMS in torch (no torchvision).

``postprocess`` ends with a weighted box merge (``merge_iou``): every box NMS
keeps becomes the mean of the same-class candidates that overlap it by at least
``merge_iou``, weighted by score x IoU^4.  The neighbouring cells and anchors
that all predict one object (the ``ultralytics`` assignment trains up to nine
per object) each miss its edges by a little, in different directions; their
mean misses by less.  Its score is then multiplied by how well the candidates
around it agree with the merged box (the score-weighted mean IoU of the
same-class candidates overlapping it by at least 0.3; 1 for a lone box): a box
its neighbours disagree with, typically a second detection of an object that
NMS let through, ranks lower.  On the trainer-accuracy comparison
(docs/TRAINING.md) the merge raises mAP@.5:.95 by 0.04-0.05 and the rescoring by
0.01 more; ``merge_iou=1`` is plain NMS (boxes and scores as NMS keeps them).

``decode(outputs, heads, input_hw)`` returns ``(B, N, 5 + C)``: ``x1, y1, x2, y2``
in input (letterboxed) pixels, objectness, per-class probabilities
(sigmoid for ``[yolo]``, softmax for ``[region]``).  ``N = sum(A * H * W)``,
10,647 for YOLOv3 at 416.
"""

from __future__ import annotations

import torch

from . import MERGE_IOU
from .darknet import HeadSpec

__all__ = ["decode", "box_iou", "nms", "batched_nms", "merge_boxes", "postprocess"]

MERGE_POWER = 4.0  # weight = score * IoU**MERGE_POWER: the closest candidates count most
AGREE_IOU = 0.3  # candidates that count for the agreement rescoring (0.1-0.45 measured the same)


def _grid(h: int, w: int, device, dtype):
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype), indexing="ij")
    return xs, ys


def decode(outputs: list[torch.Tensor], heads: list[HeadSpec], input_hw: tuple[int, int]) -> torch.Tensor:
    H_in, W_in = input_hw
    res = []
    for out, spec in zip(outputs, heads):
        b, _, h, w = out.shape
        a = len(spec.anchors)
        c = spec.classes
        p = out.float().view(b, a, 5 + c, h, w).permute(0, 1, 3, 4, 2)  # (B, A, H, W, 5+C)
        sx, sy = W_in / w, H_in / h
        gx, gy = _grid(h, w, out.device, p.dtype)
        anc = torch.tensor(spec.anchors, device=out.device, dtype=p.dtype).view(1, a, 1, 1, 2)
        if spec.kind == "region":
            anc = anc * torch.tensor([sx, sy], device=out.device, dtype=p.dtype)
            cls = torch.softmax(p[..., 5:], -1)
        else:
            cls = torch.sigmoid(p[..., 5:])
        k = spec.scale_x_y
        cx = (torch.sigmoid(p[..., 0]) * k - 0.5 * (k - 1) + gx) * sx
        cy = (torch.sigmoid(p[..., 1]) * k - 0.5 * (k - 1) + gy) * sy
        bw = torch.exp(p[..., 2]) * anc[..., 0]
        bh = torch.exp(p[..., 3]) * anc[..., 1]
        boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)
        obj = torch.sigmoid(p[..., 4:5])
        res.append(torch.cat([boxes, obj, cls], -1).reshape(b, -1, 5 + c))
    return torch.cat(res, 1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix of xyxy boxes ``(N, 4)`` x ``(M, 4)``."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(union))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thres: float, max_keep: int | None = None) -> torch.Tensor:
    """Greedy NMS: indices of kept boxes, highest score first (ties keep input
    order).  A box is dropped when its IoU with a kept, higher-scored box is
    ``> iou_thres``.  Stops after ``max_keep`` boxes."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    rest = order
    while rest.numel():
        i = rest[0]
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        if rest.numel() == 1:
            break
        ious = box_iou(boxes[i].unsqueeze(0), boxes[rest[1:]])[0]
        rest = rest[1:][ious <= iou_thres]
    return torch.stack(keep)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_thres: float, max_keep: int | None = None) -> torch.Tensor:
    """Class-aware NMS: boxes of different classes never suppress each other
    (classes are moved apart by an offset larger than any coordinate)."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    b = boxes.double()  # float64 so the class offset costs no IoU precision
    span = (b.max() - b.min()).abs() + 1
    return nms(b + classes.double()[:, None] * span, scores, iou_thres, max_keep)


def merge_boxes(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, keep: torch.Tensor,
                merge_iou: float = MERGE_IOU) -> tuple[torch.Tensor, torch.Tensor]:
    """``(xyxy, scores)`` of the boxes ``keep`` (indices into ``boxes``): each
    box replaced by the mean of the candidates of its class whose IoU with it is
    ``>= merge_iou`` (itself included), weighted by ``score * IoU**4``; each
    score multiplied by the score-weighted mean IoU between the merged box and
    the candidates of its class overlapping it by ``>= AGREE_IOU``.
    ``merge_iou >= 1`` (or no candidates) returns ``boxes[keep], scores[keep]``."""
    kept, ks = boxes[keep], scores[keep]
    if merge_iou >= 1 or keep.numel() == 0:
        return kept, ks
    same = classes[keep][:, None] == classes[None, :]
    zero = torch.zeros((), dtype=boxes.dtype, device=boxes.device)
    iou = box_iou(kept, boxes) * same
    w = torch.where(iou >= merge_iou, scores[None, :] * iou.pow(MERGE_POWER), zero)
    total = w.sum(1, keepdim=True)
    merged = torch.where(total > 0, (w @ boxes) / total.clamp(min=torch.finfo(w.dtype).tiny), kept)  # all-zero scores: nothing to weigh
    iou = box_iou(merged, boxes) * same
    w = torch.where(iou >= AGREE_IOU, scores[None, :], zero)
    total = w.sum(1)
    agree = torch.where(total > 0, (w * iou).sum(1) / total.clamp(min=torch.finfo(w.dtype).tiny), torch.ones_like(total))
    return merged, ks * agree


def postprocess(
    pred: torch.Tensor,
    *,
    conf_thres: float = 0.25,
    iou_thres: float = 0.45,
    max_det: int = 300,
    max_candidates: int = 30000,
    multi_label: bool = True,
    merge_iou: float = MERGE_IOU,
) -> list[torch.Tensor]:
    """Per image ``(n, 6)``: ``x1, y1, x2, y2, score, class`` with ``score =
    objectness * class probability >= conf_thres``; ``multi_label`` keeps every
    class above the threshold (YOLOv3's independent sigmoids), else the best;
    the kept boxes are merged with their overlapping candidates and rescored
    (:func:`merge_boxes`), then sorted by score."""
    out = []
    for p in pred:
        obj = p[:, 4:5]
        sc = obj * p[:, 5:]
        if multi_label:
            i, j = torch.nonzero(sc >= conf_thres, as_tuple=True)
            boxes, scores, cls = p[i, :4], sc[i, j], j
        else:
            scores, cls = sc.max(1)
            m = scores >= conf_thres
            boxes, scores, cls = p[m, :4], scores[m], cls[m]
        if scores.numel() > max_candidates:
            top = torch.topk(scores, max_candidates).indices
            boxes, scores, cls = boxes[top], scores[top], cls[top]
        k = batched_nms(boxes, scores, cls, iou_thres, max_det)
        xyxy, sc = merge_boxes(boxes, scores, cls, k, merge_iou)
        order = torch.sort(sc, descending=True, stable=True).indices  # rescored: highest first again
        out.append(torch.cat([xyxy[order], sc[order, None], cls[k][order, None].to(boxes.dtype)], 1))
    return out
