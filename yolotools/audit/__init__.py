"""``yolotools audit``: validate one dataset, or measure drift between two.

Validation (:func:`validate`): everything the readers report (file, line or
object index: malformed files, wrong column counts, non-numeric values, class
ids outside the names, coordinates outside the image, empty boxes, missing or
orphan label files, missing images), plus checks on the loaded boxes and image
files: duplicate and near-duplicate boxes, boxes under ``min_px`` at the
training size, extreme aspect ratios, classes with few samples, truncated JPEGs,
EXIF rotation, header size vs the annotation's size.  Image files are only
opened for their headers (and last bytes) unless ``decode=True``.  Nothing is
ever modified.

Drift (:func:`drift`): per-box properties (area, width, height, aspect, centre)
overall and per class, boxes per image, and class frequencies.  Scores: PSI
(10 quantile bins of A, with a bootstrap interval), Kolmogorov-Smirnov
(statistic, p-value), Wasserstein distance, and for classes Cramér's V plus a
per-class share change.  Flags need both an effect above a stated floor (about
10% in box size or aspect, 3% of the image in centre position, 10% relative in
a class share) and a permutation p-value below ``alpha`` (0.001) from moving
*whole images* between A and B (or, when A and B hold the same images, two
versions of one dataset, from swapping A and B within each image): boxes of one image are not independent (a herd
of sheep), and with ~150 tests at 0.001 a same-distribution pair raises no
false alarm.  Plus the fit of A's anchors (k-means on A, or given ones) on B.

Diff (:func:`diff`): for image ids present in both, boxes matched one-to-one by
IoU >= 0.5 (optimal assignment, same class first, then across classes):
added, removed, class changed, moved/resized (IoU < ``moved_iou``), per class
and the worst images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import YoloToolsError
from .diff import DiffReport, diff
from .drift import PROPS, DriftReport, box_table, drift
from .validate import Finding, ValidationReport, validate

__all__ = ["Finding", "ValidationReport", "validate", "DriftReport", "drift", "DiffReport", "diff", "run_audit", "AuditReport",
           "box_table", "PROPS"]

log = logging.getLogger(__name__)


@dataclass
class AuditReport:
    validation: ValidationReport
    drift: DriftReport | None = None
    diff: DiffReport | None = None
    html: str | None = None

    def to_dict(self) -> dict:
        d = {"validation": self.validation.to_dict()}
        if self.drift is not None:
            d["drift"] = self.drift.to_dict()
        if self.diff is not None:
            d["diff"] = self.diff.to_dict()
        if self.html:
            d["html"] = self.html
        return d

    def to_table(self) -> str:
        parts = [self.validation.to_table()]
        if self.drift is not None:
            parts.append(self.drift.to_table())
        if self.diff is not None:
            parts.append(self.diff.to_table())
        if self.html:
            parts.append(f"report: {self.html}")
        return "\n\n".join(parts)


def run_audit(source, *, against=None, split: str | None = None, split_b: str | None = None, anchors: np.ndarray | None = None,
              html: str | None = None, decode: bool = False, n_boot: int = 100, progress: bool = False,
              train_size: int = 416) -> AuditReport:
    """Validate ``source`` (boxes judged at ``train_size``, the training image
    size), and with ``against`` measure drift and diff; ``html`` writes the report."""
    val, ds_a = validate(source, split=split, decode=decode, progress=progress, train_size=train_size)
    rep = AuditReport(val)
    ds_b = None
    if against is not None:
        from ..io import load_dataset

        try:
            ds_b, _ = load_dataset(against, split=split_b or split, progress=progress)
        except YoloToolsError:
            if split_b is not None or split is None:
                raise
            # B has no split of A's name (e.g. a new batch holding only `test`): its own default, said on stderr
            log.warning("%s has no %r split; comparing with its default split (choose with --split-b)", against, split)
            ds_b, _ = load_dataset(against, split=None, progress=progress)
        if ds_b.class_map.names != ds_a.class_map.names:
            log.warning("class lists differ between A and B; comparing by name")
        name_a = f"{source} [{split or 'default split'}]"
        name_b = f"{against} [{split_b or split or 'default split'}]"
        rep.drift = drift(ds_a, ds_b, name_a=name_a, name_b=name_b, anchors=anchors, n_boot=n_boot, progress=progress)
        rep.diff = diff(ds_a, ds_b)
    if html:
        from .html import write_audit_html

        rep.html = write_audit_html(Path(html), rep, ds_a, ds_b)
    return rep
