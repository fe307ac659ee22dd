"""The augmentation of D's inputs: DiffAugment's per-image probability p, p's schedules,
and the trainer keys that choose them (gantrain/training/augmentation.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import TrainerConfig
from gantrain.errors import ConfigError
from gantrain.training.augment import NUM_UNIFORMS, diff_augment
from gantrain.training.augmentation import Augmentation, build_augmentation, check_augment

POLICY = ("color", "translation", "cutout")
STEP = tf.constant(0, tf.int64)


def _images(batch: int = 8) -> tf.Tensor:
    return tf.random.stateless_uniform([batch, 8, 8, 3], seed=[1, 2], minval=-1.0, maxval=1.0)


def _draw(gate: np.ndarray | None = None):
    """A stand-in for PhaseLosses.draw: fixed uniforms, and the given gate values."""

    def draw(kind: str, shape: tuple[int, ...], stream: int) -> tf.Tensor:
        assert kind == "uniform"
        if shape == (1,):
            return tf.constant(gate[:, None], tf.float32)
        return tf.random.stateless_uniform([8, *shape], seed=[stream, 7])

    return draw


def test_p_one_is_diffaugment_exactly_as_before_p_existed() -> None:
    images = _images()
    expected = diff_augment(images, POLICY, _draw()("uniform", (NUM_UNIFORMS,), 3))
    out = Augmentation(POLICY)(images, _draw(), 3, STEP)  # the default p (null) is 1
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_p_gates_each_image() -> None:
    images = _images()
    augmented = diff_augment(images, POLICY, _draw()("uniform", (NUM_UNIFORMS,), 3)).numpy()
    gate = np.array([0.1, 0.9, 0.2, 0.7, 0.29, 0.31, 0.0, 0.99], np.float32)
    out = Augmentation(POLICY, p=0.3)(images, _draw(gate), 3, STEP).numpy()
    for i, u in enumerate(gate):
        np.testing.assert_array_equal(out[i], augmented[i] if u < 0.3 else images.numpy()[i])
    zero = Augmentation(POLICY, p=0.0)(images, _draw(gate), 3, STEP)
    np.testing.assert_array_equal(zero.numpy(), images.numpy())


def test_scheduled_p_follows_the_clock_and_is_logged() -> None:
    clock = tf.Variable(0, dtype=tf.int64)
    trainer = TrainerConfig.with_defaults(
        max_steps=100,
        augment=list(POLICY),
        augment_p=0.0,
        augment_p_schedule="cosine",
        augment_p_final=0.55,
    )
    augmentation = build_augmentation(trainer, clock=clock)
    for step in (0, 25, 50, 100, 150):
        expected = 0.55 * 0.5 * (1 - np.cos(np.pi * min(step / 100, 1.0)))
        value = float(augmentation.probability(tf.constant(step, tf.int64)))
        assert value == pytest.approx(expected, abs=1e-6)
    metrics = augmentation.metrics(tf.constant(50, tf.int64))
    assert float(metrics["aug_p"]) == pytest.approx(0.275, abs=1e-6)
    assert Augmentation(POLICY).metrics(STEP) == {}  # DiffAugment's constant 1: nothing to log


def test_augment_keys_are_checked() -> None:
    assert check_augment(["bgc", "cutout"]) == ("bgc", "cutout")
    with pytest.raises(ConfigError, match="unknown augmentation flip"):
        check_augment(["flip"])
    with pytest.raises(ConfigError, match="does not combine"):
        check_augment(["bgc", "color"])
    with pytest.raises(ConfigError, match="augment_p=1.5"):
        TrainerConfig.with_defaults(augment_p=1.5)
    with pytest.raises(ConfigError, match="ada_target"):
        TrainerConfig.with_defaults(ada_target=1.0)
    with pytest.raises(ConfigError, match="is not its pipeline"):
        Augmentation(POLICY, ada_target=0.6)
    with pytest.raises(ConfigError, match="needs a starting"):
        build_augmentation(
            TrainerConfig.with_defaults(augment=list(POLICY), augment_p_schedule="linear"),
            clock=tf.Variable(0, dtype=tf.int64),
        )
