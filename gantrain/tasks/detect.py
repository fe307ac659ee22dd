"""`python -m gantrain detect image=PATH|FOLDER cfg=... weights=... names=... [output=DIR]`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError, DatasetError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")


@hydra.main(config_path=CONFIG_PATH, config_name="detect", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    import cv2

    from gantrain.eval.detection.yolo import YoloDetector, annotate
    from gantrain.eval.images import list_images

    paths = list_images(cfg.image)
    out_dir = Path(cfg.output).expanduser() if cfg.output else None
    if out_dir is not None and any(out_dir.resolve() == p.resolve().parent for p in paths):
        raise ConfigError(
            f"output={out_dir} is the folder of the input images; annotated copies would "
            "overwrite them. Pick another folder."
        )
    detector = YoloDetector(
        cfg=cfg.cfg,
        weights=cfg.weights,
        names=cfg.names,
        input_size=cfg.input_size,
        conf_threshold=cfg.conf_threshold,
        nms_threshold=cfg.nms_threshold,
    )
    results = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR, as the network's blob expects
        if image is None:
            raise DatasetError(f"image={path}: OpenCV cannot read it as an image.")
        detections = detector.detect(image)
        log.info("%s: %d detection(s)", path, len(detections))
        results.append(
            {
                "image": str(path),
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "detections": [d.to_json() for d in detections],
            }
        )
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out_dir / path.name), annotate(image, detections))
    record = {"images": results, "protocol": detector.describe()}
    if out_dir is not None:
        (out_dir / "detections.json").write_text(json.dumps(record, indent=2) + "\n")
        log.info("wrote %s and %d annotated image(s)", out_dir / "detections.json", len(paths))
    emit_result(record)
