"""YOLO through OpenCV: a tiny Darknet network written by the test, loaded through the same
path as yolov3.cfg/.weights; preprocessing, box decoding and NMS on constructed outputs."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from gantrain.errors import ConfigError
from gantrain.eval.base import Batch
from gantrain.eval.detection.darknet import check_weights_size, parameter_count, parse_cfg
from gantrain.eval.detection.evaluator import YoloEvaluator
from gantrain.eval.detection.yolo import (
    Detection,
    YoloDetector,
    annotate,
    decode,
    make_blob,
    non_max_suppression,
)

TINY_CFG = """
[net]
# a comment
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=2
stride=1

[convolutional]
filters=6
size=1
stride=1
activation=leaky

[route]
layers=-1,-3

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=2
num=3
"""
# conv1: 4*3*3*3 kernel + 4*4 (bias, scale, mean, var); conv2: 6*4 + 6; route: 6 + 4 = 10
# channels; conv3: 21*10 + 21.
TINY_PARAMS = 108 + 16 + 24 + 6 + 210 + 21


def write_tiny_yolo(directory: Path, *, truncate: int = 0) -> tuple[Path, Path, Path]:
    """cfg, weights (header 0.2.0 + positive random parameters, so BN variances are valid)
    and names files for a 2-class YOLO with one output layer."""
    cfg, weights, names = directory / "tiny.cfg", directory / "tiny.weights", directory / "names"
    cfg.write_text(TINY_CFG)
    params = np.random.default_rng(0).uniform(0.05, 0.3, TINY_PARAMS).astype("<f4").tobytes()
    weights.write_bytes((struct.pack("<iiiq", 0, 2, 0, 0) + params)[: len(params) + 20 - truncate])
    names.write_text("cat\ndog\n")
    return cfg, weights, names


def test_parameter_count_follows_the_cfg() -> None:
    sections = parse_cfg(TINY_CFG)
    assert [kind for kind, _ in sections] == [
        "net", "convolutional", "maxpool", "convolutional", "route", "convolutional", "yolo"
    ]  # fmt: skip
    assert parameter_count(sections) == TINY_PARAMS
    with pytest.raises(ValueError, match=r"\[connected\]"):
        parameter_count(parse_cfg("[net]\nchannels=3\n[connected]\noutput=10\n"))
    with pytest.raises(ValueError, match=r"first section must be \[net\]"):
        parse_cfg("[convolutional]\nfilters=1\n")


def test_weights_size_is_checked_against_the_cfg(tmp_path: Path) -> None:
    cfg, weights, _ = write_tiny_yolo(tmp_path)
    assert check_weights_size(cfg, weights) == 20 + 4 * TINY_PARAMS
    # A truncated file would load silently in OpenCV with garbage parameters.
    cfg, weights, names = write_tiny_yolo(tmp_path, truncate=40)
    with pytest.raises(ConfigError, match=r"truncated or belongs to another cfg") as caught:
        YoloDetector(cfg=str(cfg), weights=str(weights), names=str(names), input_size=64)
    assert f"{20 + 4 * TINY_PARAMS:,}" in str(caught.value)


def test_blob_is_rgb_in_unit_range_resized(tmp_path: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    blob = make_blob(image, 64)
    assert blob.shape == (1, 3, 64, 64) and blob.dtype == np.float32
    expected = cv2.resize(image, (64, 64), interpolation=cv2.INTER_LINEAR)[..., ::-1] / 255.0
    np.testing.assert_allclose(blob[0].transpose(1, 2, 0), expected, atol=1e-6)


def _row(cx, cy, w, h, scores, objectness=0.9):
    return [cx, cy, w, h, objectness, *scores]


def test_decode_turns_relative_rows_into_pixel_boxes() -> None:
    outputs = [
        np.array(
            [
                _row(0.5, 0.5, 0.2, 0.4, [0.8, 0.1]),  # kept: cat, 0.8
                _row(0.1, 0.1, 0.1, 0.1, [0.2, 0.3]),  # below threshold
            ],
            np.float32,
        ),
        np.array([_row(0.95, 0.5, 0.2, 0.2, [0.0, 0.6])], np.float32),  # dog, clipped
    ]
    boxes, confidences, class_ids = decode(outputs, width=200, height=100, conf_threshold=0.5)
    assert boxes == [[80, 30, 40, 40], [170, 40, 30, 20]]
    assert confidences == pytest.approx([0.8, 0.6]) and class_ids == [0, 1]


def test_nms_merges_overlapping_boxes_of_one_class_only() -> None:
    boxes = [[10, 10, 50, 50], [12, 12, 50, 50], [100, 100, 20, 20], [11, 11, 50, 50]]
    confidences = [0.7, 0.9, 0.8, 0.95]
    class_ids = [0, 0, 0, 1]  # the last overlaps the first two but is another class
    kept = non_max_suppression(boxes, confidences, class_ids, 0.5, 0.4)
    assert kept == [3, 1, 2]  # best first; box 0 (same class as 1, overlapping) is dropped
    assert non_max_suppression([], [], [], 0.5, 0.4) == []


def test_tiny_network_loads_and_detects_through_opencv(tmp_path: Path) -> None:
    cfg, weights, names = write_tiny_yolo(tmp_path)
    detector = YoloDetector(
        cfg=str(cfg), weights=str(weights), names=str(names), input_size=64, conf_threshold=0.3
    )
    image = np.random.default_rng(2).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    outputs = detector.forward(image)
    # One YOLO layer on a 32x32 grid with 3 anchors: rows [cx, cy, w, h, objectness, 2 scores].
    assert [o.shape for o in outputs] == [(32 * 32 * 3, 7)]
    scores = outputs[0][:, 5:]
    # OpenCV multiplies class scores by the objectness: never above it.
    assert (scores <= outputs[0][:, 4:5] + 1e-6).all()
    detections = detector.detect(image)
    assert detections, "positive weights give confident outputs"
    assert all(isinstance(d, Detection) and d.label in ("cat", "dog") for d in detections)
    assert all(d.confidence > 0.3 for d in detections)
    confidences = [d.confidence for d in detections]
    assert confidences == sorted(confidences, reverse=True)
    # NMS leaves far fewer boxes than the raw rows above threshold.
    above = (scores.max(axis=1) > 0.3).sum()
    assert len(detections) < above
    drawn = annotate(image, detections)
    assert drawn.shape == image.shape and (drawn != image).any()
    assert detections[0].to_json()["box"] == list(detections[0].box)


def test_detector_file_errors_are_one_line(tmp_path: Path) -> None:
    cfg, weights, names = write_tiny_yolo(tmp_path)
    with pytest.raises(ConfigError, match="weights=.*no such file"):
        YoloDetector(cfg=str(cfg), weights=str(tmp_path / "x.weights"), names=str(names))
    with pytest.raises(ConfigError, match="names=.*no such file"):
        YoloDetector(cfg=str(cfg), weights=str(weights), names=str(tmp_path / "coco.names"))
    with pytest.raises(ConfigError, match="multiple of 32"):
        YoloDetector(cfg=str(cfg), weights=str(weights), names=str(names), input_size=50)


def test_yolo_evaluator_on_generated_images(tmp_path: Path) -> None:
    cfg, weights, names = write_tiny_yolo(tmp_path)
    evaluator = YoloEvaluator(
        cfg=str(cfg), weights=str(weights), names=str(names), input_size=64, conf_threshold=0.3
    )
    evaluator.reset()
    images = np.random.default_rng(3).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    evaluator.update(Batch(images))
    result = evaluator.result()
    assert set(result) == set(evaluator.metric_names())
    assert result["yolo_detections_per_image"] > 0
    assert 0.3 < result["yolo_mean_confidence"] <= 1.0
    assert 1 <= result["yolo_classes_found"] <= 2
    assert evaluator.protocol()["images"] == 3
