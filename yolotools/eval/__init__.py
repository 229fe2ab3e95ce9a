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
    progress: bool = False,
) -> EvalReport:
    """Load ground truth and predictions from files and evaluate."""
    from tqdm.auto import tqdm

    from ..io import load_dataset

    if metric not in ("coco", "voc07", "voc12"):
        from ..errors import YoloToolsError

        raise YoloToolsError(f"unknown metric {metric!r}; choose coco, voc07 or voc12")
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
