"""YOLO txt labels (``class cx cy w h``, normalised) <-> :class:`DetectionDataset`.

This package is the only place that normalises by the image width/height.

Layout written by :func:`write_yolo` into ``OUT``::

    OUT/labels/<image id>.txt      one line per box, 6 decimals
    OUT/images/<image id>.<ext>    symlinks (or copies) of the source images
    OUT/<split>.txt                Darknet list: one image path per line
    OUT/classes.names              one class name per line
    OUT/data.yaml                  Ultralytics data YAML (path, train, val, test, names)
    OUT/<split>.yolotools.json     sidecar that keeps what YOLO txt cannot hold:
                                   difficult flags, crowd/skipped boxes, image sizes,
                                   COCO image and category ids

The sidecar makes the conversion lossless: :func:`read_yolo` puts difficult and
crowd boxes back, so YOLO -> COCO JSON gives the source boxes again.
"""

from .data_yaml import load_data_yaml, yaml_key_for_split
from .reader import read_yolo
from .txt import format_label_lines, parse_label_text, write_label_file, yolo_lines
from .writer import SIDECAR_SUFFIX, YoloWriteReport, commit_staging, new_staging, write_yolo

__all__ = [
    "write_yolo",
    "read_yolo",
    "yolo_lines",
    "format_label_lines",
    "parse_label_text",
    "write_label_file",
    "YoloWriteReport",
    "yaml_key_for_split",
    "load_data_yaml",
    "new_staging",
    "commit_staging",
    "SIDECAR_SUFFIX",
]
