"""Benchmark: reading and writing each labelling-tool format on all 9,963 VOC2007
images, ours vs panlabel, in the same run.

- read:  FORMAT file (written by panlabel from VOC2007) -> YOLO txt
         (`yolotools convert FORMAT` vs `panlabel convert -f FORMAT -t yolo`);
- write: a converted dataset -> FORMAT: ours from the YOLO dataset and its sidecar
         (`yolotools convert yolo --to FORMAT`), panlabel from the VOC XML
         (`panlabel convert -f voc -t FORMAT`: its YOLO reader refuses our dataset,
         "multiple images map to basename", so its fastest source is used).

Each tool runs as a user runs it (a fresh process, start-up included; our
package byte-compiled first, as pip installs it); VOC2007
here has no JPEGs, so image headers of the right sizes stand in for them
(both tools size images from headers).  Median of ``--rounds``, interleaved;
the ratio is ours / panlabel (<= 1.5 is the goal, < 1 means we are faster).

    pip install panlabel
    python bench/formats.py [--voc .../VOCdevkit/VOC2007] [--rounds 3] [--formats cvat,tfod] [--tmp /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VOC = REPO.parent / "shared" / "data" / "voc2007_chenyicai-0611_yolov5-PASCAL-VOC" / "VOCdevkit" / "VOC2007"
FORMATS = ["cvat", "labelstudio", "labelme", "openimages", "createml", "kitti", "tfod", "via"]
PANLABEL = {"labelstudio": "label-studio", "createml": "create-ml"}
SUFFIX = {"cvat": ".xml", "labelstudio": ".json", "openimages": ".csv", "createml": ".json", "tfod": ".csv", "via": ".json"}


def _png(h, w) -> bytes:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def run(cmd, quiet=True) -> float:
    os.sync()  # start from a quiet disk: the other tool's files are flushed first
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voc", type=Path, default=DEFAULT_VOC)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--tmp", type=Path, default=None, help="where the files go (/dev/shm takes the disk's swings out)")
    ap.add_argument("--record", action="store_true", help="write this run's README row (bench/rows/formats.md)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from readme_table import byte_compile

    byte_compile()  # as an installed package runs (see there)
    bindir = Path(sys.executable).parent
    ours = [str(bindir / "yolotools")] if (bindir / "yolotools").exists() else [sys.executable, "-m", "yolotools.cli"]
    pl = shutil.which("panlabel") or (str(bindir / "panlabel") if (bindir / "panlabel").exists() else None)
    if pl is None:
        sys.exit("panlabel not installed (pip install panlabel)")
    sys.path.insert(0, str(REPO))
    from yolotools.io.voc import read_voc

    raw, _ = read_voc([args.voc], "all", convention="raw")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        imgs = tmp / "images"
        imgs.mkdir()
        for r in raw:
            (imgs / f"{r.image_id}.jpg").write_bytes(_png(*r.image_hw))
        # the YOLO dataset both tools write from: ours from the VOC XML, images = the stand-in headers
        run(ours + ["convert", "voc", str(args.voc), "--split", "all", "--out", str(tmp / "yolo"), "--image-mode", "none", "-q"])
        os.rmdir(tmp / "yolo" / "images") if (tmp / "yolo" / "images").is_dir() else None
        os.symlink(imgs, tmp / "yolo" / "images")
        rows = []
        for fmt in args.formats.split(","):
            pf = PANLABEL.get(fmt, fmt)
            src = tmp / f"src_{fmt}{SUFFIX.get(fmt, '')}"
            run([pl, "convert", "-f", "voc", "-t", pf, "-i", str(args.voc), "-o", str(src), "--allow-lossy"])
            if fmt == "kitti":
                shutil.rmtree(src / "image_2")
                os.symlink(imgs, src / "image_2")
            rsrc = src / "annotations" if fmt == "labelme" else src
            if fmt == "labelme":
                shutil.rmtree(src / "images")
                os.symlink(imgs, src / "images")
            t = {"read ours": [], "read panlabel": [], "write ours": [], "write panlabel": []}
            for k in range(args.rounds):
                o = tmp / f"r{fmt}{k}"
                w = tmp / f"w{fmt}{k}"
                w.mkdir()
                jobs = {
                    "read ours": ours + ["convert", fmt, str(rsrc), "--images", str(imgs), "--out", str(o / "a"), "--image-mode", "none", "-q"],
                    "read panlabel": [pl, "convert", "-f", pf, "-t", "yolo", "-i", str(src), "-o", str(o / "b"), "--allow-lossy"],
                    "write ours": ours + ["convert", "yolo", str(tmp / "yolo" / "data.yaml"), "--split", "train", "--to", fmt,
                                          "--out", str(w / f"a{SUFFIX.get(fmt, '')}"), "-q"],
                    "write panlabel": [pl, "convert", "-f", "voc", "-t", pf, "-i", str(args.voc), "-o", str(w / f"b{SUFFIX.get(fmt, '')}"),
                                       "--allow-lossy"],
                }
                names = list(jobs) if k % 2 == 0 else [n for pair in (("read panlabel", "read ours"), ("write panlabel", "write ours")) for n in pair]
                for n in names:  # order alternates between rounds
                    t[n].append(run(jobs[n]))
            # on disk nothing is deleted until the whole run ends: deleting ~100k files on this disk (mounted with
            # discard) slowed every tool's runs for the next format by up to 1 s; on tmpfs (--tmp) each format's
            # outputs go at once: left there, the last formats ran ~25% slower (VIA's read: 0.47 s vs 0.36 s alone)
            if args.tmp is not None:
                for k in range(args.rounds):
                    shutil.rmtree(tmp / f"r{fmt}{k}", ignore_errors=True)
                    shutil.rmtree(tmp / f"w{fmt}{k}", ignore_errors=True)
            med = {k: statistics.median(v) for k, v in t.items()}
            rows.append((fmt, med))
            print(f"{fmt:<12} read {med['read ours']:.2f} s vs {med['read panlabel']:.2f} s (ratio {med['read ours'] / med['read panlabel']:.2f})"
                  f"   write {med['write ours']:.2f} s vs {med['write panlabel']:.2f} s (ratio {med['write ours'] / med['write panlabel']:.2f})",
                  flush=True)
    if args.record:
        sys.path.insert(0, str(REPO / "bench"))
        from readme_table import record, today

        def figs(kind):
            return ", ".join(f"{f} {m[kind + ' ours']:.2f}" for f, m in rows)

        ratios = {k: [m[f"{k} ours"] / m[f"{k} panlabel"] for _, m in rows] for k in ("read", "write")}
        peer = {k: [m[f"{k} panlabel"] for _, m in rows] for k in ("read", "write")}
        where = "tmpfs (`--tmp /dev/shm`)" if args.tmp and str(args.tmp).startswith("/dev/shm") else "this disk"
        record("formats", f"| `bench/formats.py` 9,963 VOC2007 images, read FORMAT -> YOLO / write -> FORMAT, start-up included "
                          f"({today()}, files on {where}, {args.rounds} rounds, medians) | read: {figs('read')} s; write: "
                          f"{figs('write')} s | panlabel read {min(peer['read']):.2f}-{max(peer['read']):.2f} s (ratios ours/panlabel "
                          f"{min(ratios['read']):.2f}-{max(ratios['read']):.2f}), write {min(peer['write']):.2f}-{max(peer['write']):.2f} s "
                          f"(ratios {min(ratios['write']):.2f}-{max(ratios['write']):.2f}); goal <= 1.5 |")
    print("\n| format | read: ours | panlabel | ratio | write: ours | panlabel | ratio |\n|---|---|---|---|---|---|---|")
    for fmt, m in rows:
        print(f"| {fmt} | {m['read ours']:.2f} s | {m['read panlabel']:.2f} s | {m['read ours'] / m['read panlabel']:.2f} | "
              f"{m['write ours']:.2f} s | {m['write panlabel']:.2f} s | {m['write ours'] / m['write panlabel']:.2f} |")


if __name__ == "__main__":
    main()
