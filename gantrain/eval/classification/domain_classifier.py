"""Domain classifiers: small CNNs trained by gantrain on a dataset's labels.

ImageNet features fit 28x28 digits poorly, so for MNIST-like data the FID/KID/IS/PR feature
extractor is a classifier trained on the dataset itself (`python -m gantrain eval
train-classifier dataset=mnist`). It is saved in the Keras format (loaded with
`safe_mode=True`: no Python code inside) beside a JSON file holding its test accuracy and how
it was trained. Its 128-d `features` layer feeds the metrics; its `logits` give class
probabilities for the Inception Score and the classification accuracy score.

gantrain ships the MNIST classifier it was trained into (`gantrain/eval/assets/`), so every
user's domain-classifier FID on MNIST uses the same weights.
"""

from __future__ import annotations

import json
import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gantrain.data.base import LoadedDataset
from gantrain.errors import ConfigError, DatasetError

log = logging.getLogger("gantrain")

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"


def build_classifier(image_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """Two conv blocks (32, 64 filters), a 128-d ReLU `features` layer, `logits` (K,).

    Input: float32 (N, H, W, C) in [-1, 1]; H and W divisible by 4.
    """
    inputs = keras.Input(image_shape, name="images")
    x = inputs
    for filters in (32, 64):
        for _ in range(2):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Dropout(0.1)(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(0.3)(features)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name="domain_classifier")


def _as_inputs(data: LoadedDataset) -> tuple[np.ndarray, np.ndarray]:
    if data.labels is None:
        raise DatasetError(
            f"dataset {data.spec.name} has no labels; a domain classifier is trained on labels."
        )
    return data.images.astype(np.float32) / 127.5 - 1.0, data.labels.astype(np.int32)


def train_classifier(
    train: LoadedDataset,
    test: LoadedDataset,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train on `train`, measure on `test`; returns (model, info with `test_accuracy`)."""
    keras.utils.set_random_seed(seed)
    x_train, y_train = _as_inputs(train)
    x_test, y_test = _as_inputs(test)
    num_classes = train.spec.num_classes or int(y_train.max()) + 1
    model = build_classifier(tuple(train.spec.image_shape), num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    report = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: log.info(
            "epoch %d/%d: loss %.4f, train accuracy %.4f",
            epoch + 1,
            epochs,
            logs["loss"],
            logs["accuracy"],
        )
    )
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[report])
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    info = {
        "dataset": train.spec.name,
        "image_shape": list(train.spec.image_shape),
        "num_classes": num_classes,
        "test_accuracy": float(accuracy),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "keras": keras.__version__,
    }
    return model, info


def info_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def save_classifier(model: keras.Model, path: Path, info: dict[str, Any]) -> None:
    """`path` (.keras) and its info JSON beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # An uncompiled view of the same layers: the file holds the weights, not Adam's slots.
    keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    info_path(path).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def read_info(path: Path) -> dict[str, Any]:
    """The info JSON saved beside a classifier ({} when absent or unreadable)."""
    try:
        return json.loads(info_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def packaged_classifier(dataset: str) -> Path:
    return Path(str(resources.files("gantrain.eval") / "assets" / f"{dataset}_classifier.keras"))


def default_output(dataset: str, cache: Path) -> Path:
    """Where `eval train-classifier` writes without `output=`."""
    return cache / "classifiers" / f"{dataset}.keras"


def resolve_classifier(dataset: str, configured: str | None, cache: Path) -> Path:
    """The domain classifier for `dataset`: `eval.classifier`, else the one shipped with
    gantrain, else one trained into the cache."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"eval.classifier={configured}: no such file; train one with `python -m "
                f"gantrain eval train-classifier dataset={dataset} output={configured}`."
            )
        return path
    for path in (packaged_classifier(dataset), default_output(dataset, cache)):
        if path.is_file():
            return path
    raise ConfigError(
        f"no domain classifier for dataset {dataset}: train one with `python -m gantrain eval "
        f"train-classifier dataset={dataset}` (writes {default_output(dataset, cache)}), or "
        "use eval.extractor=inception_fid."
    )
