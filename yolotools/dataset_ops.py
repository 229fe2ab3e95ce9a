"""Dataset operations before training: split, merge, remap, sample.

Each reads any supported format (:func:`read_splits`), works on the in-memory
:class:`~yolotools.annotations.DetectionDataset` and writes a YOLO dataset with
data.yaml and sidecars (:func:`write_splits`).  Every random choice comes from
``numpy.random.default_rng(seed)`` (PCG64, the same stream on every platform)
applied to image ids in sorted order, so a seed gives the same result on any
machine and for any input order.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .annotations import ClassMap, DetectionDataset, ImageRecord
from .errors import Problems, YoloToolsError

__all__ = ["read_splits", "split_dataset", "merge_datasets", "remap_dataset", "sample_dataset", "parse_map",
           "write_splits", "OpReport", "SPLIT_NAMES"]

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")


# ---------------------------------------------------------------- reading


def read_splits(source: Path | str, *, fmt: str | None = None, split: str | None = None, images=None,
                progress: bool = False, **options) -> list[tuple[str, DetectionDataset, Problems]]:
    """The splits of a dataset: a YOLO data.yaml without ``split`` gives each
    split it names (train/val/test, once each when two name the same list);
    anything else gives one, named ``split`` or ``"train"`` (VOC: the
    ImageSets list, default ``trainval``)."""
    from .io import detect_format, load_dataset

    fmt = fmt or detect_format(source)
    p = Path(source)
    if fmt == "yolo" and split is None and p.is_file():
        from .io.yolo.data_yaml import load_data_yaml

        data = load_data_yaml(p)
        out, seen = [], {}
        for key in SPLIT_NAMES:
            v = data.get(key)
            if v is None:
                continue
            sig = repr(v)
            if sig in seen:
                log.info("%s: split %s names the same images as %s; read once", p, key, seen[sig])
                continue
            seen[sig] = key
            ds, probs = load_dataset(p, fmt="yolo", split=key, images=images, progress=progress, **options)
            out.append((key, ds, probs))
        if out:
            return out
    ds, probs = load_dataset(source, fmt=fmt, split=split, images=images, progress=progress, **options)
    name = split if split not in (None, "all") and fmt in ("yolo", "voc") else "train"
    return [(name, ds, probs)]


def pooled(parts: Sequence[tuple[str, DetectionDataset, Problems]]) -> DetectionDataset:
    """One dataset of every split's images (the splits must share classes)."""
    first = parts[0][1].class_map
    recs, seen = [], set()
    for name, ds, _ in parts:
        if ds.class_map.names != first.names:
            raise YoloToolsError(f"split {name!r} has different classes from split {parts[0][0]!r}")
        for r in ds:
            if r.image_id not in seen:
                seen.add(r.image_id)
                recs.append(r)
    return DetectionDataset(first, tuple(recs))


# ---------------------------------------------------------------- split


def _shuffled_ids(ds: DetectionDataset, seed: int) -> list[str]:
    ids = sorted(r.image_id for r in ds)
    perm = np.random.default_rng(seed).permutation(len(ids))
    return [ids[i] for i in perm]


def _split_order(name: str) -> tuple:
    """Sort key of split names: train, val, test, then the others by name."""
    return (SPLIT_NAMES.index(name) if name in SPLIT_NAMES else 3, name)


def _classes_of(ds: DetectionDataset, order: list[str]) -> tuple[dict[str, list[int]], dict[int, list[str]]]:
    """The classes of each image (sorted) and, per class, its images in ``order``."""
    by = ds.by_id()
    labels = {i: sorted(set(by[i].annotations.class_ids.tolist())) for i in order}
    images_of: dict[int, list[str]] = defaultdict(list)
    for i in order:
        for c in labels[i]:
            images_of[c].append(i)
    return labels, images_of


