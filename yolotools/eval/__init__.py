"""Evaluation: COCO mAP identical to pycocotools, VOC07/VOC12 AP as the devkit.

Library API (no files needed, used by the trainer each epoch)::

    from yolotools.eval import evaluate_coco, evaluate_voc, from_arrays
    preds = from_arrays(gt, {image_id: (xyxy, class_ids, scores), ...})
    res = evaluate_coco(gt, preds)       # res.stats["AP"], res.stats["AP50"], ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .coco import STAT_NAMES, CocoEvalResult, CocoParams, evaluate_coco, evaluate_coco_arrays
from .predictions import from_arrays, read_predictions
from .voc import VocResult, evaluate_voc

__all__ = [
    "STAT_NAMES", "CocoEvalResult", "CocoParams", "evaluate_coco", "VocResult", "evaluate_voc",
    "from_arrays", "read_predictions", "EvalReport", "run_eval", "evaluate_coco_files",
]


@dataclass
class EvalReport:
    """What ``yolotools eval`` prints: the metric result plus reading problems."""

    metric: str
    result: CocoEvalResult | VocResult
    problems: list[dict] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = self.result.to_dict()
        d["metric"] = self.metric
        d["problems"] = self.problems
        if self.plots:
            d["plots"] = self.plots
        return d

    def to_table(self) -> str:
        lines = [self.result.to_table()]
        for p in self.problems[:10]:
            lines.append(f"{p['severity']}: {p['path']}{':' + p['where'] if p['where'] else ''}: {p['message']}")
        lines += [f"plot: {p}" for p in self.plots]
        return "\n".join(lines)


def evaluate_coco_files(gt_json, results_json, *, strict: bool = False, params: CocoParams | None = None):
    """COCO ground truth JSON + COCO results JSON -> ``(result, problems)`` without
    building a record per image: the same reading rules, problems and numbers as
    ``evaluate_coco(read_coco(gt, clip=False), read_predictions(results, gt))``."""
    from ..io.files import gc_paused

    with gc_paused():  # millions of objects parsed and made into columns, no cycles
        return _evaluate_files(gt_json, results_json, strict, params)


def _evaluate_files(gt_json, results_json, strict: bool, params: CocoParams | None):
    import numpy as np

    from ..errors import Problems
    from ..io.coco import coco_tables
    from .predictions import coco_results_columns, file_stems

    tables, gp = coco_tables(gt_json, strict=strict, clip=False)
    ids = np.array(tables.coco_ids, np.int64)
    rank = np.empty(len(ids), np.int64)  # evaluation order: ascending COCO image id
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    pp = Problems(strict=strict)
    rec, cls, xyxy, score = coco_results_columns(results_json, tables.coco_ids, tables.class_map.source_ids,
                                                 lambda: file_stems(tables.paths, tables.image_ids), pp, grouped=False)
    g_flat = (rank[tables.ann_image], tables.ann_cls, tables.ann_xyxy, tables.ann_area, tables.ann_crowd)
    res = evaluate_coco_arrays(g_flat, (rank[rec], cls, xyxy, score), len(ids), tables.class_map.names, params)
    return res, list(gp) + list(pp)


def run_eval(
    gt_source,
    pred_source,
    *,
    metric: str = "coco",
    iou: float = 0.5,
    split: str | None = None,
    convention: str = "exact",
    inclusive: bool = False,
    plots: str | Path | None = None,
    strict: bool = False,
    progress: bool = False,
) -> EvalReport:
    """Load ground truth and predictions from files and evaluate."""
    from tqdm.auto import tqdm

    from ..io import load_dataset

    if metric not in ("coco", "voc07", "voc12"):
        from ..errors import YoloToolsError

        raise YoloToolsError(f"unknown metric {metric!r}; choose coco, voc07 or voc12")
    if metric == "coco" and not plots and _is_coco_pair(gt_source, pred_source):
        res, problems = evaluate_coco_files(gt_source, pred_source, strict=strict)  # same numbers, no records
        return EvalReport(metric, res, [p.to_dict() for p in problems], [])
    with tqdm(total=4 if plots else 3, desc="eval", unit="step", disable=not progress, leave=False,
              bar_format="{desc}: {n}/{total} {postfix} [{elapsed}]") as bar:
        bar.set_postfix_str("reading the ground truth")
        gt, gp = load_dataset(gt_source, split=split, convention=convention, strict=strict, clip=False, progress=progress)
        bar.update()
        bar.set_postfix_str("reading the predictions")
        pred, pp = read_predictions(pred_source, gt, strict=strict)
        bar.update()
        bar.set_postfix_str(f"evaluating ({metric})")
        res = evaluate_coco(gt, pred) if metric == "coco" else evaluate_voc(gt, pred, iou=iou, metric=metric, inclusive=inclusive)
        bar.update()
        made: list[str] = []
        if plots:
            from .plots import write_eval_plots

            bar.set_postfix_str("plots")
            made = write_eval_plots(Path(plots), gt, pred, res, iou=iou)
            bar.update()
    return EvalReport(metric, res, [p.to_dict() for p in list(gp) + list(pp)], made)


def _is_coco_pair(gt_source, pred_source) -> bool:
    from ..errors import YoloToolsError
    from ..io import detect_format

    pred = Path(pred_source)
    try:
        return pred.suffix.lower() == ".json" and pred.is_file() and detect_format(gt_source) == "coco"
    except (YoloToolsError, OSError):  # an unreadable source: the general path reports it
        return False
