"""`python -m gantrain classify image=PATH|FOLDER [top_k=5] [weights=FILE] [output=FILE.json]`."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")


@hydra.main(config_path=CONFIG_PATH, config_name="classify", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.eval.classification.imagenet import ResNet50Classifier, top_k
    from gantrain.eval.images import list_images, read_rgb

    if not 1 <= cfg.top_k <= 1000:
        raise ConfigError(f"top_k={cfg.top_k}: must be between 1 and 1000.")
    paths = list_images(cfg.image)
    classifier = ResNet50Classifier(weights=cfg.weights, batch_size=cfg.batch_size)
    probs = classifier([read_rgb(p) for p in paths])
    predictions = [
        {"image": str(path), "top_k": best}
        for path, best in zip(paths, top_k(probs, cfg.top_k), strict=True)
    ]
    for prediction in predictions:
        first = prediction["top_k"][0]
        log.info("%s: %s (%.3f)", prediction["image"], first["label"], first["probability"])
    emit_result({"predictions": predictions, "protocol": classifier.describe()}, cfg.output)
