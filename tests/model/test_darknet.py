"""Darknet cfg -> PyTorch, weights I/O, and the code-built YOLOv3, against independent facts."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import SHARED, need
from yolotools.errors import YoloToolsError
from yolotools.model import load_network
from yolotools.model.cfg import override_heads, parse_cfg, parse_cfg_text
from yolotools.model.darknet import DarknetNet
from yolotools.model.layers import DarknetMaxPool, Reorg
from yolotools.model.weights import darknet_value_count, load_darknet_weights, save_darknet_weights
from yolotools.model.yolov3 import YOLOv3
from yolotools.model.zoo import build_model, cfg_sections

CFG = SHARED / "darknet_pjreddie" / "cfg"


def _params(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    "name,params,values,file_bytes",
    [
        # Keras YOLOv3 summary (reference project): 61,949,149 trainable, 62,001,757 total; yolov3.weights 248,007,048 bytes
        ("yolov3", 61_949_149, 62_001_757, 248_007_048),
        # yolov3-tiny.weights 35,434,956 bytes
        ("yolov3-tiny", None, (35_434_956 - 20) // 4, 35_434_956),
    ],
)
def test_counts_match_published_facts(name, params, values, file_bytes):
    for net in (build_model(name), *( [load_network(CFG / f"{name}.cfg")] if CFG.exists() else [])):
        if params is not None:
            assert _params(net) == params
        assert darknet_value_count(net.darknet_convs()) == values
        assert values * 4 + 20 == file_bytes


def test_summary_cli_json_keys(tmp_path):
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "model", "summary", "yolov3", "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert (j["parameters"], j["darknet_values"]) == (61_949_149, 62_001_757)


@pytest.mark.parametrize("name", ["yolov3", "yolov3-spp", "yolov3-tiny", "yolov2"])
def test_zoo_layers_equal_darknet_cfgs(name):
    ref = parse_cfg(need(CFG / f"{name}.cfg"))
    ours = cfg_sections(name)
    keys = ("batch_normalize", "filters", "size", "stride", "pad", "activation", "from", "layers", "mask", "classes", "num")
    norm = lambda s: (s.type, {k: s.options[k].replace(" ", "") for k in keys if k in s.options},
                      [float(v) for v in s.options.get("anchors", "").replace(" ", "").split(",") if v])
    assert [norm(s) for s in ours[1:]] == [norm(s) for s in ref[1:]]


def test_output_shapes_and_box_count_at_416():
    from yolotools.model.decode import decode

    net = build_model("yolov3-tiny").eval()
    m3 = build_model("yolov3")
    x = torch.zeros(1, 3, 416, 416)
    with torch.no_grad():
        outs = m3.eval()(x)
        assert [o.shape[-1] for o in outs] == [13, 26, 52]
        assert decode(outs, m3.heads, (416, 416)).shape == (1, 10647, 85)
        assert [o.shape[-1] for o in net(x)] == [13, 26]


def test_code_built_yolov3_equals_cfg_network(tmp_path):
    torch.manual_seed(0)
    cfg_net = build_model("yolov3", classes=3).eval()
    for m in cfg_net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    from yolotools.model.yolov3 import YOLOv3Cfg

    code_net = YOLOv3.from_config(YOLOv3Cfg(num_classes=3)).eval()
    assert _params(code_net) == _params(cfg_net)
    w = tmp_path / "w.weights"
    save_darknet_weights(cfg_net, w)
    load_darknet_weights(code_net, w)
    x = torch.randn(2, 3, 128, 160)
    with torch.no_grad():
        for a, b in zip(cfg_net(x), code_net(x)):
            assert torch.equal(a, b)
    assert [h.anchors for h in code_net.heads] == [h.anchors for h in cfg_net.heads]


def test_weights_round_trip_header_and_truncation(tmp_path):
    torch.manual_seed(1)
    a = build_model("yolov3-tiny", classes=2)
    w = tmp_path / "a.weights"
    n = save_darknet_weights(a, w, seen=123456789012, header=(0, 2, 0))
    b = build_model("yolov3-tiny", classes=2)
    info = load_darknet_weights(b, w)
    assert info["seen"] == 123456789012 and info["values"] == n
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        if x.dtype.is_floating_point:
            assert torch.equal(x, y), k
    # old-style header: int32 seen
    save_darknet_weights(a, tmp_path / "old.weights", seen=7, header=(0, 1, 0))
    assert load_darknet_weights(b, tmp_path / "old.weights")["seen"] == 7
    assert (tmp_path / "old.weights").stat().st_size == n * 4 + 16
    data = w.read_bytes()
    (tmp_path / "cut.weights").write_bytes(data[:-400])
    with pytest.raises(YoloToolsError, match=rf"expected {n:,} float32 values .* found {n - 100:,} .*truncated"):
        load_darknet_weights(b, tmp_path / "cut.weights")
    with pytest.raises(YoloToolsError, match="expected"):
        load_darknet_weights(build_model("yolov3-tiny", classes=80), w)


def test_backbone_prefix_by_explicit_layer_count(tmp_path):
    torch.manual_seed(2)
    src = build_model("yolov3", classes=80)
    pre = tmp_path / "darknet53.conv.74"
    n = save_darknet_weights(src, pre, num_layers=74)
    dst = build_model("yolov3", classes=4)
    before_head = dst.layers[105].conv.weight.clone()
    info = load_darknet_weights(dst, pre, num_layers=74)
    assert info["values"] == n and info["convs"] == 52  # Darknet-53's 52 convolutions
    assert torch.equal(dst.layers[73].conv.weight, src.layers[73].conv.weight)
    assert torch.equal(dst.layers[105].conv.weight, before_head)
    with pytest.raises(YoloToolsError, match="file is for a larger network|expected"):
        load_darknet_weights(dst, pre)  # the whole network needs more values


def test_heads_rewritten_for_classes_and_anchors():
    secs = override_heads(cfg_sections("yolov3"), classes=5, anchors=[float(v) for v in range(1, 13)])
    net = DarknetNet(sections=secs)
    assert [h.classes for h in net.heads] == [5, 5, 5]
    assert [len(h.anchors) for h in net.heads] == [2, 2, 2]
    assert net.heads[0].anchors == ((9.0, 10.0), (11.0, 12.0))  # largest on the stride-32 head
    with torch.no_grad():
        outs = net.eval()(torch.zeros(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [2 * (5 + 5)] * 3
    v2 = DarknetNet(sections=override_heads(cfg_sections("yolov2"), classes=3))
    assert v2.heads[0].kind == "region" and v2.layers[-2].conv.out_channels == 5 * (3 + 5)


def test_bad_cfg_errors_name_the_line():
    with pytest.raises(YoloToolsError, match=r"x.cfg:3: layer type \[bogus\]"):
        parse_cfg_text("[net]\nwidth=32\n[bogus]\n", "x.cfg")
    with pytest.raises(YoloToolsError, match=r"<cfg>:7: \[yolo\] with 1 classes and 1 anchors needs 6 filters .*found 4"):
        DarknetNet(sections=parse_cfg_text("[net]\nwidth=32\nheight=32\n[convolutional]\nfilters=4\nsize=1\n[yolo]\nmask=0\nanchors=1,1\nclasses=1\nnum=1\n"))


def test_reorg_matches_darknet_reorg_cpu():
    b, c, h, w, s = 2, 8, 4, 6, 2
    x = torch.arange(b * c * h * w, dtype=torch.float32).reshape(b, c, h, w)
    flat = x.numpy().ravel()
    out = np.empty_like(flat)
    out_c = c // (s * s)
    for bb in range(b):  # transcription of darknet's reorg_cpu(..., forward=0)
        for k in range(c):
            for j in range(h):
                for i in range(w):
                    in_index = i + w * (j + h * (k + c * bb))
                    c2, offset = k % out_c, k // out_c
                    w2, h2 = i * s + offset % s, j * s + offset // s
                    out[in_index] = flat[w2 + w * s * (h2 + h * s * (c2 + out_c * bb))]
    got = Reorg(s)(x)
    assert got.shape == (b, c * 4, h // 2, w // 2)
    assert np.array_equal(got.numpy().ravel(), out)


def test_darknet_maxpool_sizes():
    x = torch.randn(1, 2, 13, 13)
    assert DarknetMaxPool(2, 1)(x).shape[-1] == 13  # yolov3-tiny layer 11
    assert DarknetMaxPool(5, 1)(x).shape[-1] == 13  # SPP
    assert DarknetMaxPool(2, 2)(torch.randn(1, 2, 26, 26)).shape[-1] == 13
    y = DarknetMaxPool(2, 1)(x)
    assert torch.equal(y[..., :12, :12], torch.maximum(torch.maximum(x[..., :12, :12], x[..., 1:, :12]), torch.maximum(x[..., :12, 1:], x[..., 1:, 1:])))
    assert torch.equal(y[..., 12, 12], x[..., 12, 12])


def test_cli_init_convert_round_trip_is_lossless(tmp_path):
    exe = [sys.executable, "-m", "yolotools.cli", "model"]
    w, pt, w2 = tmp_path / "a.weights", tmp_path / "a.pt", tmp_path / "b.weights"
    for args in (["init", "yolov3-tiny", "--out", str(w), "--seed", "3", "--classes", "2"],
                 ["convert", str(w), str(pt), "--cfg", "yolov3-tiny", "--classes", "2"],
                 ["convert", str(pt), str(w2)]):
        p = subprocess.run(exe + args, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    assert w.read_bytes() == w2.read_bytes()
    ck = torch.load(pt, weights_only=True)
    assert ck["format"] == "yolotools-darknet"
    p = subprocess.run(exe + ["convert", str(w), str(pt), "--cfg", "yolov3-tiny"], capture_output=True, text=True)
    assert p.returncode == 1 and "expected" in p.stderr and "Traceback" not in p.stderr
