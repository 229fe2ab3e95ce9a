"""The COCO results reader (one path: orjson, then the entries checked as
columns): the same doubles as Python's float() for every number, integer ids
kept exactly, and every entry that is not a detection reported, not raised."""

import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yolotools.errors import Problems
from yolotools.eval.predictions import _detections, load_results


def parse(tmp_path, text):
    p = tmp_path / "r.json"
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    probs = Problems()
    img, cat, bb, sc, _ = _detections(load_results(p), p, probs)
    return img, cat, bb, sc, probs


def reference(text):
    data = orjson.loads(text)
    return (np.array([d["image_id"] for d in data], np.int64).reshape(-1), np.array([d["category_id"] for d in data], np.int64).reshape(-1),
            np.array([d["bbox"] for d in data], np.float64).reshape(-1, 4), np.array([d["score"] for d in data], np.float64).reshape(-1))


def same_bits(a, b):
    a, b = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


number_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # Python's shortest repr (json.dumps writes these)
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.17g}"),  # 17 digits: past the exact fast path
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.6e}"),
    st.integers(-(10**30), 10**30).map(str),  # integers of any size become floats
    st.sampled_from(["0", "-0", "-0.0", "0.0", "1e-400", "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308",
                     "9007199254740993", "0.1", "123456789012345678901234567890e-20", "1E5", "1e+05", "0.000001"]),
).filter(lambda s: "inf" not in s and "nan" not in s)


@st.composite
def results_text(draw):
    n = draw(st.integers(0, 6))
    ws = st.sampled_from(["", " ", "\n  ", "\t", "\r\n"])
    items = []
    for _ in range(n):
        fields = {
            "image_id": str(draw(st.integers(-(2**63), 2**63 - 1))),
            "category_id": str(draw(st.integers(-5, 100))),
            "bbox": "[" + ",".join(draw(ws) + draw(number_text) + draw(ws) for _ in range(4)) + "]",
            "score": draw(number_text),
        }
        extra = draw(st.sampled_from([None, ("file_name", '"a/b \\" c.jpg"'), ("segmentation", '[[1, 2.5, {"x": [true, null]}]]'),
                                      ("area", "12.5"), ("id", "7")]))
        keys = list(fields) + ([extra[0]] if extra else [])
        keys = draw(st.permutations(keys))
        vals = {**fields, **({extra[0]: extra[1]} if extra else {})}
        items.append("{" + ",".join(f'{draw(ws)}"{k}"{draw(ws)}:{draw(ws)}{vals[k]}' for k in keys) + "}")
    return draw(ws) + "[" + ",".join(draw(ws) + it for it in items) + draw(ws) + "]" + draw(ws)


@settings(max_examples=300, deadline=None)
@given(text=results_text())
def test_numbers_equal_pythons_float_bit_for_bit(tmp_path_factory, text):
    img, cat, bb, sc, probs = parse(tmp_path_factory.mktemp("r"), text)
    ref = reference(text)
    assert not probs.items
    assert np.array_equal(img, ref[0]) and np.array_equal(cat, ref[1])
    assert same_bits(bb, ref[2]) and same_bits(sc, ref[3]), text


def test_a_real_results_file_reads_as_orjson_does(tmp_path):
    rng = np.random.default_rng(0)
    dets = [{"image_id": int(i), "category_id": int(c), "bbox": [float(v) for v in rng.uniform(0, 600, 4)], "score": float(s)}
            for i, c, s in zip(rng.integers(1, 5000, 2000), rng.integers(1, 91, 2000), rng.random(2000))]
    text = json.dumps(dets, indent=1)
    got, ref = parse(tmp_path, text), reference(text)
    assert all(same_bits(a, b) if a.dtype == np.float64 else np.array_equal(a, b) for a, b in zip(got[:4], ref))


@pytest.mark.parametrize("entry, kind", [
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}', "not numbers"),  # no score
    ('{"image_id": "1", "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}', "not integers"),  # a string id
    ('{"image_id": 1.0, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}', "not integers"),  # a float id
    ('{"image_id": 99999999999999999999, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}', "not integers"),  # past int64
    ('{"image_id": 1, "category_id": 9223372036854775808, "bbox": [1, 2, 3, 4], "score": 1}', "not integers"),  # 2^63
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 1}', "not numbers"),  # three numbers
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, NaN], "score": 1}', "not numbers"),
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": Infinity}', "not numbers"),
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 1e999], "score": 1}', "not numbers"),  # overflows to inf
    ('{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": true}', "not numbers"),
    ('[1, 2]', "not an object"),
])
def test_an_entry_that_is_no_detection_is_reported_and_the_rest_read(tmp_path, entry, kind):
    good = '{"image_id": 3, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}'
    img, cat, bb, sc, probs = parse(tmp_path, f"[{good}, {entry}, {good}]")
    assert img.tolist() == [3, 3] and bb.tolist() == [[1, 2, 3, 4]] * 2
    assert [(p.kind, p.where) for p in probs] == [("bad_detection", "[1]")] and kind in probs.items[0].message


@pytest.mark.parametrize("text, needle", [
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}', "malformed JSON"),  # truncated
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}] x', "malformed JSON"),  # trailing text
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 01}]', "malformed JSON"),  # not JSON numbers
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1},]', "malformed JSON"),  # trailing comma
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "a\\qb"}]', "malformed JSON"),  # not an escape
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "\\ud800"}]', "not UTF-8"),  # lone surrogate
    (b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "\xff"}]', "not UTF-8"),  # in an unused string
    (b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "\xed\xa0\x80"}]', "not UTF-8"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ("", "malformed JSON"),
    ('{"x": []}', "expected a list of detections"),
])
def test_a_file_that_is_not_json_text_is_refused_in_one_line(tmp_path, text, needle):
    from yolotools.errors import YoloToolsError

    with pytest.raises(YoloToolsError, match=needle):
        parse(tmp_path, text)


def test_empty_list_and_the_annotations_layout(tmp_path):
    got = parse(tmp_path, "[]")
    assert len(got[0]) == 0 and got[2].shape == (0, 4)
    got = parse(tmp_path, '{"annotations": [{"image_id": 3, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]}')
    assert got[0].tolist() == [3] and got[2].tolist() == [[1, 2, 3, 4]]
