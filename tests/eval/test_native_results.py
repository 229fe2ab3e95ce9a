"""The C reader of COCO results files: the same doubles as Python's float() for
every number, and None (the caller then parses with orjson and names the problem)
for anything that is not a plain results list."""

import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yolotools.eval.coco import _native

pytestmark = pytest.mark.skipif(_native is None, reason="C kernels not built")


def parse(text):
    out = _native.parse_coco_results(text.encode() if isinstance(text, str) else text)
    if out is None:
        return None
    img, cat, bb, sc, named = out
    return np.frombuffer(img, np.int64), np.frombuffer(cat, np.int64), np.frombuffer(bb, np.float64).reshape(-1, 4), np.frombuffer(sc, np.float64), named


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
def test_numbers_equal_pythons_float_bit_for_bit(text):
    got = parse(text)
    assert got is not None, text
    img, cat, bb, sc = reference(text)
    assert np.array_equal(got[0], img) and np.array_equal(got[1], cat)
    assert same_bits(got[2], bb) and same_bits(got[3], sc), text
    assert got[4] == ('"file_name"' in text)


def test_a_real_results_file_reads_as_orjson_does():
    rng = np.random.default_rng(0)
    dets = [{"image_id": int(i), "category_id": int(c), "bbox": [float(v) for v in rng.uniform(0, 600, 4)], "score": float(s)}
            for i, c, s in zip(rng.integers(1, 5000, 2000), rng.integers(1, 91, 2000), rng.random(2000))]
    text = json.dumps(dets, indent=1)
    got, ref = parse(text), reference(text)
    assert all(same_bits(a, b) if a.dtype == np.float64 else np.array_equal(a, b) for a, b in zip(got[:4], ref))


@pytest.mark.parametrize("text", [
    '{"annotations": []}',  # another layout
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]',  # no score
    '[{"image_id": "1", "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]',  # a string id
    '[{"image_id": 1.0, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]',  # a float id
    '[{"image_id": 99999999999999999999, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]',  # past int64
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 1}]',  # three numbers
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, NaN], "score": 1}]',
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": Infinity}]',
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 1e999], "score": 1}]',  # overflows to inf
    '[{"image_\\u0069d": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]',  # an escape in a key
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}',  # truncated
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}] x',  # trailing text
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 01}]',  # not JSON numbers
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1.}]',
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1},]',  # trailing comma
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": ' + "[" * 100 + "]" * 100 + "}]",  # too deep
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "a\\qb"}]',  # not a JSON escape
    '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "x": "\\u12"}]',  # a short \\u escape
    '[1, 2]',
    '',
])
def test_anything_but_a_plain_results_list_is_left_to_orjson(text):
    assert parse(text) is None


def test_empty_list_and_bom():
    got = parse("[]")
    assert got is not None and len(got[0]) == 0 and got[2].shape == (0, 4)
    got = parse(b'\xef\xbb\xbf[{"image_id": 3, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]')
    assert got[0].tolist() == [3] and got[2].tolist() == [[1, 2, 3, 4]]
