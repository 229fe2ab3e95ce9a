"""Trainer options a user sets: multi-scale, evaluation every N epochs with
results.png, a YAML --config, bad files left out and counted (or --strict),
YOLOv2 region heads, DDP under torchrun equal to one process."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from yolotools.convert import convert_voc
from yolotools.io.voc import read_voc
from yolotools.model.cfg import parse_cfg_text
from yolotools.model.darknet import DarknetNet
from yolotools.synth import generate_shapes
from yolotools.train.trainer import Trainer, TrainConfig, evaluate_model, multi_scale_range

from .nets import TINY, tiny_cfg

CLI = [sys.executable, "-m", "yolotools.cli"]


def _yolo(tmp_path, n_train=16, n_val=4, size=96, seed=3):
    s = generate_shapes(tmp_path / "d", n_train=n_train, n_val=n_val, image_hw=(size, size), seed=seed)
    for split in ("train", "val"):
        convert_voc([s.voc_root], tmp_path / "y", split=split)
    return s, tmp_path / "y" / "data.yaml"


def _cfg(epochs, **kw):
    base = dict(epochs=epochs, img_size=128, batch=8, nominal_batch=8, optimizer="adamw", lr=0.01, momentum=0.9, ema_decay=0.98,
                warmup_epochs=1, recipe="letterbox", ema_tau=20)
    base.update(kw)
    return TrainConfig(**base)


def test_multi_scale_draws_multiples_of_32_per_optimiser_step_and_trains(tmp_path):
    assert multi_scale_range(416) == (320, 608)  # Darknet's random=1 range
    s = generate_shapes(tmp_path / "d", n_train=16, n_val=4, image_hw=(128, 128), seed=0)
    tr, va = read_voc([s.voc_root], "train")[0], read_voc([s.voc_root], "val")[0]
    torch.manual_seed(0)
    t = Trainer(model=DarknetNet(sections=parse_cfg_text(TINY)), train=tr, val=va, config=_cfg(2, multi_scale=True, batch=4, nominal_batch=8), out=tmp_path / "run")
    sizes = [t.size_at(e, i) for e in range(3) for i in range(40)]
    assert set(sizes) <= set(range(96, 193, 32)) and len(set(sizes)) >= 3
    assert all(t.size_at(0, 2 * k) == t.size_at(0, 2 * k + 1) for k in range(20))  # one size per accumulation group
    assert sizes == [t.size_at(e, i) for e in range(3) for i in range(40)]  # deterministic (resume repeats them)
    seen = []
    real = t.loss

    def spy(out, targets, hw):
        seen.append(hw)
        return real(out, targets, hw)

    t.loss = spy
    hist = t.fit()
    assert len(hist) == 2 and all(np.isfinite([h.box, h.obj, h.cls]).all() for h in hist)
    assert len({hw for hw in seen}) >= 2 and all(h == w and h % 32 == 0 for h, w in seen)


def test_eval_every_and_results_plot(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=8, n_val=4, image_hw=(128, 128), seed=0)
    tr, va = read_voc([s.voc_root], "train")[0], read_voc([s.voc_root], "val")[0]
    torch.manual_seed(0)
    hist = Trainer(model=DarknetNet(sections=parse_cfg_text(TINY)), train=tr, val=va, config=_cfg(3, eval_every=2), out=tmp_path / "run").fit()
    assert math.isnan(hist[0].map50) and not math.isnan(hist[1].map50) and not math.isnan(hist[2].map50)  # epoch 2, and the last
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert rows[1].split(",")[5] == "nan"
    best = max(h.map50_95 for h in hist if not math.isnan(h.map50_95))
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["best"] == best  # a resume compares against the true best
    png = (tmp_path / "run" / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_config_file_bad_image_counted_then_strict_fails(tmp_path):
    s, data = _yolo(tmp_path)
    bad = tmp_path / "y" / (tmp_path / "y" / "train.txt").read_text().split()[0]
    bad.unlink()  # a symlink to the generated image: replace it by a corrupt file (the generated original is untouched)
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cfg = tmp_path / "my.yaml"
    cfg.write_text("model: yolov3-tiny\nepochs: 5\nimg-size: 96\nbatch: 8\nrecipe: letterbox\neval_every: 1\n")
    p = subprocess.run(CLI + ["train", "--config", str(cfg), "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "run"), "--json", "-q"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["epochs"] == 1  # the command line wins over the file
    assert j["skipped"]["train"] == 1 and bad.name in j["problems"][0]["path"]
    assert bad.name in p.stderr  # reported by file
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ck["train_config"]["img_size"] == 96 and ck["train_config"]["recipe"] == "letterbox"  # from the file
    p = subprocess.run(CLI + ["train", "--config", str(cfg), "--data", str(data), "--out", str(tmp_path / "run2"), "--strict"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode != 0 and bad.name in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "run2" / "last.pt").exists()
    cfg.write_text("epochz: 3\n")
    p = subprocess.run(CLI + ["train", "--config", str(cfg), "--data", str(data)], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown option 'epochz'" in p.stderr and "Traceback" not in p.stderr


def test_yolov2_region_head_learns(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=32, n_val=4, image_hw=(128, 128), seed=0)
    tr = read_voc([s.voc_root], "train")[0]
    region = TINY.replace("[yolo]\nmask=0,1,2\nanchors=16,16, 32,32, 56,56", "[region]\nanchors=2,2, 4,4, 7,7\nsoftmax=1\ncoords=4")
    assert "[region]" in region
    torch.manual_seed(0)
    net = DarknetNet(sections=parse_cfg_text(region))
    assert net.heads[0].kind == "region"
    hist = Trainer(model=net, train=tr, val=None, config=_cfg(80, batch=16, nominal_batch=16), out=tmp_path / "run").fit()
    # softmax cross-entropy, as Darknet's [region]: the class loss falls 5x (0.204 of its start measured 2026-12-08, torch 2.13.0)
    assert hist[-1].cls < 0.25 * hist[0].cls and hist[-1].box < 0.5 * hist[0].box
    assert evaluate_model(net, tr, 128).stats["AP50"] >= 0.75  # 0.89 measured; the [yolo] twin of this net reaches 0.84
    assert (tmp_path / "run" / "best.pt").exists()  # no val split: best = last


NOBN = tiny_cfg(((8, 2), (16, 2), (16, 2)), bn=False, size=96)


def test_torchrun_two_processes_equal_one_process_with_the_same_total_batch(tmp_path):
    """Under ``torchrun --nproc_per_node 2`` (gloo on CPU) each process takes half
    of every batch; without BatchNorm the result must equal one process with
    twice the batch, to float rounding."""
    pytest.importorskip("torch.distributed.run")
    if not torch.distributed.is_available():
        pytest.skip("torch built without distributed")
    _, data = _yolo(tmp_path)
    (tmp_path / "nobn.cfg").write_text(NOBN)
    args = ["train", "--data", str(data), "--cfg", str(tmp_path / "nobn.cfg"), "--epochs", "2", "--img-size", "96", "--nominal-batch", "8",
            "--recipe", "darknet", "-q", "--json"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "yolotools.cli"] + args
                         + ["--batch", "4", "--out", str(tmp_path / "ddp")], capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert json.loads(ddp.stdout)["world_size"] == 2  # one report: only rank 0 prints
    one = subprocess.run(CLI + args + ["--batch", "8", "--out", str(tmp_path / "one")], capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    a = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    assert a["world_size"] == 2 and b["world_size"] == 1 and a["step"] * 2 == b["step"] * 2 == 8
    for k in b["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], atol=1e-6), k
        assert not torch.equal(b["model"][k], torch.zeros_like(b["model"][k]))
    ra = (tmp_path / "ddp" / "results.csv").read_text().splitlines()
    rb = (tmp_path / "one" / "results.csv").read_text().splitlines()
    assert len(ra) == len(rb) == 3
    for x, y in zip(ra[1:], rb[1:]):  # mean losses across processes = losses of the whole batch
        np.testing.assert_allclose([float(v) for v in x.split(",")[1:5]], [float(v) for v in y.split(",")[1:5]], rtol=1e-5)

    # two machines of one process each, on torchrun's own c10d rendezvous (here two "nodes" on the loopback):
    # the same weights again
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
            "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "yolotools-test", "-m", "yolotools.cli"] + args + ["--batch", "4"]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    nodes = [subprocess.Popen(node + ["--out", str(tmp_path / f"node{r}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for r in range(2)]
    outs = [n.communicate(timeout=600) for n in nodes]
    assert all(n.returncode == 0 for n in nodes), [e[-3000:] for _, e in outs]
    ran = [r for r in range(2) if (tmp_path / f"node{r}" / "last.pt").exists()]
    assert len(ran) == 1  # only global rank 0 writes
    c = torch.load(tmp_path / f"node{ran[0]}" / "last.pt", weights_only=True)
    assert c["world_size"] == 2 and c["step"] == a["step"]
    for k in b["model"]:
        assert torch.allclose(c["model"][k], b["model"][k], atol=1e-6), k


def test_channels_last_trains_and_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    s = generate_shapes(tmp_path / "d", n_train=8, n_val=2, image_hw=(128, 128), seed=0)
    tr, va = read_voc([s.voc_root], "train")[0], read_voc([s.voc_root], "val")[0]
    torch.manual_seed(0)
    hist = Trainer(model=DarknetNet(sections=parse_cfg_text(TINY)), train=tr, val=va, config=_cfg(1, channels_last=True), out=tmp_path / "run").fit()
    assert len(hist) == 1 and np.isfinite(hist[0].box)
    ck = tmp_path / "run" / "last.pt"
    ck.write_bytes(ck.read_bytes()[:1000])  # a disk-full or killed copy
    from yolotools.errors import YoloToolsError

    with pytest.raises(YoloToolsError, match="last.pt: not a readable checkpoint"):
        Trainer(model=DarknetNet(sections=parse_cfg_text(TINY)), train=tr, val=va, config=_cfg(2), out=tmp_path / "run", resume=True)


def test_the_gpu_check_script_runs_on_the_cpu(tmp_path):
    """bench/gpu_check.sh is run on lent GPU machines only: prove here that it runs
    and prints its table (tiny sizes, CPU)."""
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, str(root / "bench" / "gpu_check.py"), "--device", "cpu", "--img-size", "64", "--batch", "4",
                        "--images", "8", "--steps", "1", "--models", "yolov3-tiny", "--no-tests"], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [l for l in p.stdout.splitlines() if l.startswith("| ") and not l.startswith("| check")]
    assert [r.split(" |")[0] for r in rows] == ["| train yolov3-tiny-64 batch 4 off 0 workers, ultralytics aug, no image cache (not built yet)",
                                                "| forward yolov3-tiny-64 batch 1", "| forward yolov3-tiny-64 batch 32", "| DDP scaling"]
    assert "images/s, data wait" in rows[0]
