import numpy as np
import pytest

from yolotools.boxes import BoxFormat, Boxes, box_iou, convert


@pytest.mark.parametrize(
    "src,dst,a,expected",
    [
        (BoxFormat.XYXY, BoxFormat.XYWH, [[10, 20, 30, 60]], [[10, 20, 20, 40]]),
        (BoxFormat.XYXY, BoxFormat.CXCYWH, [[10, 20, 30, 60]], [[20, 40, 20, 40]]),
        (BoxFormat.XYWH, BoxFormat.XYXY, [[10, 20, 20, 40]], [[10, 20, 30, 60]]),
        (BoxFormat.CXCYWH, BoxFormat.XYXY, [[20, 40, 20, 40]], [[10, 20, 30, 60]]),
        (BoxFormat.CXCYWH, BoxFormat.XYWH, [[20, 40, 20, 40]], [[10, 20, 20, 40]]),
    ],
)
def test_convert_hand_values(src, dst, a, expected):
    np.testing.assert_allclose(convert(np.array(a, float), src, dst), expected)


def test_convert_round_trip_and_never_mutates():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (50, 2))
    a = np.concatenate([xy, xy + rng.uniform(1, 50, (50, 2))], axis=1)
    before = a.copy()
    for fmt in BoxFormat:
        back = convert(convert(a, BoxFormat.XYXY, fmt), fmt, BoxFormat.XYXY)
        np.testing.assert_allclose(back, a, atol=1e-12)
        assert np.array_equal(a, before)
    out = convert(a, BoxFormat.XYXY, BoxFormat.XYXY)
    assert out is not a


def test_boxes_normalized_frame_and_immutability():
    b = Boxes.from_array([[0.5, 0.5, 0.5, 0.25]], BoxFormat.CXCYWH, normalized=True, image_hw=(100, 200))
    np.testing.assert_allclose(b.xyxy, [[50, 37.5, 150, 62.5]])
    assert b.image_hw == (100, 200)
    np.testing.assert_allclose(b.to_array(BoxFormat.CXCYWH, normalized=True), [[0.5, 0.5, 0.5, 0.25]])
    with pytest.raises(ValueError):
        b.xyxy[0, 0] = 3.0
    src = np.array([[1.0, 2.0, 3.0, 4.0]])
    b2 = Boxes(src, (10, 10))
    src[0, 0] = 99
    assert b2.xyxy[0, 0] == 1.0


def test_boxes_shape_error_reports_expected_and_actual():
    with pytest.raises(ValueError, match=r"expected \(N, 4\), got \(2, 3\)"):
        Boxes(np.zeros((2, 3)), (10, 10))


def test_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    # overlap 5x10=50, union 150
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])


def test_clip_returns_new():
    b = Boxes([[-5, -5, 20, 30]], (20, 10))
    c = b.clip()
    np.testing.assert_allclose(c.xyxy, [[0, 0, 10, 20]])
    np.testing.assert_allclose(b.xyxy, [[-5, -5, 20, 30]])
