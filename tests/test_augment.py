"""Augmentation keeps boxes in sync with pixels: checked with instance masks that
go through exactly the same geometry, over many seeds, and on real COCO128."""

import numpy as np
import pytest

from tests.conftest import COCO128_YOLO, need
from yolotools.augment import RECIPES, AugmentConfig, Augmenter, Sample, sample_rng
from yolotools.boxes import box_iou
from yolotools.letterbox import from_letterbox
from yolotools.synth import render_shapes_image

# nearest-neighbour mask resampling quantises the measured extent to pixels: half a pixel per
# resampling stage (letterbox 1, darknet 2, ultralytics 2: the mosaic's resize and the affine).
# No recipe may make a box looser than its object (a shear did: the box of a sheared square is
# tan(angle) x its size wider, and a detector trained on it predicts boxes that much too large)
MAX_EDGE = {"letterbox": 0.75, "darknet": 1.25, "ultralytics": 1.25}


def _synthetic(rng, hw=(150, 220), kinds=None):
    img, xyxy, cls, mask = render_shapes_image(rng, hw, max_objects=5, min_size=14, return_mask=True, kinds=kinds)
    return Sample(img, xyxy, cls, mask=mask)


def _extent(mask, oid):
    ys, xs = np.nonzero(mask == oid)
    if ys.size == 0:
        return None
    return np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float)


@pytest.mark.parametrize("recipe", RECIPES)
def test_boxes_cover_their_object_pixels_over_many_seeds(recipe):
    aug = Augmenter(recipe, AugmentConfig(img_size=160))
    # squares: their pixel extent is exactly their box under any scale/shift (thin triangle
    # tips and circle edges can vanish in nearest-neighbour mask resampling)
    pool = [_synthetic(np.random.default_rng(100 + i), kinds=(1,)) for i in range(6)]
    partners = lambda g: pool[int(g.integers(len(pool)))]  # noqa: E731
    n_checked = 0
    errors = []
    for seed in range(40):
        src = pool[seed % len(pool)]
        rng = sample_rng(seed, 0, seed)
        res = aug(src, rng, partners)
        out = res.sample
        # mask ids: concatenated boxes of the mosaic images, numbered in order (1-based)
        for j, (box, src_i) in enumerate(zip(out.xyxy, res.source_index)):
            # mask ids follow the boxes' order (mosaic: offset per image), so box j belongs to id source_index + 1
            ext = _extent(out.mask, int(src_i) + 1)
            assert ext is not None, (recipe, seed, j)
            iou = box_iou(box[None], ext)[0, 0]
            edge = np.abs(box - ext[0]).max()
            assert edge <= MAX_EDGE[recipe], (recipe, seed, j, box, ext, iou)
            errors.append(box - ext[0])
            n_checked += 1
        # every output label is valid
        h, w = out.image.shape[:2]
        assert (out.xyxy[:, 2] > out.xyxy[:, 0]).all() and (out.xyxy[:, 3] > out.xyxy[:, 1]).all()
        assert out.xyxy.min() >= 0 and (out.xyxy[:, [0, 2]] <= w).all() and (out.xyxy[:, [1, 3]] <= h).all()
    assert n_checked > 60
    # no systematic offset (a half-pixel convention slip would show here), and boxes no larger than
    # their objects on average (a loose-box augmentation would show here)
    e = np.array(errors)
    assert np.abs(e.mean(0)).max() < 0.25
    assert abs((e[:, 2] - e[:, 0]).mean()) < 0.25 and abs((e[:, 3] - e[:, 1]).mean()) < 0.25


@pytest.mark.parametrize("recipe", RECIPES)
def test_class_ids_and_flags_travel_with_their_box(recipe):
    rng = np.random.default_rng(5)
    s = _synthetic(rng)
    n = len(s.xyxy)
    s = Sample(s.image, s.xyxy, s.class_ids, is_difficult=np.arange(n) % 2 == 0, is_crowd=np.arange(n) % 3 == 0, mask=s.mask)
    aug = Augmenter(recipe, AugmentConfig(img_size=128))
    for seed in range(10):
        res = aug(s, sample_rng(1, 0, seed), lambda g: s)
        k = res.source_index % n  # mosaic of the same image: index within the image
        assert np.array_equal(res.sample.class_ids, s.class_ids[k])
        assert np.array_equal(res.sample.is_difficult, s.is_difficult[k])
        assert np.array_equal(res.sample.is_crowd, s.is_crowd[k])
        assert res.dropped == (4 * n if recipe == "ultralytics" else n) - len(res.sample.xyxy)


def test_same_seed_same_sample_different_index_different_sample():
    s = _synthetic(np.random.default_rng(9))
    aug = Augmenter("darknet", AugmentConfig(img_size=96))
    a = aug(s, sample_rng(0, 0, 3)).sample
    b = aug(s, sample_rng(0, 0, 3)).sample
    c = aug(s, sample_rng(0, 0, 4)).sample
    assert np.array_equal(a.image, b.image) and np.array_equal(a.xyxy, b.xyxy)
    assert not np.array_equal(a.image, c.image)


