"""YOLOv3 object detection through OpenCV's DNN module, with non-maximum suppression.

As the origin document: `cv2.dnn.readNetFromDarknet(cfg, weights)`, a blob from
`blobFromImage(image, 1/255, (416, 416), swapRB=True)` (OpenCV images are BGR, the network
wants RGB in [0, 1]), boxes from the output layers above a confidence threshold. Unlike the
origin, overlapping boxes of one class are merged with `cv2.dnn.NMSBoxes`; without it one
object gets several boxes.

Each output row is [cx, cy, w, h, objectness, class scores...], coordinates relative to the
image (so they map back to the original size, the blob being a plain resize); OpenCV's YOLO
layer already multiplies the class scores by the objectness, so a detection's confidence is
its best class score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.detection.darknet import check_weights_size


@dataclass(frozen=True)
class Detection:
    """One object: class, confidence in [0, 1], box (left, top, width, height) in pixels."""

    class_id: int
    label: str
    confidence: float
    box: tuple[int, int, int, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"box": list(self.box)}


def read_names(path: Path) -> list[str]:
    """Class names, one per line (blank lines ignored)."""
    if not path.is_file():
        raise ConfigError(f"names={path}: no such file; give the class-names file (coco.names).")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_blob(image_bgr: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) BGR -> float32 (1, 3, size, size) RGB in [0, 1]."""
    import cv2

    return cv2.dnn.blobFromImage(
        image_bgr, 1 / 255.0, (size, size), (0, 0, 0), swapRB=True, crop=False
    )


def decode(
    outputs: list[np.ndarray], width: int, height: int, conf_threshold: float
) -> tuple[list[list[int]], list[float], list[int]]:
    """Rows of the YOLO output layers -> (boxes [left, top, w, h] in pixels inside the
    image, confidences, class ids), keeping rows whose best class score exceeds
    `conf_threshold`."""
    boxes, confidences, class_ids = [], [], []
    for output in outputs:
        for row in np.asarray(output).reshape(-1, output.shape[-1]):
            scores = row[5:]
            class_id = int(np.argmax(scores))
            confidence = float(scores[class_id])
            if confidence <= conf_threshold:
                continue
            cx, cy, w, h = row[0] * width, row[1] * height, row[2] * width, row[3] * height
            # Clipped to the image: a box may extend past the border it was predicted near.
            left, top = max(0, round(cx - w / 2)), max(0, round(cy - h / 2))
            right, bottom = min(width, round(cx + w / 2)), min(height, round(cy + h / 2))
            boxes.append([left, top, max(right - left, 0), max(bottom - top, 0)])
            confidences.append(confidence)
            class_ids.append(class_id)
    return boxes, confidences, class_ids


def non_max_suppression(
    boxes: list[list[int]],
    confidences: list[float],
    class_ids: list[int],
    conf_threshold: float,
    nms_threshold: float,
) -> list[int]:
    """Indices kept by `cv2.dnn.NMSBoxes`, run per class (boxes of different classes may
    overlap: a rider on a horse), best first."""
    import cv2

    kept: list[int] = []
    ids = np.asarray(class_ids)
    for class_id in sorted(set(class_ids)):
        members = np.flatnonzero(ids == class_id)
        picked = cv2.dnn.NMSBoxes(
            [boxes[i] for i in members],
            [confidences[i] for i in members],
            conf_threshold,
            nms_threshold,
        )
        kept.extend(int(members[i]) for i in np.asarray(picked).reshape(-1))
    return sorted(kept, key=lambda i: -confidences[i])


class YoloDetector:
    """A Darknet YOLO network (cfg + weights + class names) run by OpenCV."""

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
        import cv2

        cfg_path, weights_path = Path(cfg).expanduser(), Path(weights).expanduser()
        for key, path in (("cfg", cfg_path), ("weights", weights_path)):
            if not path.is_file():
                raise ConfigError(
                    f"{key}={path}: no such file; give the Darknet .cfg and its .weights "
                    "(for example yolov3.cfg and yolov3.weights) by path."
                )
        if input_size <= 0 or input_size % 32:
            raise ConfigError(f"input_size={input_size}: must be a positive multiple of 32.")
        if not (0 <= conf_threshold < 1 and 0 < nms_threshold <= 1):
            raise ConfigError(
                f"conf_threshold={conf_threshold}, nms_threshold={nms_threshold}: need "
                "0 <= conf_threshold < 1 and 0 < nms_threshold <= 1."
            )
        check_weights_size(cfg_path, weights_path)
        self.names = read_names(Path(names).expanduser())
        try:
            self.net = cv2.dnn.readNetFromDarknet(str(cfg_path), str(weights_path))
        except cv2.error as error:
            raise ConfigError(
                f"cfg={cfg_path}: OpenCV cannot build a network from it "
                f"({' '.join(str(error).split())[:200]})."
            ) from error
        self.output_names = list(self.net.getUnconnectedOutLayersNames())
        self.cfg, self.weights = cfg_path, weights_path
        self.input_size = input_size
        self.conf_threshold = conf_threshold
        self.nms_threshold = nms_threshold

    def forward(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """Raw output rows of every YOLO layer for one uint8 BGR image."""
        self.net.setInput(make_blob(image_bgr, self.input_size))
        return list(self.net.forward(self.output_names))

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Detections in one uint8 (H, W, 3) BGR image, best first."""
        height, width = image_bgr.shape[:2]
        outputs = self.forward(image_bgr)
        boxes, confidences, class_ids = decode(outputs, width, height, self.conf_threshold)
        kept = non_max_suppression(
            boxes, confidences, class_ids, self.conf_threshold, self.nms_threshold
        )
        return [
            Detection(
                class_id=class_ids[i],
                label=self.label(class_ids[i]),
                confidence=confidences[i],
                box=tuple(boxes[i]),
            )
            for i in kept
        ]

    def label(self, class_id: int) -> str:
        return self.names[class_id] if class_id < len(self.names) else f"class_{class_id}"

    def describe(self) -> dict[str, Any]:
        return {
            "network": "Darknet YOLO via cv2.dnn",
            "cfg": str(self.cfg),
            "weights": str(self.weights),
            "input_size": self.input_size,
            "conf_threshold": self.conf_threshold,
            "nms_threshold": self.nms_threshold,
            "nms": "cv2.dnn.NMSBoxes per class",
        }


def annotate(image_bgr: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A copy of the image with each detection's box and 'label confidence' drawn on it."""
    import cv2

    out = image_bgr.copy()
    for det in detections:
        left, top, width, height = det.box
        color = tuple(int(c) for c in np.random.default_rng(det.class_id).integers(64, 256, 3))
        cv2.rectangle(out, (left, top), (left + width, top + height), color, 2)
        cv2.putText(
            out,
            f"{det.label} {det.confidence:.2f}",
            (left, max(top - 4, 10)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            color,
            1,
            cv2.LINE_AA,
        )
    return out
