"""recipes/: every training config is accepted by `yolotools train --config` with
the values it states, and the reproduction scripts run and report success."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SHARED, need
from yolotools.cli import train

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("name", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_training_config_is_understood_by_train(name, tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("train: a.txt\nval: a.txt\nnames: [x]\n")
    doc = yaml.safe_load((RECIPES / name).read_text())
    ctx = train.make_context("train", ["--config", str(RECIPES / name), "--data", str(data)])
    p = ctx.params
    assert p["data"] == str(data)  # the command line wins over the file's data:
    key = {"model": "model_name", "cfg": "cfg_path", "compile": "compile_"}
    for k, v in doc.items():
        if k == "data":
            continue
        assert p[key.get(k, k.replace("-", "_"))] == v, k
    assert p["img_size"] in (128, 416, 608) and p["epochs"] >= 1


def test_voc_and_coco_recipes_are_the_issue_sizes():
    docs = {n: yaml.safe_load((RECIPES / n).read_text()) for n in ("voc416.yaml", "coco416.yaml", "coco608.yaml")}
    assert docs["voc416.yaml"]["img-size"] == 416 and docs["coco416.yaml"]["img-size"] == 416 and docs["coco608.yaml"]["img-size"] == 608
    assert len(docs["coco416.yaml"]["anchors"].split(",")) == 18  # 9 anchors


def test_eval_parity_script_reports_identical_numbers():
    need(SHARED / "cocoapi" / "results" / "instances_val2014_fakebbox100_results.json")
    pytest.importorskip("pycocotools")
    p = subprocess.run([sys.executable, str(RECIPES / "eval_parity_coco.py")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "largest difference from pycocotools: 0.00e+00; precision array identical: True" in p.stdout
