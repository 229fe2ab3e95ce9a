import numpy as np
import pytest

from yolotools.annotations import Annotations, ClassMap, DetectionDataset, ImageRecord
from yolotools.boxes import Boxes


def _ann(n=3, **kw):
    return Annotations(Boxes(np.arange(n * 4, dtype=float).reshape(n, 4) + [0, 0, 10, 10], (100, 100)), np.arange(n), **kw)


def test_parallel_arrays_validated_with_expected_and_actual():
    with pytest.raises(ValueError, match=r"class_ids: expected \(3,\), got \(2,\)"):
        Annotations(Boxes(np.zeros((3, 4)) + [0, 0, 1, 1], (10, 10)), [0, 1])
    with pytest.raises(ValueError, match=r"scores: expected \(3,\)"):
        _ann(scores=[0.1])


def test_indexing_keeps_fields_together():
    a = _ann(4, scores=[0.1, 0.2, 0.3, 0.4], is_difficult=[0, 1, 0, 1])
    s = a[[1, 3]]
    assert s.class_ids.tolist() == [1, 3]
    assert s.scores.tolist() == [0.2, 0.4]
    assert s.is_difficult.tolist() == [True, True]
    np.testing.assert_array_equal(s.boxes.xyxy, a.boxes.xyxy[[1, 3]])


def test_arrays_are_copies_and_read_only():
    cls = np.array([0, 1, 2])
    a = Annotations(Boxes(np.zeros((3, 4)) + [0, 0, 1, 1], (10, 10)), cls)
    cls[0] = 7
    assert a.class_ids[0] == 0
    with pytest.raises(ValueError):
        a.class_ids[0] = 5


def test_dataset_rejects_duplicate_ids_and_bad_class_ids():
    cm = ClassMap(("a", "b"))
    r = ImageRecord("x", None, (100, 100), _ann(2))
    with pytest.raises(ValueError, match="duplicate image_id"):
        DetectionDataset(cm, (r, r))
    with pytest.raises(ValueError, match="class id outside"):
        DetectionDataset(cm, (ImageRecord("y", None, (100, 100), _ann(3)),))


def test_classmap_source_ids_default_and_unique_names():
    cm = ClassMap(("a", "b", "c"))
    assert cm.source_ids == (1, 2, 3)
    assert ClassMap(("a", "b"), (1, 90)).index_of_source_id == {1: 0, 90: 1}
    with pytest.raises(ValueError, match="repeated"):
        ClassMap(("a", "a"))
    with pytest.raises(KeyError, match="unknown class 'z'"):
        cm.index("z")


def test_record_checks_size_agreement():
    with pytest.raises(ValueError, match="image_hw"):
        ImageRecord("x", None, (50, 50), _ann(1))


def test_records_pickle_compactly_and_come_back_equal():
    """Process pools send records back by pickle: every field survives, arrays stay read-only."""
    import pickle
    from pathlib import Path

    import numpy as np

    from yolotools.annotations import Annotations, ImageRecord
    from yolotools.boxes import Boxes

    full = Annotations(Boxes(np.array([[1.5, 2, 30, 40], [0, 0, 5, 5]]), (50, 60)), [1, 0], scores=[0.9, 0.1],
                       is_difficult=[True, False], is_crowd=[False, True], area=[100.0, 7.5], attrs=[{"occluded": 1}, None])
    recs = [ImageRecord("a/b", Path("/x/a/b.jpg"), (50, 60), full, source_id=7),
            ImageRecord("c", None, (5, 6), Annotations.empty((5, 6)))]
    back = pickle.loads(pickle.dumps(recs))
    for r, b in zip(recs, back):
        assert (b.image_id, b.path, b.image_hw, b.source_id) == (r.image_id, r.path, r.image_hw, r.source_id)
        x, y = r.annotations, b.annotations
        assert y.boxes.image_hw == x.boxes.image_hw and np.array_equal(y.boxes.xyxy, x.boxes.xyxy)
        for name in ("class_ids", "is_difficult", "is_crowd", "scores", "area"):
            u, v = getattr(x, name), getattr(y, name)
            assert (u is None and v is None) or (np.array_equal(u, v) and u.dtype == v.dtype and not v.flags.writeable), name
        assert (x.attrs is None and y.attrs is None) or list(x.attrs) == list(y.attrs)
        assert len(y) == len(x)
    assert back[0].annotations[[1]].is_crowd.tolist() == [True]  # indexing still works on the rebuilt arrays
