import json

import numpy as np
import pytest
import yaml

from tests.conftest import voc_object, write_voc_xml
from yolotools.convert import convert_coco, convert_voc, convert_yolo_to_coco
from yolotools.errors import Problems, YoloToolsError
from yolotools.io.coco import read_coco
from yolotools.io.voc import read_voc
from yolotools.io.yolo import parse_label_text, read_yolo, yolo_lines


def test_parse_errors_name_the_line():
    text = "0 0.5 0.5 0.2 0.2\n1 0.5 0.5\n0 0.5 x 0.1 0.1\n7 0.5 0.5 0.1 0.1\n0 0.5 0.5 0 0.1\n0 1.05 0.5 0.2 0.2\n0 2 2 0.1 0.1\n\n1.5 0.5 0.5 0.1 0.1\n"
    probs = Problems()
    ann, lines = parse_label_text(text, "x.txt", (100, 200), 3, probs)
    assert lines == [1, 6]
    assert [(p.kind, p.where) for p in probs] == [
        ("bad_columns", "2"), ("not_numeric", "3"), ("bad_class", "4"), ("empty_box", "5"),
        ("box_clipped", "6"), ("box_outside_image", "7"), ("bad_class", "9"),
    ]
    np.testing.assert_allclose(ann.boxes.xyxy[0], [80, 40, 120, 60])
    np.testing.assert_allclose(ann.boxes.xyxy[1], [190, 40, 200, 60])  # clipped to the image


def test_formatter_matches_hand_values():
    assert yolo_lines([3], [[10, 20, 30, 60]], (100, 200)) == "3 0.100000 0.400000 0.100000 0.400000\n"


def _voc_root(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2007"
    write_voc_xml(root, "000001", voc_object("dog", (10, 20, 110, 220), difficult=1) + voc_object("cat", (1, 1, 500, 375)))
    write_voc_xml(root, "000002", voc_object("person", (48, 240, 195, 371)), size=(353, 500))
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("000001\n000002\n")
    return root


def test_convert_voc_outputs_and_lossless_round_trip(tmp_path):
    root = _voc_root(tmp_path)
    out = tmp_path / "out"
    rep = convert_voc([root], out, split="trainval", skip_difficult=True, images="none")
    assert (rep.images, rep.boxes_read, rep.boxes_written, rep.boxes_not_written) == (2, 3, 2, {"difficult": 1})
    assert (out / "labels" / "000001.txt").read_text() == yolo_lines([7], [[0, 0, 500, 375]], (375, 500))
    assert (out / "trainval.txt").read_text().splitlines()[0].endswith("000001.jpg")
    assert (out / "classes.names").read_text().splitlines()[7] == "cat"
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.absolute()) and data["train"] == "trainval.txt" and data["names"][14] == "person"
    # YOLO -> COCO gives back every source box, the difficult one included, flagged
    back = tmp_path / "back.json"
    convert_yolo_to_coco(out / "data.yaml", back, split="train")
    ds, _ = read_coco(back)
    src, _ = read_voc([root], "trainval")
    for r in src:
        got = ds.by_id()[r.image_id].annotations
        order = np.lexsort(got.boxes.xyxy.T)
        ref_order = np.lexsort(r.annotations.boxes.xyxy.T)
        np.testing.assert_allclose(got.boxes.xyxy[order], r.annotations.boxes.xyxy[ref_order], atol=5e-7 * 500)
        assert got.is_crowd.sum() == 0
    flags = json.loads(back.read_text())["annotations"]
    assert sorted(a["ignore"] for a in flags) == [0, 0, 1]


def test_round_trip_exact_with_more_decimals(tmp_path):
    root = _voc_root(tmp_path)
    convert_voc([root], tmp_path / "o", split="trainval", images="none", decimals=12)
    ds, _ = read_yolo(tmp_path / "o" / "data.yaml", "train")
    src, _ = read_voc([root], "trainval")
    for r in src:
        np.testing.assert_allclose(ds.by_id()[r.image_id].annotations.boxes.xyxy, r.annotations.boxes.xyxy, atol=1e-9)


