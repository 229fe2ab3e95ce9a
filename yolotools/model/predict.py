"""The one path from images to detections: decode the image (RGB), letterbox it
(fill 114, as the training recipes), run the network, decode the heads,
class-aware NMS, map the boxes back to the image's pixels.

``yolotools detect``, the trainer's validation (which picks ``best.pt``), the
demo and export all call :func:`predict_images`, so the mAP the trainer reports
is the mAP a user gets from ``detect`` + ``eval`` on the same checkpoint and
images (a test checks it to 1e-9).

Results are :class:`Predictions`: one :class:`ImagePrediction` per image with
``xyxy (N, 4) float64`` continuous pixels of the original image (of the
record's ``image_hw`` frame when predicting a dataset), ``class_ids (N,)
int64``, ``scores (N,) float64``; ``to_coco()`` gives COCO results rows (full
float precision), ``to_yolo()`` YOLO txt with a confidence column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import YoloToolsError
from ..io.images import decode_rgb as load_rgb  # the decoder every command shares
from . import MERGE_IOU

__all__ = ["LETTERBOX_FILL", "ImagePrediction", "Predictions", "load_rgb", "predict_images", "predict_dataset",
           "predict_paths", "evaluate_model"]

log = logging.getLogger(__name__)

LETTERBOX_FILL = 114  # the grey the training recipes pad with (Ultralytics' value)


@dataclass(frozen=True)
class ImagePrediction:
    """Detections of one image: ``xyxy (N, 4) float64`` original-image pixels,
    ``class_ids (N,) int64``, ``scores (N,) float64`` (objectness x class
    probability), sorted by score within each NMS pass."""

    image_id: str
    path: Path | None
    image_hw: tuple[int, int]
    xyxy: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def to_yolo(self, decimals: int = 6) -> str:
        """YOLO txt with a confidence column (``class cx cy w h conf``)."""
        from ..io.yolo import yolo_lines

        return yolo_lines(self.class_ids.tolist(), self.xyxy.tolist(), self.image_hw, scores=self.scores.tolist(), decimals=decimals)


@dataclass
class Predictions:
    """Detections of many images (in input order) and the images that could not
    be read (``problems``: ``"path: why"``)."""

    images: list[ImagePrediction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def num_detections(self) -> int:
        return sum(len(p) for p in self.images)

    def to_arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``image_id -> (xyxy, class_ids, scores)`` (the input of :func:`yolotools.eval.from_arrays`)."""
        return {p.image_id: (p.xyxy, p.class_ids, p.scores) for p in self.images}

    def to_coco(self, *, category_ids: Sequence[int] | None = None, image_ids: Sequence[int] | None = None) -> list[dict]:
        """COCO results rows (``image_id, category_id, bbox [x, y, w, h], score,
        file_name``).  ``category_ids[c]`` is class ``c``'s COCO id (default
        ``c + 1``); ``image_ids`` default: the file stem when it is a number, else
        the image's 1-based position.  Floats keep full precision, so ``eval``
        on this JSON gives the numbers computed from the arrays."""
        rows = []
        for n, p in enumerate(self.images):
            stem = Path(str(p.path)).stem if p.path is not None else str(p.image_id)
            iid = image_ids[n] if image_ids is not None else (int(stem) if stem.isdigit() else n + 1)
            name = Path(str(p.path)).name if p.path is not None else str(p.image_id)
            for (x1, y1, x2, y2), c, s in zip(p.xyxy.tolist(), p.class_ids.tolist(), p.scores.tolist()):
                cat = category_ids[c] if category_ids is not None and c < len(category_ids) else c + 1
                rows.append({"image_id": iid, "category_id": int(cat), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s, "file_name": name})
        return rows


