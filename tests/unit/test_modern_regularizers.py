"""RpGAN, R2, LeCam and orthogonal regularization against hand-computed values (issue 13)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.losses.adversarial import relativistic_pairing
from gantrain.regularizers.base import RegularizerContext
from gantrain.regularizers.lecam import LeCam
from gantrain.regularizers.orthogonal import Orthogonal, off_diagonal_gram_penalty
from gantrain.regularizers.r2 import R2


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x))


def _context(**values) -> RegularizerContext:
    defaults = {
        "state": None,
        "model": None,
        "real": None,
        "labels": None,
        "fake_labels": None,
        "step": tf.constant(0, tf.int64),
        "global_batch_size": 4,
        "real_logits": None,
        "fake_logits": None,
        "make_fake": lambda: None,
        "critic_fn": lambda images, labels: None,
        "draw": lambda kind, shape, stream: None,
    }
    return RegularizerContext(**{**defaults, **values})


def test_relativistic_pairing_pairs_real_i_with_fake_i() -> None:
    loss = relativistic_pairing()
    real, fake = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 3.0])
    d = loss.discriminator(tf.constant(real[:, None]), tf.constant(fake[:, None]))
    np.testing.assert_allclose(d.loss.numpy(), _softplus(-(real - fake)), rtol=1e-6)
    np.testing.assert_allclose(d.parts["d_relativistic"].numpy(), real - fake)
    g = loss.generator(tf.constant(fake[:, None]), tf.constant(real[:, None]))
    np.testing.assert_allclose(g.loss.numpy(), _softplus(-(fake - real)), rtol=1e-6)
    assert loss.generator_needs_real
    with pytest.raises(ValueError, match="real images"):
        loss.generator(tf.constant(fake[:, None]), None)


def test_r2_is_the_squared_input_gradient_on_fakes_with_weight_gamma_over_2() -> None:
    # A critic with a closed-form input gradient: D(x) = sum(a * x^2) -> grad = 2 a x.
    a = tf.constant(np.linspace(0.5, 2.0, 12).reshape(1, 2, 2, 3), tf.float32)
    fakes = tf.constant(np.random.default_rng(0).normal(size=(4, 2, 2, 3)), tf.float32)
    seen_labels = []

    def critic(images: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
        seen_labels.append(labels)
        return tf.reduce_sum(a * tf.square(images), axis=[1, 2, 3])[:, None]

    labels = tf.constant([0, 1, 2, 3])
    r2 = R2(gamma=3.0)
    values = r2(_context(make_fake=lambda: fakes, critic_fn=critic, fake_labels=labels)).numpy()
    expected = np.sum(np.square(2.0 * a.numpy() * fakes.numpy()), axis=(1, 2, 3))
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert r2.weight == 1.5 and seen_labels[0] is labels  # fakes are judged with their labels


def test_lecam_anchors_and_value_follow_the_reference() -> None:
    lecam = LeCam(weight=0.3, decay=0.9, start=2)
    lecam.build(None)
    real, fake = np.array([1.0, 3.0]), np.array([-1.0, 0.5])
    anchor_real = anchor_fake = 0.0
    for step in range(5):
        ctx = _context(
            real_logits=tf.constant(real[:, None] + step, tf.float32),
            fake_logits=tf.constant(fake[:, None] - step, tf.float32),
            step=tf.constant(step, tf.int64),
        )
        terms = lecam(ctx)
        # The reference (StudioGAN worker.py): EMA decay 0 before `start`, update, then the
        # term with the updated anchors when step > start.
        decay = 0.9 if step >= 2 else 0.0
        anchor_real = decay * anchor_real + (1 - decay) * (real + step).mean()
        anchor_fake = decay * anchor_fake + (1 - decay) * (fake - step).mean()
        expected = np.square(np.maximum(real + step - anchor_fake, 0)) + np.square(
            np.maximum(anchor_real - (fake - step), 0)
        )
        expected *= float(step > 2)
        np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert float(lecam.anchor_real.numpy()) == pytest.approx(anchor_real, rel=1e-6)
        assert float(lecam.anchor_fake.numpy()) == pytest.approx(anchor_fake, rel=1e-6)
        np.testing.assert_allclose(terms.parts["anchor_real"].numpy(), anchor_real, rtol=1e-6)
    assert lecam.needs_logits


def test_orthogonal_penalty_matches_numpy_and_skips_excluded_and_vectors() -> None:
    inputs = keras.Input((3,), dtype="int32")
    shared = keras.layers.Embedding(5, 4, name="shared_embedding")(inputs[:, 0])
    hidden = keras.layers.Dense(6, name="dense")(shared)
    other = keras.layers.Embedding(7, 2, name="other_embedding")(inputs)
    model = keras.Model(inputs, [hidden, other])
    ortho = Orthogonal(weight=1e-4)
    value = float(ortho(_context(model=model)).numpy())

    def off_gram(m: np.ndarray) -> float:
        g = m @ m.T
        return float(np.sum(np.square(g - np.diag(np.diag(g)))))

    kernel = model.get_layer("dense").kernel.numpy()  # (in, out): PyTorch W is its transpose
    table = model.get_layer("other_embedding").embeddings.numpy()  # (classes, dim) as PyTorch
    expected = 0.5 * (off_gram(kernel.T) + off_gram(table))
    assert value == pytest.approx(expected, rel=1e-5)
    # Orthogonal columns cost nothing.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 3)))
    assert float(off_diagonal_gram_penalty(tf.constant(q, tf.float32))) == pytest.approx(
        0.0, abs=1e-10
    )
    # Its gradient is BigGAN-PyTorch's 2 * beta * (W W^T * (1 - I)) W (as weight * value).
    w = tf.Variable(np.random.default_rng(2).normal(size=(4, 3)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = 1e-4 * 0.5 * off_diagonal_gram_penalty(w)
    reference_w = w.numpy().T  # PyTorch layout (out, in)
    gram = reference_w @ reference_w.T
    reference = 2e-4 * ((gram - np.diag(np.diag(gram))) @ reference_w)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), reference.T, rtol=1e-8)
