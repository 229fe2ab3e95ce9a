"""`yolotools detect` end to end with a network whose output we set by hand."""

import json
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from yolotools.letterbox import from_letterbox, letterbox_info
from yolotools.model import load_network, save_checkpoint

CFG = """[net]
width=64
height=64
channels=3
[convolutional]
filters=6
size=1
stride=1
pad=1
activation=linear
[yolo]
mask=0
anchors=20,12
classes=1
num=1
"""


def test_detect_writes_labels_json_and_drawings_in_original_pixels(tmp_path):
    cfg = tmp_path / "one.cfg"
    cfg.write_text(CFG)
    net = load_network(cfg)
    with torch.no_grad():
        conv = net.layers[0].conv
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 8.0, 8.0]))  # every cell: anchor-sized box, score ~1
    save_checkpoint(net, tmp_path / "one.pt")
    img = np.full((128, 128, 3), 200, np.uint8)  # letterboxed at half size, no padding
    Image.fromarray(img).save(tmp_path / "17.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "detect", str(tmp_path / "17.png"), str(tmp_path / "broken.jpg"),
                        "--cfg", str(cfg), "--weights", str(tmp_path / "one.pt"), "--out", str(out), "--max-det", "1", "--merge-iou", "1", "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["images"] == 1 and rep["detections"] == 1 and "broken.jpg" in rep["problems"][0]
    # highest score, first cell (stable order): centre (0.5, 0.5) in the 64x64 letterbox, 20x12 anchor
    expected = from_letterbox(np.array([[0.5 - 10, 0.5 - 6, 0.5 + 10, 0.5 + 6]]), letterbox_info((128, 128), 64))[0]
    assert np.allclose(expected, [0, 0, 21, 13])  # clipped to the image, in original pixels (x2)
    row = [float(v) for v in (out / "labels" / "17.txt").read_text().split()]
    assert row[0] == 0 and row[5] > 0.99
    cx, cy, w, h = row[1:5]
    got = [(cx - w / 2) * 128, (cy - h / 2) * 128, (cx + w / 2) * 128, (cy + h / 2) * 128]
    assert np.allclose(got, expected, atol=1e-3)
    det = json.loads((out / "detections.json").read_text())
    assert det[0]["image_id"] == 17 and det[0]["category_id"] == 1
    assert np.allclose(det[0]["bbox"], [expected[0], expected[1], expected[2] - expected[0], expected[3] - expected[1]], atol=2e-3)
    assert (out / "images" / "17.jpg").read_bytes()[:2] == b"\xff\xd8"
    # a wide image: that first cell lies in the letterbox padding, so its box has no area in the image: dropped
    Image.fromarray(np.full((40, 100, 3), 200, np.uint8)).save(tmp_path / "wide.png")
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "detect", str(tmp_path / "wide.png"), "--cfg", str(cfg), "--weights",
                        str(tmp_path / "one.pt"), "--out", str(tmp_path / "out2"), "--max-det", "1", "--merge-iou", "1", "--json"], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["detections"] == 0
    assert (tmp_path / "out2" / "labels" / "wide.txt").read_text() == ""
