"""The three security fixes of the hostile-input issue: names read from data
files never leave their dataset, YAML aliases cannot blow up, and no output may
replace an input.  Every case runs the CLI as a user does and checks: the
documented exit code, no traceback, the input files byte-identical, and nothing
outside the dataset copied or linked into --out."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import voc_object

EXE = [sys.executable, "-m", "yolotools.cli"]
SECRET = "root:x:0:0:secret-marker\n"


def run(*args, timeout=60):
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _png(path: Path, hw=(40, 50)):
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*hw, 3), 90, np.uint8)).save(path)


def _voc(tmp_path: Path, filenames: dict[str, str], listing: str | None = None) -> Path:
    """A VOC root whose XML files carry the given <filename>s; a secret file
    lives outside it."""
    (tmp_path / "secret.txt").write_text(SECRET)
    root = tmp_path / "ds" / "VOC2007"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for image_id, fn in filenames.items():
        (root / "Annotations" / f"{image_id}.xml").write_text(
            f"<annotation><filename>{fn}</filename><size><width>50</width><height>40</height><depth>3</depth></size>"
            + voc_object("dog", (2, 2, 20, 20)) + "</annotation>")
    _png(root / "JPEGImages" / "good.png")
    (root / "ImageSets" / "Main" / "trainval.txt").write_text(listing if listing is not None else "".join(f"{i}\n" for i in filenames))
    return root


def _no_escape(out: Path, allowed: Path):
    """Nothing in ``out`` holds the secret or links outside ``allowed``."""
    for p in out.rglob("*"):
        if p.is_symlink():
            target = os.path.realpath(p)
            assert target.startswith(str(allowed.resolve())), f"{p} -> {target}"
        elif p.is_file():
            assert "secret-marker" not in p.read_text(errors="replace"), p


@pytest.mark.parametrize("mode", ["copy", "link"])
@pytest.mark.parametrize("bad", ["SECRET_ABS", "../../../secret.txt", "/dev/zero", "sub/../../../secret.txt"])
def test_voc_filename_cannot_leave_the_dataset(tmp_path, mode, bad):
    fn = str(tmp_path / "secret.txt") if bad == "SECRET_ABS" else bad
    root = _voc(tmp_path, {"a": fn, "good": "good.png"})
    before = digest(tmp_path / "ds")
    out = tmp_path / "out"
    p = run("convert", "voc", root, "--out", out, "--images", mode, "--json", timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    rep = json.loads(p.stdout)
    assert rep["images"] == 1  # the good record converts
    bad_probs = [q for q in rep["problems"] if q["kind"] == "path_outside_dataset"]
    assert len(bad_probs) == 1 and bad_probs[0]["path"].endswith("a.xml") and "outside" in bad_probs[0]["message"]
    assert (out / "labels" / "good.txt").is_file() and not (out / "labels" / "a.txt").exists()
    assert digest(tmp_path / "ds") == before
    _no_escape(out, tmp_path / "ds")


def test_voc_symlinked_image_folder_that_leads_out_is_refused(tmp_path):
    root = _voc(tmp_path, {"a": "evil/secret.txt", "good": "good.png"})
    os.symlink(tmp_path, root / "JPEGImages" / "evil")
    p = run("convert", "voc", root, "--out", tmp_path / "out", "--images", "copy", "--json")
    rep = json.loads(p.stdout)
    assert [q["kind"] for q in rep["problems"]] == ["path_outside_dataset"] and "symlink" in rep["problems"][0]["message"]
    _no_escape(tmp_path / "out", tmp_path / "ds")


def test_voc_image_set_id_cannot_leave_annotations(tmp_path):
    root = _voc(tmp_path, {"good": "good.png"}, listing="good\n../../../secret\n")
    (tmp_path / "secret.xml").write_text("<annotation><filename>x.png</filename></annotation>")
    p = run("convert", "voc", root, "--out", tmp_path / "out", "--json")
    assert p.returncode == 0 and "Traceback" not in p.stderr
    rep = json.loads(p.stdout)
    assert rep["images"] == 1
    (bad,) = rep["problems"]
    assert bad["kind"] == "path_outside_dataset" and bad["path"].endswith("trainval.txt") and bad["where"] == "2"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../secret.txt", "a\u0000b.png", "C:/x.png"])
def test_coco_bad_file_name_skips_that_image_only(tmp_path, bad):
    (tmp_path / "secret.txt").write_text(SECRET)
    img = tmp_path / "ds" / "images"
    _png(img / "good.png")
    j = tmp_path / "ds" / "instances_train.json"
    j.write_text(json.dumps({
        "images": [{"id": 1, "file_name": bad, "width": 50, "height": 40}, {"id": 2, "file_name": "good.png", "width": 50, "height": 40}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "dog"}]}))
    p = run("convert", "coco", j, "--images", img, "--out", tmp_path / "out", "--link", "copy", "--json")
    assert p.returncode == 0 and "Traceback" not in p.stderr + p.stdout
    rep = json.loads(p.stdout)
    assert rep["images"] == 1 and rep["boxes_written"] == 1
    assert [q["where"] for q in rep["problems"] if q["kind"] == "path_outside_dataset"] == ["images[0]"]
    _no_escape(tmp_path / "out", tmp_path / "ds")


def _yolo(tmp_path: Path, list_lines: str, yaml_extra: str = "") -> Path:
    (tmp_path / "secret.txt").write_text(SECRET)
    ds = tmp_path / "ds"
    _png(ds / "images" / "good.png")
    (ds / "labels").mkdir(parents=True)
    (ds / "labels" / "good.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (ds / "train.txt").write_text(list_lines)
    y = ds / "data.yaml"
    y.write_text(f"path: .\ntrain: train.txt\nval: train.txt\nnames: [dog]\n{yaml_extra}")
    return y


def test_yolo_list_line_outside_the_dataset_is_an_error_for_that_line(tmp_path):
    y = _yolo(tmp_path, f"images/good.png\n../secret.txt\n{tmp_path / 'secret.txt'}\n")
    p = run("convert", "yolo", y, "--to", "coco", "--out", tmp_path / "o.json", "--json")
    assert p.returncode == 0 and "Traceback" not in p.stderr
    rep = json.loads(p.stdout)
    assert rep["images"] == 1
    assert [(q["kind"], q["where"]) for q in rep["problems"]] == [("path_outside_dataset", "2"), ("path_outside_dataset", "3")]
    assert "secret-marker" not in p.stdout


@pytest.mark.parametrize("entry", ["../secret.txt", "/etc"])
def test_yolo_split_entry_outside_the_dataset_is_refused(tmp_path, entry):
    y = _yolo(tmp_path, "images/good.png\n")
    y.write_text(f"path: .\ntrain: {entry}\nnames: [dog]\n")
    for cmd in (["convert", "yolo", y, "--to", "coco", "--out", tmp_path / "o.json"], ["kmeans", y, "-k", "1"], ["audit", y]):
        p = run(*cmd)
        assert p.returncode == 1, (cmd, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr and "outside" in p.stderr and str(y) in p.stderr


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + f"\nnames: *a{levels - 1}\npath: .\ntrain: images\n"


@pytest.mark.parametrize("cmd", [["audit"], ["kmeans", "-k", "2"], ["convert", "yolo", "--to", "coco", "--out", "OUTJSON"],
                                 ["augment", "--n", "1", "--out", "OUTDIR"]])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, cmd):
    y = _yolo(tmp_path, "images/good.png\n")
    y.write_text(_alias_bomb())
    args = [c.replace("OUTJSON", str(tmp_path / "o.json")).replace("OUTDIR", str(tmp_path / "aug")) for c in cmd]
    p = run(*args[:1], *([args[1]] if args[0] == "convert" else []), y, *args[2 if args[0] == "convert" else 1:], timeout=30)
    assert p.returncode == 1, p.stderr
    assert "alias" in p.stderr and str(y) in p.stderr
    assert len(p.stderr) < 2000 and "Traceback" not in p.stderr


@pytest.mark.parametrize("names,needle", [
    ("[[a, b], c]", "names[0] is a list"),
    ("{0: dog, 1: {x: 1}}", "names[1] is a dict"),
    ('["ca\\nt", dog]', "line break"),
])
def test_names_must_be_plain_strings(tmp_path, names, needle):
    y = _yolo(tmp_path, "images/good.png\n")
    y.write_text(f"path: .\ntrain: train.txt\nnames: {names}\n")
    p = run("kmeans", y, "-k", "1")
    assert p.returncode == 1 and needle in p.stderr and "Traceback" not in p.stderr


def test_config_yaml_aliases_refused(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("epochs: &e 3\nbatch: *e\n")
    p = run("train", "--config", cfg, "--data", tmp_path)
    assert p.returncode == 2 and "alias" in p.stderr and "Traceback" not in p.stderr


def test_output_over_input_is_refused(tmp_path):
    y = _yolo(tmp_path, "images/good.png\n")
    before = digest(tmp_path / "ds")
    cases = [
        ["convert", "yolo", y, "--to", "coco", "--out", y],
        ["convert", "yolo", y, "--to", "coco", "--out", y.parent / "train.txt"],
        ["augment", y, "--n", "1", "--out", tmp_path],
        ["kmeans", y, "-k", "1", "--plot", y],
        ["audit", y, "--html", y.parent / "train.txt"],
    ]
    for cmd in cases:
        p = run(*cmd)
        assert p.returncode != 0, cmd
        assert "Traceback" not in p.stderr and ("is an input" in p.stderr or "contains the input" in p.stderr), (cmd, p.stderr)
    (tmp_path / "v").mkdir()
    root = _voc(tmp_path / "v", {"good": "good.png"})
    p = run("convert", "voc", root, "--out", root.parent)
    assert p.returncode == 1 and "contains the input" in p.stderr
    j = tmp_path / "instances_x.json"
    j.write_text('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}]}')
    p = run("convert", "coco", j, "--out", tmp_path)
    assert p.returncode == 1 and "contains the input" in p.stderr
    assert digest(tmp_path / "ds") == before
