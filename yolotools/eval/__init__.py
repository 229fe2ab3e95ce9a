"""Evaluation: COCO mAP identical to pycocotools, VOC07/VOC12 AP as the devkit.

Library API (no files needed, used by the trainer each epoch)::

    from yolotools.eval import evaluate_coco, evaluate_voc, from_arrays
    preds = from_arrays(gt, {image_id: (xyxy, class_ids, scores), ...})
    res = evaluate_coco(gt, preds)       # res.stats["AP"], res.stats["AP50"], ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .coco import STAT_NAMES, CocoEvalResult, CocoParams, evaluate_coco
from .predictions import from_arrays, read_predictions
from .voc import VocResult, evaluate_voc

__all__ = [
    "STAT_NAMES", "CocoEvalResult", "CocoParams", "evaluate_coco", "VocResult", "evaluate_voc",
    "from_arrays", "read_predictions", "EvalReport", "run_eval",
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
) -> EvalReport:
    """Load ground truth and predictions from files and evaluate."""
    from ..io import load_dataset

    gt, gp = load_dataset(gt_source, split=split, convention=convention, strict=strict, clip=False)
    pred, pp = read_predictions(pred_source, gt, strict=strict)
    if metric == "coco":
        res = evaluate_coco(gt, pred)
    elif metric in ("voc07", "voc12"):
        res = evaluate_voc(gt, pred, iou=iou, metric=metric, inclusive=inclusive)
    else:
        from ..errors import YoloToolsError

        raise YoloToolsError(f"unknown metric {metric!r}; choose coco, voc07 or voc12")
    made: list[str] = []
    if plots:
        from .plots import write_eval_plots

        made = write_eval_plots(Path(plots), gt, pred, res, iou=iou)
    return EvalReport(metric, res, [p.to_dict() for p in list(gp) + list(pp)], made)
