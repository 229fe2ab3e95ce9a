"""Decode, NMS and letterbox against straightforward reference code."""

import math

import numpy as np
import pytest
import torch

from yolotools.letterbox import from_letterbox, letterbox_info, to_letterbox
from yolotools.model.darknet import HeadSpec
from yolotools.model.decode import batched_nms, decode, merge_boxes, nms, postprocess


def _sig(v):
    return 1 / (1 + math.exp(-v))


def test_decode_matches_per_element_formula():
    torch.manual_seed(0)
    spec = HeadSpec("yolo", ((10.0, 13.0), (16.0, 30.0)), 3, 0)
    out = torch.randn(1, 2 * 8, 4, 5)
    got = decode([out], [spec], (64, 80))[0]
    p = out.view(2, 8, 4, 5)
    for a in range(2):
        for y in range(4):
            for x in range(5):
                t = p[a, :, y, x].tolist()
                cx, cy = (_sig(t[0]) + x) * 16, (_sig(t[1]) + y) * 16
                w, h = math.exp(t[2]) * spec.anchors[a][0], math.exp(t[3]) * spec.anchors[a][1]
                row = got[a * 20 + y * 5 + x].tolist()
                ref = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, _sig(t[4])] + [_sig(v) for v in t[5:]]
                assert row == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_region_head_uses_softmax_and_grid_anchors():
    spec = HeadSpec("region", ((1.0, 2.0),), 3, 0)
    out = torch.zeros(1, 8, 2, 2)
    got = decode([out], [spec], (64, 64))[0]
    assert torch.allclose(got[:, 5:].sum(1), torch.ones(4))
    assert got[0, :4].tolist() == pytest.approx([16 - 16, 16 - 32, 16 + 16, 16 + 32])  # anchor 1x2 cells of 32 px


def ref_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        ok = True
        for k in keep:
            x1, y1 = max(boxes[i][0], boxes[k][0]), max(boxes[i][1], boxes[k][1])
            x2, y2 = min(boxes[i][2], boxes[k][2]), min(boxes[i][3], boxes[k][3])
            inter = max(0, x2 - x1) * max(0, y2 - y1)
            a = (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1])
            b = (boxes[k][2] - boxes[k][0]) * (boxes[k][3] - boxes[k][1])
            if inter / (a + b - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_nms_equals_reference_on_random_boxes(seed):
    g = torch.Generator().manual_seed(seed)
    n = 200
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], 1).double()
    scores = torch.rand(n, generator=g).double()
    cls = torch.randint(0, 3, (n,), generator=g)
    for thr in (0.3, 0.5, 0.7):
        assert nms(boxes, scores, thr).tolist() == ref_nms(boxes.tolist(), scores.tolist(), thr)
        got = sorted(batched_nms(boxes, scores, cls, thr).tolist())
        ref = []
        for c in range(3):
            idx = [i for i in range(n) if cls[i] == c]
            ref += [idx[k] for k in ref_nms([boxes[i].tolist() for i in idx], [float(scores[i]) for i in idx], thr)]
        assert got == sorted(ref)


