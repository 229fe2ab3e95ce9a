import json

import numpy as np
import pytest

from yolotools.errors import YoloToolsError
from yolotools.io.coco import coco_dict, read_coco, write_coco


def _coco(tmp_path, **over):
    d = {
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 200, "height": 100},
            {"id": 11, "file_name": "sub/b.jpg", "width": 50, "height": 50},
        ],
        "categories": [{"id": 90, "name": "toothbrush"}, {"id": 1, "name": "person"}, {"id": 5, "name": "airplane"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 90, "bbox": [10, 20, 30, 40], "area": 900.5, "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 1, "bbox": [0, 0, 200, 100], "area": 12000, "iscrowd": 1},
        ],
    }
    d.update(over)
    p = tmp_path / "instances.json"
    p.write_text(json.dumps(d))
    return p


def test_category_ids_map_to_contiguous_in_id_order(tmp_path):
    ds, probs = read_coco(_coco(tmp_path))
    assert ds.class_map.names == ("person", "airplane", "toothbrush")
    assert ds.class_map.source_ids == (1, 5, 90)
    a = ds.by_id()["a"].annotations
    assert a.class_ids.tolist() == [2, 0]
    assert a.is_crowd.tolist() == [False, True]
    assert a.area.tolist() == [900.5, 12000.0]
    np.testing.assert_allclose(a.boxes.xyxy[0], [10, 20, 40, 60])
    # images without annotations are kept
    assert len(ds.by_id()["sub/b"].annotations) == 0
    assert len(probs) == 0
    ds2, _ = read_coco(_coco(tmp_path), class_order="file")
    assert ds2.class_map.names == ("toothbrush", "person", "airplane")


def test_bad_entries_named_and_counted(tmp_path):
    anns = [
        {"id": 7, "image_id": 10, "category_id": 3, "bbox": [1, 1, 2, 2]},
        {"id": 8, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]},
        {"id": 9, "image_id": 10, "category_id": 1, "bbox": [1, 1, 0, 2]},
        {"id": 10, "image_id": 10, "category_id": 1, "bbox": [190, 1, 20, 2]},
        {"id": 11, "image_id": 10, "category_id": 1, "bbox": [1, "x", 2, 2]},
    ]
    ds, probs = read_coco(_coco(tmp_path, annotations=anns))
    kinds = [(p.kind, p.where) for p in probs]
    assert kinds == [
        ("unknown_class", "annotations[0] (id 7)"),
        ("unknown_image", "annotations[1] (id 8)"),
        ("empty_box", "annotations[2] (id 9)"),
        ("box_clipped", "annotations[3] (id 10)"),
        ("bad_bbox", "annotations[4] (id 11)"),
    ]
    np.testing.assert_allclose(ds.by_id()["a"].annotations.boxes.xyxy, [[190, 1, 200, 3]])
    with pytest.raises(YoloToolsError, match=r"instances.json:annotations\[0\] \(id 7\): category_id 3"):
        read_coco(_coco(tmp_path, annotations=anns), strict=True)


def test_malformed_json_and_not_coco(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"images": [1, 2,')
    with pytest.raises(YoloToolsError, match=r"bad.json: malformed JSON at line 1"):
        read_coco(p)
    p.write_text("[]")
    with pytest.raises(YoloToolsError, match="bad.json: expected a JSON object"):
        read_coco(p)
    p.write_text('{"images": []}')
    with pytest.raises(YoloToolsError, match="'categories' missing"):
        read_coco(p)


def test_file_name_escaping_the_image_folder_is_refused(tmp_path):
    imgs = [{"id": 1, "file_name": "../../etc/passwd.jpg", "width": 10, "height": 10},
            {"id": 2, "file_name": "ok.jpg", "width": 10, "height": 10}]
    path = _coco(tmp_path, images=imgs, annotations=[])
    ds, probs = read_coco(path)  # an error for that image; the rest is read
    assert [r.image_id for r in ds.records] == ["ok"]
    assert [(p.kind, p.where) for p in probs] == [("path_outside_dataset", "images[0]")]
    assert "outside the image folder" in probs.items[0].message
    with pytest.raises(YoloToolsError, match="outside the image folder"):
        read_coco(path, strict=True)


def test_write_read_round_trip_is_identity(tmp_path):
    ds, _ = read_coco(_coco(tmp_path))
    out = tmp_path / "out.json"
    write_coco(ds, out)
    ds2, _ = read_coco(out)
    assert ds2.class_map == ds.class_map
    for r in ds:
        r2 = ds2.by_id()[r.image_id]
        assert r2.source_id == r.source_id
        np.testing.assert_array_equal(r2.annotations.boxes.xyxy, r.annotations.boxes.xyxy)
        np.testing.assert_array_equal(r2.annotations.area, r.annotations.area)
        np.testing.assert_array_equal(r2.annotations.is_crowd, r.annotations.is_crowd)


def test_pycocotools_loads_our_export(tmp_path):
    from pycocotools.coco import COCO

    ds, _ = read_coco(_coco(tmp_path))
    c = COCO()
    c.dataset = coco_dict(ds)
    c.createIndex()
    assert sorted(c.getCatIds()) == [1, 5, 90]
    assert len(c.getAnnIds(imgIds=[10])) == 2


def test_a_size_below_one_pixel_is_no_size(tmp_path):
    """width 0.5 (int() would make it 0): reported as a missing size, not a traceback."""
    imgs = [{"id": 1, "file_name": "a.jpg", "width": 0.5, "height": 10}, {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10}]
    path = _coco(tmp_path, images=imgs, annotations=[])
    ds, probs = read_coco(path)
    assert [r.image_id for r in ds.records] == ["b"]
    assert [(p.kind, p.where) for p in probs] == [("missing_size", "images[0]")]
