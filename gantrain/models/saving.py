"""Generators as `.keras` files: Keras's native format, loaded with `safe_mode=True`.

A gantrain generator is a functional Keras model that carries `latent_dim` and `num_classes`
as Python attributes (the generator contract, gantrain/models/__init__.py). A `.keras` file
stores a model's config and weights, not its attributes, so the generator is saved as a
`GeneratorModel`: the same layers and graph in a registered functional subclass whose config
holds both numbers and optional JSON metadata (the source run, step, ...). Every custom layer
of gantrain/models is registered under the package name `gantrain`, so loading needs
gantrain importable and nothing else: no Lambda layers, no pickled code (`safe_mode=True`
refuses both).

    import keras, gantrain.models.saving          # registers gantrain's layers
    generator = keras.saving.load_model("generator.keras", safe_mode=True)
    images = generator(z, training=False)         # (N, latent_dim) -> (N, H, W, C) in [-1, 1]
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import keras

# Importing the layer modules registers their classes for deserialization.
import gantrain.models.biggan_layers
import gantrain.models.discriminators.stylegan2
import gantrain.models.generators.stylegan2
import gantrain.models.global_batch
import gantrain.models.layers
import gantrain.models.r3gan_blocks
import gantrain.models.resample
import gantrain.models.stylegan2_layers  # noqa: F401
from gantrain.atomic import atomic_path
from gantrain.errors import CheckpointError, ConfigError

REGISTERED_NAME = "gantrain>GeneratorModel"


@keras.saving.register_keras_serializable(package="gantrain")
class GeneratorModel(keras.Model):
    """A functional generator whose config keeps the contract's attributes.

    Built like a functional model: `GeneratorModel(inputs, outputs, latent_dim=...,
    num_classes=..., metadata=..., name=...)`. `metadata` is a JSON-able dict saved with it.
    """

    # *args/**kwargs: Keras treats a subclass with this signature as functional, so it saves
    # and rebuilds the graph (functional_like_constructor in keras.src.models.functional).
    def __init__(
        self,
        *args: Any,
        latent_dim: int,
        num_classes: int = 0,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        self.metadata = dict(metadata or {})

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "metadata": self.metadata,
        }


def as_generator_model(
    model: keras.Model, metadata: dict[str, Any] | None = None
) -> GeneratorModel:
    """`model` (a functional generator) as a GeneratorModel sharing its layers and weights."""
    if isinstance(model, GeneratorModel) and metadata is None:
        return model
    if not hasattr(model, "latent_dim"):
        raise ValueError("a generator must carry latent_dim (the generator contract)")
    return GeneratorModel(
        model.inputs if len(model.inputs) > 1 else model.inputs[0],
        model.outputs[0] if len(model.outputs) == 1 else model.outputs,
        latent_dim=model.latent_dim,
        num_classes=int(getattr(model, "num_classes", 0)),
        metadata=metadata if metadata is not None else getattr(model, "metadata", None),
        name=model.name,
    )


def _is_generator_file(path: Path) -> bool:
    """True if `path` is a `.keras` archive holding a GeneratorModel (one gantrain wrote)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    return isinstance(config, dict) and config.get("registered_name") == REGISTERED_NAME


def save_generator(
    model: keras.Model, path: str | os.PathLike, metadata: dict[str, Any] | None = None
) -> Path:
    """Write the generator `model` to `path` (a `.keras` file); returns the path.

    The file appears complete or not at all (written beside it, then renamed). An existing
    file is replaced only if it is a generator gantrain saved; anything else is left alone.
    """
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ConfigError(f"output={path}: a Keras model file must end in .keras.")
    if path.is_dir() or (path.exists() and not _is_generator_file(path)):
        raise ConfigError(
            f"output={path} exists and is not a generator gantrain saved; give a new file name "
            "(an earlier gantrain .keras generator there is replaced)."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".keras") as tmp:  # Keras wants the .keras suffix
        keras.saving.save_model(as_generator_model(model, metadata), tmp)
    return path


def load_generator(path: str | os.PathLike) -> GeneratorModel:
    """A generator saved by `save_generator`, loaded with `safe_mode=True` (no code runs)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: no such .keras file.")
    if not _is_generator_file(path):
        raise CheckpointError(
            f"{path} is not a gantrain generator (.keras written by `gantrain export "
            "format=keras` or gantrain.models.saving.save_generator)."
        )
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as error:
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"cannot load {path} ({type(error).__name__}: {first}).") from error
    return model