def test_postprocess_thresholds_and_max_det():
    pred = torch.zeros(1, 3, 5 + 2)
    pred[0, :, :4] = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    pred[0, :, 4] = torch.tensor([0.9, 0.8, 0.3])
    pred[0, :, 5:] = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.5, 0.9]])
    out = postprocess(pred, conf_thres=0.25, iou_thres=0.45, merge_iou=1)[0]  # plain NMS: scores as computed
    assert out[:, 5].tolist() == [0.0, 1.0] and out[0, 4].item() == pytest.approx(0.81)
    assert len(postprocess(pred, conf_thres=0.25, iou_thres=0.45, max_det=1)[0]) == 1


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_merge_is_the_score_times_iou4_weighted_mean_and_rescores_by_agreement():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 12], [3, 0, 13, 10], [20, 20, 30, 30]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.5, 0.7, 0.8, 0.6], dtype=torch.float64)
    cls = torch.tensor([0, 0, 1, 0, 0])  # box 2 is another class: never merged into box 0 nor counted for its agreement
    keep = torch.tensor([0, 4])
    # by hand: IoU(0, 1) = 90 / 110, IoU(0, 3) = 70 / 130 (< 0.6: left out of the merge), box 4 overlaps nothing
    i1 = 90 / 110
    w0, w1 = 0.9, 0.5 * i1 ** 4
    x1 = (w0 * 0 + w1 * 1) / (w0 + w1)
    x2 = (w0 * 10 + w1 * 11) / (w0 + w1)
    merged = [x1, 0.0, x2, 10.0]
    # agreement: score-weighted mean IoU of the merged box with class-0 candidates overlapping it by >= 0.3 (0, 1 and 3)
    cand = [(0, 0.9), (1, 0.5), (3, 0.8)]
    ious = [_iou(merged, boxes[j].tolist()) for j, _ in cand]
    assert min(ious) >= 0.3
    agree = sum(s * i for (_, s), i in zip(cand, ious)) / sum(s for _, s in cand)
    xyxy, sc = merge_boxes(boxes, scores, cls, keep, 0.6)
    assert torch.allclose(xyxy, torch.tensor([merged, [20, 20, 30, 30]], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(sc, torch.tensor([0.9 * agree, 0.6], dtype=torch.float64), atol=1e-12)  # a lone box keeps its score
    # merge_iou=1 is plain NMS: boxes and scores untouched
    xyxy, sc = merge_boxes(boxes, scores, cls, keep, 1.0)
    assert torch.equal(xyxy, boxes[keep]) and torch.equal(sc, scores[keep])
    # a merge threshold above IoU(0, 1): the box stays, the score is still rescored by its neighbours
    xyxy, sc = merge_boxes(boxes, scores, cls, keep, 0.85)
    assert torch.equal(xyxy, boxes[keep])
    agree0 = (0.9 + 0.5 * i1 + 0.8 * 70 / 130) / (0.9 + 0.5 + 0.8)
    assert sc[0].item() == pytest.approx(0.9 * agree0, abs=1e-12)
    # zero scores (conf 0): nothing to weigh, boxes and (zero) scores stay
    xyxy, sc = merge_boxes(boxes, torch.zeros(5, dtype=torch.float64), cls, keep, 0.6)
    assert torch.equal(xyxy, boxes[keep]) and not sc.any()
    # through postprocess: the same, sorted by the new scores; plain NMS with merge_iou=1
    pred = torch.zeros(1, 5, 5 + 2, dtype=torch.float64)
    pred[0, :, :4] = boxes
    pred[0, :, 4] = scores
    pred[0, :, 5:] = torch.nn.functional.one_hot(cls, 2).double()
    out = postprocess(pred, conf_thres=0.1, iou_thres=0.45)[0]
    assert (out[:-1, 4] >= out[1:, 4]).all()
    row = out[(out[:, 5] == 0) & (out[:, 0] < 5)][0]
    assert torch.allclose(row[:4], torch.tensor(merged, dtype=torch.float64), atol=1e-12) and row[4].item() == pytest.approx(0.9 * agree)
    plain = postprocess(pred, conf_thres=0.1, iou_thres=0.45, merge_iou=1)[0]
    assert torch.equal(plain[0, :5], torch.cat([boxes[0], scores[:1]]))


@pytest.mark.parametrize("hw", [(375, 500), (500, 353), (480, 640), (100, 100), (1, 900)])
def test_letterbox_inverse_within_1e4_px(hw):
    rng = np.random.default_rng(0)
    info = letterbox_info(hw, 416)
    h, w = hw
    xy = rng.uniform(0, [w, h], (50, 2))
    boxes = np.concatenate([xy, np.minimum(xy + rng.uniform(0.1, 50, (50, 2)), [w, h])], 1)
    back = from_letterbox(to_letterbox(boxes, info), info)
    assert np.abs(back - boxes).max() < 1e-4
    lb = to_letterbox(boxes, info)
    assert lb.min() >= 0 and lb[:, [0, 2]].max() <= 416 and lb[:, [1, 3]].max() <= 416
