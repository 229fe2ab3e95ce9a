"""GPU paths of the trainer (skipped without CUDA; CI has none): AMP in bf16 and
fp16 with channels_last and multi-scale trains to finite losses, learns, and
its checkpoint loads and predicts on the CPU."""

import math

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_training_on_cuda_learns_and_checkpoint_loads_on_cpu(tmp_path, amp):
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bf16 on this GPU")
    from yolotools.io.voc import read_voc
    from yolotools.model import load_checkpoint
    from yolotools.model.zoo import build_model
    from yolotools.synth import generate_shapes
    from yolotools.train.trainer import Trainer, TrainConfig, evaluate_model

    s = generate_shapes(tmp_path / "d", n_train=64, n_val=16, image_hw=(128, 128), seed=0)
    tr, va = read_voc([s.voc_root], "train")[0], read_voc([s.voc_root], "val")[0]
    torch.manual_seed(0)
    net = build_model("shapes-tiny", classes=3, size=128)
    cfg = TrainConfig(epochs=60, img_size=128, batch=16, nominal_batch=16, optimizer="adamw", lr=0.01, momentum=0.9, ema_decay=0.98, ema_tau=20,
                      warmup_epochs=1, recipe="letterbox", device="cuda", amp=amp, channels_last=True, multi_scale=True, eval_every=20)
    t = Trainer(model=net, train=tr, val=va, config=cfg, out=tmp_path / "run")
    assert t.amp_dtype == (torch.bfloat16 if amp == "bf16" else torch.float16)
    hist = t.fit()
    assert all(math.isfinite(h.box + h.obj + h.cls) for h in hist)
    assert hist[-1].map50 >= 0.3, hist[-1].map50
    cpu_net, ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert evaluate_model(cpu_net, va, 128).stats["AP50"] >= 0.3
