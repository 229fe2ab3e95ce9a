"""The CLI forms the issues name, run as a user runs them (subprocess)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import voc_object, write_voc_xml

EXE = [sys.executable, "-m", "yolotools.cli"]


def run(*args, ok=True):
    p = subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


def _root(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2007"
    write_voc_xml(root, "000001", voc_object("dog", (10, 20, 110, 220), difficult=1) + voc_object("cat", (1, 1, 600, 375)))
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("000001\n")
    return root


def test_convert_voc_form_and_summary(tmp_path):
    root = _root(tmp_path)
    out = tmp_path / "out"
    p = run("convert", "voc", root, "--split", "trainval", "--out", out, "--convention", "darknet", "--skip-difficult")
    for expected in ("images           1", "boxes written    1", "1 difficult", "boxes clipped    1", "000001.xml:object 1: 'cat' box (1.0, 1.0, 600.0, 375.0) extends outside the 500x375 image; clipped"):
        assert expected in p.stdout
    for f in ("labels/000001.txt", "trainval.txt", "data.yaml", "classes.names"):
        assert (out / f).is_file(), f
    j = json.loads(run("convert", "voc", root, "--split", "trainval", "--out", out, "--json").stdout)
    assert j["boxes_written"] == 2 and j["boxes_clipped"] == 1 and j["problems"][0]["where"] == "object 1"


def test_strict_fails_with_one_line_and_no_traceback(tmp_path):
    root = _root(tmp_path)
    p = run("convert", "voc", root, "--split", "trainval", "--out", tmp_path / "o", "--strict", "--classes", "dog", ok=False)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert "000001.xml:object 1: unknown class 'cat'" in p.stderr


@pytest.mark.parametrize(
    "content,needle",
    [('{"images": [', "malformed JSON at line 1"), ('{"images": [], "annotations": []}', "'categories' missing")],
)
def test_bad_coco_json_is_a_clear_error(tmp_path, content, needle):
    f = tmp_path / "instances_x.json"
    f.write_text(content)
    p = run("convert", "coco", f, "--out", tmp_path / "o", ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert str(f) in p.stderr and needle in p.stderr


def test_convert_coco_and_back(tmp_path):
    f = tmp_path / "instances_val.json"
    f.write_text(json.dumps({
        "images": [{"id": 5, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 3, "name": "x"}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 3, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0}],
    }))
    out = tmp_path / "o"
    run("convert", "coco", f, "--out", out)
    assert (out / "labels" / "a.txt").read_text() == "0 0.200000 0.400000 0.200000 0.400000\n"
    j = json.loads(run("convert", "yolo", out / "data.yaml", "--to", "coco", "--out", tmp_path / "b.json", "--json").stdout)
    assert (j["images"], j["annotations"]) == (1, 1)
    back = json.loads((tmp_path / "b.json").read_text())
    assert back["images"][0]["id"] == 5 and back["annotations"][0]["category_id"] == 3
    assert back["annotations"][0]["bbox"] == pytest.approx([10.0, 10.0, 20.0, 20.0], abs=1e-9)


def test_help_states_pixel_conventions():
    p = run("convert", "voc", "--help")
    assert "1-based inclusive" in p.stdout and "darknet" in p.stdout


@pytest.mark.parametrize("cmd", [["convert", "voc", "--help"], ["convert", "coco", "--help"], ["convert", "yolo", "--help"]])
def test_light_commands_do_not_import_torch_or_albumentations(cmd):
    code = (
        "import sys, runpy; sys.argv=['yolotools', *%r]\n"
        "try:\n    runpy.run_module('yolotools.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy=[m for m in ('torch','albumentations','pandas','matplotlib','sklearn','pycocotools') if m in sys.modules]\n"
        "print('HEAVY', heavy)" % (cmd,)
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in p.stdout, p.stdout + p.stderr


def test_convert_run_imports_no_heavy_modules(tmp_path):
    root = _root(tmp_path)
    code = (
        "import sys\nfrom yolotools.convert import convert_voc\n"
        f"convert_voc([{str(root)!r}], {str(tmp_path / 'o')!r}, split='trainval')\n"
        "print('HEAVY', [m for m in ('torch','albumentations','pandas','matplotlib','sklearn') if m in sys.modules])"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in p.stdout, p.stdout + p.stderr


def test_audit_against_a_set_with_only_another_split_and_spellings(tmp_path):
    """`audit A --split train --against B` where B holds only `test`: B's own split, said on
    stderr; `--image-mode` and the older `--images` spelling both convert VOC."""
    root = _root(tmp_path)
    (root / "ImageSets" / "Main" / "test.txt").write_text("000001\n")
    run("convert", "voc", root, "--split", "trainval", "--out", tmp_path / "a", "--image-mode", "none")
    run("convert", "voc", root, "--split", "test", "--out", tmp_path / "b", "--images", "none")
    b = (tmp_path / "b" / "data.yaml").read_text()
    assert "test: test.txt" in b
    p = run("audit", tmp_path / "a" / "data.yaml", "--split", "train", "--against", tmp_path / "b" / "data.yaml", "--json")
    assert "no 'train' split" in p.stderr and "--split-b" in p.stderr
    assert "drift" in json.loads(p.stdout)


def test_shapes_options_are_checked(tmp_path):
    p = run("shapes", tmp_path / "s", "--object-size", "30,10", ok=False)
    assert p.returncode == 2 and "--object-size" in p.stderr and "Traceback" not in p.stderr
    run("shapes", tmp_path / "s", "--train", "3", "--val", "1", "--max-objects", "9", "--object-size", "6,20", "--json")
    from yolotools.io.voc import read_voc

    ds, _ = read_voc([tmp_path / "s" / "VOCdevkit" / "VOC2026"], "train")
    sides = np.concatenate([r.annotations.boxes.wh for r in ds.records])
    assert len(ds) == 3 and sides.max() <= 20 and sides.min() >= 1