def split_dataset(ds: DetectionDataset, ratios: Sequence[float], *, seed: int = 0, stratify: bool = False,
                  names: Sequence[str] | None = None) -> dict[str, DetectionDataset]:
    """Split ``ds`` by ``ratios`` (normalised to sum 1) into named splits
    (``train``, ``val``, ``test`` by default).

    ``stratify``: iterative stratification by class presence (Sechidis et al.
    2011): classes are taken rarest first; each image of the class goes to the
    split that still wants most of that class, and a class with at least as many
    images as there are splits first puts one image in every split that has
    none, so rare classes land in every split.  Images with no box fill the
    splits' remaining sizes.  Without it, a seeded shuffle is cut by the ratios.
    """
    r = np.array(ratios, dtype=np.float64)
    if r.ndim != 1 or len(r) == 0 or (r < 0).any() or not np.isfinite(r).all() or r.sum() <= 0:
        raise YoloToolsError(f"ratios {list(ratios)} must be non-negative numbers with a positive sum")
    r = r / r.sum()
    names = list(names) if names else list(SPLIT_NAMES[: len(r)]) if len(r) <= 3 else [f"split{i}" for i in range(len(r))]
    if len(names) != len(r):
        raise YoloToolsError(f"{len(r)} ratios but {len(names)} split names")
    order = _shuffled_ids(ds, seed)
    n = len(order)
    if not stratify:
        counts = np.floor(r * n).astype(int)
        rest = n - counts.sum()
        for s in np.argsort(-(r * n - counts), kind="stable")[:rest]:
            counts[s] += 1
        cuts = np.concatenate([[0], np.cumsum(counts)])
        assign = {iid: int(np.searchsorted(cuts, k, side="right") - 1) for k, iid in enumerate(order)}
    else:
        assign = _stratified(ds, order, r)
    by = ds.by_id()
    out = {}
    for s, nm in enumerate(names):
        if r[s] > 0:
            out[nm] = DetectionDataset(ds.class_map, tuple(by[i] for i in sorted(i for i, a in assign.items() if a == s)))
    return out


def _stratified(ds: DetectionDataset, order: list[str], r: np.ndarray) -> dict[str, int]:
    S = len(r)
    labels, images_of = _classes_of(ds, order)
    size_left = r * len(order)
    want = {c: r * len(v) for c, v in images_of.items()}
    have = defaultdict(lambda: np.zeros(S, bool))
    live = [s for s in range(S) if r[s] > 0]
    assign: dict[str, int] = {}

    def put(i, s):
        assign[i] = s
        size_left[s] -= 1
        for d in labels[i]:
            want[d][s] -= 1
            have[d][s] = True

    for c in sorted(images_of, key=lambda c: (len(images_of[c]), c)):
        spread = len(images_of[c]) >= len(live)
        for i in images_of[c]:
            if i in assign:
                continue
            lack = [s for s in live if not have[c][s]] if spread else []
            if lack:
                s = max(lack, key=lambda s: (size_left[s], -s))
            else:
                s = max(live, key=lambda s: (want[c][s], size_left[s], -s))
            put(i, s)
    for i in order:
        if i not in assign:
            put(i, max(live, key=lambda s: (size_left[s], -s)))
    return assign


# ---------------------------------------------------------------- remap / merge / sample


