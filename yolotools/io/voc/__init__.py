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

from .convention import CONVENTIONS, voc_to_xyxy, xyxy_to_voc
from .reader import LabelStage, find_voc_roots, read_voc
from .writer import write_voc

__all__ = ["CONVENTIONS", "LabelStage", "read_voc", "write_voc", "voc_to_xyxy", "xyxy_to_voc", "find_voc_roots"]
