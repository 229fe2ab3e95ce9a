"""The YOLO loss: assignment by hand, ~0 for perfect predictions, ignore region,
per-image normalisation, and a network that learns a batch."""

import math

import pytest
import torch

from yolotools.model.darknet import HeadSpec
from yolotools.model.loss import YoloLoss, assign_targets, bbox_iou

HEADS = [HeadSpec("yolo", ((116.0, 90.0), (156.0, 198.0), (373.0, 326.0)), 2, 0),
         HeadSpec("yolo", ((30.0, 61.0), (62.0, 45.0), (59.0, 119.0)), 2, 1),
         HeadSpec("yolo", ((10.0, 13.0), (16.0, 30.0), (33.0, 23.0)), 2, 2)]
SHAPES = [(13, 13), (26, 26), (52, 52)]


def test_iou_variants_hand_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 0.0, 3.0, 2.0]])
    assert bbox_iou(a, b).item() == pytest.approx(2 / 6)
    assert bbox_iou(a, b, kind="giou").item() == pytest.approx(2 / 6 - 0)  # enclosing box 3x2 = union 6
    c = torch.tensor([[4.0, 0.0, 6.0, 2.0]])
    assert bbox_iou(a, c, kind="giou").item() == pytest.approx(0 - (12 - 8) / 12)
    # CIoU of same-shape boxes: IoU - centre distance^2 / diagonal^2
    assert bbox_iou(a, b, kind="ciou").item() == pytest.approx(2 / 6 - 1 / (9 + 4), abs=1e-6)


def test_each_box_goes_to_the_best_shaped_anchor_and_its_cell():
    # a 60x44 box at (0.5, 0.25) of a 416 input: best anchor (62, 45) = head 1 slot 1; 26x26 grid cell (13, 6)
    t = torch.tensor([[0, 1, 0.5, 0.25, 60 / 416, 44 / 416], [1, 0, 0.1, 0.9, 370 / 416, 330 / 416]])
    asg = assign_targets(t, HEADS, SHAPES, (416, 416))
    assert [len(x.b) for x in asg] == [1, 1, 0]
    h1 = asg[1]
    assert (h1.a.item(), h1.gx.item(), h1.gy.item(), h1.cls.item(), h1.b.item()) == (1, 13, 6, 1, 0)
    assert torch.allclose(h1.anchor, torch.tensor([[62 / 16, 45 / 16]]))
    h0 = asg[0]
    assert (h0.a.item(), h0.gx.item(), h0.gy.item(), h0.b.item()) == (2, 1, 11, 1)


def _perfect_outputs(t, B=1, big=12.0):
    """Raw outputs that decode exactly to the targets at their assigned cells, confident
    background elsewhere."""
    outs = [torch.full((B, 3 * 7, h, w), 0.0) for h, w in SHAPES]
    for o in outs:
        o.view(B, 3, 7, *o.shape[-2:])[:, :, 4] = -big
        o.view(B, 3, 7, *o.shape[-2:])[:, :, 5:] = -big
    for o, asg, (h, w) in zip(outs, assign_targets(t, HEADS, SHAPES, (416, 416)), SHAPES):
        v = o.view(B, 3, 7, h, w)
        for i in range(len(asg.b)):
            b, a, gy, gx = asg.b[i], asg.a[i], asg.gy[i], asg.gx[i]
            cx, cy, bw, bh = asg.box[i].tolist()
            fx, fy = cx - gx.item(), cy - gy.item()
            v[b, a, 0, gy, gx] = math.log(fx / (1 - fx))
            v[b, a, 1, gy, gx] = math.log(fy / (1 - fy))
            v[b, a, 2, gy, gx] = math.log(bw / asg.anchor[i, 0].item())
            v[b, a, 3, gy, gx] = math.log(bh / asg.anchor[i, 1].item())
            v[b, a, 4, gy, gx] = big
            v[b, a, 5 + asg.cls[i], gy, gx] = big
    return outs


T = torch.tensor([[0, 1, 0.503, 0.253, 60 / 416, 44 / 416], [0, 0, 0.31, 0.71, 20 / 416, 25 / 416]])


@pytest.mark.parametrize("box_loss", ["ciou", "giou", "darknet"])
def test_perfect_predictions_cost_almost_nothing(box_loss):
    total, parts = YoloLoss(HEADS, box_loss=box_loss)(_perfect_outputs(T), T, (416, 416))
    assert parts["box"] < 1e-4 and parts["cls"] < 1e-3 and parts["obj"] < 0.1
    # a wrong box costs
    bad = T.clone()
    bad[0, 2] += 0.02
    assert YoloLoss(HEADS, box_loss=box_loss)(_perfect_outputs(T), bad, (416, 416))[1]["box"] > 10 * parts["box"] + 1e-3


def test_predictions_overlapping_truth_are_not_background():
    outs = _perfect_outputs(T)
    # a second, confident prediction on the same object at the neighbour anchor slot
    v = outs[1].view(1, 3, 7, 26, 26)
    v[0, 0, :4, 6, 13] = v[0, 1, :4, 6, 13]
    v[0, 0, 2:4, 6, 13] += torch.tensor([math.log(62 / 30), math.log(45 / 61)])
    v[0, 0, 4, 6, 13] = 12.0
    with_ignore = YoloLoss(HEADS, ignore_thresh=0.7)(outs, T, (416, 416))[1]["obj"]
    without = YoloLoss(HEADS, ignore_thresh=1.0)(outs, T, (416, 416))[1]["obj"]
    assert without > with_ignore + 10


