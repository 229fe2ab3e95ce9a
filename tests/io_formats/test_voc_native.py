"""``convert voc`` through the C per-file loop gives what the Python reader and
writer give, file for file and in its report, on VOC2007 and on every kind of
file the C loop leaves to the Python reader."""

import hashlib
import os
import shutil

import numpy as np
import pytest

from tests.conftest import voc_object, write_voc_xml
from yolotools.convert import convert_voc
from yolotools.io.voc import native

pytestmark = pytest.mark.skipif(native._native is None, reason="C kernels not built")


def _tree(d):
    out = {}
    for dp, _dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(dp, f)
            out[os.path.relpath(p, d)] = os.readlink(p) if os.path.islink(p) else hashlib.sha1(open(p, "rb").read()).hexdigest()
    return out


def _both(monkeypatch, tmp_path, roots, **kw):
    """(tree, report) of convert_voc with the C loop and without it, into the same folder."""
    got = []
    for use_c in (True, False):
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        with monkeypatch.context() as m:
            if not use_c:
                m.setattr(native, "_native", None)
            rep = convert_voc(roots, out, **kw)
        got.append((_tree(out), rep.to_dict()))
    return got


@pytest.mark.parametrize("kw", [
    dict(split="all", images="none"),
    dict(split="trainval", images="link", skip_difficult=True),
    dict(split="test", convention="darknet", decimals=3, images="none"),
])
def test_same_output_as_the_python_path_on_voc2007(monkeypatch, tmp_path, voc2007, kw):
    (c_tree, c_rep), (py_tree, py_rep) = _both(monkeypatch, tmp_path, [voc2007], **kw)
    assert c_tree == py_tree
    assert c_rep == py_rep
    assert c_rep["images"] > 4000 and c_rep["boxes_written"] > 10000


def _jpeg(path, hw=(40, 60)):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((*hw, 3), 128, np.uint8))


