import json
import subprocess
import sys

import numpy as np
import pytest

from yolotools.anchors import avg_iou, bpr, dataset_wh, evaluate_anchors, iou_wh, kmeans_anchors, parse_anchor_list, yolov3_masks
from yolotools.errors import YoloToolsError


def test_iou_wh_hand_values():
    # (10x10) vs (20x5): inter 10*5=50, union 100+100-50=150
    np.testing.assert_allclose(iou_wh([[10, 10]], [[20, 5], [10, 10], [5, 5]]), [[50 / 150, 1.0, 25 / 100]])


def test_bpr_follows_ultralytics_strict_ratio():
    anchors = np.array([[40.0, 10.0]])
    # ratios: 4 (not < 4) fails, 3.9 passes; height ratio 1
    assert bpr([[10, 10]], anchors) == 0.0
    assert bpr([[10.3, 10]], anchors) == 1.0
    assert bpr([[10, 10], [40, 10]], anchors, anchor_t=4.0) == 0.5


def test_recovers_planted_clusters_and_is_deterministic():
    rng = np.random.default_rng(1)
    centers = np.array([[10, 30], [50, 50], [120, 60]], float)
    wh = np.concatenate([c * np.exp(rng.normal(0, 0.03, (300, 2))) for c in centers])
    r1 = kmeans_anchors(wh, 3, seed=7)
    r2 = kmeans_anchors(wh, 3, seed=7)
    assert r1.anchors == r2.anchors and r1.avg_iou == r2.avg_iou
    np.testing.assert_allclose(np.array(r1.anchors), centers, rtol=0.05)
    assert r1.avg_iou > 0.93 and r1.bpr == 1.0
    assert r1.boxes_per_anchor == [300, 300, 300]
    # anchors come sorted by area and the reported avg IoU is recomputable
    a = np.array(r1.anchors)
    assert np.all(np.diff(a[:, 0] * a[:, 1]) > 0)
    assert abs(avg_iou(wh, a) - r1.avg_iou) < 1e-12


def test_refinement_never_lowers_avg_iou():
    rng = np.random.default_rng(2)
    wh = np.exp(rng.normal(3, 0.8, (3000, 2)))
    plain = kmeans_anchors(wh, 6, refine=False, seed=0)
    ref = kmeans_anchors(wh, 6, refine=True, seed=0)
    assert ref.avg_iou >= plain.avg_iou - 1e-12


def test_large_inputs_are_sampled_not_sorted_and_scored_on_all():
    rng = np.random.default_rng(3)
    wh = np.exp(rng.normal(3, 0.7, (60000, 2)))
    r = kmeans_anchors(wh, 9, sample=5000, restarts=3, mutate_generations=10)
    assert r.n_boxes == 60000 and sum(r.boxes_per_anchor) == 60000
    assert abs(avg_iou(wh, np.array(r.anchors)) - r.avg_iou) < 1e-9


@pytest.mark.parametrize(
    "wh,k,msg",
    [
        (np.zeros((0, 2)), 3, "no boxes"),
        (np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]]), 3, "only 2 distinct"),
        (np.array([[1.0, 0.0], [2.0, 2.0]]), 1, "zero or negative"),
        (np.array([[1.0, np.nan], [2.0, 2.0]]), 1, "NaN"),
    ],
)
def test_bad_input_is_a_clear_error(wh, k, msg):
    with pytest.raises(YoloToolsError, match=msg):
        kmeans_anchors(wh, k)


