"""The fast paths of the format readers and writers give what the per-box and
per-image paths give, bit for bit, problems (and their order) included:

- every reader's fast path (``clean_dataset``: taken when the file has nothing
  to report) against the same reader with it switched off, on clean files (where
  it must run) and on files with problems (where it must step aside);
- DatasetBuilder's deferred box checks against the per-box checks;
- ``read_yolo``'s C path against its Python path, and ``write_yolo``'s bulk
  writer against the per-image writer, output trees compared byte for byte;
- the C kernels against Python's own answers (``imagesize``, ``repr``,
  ``yolo_lines``, ``round(float(v), 9)``) and the writers' JSON, CSV and XML
  against ``json``, ``csv`` and ``xml.sax.saxutils``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED

from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from yolotools.boxes import Boxes
from yolotools.errors import Problems
from yolotools.io.formats import FORMATS, read_format, write_format
from yolotools.io.formats import _build

TOOL_FORMATS = [n for n in FORMATS if n not in ("voc", "coco", "yolo")]
try:
    from yolotools import _native as native
except ImportError:  # the Python paths are still tested against each other; the C kernels' tests skip
    native = None
needs_c = pytest.mark.skipif(native is None, reason="the C module is not built")


def _png(h: int, w: int) -> bytes:
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def same_columns(ds: DetectionDataset) -> None:
    """The dataset's box columns (handed over by the reader, or made) are its records' boxes end to end."""
    cols = ds.box_columns()
    anns = [r.annotations for r in ds.records]
    assert cols.counts == [len(a) for a in anns]
    for got, field in zip(cols[:4], ("xyxy", "class_ids", "is_difficult", "is_crowd")):
        parts = [a.boxes.xyxy if field == "xyxy" else getattr(a, field) for a in anns]
        want = np.concatenate(parts).reshape(got.shape) if parts else got
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), field


def same_dataset(a: DetectionDataset, b: DetectionDataset) -> None:
    same_columns(a)
    same_columns(b)
    assert a.class_map.names == b.class_map.names and len(a) == len(b)
    for x, y in zip(a.records, b.records):
        assert (x.image_id, x.path, x.image_hw, x.source_id) == (y.image_id, y.path, y.image_hw, y.source_id)
        p, q = x.annotations, y.annotations
        assert p.boxes.image_hw == q.boxes.image_hw
        assert p.boxes.xyxy.shape == q.boxes.xyxy.shape and p.boxes.xyxy.tobytes() == q.boxes.xyxy.tobytes(), x.image_id
        for name in ("class_ids", "is_difficult", "is_crowd", "scores", "area"):
            u, v = getattr(p, name), getattr(q, name)
            assert (u is None) == (v is None) and (u is None or (u.dtype == v.dtype and u.tobytes() == v.tobytes())), name
        assert (p.attrs is None) == (q.attrs is None) and (p.attrs is None or list(p.attrs) == list(q.attrs))


def _dataset(n_images: int = 60, seed: int = 0, odd_names: bool = True, attrs: bool = True) -> DetectionDataset:
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


def _slow(monkeypatch) -> None:
    """Every reader's fast path switched off (it then answers None: 'not clean')."""
    from yolotools.io.formats import cvat, createml, kitti, labelme, labelstudio, tables, via

    for mod in (cvat, createml, kitti, labelme, labelstudio, tables, via):
        for name in ("clean_dataset", "clean_images"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, lambda *a, **k: None)