def test_rerun_into_same_out_is_safe_and_val_split_added(tmp_path):
    root = _voc_root(tmp_path)
    (root / "ImageSets" / "Main" / "val.txt").write_text("000002\n")
    out = tmp_path / "out"
    convert_voc([root], out, split="trainval", images="none")
    before = (out / "labels" / "000001.txt").read_bytes()
    convert_voc([root], out, split="trainval", images="none")
    convert_voc([root], out, split="val", images="none")
    assert (out / "labels" / "000001.txt").read_bytes() == before
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("trainval.txt", "val.txt")
    assert not list(out.glob(".staging-*"))
    assert not list(out.rglob("*.tmp"))


def test_input_files_never_modified(tmp_path):
    root = _voc_root(tmp_path)
    snap = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    convert_voc([root], tmp_path / "out", split="trainval", images="link")
    assert snap == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_image_id_escaping_out_is_refused(tmp_path):
    imgs = [{"id": 1, "file_name": "a/../../b.jpg", "width": 10, "height": 10}]
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"images": imgs, "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    rep = convert_coco(p, tmp_path / "out")  # that image is an error, reported; nothing written outside
    assert rep.images == 0 and rep.problems[0]["kind"] == "path_outside_dataset"
    with pytest.raises(YoloToolsError, match="outside"):
        convert_coco(p, tmp_path / "out2", strict=True)
    assert not (tmp_path / "b.txt").exists()


def test_crowd_kept_in_sidecar_and_restored(tmp_path):
    d = {
        "images": [{"id": 3, "file_name": "a.jpg", "width": 100, "height": 100}],
        "categories": [{"id": 2, "name": "x"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 2, "bbox": [10, 10, 20, 20], "area": 300, "iscrowd": 0},
            {"id": 2, "image_id": 3, "category_id": 2, "bbox": [0, 0, 50, 50], "area": 1500, "iscrowd": 1},
        ],
    }
    p = tmp_path / "instances_val.json"
    p.write_text(json.dumps(d))
    rep = convert_coco(p, tmp_path / "out")
    assert rep.boxes_not_written == {"crowd": 1}
    assert (tmp_path / "out" / "labels" / "a.txt").read_text().count("\n") == 1
    ds, _ = read_yolo(tmp_path / "out" / "data.yaml", "val")
    a = ds.records[0].annotations
    assert a.is_crowd.tolist() == [False, True]
    assert a.areas.tolist() == [300, 1500]
    assert ds.records[0].source_id == 3 and ds.class_map.source_ids == (2,)


# ---------------------------------------------------------------- real data


def test_voc2007_darknet_convention_equals_third_party_labels(voc2007, tmp_path):
    import tarfile

    with tarfile.open(voc2007 / "labels.tar.gz") as tf:
        tf.extractall(tmp_path / "ref", filter="data")
    ref_dir = tmp_path / "ref" / "VOCdevkit" / "VOC2007" / "labels"
    out = tmp_path / "out"
    rep = convert_voc([voc2007], out, split="all", convention="darknet", skip_difficult=True, images="none")
    assert rep.images == 9963 and rep.boxes_written == 12608 + 12032
    ours = sorted(p.name for p in (out / "labels").iterdir())
    assert ours == sorted(p.name for p in ref_dir.iterdir())
    worst = 0.0
    for name in ours:
        a = np.loadtxt(ref_dir / name, ndmin=2)
        b = np.loadtxt(out / "labels" / name, ndmin=2)
        assert a.shape == b.shape, name
        if a.size:
            assert np.array_equal(a[:, 0], b[:, 0]), name
            worst = max(worst, float(np.abs(a[:, 1:] - b[:, 1:]).max()))
    assert worst <= 5e-7 + 1e-12  # equal to 6 decimals


