"""`.keras` round trip, with safe_mode=True, of every generator and discriminator YAML.

Tiny widths (the YAML's depth kept); batch-norm statistics are moved away from their initial
values first, so a file that lost any weight or statistic gives other outputs.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.base import DatasetSpec
from gantrain.errors import CheckpointError, ConfigError
from gantrain.models.saving import GeneratorModel, load_generator, save_generator
from gantrain.training.build import build_discriminator, build_generator
from tests.conftest import REPO, compose_config

GENERATORS = sorted(p.stem for p in (REPO / "configs" / "generator").glob("*.yaml"))
DISCRIMINATORS = sorted(p.stem for p in (REPO / "configs" / "discriminator").glob("*.yaml"))
SPECS = [DatasetSpec("mnist-like", (28, 28, 1), 10, 100), DatasetSpec("rgb", (32, 32, 3), 10, 100)]


def _tiny(group: str, name: str):
    """The YAML with its widths (or BigGAN-style `channels`) shrunk to 8, depth kept."""
    node = compose_config(overrides=[f"{group}={name}"])[group]
    overrides = [f"{group}={name}"]
    if "widths" in node:
        overrides.append(f"{group}.widths=[{','.join(['8'] * len(node.widths))}]")
    for key, tiny in (("channels", 8), ("shared_dim", 8), ("latent_dim", 8)):
        if key in node:
            overrides.append(f"{group}.{key}={tiny}")
    return load_run_config(compose_config(overrides=overrides))


def _first_fit(build, run):
    for spec in SPECS:
        try:
            return build(run, spec), spec
        except ConfigError:
            continue
    raise AssertionError("fits no test shape")


def _inputs(latent_dim: int, num_classes: int, count: int = 6):
    z = tf.random.stateless_normal([count, latent_dim], seed=[1, 2])
    return z if not num_classes else [z, tf.constant([i % num_classes for i in range(count)])]


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_keras_round_trip(name: str, tmp_path) -> None:
    keras.utils.set_random_seed(0)
    model, _ = _first_fit(build_generator, _tiny("generator", name))
    inputs = _inputs(model.latent_dim, model.num_classes)
    for _ in range(2):  # move batch-norm moving statistics off their initial values
        model(inputs, training=True)
    path = save_generator(model, tmp_path / "g.keras", metadata={"step": 7})
    loaded = load_generator(path)
    assert isinstance(loaded, GeneratorModel)
    assert (loaded.latent_dim, loaded.num_classes) == (model.latent_dim, model.num_classes)
    assert loaded.metadata == {"step": 7}
    expected = model(inputs, training=False).numpy()
    np.testing.assert_array_equal(loaded(inputs, training=False).numpy(), expected)
    # Plain Keras loads it too once gantrain's layers are registered.
    plain = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(plain(inputs, training=False).numpy(), expected)


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_layers_are_serializable(name: str, tmp_path) -> None:
    keras.utils.set_random_seed(0)
    model, spec = _first_fit(build_discriminator, _tiny("discriminator", name))
    images = tf.random.stateless_uniform([4, *spec.image_shape], seed=[3, 4], minval=-1.0)
    inputs = [images, tf.constant([0, 1, 2, 3])] if model.num_classes else images
    model(inputs, training=True)  # advances the spectral-norm vectors
    model.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True)
    expected = tf.nest.map_structure(np.asarray, model(inputs, training=False))
    got = tf.nest.map_structure(np.asarray, loaded(inputs, training=False))
    tf.nest.map_structure(np.testing.assert_array_equal, got, expected)
    assert len(loaded.weights) == len(model.weights)


def test_save_refuses_to_replace_other_files(tmp_path) -> None:
    model, _ = _first_fit(build_generator, _tiny("generator", "mlp"))
    other = tmp_path / "notes.keras"
    other.write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not a generator gantrain saved"):
        save_generator(model, other)
    assert other.read_text() == "mine"
    with pytest.raises(ConfigError, match="must end in .keras"):
        save_generator(model, tmp_path / "g.h5")
    save_generator(model, tmp_path / "g.keras")
    save_generator(model, tmp_path / "g.keras")  # an earlier generator is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.keras", "notes.keras"]
    with pytest.raises(CheckpointError, match="is not a gantrain generator"):
        load_generator(other)


@pytest.mark.parametrize(
    ("group", "name"),
    [("generator", g) for g in GENERATORS] + [("discriminator", d) for d in DISCRIMINATORS],
)
def test_training_checkpoints_hold_every_weight(group: str, name: str, tmp_path) -> None:
    """tf.train.Checkpoint (training's format) must see every variable of every model: a
    sublayer TensorFlow's dependency graph cannot reach would be silently left at its
    initialization by every resume, `sample` and `eval` (StyleGAN2's layer lists once were)."""
    build = build_generator if group == "generator" else build_discriminator
    keras.utils.set_random_seed(0)
    model, spec = _first_fit(build, _tiny(group, name))
    keras.utils.set_random_seed(1)
    twin = build(_tiny(group, name), spec)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    saved = {n for n, _ in tf.train.list_variables(path) if n.startswith("model/")}
    assert len(saved) >= len(model.weights), f"{name}: checkpoint misses variables"
    tf.train.Checkpoint(model=twin).read(path).assert_existing_objects_matched()
    for restored, original in zip(twin.weights, model.weights, strict=True):
        np.testing.assert_array_equal(restored.numpy(), original.numpy())
