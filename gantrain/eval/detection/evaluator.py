"""YOLO detections on generated images, as an evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np

from gantrain.eval.base import Batch, Evaluator
from gantrain.eval.detection.yolo import YoloDetector
from gantrain.eval.images import to_uint8_rgb


class YoloEvaluator(Evaluator):
    """`yolo_detections_per_image`, `yolo_mean_confidence` (0 when nothing is detected) and
    `yolo_classes_found` (distinct classes over all images)."""

    def __init__(
        self,
        *,
        cfg: str,
        weights: str,
        names: str,
        input_size: int = 416,
        conf_threshold: float = 0.5,
        nms_threshold: float = 0.4,
    ) -> None:
        self.detector = YoloDetector(
            cfg=cfg,
            weights=weights,
            names=names,
            input_size=input_size,
            conf_threshold=conf_threshold,
            nms_threshold=nms_threshold,
        )
        self.reset()

    def metric_names(self) -> tuple[str, ...]:
        return ("yolo_detections_per_image", "yolo_mean_confidence", "yolo_classes_found")

    def reset(self) -> None:
        self._images = 0
        self._confidences: list[float] = []
        self._classes: set[int] = set()

    def update(self, batch: Batch) -> None:
        # OpenCV's convention is BGR; generated images are RGB (or gray, repeated).
        for image in to_uint8_rgb(batch.images)[..., ::-1]:
            detections = self.detector.detect(np.ascontiguousarray(image))
            self._images += 1
            self._confidences.extend(d.confidence for d in detections)
            self._classes.update(d.class_id for d in detections)

    def result(self) -> dict[str, float]:
        count = len(self._confidences)
        return {
            "yolo_detections_per_image": count / max(self._images, 1),
            "yolo_mean_confidence": float(np.mean(self._confidences)) if count else 0.0,
            "yolo_classes_found": float(len(self._classes)),
        }

    def protocol(self) -> dict[str, Any]:
        return {**self.detector.describe(), "images": self._images}