def test_coco128_json_reproduces_lightly_yolo_labels(coco128, tmp_path):
    js, yolo_root = coco128
    rep = convert_coco(js, tmp_path / "out", images=yolo_root / "images" / "train2017")
    assert (rep.boxes_read, rep.boxes_written, rep.boxes_not_written) == (939, 929, {"crowd": 10})
    ref = yolo_root / "labels" / "train2017"
    ours = tmp_path / "out" / "labels"
    # documented differences: lightly has 2 orphan label files without images (656, 659);
    # we write empty files for the 2 images without objects (250, 508)
    assert sorted({p.name for p in ref.iterdir()} - {p.name for p in ours.iterdir()}) == ["000000000656.txt", "000000000659.txt"]
    assert sorted({p.name for p in ours.iterdir()} - {p.name for p in ref.iterdir()}) == ["000000000250.txt", "000000000508.txt"]
    n = 0
    for p in ref.iterdir():
        if not (ours / p.name).exists():
            continue
        a, b = np.loadtxt(p, ndmin=2), np.loadtxt(ours / p.name, ndmin=2)
        assert a.shape == b.shape and np.array_equal(a[:, 0], b[:, 0]), p.name
        assert np.abs(a[:, 1:] - b[:, 1:]).max() <= 1e-6 + 1e-12, p.name  # one unit of the 6th decimal
        n += len(a)
    assert n == 929


def test_same_ground_truth_in_voc_yolo_coco_loads_to_same_boxes(review_db, tmp_path):
    gts = review_db / "gts"
    root = tmp_path / "VOC2012"
    root.mkdir()
    (root / "Annotations").symlink_to(gts / "pascalvoc_format")
    names = [l.strip() for l in (gts / "yolo_format" / "obj.names").read_text().splitlines() if l.strip()]
    # CVAT wrote these VOC files with continuous coordinates: the 'raw' convention
    v, pv = read_voc([root], "all", convention="raw", classes=names)
    y, py = read_yolo(gts / "yolo_format" / "obj_train_data", names=names, images=review_db / "images")
    c2, pc2 = read_coco(gts / "coco_format_v2" / "instances_v2.json", review_db / "images")
    c1, pc1 = read_coco(gts / "coco_format_v1" / "instances_default.json", review_db / "images")
    assert not (len(pv) or len(py) or len(pc2) or len(pc1))

    def key(ds):
        return {
            r.image_id: sorted((ds.class_map.names[c], *np.round(b, 3)) for c, b in zip(r.annotations.class_ids, r.annotations.boxes.xyxy))
            for r in ds
        }

    kv = key(v)
    assert len(kv) == 100 and sum(map(len, kv.values())) == 273
    assert kv == key(y) == key(c2) == key(c1)


def test_voc_protocol_trainval_then_test_validates_on_test_and_a_real_val_wins(tmp_path):
    """Train on trainval, evaluate on test (the VOC protocol, Ultralytics' VOC.yaml):
    adding a test split replaces the placeholder val (a copy of train); a val
    split converted later takes its place; a real val is never replaced by test."""
    root = _voc_root(tmp_path)
    (root / "ImageSets" / "Main" / "test.txt").write_text("000002\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("000002\n")
    out = tmp_path / "out"
    convert_voc([root], out, split="trainval", images="none")
    assert yaml.safe_load((out / "data.yaml").read_text())["val"] == "trainval.txt"  # placeholder, with a note
    rep = convert_voc([root], out, split="test", images="none")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"], data["test"]) == ("trainval.txt", "test.txt", "test.txt")
    assert any("'val' now points at test.txt" in n for n in rep.notes)
    convert_voc([root], out, split="val", images="none")
    convert_voc([root], out, split="test", images="none")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"], data["test"]) == ("trainval.txt", "val.txt", "test.txt")


def _reference_parse(text, image_hw, num_classes, problems, with_scores, tolerance=1e-6, clip=True):
    """The line-by-line YOLO parse of earlier versions (each line's checks in order, one
    message at most per line): the reference the one columnar parse is held to."""
    import math

    ncol = 6 if with_scores else 5
    rows, cls, scores, lines = [], [], [], []
    for ln, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != ncol:
            problems.error("bad_columns", "f.txt", f"expected {ncol} columns, found {len(tok)}; line skipped", ln)
            continue
        try:
            c = float(tok[0])
            vals = [float(t) for t in tok[1:]]
        except ValueError:
            problems.error("not_numeric", "f.txt", f"non-numeric value in {line.strip()!r}; line skipped", ln)
            continue
        if not all(math.isfinite(v) for v in vals) or not math.isfinite(c):
            problems.error("not_numeric", "f.txt", "NaN or infinite value; line skipped", ln)
            continue
        if c != int(c) or c < 0 or (num_classes is not None and c >= num_classes):
            rng = f"0..{num_classes - 1}" if num_classes else "a non-negative integer"
            problems.error("bad_class", "f.txt", f"class id {tok[0]} outside {rng}; line skipped", ln)
            continue
        cx, cy, w, h = vals[:4]
        if w <= 0 or h <= 0:
            problems.error("empty_box", "f.txt", f"width/height {w:g}x{h:g} not positive; line skipped", ln)
            continue
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if clip and (x1 < -tolerance or y1 < -tolerance or x2 > 1 + tolerance or y2 > 1 + tolerance):
            cl = (max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0))
            if cl[2] <= cl[0] or cl[3] <= cl[1]:
                problems.error("box_outside_image", "f.txt", "box lies entirely outside the image; line skipped", ln)
                continue
            problems.warning("box_clipped", "f.txt", "box extends outside [0, 1]; clipped", ln)
            x1, y1, x2, y2 = cl
        rows.append((x1, y1, x2, y2))
        cls.append(int(c))
        lines.append(ln)
        if with_scores:
            scores.append(vals[4])
    h, w = image_hw
    xyxy = np.array(rows, dtype=np.float64).reshape(-1, 4) * np.array([w, h, w, h], dtype=np.float64)
    return xyxy, cls, scores, lines


