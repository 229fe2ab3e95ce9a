"""ONNX export and the runtimes users deploy with: onnxruntime and OpenCV DNN
give our PyTorch forward's head outputs on the exported file, and OpenCV's own
Darknet reader gives them on our .cfg + .weights, for all four zoo networks."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from yolotools.model import load_network
from yolotools.model.cfg import cfg_text
from yolotools.model.decode import decode
from yolotools.model.export import export_onnx
from yolotools.model.weights import save_darknet_weights

NETS = ["yolov3", "yolov3-tiny", "yolov3-spp", "yolov2"]
SIZE = 160


def _net(name):
    torch.manual_seed(0)
    net = load_network(name, classes=3, size=SIZE).eval()
    with torch.no_grad():  # BN statistics that are not the identity, so the fused/exported BN is really checked
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net


def _close(got, ref, what):
    for g, r in zip(got, ref):
        scale = max(1.0, float(np.abs(r).max()))
        assert g.shape == r.shape, (what, g.shape, r.shape)
        assert float(np.abs(g - r).max()) <= 1e-4 * scale, (what, float(np.abs(g - r).max()), scale)


@pytest.mark.parametrize("name", NETS)
def test_onnx_equals_pytorch_in_onnxruntime_and_opencv(tmp_path, name):
    ort = pytest.importorskip("onnxruntime")
    cv2 = pytest.importorskip("cv2")
    net = _net(name)
    rep = export_onnx(net, tmp_path / "m.onnx", img_size=SIZE, dynamic_batch=True)
    assert list(rep.outputs) == [f"head{i}" for i in range(len(net.heads))]
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        ref = [o.numpy() for o in net(x)]
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    _close(sess.run(None, {"images": x.numpy()}), ref, "onnxruntime")
    dnn = cv2.dnn.readNetFromONNX(str(tmp_path / "m.onnx"))
    dnn.setInput(x[:1].numpy())
    got = dnn.forward(list(rep.outputs))
    _close([np.asarray(g) for g in got], [r[:1] for r in ref], "opencv onnx")


@pytest.mark.parametrize("name", NETS)
def test_opencv_darknet_reader_equals_our_forward(tmp_path, name):
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromDarknet"):
        pytest.skip("this OpenCV has no Darknet reader (OpenCV 5 dropped it; the test extra pins opencv < 5)")
    net = _net(name)
    (tmp_path / "n.cfg").write_text(cfg_text(net.sections))
    save_darknet_weights(net, tmp_path / "n.weights")
    dnn = cv2.dnn.readNetFromDarknet(str(tmp_path / "n.cfg"), str(tmp_path / "n.weights"))
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        ref = [o.numpy() for o in net(x)]
    dnn.setInput(x.numpy())
    got = dnn.forward([f"conv_{h.layer - 1}" for h in net.heads])  # the convolution feeding each head: its raw output
    for g, r in zip(got, ref):
        rel = float(np.abs(np.asarray(g) - r).max() / max(1e-6, np.abs(r).max()))
        assert rel <= 1e-4, (name, rel)


def test_decoded_export_runs_without_our_code(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = _net("yolov3-tiny")
    export_onnx(net, tmp_path / "d.onnx", img_size=SIZE, decode=True)
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        p = decode(net(x), net.heads, (SIZE, SIZE)).numpy()
    boxes, scores = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})
    _close([boxes, scores], [p[..., :4], p[..., 4:5] * p[..., 5:]], "decoded")
    assert boxes.shape == (1, 3 * (5 * 5 + 10 * 10), 4) and scores.shape[-1] == 3


def test_export_cli_form_and_errors(tmp_path):
    exe = [sys.executable, "-m", "yolotools.cli"]
    w = tmp_path / "t.weights"
    subprocess.run([*exe, "model", "init", "yolov3-tiny", "--classes", "2", "--out", w], check=True, capture_output=True, timeout=300)
    p = subprocess.run([*exe, "model", "export", w, "--cfg", "yolov3-tiny", "--classes", "2", "--format", "onnx", "--out", tmp_path / "m.onnx",
                        "--img-size", "128", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["outputs"] == {"head0": [1, 21, 4, 4], "head1": [1, 21, 8, 8]} and (tmp_path / "m.onnx").stat().st_size > 1000
    p = subprocess.run([*exe, "model", "export", w, "--out", tmp_path / "x.onnx"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "--cfg is needed" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([*exe, "model", "export", w, "--cfg", "yolov3-tiny", "--out", tmp_path / "x.onnx", "--img-size", "100"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and "Traceback" not in p.stderr
