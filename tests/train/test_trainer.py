"""The trainer: it learns, a resumed run equals an uninterrupted one, checkpoints
load with weights_only and export to Darknet, a NaN stops with the last good
checkpoint intact."""

import json
import subprocess
import sys

import pytest
import torch

from yolotools.errors import YoloToolsError
from yolotools.io.voc import read_voc
from yolotools.model.cfg import parse_cfg_text
from yolotools.model.darknet import DarknetNet
from yolotools.synth import generate_shapes
from yolotools.train.trainer import Trainer, TrainConfig, evaluate_model

from .nets import TINY


def _data(tmp_path, n_train, n_val):
    s = generate_shapes(tmp_path / "d", n_train=n_train, n_val=n_val, image_hw=(128, 128), seed=0)
    return read_voc([s.voc_root], "train")[0], read_voc([s.voc_root], "val")[0]


def _cfg(epochs, **kw):
    base = dict(epochs=epochs, img_size=128, batch=16, nominal_batch=16, optimizer="adamw", lr=0.01, momentum=0.9, ema_decay=0.98,
                warmup_epochs=1, recipe="letterbox", ema_tau=20)
    base.update(kw)
    return TrainConfig(**base)


def _net():
    torch.manual_seed(0)
    return DarknetNet(sections=parse_cfg_text(TINY))


def test_a_tiny_model_learns_the_shapes(tmp_path):
    """Darknet's assignment (kept for reproducing the paper) on a one-head net."""
    tr, va = _data(tmp_path, 64, 16)
    net = _net()
    hist = Trainer(model=net, train=tr, val=va, config=_cfg(80, assign="darknet"), out=tmp_path / "run").fit()
    train_map = evaluate_model(net, tr, 128).stats["AP50"]
    held_out = evaluate_model(net, va, 128).stats["AP50"]
    assert train_map >= 0.9, train_map
    assert held_out >= 0.2, held_out  # clearly non-trivial on images it never saw (64 training images, no augmentation)
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert len(rows) == 81 and rows[0].startswith("epoch,lr,box,obj,cls,map50,map50_95")
    assert hist[-1].box < hist[0].box


def test_the_default_assignment_learns_with_two_heads(tmp_path):
    """The default (ultralytics) assignment on the demo's two-head net with the
    heads `yolotools train` gives it (scale_x_y=2) and biases at the priors."""
    from yolotools.model import load_network
    from yolotools.train.parts import init_head_biases

    tr, va = _data(tmp_path, 64, 16)
    torch.manual_seed(0)
    net = load_network("shapes-tiny", classes=3, anchors=[12, 12, 20, 20, 28, 28, 36, 36, 48, 48, 64, 64], size=128,
                       head_options={"scale_x_y": "2.0"})
    init_head_biases(net, 128)
    cfg = _cfg(60, lr=0.004)
    assert cfg.assign == "ultralytics"
    Trainer(model=net, train=tr, val=va, config=cfg, out=tmp_path / "run").fit()
    train_map = evaluate_model(net, tr, 128).stats
    held_out = evaluate_model(net, va, 128).stats
    assert train_map["AP50"] >= 0.8, train_map
    assert held_out["AP50"] >= 0.3, held_out


def test_resumed_run_equals_uninterrupted_run_and_checkpoint_exports(tmp_path):
    tr, va = _data(tmp_path, 16, 4)
    a = _net()
    Trainer(model=a, train=tr, val=va, config=_cfg(4), out=tmp_path / "straight").fit()
    b = _net()
    Trainer(model=b, train=tr, val=va, config=_cfg(4), out=tmp_path / "split").fit(stop_after=2)  # "killed" after epoch 2 (last.pt written each epoch)
    # a results.csv written before data_wait_s existed: the resumed run reads it and goes on
    res = tmp_path / "split" / "results.csv"
    res.write_text("".join(l.rsplit(",", 1)[0] + "\n" for l in res.read_text().splitlines()))
    b2 = _net()  # a fresh process would start from a fresh network
    Trainer(model=b2, train=tr, val=va, config=_cfg(4), out=tmp_path / "split", resume=True).fit()
    for (k, x), (_, y) in zip(a.state_dict().items(), b2.state_dict().items()):
        assert torch.equal(x, y), k
    ck = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert ck["epoch"] == 3 and {"model", "ema", "optimizer", "scaler", "torch_rng", "step"} <= set(ck)
    rows = (tmp_path / "split" / "results.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].endswith(",seconds,data_wait_s") and rows[1].endswith(",nan")  # unknown for the old rows
    wait, secs = float(rows[4].split(",")[-1]), float(rows[4].split(",")[-2])
    assert 0 < wait < secs  # the loader runs in this process (workers 0 on CPU): part of each epoch is waiting for data
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "model", "convert", str(tmp_path / "split" / "last.pt"), str(tmp_path / "x.weights")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    tr, va = _data(tmp_path, 16, 4)
    t = Trainer(model=_net(), train=tr, val=va, config=_cfg(5), out=tmp_path / "run")
    t.fit(stop_after=3)  # 3 good epochs
    good = (tmp_path / "run" / "last.pt").read_bytes()
    t2 = Trainer(model=_net(), train=tr, val=va, config=_cfg(5), out=tmp_path / "run", resume=True)
    real = t2.loss

    def nan_loss(*a, **k):
        total, parts = real(*a, **k)
        return total * float("nan"), parts

    t2.loss = nan_loss
    with pytest.raises(YoloToolsError, match="loss became nan at epoch 4"):
        t2.fit()
    assert (tmp_path / "run" / "last.pt").read_bytes() == good


def test_train_cli_with_auto_anchors(tmp_path):
    from yolotools.convert import convert_voc

    s = generate_shapes(tmp_path / "d", n_train=16, n_val=4, image_hw=(128, 128), seed=1)
    for split in ("train", "val"):
        convert_voc([s.voc_root], tmp_path / "y", split=split)
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "train", "--data", str(tmp_path / "y" / "data.yaml"), "--model", "yolov3-tiny",
                        "--epochs", "1", "--img-size", "96", "--batch", "8", "--anchors", "auto", "--recipe", "darknet", "--out", str(tmp_path / "run"),
                        "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["epochs"] == 1 and len(j["anchors"]) == 6
    assert (tmp_path / "run" / "anchors.txt").exists() and (tmp_path / "run" / "best.pt").exists()


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_result(tmp_path):
    import os
    import signal
    import time

    from yolotools.convert import convert_voc

    s = generate_shapes(tmp_path / "d", n_train=24, n_val=4, image_hw=(96, 96), seed=2)
    for split in ("train", "val"):
        convert_voc([s.voc_root], tmp_path / "y", split=split)
    base = [sys.executable, "-m", "yolotools.cli", "train", "--data", str(tmp_path / "y" / "data.yaml"), "--model", "yolov3-tiny", "--epochs", "3",
            "--img-size", "96", "--batch", "8", "--nominal-batch", "8", "--recipe", "darknet"]
    p = subprocess.run(base + ["--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    proc = subprocess.Popen(base + ["--out", str(tmp_path / "b")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (tmp_path / "b" / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["epoch"]
    assert first < 2  # it really died before the end
    # the form: nothing but the run folder (network, data and schedule come from last.pt)
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "train", "--resume", str(tmp_path / "b"), "--lr", "0.5"], capture_output=True,
                       text=True, timeout=600)
    assert "resuming" in p.stderr and "lr (given values ignored)" in p.stderr  # the schedule is the run's own
    assert p.returncode == 0, p.stderr
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
