"""Benchmark: YOLOv3-416 forward latency at batch 1 on CPU, NMS time per image,
and, when CUDA is present, batch-64 FP16/BF16 throughput with channels_last and
torch.compile.  The peer is the same network in eager float32 (the ratio shows
what each option buys).

    python bench/model_forward.py [--model yolov3] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from yolotools.model.decode import decode, postprocess
from yolotools.model.zoo import build_model


def timeit(fn, reps: int, warmup: int = 1, sync=lambda: None) -> float:
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="yolov3")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--size", type=int, default=416)
    args = ap.parse_args()
    torch.manual_seed(0)
    net = build_model(args.model).eval()
    x = torch.rand(1, 3, args.size, args.size)
    with torch.inference_mode():
        t_cpu = timeit(lambda: net(x), args.reps)
        net_cl = net.to(memory_format=torch.channels_last)
        t_cl = timeit(lambda: net_cl(x.to(memory_format=torch.channels_last)), args.reps)
        raw = net(x)
        pred = decode(raw, net.heads, (args.size, args.size))
        # a trained-network-like load: peaked objectness and class scores
        pred[..., 4] = torch.rand(pred.shape[:2]) ** 12
        pred[..., 5:] = torch.rand(pred.shape[0], pred.shape[1], pred.shape[2] - 5) ** 12
        n001 = int((pred[..., 4:5] * pred[..., 5:] >= 0.001).sum())
        t_nms = timeit(lambda: postprocess(pred, conf_thres=0.001, iou_thres=0.45), args.reps)
        t_nms25 = timeit(lambda: postprocess(pred, conf_thres=0.25, iou_thres=0.45), args.reps)
    print(f"{args.model}-{args.size}, CPU ({torch.get_num_threads()} threads), batch 1")
    print(f"  forward eager fp32            {t_cpu * 1000:8.1f} ms")
    print(f"  forward channels_last fp32    {t_cl * 1000:8.1f} ms   ratio eager/channels_last = {t_cpu / t_cl:.2f}")
    print(f"  NMS conf 0.001 (eval, {n001} candidates) {t_nms * 1000:8.1f} ms/image")
    print(f"  NMS conf 0.25 (detect)        {t_nms25 * 1000:8.1f} ms/image")
    if not torch.cuda.is_available():
        print("CUDA: not available here (GPU figures need a GPU machine)")
        return
    dev = torch.device("cuda")
    net = build_model(args.model).eval().to(dev)
    xb = torch.rand(64, 3, args.size, args.size, device=dev)
    sync = torch.cuda.synchronize
    with torch.inference_mode():
        t32 = timeit(lambda: net(xb), args.reps, 3, sync)
        res = {"fp32 eager": t32}
        for dt in (torch.float16, torch.bfloat16):
            netc = build_model(args.model).eval().to(dev).to(memory_format=torch.channels_last)
            xc = xb.to(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=dt):
                res[f"{dt} channels_last"] = timeit(lambda: netc(xc), args.reps, 3, sync)
                comp = torch.compile(netc)
                res[f"{dt} channels_last compiled"] = timeit(lambda: comp(xc), args.reps, 3, sync)
    print(f"GPU {torch.cuda.get_device_name()}, batch 64")
    for k, t in res.items():
        print(f"  {k:<36} {64 / t:8.0f} images/s   ratio vs fp32 eager = {t32 / t:.2f}")


if __name__ == "__main__":
    main()