def test_loss_is_per_image_not_per_cell():
    one = YoloLoss(HEADS)(_perfect_outputs(T), T, (416, 416))[0]
    t2 = torch.cat([T, T.clone().index_fill_(1, torch.tensor([0]), 1.0)])
    two = YoloLoss(HEADS)(_perfect_outputs(t2, B=2), t2, (416, 416))[0]
    assert two.item() == pytest.approx(one.item(), rel=1e-5)
    # random logits: background loss ~ cells * log 2 per image, whatever the batch
    rnd = [torch.zeros(2, 21, h, w) for h, w in SHAPES]
    l = YoloLoss(HEADS)(rnd, torch.zeros(0, 6), (416, 416))[1]["obj"]
    assert l == pytest.approx(10647 * math.log(2), rel=1e-4)


def test_a_small_network_learns_a_batch():
    from yolotools.model.cfg import parse_cfg_text
    from yolotools.model.darknet import DarknetNet

    cfg = ("[net]\nwidth=64\nheight=64\nchannels=3\n"
           "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
           "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
           "[convolutional]\nfilters=14\nsize=1\nstride=1\npad=1\nactivation=linear\n"
           "[yolo]\nmask=0,1\nanchors=10,10, 24,24\nclasses=2\nnum=2\n")
    torch.manual_seed(0)
    net = DarknetNet(sections=parse_cfg_text(cfg))
    x = torch.rand(4, 3, 64, 64)
    t = torch.tensor([[0, 0, 0.3, 0.3, 0.2, 0.2], [1, 1, 0.6, 0.5, 0.35, 0.4], [2, 0, 0.5, 0.5, 0.15, 0.15], [3, 1, 0.7, 0.7, 0.3, 0.3]])
    loss = YoloLoss(net.heads)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    first = None
    for _ in range(150):
        total, _ = loss(net(x), t, (64, 64))
        first = first if first is not None else total.item()
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.1 * first


def test_ratio_assignment_by_hand():
    """assign="ultralytics": every anchor within anchor_t, on the object's cell
    and its two nearest neighbours (worked out by hand on a 13x13 grid)."""
    from yolotools.model.loss import assign_ratio

    # anchors in grid cells: (1, 1), (3, 3), (20, 20); a 2x2-cell box centred at (5.3, 7.8)
    anc = torch.tensor([[1.0, 1.0], [3.0, 3.0], [20.0, 20.0]])
    t = torch.tensor([[0, 1, 5.3 / 13, 7.8 / 13, 2 / 13, 2 / 13]])
    a = assign_ratio(t, anc, (13, 13), 4.0)
    # anchors 0 (ratio 2) and 1 (ratio 1.5) match, 2 (ratio 10) does not; cells: own (5, 7), left (4, 7)
    # (x fraction 0.3 < 0.5) and down (5, 8) (y fraction 0.8 > 0.5)
    got = sorted(zip(a.a.tolist(), a.gx.tolist(), a.gy.tolist()))
    assert got == [(0, 4, 7), (0, 5, 7), (0, 5, 8), (1, 4, 7), (1, 5, 7), (1, 5, 8)]
    assert (a.cls == 1).all() and (a.b == 0).all()
    no_nb = assign_ratio(t, anc, (13, 13), 4.0, neighbours=False)
    assert sorted(zip(no_nb.a.tolist(), no_nb.gx.tolist(), no_nb.gy.tolist())) == [(0, 5, 7), (1, 5, 7)]
    # an object in the first cell has no left/up neighbour
    edge = assign_ratio(torch.tensor([[0, 0, 0.2 / 13, 0.2 / 13, 1 / 13, 1 / 13]]), anc, (13, 13), 4.0)
    assert sorted(set(zip(edge.gx.tolist(), edge.gy.tolist()))) == [(0, 0)]


def test_objectness_weights_by_stride():
    from yolotools.model.loss import obj_balance

    assert obj_balance([32.0, 16.0, 8.0]) == [0.4, 1.0, 4.0]  # YOLOv3 heads come largest stride first
    assert obj_balance([32.0, 16.0]) == [1.0, 4.0]


def test_ultralytics_loss_perfect_boxes_and_learning():
    """Boxes decoded exactly on the truth cost ~0 box loss; a small net learns a batch."""
    torch.manual_seed(0)
    heads = [HeadSpec("yolo", ((16.0, 16.0), (80.0, 80.0)), 2, 0, scale_x_y=2.0)]  # the second anchor is 5x off: not a positive
    t = torch.tensor([[0, 1, 0.5, 0.5, 16 / 64, 16 / 64]])
    loss = YoloLoss(heads, assign="ultralytics")
    out = torch.zeros(1, 2 * 7, 8, 8)
    v = out.view(1, 2, 7, 8, 8)
    # cell (4, 4) holds the centre exactly at offset 0 -> sigmoid * 2 - 0.5 = 0 needs sigmoid 0.25
    v[0, 0, 0:2, 4, 4] = math.log(0.25 / 0.75)
    # the left (3, 4) and upper (4, 3) neighbours reach the same centre from their side
    v[0, 0, 0, 4, 3] = math.log(0.75 / 0.25)
    v[0, 0, 1, 4, 3] = math.log(0.25 / 0.75)
    v[0, 0, 0, 3, 4] = math.log(0.25 / 0.75)
    v[0, 0, 1, 3, 4] = math.log(0.75 / 0.25)
    total, parts = loss([out], t, (64, 64))
    assert parts["box"].item() < 1e-4
    net = torch.nn.Conv2d(3, 14, 3, stride=8, padding=1)
    x = torch.rand(2, 3, 64, 64)
    tt = torch.tensor([[0, 0, 0.3, 0.3, 0.25, 0.25], [1, 1, 0.7, 0.6, 0.4, 0.3]])
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    first = None
    for _ in range(150):
        total, _ = loss([net(x)], tt, (64, 64))
        first = first if first is not None else total.item()
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.3 * first
