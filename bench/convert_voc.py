"""Benchmark: all 9,963 VOC2007 XML -> YOLO txt, ours vs panlabel and globox.

Each tool runs as a user runs it (a fresh process, start-up included), into a
fresh output folder, ``--rounds`` times interleaved; the median wall time is
reported with the ratio peer / ours (> 1 means we are faster).

    pip install panlabel globox        # the peers (PyPI)
    python bench/convert_voc.py [--voc ../shared/data/.../VOCdevkit/VOC2007] [--rounds 5] [--busy] [--tmp /dev/shm]

``--busy`` keeps one core busy (``yes > /dev/null``) during every round, as a
machine doing something else would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VOC = REPO.parent / "shared" / "data" / "voc2007_chenyicai-0611_yolov5-PASCAL-VOC" / "VOCdevkit" / "VOC2007"

GLOBOX = """
import sys, globox
from yolotools.annotations import VOC_CLASSES
ann = globox.AnnotationSet.from_pascal_voc(sys.argv[1] + "/Annotations")
ann.save_yolo_darknet(sys.argv[2], label_to_id={n: i for i, n in enumerate(VOC_CLASSES)})
"""


def tools(voc: Path) -> dict[str, callable]:
    py = sys.executable
    bindir = Path(py).parent
    yolotools = [str(bindir / "yolotools")] if (bindir / "yolotools").exists() else [py, "-m", "yolotools.cli"]
    out = {
        "yolotools": lambda o: yolotools + ["convert", "voc", str(voc), "--split", "all", "--out", str(o), "--images", "none", "-q"],
    }
    panlabel = shutil.which("panlabel") or (str(bindir / "panlabel") if (bindir / "panlabel").exists() else None)
    if panlabel:
        out["panlabel"] = lambda o: [panlabel, "convert", "-f", "voc", "-t", "yolo", "--allow-lossy", "-i", str(voc), "-o", str(o)]
    try:
        import globox  # noqa: F401

        out["globox"] = lambda o: [py, "-c", GLOBOX, str(voc), str(o)]
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voc", type=Path, default=DEFAULT_VOC)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--busy", action="store_true", help="a competing 'yes > /dev/null' during the rounds")
    ap.add_argument("--tmp", type=Path, default=None,
                    help="where the outputs go (default: .bench/ or the system's temp folder); /dev/shm takes the disk out")
    ap.add_argument("--record", action="store_true", help="keep this run's figures for the README row (bench/rows/)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from readme_table import byte_compile

    byte_compile()  # as an installed package runs (see there)
    if not (args.voc / "Annotations").is_dir():
        sys.exit(f"no VOC root at {args.voc}")
    ts = tools(args.voc)
    missing = {"panlabel", "globox"} - set(ts)
    if missing:
        print(f"peers not installed (pip install {' '.join(sorted(missing))}): {sorted(missing)}")
    times: dict[str, list[float]] = {k: [] for k in ts}
    hog = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if args.busy else None
    try:
        run_rounds(args, ts, times)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    ours = statistics.median(times["yolotools"])
    print(f"\nmedian wall time (start-up included), 9,963 XML -> YOLO txt{', one core busy (yes)' if args.busy else ''}"
          f"{f', outputs in {args.tmp}' if args.tmp else ''}")
    for name, ts_ in times.items():
        med = statistics.median(ts_)
        ratio = "" if name == "yolotools" else f"   ratio {name}/yolotools = {med / ours:.2f}"
        print(f"  {name:<10} {med:6.2f} s{ratio}")
    if args.record and "panlabel" in times:
        record(args, ours, statistics.median(times["panlabel"]))


def record(args, ours: float, panlabel: float) -> None:
    """This run's medians into bench/rows/convert_voc.json under its mode (quiet or busy, disk or
    tmpfs), and the README row made from every mode recorded."""
    import json

    sys.path.insert(0, str(REPO / "bench"))
    from readme_table import ROWS, record as record_row, today

    mode = ("busy" if args.busy else "quiet") + ("-tmpfs" if args.tmp and str(args.tmp).startswith("/dev/shm") else "-disk")
    path = ROWS / "convert_voc.json"
    runs = json.loads(path.read_text()) if path.is_file() else {}
    runs[mode] = {"date": today(), "rounds": args.rounds, "yolotools": round(ours, 3), "panlabel": round(panlabel, 3)}
    path.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")
    modes = [m for m in ("quiet-disk", "busy-disk", "quiet-tmpfs", "busy-tmpfs") if m in runs]
    ours_s = "; ".join(f"{m} {runs[m]['yolotools']:.2f} s" for m in modes)
    peer_s = "; ".join(f"{m} {runs[m]['panlabel']:.2f} s (ratio panlabel/ours {runs[m]['panlabel'] / runs[m]['yolotools']:.2f})"
                       for m in modes)
    dates = ", ".join(sorted({runs[m]["date"] for m in modes}))
    rounds = ", ".join(f"{m} {runs[m]['rounds']}" for m in modes)
    record_row("convert_voc", f"| `bench/convert_voc.py` 9,963 VOC XML -> YOLO, start-up included, medians ({dates}; busy: a "
                              f"competing `yes`; tmpfs: `--tmp /dev/shm`, which takes out this disk's 15x swings in file "
                              f"creation; rounds: {rounds}) | {ours_s} | "
                              f"panlabel {peer_s} |")


def run_rounds(args, ts, times) -> None:
    where = args.tmp or (REPO / ".bench" if (REPO / ".bench").is_dir() else None)
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        for r in range(args.rounds):
            for name, cmd in ts.items():
                out = Path(tmp) / f"{name}{r}"
                os.sync()  # the previous run's files flushed first: each tool starts from a quiet disk
                t = time.perf_counter()
                p = subprocess.run(cmd(out), capture_output=True, text=True)
                dt = time.perf_counter() - t
                if p.returncode != 0:
                    sys.exit(f"{name} failed: {p.stderr[-2000:]}")
                n = sum(1 for _ in out.rglob("*.txt"))
                times[name].append(dt)
                print(f"round {r}: {name:<10} {dt:6.2f} s  ({n} txt files)", flush=True)


if __name__ == "__main__":
    main()