def test_columnar_label_parse_equals_the_line_by_line_rules():
    """parse_label_text (every line's numbers in one array, the checks as array operations)
    gives what the line-by-line rules give: boxes bit for bit, classes, scores, line numbers,
    and the problems in line order, on random clean and dirty files."""
    import numpy as np

    from yolotools.errors import Problems
    from yolotools.io.yolo import txt

    rng = np.random.default_rng(0)
    kinds: set = set()
    bad = ["", "1 0.5 0.5 0.1", "0 1.5 1.5 0.1 0.1", "0 0x1p-1 0.5 0.1 0.1", "0 1_0 0.5 0.1 0.1", "0 -0.0 0.5 0 0.1", "x 0.5 0.5 0.1 0.1", "0 nan 0.5 0.1 0.1", "7 0.5 0.5 0.1 0.1", "0 0.5 0.5 0 0.1", "0 0.99 0.5 0.1 0.1",
           "1.5 0.5 0.5 0.1 0.1", "-1 0.5 0.5 0.1 0.1", "0 0.5 0.5 0.1 0.1 0.3"]
    for trial in range(600):
        n = int(rng.integers(0, 12))
        xy = rng.uniform(0.1, 0.9, (n, 2))
        wh = rng.uniform(0.01, 0.2, (n, 2))
        with_scores = bool(trial % 3 == 0)
        lines = [f"{int(rng.integers(0, 3))} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" + (f" {rng.random():.5f}" if with_scores else "")
                 for (x, y), (w, h) in zip(xy, wh)]
        if trial % 2 and lines:
            lines.insert(int(rng.integers(0, len(lines))), bad[int(rng.integers(0, len(bad)))])
        text = "\n".join(lines) + ("\n" if trial % 4 else "")
        p1 = Problems()
        got, lines_got = txt.parse_label_text(text, "f.txt", (480, 640), 3, p1, with_scores=with_scores)
        p2 = Problems()
        xyxy, cls, scores, lines_ref = _reference_parse(text, (480, 640), 3, p2, with_scores)
        assert got.boxes.xyxy.tobytes() == xyxy.tobytes(), text
        assert got.class_ids.tolist() == cls and lines_got == lines_ref
        assert (got.scores is None) == (not with_scores)
        if with_scores:
            assert got.scores.tolist() == scores
        assert [str(q) for q in p1] == [str(q) for q in p2]
        kinds |= {q.kind for q in p1}
    assert {"bad_columns", "not_numeric", "bad_class", "empty_box", "box_clipped"} <= kinds
