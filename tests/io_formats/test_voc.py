import os
import tarfile

import numpy as np
import pytest

from tests.conftest import voc_object, write_voc_xml
from yolotools.errors import YoloToolsError
from yolotools.io.voc import parse as voc_mod
from yolotools.io.voc import read_voc, write_voc


@pytest.mark.parametrize(
    "convention,expected",
    [("exact", [[9, 19, 30, 40]]), ("darknet", [[9, 19, 29, 39]]), ("raw", [[10, 20, 30, 40]])],
)
def test_pixel_conventions(tmp_path, convention, expected):
    root = write_voc_xml(tmp_path / "VOC", "a", voc_object("dog", (10, 20, 30, 40)))
    ds, probs = read_voc([root], "all", convention=convention)
    np.testing.assert_allclose(ds.records[0].annotations.boxes.xyxy, expected)
    assert len(probs) == 0


def test_part_boxes_are_not_objects_and_difficult_is_a_flag(tmp_path):
    part = "<part><name>head</name><bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></part>"
    objs = voc_object("person", (10, 10, 100, 200), parts=part) + voc_object("dog", (5, 5, 50, 50), difficult=1)
    root = write_voc_xml(tmp_path / "VOC", "a", objs)
    ds, _ = read_voc([root], "all")
    ann = ds.records[0].annotations
    assert [ds.class_map.names[i] for i in ann.class_ids] == ["person", "dog"]
    assert ann.is_difficult.tolist() == [False, True]
    # default class order is VOC's when every name is a VOC class
    assert ds.class_map.names[14] == "person"


def test_custom_classes_sorted_and_explicit_order(tmp_path):
    objs = voc_object("zebra", (1, 1, 10, 10)) + voc_object("ant", (1, 1, 10, 10))
    root = write_voc_xml(tmp_path / "VOC", "a", objs)
    ds, _ = read_voc([root], "all")
    assert ds.class_map.names == ("ant", "zebra")
    ds, probs = read_voc([root], "all", classes=["zebra"])
    assert ds.class_map.names == ("zebra",)
    assert ds.records[0].annotations.class_ids.tolist() == [0]
    assert [p.kind for p in probs] == ["unknown_class"]
    assert "object 1" in str(probs.items[0]) and "a.xml" in str(probs.items[0])
    with pytest.raises(YoloToolsError, match="unknown class 'ant'"):
        read_voc([root], "all", classes=["zebra"], strict=True)


def test_bad_boxes_clipped_or_skipped_with_named_problems(tmp_path):
    objs = (
        voc_object("dog", (-5, 10, 600, 50))  # partly outside: clipped
        + voc_object("dog", (600, 10, 700, 50))  # fully outside: skipped
        + voc_object("dog", (30, 10, 30, 50))  # zero width under raw: skipped
        + "<object><name>dog</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
    )
    root = write_voc_xml(tmp_path / "VOC", "a", objs)
    ds, probs = read_voc([root], "all", convention="raw")
    np.testing.assert_allclose(ds.records[0].annotations.boxes.xyxy, [[0, 10, 500, 50]])
    kinds = sorted(p.kind for p in probs)
    assert kinds == ["bad_coordinates", "box_clipped", "box_outside_image", "empty_box"]
    where = {p.kind: p.where for p in probs}
    assert where == {"box_clipped": "object 0", "box_outside_image": "object 1", "empty_box": "object 2", "bad_coordinates": "object 3"}


def test_malformed_and_missing_size(tmp_path):
    root = tmp_path / "VOC"
    write_voc_xml(root, "ok", voc_object("dog", (1, 1, 5, 5)))
    (root / "Annotations" / "broken.xml").write_text("<annotation><object><name>dog</name></annotation>")
    write_voc_xml(root, "nosize", voc_object("dog", (1, 1, 5, 5)), size=None)
    ds, probs = read_voc([root], "all")
    assert [r.image_id for r in ds.records] == ["ok"]
    msgs = {p.kind: str(p) for p in probs}
    assert "broken.xml" in msgs["malformed_xml"]
    assert "nosize.xml" in msgs["missing_size"]
    with pytest.raises(YoloToolsError, match="broken.xml"):
        read_voc([root], "all", strict=True)


