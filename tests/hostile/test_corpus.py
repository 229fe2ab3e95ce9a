"""A generated corpus of hostile and broken inputs, and one parametrised test
that runs every command that reads that kind of file and asserts what a user
relies on: the documented exit code, no traceback, output under 20 KB, done
within a time bound, inputs byte-identical, nothing written outside --out.
(The path-escape, YAML alias and output-over-input cases are in
test_security.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.conftest import voc_object

EXE = [sys.executable, "-m", "yolotools.cli"]


def _png_bytes(w: int, h: int, *, truncate: bool = False, rows: bool = True) -> bytes:
    """A grey RGB PNG; ``rows=False`` writes only a header claiming ``w x h``
    (no pixel data), ``truncate`` cuts the file in its data."""

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + b"\x80" * (3 * w) for _ in range(h))) if rows else zlib.compress(b"\x00" * 64)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return out[: len(out) // 2] if truncate else out


def _jpeg_bytes(*, truncate: bool = False) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(buf, format="JPEG")
    b = buf.getvalue()
    return b[: len(b) * 2 // 3] if truncate else b


def _yolo_set(root: Path, images: dict[str, bytes], labels: dict[str, str], names=("a", "b")) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for n, b in images.items():
        (root / "images" / n).write_bytes(b)
    for n, t in labels.items():
        (root / "labels" / n).write_bytes(t.encode("utf-8") if isinstance(t, str) else t)
    (root / "train.txt").write_text("".join(f"images/{n}\n" for n in images))
    y = root / "data.yaml"
    y.write_text(f"path: .\ntrain: train.txt\nval: train.txt\nnames: {list(names)}\n")
    return y


def _voc(root: Path, xml: dict[str, str]) -> Path:
    v = root / "VOC2007"
    (v / "Annotations").mkdir(parents=True)
    (v / "JPEGImages").mkdir()
    (v / "ImageSets" / "Main").mkdir(parents=True)
    for i, t in xml.items():
        (v / "Annotations" / f"{i}.xml").write_text(t)
        (v / "JPEGImages" / f"{i}.png").write_bytes(_png_bytes(50, 40))
    (v / "ImageSets" / "Main" / "trainval.txt").write_text("".join(f"{i}\n" for i in xml))
    return v


def _good_xml(i: str = "good") -> str:
    return (f"<annotation><filename>{i}.png</filename><size><width>50</width><height>40</height><depth>3</depth></size>"
            + voc_object("dog", (2, 2, 20, 20)) + "</annotation>")


def _coco(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "imgs").mkdir()
    (root / "imgs" / "a.png").write_bytes(_png_bytes(50, 40))
    p = root / "instances_x.json"
    p.write_text(text)
    return p


def _coco_doc(images=None, annotations=None, categories=None) -> str:
    return json.dumps({
        "images": images if images is not None else [{"id": 1, "file_name": "a.png", "width": 50, "height": 40}],
        "annotations": annotations if annotations is not None else [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10],
                                                                     "area": 100, "iscrowd": 0}],
        "categories": categories if categories is not None else [{"id": 1, "name": "dog"}]})


TINY_CFG = ("[net]\nwidth=64\nheight=64\nchannels=3\n[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
            "[convolutional]\nfilters=21\nsize=1\nstride=1\npad=1\nactivation=linear\n[yolo]\nmask=0,1,2\nanchors=8,8, 16,16, 32,32\n"
            "classes=2\nnum=3\n")


@dataclass
class Case:
    """``make(tmp) -> (argv, expected exit code, needles that must be in the output)``."""

    name: str
    make: Callable[[Path], tuple[list, int, list[str]]]
    seconds: float = 60.0
    check: Callable[[Path, str], None] | None = field(default=None)


def _json_out(tmp: Path, out: str) -> dict:
    return json.loads(out[out.index("{"):])


CASES = [
    # ---------------------------------------------------------------- XML
    Case("voc_xxe", lambda t: (["convert", "voc", _voc(t / "in", {
        "x": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><annotation>&e;</annotation>',
        "good": _good_xml()}), "--out", t / "out", "--json"], 0, ["unsafe_xml", "x.xml"])),
    Case("voc_billion_laughs", lambda t: (["convert", "voc", _voc(t / "in", {
        "x": '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
             '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><annotation>&d;</annotation>',
        "good": _good_xml()}), "--out", t / "out", "--json"], 0, ["unsafe_xml"])),
    *[Case(f"voc_xxe_{cmd[0]}", (lambda cmd: lambda t: ([cmd[0], _voc(t / "in", {
        "x": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><annotation>&e;</annotation>',
        "good": _good_xml()}), *cmd[1:]], 0, ["x.xml"]))(cmd)) for cmd in (["audit"], ["kmeans", "-k", "1", "--json"])],
    Case("voc_truncated", lambda t: (["convert", "voc", _voc(t / "in", {"x": _good_xml("x")[:70], "good": _good_xml()}),
                                      "--out", t / "out", "--json"], 0, ["malformed_xml", "x.xml"])),
    Case("voc_nan_inf_huge", lambda t: (["convert", "voc", _voc(t / "in", {
        "x": _good_xml("x").replace("<xmin>2</xmin>", "<xmin>nan</xmin>"),
        "y": _good_xml("y").replace("<xmax>20</xmax>", "<xmax>inf</xmax>"),
        "z": _good_xml("z").replace("<xmax>20</xmax>", "<xmax>1e300</xmax>"),
        "good": _good_xml()}), "--out", t / "out", "--json"], 0, ["bad_coordinates", "x.xml", "y.xml", "box_clipped", "z.xml"])),
    Case("voc_name_with_newline", lambda t: (["convert", "voc", _voc(t / "in", {
        "x": _good_xml("x").replace("<name>dog</name>", "<name>do\ng</name>"), "good": _good_xml()}), "--out", t / "out",
        "--classes", "dog"], 0, ["unknown class 'do\\ng'"])),
    # ---------------------------------------------------------------- JSON
    Case("coco_deep_nesting", lambda t: (["convert", "coco", _coco(t / "in", "[" * 100_000 + "]" * 100_000), "--out", t / "out"],
                                         1, ["instances_x.json", "nested too deeply"])),
    Case("eval_deep_nesting", lambda t: (["eval", "--gt", _coco(t / "in", _coco_doc()), "--pred",
                                          _write(t / "p.json", "[" * 100_000 + "]" * 100_000)], 1, ["p.json", "nested too deeply"])),
    Case("coco_truncated", lambda t: (["convert", "coco", _coco(t / "in", _coco_doc()[:40]), "--out", t / "out"], 1, ["malformed JSON"])),
    Case("coco_nul_file_name", lambda t: (["convert", "coco", _coco(t / "in", _coco_doc(images=[
        {"id": 1, "file_name": "a.png", "width": 50, "height": 40}, {"id": 2, "file_name": "b\u0000.png", "width": 50, "height": 40}])),
        "--images", t / "in" / "imgs", "--out", t / "out", "--json"], 0, ["path_outside_dataset", "images[1]"])),
    Case("coco_category_newline", lambda t: (["convert", "coco", _coco(t / "in", _coco_doc(categories=[{"id": 1, "name": "do\ng"}])),
                                              "--out", t / "out"], 1, ["instances_x.json", "single-line"])),
    Case("eval_negative_width", lambda t: (["eval", "--gt", _coco(t / "in", _coco_doc()), "--pred", _write(t / "p.json", json.dumps([
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, -10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.8}])), "--json"], 0, ["negative bbox width"])),
    # ---------------------------------------------------------------- numbers and text at the edges (#31)
    Case("eval_category_id_2_63", lambda t: (["eval", "--gt", _coco(t / "in", _coco_doc()), "--pred", _write(t / "p.json",
        '[{"image_id": 1, "category_id": 9223372036854775808, "bbox": [1, 1, 10, 10], "score": 0.9},'
        ' {"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.8}]'), "--json"], 0, ["bad_detection", "not integers"])),
    *[Case(f"eval_results_{k}", (lambda raw: lambda t: (["eval", "--gt", _coco(t / "in", _coco_doc()), "--pred", _write_bytes(t / "p.json", raw)],
                                                       1, ["p.json", "not UTF-8"]))(raw))
      for k, raw in {"ff_byte": b'[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9, "note": "\xff"}]',
                     "surrogate_escape": b'[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9, "note": "\\ud800"}]',
                     "surrogate_bytes": b'[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9, "note": "\xed\xa0\x80"}]'
                     }.items()],
    *[Case(f"coco_{k}", (lambda raw: lambda t: (["convert", "coco", _coco_bytes(t / "in", raw), "--out", t / "out"], 1,
                                                ["instances_x.json", "not UTF-8"]))(raw), check=lambda t, out: _assert(not (t / "out").exists(), "--out was written"))
      for k, raw in {"surrogate_escape": _coco_doc(categories=[{"id": 1, "name": "dog"}]).replace('"dog"', '"do\\ud800g"').encode(),
                     "surrogate_bytes": _coco_doc(categories=[{"id": 1, "name": "dog"}]).replace('"dog"', '"do\udcffg"').encode("utf-8", "surrogatepass"),
                     }.items()],
    Case("createml_surrogate", lambda t: (["convert", "createml", _write(t / "in" / "c.json",
        '[{"image": "a.png", "annotations": [{"label": "d\\ud800", "coordinates": {"x": 5, "y": 5, "width": 4, "height": 4}}]}]'),
        "--out", t / "out"], 1, ["c.json", "not UTF-8"]), check=lambda t, out: _assert(not (t / "out").exists(), "--out was written")),
    Case("coco_image_id_2_63", lambda t: (["convert", "coco", _coco(t / "in", _coco_doc(
        images=[{"id": 2**63, "file_name": "b.png", "width": 50, "height": 40}, {"id": 1, "file_name": "a.png", "width": 50, "height": 40}])),
        "--out", t / "out", "--json"], 0, ["bad_image_entry", "images[0]"])),
    Case("eval_gt_image_id_2_63", lambda t: (["eval", "--gt", _coco(t / "in", _coco_doc(
        images=[{"id": 2**63, "file_name": "b.png", "width": 50, "height": 40}, {"id": 1, "file_name": "a.png", "width": 50, "height": 40}])),
        "--pred", _write(t / "p.json", json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9}])), "--json"],
        0, ["bad_image_entry"])),
    Case("labelme_width_2_63", lambda t: (["convert", "labelme", _labelme(t / "in", 2**63), "--out", t / "out", "--json"], 0,
                                          ["bad_image_size", "0.json"])),
    Case("labelstudio_height_2_63", lambda t: (["convert", "labelstudio", _write(t / "in" / "ls.json", json.dumps([{"id": 1, "data": {"image": "a.png"},
        "annotations": [{"result": [{"type": "rectanglelabels", "original_width": 50, "original_height": 2**63,
                                     "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["dog"]}}]}]}])),
        "--out", t / "out", "--json"], 0, ["bad_image_size"])),
    Case("tfod_width_huge", lambda t: (["convert", "tfod", _write(t / "in" / "t.csv", "filename,width,height,class,xmin,ymin,xmax,ymax\n"
        "a.png,9999999999999999999,40,dog,1,2,30,20\nb.png,50,40,dog,1,2,30,20\n"), "--out", t / "out", "--json"], 0, ["bad_image_size"])),
    *[Case(f"voc_width_{k}", (lambda v: lambda t: (["convert", "voc", _voc(t / "in", {
        "x": _good_xml("x").replace("<width>50</width>", f"<width>{v}</width>"), "good": _good_xml()}), "--out", t / "out", "--json"],
        0, ["bad_size", "x.xml"]))(v)) for k, v in {"inf": "inf", "1e999": "1e999", "2_63": str(2**63)}.items()],
    *[Case(f"{cmd[0]}_voc_width_inf", (lambda cmd: lambda t: ([cmd[0], _voc(t / "in", {
        "x": _good_xml("x").replace("<width>50</width>", "<width>inf</width>"), "good": _good_xml()}), *cmd[1:]], 0, ["x.xml"]))(cmd))
      for cmd in (["audit"], ["kmeans", "-k", "1", "--json"])],
    Case("via_surrogate", lambda t: (["convert", "via", _write(t / "in" / "v.json",
        '{"a.png1": {"filename": "a.png", "regions": [{"shape_attributes": {"name": "rect", "x": 1, "y": 2, "width": 5, "height": 5},'
        ' "region_attributes": {"label": "d\\udc00"}}]}}'), "--out", t / "out"], 1, ["v.json", "not UTF-8"]),
         check=lambda t, out: _assert(not (t / "out").exists(), "--out was written")),
    Case("cvat_bad_utf8", lambda t: (["convert", "cvat", _write_bytes(t / "in" / "c.xml",
        b'<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><image id="0" name="a\xff.png" width="50" height="40">'
        b'<box label="dog" xtl="1" ytl="2" xbr="10" ybr="20"/></image></annotations>'), "--out", t / "out"], 1, ["c.xml", "malformed XML"]),
         check=lambda t, out: _assert(not (t / "out").exists(), "--out was written")),
    Case("cvat_surrogate_reference", lambda t: (["convert", "cvat", _write(t / "in" / "c.xml",
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><image id="0" name="a&#xD800;.png" width="50" height="40">'
        '<box label="dog" xtl="1" ytl="2" xbr="10" ybr="20"/></image></annotations>'), "--out", t / "out"], 1, ["c.xml", "malformed XML"])),
    Case("cvat_huge_size", lambda t: (["convert", "cvat", _write(t / "in" / "c.xml",
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><image id="0" name="a.png" width="9223372036854775808" '
        'height="40"><box label="dog" xtl="1" ytl="2" xbr="10" ybr="20"/></image><image id="1" name="b.png" width="50" height="40">'
        '<box label="dog" xtl="1" ytl="2" xbr="10" ybr="20"/></image></annotations>'), "--out", t / "out", "--json"], 0, ["bad_image_size"])),
    Case("kitti_bad_utf8_and_huge", lambda t: (["convert", "kitti", _kitti(t / "in"), "--out", t / "out", "--json"], 0,
                                               ["unreadable_label", "0.txt", "bad_box", "1.txt"])),
    Case("openimages_huge_and_bad_utf8", lambda t: (["convert", "openimages", _write(t / "in" / "oi.csv",
        "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax\na,x,dog,1,0.1,1e999,0.2,0.5\nb,x,dog,1,0.1,0.5,0.2,0.5\n"),
        "--images", _imgs(t / "in" / "imgs"), "--out", t / "out", "--json"], 0, ["bad_box", "line 2"])),
    Case("openimages_bad_utf8", lambda t: (["convert", "openimages", _write_bytes(t / "in" / "oi.csv",
        b"ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax\na,x,d\xffg,1,0.1,0.5,0.2,0.5\n"), "--out", t / "out"], 1,
        ["oi.csv", "not UTF-8"]), check=lambda t, out: _assert(not (t / "out").exists(), "--out was written")),
    Case("yolo_label_bad_utf8_and_huge", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40), "b.png": _png_bytes(50, 40)},
        {"a.txt": b"0 0.5 0.5 0.2 \xff\n", "b.txt": "0 1e999 0.5 0.2 0.2\n1 9223372036854775808 0.5 0.2 0.2\n"}), "--json"], 0,
        ["a.txt", "b.txt", "not_numeric"])),
    # ---------------------------------------------------------------- YOLO txt
    Case("yolo_bom", lambda t: (["kmeans", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)},
                                                     {"a.txt": "\ufeff0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n"}), "-k", "2", "--json"],
                                0, ['"n_boxes": 2'])),
    Case("audit_bom", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)},
                                                     {"a.txt": "\ufeff0 0.5 0.5 0.2 0.2\n"}), "--json"], 0, ['"boxes": 1'])),
    Case("audit_300k_lines", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)},
                                                            {"a.txt": "0 0.5 0.5 0.2 0.2\n" * 300_000})], 0, ["more duplicate"]), seconds=120),
    Case("eval_gt_as_predictions", lambda t: (["eval", "--gt", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)}, {"a.txt": "0 0.5 0.5 0.2 0.2\n"}),
                                               "--pred", t / "in" / "labels"], 1, ["no confidence column"])),
    # ---------------------------------------------------------------- images
    Case("audit_huge_png_header", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40), "h.png": _png_bytes(60000, 60000, rows=False)},
                                                                 {"a.txt": "0 0.5 0.5 0.2 0.2\n", "h.txt": "0 0.5 0.5 0.2 0.2\n"})],
                                             0, ["h.png", "60000x60000"])),
    Case("audit_truncated_png", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40), "h.png": _png_bytes(50, 40, truncate=True)},
                                                               {"a.txt": "0 0.5 0.5 0.2 0.2\n", "h.txt": "0 0.5 0.5 0.2 0.2\n"}), "--decode"],
                                           0, ["h.png", "truncated"])),
    Case("audit_truncated_jpeg", lambda t: (["audit", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40), "j.jpg": _jpeg_bytes(truncate=True)},
                                                                {"a.txt": "0 0.5 0.5 0.2 0.2\n", "j.txt": "0 0.5 0.5 0.2 0.2\n"})],
                                            0, ["j.jpg", "truncated"])),
    Case("audit_missing_images", lambda t: (["audit", _missing_images(t / "in"), "--strict"], 1, ["missing_image", "image file not found"])),
    Case("augment_bad_images", lambda t: (["augment", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40), "h.png": _png_bytes(60000, 60000, rows=False),
                                                                           "tr.png": _png_bytes(50, 40, truncate=True)},
                                                                {"a.txt": "0 0.5 0.5 0.2 0.2\n", "h.txt": "0 0.5 0.5 0.2 0.2\n",
                                                                 "tr.txt": "0 0.5 0.5 0.2 0.2\n"}),
                                           "--n", "3", "--img-size", "64", "--out", t / "out"], 0, ["skipped:", "h.png", "tr.png"]), seconds=90),
    Case("detect_bad_images", lambda t: (["detect", "--cfg", _write(t / "in" / "n.cfg", TINY_CFG), "--weights", _init_weights(t),
                                          _imgs(t / "in" / "imgs"), "--out", t / "out"], 0, ["h.png", "60000x60000", "tr.png", "truncated"]),
         seconds=90),
    # ---------------------------------------------------------------- networks
    *[Case(f"cfg_{k}", (lambda k, v: lambda t: (["model", "summary", _write(t / "in" / "bad.cfg", v)], 1, ["bad.cfg", *k.split("|")]))(k, v))
      for k, v in {
          "filters": TINY_CFG.replace("filters=8", "filters=-8"),
          "size": TINY_CFG.replace("size=3", "size=0"),
          "stride": TINY_CFG.replace("stride=2", "stride=0"),
          "width": TINY_CFG.replace("width=64", "width=0"),
          "activation": TINY_CFG.replace("activation=leaky", "activation=banana"),
          "from": TINY_CFG.replace("[yolo]", "[shortcut]\nfrom=-48\n[yolo]"),
          "layers": TINY_CFG.replace("[yolo]", "[route]\nlayers=-40\n[yolo]"),
          "anchors": TINY_CFG.replace("anchors=8,8", "anchors=nan,8"),
          "GiB": TINY_CFG.replace("width=64\nheight=64", "width=16000\nheight=16000").replace("filters=8", "filters=4096"),
          "parameters": TINY_CFG.replace("filters=8\nsize=3", "filters=8192\nsize=3").replace("filters=21\nsize=1", "filters=65536\nsize=3"),
      }.items()],
    Case("weights_truncated", lambda t: (["model", "convert", _truncated_weights(t), t / "out.pt", "--cfg", t / "in" / "n.cfg"], 1,
                                         ["w.weights"])),
    Case("pickle_payload", lambda t: (["detect", "--weights", _evil_pt(t), _imgs(t / "in" / "imgs"), "--out", t / "out"], 1, ["evil.pt"]),
         check=lambda t, out: _assert(not (t / "PWNED").exists(), "the pickle ran")),
    # ---------------------------------------------------------------- options
    Case("augment_n_0", lambda t: (["augment", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)}, {"a.txt": ""}), "--n", "0", "--out", t / "out"],
                                   2, ["--n"])),
    Case("train_device_missing", lambda t: (["train", "--data", _yolo_set(t / "in", {"a.png": _png_bytes(64, 64)}, {"a.txt": "0 0.5 0.5 0.2 0.2\n"}),
                                             "--device", "cuda:7", "--epochs", "1", "--img-size", "64", "--out", t / "out"], 1, ["cuda:7"])),
    Case("kmeans_img_size_0", lambda t: (["kmeans", _yolo_set(t / "in", {"a.png": _png_bytes(50, 40)}, {"a.txt": "0 0.5 0.5 0.2 0.2\n"}),
                                          "--img-size", "0"], 2, ["--img-size"])),
    Case("detect_conf_nan", lambda t: (["detect", "--cfg", _write(t / "in" / "n.cfg", TINY_CFG), "--weights", _init_weights(t),
                                        _imgs(t / "in" / "imgs"), "--out", t / "out", "--conf", "nan"], 2, ["not a finite number"])),
]


def _assert(cond: bool, msg: str) -> None:
    assert cond, msg


def _write_bytes(p: Path, data: bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def _coco_bytes(root: Path, data: bytes) -> Path:
    p = _coco(root, "{}")
    p.write_bytes(data)
    return p


def _labelme(root: Path, width: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "0.json").write_text(json.dumps({"imagePath": "a.png", "imageHeight": 40, "imageWidth": width,
                                             "shapes": [{"label": "dog", "points": [[1, 2], [20, 30]], "shape_type": "rectangle"}]}))
    (root / "1.json").write_text(json.dumps({"imagePath": "b.png", "imageHeight": 40, "imageWidth": 50,
                                             "shapes": [{"label": "dog", "points": [[1, 2], [20, 30]], "shape_type": "rectangle"}]}))
    return root


def _kitti(root: Path) -> Path:
    (root / "label_2").mkdir(parents=True)
    (root / "image_2").mkdir()
    line = "Car 0.00 0 -10.00 1.00 2.00 30.00 20.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 -10.00\n"
    (root / "label_2" / "0.txt").write_bytes(line.replace("Car", "C\xffr").encode("latin-1"))
    (root / "label_2" / "1.txt").write_text(line.replace("30.00", "1e999") + line)
    for i in range(2):
        (root / "image_2" / f"{i}.png").write_bytes(_png_bytes(50, 40))
    return root


def _write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def _imgs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.png").write_bytes(_png_bytes(64, 48))
    (folder / "h.png").write_bytes(_png_bytes(60000, 60000, rows=False))
    (folder / "tr.png").write_bytes(_png_bytes(64, 48, truncate=True))
    return folder


def _init_weights(t: Path) -> Path:
    w = t / "w" / "n.weights"
    if not w.exists():
        w.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*EXE, "model", "init", t / "in" / "n.cfg", "--out", w], check=True, capture_output=True, timeout=120)
    return w


def _truncated_weights(t: Path) -> Path:
    _write(t / "in" / "n.cfg", TINY_CFG)
    w = _init_weights(t)
    bad = t / "in" / "w.weights"
    bad.write_bytes(w.read_bytes()[:-100])
    return bad


def _evil_pt(t: Path) -> Path:
    import pickle
    import zipfile

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {t / 'PWNED'}",))

    p = t / "in" / "evil.pt"
    p.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(p, "w") as z:  # torch's zip layout, a pickle that runs a command when unpickled unsafely
        z.writestr("evil/data.pkl", pickle.dumps(Evil()))
        z.writestr("evil/version", "3\n")
    return p


def _missing_images(root: Path) -> Path:
    y = _yolo_set(root, {"a.png": _png_bytes(50, 40)}, {"a.txt": "0 0.5 0.5 0.2 0.2\n"})
    subprocess.run([*EXE, "convert", "yolo", y, "--to", "coco", "--out", root.parent / "instances_train.json"], check=True, capture_output=True, timeout=120)
    # a converted set whose images are gone: sizes come from the sidecar, the images do not exist
    out = root.parent / "conv"
    subprocess.run([*EXE, "convert", "coco", root.parent / "instances_train.json", "--out", out, "--image-mode", "none"], check=True, capture_output=True,
                   timeout=120)
    return out / "data.yaml"


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


GOLDEN = Path(__file__).parents[1] / "golden" / "hostile.json"
_golden = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}


def _answer(tmp: Path, code: int, out: str) -> list:
    """The exit code and the output with the case's folder as <tmp>, the virtual environment as <venv> and times
    as <t> (what the golden file holds)."""
    import re

    out = out.replace(str(tmp), "<tmp>").replace(os.path.realpath(tmp), "<tmp>").replace(sys.prefix, "<venv>")
    return [code, re.sub(r"\d+(\.\d+)? (ms|s)\b", "<t>", out)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(tmp_path, case: Case):
    argv, code, needles = case.make(tmp_path)
    inputs = tmp_path / "in"
    before = _digest(inputs) if inputs.exists() else {}
    listing = {p for p in tmp_path.rglob("*")}
    t0 = time.monotonic()
    p = subprocess.run([*EXE, *map(str, argv)], capture_output=True, text=True, timeout=case.seconds + 60)
    took = time.monotonic() - t0
    out = p.stdout + p.stderr
    assert p.returncode == code, f"exit {p.returncode}, expected {code}\n{out[-3000:]}"
    assert "Traceback" not in out, out[-3000:]
    assert len(out.encode()) < 20_000, f"{len(out)} bytes of output"
    assert took < case.seconds, f"took {took:.0f} s"
    for n in needles:
        assert n in out, f"{n!r} not in output:\n{out[-3000:]}"
    if inputs.exists():
        assert _digest(inputs) == before, "an input file changed"
    outside = {q for q in tmp_path.rglob("*") if q not in listing and not (str(q).startswith(str(tmp_path / "out")))}
    assert not outside, f"written outside --out: {sorted(outside)[:5]}"
    out_dir = tmp_path / "out"
    if out_dir.exists():
        for q in out_dir.rglob("*"):
            if q.is_symlink():
                assert os.path.realpath(q).startswith(str(tmp_path / "in")), f"{q} -> {os.path.realpath(q)}"
    if case.check:
        case.check(tmp_path, out)
    got = _answer(tmp_path, p.returncode, out)
    if os.environ.get("YOLOTOOLS_WRITE_GOLDEN") == "1":  # re-record (see tests/golden/test_golden.py)
        rec = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
        rec[case.name] = got
        GOLDEN.write_text(json.dumps(dict(sorted(rec.items())), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    elif case.name in _golden:  # the same answer, word for word, as recorded before the readers became one path each
        assert got == _golden[case.name]


def test_killed_convert_leaves_no_workers(tmp_path):
    """kill -9 of `convert voc` (a process pool above 2,000 files): its workers exit too.  A comment
    makes every file one for the Python reader (the C loop runs in threads, the reader in processes)."""
    xml = {f"{i:05d}": _good_xml(f"{i:05d}").replace("<annotation>", "<annotation><!-- not plain -->") for i in range(6000)}
    v = tmp_path / "in" / "VOC2007"
    (v / "Annotations").mkdir(parents=True)
    (v / "ImageSets" / "Main").mkdir(parents=True)
    for i, t in xml.items():
        (v / "Annotations" / f"{i}.xml").write_text(t.replace("<filename>", "<filename>").replace(f"{i}.png", "missing.png"))
    (v / "ImageSets" / "Main" / "trainval.txt").write_text("".join(f"{i}\n" for i in xml) * 20)
    p = subprocess.Popen([*EXE, "convert", "voc", v, "--out", tmp_path / "out", "--workers", "2", "--image-mode", "none"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not children and p.poll() is None:
        time.sleep(0.05)
        try:
            children = {int(c) for c in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()}
        except OSError:
            break
    if not children:
        p.kill()
        pytest.skip("the conversion finished before its pool could be seen")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    t0 = time.monotonic()
    alive = set(children)
    while alive and time.monotonic() - t0 < 10:
        alive = {c for c in alive if Path(f"/proc/{c}").exists() and "zombie" not in _state(c)}
        time.sleep(0.1)
    assert not alive, f"workers {alive} outlived their parent"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "zombie"
