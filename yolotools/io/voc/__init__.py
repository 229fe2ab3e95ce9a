"""Pascal VOC XML <-> :class:`DetectionDataset`.

Pixel conventions (``convention=``), VOC ``<bndbox>`` -> continuous xyxy pixels:

- ``exact`` (default): VOC coordinates are 1-based *inclusive* pixel indices, so
  the box covers ``[xmin - 1, xmax] x [ymin - 1, ymax]``.
- ``darknet``: what Darknet's ``voc_label.py`` (and Ultralytics' VOC.yaml) compute:
  centre ``(xmin + xmax) / 2 - 1``, width ``xmax - xmin``, i.e. the box
  ``[xmin - 1, xmax - 1]``.  Use it to reproduce existing label sets exactly.
- ``raw``: coordinates are taken as continuous pixels as they are (``[xmin, xmax]``),
  as CVAT's VOC export and many "VOC-like" tools write them.

Each object's *own* ``<bndbox>`` is read; ``<part>`` boxes (heads, hands) are not
objects.  XML is parsed without DTDs, entity expansion or network access; a file
that declares a DOCTYPE or entities is rejected.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

# names load their module on first use (PEP 562), as in yolotools.io.yolo
_WHERE = {"CONVENTIONS": "convention", "voc_to_xyxy": "convention", "xyxy_to_voc": "convention", "LabelStage": "reader",
          "read_voc": "reader", "find_voc_roots": "reader", "write_voc": "writer"}
__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
