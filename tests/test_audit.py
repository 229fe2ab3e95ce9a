"""`yolotools audit` on real data: no false drift alarm, injected drift and
label faults found exactly, input files untouched."""

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import COCO128_YOLO, VOC2007, need
from yolotools.annotations import Annotations, DetectionDataset
from yolotools.audit import diff, drift, validate
from yolotools.boxes import Boxes


@pytest.fixture(scope="module")
def voc_splits():
    from yolotools.io.voc import read_voc

    root = need(VOC2007)
    return read_voc([root], "trainval")[0], read_voc([root], "test")[0]


def test_same_distribution_splits_raise_no_drift(voc_splits):
    a, b = voc_splits
    d = drift(a, b)
    assert d.flagged == []
    assert not d.paired
    assert d.anchor_fit["avg_iou_b"] > 0.6


def test_injected_drift_is_flagged_on_exactly_those_properties_and_classes(voc_splits):
    a, _ = voc_splits
    P, C, B = (a.class_map.index(n) for n in ("person", "car", "bus"))
    rng = np.random.default_rng(0)
    recs, n_relabel = [], 0
    for r in a.records:
        an = r.annotations
        x, c = an.boxes.xyxy.copy(), an.class_ids.copy()
        m = c == P
        cxy, wh = (x[m, :2] + x[m, 2:]) / 2, (x[m, 2:] - x[m, :2]) * 0.8  # person boxes shrunk by 20%
        x[m] = np.concatenate([cxy - wh / 2, cxy + wh / 2], 1)
        cars = np.flatnonzero(c == C)
        pick = cars[rng.random(len(cars)) < 0.15]  # 15% of cars relabelled as bus
        c[pick] = B
        n_relabel += len(pick)
        recs.append(r.with_annotations(Annotations(Boxes(x, r.image_hw), c, is_difficult=an.is_difficult)))
    b = DetectionDataset(a.class_map, tuple(recs))
    d = drift(a, b)
    assert d.paired
    per_class = {f.split(":")[0] for f in d.flagged if ":" in f and not f.startswith("class:")}
    assert per_class <= {"person", "bus"}  # bus boxes now include car-sized ones: a real consequence of the relabelling
    assert {p for p, v in d.per_class["person"].items() if v["flag"]} == {"area", "width", "height"}
    assert {f for f in d.flagged if f.startswith("class:")} == {"class:car", "class:bus"}
    rep = diff(a, b)
    n_person = int(sum((r.annotations.class_ids == P).sum() for r in a.records))
    assert rep.moved == {"person": n_person}
    assert rep.class_changed == {"car->bus": n_relabel}
    assert rep.added == {} and rep.removed == {}


