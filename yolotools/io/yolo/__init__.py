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

from ..._lazy import lazy_exports

# names load their module on first use (PEP 562): ``convert voc`` imports the writer, not the
# numpy-based reader and formatter
_WHERE = {
    "write_yolo": "writer", "YoloWriteReport": "writer", "new_staging": "writer", "commit_staging": "writer",
    "SIDECAR_SUFFIX": "writer", "read_yolo": "reader", "yolo_lines": "txt", "format_label_lines": "txt",
    "parse_label_text": "txt", "write_label_file": "txt", "yaml_key_for_split": "data_yaml", "load_data_yaml": "data_yaml",
}
__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
