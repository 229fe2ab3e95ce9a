"""The ``yolotools`` command line: a thin shell over the library.

Each command parses its options, makes one library call and prints the result
(a table, or JSON with ``--json``).  Library modules are imported inside the
commands so that ``yolotools convert`` never pays for torch or albumentations.
One module per command group; :mod:`.common` holds the group and the shared
helpers.
"""

from .common import main
from .convert import convert
from .data import audit, augment, eval_cmd, kmeans
from .dataset import merge_cmd, remap_cmd, sample_cmd, split_cmd
from .model import detect, model
from .train import demo, shapes, train

# one-line descriptions for `yolotools --help` (click cuts the docstrings' first sentences at ~45 characters)
SHORT_HELP = {
    "convert": "Convert labels: VOC, COCO, CVAT, LabelMe, ... <-> YOLO.",
    "split": "Split a dataset (seeded, stratified by class).",
    "merge": "Merge datasets; classes joined by name.",
    "remap": "Rename, merge or drop classes.",
    "sample": "Draw N images (or N per class).",
    "audit": "Validate labels; drift and diff between splits or versions.",
    "kmeans": "IoU k-means anchors, avg IoU and BPR.",
    "augment": "Augmented images + labels and a preview.",
    "model": "Darknet cfg/weights: summary, init, convert, ONNX export.",
    "detect": "Detect objects: YOLO txt, COCO JSON, drawn images.",
    "eval": "COCO mAP as pycocotools; VOC AP as the devkit.",
    "train": "Train a YOLO (AMP, EMA, multi-scale, DDP, resume).",
    "shapes": "Generate a small shapes dataset (VOC + COCO).",
    "demo": "The main job end to end on a generated dataset.",
}
for _name, _text in SHORT_HELP.items():
    main.commands[_name].short_help = _text

__all__ = ["main", "convert", "kmeans", "eval_cmd", "audit", "augment", "model", "detect", "train", "shapes", "demo",
           "split_cmd", "merge_cmd", "remap_cmd", "sample_cmd"]