def _hashes(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_each_injected_fault_is_reported_with_file_and_line_and_nothing_else(tmp_path):
    src = need(COCO128_YOLO)
    root = tmp_path / "coco128"
    shutil.copytree(src, root)
    yaml_path = root / "config.yaml"
    base = {(f.kind, f.file.replace(str(root), ""), f.where) for f in validate(yaml_path, split="train")[0].findings}
    lab = root / "labels" / "train2017"
    img = root / "images" / "train2017"

    def add_line(name, line):
        p = lab / name
        text = p.read_text()
        if text and not text.endswith("\n"):
            text += "\n"
        p.write_text(text + line + "\n")
        return len(text.splitlines()) + 1

    expected = set()
    f = "000000000009.txt"
    expected.add(("bad_columns", f"/labels/train2017/{f}", str(add_line(f, "45 0.5 0.5 0.2"))))
    expected.add(("not_numeric", f"/labels/train2017/{f}", str(add_line(f, "45 0.5 abc 0.2 0.2"))))
    expected.add(("bad_class", f"/labels/train2017/{f}", str(add_line(f, "80 0.5 0.5 0.2 0.2"))))
    expected.add(("empty_box", f"/labels/train2017/{f}", str(add_line(f, "45 0.5 0.5 0 0.2"))))
    expected.add(("box_clipped", f"/labels/train2017/{f}", str(add_line(f, "45 0.95 0.5 0.2 0.2"))))
    expected.add(("box_outside_image", f"/labels/train2017/{f}", str(add_line(f, "45 1.5 0.5 0.2 0.2"))))
    g = "000000000025.txt"
    first = (lab / g).read_text().splitlines()[0]
    expected.add(("duplicate_box", f"/labels/train2017/{g}", str(add_line(g, first))))
    c, cx, cy, w, h = first.split()
    expected.add(("near_duplicate_box", f"/labels/train2017/{g}", str(add_line(g, f"{c} {float(cx) + 0.001:.6f} {cy} {w} {h}"))))
    t = "000000000030.txt"
    expected.add(("tiny_box", f"/labels/train2017/{t}", str(add_line(t, "58 0.5 0.5 0.002 0.002"))))
    expected.add(("extreme_aspect", f"/labels/train2017/{t}", str(add_line(t, "58 0.5 0.5 0.9 0.02"))))
    (lab / "000000000034.txt").unlink()
    expected.add(("missing_label", "/images/train2017/000000000034.jpg", ""))
    (lab / "999999999999.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    expected.add(("orphan_label", "/labels/train2017/999999999999.txt", ""))
    data = (img / "000000000036.jpg").read_bytes()
    (img / "000000000036.jpg").write_bytes(data[: len(data) // 2])
    expected.add(("truncated_image", "/images/train2017/000000000036.jpg", ""))
    (img / "000000000042.jpg").write_bytes(b"this is not an image")
    expected.add(("unreadable_image", "/images/train2017/000000000042.jpg", ""))
    from PIL import Image

    im = Image.open(img / "000000000049.jpg")
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(img / "000000000049.jpg", exif=exif)
    expected.add(("exif_rotation", "/images/train2017/000000000049.jpg", ""))

    before = _hashes(root)
    rep, _ = validate(yaml_path, split="train")
    after = _hashes(root)
    assert before == after  # nothing modified
    got = {(f.kind, f.file.replace(str(root), ""), f.where) for f in rep.findings}
    new = got - base
    # the unreadable image also hides its own label file's boxes; its tiny-box/few-sample effects are not faults we injected
    new = {x for x in new if x[0] not in ("few_samples",)}
    assert new == expected
    # removed findings: only those the faults made impossible (boxes of the now-unreadable image)
    assert all(k in ("tiny_box", "few_samples", "missing_label") for k, _, _ in base - got)


def test_cli_strict_json_and_html(tmp_path):
    need(COCO128_YOLO)
    exe = [sys.executable, "-m", "yolotools.cli", "audit", str(COCO128_YOLO / "config.yaml"), "--split", "train"]
    p = subprocess.run(exe + ["--json", "--html", str(tmp_path / "r.html")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["validation"]["images"] == 128 and j["validation"]["errors"] == 0
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!doctype html>") and "data:image/png;base64," in html
    root = tmp_path / "c"
    shutil.copytree(COCO128_YOLO / "labels", root / "labels")
    (root / "images").symlink_to(COCO128_YOLO / "images")
    shutil.copy(COCO128_YOLO / "config.yaml", root / "config.yaml")
    (root / "labels" / "train2017" / "000000000009.txt").write_text("99 0.5 0.5 0.1 0.1\n")
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "audit", str(root / "config.yaml"), "--split", "train", "--strict"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "bad_class" in p.stdout


def test_drift_cli_between_splits_with_html(tmp_path):
    from yolotools.synth import generate_shapes

    s = generate_shapes(tmp_path / "d", n_train=60, n_val=60, seed=1)
    p = subprocess.run([sys.executable, "-m", "yolotools.cli", "audit", str(s.voc_root), "--split", "train", "--against", str(s.voc_root),
                        "--split-b", "val", "--json", "--html", str(tmp_path / "d.html")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["drift"]["flagged"] == []  # same generator, different images
    assert "diff" not in j  # no shared image ids between the two splits
    assert (tmp_path / "d.html").read_text().count("data:image/png;base64,") >= 7  # class bars + a histogram per property


def test_html_shows_changed_images_for_two_versions(tmp_path):
    from yolotools.audit import run_audit
    from yolotools.io.voc import read_voc, write_voc
    from yolotools.synth import generate_shapes

    s = generate_shapes(tmp_path / "d", n_train=40, n_val=2, seed=2)
    ds, _ = read_voc([s.voc_root], "train")
    recs = [r.with_annotations(Annotations(Boxes(r.annotations.boxes.xyxy * 0.9, r.image_hw), r.annotations.class_ids)) for r in ds.records]
    v2 = tmp_path / "v2" / "VOC2026"
    write_voc(DetectionDataset(ds.class_map, tuple(recs)), v2, "train")
    (v2 / "JPEGImages").symlink_to(s.images_dir)
    rep = run_audit(s.voc_root, against=v2, split="train", html=str(tmp_path / "r.html"))
    assert rep.diff.shared_images == 40 and sum(rep.diff.moved.values()) + sum(rep.diff.added.values()) > 0
    assert (tmp_path / "r.html").read_text().count("data:image/jpeg;base64,") == 4


def test_findings_name_the_voc_xml_and_the_coco_json(tmp_path):
    from tests.conftest import voc_object, write_voc_xml
    from yolotools.io.coco import write_coco
    from yolotools.io.voc import read_voc

    root = write_voc_xml(tmp_path / "VOC", "a", voc_object("dog", (10, 10, 50, 50)) + voc_object("dog", (10, 10, 50, 50)) + voc_object("cat", (1, 1, 200, 5)))
    rep, ds = validate(root, split="all")
    kinds = {(f.kind, f.file, f.where) for f in rep.findings if f.kind in ("duplicate_box", "extreme_aspect")}
    xml = str(root / "Annotations" / "a.xml")
    assert kinds == {("duplicate_box", xml, "box 1"), ("extreme_aspect", xml, "box 2")}
    write_coco(ds, tmp_path / "c.json")
    rep, _ = validate(tmp_path / "c.json")
    kinds = {(f.kind, f.file, f.where) for f in rep.findings if f.kind in ("duplicate_box", "extreme_aspect")}
    assert kinds == {("duplicate_box", str(tmp_path / "c.json"), "image a box 1"), ("extreme_aspect", str(tmp_path / "c.json"), "image a box 2")}
