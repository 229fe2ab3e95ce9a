"""Diff of two versions of one dataset: boxes of shared images matched one to
one by IoU (optimal assignment, same class first): added, removed, class
changed, moved/resized, per class and the worst images."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..annotations import DetectionDataset
from ..boxes import box_iou

__all__ = ["DiffReport", "diff"]


@dataclass
class DiffReport:
    shared_images: int
    added: dict[str, int]
    removed: dict[str, int]
    class_changed: dict[str, int]
    moved: dict[str, int]
    unchanged: int
    worst_images: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"images in both   {self.shared_images}", f"boxes unchanged  {self.unchanged}"]
        for title, d in (("added", self.added), ("removed", self.removed), ("class changed", self.class_changed), ("moved/resized", self.moved)):
            tot = sum(d.values())
            lines.append(f"{title:<16} {tot}" + ("  (" + ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda t: -t[1])[:8]) + ")" if tot else ""))
        for w in self.worst_images[:10]:
            lines.append(f"  {w['image_id']}: {w['changes']} changes")
        return "\n".join(lines)


def _assign(score: np.ndarray):
    """Rows/cols of the one-to-one matching with the largest total score."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(-score)


def diff(a: DetectionDataset, b: DetectionDataset, *, match_iou: float = 0.5, moved_iou: float = 0.9) -> DiffReport | None:
    bb = b.by_id()
    shared = [r for r in a.records if r.image_id in bb]
    if not shared:
        return None
    names_a, names_b = a.class_map.names, b.class_map.names
    added, removed, changed, moved = {}, {}, {}, {}
    unchanged = 0
    worst = []

    def inc(d, k):
        d[k] = d.get(k, 0) + 1

    for ra in shared:
        rb = bb[ra.image_id]
        A, B = ra.annotations, rb.annotations
        used_a, used_b = set(), set()
        n_changes = 0
        if len(A) and len(B):
            iou = box_iou(A.boxes.xyxy, B.boxes.xyxy)
            same = np.array([[names_a[x] == names_b[y] for y in B.class_ids] for x in A.class_ids])
            # optimal one-to-one matching: same class first, then any class (relabelled boxes)
            for allowed in (same, np.ones_like(same)):
                ra_ = [i for i in range(len(A)) if i not in used_a]
                rb_ = [j for j in range(len(B)) if j not in used_b]
                if not ra_ or not rb_:
                    break
                sub = iou[np.ix_(ra_, rb_)] * allowed[np.ix_(ra_, rb_)]
                for r, c in zip(*_assign(sub)):
                    if sub[r, c] < match_iou:
                        continue
                    i, j = ra_[r], rb_[c]
                    used_a.add(i)
                    used_b.add(j)
                    ca, cb = names_a[A.class_ids[i]], names_b[B.class_ids[j]]
                    if ca != cb:
                        inc(changed, f"{ca}->{cb}")
                        n_changes += 1
                    elif iou[i, j] < moved_iou:
                        inc(moved, ca)
                        n_changes += 1
                    else:
                        unchanged += 1
        for i in range(len(A)):
            if i not in used_a:
                inc(removed, names_a[A.class_ids[i]])
                n_changes += 1
        for j in range(len(B)):
            if j not in used_b:
                inc(added, names_b[B.class_ids[j]])
                n_changes += 1
        if n_changes:
            worst.append({"image_id": ra.image_id, "changes": n_changes})
    worst.sort(key=lambda w: -w["changes"])
    return DiffReport(len(shared), added, removed, changed, moved, unchanged, worst[:50])


# ---------------------------------------------------------------- the command
