"""Our COCO evaluator against pycocotools' COCOeval (the reference users are judged by)."""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED, need
from yolotools.eval.coco import STAT_NAMES, evaluate_coco
from yolotools.eval.predictions import read_coco_results
from yolotools.io.coco import coco_dict, read_coco


def pycoco(gt_dict: dict, results: list):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO()
        g.dataset = gt_dict
        g.createIndex()
        d = g.loadRes(results)
        e = COCOeval(g, d, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def ours(tmp_path, gt_dict, results):
    import json

    (tmp_path / "gt.json").write_text(json.dumps(gt_dict))
    (tmp_path / "dt.json").write_text(json.dumps(results))
    gt, _ = read_coco(tmp_path / "gt.json", clip=False)
    pr, _ = read_coco_results(tmp_path / "dt.json", gt)
    return evaluate_coco(gt, pr)


def test_fake_results_on_real_val2014_sample_equal_pycocotools_and_published():
    gt_path = need(SHARED / "review_object_detection_metrics" / "tests" / "test_coco_eval" / "gts" / "sampled_gts_bbox_area.json")
    dt_path = need(SHARED / "cocoapi" / "results" / "instances_val2014_fakebbox100_results.json")
    gt, _ = read_coco(gt_path, clip=False)
    pr, probs = read_coco_results(dt_path, gt)
    res = evaluate_coco(gt, pr)
    import json

    ref = pycoco(json.loads(gt_path.read_text()), json.loads(dt_path.read_text()))
    for name, v in zip(STAT_NAMES, ref.stats):
        assert abs(res.stats[name] - v) <= 1e-9, name
    np.testing.assert_array_equal(res.precision, ref.eval["precision"])
    np.testing.assert_array_equal(res.recall, ref.eval["recall"])
    published = [0.503647, 0.696973, 0.571667, 0.593252, 0.557991, 0.489363, 0.386813, 0.593680, 0.595353, 0.654764, 0.603130, 0.553744]
    assert [round(res.stats[n], 6) for n in STAT_NAMES] == published
    # the file path that builds no records (what `yolotools eval` runs) gives the same numbers
    from yolotools.eval import evaluate_coco_files

    res2, _ = evaluate_coco_files(gt_path, dt_path)
    np.testing.assert_array_equal(res2.precision, res.precision)
    assert res2.per_class == res.per_class and res2.num_dt == res.num_dt and res2.num_gt == res.num_gt


@st.composite
def eval_case(draw):
    n_img = draw(st.integers(1, 5))
    n_cat = draw(st.integers(1, 3))
    cat_ids = sorted(draw(st.sets(st.integers(1, 90), min_size=n_cat, max_size=n_cat)))
    coord = st.integers(0, 40)
    images, anns, results = [], [], []
    aid = 0
    for i in range(n_img):
        iid = draw(st.integers(1, 10_000).filter(lambda v, used={im["id"] for im in images}: v not in used))
        images.append({"id": iid, "file_name": f"{iid}.jpg", "width": 60, "height": 60})
        gts = []
        for _ in range(draw(st.integers(0, 5))):
            x, y = draw(coord), draw(coord)
            w, h = draw(st.integers(1, 30)), draw(st.integers(1, 30))
            aid += 1
            area = draw(st.sampled_from([float(w * h), float(draw(st.integers(1, 12000)))]))
            g = {"id": aid, "image_id": iid, "category_id": draw(st.sampled_from(cat_ids)), "bbox": [x, y, w, h],
                 "area": area, "iscrowd": int(draw(st.integers(0, 9)) == 0)}
            anns.append(g)
            gts.append(g)
        for _ in range(draw(st.integers(0, 14))):
            if gts and draw(st.booleans()):
                g = draw(st.sampled_from(gts))
                dx, dy, dw, dh = (draw(st.integers(-3, 3)) for _ in range(4))
                bb = [g["bbox"][0] + dx, g["bbox"][1] + dy, max(1, g["bbox"][2] + dw), max(1, g["bbox"][3] + dh)]
                c = g["category_id"] if draw(st.integers(0, 4)) else draw(st.sampled_from(cat_ids))
            else:
                bb = [draw(coord), draw(coord), draw(st.integers(1, 30)), draw(st.integers(1, 30))]
                c = draw(st.sampled_from(cat_ids))
            results.append({"image_id": iid, "category_id": c, "bbox": bb, "score": draw(st.sampled_from([0.1, 0.5, 0.5, 0.9, 0.33]))})
    # a category that has no ground truth at all
    cats = [{"id": c, "name": f"c{c}"} for c in cat_ids] + [{"id": 99, "name": "never"}]
    if draw(st.booleans()):
        for r in results[: draw(st.integers(0, 3))]:
            results.append({**r, "category_id": 99})
    return {"images": images, "annotations": anns, "categories": cats}, results


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=eval_case())
def test_identical_to_pycocotools_on_random_datasets(tmp_path, case):
    gt_dict, results = case
    if not results:
        return  # pycocotools cannot load an empty result list
    ref = pycoco(gt_dict, results)
    res = ours(tmp_path, gt_dict, results)
    for name, v in zip(STAT_NAMES, ref.stats):
        assert abs(res.stats[name] - v) <= 1e-12, (name, res.stats[name], v)
    np.testing.assert_array_equal(res.precision, ref.eval["precision"])
    np.testing.assert_array_equal(res.recall, ref.eval["recall"])
    np.testing.assert_array_equal(res.scores, ref.eval["scores"])