def _edge_root(tmp_path):
    """One file of each kind the C loop must leave to the reader, among plain ones."""
    root = tmp_path / "VOC"
    jp = root / "JPEGImages"
    ok = voc_object("dog", (10, 10, 50, 60))
    for i in range(40):  # plain files, some with difficult boxes and several objects
        objs = ok + (voc_object("cat", (5, 6, 100, 120), difficult=i % 3 == 0) if i % 2 else "")
        write_voc_xml(root, f"p{i:02d}", objs)
        if i % 4:
            _jpeg(jp / f"p{i:02d}.jpg")
    write_voc_xml(root, "clipped", voc_object("dog", (10, 10, 600, 60)))
    write_voc_xml(root, "outside", voc_object("dog", (700, 10, 800, 60)) + ok)
    write_voc_xml(root, "empty", voc_object("dog", (50, 10, 48, 60)) + ok)
    write_voc_xml(root, "unknown", voc_object("zebra", (10, 10, 50, 60)) + ok)
    write_voc_xml(root, "nosize", ok, size=None)
    _jpeg(jp / "nosize.jpg", (300, 200))
    write_voc_xml(root, "nosize_noimage", ok, size=None)
    write_voc_xml(root, "noobjects", "")
    write_voc_xml(root, "entity", voc_object("dog", (10, 10, 50, 60)).replace("Unspecified", "a &amp; b"))
    (root / "Annotations" / "malformed.xml").write_text("<annotation><object><name>dog</name></annotation>")
    ann = root / "Annotations"
    (ann / "nofilename.xml").write_text((ann / "p01.xml").read_text().replace("<filename>p01.jpg</filename>", ""))
    (ann / "other_name.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "elsewhere.png"))
    (ann / "alt_name.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "missing.jpg"))
    _jpeg(jp / "alt_name.jpg")
    (ann / "subdir_name.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "sub/deep.jpg"))
    _jpeg(jp / "sub" / "deep.jpg")
    (ann / "dotdot_name.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "../../secret.jpg"))
    outside = tmp_path / "outside.jpg"
    _jpeg(outside)
    (jp / "link_out.jpg").symlink_to(outside)
    (ann / "link_name.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "link_out.jpg"))
    _jpeg(root / "kept.jpg")
    (jp / "link_in.jpg").symlink_to(root / "kept.jpg")
    (ann / "link_in.xml").write_text((ann / "p01.xml").read_text().replace("p01.jpg", "link_in.jpg"))
    (ann / "clipped_and_difficult.xml").write_text(
        (ann / "p03.xml").read_text().replace("<xmax>100</xmax>", "<xmax>900</xmax>"))
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    ids = sorted(f[:-4] for f in os.listdir(ann) if f.endswith(".xml"))
    (ann / "sub").mkdir()  # an id with a folder part (from a list file): labels/sub/nested.txt
    (ann / "sub" / "nested.xml").write_text((ann / "p05.xml").read_text().replace("p05.jpg", "nested.jpg"))
    (main / "listed.txt").write_text("".join(f"{i}\n" for i in ids[::2]) + "sub/nested\n../escape\nnot_there\n")
    return root


@pytest.mark.parametrize("kw", [
    dict(split="all", images="none", classes=["dog", "cat"]),
    dict(split="all", images="link", skip_difficult=True, classes=["dog", "cat"]),
    dict(split="all", images="copy", convention="raw", decimals=2),
    dict(split="listed", images="none", classes=["dog", "cat"]),
])
def test_same_output_as_the_python_path_on_edge_cases(monkeypatch, tmp_path, kw):
    root = _edge_root(tmp_path)
    (c_tree, c_rep), (py_tree, py_rep) = _both(monkeypatch, tmp_path, [root], **kw)
    assert c_tree == py_tree
    assert c_rep == py_rep
    kinds = {p["kind"] for p in c_rep["problems"]}
    if kw["split"] == "listed":
        assert "labels/sub/nested.txt" in c_tree
    if kw["split"] == "all":  # every kind of file above was met, and reported as the reader reports it
        assert {"box_clipped", "box_outside_image", "empty_box", "malformed_xml", "missing_size",
                "path_outside_dataset"} <= kinds
        assert ("unknown_class" in kinds) == ("classes" in kw)


def test_relative_roots_and_a_flat_folder_given_as_dot(monkeypatch, tmp_path):
    """Paths as a user types them: a relative VOC root, and a flat folder of XML files beside
    their images given as "." (the sidecar's source paths are the reader's, relative too)."""
    root = _edge_root(tmp_path)
    monkeypatch.chdir(tmp_path)
    (c_tree, c_rep), (py_tree, py_rep) = _both(monkeypatch, tmp_path, ["VOC"], split="all", images="none", classes=["dog", "cat"])
    assert c_tree == py_tree and c_rep == py_rep
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((root / "Annotations").glob("*.xml"))[:20]:
        shutil.copy(f, flat / f.name)
    for f in list((root / "JPEGImages").glob("p*.jpg"))[:10]:
        shutil.copy(f, flat / f.name)
    monkeypatch.chdir(flat)
    (c_tree, c_rep), (py_tree, py_rep) = _both(monkeypatch, tmp_path, ["."], split="all", images="link", classes=["dog", "cat"])
    assert c_tree == py_tree and c_rep == py_rep
    assert c_rep["images_linked"] > 0


def test_a_class_the_sample_missed_reads_everything_again(monkeypatch, tmp_path):
    """The class list guessed from a sample (VOC's names) is wrong: the C loop leaves the file
    with the odd name to the reader, which asks for a second pass with every name."""
    root = tmp_path / "VOC"
    for i in range(450):
        write_voc_xml(root, f"{i:04d}", voc_object("zebra" if i == 1 else ("dog" if i % 2 else "cat"), (10, 10, 50, 60)))
    (c_tree, c_rep), (py_tree, py_rep) = _both(monkeypatch, tmp_path, [root], split="all", images="none")
    assert c_tree == py_tree and c_rep == py_rep
    assert c_rep["classes"] == ["cat", "dog", "zebra"] and not c_rep["problems"]


def test_a_label_file_that_cannot_be_written_is_an_oserror_naming_it(tmp_path):
    xml = write_voc_xml(tmp_path / "VOC", "a", voc_object("dog", (10, 10, 50, 60))) / "Annotations" / "a.xml"
    r = native._native.voc_yolo_files([str(xml)], [b"dog"], (-1.0, -1.0, 0.0, 0.0), False, 6)
    bad = str(tmp_path / "no" / "such" / "folder" / "a.txt")
    with pytest.raises(FileNotFoundError) as e:
        native._native.write_files([bad], r[0], r[7], r[8])
    assert e.value.filename == bad
    native._native.write_files([str(tmp_path / "a.txt")], r[0], r[7], r[8])
    assert (tmp_path / "a.txt").read_text() == "0 0.059000 0.092000 0.082000 0.136000\n"  # (9 + 50) / 2 / 500, (9 + 60) / 2 / 375, ...
    with pytest.raises(ValueError):  # the buffers must belong together
        native._native.write_files([bad, bad], r[0], r[7], r[8])


def test_convert_voc_reports_a_label_file_it_cannot_write(monkeypatch, tmp_path):
    """A write failure in the writer thread reaches the caller as the OSError, naming the file."""
    root = tmp_path / "VOC"
    for i in range(300):
        write_voc_xml(root, f"{i:04d}", voc_object("dog", (10, 10, 50, 60)))

    def failing(paths, *a):
        raise PermissionError(13, "Permission denied", paths[0])

    real = native._native
    monkeypatch.setattr(native, "_native", type("N", (), {"voc_yolo_files": staticmethod(real.voc_yolo_files),
                                                          "write_files": staticmethod(failing)}))
    with pytest.raises(PermissionError) as e:
        convert_voc([root], tmp_path / "out", split="all", images="none", classes=["dog"])
    assert e.value.filename.endswith("0000.txt")


def test_the_c_lines_are_the_python_formatter_s(tmp_path):
    """Random boxes and sizes, every decimals: the C loop's text equals yolo_lines'."""
    from yolotools.io.yolo.txt import yolo_lines

    rng = np.random.default_rng(1)
    root = tmp_path / "VOC"
    files, expect = [], []
    for i in range(300):
        w, h = (int(v) for v in rng.integers(1, 5000, 2))
        n = int(rng.integers(0, 5))
        x1 = rng.uniform(1, w, n).round(int(rng.integers(0, 4)))
        y1 = rng.uniform(1, h, n).round(2)
        x2 = np.minimum(x1 + rng.uniform(0.01, w, n), w).round(1)
        y2 = np.minimum(y1 + rng.uniform(0.01, h, n), h)
        keep = (x2 - 1 > x1 - 1) & (y2 > y1)
        objs = "".join(voc_object("dog", (a, b, c, d)) for a, b, c, d in zip(x1[keep], y1[keep], x2[keep], y2[keep]))
        write_voc_xml(root, f"{i}", objs, size=(w, h))
        files.append(root / "Annotations" / f"{i}.xml")
        expect.append((list(zip(x1[keep] - 1, y1[keep] - 1, x2[keep], y2[keep])), (h, w)))
    for decimals in (0, 3, 6, 9):
        r = native._native.voc_yolo_files([os.fsencode(f) for f in files[:150]] + [str(f) for f in files[150:]], [b"dog"],
                                          (-1.0, -1.0, 0.0, 0.0), False, decimals)
        assert not any(r[0])
        ends = memoryview(r[8]).cast("q").tolist()
        for i, (rows, hw) in enumerate(expect):
            rows = [tuple(map(float, r)) for r in rows]
            assert r[7][ends[i - 1] if i else 0 : ends[i]].decode() == yolo_lines([0] * len(rows), rows, hw, decimals=decimals)
