"""One inference path: the val mAP the trainer reports (and picks best.pt by) is
the mAP a user gets from `yolotools detect` + `yolotools eval` on the same
checkpoint and images."""

import json
import subprocess
import sys

import numpy as np
import torch

from yolotools.convert import convert_voc
from yolotools.io import load_dataset
from yolotools.model import load_checkpoint
from yolotools.model.cfg import parse_cfg_text
from yolotools.model.darknet import DarknetNet
from yolotools.model.predict import load_rgb, predict_dataset, predict_images
from yolotools.synth import generate_shapes
from yolotools.train.trainer import Trainer, TrainConfig

from ..train.nets import TINY

EXE = [sys.executable, "-m", "yolotools.cli"]


def test_trainer_val_map_equals_detect_plus_eval(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=64, n_val=12, image_hw=(128, 128), seed=0)
    y = tmp_path / "y"
    for split in ("train", "val"):
        convert_voc([s.voc_root], y, split=split)
    tr, _ = load_dataset(y / "data.yaml", split="train")
    va, _ = load_dataset(y / "data.yaml", split="val")
    torch.manual_seed(0)
    net = DarknetNet(sections=parse_cfg_text(TINY))
    cfg = TrainConfig(epochs=20, img_size=128, batch=16, nominal_batch=16, optimizer="adamw", lr=0.01, momentum=0.9, ema_decay=0.98,
                      ema_tau=20, warmup_epochs=1, recipe="letterbox", device="cpu", workers=0, assign="darknet")
    hist = Trainer(model=net, train=tr, val=va, config=cfg, out=tmp_path / "run").fit()
    assert hist[-1].map50_95 > 0.02  # something to compare (not two zeros)
    det = tmp_path / "det"
    p = subprocess.run([*EXE, "detect", "--weights", tmp_path / "run" / "last.pt", y / "val.txt", "--out", det, "--conf", "0.001",
                        "--iou", "0.6", "--img-size", "128", "--no-draw"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*EXE, "eval", "--gt", y / "data.yaml", "--split", "val", "--pred", det / "detections.json", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    assert abs(ev["AP"] - hist[-1].map50_95) <= 1e-9, (ev["AP"], hist[-1].map50_95)
    assert abs(ev["AP50"] - hist[-1].map50) <= 1e-9, (ev["AP50"], hist[-1].map50)
    # and the library path gives the same arrays as the files detect wrote
    model, _ = load_checkpoint(tmp_path / "run" / "last.pt")
    preds = predict_dataset(model, va, 128)
    rows = json.loads((det / "detections.json").read_text())
    assert len(rows) == preds.num_detections


def test_predict_images_maps_boxes_to_the_given_frame():
    """A record whose labels were made for another size of the same picture gets
    boxes in the record's frame."""
    torch.manual_seed(0)
    net = DarknetNet(sections=parse_cfg_text(TINY))
    img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    (a,) = predict_images(net, [img], 128, conf=0.0, max_det=20)
    (b,) = predict_images(net, [img], 128, conf=0.0, max_det=20, frames_hw=[(192, 256)])
    assert len(a[0]) > 0
    np.testing.assert_allclose(b[0], a[0] * 2)
    np.testing.assert_array_equal(a[1], b[1])


def test_load_rgb_names_the_file(tmp_path):
    import pytest

    from yolotools.errors import YoloToolsError

    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(YoloToolsError, match="x.png"):
        load_rgb(bad)
    with pytest.raises(YoloToolsError, match="not a regular file"):
        load_rgb(tmp_path)