def test_many_detections_per_image_respect_max_dets(tmp_path):
    rng = np.random.default_rng(0)
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in (3, 1, 2)]
    anns, results = [], []
    for i in (1, 2, 3):
        for j in range(30):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(5, 120, 2)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1 + j % 2, "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
            for _ in range(5):
                results.append({"image_id": i, "category_id": 1 + j % 2, "bbox": [x + rng.normal(0, 5), y + rng.normal(0, 5), w, h],
                                "score": float(rng.uniform())})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    ref = pycoco(gt, results)
    res = ours(tmp_path, gt, results)
    np.testing.assert_array_equal(res.precision, ref.eval["precision"])
    np.testing.assert_array_equal(res.recall, ref.eval["recall"])
    np.testing.assert_array_equal(res.scores, ref.eval["scores"])


@pytest.mark.parametrize("variant", ["clean", "unknown ids", "by file name", "negative", "python parser"])
def test_file_path_equals_record_path_numbers_and_problems(tmp_path, variant):
    """`yolotools eval GT.json RESULTS.json` reads columns (no record per image);
    it must report and score exactly as reading both into datasets does."""
    import json

    from yolotools.errors import Problems
    from yolotools.eval import evaluate_coco_files

    rng = np.random.default_rng(1)
    images = [{"id": int(i), "file_name": f"im{i}.jpg", "width": 300, "height": 200} for i in (5, 2, 9, 4)]
    anns, dets = [], []
    for im in images:
        for _ in range(4):
            x, y, w, h = (float(v) for v in rng.uniform([0, 0, 5, 5], [200, 120, 90, 70]))
            c = int(rng.choice([1, 3, 7]))
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": int(rng.random() < 0.2)})
            dets.append({"image_id": im["id"], "category_id": c, "bbox": [x + 1.5, y - 0.5, w, h], "score": float(rng.random())})
            dets.append({"image_id": im["id"], "category_id": int(rng.choice([1, 3, 7])), "bbox": [y, x, h, w], "score": float(rng.random())})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in (7, 1, 3)]}
    if variant == "unknown ids":
        dets += [{**dets[0], "image_id": 77}, {**dets[1], "category_id": 42}]
    if variant == "by file name":
        by_id = {im["id"]: im["file_name"] for im in images}
        dets = [{**d, "image_id": 1000 + d["image_id"], "file_name": by_id[d["image_id"]]} for d in dets]
    if variant == "negative":
        dets[3]["bbox"][2] = -4.0
    text = json.dumps(dets)
    if variant == "python parser":  # NaN: orjson refuses it, the standard library reads it, the entry is reported
        text = text.replace(str(dets[2]["score"]), "NaN", 1)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(text)
    gt_ds, gp = read_coco(tmp_path / "gt.json", clip=False)
    pr, pp = read_coco_results(tmp_path / "dt.json", gt_ds)
    ref = evaluate_coco(gt_ds, pr)
    for res, problems in [evaluate_coco_files(tmp_path / "gt.json", tmp_path / "dt.json")]:
        assert [p.to_dict() for p in problems] == [p.to_dict() for p in list(gp) + list(pp)]
        np.testing.assert_array_equal(res.precision, ref.precision)
        np.testing.assert_array_equal(res.recall, ref.recall)
        np.testing.assert_array_equal(res.scores, ref.scores)
        assert (res.num_dt, res.num_gt, res.num_images, res.per_class) == (ref.num_dt, ref.num_gt, ref.num_images, ref.per_class)
    kinds = {p.kind for p in list(gp) + list(pp)}
    expected = {"clean": set(), "unknown ids": {"unknown_image", "unknown_class"}, "by file name": {"matched_by_file_name"},
                "negative": {"bad_detection"}, "python parser": {"bad_detection"}}[variant]
    assert kinds == expected
    assert isinstance(pp, Problems)
    if variant == "clean":  # and pycocotools agrees
        e = pycoco(gt, dets)
        np.testing.assert_array_equal(ref.precision, e.eval["precision"])


@pytest.mark.parametrize("case", ["no detections", "no ground-truth boxes", "no images", "no categories"])
def test_degenerate_inputs_give_the_documented_answer(tmp_path, case):
    import json

    from yolotools.eval import evaluate_coco_files

    img = [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}]
    ann = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0}]
    det = [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3], "score": 0.5}]
    cat = [{"id": 1, "name": "a"}]
    gt, res = {"no detections": ({"images": img, "annotations": ann, "categories": cat}, []),
               "no ground-truth boxes": ({"images": img, "annotations": [], "categories": cat}, det),
               "no images": ({"images": [], "annotations": [], "categories": cat}, []),
               "no categories": ({"images": img, "annotations": [], "categories": []}, [])}[case]
    (tmp_path / "g.json").write_text(json.dumps(gt))
    (tmp_path / "r.json").write_text(json.dumps(res))
    out = [evaluate_coco_files(tmp_path / "g.json", tmp_path / "r.json")[0]]
    gt_ds, _ = read_coco(tmp_path / "g.json", clip=False)
    pr, _ = read_coco_results(tmp_path / "r.json", gt_ds)
    ref = evaluate_coco(gt_ds, pr)
    np.testing.assert_array_equal(ref.precision, out[0].precision)
    assert ref.stats == out[0].stats
    assert out[0].stats["AP"] == (0.0 if case == "no detections" else -1.0)
