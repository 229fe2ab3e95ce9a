"""The ``yolotools`` command line: a thin shell over the library.

Each command parses its options, makes one library call and prints the result
(a table, or JSON with ``--json``).  Library modules are imported inside the
commands so that ``yolotools convert`` never pays for torch or albumentations.
One module per command group; :mod:`.common` holds the group and the shared
helpers.
"""

import importlib

from .common import main

# command -> the module that defines it (imported on first use: `yolotools convert` does not pay for the
# training and model commands' imports; `yolotools --help` imports them all)
_COMMANDS = {
    "convert": ".convert", "split": ".dataset", "merge": ".dataset", "remap": ".dataset", "sample": ".dataset",
    "audit": ".data", "kmeans": ".data", "augment": ".data", "eval": ".data",
    "model": ".model", "detect": ".model", "train": ".train", "shapes": ".train", "demo": ".train",
}
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
# the Python names of the commands (`from yolotools.cli import train`)
_NAMES = {"convert": "convert", "kmeans": "kmeans", "eval_cmd": "eval", "audit": "audit", "augment": "augment", "model": "model",
          "detect": "detect", "train": "train", "shapes": "shapes", "demo": "demo", "split_cmd": "split", "merge_cmd": "merge",
          "remap_cmd": "remap", "sample_cmd": "sample"}


def _command(name: str):
    if name not in main.commands and name in _COMMANDS:
        importlib.import_module(_COMMANDS[name], __name__)  # its decorators add its commands to the group
        for n, text in SHORT_HELP.items():
            if n in main.commands:
                main.commands[n].short_help = text
        for py, n in _NAMES.items():  # the command, not its module, under its name (`yolotools.cli.train`)
            if n in main.commands:
                globals()[py] = main.commands[n]
    return main.commands.get(name)


main.lazy_command = _command  # read by common.LazyGroup
main.lazy_names = tuple(_COMMANDS)


def __getattr__(attr: str):
    if attr in _NAMES:
        return _command(_NAMES[attr])
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = ["main", "convert", "kmeans", "eval_cmd", "audit", "augment", "model", "detect", "train", "shapes", "demo",
           "split_cmd", "merge_cmd", "remap_cmd", "sample_cmd"]
