"""Benchmark: training throughput and where the time goes.

Measures, for one model/size/batch:
  loader    images/s of the data loader alone (decode + augmentation + collate)
  bare      images/s of forward + backward + optimiser step on random tensors
            already on the device (the peer: what the network alone allows)
  loss      milliseconds per step spent in YoloLoss (assignment + terms)
  trainer   images/s of Trainer.fit over real augmented batches (no evaluation)
and prints trainer/bare: the fraction of the network's own speed the whole
loop keeps.  On CUDA it also samples GPU utilisation (nvidia-smi) during the
trainer epoch.

    python bench/train.py                                  # CPU: yolov3-tiny 416, batch 16
    python bench/train.py --model yolov3 --batch 64 --device cuda --amp auto \\
        --channels-last --workers 12 --images 1024          # the issue's GPU figure
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="yolov3-tiny")
    ap.add_argument("--img-size", type=int, default=416)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--images", type=int, default=64, help="generated training images (one epoch)")
    ap.add_argument("--recipe", default="ultralytics")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="auto")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=5, help="steps for the bare and loss timings")
    ap.add_argument("--data", default=None, help="a data.yaml to use instead of generated shapes")
    args = ap.parse_args()

    import torch

    from yolotools.io import load_dataset
    from yolotools.model import load_network
    from yolotools.model.loss import YoloLoss
    from yolotools.train.data import YoloDataset, make_loader
    from yolotools.train.trainer import Trainer, TrainConfig

    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        if args.data:
            ds, _ = load_dataset(args.data, split="train")
        else:
            from yolotools.io.voc import read_voc
            from yolotools.synth import generate_shapes

            s = generate_shapes(tmp / "d", n_train=args.images, n_val=1, image_hw=(480, 640), seed=0, max_objects=8)
            ds = read_voc([s.voc_root], "train")[0]
        dev = torch.device(args.device)
        cuda = dev.type == "cuda"
        sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
        cfg = TrainConfig(epochs=1, img_size=args.img_size, batch=args.batch, nominal_batch=max(64, args.batch), recipe=args.recipe,
                          workers=args.workers, device=args.device, amp=args.amp, channels_last=args.channels_last, compile=args.compile,
                          plots=False, warmup_epochs=0)
        print(f"model {args.model}, {args.img_size}px, batch {args.batch}, {len(ds)} images, recipe {args.recipe}, "
              f"{args.workers} workers, device {args.device}, amp {args.amp}, channels_last {args.channels_last}, compile {args.compile}")

        # loader alone
        yd = YoloDataset(ds, recipe=args.recipe, img_size=args.img_size)
        loader = make_loader(yd, batch_size=args.batch, workers=args.workers, sampler=list(range(len(yd))))
        it = iter(loader)
        next(it)  # workers started, first batch
        t, n = time.perf_counter(), 0
        for x, _ in it:
            n += len(x)
        loader_ips = n / (time.perf_counter() - t) if n else float("nan")
        del it, loader

        # bare network: forward + backward + step on device tensors, and the loss alone
        torch.manual_seed(0)
        net = load_network(args.model, classes=len(ds.class_map), size=args.img_size).to(dev)
        tr = Trainer(model=net, train=ds, val=None, config=cfg, out=tmp / "run")
        x = torch.rand(args.batch, 3, args.img_size, args.img_size, device=dev)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        xb, tb = next(iter(make_loader(yd, batch_size=args.batch, sampler=list(range(min(args.batch, len(yd)))))))
        tb = tb.to(dev)
        loss_fn = YoloLoss(net.heads, box_loss=cfg.box_loss)
        opt = tr.opt

        def bare_step():
            with torch.autocast(dev.type, enabled=tr.amp_dtype is not None, dtype=tr.amp_dtype or torch.float32):
                out = tr.forward(x)
            sum(o.float().square().mean() for o in out).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        bare_step()
        sync()
        t = time.perf_counter()
        for _ in range(args.steps):
            bare_step()
        sync()
        bare_ips = args.steps * args.batch / (time.perf_counter() - t)
        with torch.no_grad():
            outs = [o.float() for o in tr.forward(x)]
        loss_fn(outs, tb, (args.img_size, args.img_size))
        sync()
        t = time.perf_counter()
        for _ in range(args.steps):
            loss_fn(outs, tb, (args.img_size, args.img_size))
        sync()
        loss_ms = 1000 * (time.perf_counter() - t) / args.steps

        # the whole loop (fresh trainer so the optimiser state is clean)
        torch.manual_seed(0)
        net = load_network(args.model, classes=len(ds.class_map), size=args.img_size)
        tr = Trainer(model=net, train=ds, val=None, config=cfg, out=tmp / "run2")
        util: list[float] = []
        stop = threading.Event()

        def sample_util():
            while not stop.is_set():
                try:
                    q = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", str(dev.index or 0)],
                                       capture_output=True, text=True, timeout=5)
                    util.append(float(q.stdout.strip().splitlines()[0]))
                except Exception:
                    return
                time.sleep(0.5)

        th = threading.Thread(target=sample_util, daemon=True)
        if cuda and shutil.which("nvidia-smi"):
            th.start()
        hist = tr.fit()
        stop.set()
        trainer_ips = hist[-1].images_per_s
        print(f"loader   {loader_ips:9.1f} img/s  (decode + {args.recipe} augmentation + collate, {args.workers} workers)")
        print(f"bare     {bare_ips:9.1f} img/s  (forward + backward + step on device tensors)")
        print(f"loss     {loss_ms:9.1f} ms/step ({loss_ms / (1000 * args.batch / bare_ips) * 100:.0f}% of a bare step)")
        print(f"trainer  {trainer_ips:9.1f} img/s  (one epoch of Trainer.fit, {len(ds)} images)")
        print(f"ratio trainer/bare = {trainer_ips / bare_ips:.2f}" + (f"; GPU utilisation mean {sum(util) / len(util):.0f}% ({len(util)} samples)" if util else ""))
        print(f"CPU time per step (tiny model, for the record): {1000 * args.batch / trainer_ips:.0f} ms" if not cuda else "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
