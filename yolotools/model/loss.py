"""YOLOv3 / YOLOv2 loss: target assignment and the three loss terms.

Assignment (YOLOv3): each ground truth goes to the anchor whose shape best
matches it (IoU of centre-aligned w, h) among *all* anchors of all heads; that
fixes the head, the anchor slot and the cell (``floor(cx * W), floor(cy * H)``).
A later ground truth on the same cell and anchor replaces an earlier one, as in
Darknet.  For a ``region`` (YOLOv2) head the best anchor is chosen within it.

Terms (each a *sum* over its elements, divided by the batch size: per image,
never a mean over the ~10k cells, whose gradient would vanish):

- objectness: BCE-with-logits; target 1 at assigned cells, 0 elsewhere, except
  predictions whose decoded box overlaps any ground truth of the image by more
  than ``ignore_thresh`` (0.7), which are not penalised as background;
- classes: at assigned cells, BCE-with-logits on one-hot targets (``yolo``:
  independent sigmoids, multi-label) or cross-entropy (``region``: softmax);
- box: ``ciou`` (default) or ``giou``: ``1 - (C|G)IoU`` of the decoded box and the
  ground truth; ``darknet``: squared error on the sigmoid offsets and on
  ``tw, th`` against ``log(gt / anchor)``, weighted by ``2 - w*h`` (w, h
  normalised), as Darknet.

``assign="ultralytics"`` (the trainer's default for ``[yolo]`` heads) is the
anchor-based training of the YOLOv5 line, on the same Darknet network and
decoding (``scale_x_y`` should be 2 so that a prediction can reach a
neighbouring cell's object):

- every anchor of every head whose side ratio to the box is under
  ``anchor_t`` (4) is a positive, on the object's cell and its two nearest
  neighbouring cells (the object's centre within half a cell of their border);
- box: ``1 - CIoU``, mean over positives; classes: BCE, mean over positives and
  classes; objectness: BCE against the detached IoU of the predicted box (0
  elsewhere), *mean* over each head's cells, weighted per head (4, 1, 0.4 from
  the smallest stride up) and no ignore region;
- the three terms are weighted ``box_gain``, ``obj_gain``, ``cls_gain`` (0.05,
  1.0, 0.5 at 3 heads, 80 classes and 640 pixels, scaled as Ultralytics does
  for other head counts, class counts and sizes) and multiplied by the batch
  size (per-image normalisation, like the Darknet path).

``targets``: ``(n, 6)`` rows ``[image index, class, cx, cy, w, h]`` normalised to
the network input (the data loader's format).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .darknet import HeadSpec

__all__ = ["bbox_iou", "Assignment", "assign_targets", "assign_ratio", "YoloLoss", "ASSIGNERS", "obj_balance"]

ASSIGNERS = ("ultralytics", "darknet")


def bbox_iou(a: torch.Tensor, b: torch.Tensor, *, kind: str = "iou", eps: float = 1e-7) -> torch.Tensor:
    """Element-wise IoU / GIoU / CIoU of xyxy boxes ``a`` and ``b`` (same shape ``(..., 4)``).
    ``eps`` is 1e-7, not smaller: in float32 ``1 + 1e-9 == 1`` and CIoU's alpha
    would be 0/0 for a perfect box."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    wb, hb = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    union = wa * ha + wb * hb - inter + eps
    iou = inter / union
    if kind == "iou":
        return iou
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    if kind == "giou":
        c_area = cw * ch + eps
        return iou - (c_area - union) / c_area
    if kind != "ciou":
        raise ValueError(f"kind must be iou, giou or ciou, got {kind!r}")
    c2 = cw**2 + ch**2 + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) ** 2 + (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) ** 2) / 4
    v = (4 / math.pi**2) * (torch.atan(wb / (hb + eps)) - torch.atan(wa / (ha + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


@dataclass
class Assignment:
    """Positive predictions of one head: ``b, a, gy, gx`` index the
    ``(B, A, H, W)`` grid; ``cls`` the class; ``box`` the ground truth in grid
    units ``(cx, cy, w, h)``; ``anchor`` its anchor in grid units."""

    b: torch.Tensor
    a: torch.Tensor
    gy: torch.Tensor
    gx: torch.Tensor
    cls: torch.Tensor
    box: torch.Tensor
    anchor: torch.Tensor


def _anchors_grid(spec: HeadSpec, h: int, w: int, input_hw, device) -> torch.Tensor:
    anc = torch.tensor(spec.anchors, dtype=torch.float32, device=device)
    if spec.kind == "region":
        return anc  # already grid cells
    return anc / torch.tensor([input_hw[1] / w, input_hw[0] / h], device=device)


def assign_targets(targets: torch.Tensor, heads: list[HeadSpec], shapes: list[tuple[int, int]], input_hw) -> list[Assignment]:
    """Assign every ground truth to one head, anchor and cell (see module doc)."""
    device = targets.device
    H_in, W_in = input_hw
    out = []
    # all anchors in input pixels, to pick the best across heads (YOLOv3)
    all_px = []
    owner = []
    for hi, (spec, (h, w)) in enumerate(zip(heads, shapes)):
        anc = torch.tensor(spec.anchors, dtype=torch.float32, device=device)
        if spec.kind == "region":
            anc = anc * torch.tensor([W_in / w, H_in / h], device=device)
        all_px.append(anc)
        owner += [(hi, k) for k in range(len(spec.anchors))]
    all_px = torch.cat(all_px) if all_px else torch.zeros(0, 2, device=device)
    n = len(targets)
    if n:
        gwh = targets[:, 4:6] * torch.tensor([W_in, H_in], device=device)
        inter = torch.minimum(gwh[:, None, 0], all_px[None, :, 0]) * torch.minimum(gwh[:, None, 1], all_px[None, :, 1])
        iou = inter / (gwh[:, None, 0] * gwh[:, None, 1] + all_px[None, :, 0] * all_px[None, :, 1] - inter)
        best = iou.argmax(1)  # a region head is alone: its best anchor is the global best
        owner_t = torch.tensor(owner, device=device)
        best_head, best_slot = owner_t[best, 0], owner_t[best, 1]
    for hi, (spec, (h, w)) in enumerate(zip(heads, shapes)):
        anc_g = _anchors_grid(spec, h, w, input_hw, device)
        if not n:
            e = torch.zeros(0, dtype=torch.long, device=device)
            out.append(Assignment(e, e, e, e, e, torch.zeros(0, 4, device=device), torch.zeros(0, 2, device=device)))
            continue
        m = best_head == hi
        t = targets[m]
        a = best_slot[m]
        box = t[:, 2:6] * torch.tensor([w, h, w, h], device=device, dtype=t.dtype)
        gx = box[:, 0].long().clamp(0, w - 1)
        gy = box[:, 1].long().clamp(0, h - 1)
        out.append(Assignment(t[:, 0].long(), a, gy, gx, t[:, 1].long(), box, anc_g[a]))
    return out


_OFFSETS = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32) * 0.5


def assign_ratio(targets: torch.Tensor, anchors_grid: torch.Tensor, hw: tuple[int, int], anchor_t: float = 4.0, *,
                 neighbours: bool = True) -> Assignment:
    """Positives of one head (``assign="ultralytics"``): every anchor whose
    ``max(w / aw, aw / w, h / ah, ah / h) < anchor_t``, on the object's cell and
    (``neighbours``) the two neighbouring cells nearest to its centre, when they
    exist.  ``anchors_grid``: ``(A, 2)`` in grid cells of this head.  Only a head
    whose centre offsets span ``[-0.5, 1.5]`` (``scale_x_y >= 2``) can reach a
    neighbour's object: the loss asks for neighbours only then."""
    device = targets.device
    h, w = hw
    e = torch.zeros(0, dtype=torch.long, device=device)
    if not len(targets):
        return Assignment(e, e, e, e, e, torch.zeros(0, 4, device=device), torch.zeros(0, 2, device=device))
    box = targets[:, 2:6] * torch.tensor([w, h, w, h], device=device, dtype=targets.dtype)  # grid units
    r = box[None, :, 2:4] / anchors_grid[:, None]  # (A, n, 2)
    ok = torch.maximum(r, 1 / r).max(2).values < anchor_t
    ai, ti = ok.nonzero(as_tuple=True)
    box, t = box[ti], targets[ti]
    gxy = box[:, :2]
    gxi = torch.tensor([w, h], device=device, dtype=gxy.dtype) - gxy
    j, k = ((gxy % 1 < 0.5) & (gxy > 1) & neighbours).T
    l, m = ((gxi % 1 < 0.5) & (gxi > 1) & neighbours).T
    sel = torch.stack([torch.ones_like(j), j, k, l, m])  # (5, n): own cell, left, up, right, down
    off = _OFFSETS.to(device)[:, None].expand(5, len(gxy), 2)[sel]
    which = torch.arange(len(gxy), device=device)[None].expand(5, -1)[sel]
    gij = (gxy[which] - off).long()
    gx, gy = gij[:, 0].clamp(0, w - 1), gij[:, 1].clamp(0, h - 1)
    a = ai[which]
    return Assignment(t[which, 0].long(), a, gy, gx, t[which, 1].long(), box[which], anchors_grid[a])


def _xyxy(cxcywh: torch.Tensor) -> torch.Tensor:
    return torch.cat([cxcywh[..., :2] - cxcywh[..., 2:] / 2, cxcywh[..., :2] + cxcywh[..., 2:] / 2], -1)


def _pred_boxes(t: torch.Tensor, cell_xy: torch.Tensor, anchor: torch.Tensor, k: float) -> torch.Tensor:
    """xyxy in grid units from raw ``(tx, ty, tw, th, ...)``: sigmoid offsets
    stretched by ``scale_x_y`` around the cell, exp widths times the anchor
    (the decoding of :mod:`yolotools.model.decode`, with exp clamped for the loss)."""
    pxy = torch.sigmoid(t[..., :2]) * k - 0.5 * (k - 1) + cell_xy
    pwh = torch.exp(t[..., 2:4].clamp(max=10)) * anchor
    return torch.cat([pxy - pwh / 2, pxy + pwh / 2], -1)


def obj_balance(strides: list[float]) -> list[float]:
    """Per-head objectness weights, from the smallest stride up (YOLOv5's
    balance: 4, 1, 0.4 for three heads; 4, 1, 0.25, 0.06, 0.02 otherwise)."""
    table = [4.0, 1.0, 0.4] if len(strides) == 3 else [4.0, 1.0, 0.25, 0.06, 0.02]
    order = sorted(range(len(strides)), key=lambda i: strides[i])
    out = [1.0] * len(strides)
    for rank, i in enumerate(order):
        out[i] = table[rank] if rank < len(table) else table[-1]
    return out


class YoloLoss:
    """``YoloLoss(heads, box_loss="ciou")(outputs, targets, input_hw)`` ->
    ``(total, {"box", "obj", "cls"})`` (the parts as detached 0-d tensors).
    ``assign``: ``"darknet"`` (one anchor per object, per-image sums, ignore
    region; the default of this class, as the paper) or ``"ultralytics"`` (see the
    module doc; gains there default to 0.05 / 1.0 / 0.5 before scaling)."""

    def __init__(self, heads: list[HeadSpec], *, box_loss: str = "ciou", ignore_thresh: float | None = None,
                 box_gain: float | None = None, obj_gain: float | None = None, cls_gain: float | None = None,
                 assign: str = "darknet", anchor_t: float = 4.0, obj_iou: bool = True):
        if box_loss not in ("ciou", "giou", "darknet"):
            raise ValueError(f"box_loss must be ciou, giou or darknet, got {box_loss!r}")
        if assign not in ASSIGNERS:
            raise ValueError(f"assign must be one of {ASSIGNERS}, got {assign!r}")
        self.heads, self.box_loss = heads, box_loss
        self.ignore = ignore_thresh
        self.assign, self.anchor_t, self.obj_iou = assign, anchor_t, obj_iou
        default = (0.05, 1.0, 0.5) if assign == "ultralytics" else (1.0, 1.0, 1.0)
        self.gains = tuple(d if g is None else g for g, d in zip((box_gain, obj_gain, cls_gain), default))

    def __call__(self, outputs: list[torch.Tensor], targets: torch.Tensor, input_hw) -> tuple[torch.Tensor, dict[str, float]]:
        if self.assign == "ultralytics" and all(s.kind == "yolo" for s in self.heads):
            return self._ultralytics(outputs, targets, input_hw)
        return self._darknet(outputs, targets, input_hw)

    def _ultralytics(self, outputs: list[torch.Tensor], targets: torch.Tensor, input_hw) -> tuple[torch.Tensor, dict[str, float]]:
        B = outputs[0].shape[0]
        nl = len(outputs)
        shapes = [tuple(o.shape[-2:]) for o in outputs]
        balance = obj_balance([input_hw[1] / w for _, w in shapes])
        C = self.heads[0].classes
        gb, go, gc = self.gains
        # Ultralytics' scaling of the gains to the head count, class count and image size
        gb, gc, go = gb * 3 / nl, gc * C / 80 * 3 / nl, go * (input_hw[0] / 640) ** 2 * 3 / nl
        anchors = [_anchors_grid(spec, h, w, input_hw, outputs[0].device) for spec, (h, w) in zip(self.heads, shapes)]
        assigned = [assign_ratio(targets, anc, hw, self.anchor_t, neighbours=spec.scale_x_y >= 2.0)
                    for spec, anc, hw in zip(self.heads, anchors, shapes)]
        # box and class terms are means over the positives of the *whole* batch: under DDP the counts are
        # summed over processes (and the loss multiplied by the world size, as DDP averages gradients), so
        # N processes x batch B equal one process x batch N*B
        world = 1
        n_pos = torch.tensor([float(len(a.b)) for a in assigned], device=outputs[0].device)
        if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            world = torch.distributed.get_world_size()
            torch.distributed.all_reduce(n_pos)
        per_proc = (n_pos / world).clamp(min=1.0)
        l_box = outputs[0].new_zeros(())
        l_obj = outputs[0].new_zeros(())
        l_cls = outputs[0].new_zeros(())
        for hi, (out, spec, (h, w), bal, asg) in enumerate(zip(outputs, self.heads, shapes, balance, assigned)):
            A = len(spec.anchors)
            p = out.float().view(B, A, 5 + C, h, w).permute(0, 1, 3, 4, 2)
            obj_t = torch.zeros_like(p[..., 4])
            if len(asg.b):
                ps = p[asg.b, asg.a, asg.gy, asg.gx]
                pb = _pred_boxes(ps, torch.stack([asg.gx, asg.gy], -1), asg.anchor, spec.scale_x_y)
                iou = bbox_iou(pb, _xyxy(asg.box), kind=self.box_loss if self.box_loss != "darknet" else "ciou")
                l_box = l_box + (1 - iou).sum() / per_proc[hi]
                obj_t[asg.b, asg.a, asg.gy, asg.gx] = iou.detach().clamp(0).to(obj_t.dtype) if self.obj_iou else 1.0
                if C > 1:
                    onehot = F.one_hot(asg.cls, C).to(ps.dtype)
                    l_cls = l_cls + F.binary_cross_entropy_with_logits(ps[:, 5:], onehot, reduction="sum") / (per_proc[hi] * C)
            l_obj = l_obj + bal * F.binary_cross_entropy_with_logits(p[..., 4], obj_t, reduction="mean")
        scale = B * world
        l_box, l_obj, l_cls = gb * l_box * scale, go * l_obj * scale, gc * l_cls * scale
        total = l_box + l_obj + l_cls
        return total, {"box": l_box.detach() / scale, "obj": l_obj.detach() / scale, "cls": l_cls.detach() / scale}

    def _darknet(self, outputs: list[torch.Tensor], targets: torch.Tensor, input_hw) -> tuple[torch.Tensor, dict[str, float]]:
        B = outputs[0].shape[0]
        shapes = [tuple(o.shape[-2:]) for o in outputs]
        assigned = assign_targets(targets, self.heads, shapes, input_hw)
        l_box = outputs[0].new_zeros(())
        l_obj = outputs[0].new_zeros(())
        l_cls = outputs[0].new_zeros(())
        for out, spec, asg, (h, w) in zip(outputs, self.heads, assigned, shapes):
            A, C = len(spec.anchors), spec.classes
            p = out.float().view(B, A, 5 + C, h, w).permute(0, 1, 3, 4, 2)  # (B, A, H, W, 5+C)
            anc = _anchors_grid(spec, h, w, input_hw, out.device)
            gy, gx = torch.meshgrid(torch.arange(h, device=out.device), torch.arange(w, device=out.device), indexing="ij")
            k = spec.scale_x_y
            pbox = _pred_boxes(p, torch.stack([gx, gy], -1), anc.view(1, A, 1, 1, 2), k)  # grid units, xyxy
            obj_t = torch.zeros_like(p[..., 4])
            noobj = torch.ones_like(p[..., 4], dtype=torch.bool)
            thr = self.ignore if self.ignore is not None else spec.ignore_thresh
            if len(targets) and thr < 1.0:
                tb = targets[:, 2:6] * torch.tensor([w, h, w, h], device=out.device, dtype=targets.dtype)
                txy = _xyxy(tb)
                with torch.no_grad():
                    for bi in range(B):
                        g = txy[targets[:, 0].long() == bi]
                        if len(g):
                            pb = pbox[bi].reshape(-1, 1, 4)
                            best = bbox_iou(pb.expand(-1, len(g), 4), g[None].expand(pb.shape[0], -1, 4)).max(1).values
                            noobj[bi] &= (best <= thr).view(A, h, w)
            if len(asg.b):
                ps = p[asg.b, asg.a, asg.gy, asg.gx]
                pb = pbox[asg.b, asg.a, asg.gy, asg.gx]
                gbox = _xyxy(asg.box)
                if self.box_loss == "darknet":
                    scale = 2 - (asg.box[:, 2] / w) * (asg.box[:, 3] / h)
                    txy_t = asg.box[:, :2] - torch.stack([asg.gx, asg.gy], -1)
                    twh_t = torch.log(asg.box[:, 2:] / asg.anchor + 1e-9)
                    l_box = l_box + (scale[:, None] * ((torch.sigmoid(ps[:, :2]) - txy_t) ** 2 + (ps[:, 2:4] - twh_t) ** 2)).sum()
                else:
                    l_box = l_box + (1 - bbox_iou(pb, gbox, kind=self.box_loss)).sum()
                obj_t[asg.b, asg.a, asg.gy, asg.gx] = 1.0
                if spec.kind == "region":
                    l_cls = l_cls + F.cross_entropy(ps[:, 5:], asg.cls, reduction="sum")
                else:
                    onehot = F.one_hot(asg.cls, C).to(ps.dtype)
                    l_cls = l_cls + F.binary_cross_entropy_with_logits(ps[:, 5:], onehot, reduction="sum")
            bce = F.binary_cross_entropy_with_logits(p[..., 4], obj_t, reduction="none")
            l_obj = l_obj + (bce * (noobj | (obj_t > 0))).sum()
        gb, go, gc = self.gains
        l_box, l_obj, l_cls = gb * l_box / B, go * l_obj / B, gc * l_cls / B
        total = l_box + l_obj + l_cls
        return total, {"box": l_box.detach(), "obj": l_obj.detach(), "cls": l_cls.detach()}  # tensors: no device sync per step