def parse_map(spec: str | Mapping[str, str] | None) -> dict[str, str | None]:
    """``"car=vehicle,bus=vehicle,bicycle=-"`` -> ``{"car": "vehicle", "bus":
    "vehicle", "bicycle": None}`` (``-`` drops the class)."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): (None if v in (None, "-") else str(v)) for k, v in spec.items()}
    out: dict[str, str | None] = {}
    for part in (p.strip() for p in re.split(r",(?=[^,]*=)", spec) if p.strip()):
        if "=" not in part:
            raise YoloToolsError(f"--map {spec!r}: {part!r} is not old=new (use old=- to drop a class)")
        old, new = (s.strip() for s in part.split("=", 1))
        if not old or not new:
            raise YoloToolsError(f"--map {spec!r}: {part!r} has an empty name")
        if old in out:
            raise YoloToolsError(f"--map {spec!r}: {old!r} mapped twice")
        out[old] = None if new == "-" else new
    return out


def remap_dataset(ds: DetectionDataset, mapping: Mapping[str, str | None], *, what: str = "dataset") -> tuple[DetectionDataset, dict[str, int]]:
    """Rename (``a -> b``), merge (``a -> c, b -> c``) or drop (``a -> None``)
    classes.  New order: each old class's new name, in the old order, first
    appearance kept.  Returns the dataset and the boxes dropped per class."""
    old = ds.class_map.names
    unknown = sorted(set(mapping) - set(old))
    if unknown:
        raise YoloToolsError(f"{what}: --map names {unknown}, not classes of it (classes: {', '.join(old)})")
    new_of = [mapping.get(n, n) for n in old]
    new_names = list(dict.fromkeys(n for n in new_of if n is not None))
    idx = {n: i for i, n in enumerate(new_names)}
    lut = np.array([idx[n] if n is not None else -1 for n in new_of], dtype=np.int64)
    dropped: dict[str, int] = {}
    recs = []
    for rec in ds:
        a = rec.annotations
        nc = lut[a.class_ids]
        keep = nc >= 0
        for c in a.class_ids[~keep].tolist():
            dropped[old[c]] = dropped.get(old[c], 0) + 1
        sub = a if keep.all() else a[np.flatnonzero(keep).tolist()]
        recs.append(rec.with_annotations(replace(sub, class_ids=nc[keep])))
    return DetectionDataset(ClassMap(tuple(new_names)), tuple(recs)), dropped


def merge_datasets(parts: Sequence[tuple[str, DetectionDataset]], *, prefix: bool = False) -> DetectionDataset:
    """The union of datasets (``(name, dataset)`` pairs): classes joined by
    name (the first dataset's order, then new names as they come), images
    kept as they are.  Two images with the same id are an error that names both
    datasets, unless ``prefix``: then each id becomes ``<name>/<id>``."""
    names: list[str] = []
    for _, ds in parts:
        names += [n for n in ds.class_map.names if n not in names]
    recs: list[ImageRecord] = []
    where: dict[str, str] = {}
    for label, ds in parts:
        for rec in _reindexed(ds, names):
            iid = f"{label}/{rec.image_id}" if prefix else rec.image_id
            if iid in where:
                raise YoloToolsError(f"image id {iid!r} is in both {where[iid]} and {label}; merge with --prefix to keep both "
                                     f"(ids become <dataset>/<id>)")
            where[iid] = label
            recs.append(replace(rec, image_id=iid))
    return DetectionDataset(ClassMap(tuple(names)), tuple(recs))


def _reindexed(ds: DetectionDataset, names: Sequence[str]) -> DetectionDataset:
    """``ds`` with its class ids pointing into ``names`` (which holds every class of ``ds``)."""
    if tuple(names) == ds.class_map.names:
        return ds
    idx = {n: i for i, n in enumerate(names)}
    lut = np.array([idx[n] for n in ds.class_map.names], dtype=np.int64)
    recs = tuple(r.with_annotations(replace(r.annotations, class_ids=lut[r.annotations.class_ids])) for r in ds)
    return DetectionDataset(ClassMap(tuple(names)), recs)


def sample_dataset(ds: DetectionDataset, n: int, *, seed: int = 0, by_class: bool = False) -> DetectionDataset:
    """``n`` images drawn without replacement (seeded).  ``by_class``: every
    class appears in at least ``n`` images of the sample (all of its images
    when it has fewer), rarest class first; images already drawn count for
    every class they hold."""
    if n < 0:
        raise YoloToolsError(f"-n {n}: must be >= 0")
    order = _shuffled_ids(ds, seed)
    if not by_class:
        chosen = set(order[:n])
    else:
        labels, images_of = _classes_of(ds, order)
        cover = np.zeros(len(ds.class_map), np.int64)
        chosen = set()
        for c in sorted(images_of, key=lambda c: (len(images_of[c]), c)):
            for i in images_of[c]:
                if cover[c] >= n:
                    break
                if i in chosen:
                    continue
                chosen.add(i)
                for d in labels[i]:
                    cover[d] += 1
    return DetectionDataset(ds.class_map, tuple(r for r in ds if r.image_id in chosen))


# ---------------------------------------------------------------- writing and the report


@dataclass
class OpReport:
    operation: str
    source: str
    out: str
    classes: list[str]
    splits: dict[str, dict] = field(default_factory=dict)  # name -> {"images", "boxes", "class_images", "class_boxes"}
    dropped_boxes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self, max_problems: int = 20) -> str:
        lines = [f"{self.operation}: {self.source} -> {self.out}"]
        names = list(self.splits)
        w = max([len(c) for c in self.classes] + [5])
        lines.append(f"{'':<{w}}  " + "  ".join(f"{n + ' img/box':>16}" for n in names))
        for c in self.classes:
            lines.append(f"{c:<{w}}  " + "  ".join(f"{self.splits[n]['class_images'].get(c, 0):>8}/{self.splits[n]['class_boxes'].get(c, 0):<7}"
                                                   for n in names))
        lines.append(f"{'total':<{w}}  " + "  ".join(f"{self.splits[n]['images']:>8}/{self.splits[n]['boxes']:<7}" for n in names))
        for c, k in self.dropped_boxes.items():
            lines.append(f"dropped {k} boxes of {c}")
        lines += [f"note: {x}" for x in self.notes]
        for p in self.problems[:max_problems]:
            loc = f"{p['path']}:{p['where']}" if p["where"] else p["path"]
            lines.append(f"{p['severity']}: {loc}: {p['message']}")
        if len(self.problems) > max_problems:
            lines.append(f"... {len(self.problems) - max_problems} more problems (see --json)")
        return "\n".join(lines)


def _split_stats(ds: DetectionDataset) -> dict:
    names = ds.class_map.names
    ci, cb = defaultdict(int), defaultdict(int)
    for r in ds:
        ids = r.annotations.class_ids.tolist()
        for c in set(ids):
            ci[names[c]] += 1
        for c in ids:
            cb[names[c]] += 1
    return {"images": len(ds), "boxes": ds.num_boxes, "class_images": dict(ci), "class_boxes": dict(cb)}


def write_splits(splits: Mapping[str, DetectionDataset], out: Path | str, *, operation: str, source: str,
                 images: str = "link", progress: bool = False, problems: Sequence = ()) -> OpReport:
    """Write each split as a YOLO split of ``out`` (labels, list, sidecar,
    data.yaml) and report per-split class counts."""
    from .io.yolo import write_yolo

    out = Path(out).absolute()
    if not splits:
        raise YoloToolsError("nothing to write: no split has images")
    classes = next(iter(splits.values())).class_map.names
    rep = OpReport(operation, source, str(out), list(classes), problems=[p.to_dict() for p in problems])
    order = sorted(splits, key=_split_order)
    for name in order:
        ds = splits[name]
        wr = write_yolo(ds, out, name, images=images, progress=progress)
        rep.splits[name] = _split_stats(ds)
    rep.notes += wr.notes  # the last write's notes describe the final data.yaml
    for c in classes:
        having = [s for s in order if rep.splits[s]["class_images"].get(c, 0)]
        if 0 < len(having) < len(order):
            rep.notes.append(f"class {c!r} is in {', '.join(having)} only")
    return rep


# ---------------------------------------------------------------- the commands' calls


def _all_problems(parts) -> list:
    return [p for _, _, probs in parts for p in probs]


def run_split(source, out, ratios, *, seed=0, stratify=False, names=None, fmt=None, split=None, images=None,
              image_mode="link", progress=False) -> OpReport:
    """Pool every split of ``source`` and split it again (``yolotools split``)."""
    parts = read_splits(source, fmt=fmt, split=split, images=images, progress=progress)
    ds = pooled(parts)
    splits = split_dataset(ds, ratios, seed=seed, stratify=stratify, names=names)
    return write_splits(splits, out, operation="split", source=str(source), images=image_mode, progress=progress,
                        problems=_all_problems(parts))


def run_merge(sources, out, *, mapping=None, prefix=False, fmt=None, images=None, image_mode="link", progress=False) -> OpReport:
    """Merge datasets split by split (``yolotools merge``); an input with no
    named splits goes to ``train``."""
    mapping = parse_map(mapping)
    labels, seen = [], {}
    for s in sources:
        p = Path(s)
        base = p.parent.name if p.is_file() and p.suffix.lower() in (".yaml", ".yml") else p.stem
        k = seen.get(base, 0)
        seen[base] = k + 1
        labels.append(base if k == 0 else f"{base}{k + 1}")
    groups: dict[str, list] = defaultdict(list)
    problems = []
    found: set[str] = set()
    for label, s in zip(labels, sources):
        parts = read_splits(s, fmt=fmt, images=images, progress=progress)
        problems += _all_problems(parts)
        for name, ds, _ in parts:
            found.update(ds.class_map.names)
            if mapping:
                known = {k: v for k, v in mapping.items() if k in ds.class_map.names}
                ds, _ = remap_dataset(ds, known, what=str(s))
            groups[name].append((label, ds))
    unknown = sorted(set(mapping) - found)
    if unknown:
        raise YoloToolsError(f"--map names {unknown}, a class of none of the datasets (classes: {', '.join(sorted(found))})")
    merged = {name: merge_datasets(g, prefix=prefix) for name, g in groups.items()}
    # one class list for every split (data.yaml has one names list): the union in first-seen order
    all_names: list[str] = []
    for name in sorted(merged, key=_split_order):
        all_names += [c for c in merged[name].class_map.names if c not in all_names]
    merged = {n: _reindexed(d, all_names) for n, d in merged.items()}
    owner: dict[str, str] = {}
    for name, d in merged.items():
        for r in d:
            if r.image_id in owner:
                raise YoloToolsError(f"image id {r.image_id!r} is in split {owner[r.image_id]} and split {name} of the merge; "
                                     "use --prefix")
            owner[r.image_id] = name
    rep = write_splits(merged, out, operation="merge", source=", ".join(map(str, sources)), images=image_mode,
                       progress=progress, problems=problems)
    return rep



def run_remap(source, out, mapping, *, fmt=None, split=None, images=None, image_mode="link", progress=False) -> OpReport:
    """Rename, merge or drop classes in every split (``yolotools remap``)."""
    mapping = parse_map(mapping)
    if not mapping:
        raise YoloToolsError("--map is empty: nothing to remap")
    parts = read_splits(source, fmt=fmt, split=split, images=images, progress=progress)
    splits, dropped = {}, defaultdict(int)
    for name, ds, _ in parts:
        splits[name], d = remap_dataset(ds, mapping, what=str(source))
        for k, v in d.items():
            dropped[k] += v
    rep = write_splits(splits, out, operation="remap", source=str(source), images=image_mode, progress=progress,
                       problems=_all_problems(parts))
    rep.dropped_boxes = dict(dropped)
    return rep


def run_sample(source, out, n, *, seed=0, by_class=False, fmt=None, split=None, images=None, image_mode="link",
               progress=False) -> OpReport:
    """Draw ``n`` images from the pooled splits, each keeping its split (``yolotools sample``)."""
    parts = read_splits(source, fmt=fmt, split=split, images=images, progress=progress)
    chosen = {r.image_id for r in sample_dataset(pooled(parts), n, seed=seed, by_class=by_class)}
    splits, taken = {}, set()
    for name, ds, _ in parts:
        ids = [r.image_id for r in ds if r.image_id in chosen and r.image_id not in taken]
        taken.update(ids)
        if ids:
            splits[name] = ds.subset(ids)
    return write_splits(splits, out, operation="sample", source=str(source), images=image_mode, progress=progress,
                        problems=_all_problems(parts))
