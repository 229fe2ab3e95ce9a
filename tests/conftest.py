"""Shared fixtures: paths to the real third-party data in ../shared/data (tests
that need it skip when it is absent) and small writers for hand-made inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YOLOTOOLS_SHARED_DATA", REPO.parent / "shared" / "data"))
VOC2007 = SHARED / "voc2007_chenyicai-0611_yolov5-PASCAL-VOC" / "VOCdevkit" / "VOC2007"
COCO128_JSON = SHARED / "coco128_cocojson_developer0hye" / "annotations" / "instances_train2017.json"
COCO128_YOLO = SHARED / "coco128_yolo_lightly" / "object_detection"
REVIEW_DB = SHARED / "review_object_detection_metrics" / "data" / "database"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def voc2007() -> Path:
    return need(VOC2007)


@pytest.fixture
def coco128() -> tuple[Path, Path]:
    return need(COCO128_JSON), need(COCO128_YOLO)


@pytest.fixture
def review_db() -> Path:
    return need(REVIEW_DB)


def write_voc_xml(root: Path, image_id: str, body_objects: str, *, size=(500, 375), extra: str = "") -> Path:
    """Write a minimal VOC root with one annotation file; returns the VOC root."""
    ann = root / "Annotations"
    ann.mkdir(parents=True, exist_ok=True)
    size_xml = "" if size is None else f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
    (ann / f"{image_id}.xml").write_text(
        f"<annotation><folder>VOC</folder><filename>{image_id}.jpg</filename>{extra}{size_xml}{body_objects}</annotation>"
    )
    return root


def voc_object(name: str, box, difficult: int = 0, parts: str = "") -> str:
    x1, y1, x2, y2 = box
    return (
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
        f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>{parts}</object>"
    )
