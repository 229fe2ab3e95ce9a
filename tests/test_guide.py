"""docs/GUIDE.md cannot rot: every ``$`` command in its console blocks runs, in
order, in a scratch folder, and every line shown under a command must appear in
what that command prints (spaces collapsed).  Without CUDA, ``--device cuda``
runs as ``--device cpu``."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "GUIDE.md"


def guide_steps(text: str) -> list[tuple[str, list[str]]]:
    """``[(command, expected output lines), ...]`` from the ```console blocks."""
    steps = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif line.strip() and steps:
                steps[-1][1].append(line)
    return steps


def _norm(s: str) -> str:
    return re.sub(r"[ \t]+", " ", s)


def test_guide_parser_sees_the_whole_workflow():
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    cmds = " ".join(c for c, _ in steps)
    for needed in ("convert voc", "convert coco", "audit", "kmeans", "augment", "train --config", "torchrun", "model convert", "detect",
                   "convert yolo", "eval --gt"):
        assert needed in cmds, needed
    assert all(out for _, out in steps), [c for c, out in steps if not out]  # every command shows what it prints


def test_every_guide_command_runs_and_prints_what_the_guide_shows(tmp_path):
    import torch

    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    for cmd, expected in guide_steps(GUIDE.read_text(encoding="utf-8")):
        if not torch.cuda.is_available():
            cmd = cmd.replace("--device cuda", "--device cpu")
        p = subprocess.run(shlex.split(cmd), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"{cmd}\n{p.stderr[-3000:]}"
        got = _norm(p.stdout + p.stderr)
        for line in expected:
            assert _norm(line.rstrip()) in got, f"{cmd}\nexpected line: {line!r}\ngot:\n{p.stdout}"
