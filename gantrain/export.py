"""A trained generator as a TensorFlow SavedModel that needs neither gantrain nor Keras.

What the SavedModel holds:
- the sampling copy of the generator (EMA weights when the checkpoint has them; batch-norm
  statistics recomputed from fresh latents, "standing statistics", exactly as `sample` and the
  training grids draw), run in inference mode: the output depends only on the inputs;
- one endpoint, `generate`, also registered as the `serving_default` signature:
  inputs `latent` float32 (N, latent_dim), plus `label` int32 (N,) for class-conditional
  generators; output `images` float32 (N, H, W, C) in [-1, 1];
- `assets.extra/gantrain.json`: latent_dim, num_classes, image_shape, the source run dir and
  checkpoint, the step, whether EMA weights were used, gantrain/TF/Keras versions, and
  `"written_by": "gantrain export"`: a later export replaces a folder only if it has this
  marker, so a folder gantrain did not write is never deleted.

Load it with `tf.saved_model.load(path)` and call `.signatures["serving_default"](latent=z)`
(or `.generate(z)`); TF Serving serves it as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from gantrain.atomic import atomic_write_text, fsync_path
from gantrain.errors import ConfigError
from gantrain.training.sampling import Sampler

METADATA = Path("assets.extra") / "gantrain.json"
# The marker in METADATA of every export: `export` replaces only folders that carry it.
WRITTEN_BY = "gantrain export"


def export_generator(sampler: Sampler, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write `sampler`'s generator (as refreshed) to `path` as a SavedModel; returns `path`."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        _check_replaceable(path)
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
    info = {
        "written_by": WRITTEN_BY,
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
    # Write into a fresh folder beside the target, then swap, so a failed export leaves no
    # half-written model (and nothing of anyone else's is touched on the way).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".export"))
    try:
        archive.write_out(str(tmp), verbose=False)
        (tmp / METADATA).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(tmp / METADATA, json.dumps(info, indent=1) + "\n")
        if path.exists():
            # The previous export (checked above to be gantrain's) is moved aside, and deleted
            # only once the new one is in place.
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_replaceable(path: Path) -> None:
    """Raise unless `path` is a folder an earlier `export` wrote (its metadata says so).

    Only such a folder is replaced: gantrain never deletes what it did not write, even a
    folder that happens to hold a SavedModel.
    """
    if path.is_symlink() or not path.is_dir():
        kind = "a symbolic link" if path.is_symlink() else "a file"
        raise ConfigError(f"output={path} is {kind}; give a new folder. Nothing was deleted.")
    try:
        info = json.loads((path / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    if not (isinstance(info, dict) and info.get("written_by") == WRITTEN_BY):
        raise ConfigError(
            f"output={path} exists and was not written by gantrain export (no {METADATA} "
            "marker); nothing was deleted. Give a new folder, or remove this one yourself."
        )
