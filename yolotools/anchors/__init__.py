"""IoU-distance k-means anchor priors: the clustering (:mod:`.kmeans`) and the
``yolotools kmeans`` job on a dataset (:mod:`.run`)."""

from .kmeans import AnchorResult, avg_iou, bpr, cfg_lines, iou_wh, kmeans_anchors, yolov3_masks
from .run import KMeansRun, dataset_wh, evaluate_anchors, parse_anchor_list, plot_anchors, run_kmeans

__all__ = ["iou_wh", "avg_iou", "bpr", "kmeans_anchors", "AnchorResult", "yolov3_masks", "cfg_lines", "dataset_wh",
           "parse_anchor_list", "evaluate_anchors", "KMeansRun", "run_kmeans", "plot_anchors"]