def test_double_horizontal_flip_is_identity():
    import albumentations as A

    s = _synthetic(np.random.default_rng(2))
    t = A.Compose([A.HorizontalFlip(p=1.0)], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["ids"]))
    r1 = t(image=s.image, bboxes=s.xyxy, ids=np.arange(len(s.xyxy)))
    r2 = t(image=r1["image"], bboxes=r1["bboxes"], ids=r1["ids"])
    assert np.array_equal(r2["image"], s.image)
    assert np.abs(np.asarray(r2["bboxes"]) - s.xyxy).max() < 1e-4
    w = s.image.shape[1]
    np.testing.assert_allclose(np.asarray(r1["bboxes"])[:, [0, 2]], w - s.xyxy[:, [2, 0]], atol=1e-4)


def test_letterbox_inverse_returns_original_boxes():
    s = _synthetic(np.random.default_rng(3), hw=(123, 301))
    res = Augmenter("letterbox", AugmentConfig(img_size=416))(s, np.random.default_rng(0))
    assert np.abs(from_letterbox(res.sample.xyxy, res.letterbox) - s.xyxy).max() < 1e-4


def test_real_coco128_labels_stay_valid():
    from yolotools.io.yolo import read_yolo

    root = need(COCO128_YOLO)
    ds, _ = read_yolo(root / "config.yaml", "train")
    import cv2

    recs = [r for r in ds.records if r.path.exists()][:12]
    samples = []
    for r in recs:
        img = cv2.cvtColor(cv2.imread(str(r.path)), cv2.COLOR_BGR2RGB)
        a = r.annotations
        samples.append(Sample(img, a.boxes.xyxy, a.class_ids))
    for recipe in RECIPES:
        aug = Augmenter(recipe, AugmentConfig(img_size=320))
        for i, s in enumerate(samples):
            res = aug(s, sample_rng(0, 0, i), lambda g: samples[int(g.integers(len(samples)))])
            o = res.sample
            assert o.image.shape == (320, 320, 3)
            assert ((o.xyxy[:, 2:] - o.xyxy[:, :2]) > 0).all() and o.xyxy.min() >= 0 and o.xyxy.max() <= 320
            assert set(o.class_ids.tolist()) <= set(range(80))
            if recipe == "letterbox":
                assert res.dropped == 0
                h, w = s.image.shape[:2]
                # (labels written with 6 decimals can overhang the image by ~1e-4 px; letterbox clips them)
                assert np.abs(from_letterbox(o.xyxy, res.letterbox) - np.clip(s.xyxy, 0, [w, h, w, h])).max() < 1e-4


def test_decoding_to_rgb_gives_opencvs_bgr_pixels_reversed(tmp_path):
    """decode_rgb lets the decoder write RGB where OpenCV can; the pixels must be
    the BGR decode's, channels reversed, for JPEG and PNG, colour and grey."""
    import cv2

    from yolotools.io.images import decode_rgb

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    files = []
    for name, arr in (("c.jpg", img), ("c.png", img), ("g.jpg", img[..., 0]), ("g.png", img[..., 1])):
        cv2.imwrite(str(tmp_path / name), arr)
        files.append(tmp_path / name)
    real = sorted((COCO128_YOLO.parent).rglob("*.jpg"))[:5] if COCO128_YOLO.exists() else []
    for f in files + real:
        ref = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert np.array_equal(decode_rgb(f), ref), f


def test_warp_parameters_are_drawn_first_and_the_kernel_is_pure():
    """The ultralytics affine/HSV/flip: sample_warp draws every random number, warp_hsv_flip is a
    pure function of the sample and those parameters (same output twice, input untouched), and
    _warp_hsv_flip (what the recipe calls) is the two in sequence."""
    from dataclasses import replace

    aug = Augmenter("ultralytics", AugmentConfig(img_size=128))
    s = _synthetic(np.random.default_rng(5))
    before = (s.image.copy(), s.xyxy.copy())
    p = aug.sample_warp(np.random.default_rng(9), s.image.shape[:2])
    a, ids_a = aug.warp_hsv_flip(s, p, 0.0)
    b, ids_b = aug.warp_hsv_flip(s, p, 0.0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.xyxy, b.xyxy) and np.array_equal(ids_a, ids_b)
    assert np.array_equal(s.image, before[0]) and np.array_equal(s.xyxy, before[1])
    c, _ = aug._warp_hsv_flip(s, np.random.default_rng(9), 0.0)
    assert np.array_equal(c.image, a.image) and np.array_equal(c.xyxy, a.xyxy)
    flipped, _ = aug.warp_hsv_flip(s, replace(p, flip=not p.flip), 0.0)  # the flip alone: the same pixels mirrored
    assert np.array_equal(flipped.image, a.image[:, ::-1])
    np.testing.assert_allclose(np.sort(flipped.xyxy[:, [0, 2]], 0), np.sort(128 - a.xyxy[:, [2, 0]], 0))
