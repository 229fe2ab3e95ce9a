"""What the format writers and the path helpers promise: the JSON writers
write ``json.dumps``' text, CSV cells and XML text are the standard library's,
many files are written whole and confined, the path shortcuts are the general
rules, writers take datasets without boxes, data.yaml text is PyYAML's; and the
LabelMe export layout (``annotations/`` beside ``images/``) finds its images.
(What every reader and writer gives on real and odd files is held to golden
files in tests/golden.)"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from yolotools.boxes import Boxes
from yolotools.io.formats import FORMATS, read_format, write_format
from yolotools.io.formats import text as _build

from tests.golden.cases import png, written as write_all


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("writers")
    imgs, ds, out = write_all(tmp)
    out = {k: (v / "label_2" if k == "kitti" else v) for k, v in out.items()}
    return tmp, imgs, ds, out


def test_labelme_export_layout_finds_its_images_in_the_images_folder(tmp_path):
    """annotations/x.json with imagePath ../images/x.jpg (panlabel's and labelme's export layout), read from
    annotations/ with --images images/: the image is the one in images/, linked, nothing to warn about; without
    --images it is refused as before (outside the folder read)."""
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images").mkdir()
    for i in range(3):
        (tmp_path / "images" / f"{i}.jpg").write_bytes(png(50, 60))
        (tmp_path / "annotations" / f"{i}.json").write_text(json.dumps({
            "imagePath": f"../images/{i}.jpg", "imageHeight": 50, "imageWidth": 60,
            "shapes": [{"label": "a", "points": [[1, 2], [30, 40]], "shape_type": "rectangle"}]}))
    ds, probs = read_format("labelme", tmp_path / "annotations", tmp_path / "images")
    assert not probs.items
    assert [r.path for r in ds] == [tmp_path / "images" / f"{i}.jpg" for i in range(3)]
    ds, probs = read_format("labelme", tmp_path / "annotations")
    assert [p.kind for p in probs] == ["path_outside_dataset"] * 3 and all(r.path is None for r in ds)


@pytest.mark.parametrize("fmt", ["labelstudio", "createml", "via", "labelme"])
def test_json_writers_write_json_dumps_text(written, fmt):
    tmp, imgs, ds, out = written
    files = sorted(out[fmt].glob("*.json")) if fmt == "labelme" else [out[fmt]]
    assert files
    for f in files:
        text = f.read_text()
        if fmt == "labelme":
            assert text == json.dumps(json.loads(text), indent=2)
        else:
            assert text == json.dumps(json.loads(text), separators=(",", ":"))


def test_csv_cells_and_xml_attributes_are_the_standard_librarys():
    from xml.sax.saxutils import escape, quoteattr

    from yolotools.io.formats.cvat import _escape, _quoteattr

    rng = random.Random(4)
    alphabet = 'ab ,"\r\n\t\\é😀\x00\x1f&<>\''
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([s, "x"])
        assert _build.csv_cell(s) == buf.getvalue()[:-2], s
        assert _build.json_str(s) == json.dumps(s), s
        assert _escape(s) == escape(s) and _quoteattr(s) == quoteattr(s), s


def test_many_files_are_written_whole_and_confined(tmp_path):
    names = ["a.txt", "b c.txt", "é.txt", "sub/d.txt"]
    texts = ["1\n", "", "ü\n", "x"]
    _build.write_texts(tmp_path / "out", names, texts, "image id")
    assert [(tmp_path / "out" / n).read_text() for n in names] == texts
    assert not [p for p in (tmp_path / "out").rglob("*tmp*")]
    with pytest.raises(Exception, match="outside"):
        _build.write_texts(tmp_path / "out", ["../escape.txt"], ["x"], "image id")
    assert not (tmp_path / "escape.txt").exists()


def test_path_shortcuts_are_the_general_rules():
    from yolotools.io.files import path_objects
    from yolotools.io.yolo import reader
    from yolotools.io.yolo.data_yaml import label_path_for_image, label_paths_for_images

    def old_label(img):
        head, name = os.path.split(img)
        parts = head.split(os.sep)
        for i in range(len(parts) - 1, -1, -1):
            if parts[i] in ("images", "JPEGImages"):
                parts[i] = "labels"
                break
        return os.path.join(os.sep.join(parts), os.path.splitext(name)[0] + ".txt")

    def old_id(lab):
        head, name = os.path.split(lab)
        parts = [q for q in head.split(os.sep) if q] + [os.path.splitext(name)[0]]
        if "labels" in parts:
            i = len(parts) - 1 - parts[::-1].index("labels")
            return "/".join(parts[i + 1 :])
        return parts[-1]

    rng = random.Random(5)
    comp = ["images", "JPEGImages", "labels", "a", "b.c", ".h", "..", ".", "", "x.jpg", "labels.txt", "images.png", "a."]
    cases = []
    for _ in range(30000):
        k = rng.randint(0, 6)
        cases.append(("/" if rng.random() < 0.9 else "") + "/".join(rng.choice(comp) for _ in range(k))
                     + rng.choice(["", "/", "/x.jpg", "/y", "/.z", "/a.b.c", "/q."]))
    assert label_paths_for_images(cases) == [old_label(c) for c in cases]
    assert [label_path_for_image(c) for c in cases] == [old_label(c) for c in cases]
    assert [reader._image_id(c, c) for c in cases] == [old_id(c) for c in cases]
    assert [reader._folder(c) for c in cases] == [os.path.dirname(c) for c in cases]
    from yolotools.io.files import is_normal_abs

    for c in cases + ["/", "/a/.b/c", "/a\\b", "/a/..", "/a/b/", "/a/./b"]:
        if is_normal_abs(c):  # the one test behind these shortcuts: the path is its own normal form
            assert os.path.normpath(c) == c and os.path.isabs(c), c
    assert is_normal_abs("/a/.b/c") and not is_normal_abs("/a/../b") and not is_normal_abs("a/b")
    objs = path_objects(cases)
    for c, p in zip(cases, objs):
        q = Path(c)
        assert p == q and p.parts == q.parts and str(p) == str(q) and hash(p) == hash(q) and p.suffix == q.suffix


def test_convert_does_not_import_the_training_commands(tmp_path):
    import subprocess

    code = ("import sys; from yolotools.cli import main\n"
            "try:\n    main(['convert', '--list'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('yolotools.cli.', 'yolotools.train', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert "yolotools.cli.train" not in out and "yolotools.cli.model" not in out and "torch" not in out
    assert "yolotools.cli.convert" in out
    from yolotools.cli import eval_cmd, main, train

    assert train.name == "train" and eval_cmd.name == "eval" and "train" in main.list_commands(None)


@pytest.mark.parametrize("n_images", [0, 1])
def test_writers_take_datasets_without_boxes(tmp_path, n_images):
    recs = tuple(ImageRecord(f"x{i}", None, (10, 20), Annotations(Boxes(np.zeros((0, 4)), (10, 20)), [])) for i in range(n_images))
    ds = DetectionDataset(ClassMap(("a",)), recs)
    for fmt, f in FORMATS.items():
        if f.can_write and fmt not in ("voc", "coco"):
            counts = write_format(fmt, ds, tmp_path / f"{fmt}{f.suffix}")
            assert counts["boxes"] == 0
            if "empty_images" in f.holds and (n_images or f.target == "file"):  # (an empty folder is an error to read)
                back, probs = read_format(fmt, tmp_path / f"{fmt}{f.suffix}" if fmt != "kitti" else tmp_path / fmt,
                                          image_sizes={"x0": (10, 20)})
                assert len(back) == n_images and not back.num_boxes, fmt


def test_data_yaml_text_is_pyyamls():
    import yaml

    from yolotools.io.yolo.data_yaml import _plain_yaml, yaml_dump

    rng = random.Random(7)
    plain = ["train.txt", "/a/b/c", "aeroplane", "A.B-C_D", "_x", "x" * 120, "/", "a/", "path"]
    odd = ["yes", "no", "y", "on", "null", "~", "1", "1.5", "1e3", ".5", ".inf", "2020-01-01", "a b", "é", "-a", "a:b", "a#b",
           "12:30", "+1", "nan", "=", "<<", "a'b", "TRUE", "Off", ""]
    taken = 0
    for _ in range(5000):
        pool = plain + (odd if rng.random() < 0.3 else [])
        d = {"path": rng.choice(pool), "train": rng.choice(pool), "nc": rng.randint(0, 90),
             "names": {i: rng.choice(pool) for i in range(rng.randint(0, 5))},
             "category_ids": [rng.randint(0, 99) for _ in range(rng.randint(0, 4))]}
        if rng.random() < 0.3:
            d[rng.choice(pool)] = [rng.choice(pool) for _ in range(rng.randint(0, 3))]
        assert yaml_dump(d) == yaml.safe_dump(d, sort_keys=False, allow_unicode=True, default_flow_style=False), d
        taken += _plain_yaml(d) is not None
    assert taken > 2500
