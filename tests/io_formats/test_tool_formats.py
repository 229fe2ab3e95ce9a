"""The labelling-tool formats (CVAT, Label Studio, LabelMe, Open Images,
createML, KITTI, TFOD, VIA), checked against files nobody here wrote:

- one VOC2012 ground truth exported by CVAT in several formats (../shared/data):
  every format we read loads to the boxes of the VOC XML there;
- panlabel (an independent converter, test dependency) writes each format from
  VOC2007: our reader gives the boxes of the VOC XML, and panlabel reads our
  writer's file back to the same boxes;
- round trip: VOC2007 trainval -> FORMAT -> YOLO equals VOC2007 trainval -> YOLO,
  label file for label file.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import REVIEW_DB, VOC2007, need

from yolotools.cli import main
from yolotools.convert import convert_format, convert_voc
from yolotools.io.coco import read_coco
from yolotools.io.formats import FORMATS, read_format, sniff_format, write_format
from yolotools.io.voc import read_voc

TOOL_FORMATS = [n for n in FORMATS if n not in ("voc", "coco", "yolo")]
PANLABEL_NAME = {"labelstudio": "label-studio", "createml": "create-ml"}


def _boxes(ds, decimals=6):
    """image id -> (size, sorted (class name, x1, y1, x2, y2) rounded)."""
    out = {}
    for r in ds:
        a = r.annotations
        rows = sorted((ds.class_map.names[c],) + tuple(round(v, decimals) for v in b)
                      for b, c in zip(a.boxes.xyxy.tolist(), a.class_ids.tolist()))
        out[r.image_id] = (r.image_hw, rows)
    return out


def _same(a, b, tol):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0], k
        ra, rb = a[k][1], b[k][1]
        assert [r[0] for r in ra] == [r[0] for r in rb], k
        np.testing.assert_allclose(np.array([r[1:] for r in ra]).reshape(-1, 4), np.array([r[1:] for r in rb]).reshape(-1, 4),
                                   atol=tol, err_msg=k)


# ---------------------------------------------------------------- CVAT's exports of one VOC2012 ground truth


@pytest.fixture(scope="module")
def cvat_gt():
    db = need(REVIEW_DB)
    ref, probs = read_voc([db / "gts" / "pascalvoc_format"], "all", convention="raw")  # CVAT writes its corners as they are
    assert len(ref) == 100 and ref.num_boxes == 273 and not probs.items
    return db, _boxes(ref)


@pytest.mark.parametrize("fmt,rel,tol", [
    ("cvat", "cvat_format/annotations.xml", 0),
    ("labelme", "labelme_format", 0),
    ("openimages", "openimages_format/all_bounding_boxes.csv", 1e-6),  # decimal commas, 10 digits
    ("coco", "coco_format_v1/instances_default.json", 0),
    ("coco", "coco_format_v2/instances_v2.json", 0),
    ("voc", "imagenet_format", 0),
    ("yolo", "yolo_format/obj_train_data", 1e-6 * 500),  # centre and size at 6 decimals of the image size
])
def test_cvat_exports_give_the_voc_boxes(cvat_gt, fmt, rel, tol):
    db, ref = cvat_gt
    opts = {}
    if fmt == "yolo":
        opts["classes"] = (db / "gts" / "yolo_format" / "obj.names").read_text().split()
    if fmt == "voc":
        opts.update(convention="raw", split="all")
    ds, probs = read_format(fmt, db / "gts" / rel, db / "images", **opts)
    assert not [p for p in probs if p.severity == "error"]
    _same(_boxes(ds), ref, tol)


def test_openimages_needs_sizes_and_says_so(cvat_gt):
    db, _ = cvat_gt
    ds, probs = read_format("openimages", db / "gts" / "openimages_format" / "all_bounding_boxes.csv")
    assert len(ds) == 0
    msgs = {p.kind for p in probs}
    assert msgs == {"missing_size"} and "--images" in probs.items[0].message


def test_sniffing_names_each_export(cvat_gt):
    db, _ = cvat_gt
    g = db / "gts"
    assert sniff_format(g / "cvat_format" / "annotations.xml") == "cvat"
    assert sniff_format(g / "labelme_format") == "labelme"
    assert sniff_format(g / "openimages_format" / "all_bounding_boxes.csv") == "openimages"
    assert sniff_format(g / "coco_format_v1" / "instances_default.json") == "coco"
    assert sniff_format(g / "pascalvoc_format") == "voc"


# ---------------------------------------------------------------- VOC2007 through every format


@pytest.fixture(scope="module")
def voc07(tmp_path_factory):
    root = need(VOC2007)
    tmp = tmp_path_factory.mktemp("voc07")
    convert_voc([root], tmp / "ref", split="trainval", images="none")
    ds, _ = read_voc([root], "trainval")
    raw, _ = read_voc([root], "all", convention="raw")
    # VOC2007 here has no JPEGImages: image headers of the right sizes stand in for them, for the
    # readers (ours and panlabel's) of formats that hold no image size
    fake = tmp / "images"
    fake.mkdir()
    for r in raw:
        (fake / f"{r.image_id}.jpg").write_bytes(_png_header(*r.image_hw))
    return root, tmp, ds, raw


def _png_header(h, w) -> bytes:
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", TOOL_FORMATS)
def test_round_trip_voc_format_yolo_equals_voc_yolo(voc07, fmt):
    root, tmp, ds, _ = voc07
    f = FORMATS[fmt]
    src = tmp / f"{fmt}{f.suffix}"
    write_format(fmt, ds, src)
    sizes = {r.image_id: r.image_hw for r in ds}
    rep = convert_format(fmt, src, tmp / f"{fmt}_yolo", split="trainval", image_sizes=sizes, classes=ds.class_map.names)
    assert rep.boxes_read == ds.num_boxes and not rep.problems
    a, b = tmp / "ref" / "labels", tmp / f"{fmt}_yolo" / "labels"
    names = sorted(os.listdir(a))
    assert sorted(os.listdir(b)) == names and len(names) == 5011
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert mismatch == [] and errors == []
    assert (tmp / "ref" / "classes.names").read_text() == (tmp / f"{fmt}_yolo" / "classes.names").read_text()


PANLABEL = shutil.which("panlabel") or (str(Path(sys.executable).parent / "panlabel")
                                        if (Path(sys.executable).parent / "panlabel").exists() else None)


def _panlabel(*args):
    if PANLABEL is None:
        pytest.skip("panlabel (test dependency) not installed")
    r = subprocess.run([PANLABEL, "convert", *args, "--allow-lossy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("fmt", TOOL_FORMATS)
def test_panlabel_files_read_as_the_voc_xml(voc07, fmt):
    """panlabel writes VOC numbers as they are (no 1-based shift): compare with our raw VOC read."""
    root, tmp, _, raw = voc07
    f = FORMATS[fmt]
    out = tmp / f"pl_{fmt}{f.suffix}"
    _panlabel("-f", "voc", "-t", PANLABEL_NAME.get(fmt, fmt), "-i", str(root), "-o", str(out))
    src = out / "annotations" if fmt == "labelme" else out
    ds, probs = read_format(fmt, src, tmp / "images", classes=raw.class_map.names)  # sizes from the image headers
    assert not [p for p in probs if p.severity == "error"]
    want = _boxes(raw)
    if fmt in ("openimages", "tfod"):  # no row for an image with no box (VOC2007 has none: all 9,963 come back)
        want = {k: v for k, v in want.items() if v[1]}
    _same(_boxes(ds), want, 1e-6)  # normalised formats store ~16 digits


@pytest.mark.parametrize("fmt", TOOL_FORMATS)
def test_panlabel_reads_our_files_to_the_same_boxes(voc07, fmt):
    root, tmp, ds, _ = voc07
    f = FORMATS[fmt]
    if fmt == "tfod":
        pytest.skip("panlabel reads TFOD corners as normalised; ours are pixels, as TensorFlow's generate_tfrecord.py reads them")
    d = tmp / f"ours_{fmt}"
    src = d / f"labels{f.suffix}"
    imgs = src / "image_2" if fmt == "kitti" else d  # where panlabel looks for images to size them
    imgs.mkdir(parents=True)
    for r in ds:
        os.link(tmp / "images" / f"{r.image_id}.jpg", imgs / f"{r.image_id}.jpg")
    write_format(fmt, ds, src)
    back = tmp / f"ours_{fmt}_pl.json"
    _panlabel("-f", PANLABEL_NAME.get(fmt, fmt), "-t", "coco", "-i", str(src), "-o", str(back))
    got, _ = read_coco(back, clip=False)
    want = _boxes(ds)
    if fmt == "openimages":
        want = {k: v for k, v in want.items() if v[1]}
    _same(_boxes(got), want, 1e-6)


# ---------------------------------------------------------------- what each reader reports


def test_shapes_made_boxes_are_counted(tmp_path):
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "a.json").write_text(json.dumps({
        "imagePath": "a.jpg", "imageHeight": 100, "imageWidth": 200, "shapes": [
            {"label": "cat", "points": [[30, 40], [10, 20]], "shape_type": "rectangle"},
            {"label": "dog", "points": [[10, 10], [50, 12], [30, 60]], "shape_type": "polygon"},
            {"label": "dog", "points": [[5, 5]], "shape_type": "point"},
        ]}))
    rep = convert_format("labelme", tmp_path / "lm", tmp_path / "out")
    assert rep.boxes_read == 2 and rep.shapes_to_boxes == {"polygon_to_box": 1}
    assert [p["kind"] for p in rep.problems] == ["unsupported_shape"]
    lines = (tmp_path / "out" / "labels" / "a.txt").read_text().splitlines()
    # rectangle corners in either order; polygon -> its bounding box (10..50 x 10..60)
    assert lines == ["0 0.100000 0.300000 0.100000 0.200000", "1 0.150000 0.350000 0.200000 0.500000"]


def test_label_studio_rotation_and_second_annotator(tmp_path):
    task = {"id": 7, "data": {"image": "/data/upload/3/x.jpg"}, "annotations": [
        {"result": [{"type": "rectanglelabels", "original_width": 100, "original_height": 100,
                     "value": {"x": 10, "y": 10, "width": 20, "height": 10, "rotation": 90, "rectanglelabels": ["car"]}}]},
        {"result": []}]}
    (tmp_path / "ls.json").write_text(json.dumps([task]))
    ds, probs = read_format("labelstudio", tmp_path / "ls.json")
    assert [r.image_id for r in ds] == ["x"]
    # 90 degrees about the top-left corner (10, 10): x in [0, 10], y in [10, 30]
    np.testing.assert_allclose(ds.records[0].annotations.boxes.xyxy, [[0, 10, 10, 30]], atol=1e-9)
    assert ds.records[0].annotations.attrs[0] == {"rotation": 90.0}
    assert probs.converted == {"rotated_box_to_box": 1} and [p.kind for p in probs] == ["extra_annotations"]


def test_kitti_3d_fields_survive_yolo_and_back(tmp_path):
    (tmp_path / "k" / "label_2").mkdir(parents=True)
    line = "Car 0.50 2 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
    (tmp_path / "k" / "label_2" / "000007.txt").write_text(line + "DontCare -1 -1 -10 800.38 163.67 825.45 184.07 -1 -1 -1 -1000 -1000 -1000 -10\n")
    rep = convert_format("kitti", tmp_path / "k", tmp_path / "y", image_sizes={"000007": (375, 1242)})
    assert rep.classes == ["Car", "DontCare"] and rep.boxes_written == 2
    r = CliRunner().invoke(main, ["convert", "yolo", str(tmp_path / "y" / "data.yaml"), "--to", "kitti", "--out", str(tmp_path / "k2")])
    assert r.exit_code == 0, r.output
    back = (tmp_path / "k2" / "label_2" / "000007.txt").read_text().splitlines()
    f = back[0].split()
    assert f[:4] == ["Car", "0.5", "2", "-1.58"] and f[8:] == ["1.65", "1.67", "3.64", "-0.65", "1.71", "46.7", "-1.59"]
    # the corners went through YOLO's 6 normalised decimals
    np.testing.assert_allclose([float(v) for v in f[4:8]], [587.01, 173.33, 614.12, 200.12], atol=1e-6 * 1242)
    assert back[1].split()[:4] == ["DontCare", "-1", "-1", "-10"]
    assert "image sizes" in r.output  # KITTI has none: the summary says it is not kept


def test_bad_rows_name_file_and_line(tmp_path):
    (tmp_path / "k" / "label_2").mkdir(parents=True)
    (tmp_path / "k" / "label_2" / "a.txt").write_text("Car 0 0 0 1 2 3\nCar 0 0 0 1 2 30 40 1 1 1 1 1 1 1\n")
    rep = convert_format("kitti", tmp_path / "k", tmp_path / "y", image_sizes={"a": (50, 50)})
    assert rep.boxes_read == 1
    p = rep.problems[0]
    assert p["kind"] == "bad_row" and p["where"] == "line 1" and p["path"].endswith("a.txt")
    (tmp_path / "bad.xml").write_text("<annotations><image name='a.jpg' width='10' height='10'><box label='x'")
    r = CliRunner().invoke(main, ["convert", "cvat", str(tmp_path / "bad.xml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "malformed XML at line 1" in r.output and "Traceback" not in r.output
    (tmp_path / "t.csv").write_text("filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,100,80,cat,10,10,abc,20\n../b.jpg,5,5,cat,1,1,2,2\n")
    rep = convert_format("tfod", tmp_path / "t.csv", tmp_path / "o2")
    assert sorted(p["kind"] for p in rep.problems) == ["bad_box", "path_outside_dataset"]
    assert not (tmp_path / "o2" / "labels" / "b.txt").exists()


def test_openimages_mids_and_flags(tmp_path):
    (tmp_path / "cd.csv").write_text("/m/01g317,Person\n/m/0k4j,Car\n")
    (tmp_path / "oi.csv").write_text(
        "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"
        "abc,xclick,/m/0k4j,1,0.1,0.5,0.2,0.6,1,0,1,0,0\n")
    ds, probs = read_format("openimages", tmp_path / "oi.csv", image_sizes={"abc": (100, 200)},
                            class_descriptions=tmp_path / "cd.csv")
    a = ds.records[0].annotations
    assert ds.class_map.names == ("Car",) and a.is_crowd.tolist() == [True]
    np.testing.assert_allclose(a.boxes.xyxy, [[20, 20, 100, 60]])
    assert a.attrs[0]["IsOccluded"] == "1" and a.attrs[0]["Source"] == "xclick"
    out = tmp_path / "back.csv"
    write_format("openimages", ds, out)
    assert out.read_text().splitlines()[1] == "abc,xclick,Car,1,0.1,0.5,0.2,0.6,1,0,1,0,0"


def test_convert_list_names_every_format():
    r = CliRunner().invoke(main, ["convert", "--list"])
    assert r.exit_code == 0
    for name in ("voc", "coco", "yolo", *TOOL_FORMATS):
        assert any(line.startswith(name + " ") for line in r.output.splitlines()), name
    rows = json.loads(CliRunner().invoke(main, ["convert", "--list", "--json"]).output)
    assert {r["format"]: (r["read"], r["write"]) for r in rows}["yolo"] == (True, False)
    assert all(r["read"] and r["write"] for r in rows if r["format"] != "yolo")


def test_hostile_files_get_one_line_errors_and_nothing_leaves_the_dataset(tmp_path):
    run = lambda *a: CliRunner().invoke(main, list(map(str, a)))  # noqa: E731
    # XXE: the entity is never expanded, no file content reaches the output
    (tmp_path / "x.xml").write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                    '<annotations><image name="a.jpg" width="10" height="10">'
                                    '<box label="&e;" xtl="1" ytl="1" xbr="5" ybr="5"/></image></annotations>')
    r = run("convert", "cvat", tmp_path / "x.xml", "--out", tmp_path / "o1", "--json")
    assert "Traceback" not in r.output and "root:" not in r.output
    for f in (tmp_path / "o1").rglob("*") if (tmp_path / "o1").exists() else []:
        if f.is_file():
            assert "root:" not in f.read_text(errors="replace")
    # names that leave the dataset: an error for that record, nothing written outside --out
    (tmp_path / "v.json").write_text(json.dumps({"k": {"filename": "../../../outside.jpg", "size": 0, "regions": [
        {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 3, "height": 3}, "region_attributes": {"label": "a"}}]}}))
    r = run("convert", "via", tmp_path / "v.json", "--out", tmp_path / "o2", "--json")
    assert r.exit_code == 0 and "path_outside_dataset" in r.output and "Traceback" not in r.output
    assert not list(tmp_path.parent.glob("outside*"))
    # NaN, strings and missing numbers are bad boxes with their record, not crashes
    (tmp_path / "c.json").write_text('[{"image": "a.jpg", "annotations": [{"label": "a", "coordinates": '
                                     '{"x": NaN, "y": 1, "width": 2, "height": 2}}, {"label": "a", "coordinates": {"x": "5"}}]}]')
    rep = convert_format("createml", tmp_path / "c.json", tmp_path / "o3", image_sizes={"a": (10, 10)})
    assert [p["kind"] for p in rep.problems] == ["bad_box", "bad_box"] and rep.problems[0]["where"].startswith("[0].annotations[0]")
    # a LabelMe imagePath that leaves the folder is not linked
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "a.json").write_text(json.dumps({"imagePath": "../../etc/passwd", "imageHeight": 10, "imageWidth": 10,
                                                         "shapes": [{"label": "a", "points": [[1, 1], [4, 4]], "shape_type": "rectangle"}]}))
    rep = convert_format("labelme", tmp_path / "lm", tmp_path / "o4")
    assert any(p["kind"] == "path_outside_dataset" for p in rep.problems) and not (tmp_path / "o4" / "images").exists() or \
        not any((tmp_path / "o4" / "images").iterdir())


from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402


@_settings(max_examples=500, deadline=None)
@_given(name=_st.lists(_st.sampled_from(list("ab./\\: \x00_-") + ["é", "jpg", ".."]), max_size=10).map("".join))
def test_plain_image_id_is_the_path_rule_or_leaves_it_to_the_path_rule(name):
    """Readers take an image id from a file name without a path object when the name is
    plain; it must be what relative_name + with_suffix('') give, or None (they then decide)."""
    from yolotools.io.files import plain_image_id, relative_name

    got = plain_image_id(name)
    pp = relative_name(name)
    if got is not None:
        assert pp is not None and got == str(pp.with_suffix("")), name
    if pp is not None and "/" not in name and "\\" not in name and name not in (".", "..") and name.strip() == name and name:
        assert got is not None, name  # a single plain name always takes the fast rule


def test_has_suffix_is_pathlib_s():
    """The readers' string test for "the name has an extension" equals pathlib's on any name."""
    from pathlib import PurePosixPath

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from yolotools.io.formats.images import has_suffix as _has_suffix

    @settings(max_examples=3000, deadline=None)
    @given(st.text(alphabet="ab./\\ :", max_size=14))
    def check(name):
        assert _has_suffix(name) == bool(PurePosixPath(name).suffix), name

    check()