@pytest.mark.parametrize(
    "doc",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<annotation><object><name>&lol2;</name></object></annotation>",
        # XXE: external entity reading a local file
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<annotation><filename>&xxe;</filename></annotation>",
    ],
)
def test_entity_attacks_rejected(tmp_path, doc):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "evil.xml").write_text(doc)
    ds, probs = read_voc([root], "all")
    assert len(ds) == 0
    assert [p.kind for p in probs] == ["unsafe_xml"]
    assert "evil.xml" in str(probs.items[0])


def test_split_lists_and_missing_split(tmp_path):
    root = write_voc_xml(tmp_path / "VOC", "a", voc_object("dog", (1, 1, 5, 5)))
    write_voc_xml(root, "b", voc_object("cat", (1, 1, 5, 5)))
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("b\r\n")
    ds, _ = read_voc([root], "train")
    assert [r.image_id for r in ds] == ["b"]
    with pytest.raises(YoloToolsError, match=r"val.txt: split list not found; available splits: \['train'\]"):
        read_voc([root], "val")


def test_write_then_read_round_trip(tmp_path):
    root = write_voc_xml(tmp_path / "VOC", "a", voc_object("dog", (10, 20, 30, 40), difficult=1) + voc_object("cat", (1, 2, 3, 4)))
    ds, _ = read_voc([root], "all")
    out = tmp_path / "VOC2"
    write_voc(ds, out, "all")
    ds2, _ = read_voc([out], "all")
    a, b = ds.records[0].annotations, ds2.records[0].annotations
    np.testing.assert_array_equal(a.boxes.xyxy, b.boxes.xyxy)
    assert a.is_difficult.tolist() == b.is_difficult.tolist()


def test_fast_path_equals_lxml_on_tricky_files(tmp_path):
    docs = [
        '<annotation verified="yes"><size><width>10</width><height>10</height></size>' + voc_object("dog", (1, 1, 5, 5)) + "</annotation>",
        "<annotation><!-- <object><name>ghost</name></object> -->" + voc_object("dog", (1, 1, 5, 5)) + "</annotation>",
        "<annotation><object><name>a&amp;b</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object></annotation>",
        "<annotation><object><bndbox><xmax>4</xmax><xmin>1</xmin><ymin>1</ymin><ymax>4</ymax></bndbox><name>x</name></object></annotation>",
    ]
    for i, d in enumerate(docs):
        p = tmp_path / f"{i}.xml"
        p.write_text(d)
        got = voc_mod._parse_one(str(p), str(i))
        ref = voc_mod._parse_lxml(d.encode(), voc_mod._Parsed(str(p), str(i), None, None, [], [], [], [], []))
        assert (got.names, got.voc, got.difficult, got.image_hw) == (ref.names, ref.voc, ref.difficult, ref.image_hw), d
    assert voc_mod._parse_one(str(tmp_path / "1.xml"), "1").names == ["dog"]


# ---------------------------------------------------------------- real data


def test_fast_path_equals_lxml_on_every_voc2007_file(voc2007):
    ann = voc2007 / "Annotations"
    for f in sorted(os.listdir(ann)):
        data = (ann / f).read_bytes()
        fast = voc_mod._Parsed(f, f, None, None, [], [], [], [], [])
        if not voc_mod._parse_fast(data, fast):
            continue
        ref = voc_mod._parse_lxml(data, voc_mod._Parsed(f, f, None, None, [], [], [], [], []))
        assert (fast.filename, fast.image_hw, fast.names, fast.voc, fast.difficult, fast.obj_index) == (
            ref.filename, ref.image_hw, ref.names, ref.voc, ref.difficult, ref.obj_index), f


def test_voc2007_official_object_counts(voc2007):
    for split, n_img, n_obj, n_diff in (("trainval", 5011, 15662, 3054), ("test", 4952, 14976, 2944)):
        ds, probs = read_voc([voc2007], split)
        assert len(probs) == 0
        assert (len(ds), ds.num_boxes) == (n_img, n_obj)
        assert sum(int(r.annotations.is_difficult.sum()) for r in ds) == n_diff


