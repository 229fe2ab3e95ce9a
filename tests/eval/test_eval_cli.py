"""`yolotools eval` as users call it, on YOLO txt and COCO results."""

import json
import subprocess
import sys

import numpy as np

from yolotools.eval import evaluate_coco, from_arrays
from yolotools.eval.coco import STAT_NAMES
from yolotools.synth import generate_shapes

EXE = [sys.executable, "-m", "yolotools.cli"]


def _yolo_preds(shapes, folder, jitter=0.0, seed=0):
    """Predictions = ground truth (optionally jittered) with descending scores, as YOLO txt with conf."""
    from yolotools.io.yolo import yolo_lines

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for r in shapes.truth["val"]:
        a = r.annotations
        xyxy = a.boxes.xyxy + rng.normal(0, jitter, a.boxes.xyxy.shape)
        (folder / f"{r.image_id}.txt").write_text(yolo_lines(a.class_ids.tolist(), xyxy.tolist(), r.image_hw, scores=rng.uniform(0.5, 1, len(a)).tolist()))


def test_perfect_yolo_predictions_score_one_and_json_keys(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=2, n_val=12)
    _yolo_preds(s, tmp_path / "pred")
    p = subprocess.run(EXE + ["eval", "--gt", str(s.coco_json["val"]), "--pred", str(tmp_path / "pred"), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert [k for k in j if k in STAT_NAMES] == list(STAT_NAMES)
    assert j["AP"] == 1.0 and j["AP50"] == 1.0 and j["AR100"] == 1.0
    p = subprocess.run(EXE + ["eval", "--gt", str(s.voc_root), "--split", "val", "--pred", str(tmp_path / "pred"), "--metric", "voc07", "--json"],
                       capture_output=True, text=True)
    assert abs(json.loads(p.stdout)["map"] - 1.0) < 1e-12  # 11 x (1/11) in floating point


def test_eval_on_voc_root_yolo_dataset_and_coco_agree(tmp_path):
    from yolotools.convert import convert_voc

    s = generate_shapes(tmp_path / "d", n_train=2, n_val=12, seed=4)
    _yolo_preds(s, tmp_path / "pred", jitter=2.0, seed=1)
    convert_voc([s.voc_root], tmp_path / "y", split="val")
    outs = []
    for gt in (str(s.coco_json["val"]), str(s.voc_root), str(tmp_path / "y" / "data.yaml")):
        p = subprocess.run(EXE + ["eval", "--gt", gt, "--split", "val", "--pred", str(tmp_path / "pred"), "--json", "--plots", str(tmp_path / "plots")],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert 0.2 < outs[0]["AP"] < 1.0
    for o in outs[1:]:
        assert abs(o["AP"] - outs[0]["AP"]) < 1e-6 and abs(o["AP50"] - outs[0]["AP50"]) < 1e-9
    assert (tmp_path / "plots" / "pr_curves.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "confusion_matrix.png").stat().st_size > 1000


def test_library_api_takes_arrays_without_files(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=1, n_val=6, seed=2)
    gt = s.truth["val"]
    per = {r.image_id: (r.annotations.boxes.xyxy, r.annotations.class_ids, np.linspace(1, 0.5, len(r.annotations))) for r in gt}
    assert evaluate_coco(gt, from_arrays(gt, per)).stats["AP"] == 1.0
    # drop every prediction of one image: recall falls below 1
    first = gt.records[0].image_id
    per[first] = (np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0))
    assert evaluate_coco(gt, from_arrays(gt, per)).stats["AR100"] < 1.0


def test_bad_predictions_file_is_a_clear_error(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=1, n_val=2)
    bad = tmp_path / "r.json"
    bad.write_text('{"not": "results"}')
    p = subprocess.run(EXE + ["eval", "--gt", str(s.coco_json["val"]), "--pred", str(bad)], capture_output=True, text=True)
    assert p.returncode == 1 and "expected a list of detections" in p.stderr and "Traceback" not in p.stderr
    bad.write_text('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, "x", 4], "score": 0.5}]')
    p = subprocess.run(EXE + ["eval", "--gt", str(s.coco_json["val"]), "--pred", str(bad), "--json"], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["problems"][0]["where"] == "[0]"
