"""Inputs whose reader and writer outputs are held to golden files
(``tests/golden/*.json``): the real exports in ../shared/data, a generated
dataset written in every format and read back clean and messy, and files in
and around every format's odd corners (kept from the tests that held the old
fast paths to the per-box paths, so that the one path left keeps their answers).

A case is ``(name, run)``; ``run(tmp)`` makes its inputs under ``tmp`` and
returns what :func:`tests.golden.dump.reader_result` or ``tree_result`` made.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

import numpy as np

from tests.conftest import SHARED

from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from yolotools.boxes import Boxes
from yolotools.io.formats import FORMATS, read_format, write_format

from .dump import reader_result, tree_result

TOOL_FORMATS = [n for n in FORMATS if n not in ("voc", "coco", "yolo")]
VOC2007 = SHARED / "voc2007_chenyicai-0611_yolov5-PASCAL-VOC" / "VOCdevkit" / "VOC2007"
REVIEW_GTS = SHARED / "review_object_detection_metrics" / "data" / "database" / "gts"
REVIEW_IMAGES = SHARED / "review_object_detection_metrics" / "data" / "database" / "images"
COCO128_JSON = SHARED / "coco128_cocojson_developer0hye" / "annotations" / "instances_train2017.json"
COCO128_YOLO = SHARED / "coco128_yolo_lightly" / "object_detection"
COCO_TINY = SHARED / "coco_tiny_zzowenzz"


def png(h: int, w: int) -> bytes:
    """A PNG header (IHDR + IEND) claiming ``w x h``."""

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def random_dataset(n_images: int = 60, seed: int = 0, odd_names: bool = True, attrs: bool = True) -> DetectionDataset:
    """Images of random sizes with random boxes (fractional corners, some on the
    border), flags, attributes, empty images, names with spaces, commas and
    non-ASCII letters."""
    rng = random.Random(seed)
    names = ("car", "per son", "dög") if odd_names else ("car", "person", "dog")
    recs = []
    for i in range(n_images):
        h, w = rng.randint(20, 900), rng.randint(20, 900)
        k = rng.choice([0, 1, 2, 3, 5])
        xyxy, cls, at = [], [], []
        for _ in range(k):
            x1, y1 = rng.uniform(0, w - 2), rng.uniform(0, h - 2)
            x2, y2 = rng.uniform(x1 + 1, w), rng.uniform(y1 + 1, h)
            if rng.random() < 0.2:
                x1, y1, x2, y2 = 0.0, 0.0, float(w), float(h)
            if rng.random() < 0.3:
                x1, y1, x2, y2 = float(int(x1)), float(int(y1)), float(int(x2)), float(int(y2))
            xyxy.append([x1, y1, x2, y2])
            cls.append(rng.randrange(len(names)))
            at.append(rng.choice([{"occluded": "1"}, {"score": 0.5, "n": 1, "flag": True}]) if attrs and rng.random() < 0.2 else None)
        iid = f"im,{i}" if odd_names and i % 7 == 3 else (f"é{i}" if odd_names and i % 11 == 5 else f"{i:05d}")
        ann = Annotations(Boxes(np.array(xyxy, dtype=np.float64).reshape(-1, 4), (h, w)), cls,
                          is_difficult=[rng.random() < 0.2 for _ in cls], is_crowd=[rng.random() < 0.1 for _ in cls],
                          attrs=at if any(at) else None)
        recs.append(ImageRecord(iid, None, (h, w), ann))
    return DetectionDataset(ClassMap(names), tuple(recs))


def written(tmp: Path):
    """The random dataset written in every tool format, with PNG headers for the formats that hold no sizes."""
    ds = random_dataset()
    imgs = tmp / "images"
    imgs.mkdir(parents=True, exist_ok=True)
    for r in ds:
        (imgs / f"{r.image_id}.jpg").write_bytes(png(*r.image_hw))
    recs = tuple(ImageRecord(r.image_id, imgs / f"{r.image_id}.jpg", r.image_hw, r.annotations) for r in ds)
    ds = DetectionDataset(ds.class_map, recs)
    ds_plain = DetectionDataset(ClassMap(("car", "person", "dog")), recs)  # KITTI: no spaces in names
    out = {}
    for fmt in TOOL_FORMATS:
        f = FORMATS[fmt]
        src = tmp / f"{fmt}{f.suffix}"
        write_format(fmt, ds_plain if fmt == "kitti" else ds, src)
        out[fmt] = src
    return imgs, ds, out


# ------------------------------------------------------------------ the cases

CASES: dict[str, object] = {}


def case(name):
    def put(f):
        assert name not in CASES, name
        CASES[name] = f
        return f
    return put


def _read(fmt, src, images=None, **kw):
    return reader_result(lambda: read_format(fmt, src, images, **kw))


# real data ----------------------------------------------------------------------------

@case("real/voc2007_trainval")
def _(tmp):
    from yolotools.io.voc import read_voc
    return reader_result(lambda: read_voc([VOC2007], "trainval"), need=VOC2007)


@case("real/voc2007_test_darknet")
def _(tmp):
    from yolotools.io.voc import read_voc
    return reader_result(lambda: read_voc([VOC2007], "test", convention="darknet"), need=VOC2007)


@case("real/voc2007_convert_cli")
def _(tmp):
    from click.testing import CliRunner

    from yolotools.cli import main

    def run():
        for split in ("trainval", "test"):
            r = CliRunner().invoke(main, ["convert", "voc", str(VOC2007), "--split", split, "--out", str(tmp / "out"), "--json",
                                          "--image-mode", "none", "-q"])
            assert r.exit_code == 0, r.output
        return tmp / "out"
    return tree_result(run, need=VOC2007)


for _fmt, _rel, _kw in [("cvat", "cvat_format/annotations.xml", {}), ("labelme", "labelme_format", {}),
                        ("openimages", "openimages_format/all_bounding_boxes.csv", {}),
                        ("openimages", "openimages_format/all_bounding_boxes.csv", {"image_sizes": {}}),
                        ("coco", "coco_format_v1/instances_default.json", {}), ("coco", "coco_format_v2/instances_v2.json", {}),
                        ("voc", "imagenet_format", {"convention": "raw", "split": "all"}),
                        ("voc", "pascalvoc_format", {"convention": "raw", "split": "all"}),
                        ("yolo", "yolo_format/obj_train_data", {"classes": "obj.names"})]:
    for _with_images in (True, False):
        @case(f"real/review_{_fmt}_{_rel.split('/')[0]}_{'sizes' if _kw.get('image_sizes') is not None else ''}"
              f"{'images' if _with_images else 'noimages'}")
        def _(tmp, fmt=_fmt, rel=_rel, kw=_kw, with_images=_with_images):
            kw = dict(kw)
            if "classes" in kw:
                kw["classes"] = (REVIEW_GTS / "yolo_format" / kw["classes"]).read_text().split() if REVIEW_GTS.is_dir() else None
            return reader_result(lambda: read_format(fmt, REVIEW_GTS / rel, REVIEW_IMAGES if with_images else None, **kw),
                                 need=REVIEW_GTS)


@case("real/coco128_json")
def _(tmp):
    from yolotools.io.coco import read_coco
    return reader_result(lambda: read_coco(COCO128_JSON), need=COCO128_JSON)


@case("real/coco128_json_noclip")
def _(tmp):
    from yolotools.io.coco import read_coco
    return reader_result(lambda: read_coco(COCO128_JSON, clip=False, class_order="name"), need=COCO128_JSON)


@case("real/coco128_yolo_kmeans")
def _(tmp):
    from yolotools.anchors.run import run_kmeans
    return reader_result(lambda: run_kmeans(COCO128_YOLO / "config.yaml", 9, split="train"), need=COCO128_YOLO)


@case("real/voc2007_kmeans")
def _(tmp):
    from yolotools.anchors.run import run_kmeans
    return reader_result(lambda: run_kmeans(VOC2007, 9, split="trainval"), need=VOC2007)


@case("real/coco128_yolo")
def _(tmp):
    from yolotools.io.yolo import read_yolo
    return reader_result(lambda: read_yolo(COCO128_YOLO / "config.yaml", "train"), need=COCO128_YOLO)


@case("real/coco_tiny_val")
def _(tmp):
    from yolotools.io.coco import read_coco
    js = sorted((COCO_TINY / "annotations").glob("*val*.json")) if COCO_TINY.is_dir() else []
    return reader_result(lambda: read_coco(js[0], COCO_TINY / "val2017", check_images=True), need=COCO_TINY)


@case("real/voc2007_to_formats")
def _(tmp):
    """VOC2007 trainval written in every format (the writers' bytes)."""
    from yolotools.io.voc import read_voc

    def run():
        ds, _ = read_voc([VOC2007], "trainval")
        for fmt in [*TOOL_FORMATS, "coco"]:
            f = FORMATS[fmt]
            write_format(fmt, ds, tmp / "out" / f"{fmt}{f.suffix}")
        return tmp / "out"
    return tree_result(run, need=VOC2007)


@case("real/voc2007_formats_back")
def _(tmp):
    """VOC2007 trainval through every format and back: what each reader gives (sizes from the VOC files)."""
    from yolotools.io.voc import read_voc

    def run():
        ds, _ = read_voc([VOC2007], "trainval")
        sizes = {r.image_id: r.image_hw for r in ds}
        out = []
        for fmt in TOOL_FORMATS:
            f = FORMATS[fmt]
            p = tmp / f"{fmt}{f.suffix}"
            write_format(fmt, ds, p)
            back = read_format(fmt, p, image_sizes=sizes)
            out.append((fmt, back))
        return out
    return reader_result(run, need=VOC2007, many=True)


# the generated dataset in every format, clean and messy ----------------------------------

@case("gen/writers")
def _(tmp):
    def run():
        written(tmp)
        ds = random_dataset(40, seed=2)
        write_format("coco", ds, tmp / "coco.json")
        write_format("voc", random_dataset(40, seed=2, odd_names=False), tmp / "voc")
        return tmp
    return tree_result(run)


for _fmt in TOOL_FORMATS:
    for _mess in ("clean", "classes", "sizes", "no_images"):
        @case(f"gen/{_fmt}_{_mess}")
        def _(tmp, fmt=_fmt, mess=_mess):
            imgs, ds, out = written(tmp)
            kw: dict = {}
            images = imgs
            if mess == "classes":
                kw["classes"] = ["car", "dög"] if fmt != "kitti" else ["car", "dog"]
            elif mess == "sizes":
                kw["image_sizes"] = {r.image_id: (max(1, r.image_hw[0] // 3), max(1, r.image_hw[1] // 2)) for r in ds}
                images = None
            elif mess == "no_images":
                images = None
            if fmt == "kitti" and images is None:
                kw.setdefault("image_sizes", {})
            return _read(fmt, out[fmt], images, **kw)


for _strict in (False, True):
    for _fmt in TOOL_FORMATS:
        @case(f"gen/{_fmt}_classes_{'strict' if _strict else 'lax'}")
        def _(tmp, fmt=_fmt, strict=_strict):
            imgs, ds, out = written(tmp)
            return _read(fmt, out[fmt], imgs, classes=["car"], strict=strict)


# YOLO -----------------------------------------------------------------------------------

def odd_yolo(root: Path) -> Path:
    """A YOLO dataset whose label files and images hold every oddity the YOLO reader meets."""
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = random.Random(3)
    texts = ["0 0.5 0.5 0.2 0.2\n1 0.25 0.75 0.1 0.3\n", "0 0.5 0.5 0.2 0.2", "0 0.5 0.5 0.2 0.2\r\n1 .5 5e-1 +0.1 1E-1\r\n",
             "0 0.5 0.5 0.2 0.2\r1 0.5 0.5 0.1 0.1\n", "\ufeff0 0.5 0.5 0.2 0.2\n", "0 0.5 0.5 0.2 0.2\n\n", "0\t0.5  0.5\t0.2 0.2\n",
             "", "\n", "0 nan 0.5 0.2 0.2\n", "0 0.5 0.5 0.2 0.2 0.9\n", "3 0.5 0.5 0.2 0.2\n", "0.5 0.5 0.5 0.2 0.2\n",
             "0 0.95 0.5 0.2 0.2\n", "0 1_0 0.5 0.2 0.2\n", "0 0x1p-1 0.5 0.2 0.2\n", "0 0.5 0.5 0 0.2\n", "0 0.5 0.5 -0.2 0.2\n",
             "0 0.5000001 0.5 0.999999 0.2\n", "a b c d e\n", "0 0.5 0.5 0.2\n", "0 \u0660.5 0.5 0.2 0.2\n", "0 0.5 0.5 0.2 0.2\x0c\n"]
    lines = []
    side = {}
    for i in range(120):
        iid = f"{i:04d}"
        kind = i % 6
        h, w = rng.randint(10, 300), rng.randint(10, 300)
        if kind == 0:
            Image.new("RGB", (w, h)).save(root / "images" / f"{iid}.jpg", "JPEG")
        elif kind == 1:
            exif = Image.Exif()
            exif[0x0112] = 6
            Image.new("RGB", (w, h)).save(root / "images" / f"{iid}.jpg", "JPEG", exif=exif)
        elif kind == 2:
            (root / "images" / f"{iid}.jpg").write_bytes(png(h, w))
        elif kind == 3:
            Image.new("RGB", (w, h)).save(root / "images" / f"{iid}.jpg", "GIF")
        elif kind == 4:
            (root / "images" / f"{iid}.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x02garbage")
        if i % 9 != 8:
            text = rng.choice(texts[:3]) if rng.random() < 0.6 else rng.choice(texts)
            (root / "labels" / f"{iid}.txt").write_bytes(text.encode("utf-8"))
        e = {"image_hw": [h, w]}
        if i % 4 == 0:
            e["difficult_lines"] = [1, 2] if i % 8 == 0 else [1]
        if i % 10 == 0:
            e["crowd_lines"] = [1.0, "2", 7, [1]]
        if i % 15 == 0:
            e["attrs"] = {"1": {"x": 1}}
        if i % 6 == 5:
            e["source_path"] = str(root / "nowhere.jpg")
        side[iid] = e
        lines.append(f"images/{iid}.jpg\n")
    (root / "train.txt").write_text("".join(lines))
    (root / "train.yolotools.json").write_text(json.dumps({"format": "yolotools-sidecar", "version": 1, "split": "train",
                                                           "class_names": ["a", "b", "c"], "category_ids": [1, 2, 3],
                                                           "images": side}))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: train.txt\nval: train.txt\nnames: [a, b, c]\n")
    return root / "data.yaml"


@case("yolo/odd")
def _(tmp):
    from yolotools.io.yolo import read_yolo
    data = odd_yolo(tmp / "odd")
    lines: dict = {}
    return reader_result(lambda: (*read_yolo(data, "train", line_numbers=lines), lines))


@case("yolo/odd_scores")
def _(tmp):
    from yolotools.io.yolo import read_yolo
    data = odd_yolo(tmp / "odd")
    return reader_result(lambda: read_yolo(data, "train", with_scores=True))


@case("yolo/odd_columns_kmeans")
def _(tmp):
    """What kmeans reads of a YOLO source (box sizes, as arrays) on the odd set."""
    from yolotools.anchors.run import run_kmeans

    data = odd_yolo(tmp / "odd")
    return reader_result(lambda: run_kmeans(data, 3, split="train"))


for _skip, _crowd in [(False, "skip"), (True, "skip"), (False, "keep")]:
    @case(f"yolo/write_{_skip}_{_crowd}")
    def _(tmp, skip=_skip, crowd=_crowd):
        from yolotools.io.yolo import writer

        ds = random_dataset(80, seed=4, odd_names=False)
        recs = list(ds.records)
        recs[5] = ImageRecord("sub/nested", None, recs[5].image_hw, recs[5].annotations)
        a = recs[7].annotations
        recs[7] = ImageRecord(recs[7].image_id, None, recs[7].image_hw,
                              Annotations(a.boxes, a.class_ids, area=np.arange(len(a), dtype=np.float64)), source_id=17)
        ds = DetectionDataset(ds.class_map, tuple(recs))

        def run():
            writer.write_yolo(ds, tmp / "out", "train", skip_difficult=skip, crowd=crowd, images="none")
            return tmp / "out"
        return tree_result(run)


# KITTI, CVAT, LabelMe, TFOD files in and around their plain forms -------------------------

_KB = "Car 0.00 0 -10.00 10.00 20.00 50.00 60.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 -10.00"
KITTI_LINES = [
    [_KB, _KB.replace("Car", "Van"), ""],
    [_KB + " 0.75", "\ufeff" + _KB],
    [_KB.replace("0.00 0 -10.00", "0.50 2 1.25"), _KB.replace("-1.00 -1.00 -1.00", "1.5 1.6 3.9")],
    [_KB.replace(" ", "\t"), _KB + "\r", ""],
    [_KB.replace("Car", "Fußgänger"), _KB.replace("Car", "Dont\u00a0Care")],
    [_KB.replace("10.00", "nan", 1)],
    [_KB.replace("10.00", "1e999", 1)],
    [_KB.replace("-10.00", "-1e1").replace("10.00", "1_0", 1)],
    [_KB + "\x0b" + _KB],
    [_KB.replace("Car", "Car\x1fTruck")],
    [_KB, "Car 1 2 3"],
    [_KB.replace("0.00 0", "0.00 1.7") + " 0.5"],
]
for _k, _lines in enumerate(KITTI_LINES):
    @case(f"kitti/{_k}")
    def _(tmp, lines=_lines):
        (tmp / "k" / "label_2").mkdir(parents=True)
        (tmp / "k" / "image_2").mkdir()
        for i in range(3):
            (tmp / "k" / "label_2" / f"{i:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            (tmp / "k" / "image_2" / f"{i:03d}.png").write_bytes(png(100, 200))
        return _read("kitti", tmp / "k")


_CVAT_HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task><labels>'
              '<label><name>car</name><attributes><attribute><name>color</name></attribute></attributes></label>'
              '<label><name> b&amp;w </name></label></labels></task></meta>\n')
_BOX = '<box label="car" occluded="0" source="manual" xtl="1.5" ytl="2" xbr="30.25" ybr="40" z_order="0"/>'
_IMG = '<image name="a.jpg" width="100" height="50">'
CVAT_BODIES = [
    '<image id="0" name="a.jpg" width="100" height="50">' + _BOX + _BOX.replace("car", "b&amp;w") + "</image>",
    '<image id="0" name="a&#x20;b.jpg" width="100" height="50">\n  ' + _BOX[:-2] + ">\n  </box>\n</image>"
    '<image name="e.jpg" width="9" height="9"/>',
    "<image name='q&quot;.jpg' width='100' height='50'>" + _BOX.replace("car", "d&#246;g") + "</image>",
    _IMG + _BOX.replace('occluded="0"', 'occluded="1"') + "</image>",
    _IMG + _BOX.replace('z_order="0"', 'z_order="0" group_id="4"') + "</image>",
    _IMG + _BOX.replace("/>", ' rotation="15"/>') + "</image>",
    _IMG + _BOX.replace("/>", ' rotation="0.0"/>') + "</image>",
    _IMG + _BOX[:-2] + '><attribute name="color">red</attribute></box></image>',
    _IMG + _BOX[:-2] + '><attribute name="difficult">true</attribute></box></image>',
    _IMG + "<!-- c -->" + _BOX + "</image>",
    _IMG + _BOX.replace("1.5", "1,5") + "</image>",
    _IMG + _BOX.replace("xtl", 'xtl="3" xtl', 1) + "</image>",
    _IMG + _BOX.replace("car", "c&bad;ar") + "</image>",
    '<image name="a\tb.jpg" width="100" height="50">' + _BOX + "</image>",
    _IMG + '<polygon label="car" points="1,2;3,4;5,1"/>' + _BOX + "</image>",
    '<image name="a.jpg" width="100.0" height="50">' + _BOX + "</image>",
    _IMG + _BOX.replace("40", "60") + "</image>",
    '<image name="../a.jpg" width="100" height="50">' + _BOX + "</image>" + _IMG + "</image>",
    _IMG + _BOX + "</image>" + _IMG + "</image>",
    _IMG + "text" + _BOX + "</image>",
    _IMG + _BOX + '</image><track id="0" label="car"></track>',
    '<image name="\xe9.jpg" width="100" height="50" id="\U0001f600">' + _BOX + "</image>",
    _IMG + _BOX.replace("car", "truck") + "</image>",
    _IMG + _BOX.replace('label="car" ', "") + "</image>",
]
for _k, _body in enumerate(CVAT_BODIES):
    @case(f"cvat/{_k}")
    def _(tmp, body=_body):
        f = tmp / "a.xml"
        f.write_text(_CVAT_HEAD + body + "\n</annotations>\n", encoding="utf-8")
        return _read("cvat", f)

_CVAT_GOOD = _CVAT_HEAD + f'<image name="a.jpg" width="100" height="50">{_BOX}</image>\n</annotations>\n'
CVAT_BAD = [_CVAT_GOOD.encode().replace(b'name="a.jpg"', b'name="a.jpg" id="\xff"'),
            _CVAT_GOOD.encode().replace(b"</annotations>", b""), _CVAT_GOOD.encode().replace(b'width="100"', b'width="100" width="1"'),
            _CVAT_GOOD.encode().replace(b"a.jpg", b"a\xef\xbf\xbe.jpg"), _CVAT_GOOD.encode() + b"<x/>"]
for _k, _data in enumerate(CVAT_BAD):
    @case(f"cvat/bad{_k}")
    def _(tmp, data=_data):
        f = tmp / "a.xml"
        f.write_bytes(data)
        return _read("cvat", f)


_LM = ('{"version": "5.4.1", "flags": {}, "shapes": [{"label": "car", "points": [[30.5, 2], [1, 40.25]], "group_id": null, '
       '"description": "", "shape_type": "rectangle", "flags": {}}], "imagePath": "../images/a.jpg", "imageData": null, '
       '"imageHeight": 50, "imageWidth": 100}')
LABELME_TEXTS = [
    _LM, _LM.replace('"car"', '"d\\u00f6g"'), "\ufeff" + _LM, _LM.replace("30.5", "NaN"), _LM.replace("}]", "},]"),
    _LM.replace('"label": "car"', '"label": "car", "label": "bus"'), _LM.replace('"rectangle"', '"polygon"'),
    _LM.replace('"group_id": null', '"group_id": 3'), _LM.replace('"description": ""', '"description": "x"'),
    _LM.replace('"flags": {}}', '"flags": {"occluded": true}}'), _LM.replace("50", "50.0"), _LM.replace('"imageHeight": 50, ', ""),
    _LM.replace('"../images/a.jpg"', "null"), _LM.replace('"imagePath": "../images/a.jpg", ', ""),
    _LM.replace('"../images/a.jpg"', '"a.jpg"'), _LM.replace("[30.5, 2]", "[30.5, 2, 7]"), _LM.replace('"imageData": null', '"imageData": "\\q"'),
    _LM.replace('"imageData": null', '"imageData": [[[[[]]]]]'), _LM.replace('"shapes": [', '"shapes": [], "x": ['), _LM + "x",
    _LM.replace("40.25", "1e400"), _LM.replace('"car"', '"truck"'), _LM.replace("40.25", "140"), _LM.replace('"../images/a.jpg"', '"../images/b.jpg"'),
    _LM.replace("[[30.5, 2], [1, 40.25]]", "[[1, 2], [1, 40]]"), _LM.replace("[[30.5, 2], [1, 40.25]]", "[[-0.0, 0.0], [0.0, 9]]"),
]
for _k, _text in enumerate(LABELME_TEXTS):
    for _mode in ("images", "noimages", "badutf8"):
        @case(f"labelme/{_k}_{_mode}")
        def _(tmp, text=_text, mode=_mode):
            (tmp / "ann").mkdir()
            (tmp / "images").mkdir()
            (tmp / "images" / "a.jpg").write_bytes(png(50, 100))
            (tmp / "ann" / "a.jpg").write_bytes(png(50, 100))
            for k in range(2):
                (tmp / "ann" / f"{k}.json").write_text(text, encoding="utf-8")
            if mode == "badutf8":
                (tmp / "ann" / "0.json").write_bytes(text.encode() + b"\xff")
            return _read("labelme", tmp / "ann", tmp / "images" if mode != "noimages" else None)


@case("labelme/export_layout")
def _(tmp):
    (tmp / "annotations").mkdir()
    (tmp / "images").mkdir()
    for i in range(3):
        (tmp / "images" / f"{i}.jpg").write_bytes(png(50, 60))
        (tmp / "annotations" / f"{i}.json").write_text(json.dumps({
            "imagePath": f"../images/{i}.jpg", "imageHeight": 50, "imageWidth": 60,
            "shapes": [{"label": "a", "points": [[1, 2], [30, 40]], "shape_type": "rectangle"}]}))
    return reader_result(lambda: [("images", read_format("labelme", tmp / "annotations", tmp / "images")),
                                  ("none", read_format("labelme", tmp / "annotations"))], many=True)


TFOD_ROWS = [
    ["a.jpg,100,50,car,1,2,30,40", "b.jpg,80,60,dog,5,6,70,50", "a.jpg,100,50,dog,3,4,50,45"],
    ["a.jpg,100,50,car,1,2,30,40", "a.jpg,101,50,dog,3,4,50,45"],
    ["a.jpg,100,50,car,0.1,0.2,0.3,0.4", "b.jpg,80,60,dog,0.5,0.6,0.7,0.9"],
    ["a.jpg,100,50,car,1,2,30,40", "a.jpg,100,50,dog,3,4,50,45,extra"],
    ["a.jpg,100.9,50,car,1,2,30,40", " b.jpg ,80,60,dog,5,6,70,50"],
    ['"a,b.jpg",100,50,car,1,2,30,40'],
    ["a.jpg,1e999,50,car,1,2,30,40"],
]
for _k, _rows in enumerate(TFOD_ROWS):
    for _units in ("auto", "pixels"):
        @case(f"tfod/{_k}_{_units}")
        def _(tmp, rows=_rows, units=_units):
            f = tmp / "t.csv"
            f.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + "\n".join(rows) + "\n")
            return _read("tfod", f, units=units)


OI_ROWS = [
    ["a,xclick,/m/car,1,0.1,0.5,0.2,0.6,0,1,0,0,0", "b,xclick,dog,1,0.2,0.3,0.4,0.9,1,0,1,0,0"],
    ['a,xclick,car,1,"0,1","0,5","0,2","0,6",0,0,0,0,0'],
    ["a,xclick,car,1,0.1,0.5,0.2", "a,xclick,car,1,nan,0.5,0.2,0.6,0,0,0,0,0"],
    ["a,xclick,car,1,0.5,0.1,0.2,0.6,0,0,0,0,0", "c,,car,,0.1,1.5,0.2,0.6,,,,,"],
    ["../a,xclick,car,1,0.1,0.5,0.2,0.6,0,0,0,0,0"],
]
for _k, _rows in enumerate(OI_ROWS):
    @case(f"openimages/{_k}")
    def _(tmp, rows=_rows):
        f = tmp / "oi.csv"
        f.write_text(",".join(("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
                               "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")) + "\n" + "\n".join(rows) + "\n")
        (tmp / "cd.csv").write_text("/m/car,car\n")
        return _read("openimages", f, image_sizes={"a": (100, 200), "b": (50, 60)}, class_descriptions=tmp / "cd.csv")


# COCO instances and results, clean and messy ---------------------------------------------

def coco_file(tmp: Path, **over) -> Path:
    d = {
        "images": [{"id": 10, "file_name": "a.jpg", "width": 200, "height": 100},
                   {"id": 11, "file_name": "sub/b.jpg", "width": 50, "height": 50}],
        "categories": [{"id": 90, "name": "toothbrush"}, {"id": 1, "name": "person"}, {"id": 5, "name": "airplane"}],
        "annotations": [{"id": 1, "image_id": 10, "category_id": 90, "bbox": [10, 20, 30, 40], "area": 900.5, "iscrowd": 0},
                        {"id": 2, "image_id": 10, "category_id": 1, "bbox": [0, 0, 200, 100], "area": 12000, "iscrowd": 1}],
    }
    d.update(over)
    p = tmp / "instances.json"
    p.write_text(json.dumps(d))
    return p


COCO_CASES = [
    {},
    {"images": [{"id": 10, "file_name": "./a.jpg", "width": 200, "height": 100}, {"id": 11, "file_name": "b//c.jpg", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "x\\a.jpg", "width": 200, "height": 100}, {"id": 11, "file_name": ".hidden", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "a.", "width": 200, "height": 100}, {"id": 11, "file_name": "d.e/f.g.png", "width": 50.7, "height": 50}]},
    {"images": [{"id": 10, "file_name": "a.jpg", "width": 200, "height": 100}, {"id": 11, "file_name": "a.png", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "a.jpg", "width": 200, "height": 100}, {"id": 10, "file_name": "b.jpg", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "a.jpg", "width": 200}, {"id": True, "file_name": "b.jpg", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "../a.jpg", "width": 200, "height": 100}, {"id": 11, "file_name": "C:b.jpg", "width": 50, "height": 50}]},
    {"images": [{"id": 10, "file_name": "a.jpg", "width": 0.5, "height": 10}, {"id": 11, "file_name": "b.jpg", "width": 10, "height": 10}, 7,
                {"id": 12, "file_name": 3}]},
    {"annotations": [{"id": 1, "image_id": 10, "category_id": 90, "bbox": [10.1, 20.2, 30.3, 40.4], "area": "big", "iscrowd": "0"},
                     {"id": 2, "image_id": 10, "category_id": 1, "bbox": [0, 0, 200, 100], "iscrowd": 2},
                     {"id": 3, "image_id": 11, "category_id": 5, "bbox": [True, 0, 2, 2], "area": 4}]},
    {"annotations": [{"id": 1, "image_id": 10, "category_id": 90, "bbox": [-1, 20, 30, 40]},
                     {"id": 2, "image_id": 11, "category_id": 1, "bbox": [1e-300, 0, 1e-320, 10]}]},
    {"annotations": [{"id": 1, "image_id": 10.0, "category_id": 90, "bbox": [1, 2, 3, 4]}, [1, 2]]},
    {"annotations": [{"id": 1, "image_id": 10, "category_id": 90, "bbox": [1, 2, 3]}]},
    {"annotations": [{"id": 1, "image_id": 10, "category_id": 90, "bbox": [190, 90, 30, 40], "area": None},
                     {"image_id": 10, "category_id": 90, "bbox": [300, 10, 5, 5]}, {"id": "x", "image_id": 10, "category_id": 90, "bbox": [1, 2, 0, 4]},
                     {"id": 4, "image_id": 12, "category_id": 90, "bbox": [1, 2, 3, 4]}, {"id": 5, "image_id": 11, "category_id": 2, "bbox": [1, 2, 3, 4]},
                     {"id": 6, "image_id": 11, "category_id": 5, "bbox": [1, "2", 3, 4]}, {"id": 7, "image_id": 11, "category_id": 5, "bbox": [1, 2, 3, 4.5],
                                                                                          "area": 1e308, "iscrowd": True},
                     {"id": 8, "image_id": 11, "category_id": 5, "bbox": [-0.0, 0.0, 50, 50]}, {"id": 9, "image_id": 11, "category_id": 5, "bbox": [-3, -3, 2, 2]}]},
    {"annotations": []},
]
for _k, _over in enumerate(COCO_CASES):
    for _clip in (True, False):
        for _strict in (False, True):
            @case(f"coco/{_k}_{'clip' if _clip else 'noclip'}{'_strict' if _strict else ''}")
            def _(tmp, over=_over, clip=_clip, strict=_strict):
                from yolotools.io.coco import read_coco
                p = coco_file(tmp, **over)
                return reader_result(lambda: read_coco(p, clip=clip, strict=strict))

    @case(f"coco/{_k}_images")
    def _(tmp, over=_over):
        from yolotools.io.coco import read_coco
        p = coco_file(tmp, **over)
        (tmp / "imgs" / "sub").mkdir(parents=True)
        (tmp / "imgs" / "a.jpg").write_bytes(png(100, 200))
        (tmp / "imgs" / "sub" / "b.jpg").write_bytes(png(60, 50))
        return reader_result(lambda: read_coco(p, tmp / "imgs", check_images=True))


RESULTS_CASES = [
    [{"image_id": 10, "category_id": 90, "bbox": [10, 20, 30, 40], "score": 0.9}, {"image_id": 11, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}],
    [{"image_id": 10, "category_id": 90, "bbox": [10, 20, 30, 40], "score": 0.9}, {"image_id": 12, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
     {"image_id": 10, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}],
    [{"image_id": 10, "category_id": 90, "bbox": [10, 20, -30, 40], "score": 0.9}, {"image_id": 10, "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.4}],
    [{"image_id": 10, "category_id": 90, "bbox": [10, 20, 30], "score": 0.9}, 3, {"image_id": "10", "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.4},
     {"image_id": 10, "category_id": 90, "bbox": [1, 2, 3, 4], "score": None}, {"image_id": 10, "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.3}],
    [{"image_id": 99, "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.3, "file_name": "a.jpg"},
     {"image_id": 98, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.2, "file_name": "sub/b.png"}],
    {"annotations": [{"image_id": 10, "category_id": 90, "bbox": [1.5, 2, 3, 4], "score": 1}]},
    {"x": 1},
    [{"image_id": True, "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.3}],
]
for _k, _res in enumerate(RESULTS_CASES):
    @case(f"results/{_k}")
    def _(tmp, res=_res):
        from yolotools.eval.predictions import read_predictions
        from yolotools.io.coco import read_coco
        gt, _ = read_coco(coco_file(tmp), clip=False)
        (tmp / "res.json").write_text(json.dumps(res))
        return reader_result(lambda: read_predictions(tmp / "res.json", gt))

    @case(f"results/{_k}_eval")
    def _(tmp, res=_res):
        from yolotools.eval import evaluate_coco_files
        coco_file(tmp)
        (tmp / "res.json").write_text(json.dumps(res))
        return reader_result(lambda: evaluate_coco_files(tmp / "instances.json", tmp / "res.json"))


def sidecar_mix(root: Path, with_scores: bool) -> Path:
    """700 images whose sizes come from the sidecar, label files clean and dirty (words, short rows, classes out
    of range, NaN, clipped boxes, blank lines), some missing, sidecars with flags (stale ones too), areas,
    attributes, left-out boxes and source ids."""
    rng = np.random.default_rng(3)
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    side = {}
    for i in range(700):
        iid = f"{i:04d}"
        n = int(rng.integers(0, 5))
        rows = []
        for _ in range(n):
            cx, cy = (float(v) for v in rng.uniform(0.05, 0.95, 2))
            w, h = (float(v) for v in rng.uniform(0.01, 0.2, 2))
            row = [str(int(rng.integers(0, 3))), repr(cx), repr(cy), repr(w), repr(h)] + ([repr(float(rng.uniform()))] if with_scores else [])
            kind = rng.integers(0, 60)
            if kind == 0:
                row[1] = "x"
            elif kind == 1:
                row = row[:-1]
            elif kind == 2:
                row[0] = "7"
            elif kind == 3:
                row[3] = "nan"
            elif kind == 4:
                row[1] = "0.999"
            elif kind == 5:
                row[0] = "1.5"
            elif kind == 6:
                row[0] = "3"
            rows.append(" ".join(row))
        if i % 97 == 5:
            rows.insert(1, "")
        if i % 50 != 7:
            (root / "labels" / f"{iid}.txt").write_text("".join(r + "\n" for r in rows))
        e = {"image_hw": [int(rng.integers(100, 900)), int(rng.integers(100, 900))], "source_path": f"/x/{iid}.jpg"}
        if n and i % 3 == 0:
            e["difficult_lines"] = [1] + ([n + 3] if i % 9 == 0 else [])
        if n and i % 5 == 0:
            e["crowd_lines"] = [n]
        if i % 41 == 0:
            e["area"] = [1.5] * n
        if n and i % 43 == 0:
            e["attrs"] = {"1": {"occluded": "1"}}
        if i % 47 == 0:
            e["not_written"] = [{"class": 1, "xyxy": [1.0, 2.0, 30.0, 40.0], "difficult": True, "crowd": False, "reason": "difficult"}]
        if i % 53 == 0:
            e["source_id"] = i * 10
        side[iid] = e
    (root / "classes.names").write_text("a\nb\nc\n")
    (root / "train.txt").write_text("".join(f"images/{i:04d}.jpg\n" for i in range(700)))
    (root / "train.yolotools.json").write_text(json.dumps({"format": "yolotools-sidecar", "version": 1, "split": "train",
                                                           "class_names": ["a", "b", "c"], "category_ids": [1, 2, 3], "images": side}))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: train.txt\nval: train.txt\nnames: [a, b, c]\n")
    return root / "data.yaml"


for _ws in (False, True):
    @case(f"yolo/sidecar_mix_{'scores' if _ws else 'labels'}")
    def _(tmp, ws=_ws):
        from yolotools.io.yolo import read_yolo
        data = sidecar_mix(tmp / "ds", ws)
        lines: dict = {}
        return reader_result(lambda: (*read_yolo(data, "train", with_scores=ws, line_numbers=lines), lines))