def test_classes_txt_fixes_the_order_for_every_split(tmp_path):
    root = write_voc_xml(tmp_path / "VOC", "a", voc_object("zebra", (1, 1, 10, 10)))
    write_voc_xml(root, "b", voc_object("ant", (1, 1, 10, 10)))
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("b\n")
    assert read_voc([root], "train")[0].class_map.names == ("zebra",)  # no list: this split's names
    (root / "classes.txt").write_text("zebra\nant\n")
    assert read_voc([root], "train")[0].class_map.names == read_voc([root], "val")[0].class_map.names == ("zebra", "ant")


# ---------------------------------------------------------------- the C reader of plain files

_SNIPPETS = [b"<part><name>x</name></part>", b"<part>", b"</part>", b"<object>", b"</object>", b"<name>cat</name>", b"<name> </name>",
             b"<difficult>1</difficult>", b"<difficult>false</difficult>", b"<difficult> 0 </difficult>", b"<bndbox>", b"</bndbox>",
             b"<xmin>1_0</xmin>", b"<xmin>inf</xmin>", b"<xmin> 1e3 </xmin>", b"<xmin>.5</xmin>", b"<xmin>5.</xmin>", b"<size>",
             b"<filename>b.jpg</filename>", b"<filename></filename>", b"<width>1e999</width>", b"<width>-3</width>", b"<width>12.9</width>",
             b"<a x='1'>", b"<b/>", b"<!-- c -->", b"<![CDATA[x]]>", b"&amp;", b"\x01", b"\xc3\xa9", b"]]>", b"<?pi x?>", b"\n", b" ", b"<",
             b">", b"</annotation>", b"<annotation>", b"<depth>3</depth>", b"<ymin>", b"</ymin>", b"<1a>", b"<a-b.c:d>", b"</a-b.c:d>"]


def _mutants(data: bytes, rng, n: int):
    for _ in range(n):
        d = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(0, len(d) + 1))
            kind = int(rng.integers(0, 3))
            if kind == 0:
                d[at:at] = _SNIPPETS[int(rng.integers(len(_SNIPPETS)))]
            elif kind == 1:
                del d[at : at + int(rng.integers(1, 12))]
            else:
                j = int(rng.integers(0, len(d) + 1))
                d[at:at] = d[j : j + int(rng.integers(1, 40))]
        yield bytes(d)


@pytest.mark.skipif(voc_mod._native is None, reason="C kernels not built")
def test_c_reader_equals_regex_path_on_voc2007_and_on_mutants(voc2007):
    """Whenever the C reader takes a file, the regex fast path (which a test above holds to
    lxml) takes it too with the same fields, or, for a file it refuses only for an '=' or one
    of XML's five entities in text (which it cannot tell from attributes and references), takes
    it with those replaced, with the same fields; on VOC2007 it takes every file the regex path
    takes, and the 151 files with "&amp;" or "=" in their owner's name too, as lxml reads them."""
    import re
    import xml.parsers.expat

    rng = np.random.default_rng(0)
    files = sorted(os.listdir(voc2007 / "Annotations"))
    taken = 0
    for k, f in enumerate(files):
        data = (voc2007 / "Annotations" / f).read_bytes()
        docs = [data] + (list(_mutants(data, rng, 30)) if k % 40 == 0 else [])
        for d in docs:
            got = voc_mod._native.parse_voc_plain(d)
            if d is data:  # a real file the regex path takes, the C reader takes too
                assert got is not None or not voc_mod._parse_regex(d, voc_mod._Parsed(f, f, None, None, [], [], [], [], [])), f
            if got is None:
                continue
            taken += d is data
            xml.parsers.expat.ParserCreate().Parse(d, True)  # accepted => well-formed
            ref = voc_mod._Parsed(f, f, None, None, [], [], [], [], [])
            if not voc_mod._parse_regex(d, ref):
                a = d.find(b"<annotation")
                neutral = d[:a] + re.sub(rb"&(amp|lt|gt|quot|apos);", b"x", d[a:]).replace(b"=", b"x")
                assert neutral != d, (f, d)
                ref = voc_mod._Parsed(f, f, None, None, [], [], [], [], [])
                assert voc_mod._parse_regex(neutral, ref), (f, d)
                if d is data:
                    lx = voc_mod._parse_lxml(d, voc_mod._Parsed(f, f, None, None, [], [], [], [], []))
                    assert got == (lx.filename, lx.image_hw, lx.names, lx.voc, lx.difficult), f
            assert got == (ref.filename, ref.image_hw, ref.names, ref.voc, ref.difficult), (f, d)
    assert taken == len(files)


