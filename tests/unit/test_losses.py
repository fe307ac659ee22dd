"""Losses against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from gantrain.losses.adversarial import non_saturating


def test_non_saturating_discriminator_matches_hand_computed_bce() -> None:
    loss = non_saturating()
    real = tf.constant([[0.0], [2.0]])
    fake = tf.constant([[0.0], [-1.0]])
    terms = loss.discriminator(real, fake)
    # BCE(1, sigmoid(r)) + BCE(0, sigmoid(f)) = -log s(r) - log(1 - s(f))
    expected = [
        -math.log(0.5) - math.log(0.5),
        -math.log(1 / (1 + math.exp(-2.0))) - math.log(1 - 1 / (1 + math.exp(1.0))),
    ]
    np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        terms.parts["d_real"].numpy(), [0.5, 1 / (1 + math.exp(-2))], rtol=1e-6
    )
    np.testing.assert_allclose(
        terms.parts["d_fake"].numpy(), [0.5, 1 / (1 + math.exp(1))], rtol=1e-6
    )


def test_non_saturating_generator_is_minus_log_d_of_fake() -> None:
    terms = non_saturating().generator(tf.constant([[0.0], [3.0]]), None)
    expected = [-math.log(0.5), -math.log(1 / (1 + math.exp(-3.0)))]
    np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-6)


def test_non_saturating_matches_keras_binary_crossentropy() -> None:
    rng = np.random.default_rng(0)
    real, fake = (
        rng.normal(size=(8, 1)).astype("float32"),
        rng.normal(size=(8, 1)).astype("float32"),
    )
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
    expected = bce(np.ones((8, 1)), real) + bce(np.zeros((8, 1)), fake)
    got = non_saturating().discriminator(tf.constant(real), tf.constant(fake)).loss
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)


def test_loss_is_stable_for_large_logits() -> None:
    terms = non_saturating().discriminator(tf.constant([[100.0]]), tf.constant([[-100.0]]))
    assert np.isfinite(terms.loss.numpy()).all()
    assert terms.loss.numpy()[0] < 1e-30


# -- the other adversarial losses, on logits real = [0, 2], fake = [0, -1] -------------------

REAL = tf.constant([[0.0], [2.0]])
FAKE = tf.constant([[0.0], [-1.0]])


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_minimax_generator_is_log_one_minus_d_of_fake() -> None:
    from gantrain.losses.adversarial import minimax

    terms = minimax().generator(FAKE, None)
    # log(1 - sigmoid(f)): log(0.5) and log(1 - 1/(1+e)) = log(e/(1+e))
    expected = [math.log(0.5), math.log(math.e / (1 + math.e))]
    np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-6)
    d = minimax().discriminator(REAL, FAKE).loss.numpy()
    np.testing.assert_allclose(d, non_saturating().discriminator(REAL, FAKE).loss.numpy())


def test_wgan_is_the_difference_of_critic_values() -> None:
    from gantrain.losses.adversarial import wgan

    loss = wgan()
    d = loss.discriminator(REAL, FAKE)
    np.testing.assert_allclose(d.loss.numpy(), [0.0 - 0.0, -1.0 - 2.0])
    np.testing.assert_allclose(d.parts["d_wasserstein"].numpy(), [0.0, 3.0])
    np.testing.assert_allclose(loss.generator(FAKE, None).loss.numpy(), [0.0, 1.0])


def test_hinge() -> None:
    from gantrain.losses.adversarial import hinge

    loss = hinge()
    # relu(1 - r) + relu(1 + f): (1 + 1, 0 + 0)
    np.testing.assert_allclose(loss.discriminator(REAL, FAKE).loss.numpy(), [2.0, 0.0])
    np.testing.assert_allclose(
        loss.discriminator(tf.constant([0.5]), tf.constant([-0.25])).loss.numpy(), [1.25]
    )
    np.testing.assert_allclose(loss.generator(FAKE, None).loss.numpy(), [0.0, 1.0])


def test_least_squares() -> None:
    from gantrain.losses.adversarial import least_squares

    loss = least_squares()
    # (r - 1)^2 / 2 + f^2 / 2: (0.5 + 0, 0.5 + 0.5)
    np.testing.assert_allclose(loss.discriminator(REAL, FAKE).loss.numpy(), [0.5, 1.0])
    # (f - 1)^2 / 2: (0.5, 2)
    np.testing.assert_allclose(loss.generator(FAKE, None).loss.numpy(), [0.5, 2.0])


def test_relativistic_average() -> None:
    from gantrain.losses.adversarial import relativistic_average

    loss = relativistic_average()
    assert loss.generator_needs_real
    mean_r, mean_f = 1.0, -0.5
    d = loss.discriminator(REAL, FAKE).loss.numpy()
    expected_d = [
        _softplus(-(0.0 - mean_f)) + _softplus(0.0 - mean_r),
        _softplus(-(2.0 - mean_f)) + _softplus(-1.0 - mean_r),
    ]
    np.testing.assert_allclose(d, expected_d, rtol=1e-6)
    g = loss.generator(FAKE, REAL).loss.numpy()
    expected_g = [
        _softplus(-(0.0 - mean_r)) + _softplus(0.0 - mean_f),
        _softplus(-(-1.0 - mean_r)) + _softplus(2.0 - mean_f),
    ]
    np.testing.assert_allclose(g, expected_g, rtol=1e-6)


def test_classification_is_softmax_cross_entropy() -> None:
    from gantrain.losses.adversarial import classification

    logits = tf.constant([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    got = classification(logits, tf.constant([1, 0])).numpy()
    expected = [math.log(3.0), -math.log(math.exp(2) / (math.exp(2) + 2))]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_every_loss_yaml_lists_every_key_of_its_builder() -> None:
    """One shape for all losses: `loss.<key>=...` works on each without `+`."""
    import inspect

    from omegaconf import OmegaConf

    from gantrain.config import import_target
    from tests.conftest import REPO, compose_config

    names = sorted(p.stem for p in (REPO / "configs" / "loss").glob("*.yaml"))
    assert {"non_saturating", "hinge", "wgan_gp", "r1"} <= set(names)
    for name in names:
        node = compose_config(overrides=[f"loss={name}"]).loss
        keys = set(OmegaConf.to_container(node)) - {"_target_"}
        params = set(inspect.signature(import_target(node._target_, "loss")).parameters)
        assert keys == params == {"class_weight_discriminator", "class_weight_generator"}, name


def test_class_weights_are_options_of_every_loss() -> None:
    from gantrain.losses.adversarial import hinge

    loss = hinge(class_weight_generator=0.1)
    assert loss.class_weight_generator == 0.1 and loss.class_weight_discriminator == 1.0
    assert loss.name == "hinge"


@pytest.mark.parametrize("value", [-0.5, float("nan")])
def test_loss_options_reject_bad_values(value: float) -> None:
    from gantrain.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        non_saturating(class_weight_generator=value)
    assert f"loss.class_weight_generator={value}" in str(info.value)