def test_masks_put_largest_anchors_on_stride_32_head():
    assert yolov3_masks(9) == [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
    assert yolov3_masks(6) == [[4, 5], [2, 3], [0, 1]]
    assert sum(yolov3_masks(10)[::-1], []) == list(range(10))


def test_parse_anchor_list():
    np.testing.assert_array_equal(parse_anchor_list("10,13, 16,30"), [[10, 13], [16, 30]])
    for bad in ("10,13, 16", "a,b", "0,1"):
        with pytest.raises(YoloToolsError):
            parse_anchor_list(bad)


def test_tiny_boxes_filtered_and_counted():
    from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
    from yolotools.boxes import Boxes

    boxes = Boxes([[0, 0, 1, 1], [0, 0, 100, 50], [0, 0, 800, 800]], (832, 832))
    ds = DetectionDataset(ClassMap(("a",)), (ImageRecord("x", None, (832, 832), Annotations(boxes, [0, 0, 0])),))
    wh, n_f, units = dataset_wh(ds, mode="img-size", size=416)
    assert n_f == 1  # 1 px at 832 -> 0.5 px at 416
    np.testing.assert_allclose(wh, [[50, 25], [400, 400]])
    wh, _, _ = dataset_wh(ds, mode="normalized")
    np.testing.assert_allclose(wh[0], [100 / 832, 50 / 832])


def test_cli_kmeans_json_evaluate_and_plot(tmp_path):
    from yolotools.synth import generate_shapes

    s = generate_shapes(tmp_path / "d", n_train=20, n_val=2)
    exe = [sys.executable, "-m", "yolotools.cli", "kmeans", str(s.voc_root), "--split", "train"]
    p = subprocess.run(exe + ["-k", "3", "--json", "--plot", str(tmp_path / "a.png")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert len(j["anchors"]) == 3 and 0 < j["avg_iou"] <= 1 and 0 <= j["bpr"] <= 1
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    given = ", ".join(f"{a:.6f},{b:.6f}" for a, b in j["anchors"])
    p = subprocess.run(exe + ["--evaluate", given, "--json"], capture_output=True, text=True)
    assert abs(json.loads(p.stdout)["avg_iou"] - j["avg_iou"]) < 1e-5
    p = subprocess.run(exe + ["-k", "500"], capture_output=True, text=True)
    assert p.returncode == 1 and "distinct box sizes" in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------- real data (EXPECTED.md)


@pytest.fixture(scope="module")
def voc_trainval_wh():
    from tests.conftest import VOC2007, need
    from yolotools.io.voc import read_voc

    # all 15,662 objects, w = xmax - xmin over the image size, as lars76 and the paper
    ds, _ = read_voc([need(VOC2007)], "trainval", convention="raw")
    wh, n_f, _ = dataset_wh(ds, mode="normalized", min_px=0)
    assert len(wh) == 15662 and n_f == 0
    return wh


@pytest.mark.parametrize("k,goal", [(5, 0.6020), (9, 0.6725)])
def test_beats_the_kmedians_reproduction_of_yolov2_table1(voc_trainval_wh, k, goal):
    r = kmeans_anchors(voc_trainval_wh, k)  # default settings
    assert r.avg_iou >= goal


def test_beats_darknet_voc_anchors_and_euclidean_kmeans(voc_trainval_wh):
    from sklearn.cluster import KMeans

    darknet = parse_anchor_list("1.3221,1.73145, 3.19275,4.00944, 5.05587,8.09892, 9.47112,4.84053, 11.2364,10.0071") / 13
    ours = kmeans_anchors(voc_trainval_wh, 5)
    eu = KMeans(5, n_init=10, random_state=0).fit(voc_trainval_wh).cluster_centers_
    assert ours.avg_iou > evaluate_anchors(voc_trainval_wh, darknet).avg_iou + 0.02
    assert ours.avg_iou > avg_iou(voc_trainval_wh, eu) + 0.01


# ---------------------------------------------------------------- kmeans on YOLO labels: the columnar reader


def _yolo_set(root, labels: dict[str, bytes], sizes: dict[str, tuple[int, int]]):
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for stem, (h, w) in sizes.items():
        Image.new("RGB", (w, h)).save(root / "images" / f"{stem}.png")
    for stem, text in labels.items():
        (root / "labels" / f"{stem}.txt").write_bytes(text)
    (root / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [a, b, c]\n")
    return root / "data.yaml"


CLEAN = {
    "a": b"0 0.5 0.5 0.2 0.4\n2 0.25 0.75 0.5 0.5\n",
    "b": b"1 +0.5 0.5 1e-1 0.3\r\n\r\n  0\t0.4 0.6 0.3 0.2  \n",  # CRLF, blank line, tabs, sign and exponent
    "c": b"",  # an image with an empty label file
    "d": b"2 0.1000004 0.5 0.2 0.2",  # inside [0, 1] within the reader's tolerance, no final newline
}
SIZES = {"a": (375, 500), "b": (480, 640), "c": (100, 100), "d": (333, 250), "e": (64, 96)}  # e: no label file


@pytest.mark.parametrize("name,text", [
    ("columns", b"0 0.5 0.5 0.2\n"),
    ("nan", b"0 nan 0.5 0.2 0.2\n"),
    ("infinite", b"0 1e999 0.5 0.2 0.2\n"),
    ("two numbers in one token", b"0 0.5 0.5 0.2 0.2-1\n"),
    ("class out of range", b"3 0.5 0.5 0.2 0.2\n"),
    ("class not an integer", b"0.5 0.5 0.5 0.2 0.2\n"),
    ("empty box", b"0 0.5 0.5 0 0.2\n"),
    ("box to clip", b"0 0.95 0.5 0.2 0.2\n"),
    ("BOM", b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\n"),  # the reader strips it: nothing to report, same boxes
    ("not ASCII", "0 0,5 0.5 0.2 0.2 ü\n".encode()),
])
def test_kmeans_on_unclean_labels_reports_what_the_reader_reports(tmp_path, name, text):
    """kmeans reads through the one YOLO reader: the result and the problems are the reader's."""
    from yolotools.anchors.run import run_kmeans

    yaml_path = _yolo_set(tmp_path / "d", {**CLEAN, "c": text}, SIZES)
    got = run_kmeans(yaml_path, 2, restarts=2).to_dict()
    from yolotools.io import load_dataset
    from yolotools.anchors.run import dataset_wh

    ds, probs = load_dataset(yaml_path)
    want = kmeans_anchors(dataset_wh(ds)[0], 2, restarts=2)
    assert got["anchors"] == want.anchors and got["problems"] == [p.to_dict() for p in probs]
    assert any(p["path"].endswith("c.txt") for p in got["problems"]) == (name != "BOM")