@pytest.mark.skipif(voc_mod._native is None, reason="C kernels not built")
@pytest.mark.parametrize("doc", [
    b'<?xml version="1.0"?><annotation><filename> a.jpg </filename><size><width>10.7</width><height>5</height></size>'
    b"<object><name> dog </name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3.5</xmax><ymax>4e0</ymax></bndbox>"
    b"<part><name>paw</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></part></object></annotation>",
    b"<annotation><object><name>cat</name><difficult>yes</difficult><bndbox>\n<xmin> 1 </xmin>\n<ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"
    b"\n</bndbox></object><object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
    b"</annotation>\n",
])
def test_c_reader_on_hand_made_files(doc):
    got = voc_mod._native.parse_voc_plain(doc)
    ref = voc_mod._Parsed("x", "x", None, None, [], [], [], [], [])
    assert voc_mod._parse_regex(doc, ref)
    assert got == (ref.filename, ref.image_hw, ref.names, ref.voc, ref.difficult)
    assert got[2][0] in ("dog", "cat")


@pytest.mark.skipif(voc_mod._native is None, reason="C kernels not built")
@pytest.mark.parametrize("field, ok", [
    ("<owner><name>a &amp; b = c</name></owner>", True),  # text the reader does not use: read in C
    ("<filename>a&amp;b.jpg</filename>", False),  # a field it uses: lxml decodes it
    ("<object><name>a&lt;b</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>", False),
    ("<owner><name>a &#38; b</name></owner>", False),  # character references: lxml
    ("<owner><name>a &nbsp; b</name></owner>", False),  # not an XML entity: lxml refuses it
])
def test_c_reader_and_entities(tmp_path, field, ok):
    doc = f"<annotation><size><width>10</width><height>10</height></size>{field}</annotation>".encode()
    got = voc_mod._native.parse_voc_plain(doc)
    assert (got is not None) == ok
    (tmp_path / "a.xml").write_bytes(doc)
    p = voc_mod._parse_one(str(tmp_path / "a.xml"), "a")  # whichever path reads it, the fields lxml gives
    lx = voc_mod._parse_lxml(doc, voc_mod._Parsed("a", "a", None, None, [], [], [], [], []))
    assert (p.filename, p.image_hw, p.names, p.voc, p.problems) == (lx.filename, lx.image_hw, lx.names, lx.voc, lx.problems)


@pytest.mark.parametrize("odd", [None, "zebra"])
def test_class_order_without_a_list_does_not_depend_on_which_files_are_sampled(tmp_path, odd):
    """Large splits guess VOC's 20 names from a sample of the files; a name outside them in a
    file the sample missed must still give this split's names sorted, every box its class."""
    from yolotools.annotations import VOC_CLASSES

    root = tmp_path / "VOC"
    for i in range(450):
        name = odd if (odd and i == 1) else ("dog" if i % 2 else "cat")
        write_voc_xml(root, f"{i:04d}", voc_object(name, (10, 10, 50, 60)))
    ds, probs = read_voc([root], "all")
    assert len(probs) == 0 and len(ds) == 450
    expected = ("cat", "dog", "zebra") if odd else VOC_CLASSES
    assert ds.class_map.names == expected
    names = {r.image_id: ds.class_map.names[int(r.annotations.class_ids[0])] for r in ds}
    assert names["0001"] == (odd or "dog") and names["0002"] == "cat"
    from yolotools.convert import convert_voc  # its label files, written while parsing, carry the same indices

    convert_voc([root], tmp_path / "out", split="all", images="none")
    assert (tmp_path / "out" / "labels" / "0001.txt").read_text().split()[0] == str(expected.index(odd or "dog"))
    assert (tmp_path / "out" / "classes.names").read_text().split() == list(expected)