def _read_both(monkeypatch, fmt, src, images=None, **kw):
    taken = []
    real = _build.clean_dataset

    def spy(*a, **k):
        r = real(*a, **k)
        taken.append(r is not None)
        return r

    from yolotools.io.formats import cvat, createml, kitti, labelme, labelstudio, tables, via

    with monkeypatch.context() as m:
        for mod in (cvat, createml, kitti, labelme, labelstudio, tables, via):
            if hasattr(mod, "clean_dataset"):
                m.setattr(mod, "clean_dataset", spy)
        fast, fp = read_format(fmt, src, images, **kw)
    with monkeypatch.context() as m:
        _slow(m)
        slow, sp = read_format(fmt, src, images, **kw)
    return fast, [p.to_dict() for p in fp], slow, [p.to_dict() for p in sp], any(taken)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The random dataset written in every format, with image files (PNG headers) for the formats that hold no sizes."""
    tmp = tmp_path_factory.mktemp("fast")
    ds = _dataset()
    imgs = tmp / "images"
    imgs.mkdir()
    for r in ds:
        (imgs / f"{r.image_id}.jpg").write_bytes(_png(*r.image_hw))
    recs = tuple(ImageRecord(r.image_id, imgs / f"{r.image_id}.jpg", r.image_hw, r.annotations) for r in ds)
    ds = DetectionDataset(ds.class_map, recs)
    ds_plain = DetectionDataset(ClassMap(("car", "person", "dog")), recs)  # KITTI: no spaces in names
    out = {}
    for fmt in TOOL_FORMATS:
        f = FORMATS[fmt]
        src = tmp / f"{fmt}{f.suffix}"
        write_format(fmt, ds_plain if fmt == "kitti" else ds, src)
        out[fmt] = src / "label_2" if fmt == "kitti" else src
    return tmp, imgs, ds, out


@pytest.mark.parametrize("fmt", TOOL_FORMATS)
def test_fast_path_is_the_per_box_reader_on_clean_files(written, monkeypatch, fmt):
    tmp, imgs, ds, out = written
    fast, fp, slow, sp, taken = _read_both(monkeypatch, fmt, out[fmt].parent if fmt == "kitti" else out[fmt], imgs)
    assert taken or (native is None and fmt == "kitti"), "the fast path did not run on a clean file"  # (KITTI's is C only)
    assert fp == sp
    same_dataset(fast, slow)
    assert len(fast) == len(ds) if FORMATS[fmt].can_write and "empty_images" in FORMATS[fmt].holds else len(fast) > 0


@pytest.mark.parametrize("fmt", TOOL_FORMATS)
@pytest.mark.parametrize("mess", ["classes", "sizes", "no_images"])
def test_fast_path_steps_aside_for_files_with_problems(written, monkeypatch, fmt, mess):
    tmp, imgs, ds, out = written
    src = out[fmt].parent if fmt == "kitti" else out[fmt]
    kw: dict = {}
    images = imgs
    if mess == "classes":  # one class unknown: its boxes are errors
        kw["classes"] = ["car", "dög"] if fmt != "kitti" else ["car", "dog"]
    elif mess == "sizes":  # sizes smaller than the boxes (formats with no sizes of their own): clipped and outside boxes
        kw["image_sizes"] = {r.image_id: (max(1, r.image_hw[0] // 3), max(1, r.image_hw[1] // 2)) for r in ds}
        images = None
    else:  # no images and no sizes: the formats without sizes say so per image
        images = None
    if fmt == "kitti" and images is None:
        kw.setdefault("image_sizes", {})
    fast, fp, slow, sp, _ = _read_both(monkeypatch, fmt, src, images, **kw)
    assert fp == sp
    same_dataset(fast, slow)
    if mess == "classes" or "sizes" not in FORMATS[fmt].holds and not (mess == "sizes" and fmt == "openimages"):  # (normalised)
        assert fp, "nothing was reported: the case tests nothing"


def test_fast_path_on_the_review_db_exports(monkeypatch):
    db = SHARED / "review_object_detection_metrics" / "data" / "database" / "gts"
    if not db.is_dir():
        pytest.skip("../shared/data not here")
    for fmt, rel in [("cvat", "cvat_format/annotations.xml"), ("labelme", "labelme_format"),
                     ("openimages", "openimages_format/all_bounding_boxes.csv")]:
        kw = {"image_sizes": {}} if fmt == "openimages" else {}
        fast, fp, slow, sp, _ = _read_both(monkeypatch, fmt, db / rel, **kw)
        assert fp == sp, fmt
        same_dataset(fast, slow)


# ------------------------------------------------------------ DatasetBuilder: deferred checks = per-box checks


def _feed(b: "_build.DatasetBuilder", rng: random.Random, n: int) -> None:
    values = [1.5, 2, 0, -3.25, "4.5", " 7 ", "1,5", "nan", "inf", None, True, "x", 10 ** 400, 1e-12, 352.99999999999994,
              "1e2", "\u0661", 99999.0, 0.1 + 0.2]
    labels = ["car", "dog", "", "  ", None, 5, "unknown", "car"]
    for i in range(n):
        name = rng.choice([f"im{i}.jpg", f"im{i}", "../x.jpg", "a/b.jpg", f"im{i - 1}.jpg", ""])
        hw = rng.choice([(100, 200), (0, 10), None, ("50", "60"), (30.7, 40.2)])
        img = b.entry_image(name, f"[{i}]", hw) if rng.random() < 0.5 else b.row_image(name, f"line {i}", hw)
        if img is None:
            continue
        for j in range(rng.randint(0, 4)):
            vals = [rng.choice(values) if rng.random() < 0.3 else rng.uniform(-20, 260) for _ in range(4)]
            b.add_box(img, rng.choice(labels), *vals, f"[{i}].{j}", difficult=rng.random() < 0.2, crowd=rng.random() < 0.1,
                      attrs=rng.choice([None, {}, {"a": 1}]), clip=rng.random() < 0.9)
        if rng.random() < 0.2:
            b.problems.warning("reader_note", "f", "something the reader says between boxes", f"[{i}]")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("classes", [None, ["car", "dog"]])
def test_deferred_box_checks_are_the_per_box_checks(seed, classes):
    out = []
    for defer in (True, False):
        probs = Problems()
        b = _build.DatasetBuilder("src.json", probs, classes=classes, image_sizes={"im3": (40, 50)})
        b._defer = defer
        _feed(b, random.Random(seed), 80)
        try:
            ds = b.build()
        except ValueError as e:  # a size given as floats reaches ImageRecord's check either way
            ds = str(e)
        out.append((ds, [p.to_dict() for p in probs]))
    (d1, p1), (d2, p2) = out
    assert p1 == p2 and len(p1) > 10
    if isinstance(d1, str) or isinstance(d2, str):
        assert d1 == d2
    else:
        same_dataset(d1, d2)


# ------------------------------------------------------------ read_yolo's C path, write_yolo's bulk writer


def _odd_yolo(root: Path) -> Path:
    """A YOLO dataset whose label files and images hold everything the C path must leave to Python."""
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
            exif[0x0112] = 6  # rotated: imagesize swaps the sides, the C reader leaves it to imagesize
            Image.new("RGB", (w, h)).save(root / "images" / f"{iid}.jpg", "JPEG", exif=exif)
        elif kind == 2:
            (root / "images" / f"{iid}.jpg").write_bytes(_png(h, w))
        elif kind == 3:
            Image.new("RGB", (w, h)).save(root / "images" / f"{iid}.jpg", "GIF")
        elif kind == 4:
            (root / "images" / f"{iid}.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x02garbage")
        # kind 5: no image; the sidecar's size stands in
        if i % 9 != 8:
            text = rng.choice(texts[:3]) if rng.random() < 0.6 else rng.choice(texts)  # clean ones often
            (root / "labels" / f"{iid}.txt").write_bytes(text.encode("utf-8"))
        e = {"image_hw": [h, w]}
        if i % 4 == 0:
            e["difficult_lines"] = [1, 2] if i % 8 == 0 else [1]
        if i % 10 == 0:
            e["crowd_lines"] = [1.0, "2", 7, [1]]  # (a list: no line; both paths warn)
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


@needs_c
def test_read_yolo_c_path_is_the_python_path(tmp_path, monkeypatch):
    from yolotools.io.yolo import reader
    from yolotools.io.yolo.reader import read_yolo

    data = _odd_yolo(tmp_path / "odd")

    def read():
        lines: dict = {}
        ds, probs = read_yolo(data, "train", line_numbers=lines)
        return ds, [p.to_dict() for p in probs], lines

    calls = []
    real = reader._native_records
    monkeypatch.setattr(reader, "_native_records", lambda *a: calls.append(1) or real(*a))
    ds, probs, lines = read()
    assert calls
    with monkeypatch.context() as m:
        m.setattr(reader, "_native_records", lambda *a: None)
        ref, ref_probs, ref_lines = read()
    assert probs == ref_probs and lines == ref_lines and len(probs) > 20
    same_dataset(ds, ref)
    clean = tmp_path / "clean"  # every image read in C: the reader hands its columns over
    for q in ("images", "labels"):
        (clean / q).mkdir(parents=True)
    for i in range(30):
        (clean / "images" / f"{i}.jpg").write_bytes(_png(40 + i, 50))
        (clean / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n" * (i % 3) + "1 0.25 0.75 0.1 0.3\n")
    (clean / "train.txt").write_text("".join(f"images/{i}.jpg\n" for i in range(30)))
    (clean / "data.yaml").write_text(f"path: {clean}\ntrain: train.txt\nnames: [a, b]\n")
    ds2, _ = read_yolo(clean / "data.yaml", "train")
    assert "_columns" in ds2.__dict__
    same_columns(ds2)
    done = real(reader._jobs(*reader._resolve(data, "train", None, None, Problems())[1:], Problems()), 3, False)[0]
    assert 10 < sum(d is not None for d in done) < len(done)  # both paths were taken


@pytest.mark.parametrize("skip_difficult,crowd", [(False, "skip"), (True, "skip"), (False, "keep")])
def test_write_yolo_bulk_is_the_per_image_writer(tmp_path, monkeypatch, skip_difficult, crowd):
    from yolotools.io.yolo import writer

    ds = _dataset(80, seed=4, odd_names=False)
    recs = list(ds.records)
    recs[5] = ImageRecord("sub/nested", None, recs[5].image_hw, recs[5].annotations)  # an id with a folder part
    a = recs[7].annotations
    recs[7] = ImageRecord(recs[7].image_id, None, recs[7].image_hw,
                          Annotations(a.boxes, a.class_ids, area=np.arange(len(a), dtype=np.float64)), source_id=17)
    ds = DetectionDataset(ds.class_map, tuple(recs))

    def tree(out: Path) -> dict:
        writer.write_yolo(ds, out, "train", skip_difficult=skip_difficult, crowd=crowd, images="none")
        return {str(p.relative_to(out)): p.read_bytes().replace(str(out).encode(), b"OUT") for p in sorted(out.rglob("*")) if p.is_file()}

    fast = tree(tmp_path / "a")
    with monkeypatch.context() as m:
        m.setattr(writer._Bulk, "__init__", lambda self, *a, **k: (setattr(self, "ok", []), setattr(self, "_thread", None),
                                                                  setattr(self, "_error", None)) and None)
        slow = tree(tmp_path / "b")
    assert fast.keys() == slow.keys() and len(fast) > 80
    for k in fast:
        assert fast[k] == slow[k], k


@needs_c
def test_write_yolo_bulk_errors_name_the_file(tmp_path, monkeypatch):
    from yolotools.io.yolo import writer

    ds = _dataset(5, odd_names=False)
    monkeypatch.setattr(native, "write_files", lambda paths, *a, **k: (_ for _ in ()).throw(OSError(28, "No space left", paths[0])))
    with pytest.raises(OSError, match="No space left"):
        writer.write_yolo(ds, tmp_path / "o", "train", images="none")


# ------------------------------------------------------------ the C kernels against Python's answers


@needs_c
def test_image_sizes_are_imagesize_where_it_answers(tmp_path):
    import imagesize
    from PIL import Image

    paths = [str(p) for p in sorted(SHARED.rglob("*.jpg"))[:200]] if SHARED.is_dir() else []
    rng = random.Random(0)
    for i in range(40):
        w, h = rng.randint(1, 3000), rng.randint(1, 3000)
        p = tmp_path / f"{i}.img"
        kind = i % 5
        if kind == 0:
            Image.new("RGB", (w % 400 + 1, h % 400 + 1)).save(p, "JPEG")
        elif kind == 1:
            exif = Image.Exif()
            exif[0x0112] = 8
            Image.new("RGB", (w % 400 + 1, h % 400 + 1)).save(p, "JPEG", exif=exif)
        elif kind == 2:
            p.write_bytes(_png(h, w))
        else:
            Image.new("RGB", (w % 400 + 1, h % 400 + 1)).save(p, "PNG" if kind == 3 else "BMP")
        paths.append(str(p))
    for src in list(paths):  # damaged copies: cut, bytes changed, markers put in
        d = bytearray(Path(src).read_bytes()[:50000])
        for k in range(3):
            e = bytearray(d)
            if k == 0:
                e = e[: rng.randrange(max(1, len(e)))]
            elif k == 1:
                for _ in range(4):
                    e[rng.randrange(min(len(e), 600))] = rng.randrange(256)
            else:
                at = rng.randrange(min(len(e), 800))
                e[at:at] = bytes([0xFF, rng.choice([0xE1, 0xC0, 0xD9, 0xDA, 0x01, 0xFF])])
            q = tmp_path / f"cut{len(paths)}_{k}"
            q.write_bytes(bytes(e))
            paths.append(str(q))
    paths += [str(tmp_path / "missing.jpg"), str(tmp_path)]
    status, hw = native.image_sizes(paths)
    hw = np.frombuffer(hw, dtype=np.int64).reshape(-1, 2)
    answered = 0
    for p, st, (h, w) in zip(paths, status, hw.tolist()):
        if st == 0:
            answered += 1
            assert imagesize.get(p) == (w, h), p
    assert answered > 60 and status[-1] and status[-2]


@needs_c
def test_num_texts_are_num_and_repr():
    rng = random.Random(1)
    vals = [0.0, -0.0, 1.0, 104.0, 1e15, -1e15, 1e16, 1e300, 5e-324, 0.1, 1 / 3, 2.5, float(2 ** 63), -float(2 ** 64)]
    vals += [rng.uniform(-1e6, 1e6) for _ in range(5000)] + [round(rng.uniform(0, 2000), rng.randint(0, 3)) for _ in range(5000)]
    vals += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(5000)]
    vals = [v for v in vals if math.isfinite(v)]
    a = np.array(vals).tobytes()
    assert native.num_texts(a) == [_build.num(v) for v in vals]
    assert native.num_texts(a, True) == [repr(v) for v in vals] == [json.dumps(v) for v in vals]


@needs_c
def test_yolo_texts_are_yolo_lines_ties_included():
    from yolotools.io.yolo.lines import yolo_lines

    rng = np.random.default_rng(2)
    m = 3000
    nbox = rng.integers(0, 4, m)
    n = int(nbox.sum())
    cls = rng.integers(0, 80, n)
    t = rng.integers(0, 2 ** 20, (n, 4)) / 2.0 ** rng.integers(0, 25, (n, 4))  # dyadic values: exact decimal ties
    cases = [(np.stack([t[:, 0], t[:, 1], t[:, 0] + t[:, 2], t[:, 1] + t[:, 3]], 1), np.ones((m, 2), np.int64))]
    xy1 = rng.uniform(-50, 3000, (n, 2))
    cases.append((np.concatenate([xy1, xy1 + rng.uniform(0, 3000, (n, 2))], 1), rng.integers(1, 5000, (m, 2))))
    cases.append((-cases[0][0], cases[0][1]))
    starts = np.concatenate([[0], np.cumsum(nbox)[:-1]])
    for xyxy, hw in cases:
        for dec in (0, 1, 3, 6, 9, 12):
            data, ends = native.yolo_texts(np.ascontiguousarray(xyxy).tobytes(), cls.astype(np.int64).tobytes(),
                                           nbox.astype(np.int64).tobytes(), hw.astype(np.int64).tobytes(), dec)
            ref = "".join(yolo_lines(cls[s:s + k].tolist(), xyxy[s:s + k].tolist(), tuple(hw[i].tolist()), decimals=dec)
                          for i, (s, k) in enumerate(zip(starts, nbox)))
            assert data.decode() == ref, dec
            assert np.frombuffer(ends, np.int64)[-1] == len(data)


@needs_c
def test_box_floats_are_finite_then_round():
    rng = random.Random(3)
    vals = [0.0, -0.0, 1, -5, 10 ** 400, True, False, None, "1.5", " 2.25 ", "1_000", "nan", "inf", "1,5", "", "abc", 1e300,
            float("nan"), [1], "0x10", "1e5", "\u0661", 4503599627370497.0, "-0.0000000001", 1 / 1024, 2.5e-10]
    vals += [rng.uniform(-1e4, 1e4) for _ in range(3000)] + [str(round(rng.uniform(0, 2000), rng.randint(0, 12))) for _ in range(3000)]
    vals += [k / 1024 for k in range(2000)] + [x / 7 for x in range(500)]
    for snap in (True, False):
        buf, ok = native.box_floats(vals, snap)
        got = np.frombuffer(buf, dtype=np.float64)
        for v, x, g in zip(vals, got, ok):
            f = _build.finite(v) if not isinstance(v, list) else None
            if g:
                ref = round(f, 9) if snap else f
                assert ref == x and math.copysign(1, ref) == math.copysign(1, x), (v, ref, x)
            else:  # refused: finite() refuses it too, or takes it only on its decimal-comma retry
                assert f is None or isinstance(v, str), v


# ------------------------------------------------------------ writers' text against the standard library


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


# ------------------------------------------------------------ path helpers against their general rules


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


def test_labelme_export_layout_finds_its_images_in_the_images_folder(tmp_path, monkeypatch):
    """annotations/x.json with imagePath ../images/x.jpg (panlabel's and labelme's export layout), read from
    annotations/ with --images images/: the image is the one in images/, linked, nothing to warn about; without
    --images it is refused as before (outside the folder read)."""
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images").mkdir()
    for i in range(3):
        (tmp_path / "images" / f"{i}.jpg").write_bytes(_png(50, 60))
        (tmp_path / "annotations" / f"{i}.json").write_text(json.dumps({
            "imagePath": f"../images/{i}.jpg", "imageHeight": 50, "imageWidth": 60,
            "shapes": [{"label": "a", "points": [[1, 2], [30, 40]], "shape_type": "rectangle"}]}))
    fast, fp, slow, sp, taken = _read_both(monkeypatch, "labelme", tmp_path / "annotations", tmp_path / "images")
    assert taken and fp == sp == []
    same_dataset(fast, slow)
    assert [r.path for r in fast] == [tmp_path / "images" / f"{i}.jpg" for i in range(3)]
    ds, probs = read_format("labelme", tmp_path / "annotations")
    assert [p.kind for p in probs] == ["path_outside_dataset"] * 3 and all(r.path is None for r in ds)


@pytest.mark.parametrize("case", range(12))
def test_kitti_plain_files_and_the_per_line_reader(tmp_path, monkeypatch, case):
    """KITTI files with each kind of line the C reader takes or leaves: the fast path (when it runs) gives what the
    per-line reader gives, attributes included."""
    base = "Car 0.00 0 -10.00 10.00 20.00 50.00 60.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 -10.00"
    lines = {
        0: [base, base.replace("Car", "Van"), ""],
        1: [base + " 0.75", "\ufeff" + base],
        2: [base.replace("0.00 0 -10.00", "0.50 2 1.25"), base.replace("-1.00 -1.00 -1.00", "1.5 1.6 3.9")],
        3: [base.replace(" ", "\t"), base + "\r", ""],
        4: [base.replace("Car", "Fußgänger"), base.replace("Car", "Dont\u00a0Care")],
        5: [base.replace("10.00", "nan", 1)],
        6: [base.replace("10.00", "1e999", 1)],
        7: [base.replace("-10.00", "-1e1").replace("10.00", "1_0", 1)],
        8: [base + "\x0b" + base],
        9: [base.replace("Car", "Car\x1fTruck")],
        10: [base, "Car 1 2 3"],
        11: [base.replace("0.00 0", "0.00 1.7") + " 0.5"],
    }[case]
    (tmp_path / "k" / "label_2").mkdir(parents=True)
    (tmp_path / "k" / "image_2").mkdir()
    for i in range(3):
        (tmp_path / "k" / "label_2" / f"{i:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp_path / "k" / "image_2" / f"{i:03d}.png").write_bytes(_png(100, 200))
    fast, fp, slow, sp, taken = _read_both(monkeypatch, "kitti", tmp_path / "k")
    assert fp == sp
    same_dataset(fast, slow)
    if case in (0, 1, 2, 3, 11) and native is not None:  # plain files: the fast path (C) ran
        assert taken


_CVAT_HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task><labels>'
              '<label><name>car</name><attributes><attribute><name>color</name></attribute></attributes></label>'
              '<label><name> b&amp;w </name></label></labels></task></meta>\n')
_BOX = '<box label="car" occluded="0" source="manual" xtl="1.5" ytl="2" xbr="30.25" ybr="40" z_order="0"/>'


_IMG = '<image name="a.jpg" width="100" height="50">'


@pytest.mark.parametrize("body", [
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
])
def test_cvat_plain_files_and_the_other_paths(tmp_path, monkeypatch, body):
    """CVAT files in and around the plain form the C reader takes: whatever path reads them gives what the per-shape
    reader gives (or the same error)."""
    f = tmp_path / "a.xml"
    f.write_text(_CVAT_HEAD + body + "\n</annotations>\n", encoding="utf-8")
    try:
        fast, fp, slow, sp, _ = _read_both(monkeypatch, "cvat", f)
    except Exception as e:  # the same error either way
        with monkeypatch.context() as m:
            _slow(m)
            with pytest.raises(type(e), match=str(e)[:40].replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
                read_format("cvat", f)
        return
    assert fp == sp
    same_dataset(fast, slow)


def test_cvat_plain_refuses_what_lxml_refuses(tmp_path):
    """A file lxml refuses is never read by the C path (no dataset where the per-shape reader raises)."""
    from yolotools.errors import YoloToolsError

    good = _CVAT_HEAD + f'<image name="a.jpg" width="100" height="50">{_BOX}</image>\n</annotations>\n'
    bad = [good.encode().replace(b'id="0"', b'id="\xff"') if b'id="0"' in good.encode() else good.encode().replace(b'name="a.jpg"', b'name="a.jpg" id="\xff"'),
           good.encode().replace(b"</annotations>", b""), good.encode().replace(b'width="100"', b'width="100" width="1"'),
           good.encode().replace(b"a.jpg", b"a\xef\xbf\xbe.jpg"), good.encode() + b"<x/>"]
    for k, data in enumerate(bad):
        f = tmp_path / f"{k}.xml"
        f.write_bytes(data)
        with pytest.raises(YoloToolsError):
            read_format("cvat", f)


_LM = ('{"version": "5.4.1", "flags": {}, "shapes": [{"label": "car", "points": [[30.5, 2], [1, 40.25]], "group_id": null, '
       '"description": "", "shape_type": "rectangle", "flags": {}}], "imagePath": "../images/a.jpg", "imageData": null, '
       '"imageHeight": 50, "imageWidth": 100}')


@pytest.mark.parametrize("text", [
    _LM, _LM.replace('"car"', '"d\\u00f6g"'), "\ufeff" + _LM, _LM.replace("30.5", "NaN"), _LM.replace("}]", "},]"),
    _LM.replace('"label": "car"', '"label": "car", "label": "bus"'), _LM.replace('"rectangle"', '"polygon"'),
    _LM.replace('"group_id": null', '"group_id": 3'), _LM.replace('"description": ""', '"description": "x"'),
    _LM.replace('"flags": {}}', '"flags": {"occluded": true}}'), _LM.replace("50", "50.0"), _LM.replace('"imageHeight": 50, ', ""),
    _LM.replace('"../images/a.jpg"', "null"), _LM.replace('"imagePath": "../images/a.jpg", ', ""),
    _LM.replace('"../images/a.jpg"', '"a.jpg"'), _LM.replace("[30.5, 2]", "[30.5, 2, 7]"), _LM.replace('"imageData": null', '"imageData": "\\q"'),
    _LM.replace('"imageData": null', '"imageData": [[[[[]]]]]'), _LM.replace('"shapes": [', '"shapes": [], "x": ['), _LM + "x",
    _LM.replace("40.25", "1e400"), _LM.replace('"car"', '"truck"'), _LM.replace("40.25", "140"), _LM.replace('"../images/a.jpg"', '"../images/b.jpg"'),
    _LM.replace("[[30.5, 2], [1, 40.25]]", "[[1, 2], [1, 40]]"), _LM.replace("[[30.5, 2], [1, 40.25]]", "[[-0.0, 0.0], [0.0, 9]]"),
])
def test_labelme_plain_files_and_the_other_paths(tmp_path, monkeypatch, text):
    (tmp_path / "ann").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(_png(50, 100))
    (tmp_path / "ann" / "a.jpg").write_bytes(_png(50, 100))
    for k in range(2):
        (tmp_path / "ann" / f"{k}.json").write_text(text, encoding="utf-8")
    for images in (tmp_path / "images", None):
        fast, fp, slow, sp, _ = _read_both(monkeypatch, "labelme", tmp_path / "ann", images)
        assert fp == sp
        same_dataset(fast, slow)
    (tmp_path / "ann" / "0.json").write_bytes(text.encode() + b"\xff")  # not UTF-8: the per-file path says so
    fast, fp, slow, sp, _ = _read_both(monkeypatch, "labelme", tmp_path / "ann", tmp_path / "images")
    assert fp == sp and fp
    same_dataset(fast, slow)


@needs_c
def test_num_rows_fill_the_template_with_num_texts():
    rng = np.random.default_rng(6)
    a = rng.uniform(-1e4, 1e4, (500, 4))
    a[::3] = np.round(a[::3])
    a[1, 2], a[2, 0] = 1e16, -0.0
    parts = ['x="', '" y="', '", ', ":", "!"]
    for as_repr in (False, True):
        t = native.num_texts(a.tobytes(), as_repr)
        want = ["".join(p + x for p, x in zip(parts, t[4 * r : 4 * r + 4])) + parts[4] for r in range(len(a))]
        assert native.num_rows(a.tobytes(), parts, as_repr) == want
        assert _build.Columns.rows(a, parts, as_repr=as_repr) == want
    assert _build.Columns.rows(np.zeros((0, 4)), parts) == []


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


@pytest.mark.parametrize("rows", [
    ["a.jpg,100,50,car,1,2,30,40", "b.jpg,80,60,dog,5,6,70,50", "a.jpg,100,50,dog,3,4,50,45"],
    ["a.jpg,100,50,car,1,2,30,40", "a.jpg,101,50,dog,3,4,50,45"],  # another size on a later row
    ["a.jpg,100,50,car,0.1,0.2,0.3,0.4", "b.jpg,80,60,dog,0.5,0.6,0.7,0.9"],  # normalised corners (auto units)
    ["a.jpg,100,50,car,1,2,30,40", "a.jpg,100,50,dog,3,4,50,45,extra"],  # a row of another length
    ["a.jpg,100.9,50,car,1,2,30,40", " b.jpg ,80,60,dog,5,6,70,50"],  # int() of a size; a name with spaces around
    ['"a,b.jpg",100,50,car,1,2,30,40'],  # quoted: the csv module reads it
    ["a.jpg,1e999,50,car,1,2,30,40"],
])
def test_tfod_tables_and_the_per_row_reader(tmp_path, monkeypatch, rows):
    f = tmp_path / "t.csv"
    f.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + "\n".join(rows) + "\n")
    fast, fp, slow, sp, _ = _read_both(monkeypatch, "tfod", f)
    assert fp == sp
    same_dataset(fast, slow)
