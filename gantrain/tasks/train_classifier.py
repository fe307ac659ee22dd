"""`python -m gantrain eval train-classifier dataset=mnist [output=FILE.keras]`."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")

HELD_OUT = 0.1


def split_data(source):
    """(train, test, how the test set was chosen): the dataset's test split when training on
    its train split, else a seeded held-out tenth of the chosen split."""
    from gantrain.data.base import LoadedDataset

    if source.split == "train" and "test" in source.splits:
        return source.load(), dataclasses.replace(source, split="test").load(), "test split"
    data = source.load()
    order = np.random.default_rng(0).permutation(len(data.images))
    cut = max(1, int(len(order) * HELD_OUT))

    def part(index: np.ndarray) -> LoadedDataset:
        spec = dataclasses.replace(data.spec, num_examples=len(index))
        labels = None if data.labels is None else data.labels[index]
        return LoadedDataset(spec, data.images[index], labels)

    return part(order[cut:]), part(order[:cut]), f"held-out {HELD_OUT:.0%} of {source.split}"


@hydra.main(
    config_path=CONFIG_PATH, config_name="train_classifier", version_base=HYDRA_VERSION_BASE
)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.config import structured_from_target
    from gantrain.data.base import DatasetSource
    from gantrain.eval.classification.domain_classifier import (
        default_output,
        save_classifier,
        train_classifier,
    )
    from gantrain.eval.reference import cache_dir

    for key in ("epochs", "batch_size", "learning_rate"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key}={cfg[key]}: must be a positive number.")
    source = structured_from_target(cfg.dataset, "dataset", DatasetSource)
    output = (
        Path(cfg.output).expanduser()
        if cfg.output
        else default_output(source.name, cache_dir(cfg.cache_dir))
    )
    if output.suffix != ".keras":
        raise ConfigError(f"output={output}: must end in .keras (the Keras format).")
    train, test, test_split = split_data(source)
    log.info(
        "training a domain classifier on %d %s images, testing on %d (%s)",
        len(train.images),
        source.name,
        len(test.images),
        test_split,
    )
    model, info = train_classifier(
        train,
        test,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
    )
    info["test_split"] = test_split
    save_classifier(model, output, info)
    log.info(
        "test accuracy %.4f after %.0f s; saved %s (use it with eval.classifier=%s)",
        info["test_accuracy"],
        info["train_seconds"],
        output,
        output,
    )
    emit_result({"classifier": str(output), **info})