def predict_images(model, images: Sequence[np.ndarray], img_size: int, *, device="cpu", conf: float = 0.001,
                   iou: float = 0.6, max_det: int = 300, merge_iou: float = MERGE_IOU, frames_hw: Sequence[tuple[int, int]] | None = None
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detections of a batch of ``(H, W, 3) uint8`` RGB images: per image
    ``(xyxy (N, 4) float64, class_ids (N,) int64, scores (N,) float64)`` in the
    image's pixels, or in ``frames_hw[i]`` when given (a dataset record whose
    labels were made for another size of the same picture).  Boxes that clipping
    to the image leaves without area are dropped.  ``merge_iou``: the weighted
    box merge after NMS (:func:`yolotools.model.decode.merge_boxes`; 1 turns it off)."""
    import torch

    from ..letterbox import from_letterbox, letterbox_image
    from .decode import decode, postprocess

    if not images:
        return []
    boxed = [letterbox_image(im, img_size, fill=LETTERBOX_FILL) for im in images]
    x = torch.from_numpy(np.stack([b for b, _ in boxed])).to(device).permute(0, 3, 1, 2).float().div_(255)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        dets = postprocess(decode(model(x), model.heads, (img_size, img_size)), conf_thres=conf, iou_thres=iou, max_det=max_det,
                           merge_iou=merge_iou)
    if was_training:
        model.train()
    out = []
    for n, ((_, info), d) in enumerate(zip(boxed, dets)):
        d = d.cpu().double().numpy()
        xyxy = from_letterbox(d[:, :4], info) if len(d) else np.zeros((0, 4))
        if frames_hw is not None and tuple(frames_hw[n]) != tuple(info.image_hw):
            (sh, sw), (rh, rw) = info.image_hw, frames_hw[n]
            xyxy = xyxy * [rw / sw, rh / sh, rw / sw, rh / sh]
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])  # boxes left with no area after clipping to the image
        out.append((xyxy[keep], d[keep, 5].astype(np.int64), d[keep, 4].copy()))
    return out


def _predict_items(model, items: Iterable[tuple[str, Path | None, tuple[int, int] | None]], img_size: int, *, batch: int,
                   progress: bool, total: int | None, desc: str, each: Callable | None = None, **kw) -> Predictions:
    """``items``: ``(image_id, path, frame_hw or None)``; unreadable images are
    listed in ``problems`` and skipped.  ``each(prediction, image)`` is called
    for every image as soon as its detections exist, with the RGB array it was
    decoded to (so a caller that draws does not decode again)."""
    from tqdm.auto import tqdm

    res = Predictions()
    pending: list = []

    def flush():
        if not pending:
            return
        frames = [f if f is not None else im.shape[:2] for (_, _, f), im in pending]
        for ((iid, path, _), im), (xyxy, cls, sc), hw in zip(pending, predict_images(model, [im for _, im in pending], img_size,
                                                                                        frames_hw=frames, **kw), frames):
            res.images.append(ImagePrediction(iid, path, tuple(int(v) for v in hw), xyxy, cls, sc))
            if each is not None:
                each(res.images[-1], im)
        pending.clear()

    with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for item in items:
            try:
                pending.append((item, load_rgb(item[1])))
            except YoloToolsError as e:
                res.problems.append(f"{e}; skipped")
            if len(pending) >= batch:
                flush()
            bar.update(1)
        flush()
    return res


def predict_dataset(model, dataset, img_size: int, *, batch: int = 16, progress: bool = False, **kw) -> Predictions:
    """Detections for every record of ``dataset`` that has an image path, in the
    records' ``image_hw`` frames (see :func:`predict_images` for ``kw``)."""
    recs = [r for r in dataset.records if r.path is not None]
    return _predict_items(model, ((r.image_id, r.path, tuple(r.image_hw)) for r in recs), img_size, batch=batch,
                          progress=progress, total=len(recs), desc="predict", **kw)


def predict_paths(model, paths: Sequence[Path], img_size: int, *, batch: int = 8, progress: bool = False,
                  each: Callable | None = None, **kw) -> Predictions:
    """Detections for image files (image id: the file stem); ``each`` as in
    :func:`_predict_items`."""
    return _predict_items(model, ((Path(p).stem, Path(p), None) for p in paths), img_size, batch=batch, progress=progress,
                          total=len(paths), desc="detect", each=each, **kw)


def evaluate_model(model, dataset, img_size: int, **kw):
    """COCO metrics of ``model`` on ``dataset`` through :func:`predict_dataset`;
    returns :class:`yolotools.eval.CocoEvalResult` (``kw``: ``device``, ``conf``,
    ``iou``, ``max_det``, ``merge_iou``, ``batch``)."""
    from ..eval import evaluate_coco, from_arrays

    return evaluate_coco(dataset, from_arrays(dataset, predict_dataset(model, dataset, img_size, **kw).to_arrays()))
