"""VOC AP against published numbers we did not compute (../shared/data EXPECTED.md files)."""

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED, need
from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from yolotools.boxes import Boxes
from yolotools.eval.voc import evaluate_voc, voc_ap

HW = (10_000, 10_000)


def load_abs_xywh(gt_dir: Path, dt_dir: Path):
    """Padilla's text format: GT 'class x y w h', detections 'class conf x y w h' (absolute, top-left)."""
    names: list[str] = []
    gts, dts = [], []
    for f in sorted(gt_dir.glob("*.txt")):
        rows = [l.split() for l in f.read_text().splitlines() if l.strip()]
        for r in rows:
            if r[0] not in names:
                names.append(r[0])
        g = np.array([[float(v) for v in r[1:5]] for r in rows]).reshape(-1, 4)
        d_rows = [l.split() for l in (dt_dir / f.name).read_text().splitlines() if l.strip()] if (dt_dir / f.name).exists() else []
        d = np.array([[float(v) for v in r[2:6]] for r in d_rows]).reshape(-1, 4)
        to_xyxy = lambda a: np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], 1)
        gts.append((f.stem, to_xyxy(g), [r[0] for r in rows]))
        dts.append((f.stem, to_xyxy(d), [r[0] for r in d_rows], [float(r[1]) for r in d_rows]))
    cm = ClassMap(tuple(names))
    gt = DetectionDataset(cm, tuple(ImageRecord(i, None, HW, Annotations(Boxes(b, HW), [cm.index(c) for c in cs])) for i, b, cs in gts))
    pr = DetectionDataset(cm, tuple(ImageRecord(i, None, HW, Annotations(Boxes(b, HW), [cm.index(c) for c in cs], scores=s)) for i, b, cs, s in dts))
    return gt, pr


# published: review_object_detection_metrics tests (test_case_1), VOC "+1" pixels, TP if IoU >= t
CASES = [(0.10, 0.3333333333, 0.3371980676), (0.30, 0.2683982683, 0.2456866804), (0.50, 0.0303030303, 0.0222222222), (0.75, 0.0, 0.0)]


@pytest.mark.parametrize("t,ap11,ap_all", CASES)
def test_review_test_case_published_ap(t, ap11, ap_all):
    base = need(SHARED / "review_object_detection_metrics" / "tests" / "test_case_1")
    gt, pr = load_abs_xywh(base / "gts", base / "dets")
    r07 = evaluate_voc(gt, pr, iou=t, metric="voc07", inclusive=True, at_least=True)
    r12 = evaluate_voc(gt, pr, iou=t, metric="voc12", inclusive=True, at_least=True)
    assert r07.map == pytest.approx(ap11, abs=1e-10)
    assert r12.map == pytest.approx(ap_all, abs=1e-10)


def test_padilla_classic_example_readme_numbers():
    base = need(SHARED / "object_detection_metrics_padilla")
    gt, pr = load_abs_xywh(base / "groundtruths", base / "detections")
    assert gt.num_boxes == 15 and pr.num_boxes == 24
    r12 = evaluate_voc(gt, pr, iou=0.3, metric="voc12", inclusive=True, at_least=True)
    r07 = evaluate_voc(gt, pr, iou=0.3, metric="voc07", inclusive=True, at_least=True)
    assert round(r12.map * 100, 2) == 24.57  # results/results.txt
    assert round(r07.map * 100, 2) == 26.84  # README 11-point
    assert r12.per_class["person"]["tp"] == 7


def test_continuous_pixels_differ_as_expected_md_says():
    base = need(SHARED / "review_object_detection_metrics" / "tests" / "test_case_1")
    gt, pr = load_abs_xywh(base / "gts", base / "dets")
    assert evaluate_voc(gt, pr, iou=0.1, metric="voc12", at_least=True).map == pytest.approx(0.2801328502, abs=1e-10)
    assert evaluate_voc(gt, pr, iou=0.3, metric="voc12", at_least=True).map == pytest.approx(0.2253968254, abs=1e-10)


def test_difficult_boxes_neither_help_nor_hurt():
    cm = ClassMap(("a",))
    gt = DetectionDataset(cm, (ImageRecord("x", None, (100, 100), Annotations(Boxes([[0, 0, 10, 10], [50, 50, 60, 60]], (100, 100)), [0, 0], is_difficult=[0, 1])),))
    pr = DetectionDataset(cm, (ImageRecord("x", None, (100, 100), Annotations(Boxes([[50, 50, 60, 60], [0, 0, 10, 10]], (100, 100)), [0, 0], scores=[0.9, 0.8])),))
    r = evaluate_voc(gt, pr, metric="voc12")
    assert r.map == 1.0 and r.per_class["a"] == {"AP": 1.0, "gt": 1, "detections": 2, "tp": 1, "fp": 0}


def test_ap_hand_computed():
    rec = np.array([0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 2 / 3])
    assert voc_ap(rec, prec, "voc12") == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert voc_ap(rec, prec, "voc07") == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


def test_toy_example_readme_numbers_from_voc_xml_ground_truth(tmp_path):
    from yolotools.io.voc import read_voc

    base = need(SHARED / "review_object_detection_metrics" / "toyexample")
    root = tmp_path / "VOC"
    root.mkdir()
    (root / "Annotations").symlink_to(base / "gts_vocpascal_format")
    (root / "JPEGImages").symlink_to(base / "images")
    gt, probs = read_voc([root], "all", convention="raw", classes=["cat"])
    assert not len(probs) and gt.num_boxes == 12
    recs = []
    for r in gt.records:
        f = base / "dets_classname_abs_xywh" / f"{r.image_id}.txt"
        rows = [l.split() for l in f.read_text().splitlines() if l.strip()] if f.exists() else []
        a = np.array([[float(v) for v in row[2:6]] for row in rows]).reshape(-1, 4)
        xyxy = np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], 1)
        recs.append(ImageRecord(r.image_id, None, r.image_hw, Annotations(Boxes(xyxy, r.image_hw), [0] * len(rows), scores=[float(x[1]) for x in rows])))
    pr = DetectionDataset(gt.class_map, tuple(recs))
    assert pr.num_boxes == 12  # detections A-L
    got = {(t, m): round(evaluate_voc(gt, pr, iou=t, metric=m, inclusive=True, at_least=True).map * 100, 2)
           for t in (0.5, 0.75) for m in ("voc07", "voc12")}
    assert got == {(0.5, "voc07"): 88.64, (0.5, "voc12"): 89.58, (0.75, "voc07"): 49.24, (0.75, "voc12"): 50.97}
