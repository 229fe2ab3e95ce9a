import os

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


def test_tricky_files_read_as_xml_says(tmp_path):
    """Attributes, comments, entities and any child order: the fields an XML parser gives."""
    docs = [
        ('<annotation verified="yes"><size><width>10</width><height>10</height></size>' + voc_object("dog", (1, 1, 5, 5)) + "</annotation>",
         ["dog"], [(1.0, 1.0, 5.0, 5.0)]),
        ("<annotation><!-- <object><name>ghost</name></object> -->" + voc_object("dog", (1, 1, 5, 5)) + "</annotation>", ["dog"],
         [(1.0, 1.0, 5.0, 5.0)]),
        ("<annotation><object><name>a&amp;b</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object></annotation>",
         ["a&b"], [(1.0, 1.0, 4.0, 4.0)]),
        ("<annotation><object><bndbox><xmax>4</xmax><xmin>1</xmin><ymin>1</ymin><ymax>4</ymax></bndbox><name>x</name></object></annotation>",
         ["x"], [(1.0, 1.0, 4.0, 4.0)]),
        ("<annotation><object><name>a&#60;b</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object>"
         "<filename>a&amp;b.jpg</filename></annotation>", ["a<b"], [(1.0, 1.0, 4.0, 4.0)]),
    ]
    for i, (d, names, boxes) in enumerate(docs):
        p = tmp_path / f"{i}.xml"
        p.write_text(d)
        got = voc_mod._parse_one(str(p), str(i))
        assert (got.names, got.voc, got.problems) == (names, boxes, []), d
    assert got.filename == "a&b.jpg"
    (tmp_path / "n.xml").write_text("<annotation><owner><name>a &nbsp; b</name></owner></annotation>")  # not an XML entity
    assert [k for _, k, _, _ in voc_mod._parse_one(str(tmp_path / "n.xml"), "n").problems] == ["malformed_xml"]


# ---------------------------------------------------------------- real data


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


# ---------------------------------------------------------------- mutated files

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


def test_mutated_voc2007_files_are_read_or_reported_never_raised(voc2007, tmp_path):
    """Snippets inserted, bytes changed, parts cut or repeated in real files: each file is read
    (fields as lxml gives them) or gets problems naming what is wrong; no exception escapes."""
    rng = np.random.default_rng(0)
    files = sorted(os.listdir(voc2007 / "Annotations"))[::250]
    kinds = set()
    for k, f in enumerate(files):
        for j, d in enumerate(_mutants((voc2007 / "Annotations" / f).read_bytes(), rng, 30)):
            p = tmp_path / f"{k}_{j}.xml"
            p.write_bytes(d)
            got = voc_mod._parse_one(str(p), p.stem)
            kinds |= {kind for _, kind, _, _ in got.problems}
            assert len(got.names) == len(got.voc) == len(got.difficult)
    assert "malformed_xml" in kinds


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
