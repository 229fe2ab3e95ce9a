import json

import numpy as np

from yolotools.io.voc import read_voc
from yolotools.io.coco import read_coco
from yolotools.synth import generate_shapes


def test_generated_dataset_voc_and_coco_hold_the_rendered_boxes(tmp_path):
    s = generate_shapes(tmp_path, n_train=6, n_val=3, seed=3)
    v, pv = read_voc([s.voc_root], "val")
    c, pc = read_coco(s.coco_json["val"], s.images_dir, check_images=True)
    assert not len(pv) and not len(pc)
    assert c.class_map.source_ids == (1, 3, 7)
    for r in s.truth["val"]:
        np.testing.assert_array_equal(v.by_id()[r.image_id].annotations.boxes.xyxy, r.annotations.boxes.xyxy)
        np.testing.assert_array_equal(c.by_id()[r.image_id].annotations.boxes.xyxy, r.annotations.boxes.xyxy)


def test_rendered_boxes_are_the_exact_object_extent(tmp_path):
    from PIL import Image

    s = generate_shapes(tmp_path, n_train=4, n_val=1, seed=5)
    for r in s.truth["train"]:
        img = np.asarray(Image.open(r.path)).astype(int)
        bg = np.median(img.reshape(-1, 3), axis=0)
        fg = np.abs(img - bg).sum(axis=2) > 60
        for x1, y1, x2, y2 in r.annotations.boxes.xyxy.astype(int):
            inside = fg[y1:y2, x1:x2]
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()


def test_demo_fast_end_to_end(tmp_path):
    """`yolotools demo --fast` with its output piped (as in a log): a line for
    every stage and epoch, never 15 s of silence, then the summary."""
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "yolotools.cli", "demo", "--out", str(tmp_path / "d"), "--fast"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    stamps, lines = [time.monotonic()], []
    for line in p.stdout:
        stamps.append(time.monotonic())
        lines.append(line)
    assert p.wait() == 0, "".join(lines[-30:])
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert max(gaps) < 15, (max(gaps), lines)
    text = "".join(lines)
    for stage in ("generate", "convert", "kmeans", "augment", "audit", "train+eval"):
        assert f"{stage} ..." in text and f"{stage} done in" in text, stage
    assert text.count("epoch ") >= 50  # a line per epoch
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["convert_agree"] is True
    assert summary["roundtrip_max_error_px"] < 1e-3
    assert summary["images"] == {"train": 128, "val": 32}
    assert len(summary["anchors"]) == 6 and summary["avg_iou"] > 0.7 and summary["bpr"] > 0.99
    assert summary["audit_drift"] == []  # train and val come from one generator
    assert summary["audit_findings"] == 0  # the generated, converted dataset is clean
    # --fast trains 50 epochs on 128 images without augmentation, using the k-means anchors:
    # 0.72 measured with the trainer's default assignment (deterministic on CPU up to
    # thread-count rounding); the README gives the default settings' figure
    assert summary["epochs"] == 50 and summary["map50"] >= 0.4 and 0 < summary["map50_95"] <= summary["map50"]
    import torch

    trained_cfg = torch.load(tmp_path / "d" / "train" / "last.pt", weights_only=True)["cfg"]  # the detector uses the k-means anchors
    assert "anchors=" + ", ".join(f"{round(w)},{round(h)}" for w, h in summary["anchors"]) in trained_cfg
    rows = (tmp_path / "d" / "train" / "results.csv").read_text().splitlines()
    assert len(rows) == 51 and sum("nan" not in r for r in rows[1:]) == 5  # evaluated every 10 epochs
    page = (tmp_path / "d" / "report.html").read_text()
    assert page.count("base64,") == 6 and "audit.html" in page
