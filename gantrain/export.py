"""A trained generator as a TensorFlow SavedModel that needs neither gantrain nor Keras.

What the SavedModel holds:
- the sampling copy of the generator (EMA weights when the checkpoint has them; batch-norm
  statistics recomputed from fresh latents, "standing statistics", exactly as `sample` and the
  training grids draw), run in inference mode: the output depends only on the inputs;
- one endpoint, `generate`, also registered as the `serving_default` signature:
  inputs `latent` float32 (N, latent_dim), plus `label` int32 (N,) for class-conditional
  generators; output `images` float32 (N, H, W, C) in [-1, 1];
- `assets.extra/gantrain.json`: latent_dim, num_classes, image_shape, the source run dir and
  checkpoint, the step, whether EMA weights were used, gantrain/TF/Keras versions.

Load it with `tf.saved_model.load(path)` and call `.signatures["serving_default"](latent=z)`
(or `.generate(z)`); TF Serving serves it as it is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.training.sampling import Sampler

METADATA = Path("assets.extra") / "gantrain.json"


def export_generator(sampler: Sampler, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write `sampler`'s generator (as refreshed) to `path` as a SavedModel; returns `path`."""
    path = Path(path)
    if path.exists() and not (path / "saved_model.pb").exists():
        raise ConfigError(
            f"output={path} exists and is not a SavedModel; give a new folder (an existing "
            "SavedModel there is replaced)."
        )
    model = sampler.model
    latent = tf.TensorSpec([None, sampler.latent_dim], tf.float32, name="latent")
    archive = keras.export.ExportArchive()
    archive.track(model)
    if sampler.num_classes:
        label = tf.TensorSpec([None], tf.int32, name="label")

        def generate(latent: tf.Tensor, label: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"images": tf.cast(model([latent, label], training=False), tf.float32)}

        archive.add_endpoint("generate", generate, input_signature=[latent, label])
    else:

        def generate(latent: tf.Tensor) -> dict[str, tf.Tensor]:  # type: ignore[misc]
            return {"images": tf.cast(model(latent, training=False), tf.float32)}

        archive.add_endpoint("generate", generate, input_signature=[latent])
    # Write next to the target, then swap, so a failed export leaves no half-written model.
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(str(tmp), verbose=False)
    info = {
        "latent_dim": sampler.latent_dim,
        "num_classes": sampler.num_classes,
        "image_shape": [int(d) for d in model.output_shape[1:]],
        "output_range": [-1.0, 1.0],
        "inputs": ["latent", "label"] if sampler.num_classes else ["latent"],
        "standing_stats": sampler.standing_stats,
        **metadata,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    (tmp / METADATA).parent.mkdir(parents=True, exist_ok=True)
    (tmp / METADATA).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path
