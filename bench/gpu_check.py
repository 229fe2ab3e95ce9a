"""One GPU check that fits in a few minutes and prints one table (see
``bench/gpu_check.sh``, which runs it): the GPU tests, training throughput of
YOLOv3 and YOLOv3-tiny with the full ``ultralytics`` augmentation (images/s and
the share of each epoch spent waiting for data), forward-only inference
images/s at batch 1 and 32, and, with 2+ GPUs, DDP scaling.

    python bench/gpu_check.py                      # on a GPU machine: 416 px, batch 64, bf16, channels_last, all workers
    python bench/gpu_check.py --device cpu --img-size 64 --batch 8 --images 16 --steps 2   # proves it runs, anywhere

Training rows: one epoch of ``Trainer.fit`` on generated 640x480 shapes images
(``--images``), evaluation off; the first epoch's first steps (cuDNN autotune,
worker start-up) are included, so this is a floor. ``data wait`` is the
trainer's own ``data_wait_s`` (results.csv) over the epoch time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DDP = r"""
import json, sys, torch
from yolotools.io.voc import read_voc
from yolotools.model import load_network
from yolotools.train.trainer import Trainer, TrainConfig
voc, out, model, size, batch, amp = sys.argv[1:7]
ds = read_voc([voc], "train")[0]
cfg = TrainConfig(epochs=1, img_size=int(size), batch=int(batch), nominal_batch=int(batch), recipe="ultralytics", workers=-1,
                  device="cuda", amp=amp, channels_last=True, plots=False, warmup_epochs=0, eval_every=1000)
torch.manual_seed(0)
t = Trainer(model=load_network(model, classes=len(ds.class_map), size=int(size)), train=ds, val=None, config=cfg, out=out)
h = t.fit()
if t.main:
    print(json.dumps({"images_per_s": h[-1].images_per_s, "data_wait": h[-1].data_wait_s / h[-1].seconds}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--img-size", type=int, default=416)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=512, help="generated training images (one epoch)")
    ap.add_argument("--amp", default="bf16")
    ap.add_argument("--steps", type=int, default=20, help="timed forward passes per inference row")
    ap.add_argument("--models", default="yolov3,yolov3-tiny")
    ap.add_argument("--no-tests", action="store_true", help="skip tests/train/test_gpu.py")
    args = ap.parse_args()

    import torch

    from yolotools.io.voc import read_voc
    from yolotools.model import load_network
    from yolotools.synth import generate_shapes
    from yolotools.train.trainer import Trainer, TrainConfig

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("no CUDA GPU here: run with --device cpu (and small sizes) to check that the script runs")
    dev = torch.device(args.device)
    amp = args.amp if cuda else "off"
    rows: list[tuple[str, str]] = []
    gpu = torch.cuda.get_device_name(dev) if cuda else f"CPU ({os.cpu_count()} cores)"
    n_gpu = torch.cuda.device_count() if cuda else 0

    if not args.no_tests:
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", str(REPO / "tests" / "train" / "test_gpu.py")], capture_output=True, text=True,
                           cwd=REPO)
        rows.append(("tests/train/test_gpu.py", (p.stdout.strip().splitlines() or ["?"])[-1]))

    tmp = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    s = generate_shapes(tmp / "d", n_train=args.images, n_val=1, image_hw=(480, 640), seed=0, max_objects=8)
    ds = read_voc([s.voc_root], "train")[0]
    for model in args.models.split(","):
        cfg = TrainConfig(epochs=1, img_size=args.img_size, batch=args.batch, nominal_batch=args.batch, recipe="ultralytics", workers=-1,
                          device=args.device, amp=amp, channels_last=cuda, plots=False, warmup_epochs=0, eval_every=1000)
        torch.manual_seed(0)
        t = Trainer(model=load_network(model, classes=len(ds.class_map), size=args.img_size), train=ds, val=None, config=cfg, out=tmp / f"run_{model}")
        h = t.fit()[-1]
        rows.append((f"train {model}-{args.img_size} batch {args.batch} {amp} {t.cfg.workers} workers, ultralytics aug, no image cache (not built yet)",
                     f"{h.images_per_s:.0f} images/s, data wait {h.data_wait_s / h.seconds:.0%}"))
        net = load_network(model, classes=80, size=args.img_size).eval().to(dev)
        if cuda:
            net = net.to(memory_format=torch.channels_last)
        for b in (1, 32):
            x = torch.rand(b, 3, args.img_size, args.img_size, device=dev)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast(dev.type, enabled=cuda, dtype=torch.bfloat16 if amp == "bf16" else torch.float16):
                for _ in range(2):
                    net(x)
                if cuda:
                    torch.cuda.synchronize(dev)
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    net(x)
                if cuda:
                    torch.cuda.synchronize(dev)
                dt = time.perf_counter() - t0
            rows.append((f"forward {model}-{args.img_size} batch {b}", f"{b * args.steps / dt:.0f} images/s"))

    if n_gpu >= 2:
        script = tmp / "ddp.py"
        script.write_text(DDP)
        one = None
        for n in (1, n_gpu):
            p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n), str(script),
                                str(s.voc_root), str(tmp / f"ddp{n}"), "yolov3", str(args.img_size), str(args.batch), amp],
                               capture_output=True, text=True, cwd=REPO)
            if p.returncode != 0:
                rows.append((f"DDP {n} GPUs", "failed: " + (p.stderr.strip().splitlines() or ["?"])[-1]))
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            one = r["images_per_s"] if n == 1 else one
            scaling = f", {r['images_per_s'] / one:.2f}x one GPU" if n > 1 and one else ""
            rows.append((f"DDP yolov3-{args.img_size} {n} GPU(s), batch {args.batch} each", f"{r['images_per_s']:.0f} images/s, "
                         f"data wait {r['data_wait']:.0%}{scaling}"))
    else:
        rows.append(("DDP scaling", f"{n_gpu} GPU here: needs 2+"))

    print(f"yolotools GPU check, {time.strftime('%Y-%m-%d')}, {gpu}, torch {torch.__version__}")
    print("| check | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
