"""R3GAN's building blocks: FIR resampling against a direct numpy upfirdn2d, the grouped
convolution against TensorFlow's grouped conv2d and a numeric gradient, the fix-up style
initialization, and the conditional discriminator's projection."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.models.discriminators.r3gan import build_r3gan_discriminator
from gantrain.models.generators.r3gan import build_r3gan_generator
from gantrain.models.r3gan_blocks import (
    LRELU_GAIN,
    BiasedLeakyReLU,
    GroupedConv2D,
    grouped_conv2d,
    residual_block,
)
from gantrain.models.resample import (
    FIRResample2D,
    downsample2d,
    lowpass_filter,
    upfirdn2d,
    upsample2d,
)

SMALL = {"widths": [8, 8], "cardinalities": [2, 2], "blocks": [1, 1], "expansion": 2}


def _numpy_upfirdn2d(x, kernel, up, down, pad):
    """The reference's definition written out: zero insertion, pad, true convolution, stride."""
    n, h, w, c = x.shape
    up_x = np.zeros((n, h * up, w * up, c))
    up_x[:, ::up, ::up, :] = x
    y0, y1, x0, x1 = pad
    padded = np.pad(up_x, [(0, 0), (y0, y1), (x0, x1), (0, 0)])
    k = kernel.shape[0]
    out_h, out_w = padded.shape[1] - k + 1, padded.shape[2] - k + 1
    out = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i : i + k, j : j + k, :]
            # Convolution: the filter is flipped against the window.
            out[:, i, j, :] = np.einsum("nabc,ab->nc", window, kernel[::-1, ::-1])
    return out[:, ::down, ::down, :]


def test_lowpass_filter_is_the_normalized_1331_outer_product() -> None:
    kernel = lowpass_filter([1, 2, 1])
    taps = np.array([1, 3, 3, 1]) / 8.0
    np.testing.assert_allclose(kernel, np.outer(taps, taps))
    np.testing.assert_allclose(lowpass_filter([1, 2, 1], inplace=True).sum(), 1.0)


@pytest.mark.parametrize(
    ("up", "down", "pad"), [(2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)), (1, 1, (0, 3, 1, 0))]
)
def test_upfirdn2d_matches_numpy(up: int, down: int, pad: tuple[int, int, int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 3))
    # An asymmetric filter, so a missing flip would show.
    kernel = rng.uniform(size=(4, 4))
    got = upfirdn2d(tf.constant(x, tf.float64), kernel, up=up, down=down, padding=pad).numpy()
    np.testing.assert_allclose(got, _numpy_upfirdn2d(x, kernel, up, down, pad), atol=1e-10)


def test_resampling_gains_keep_a_constant_image() -> None:
    kernel = lowpass_filter([1, 2, 1])
    ones = tf.ones([1, 8, 8, 2])
    up = upsample2d(ones, kernel).numpy()
    down = downsample2d(ones, kernel).numpy()
    assert up.shape == (1, 16, 16, 2) and down.shape == (1, 4, 4, 2)
    # Away from the zero-padded border a constant stays constant (gain up^2 and 1).
    np.testing.assert_allclose(up[:, 2:-2, 2:-2], 1.0, atol=1e-6)
    np.testing.assert_allclose(down[:, 1:-1, 1:-1], 1.0, atol=1e-6)
    layer = FIRResample2D("down")
    assert layer.compute_output_shape((None, 8, 8, 2)) == (None, 4, 4, 2)


def test_grouped_conv_equals_tensorflow_grouped_conv2d() -> None:
    layer = GroupedConv2D(12, 3, groups=3)
    x = tf.random.stateless_normal([2, 5, 5, 6], seed=[1, 2])
    got = layer(x).numpy()
    # TensorFlow's own grouped convolution (forward only on CPU): kernel in-channels C / g.
    expected = tf.nn.conv2d(x, layer.dense_kernel(), strides=1, padding="SAME").numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_grouped_conv_gradient_matches_numeric_gradient() -> None:
    x = tf.random.stateless_normal([1, 3, 3, 4], seed=[3, 4], dtype=tf.float64)
    kernel = tf.random.stateless_normal([9, 2, 2, 2], seed=[5, 6], dtype=tf.float64)
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: grouped_conv2d(a, b, 3), [x, kernel]
    )
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, atol=1e-6)


def test_residual_block_starts_as_the_identity_with_msr_gains() -> None:
    inputs = keras.Input((4, 4, 8))
    block = keras.Model(
        inputs,
        residual_block(inputs, cardinality=4, expansion=2, kernel_size=3, variance_scaling=16),
    )
    x = tf.random.stateless_normal([2, 4, 4, 8], seed=[5, 6])
    np.testing.assert_allclose(block(x).numpy(), x.numpy())
    convs = [layer for layer in block.layers if isinstance(layer, keras.layers.Conv2D)]
    grouped = next(layer for layer in block.layers if isinstance(layer, GroupedConv2D))
    expand, reduce = convs
    gain = LRELU_GAIN * 16 ** (-0.25)
    # MSR: std = gain / sqrt(fan_in); 1x1 expand has fan-in 8, the grouped 3x3 9 * 16 / 4.
    assert np.std(expand.kernel.numpy()) == pytest.approx(gain / math.sqrt(8), rel=0.2)
    assert np.std(grouped.kernel.numpy()) == pytest.approx(gain / math.sqrt(36), rel=0.2)
    assert not reduce.kernel.numpy().any()
    assert not any(layer.use_bias for layer in convs)
    assert sum(isinstance(layer, BiasedLeakyReLU) for layer in block.layers) == 2


def test_generator_and_discriminator_shapes_at_28_and_32() -> None:
    for shape in [(28, 28, 1), (32, 32, 3)]:
        generator = build_r3gan_generator(image_shape=shape, latent_dim=8, **SMALL)
        images = generator(tf.random.normal([2, 8]))
        assert images.shape == (2, *shape)
        assert generator.unbounded_output
        discriminator = build_r3gan_discriminator(image_shape=shape, **SMALL)
        assert discriminator(images).shape == (2, 1)
    # No normalization layers anywhere (the paper's point).
    kinds = {type(layer).__name__ for layer in generator.layers + discriminator.layers}
    assert not any("Normalization" in kind for kind in kinds), kinds


def test_conditional_discriminator_projects_onto_the_label_embedding() -> None:
    discriminator = build_r3gan_discriminator(
        image_shape=(32, 32, 3), num_classes=5, conditioning="projection", **SMALL
    )
    assert discriminator.num_classes == 5
    images = tf.random.normal([3, 32, 32, 3])
    labels = tf.constant([0, 4, 2])
    logits = discriminator([images, labels]).numpy()
    features = keras.Model(discriminator.inputs[0], discriminator.get_layer("basis_linear").output)(
        images
    ).numpy()
    table = discriminator.get_layer("label_embedding").embeddings.numpy()
    np.testing.assert_allclose(logits[:, 0], (features * table[labels.numpy()]).sum(1), rtol=1e-5)
    generator = build_r3gan_generator(
        image_shape=(32, 32, 3), num_classes=5, conditioning="embedding", latent_dim=8, **SMALL
    )
    assert generator([tf.random.normal([3, 8]), labels]).shape == (3, 32, 32, 3)
