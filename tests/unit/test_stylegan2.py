"""StyleGAN2 (stylegan2-ada-pytorch networks.py): resampling convolutions against the
reference's generic definition in numpy, the modulated convolution against an explicit
per-sample convolution, demodulation, equalized learning rate, minibatch std, shapes,
conditioning, style mixing, truncation, noise modes, mixed precision, and a MirroredStrategy
step over 2 replicas equal to the single-device one."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.distribute import MirroredStrategy
from gantrain.errors import ConfigError
from gantrain.models.discriminators.stylegan2 import MinibatchStd, build_stylegan2_discriminator
from gantrain.models.generators.stylegan2 import SynthesisLayer, build_stylegan2_generator
from gantrain.models.stylegan2_layers import (
    EqualizedConv2D,
    FullyConnected,
    MappingNetwork,
    conv2d_resample,
    modulated_conv2d,
    resample_kernel,
)
from gantrain.training.build import build_state, build_train_step
from gantrain.training.precision import precision_policy
from tests.conftest import TINY_STYLEGAN2, compose_config

TINY_G = dict(latent_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)
TINY_D = dict(channel_base=64, channel_max=8, mapping_layers=2)
KERNEL = resample_kernel([1, 3, 3, 1])


def _np_upfirdn(x, kernel, up, down, pad):
    """The reference's upfirdn2d written out: zero insertion, pad, true convolution, stride."""
    n, h, w, c = x.shape
    up_x = np.zeros((n, h * up, w * up, c))
    up_x[:, ::up, ::up, :] = x
    y0, y1, x0, x1 = pad
    padded = np.pad(up_x, [(0, 0), (y0, y1), (x0, x1), (0, 0)])
    k = kernel.shape[0]
    out_h, out_w = padded.shape[1] - k + 1, padded.shape[2] - k + 1
    flipped = kernel[::-1, ::-1]
    out = np.zeros((n, out_h, out_w, c))
    for a in range(k):
        for b in range(k):
            out += padded[:, a : a + out_h, b : b + out_w, :] * flipped[a, b]
    return out[:, ::down, ::down, :]


def _np_correlate(x, w):
    """Valid correlation of NHWC x with (k, k, in, out) w (torch's conv2d)."""
    k = w.shape[0]
    out_h, out_w = x.shape[1] - k + 1, x.shape[2] - k + 1
    out = np.zeros((x.shape[0], out_h, out_w, w.shape[3]))
    for a in range(k):
        for b in range(k):
            out += x[:, a : a + out_h, b : b + out_w, :] @ w[a, b]
    return out


def _np_conv2d_resample(x, w, up=1, down=1, padding=0, flip_weight=True):
    """The reference conv2d_resample's generic path: [zero insertion + FIR (gain up^2)] with
    all the padding -> convolution -> [FIR + keep every down-th sample]."""
    if not flip_weight:
        w = w[::-1, ::-1]
    size = KERNEL.shape[0]
    p0 = p1 = padding
    if up > 1:
        p0 += (size + up - 1) // 2
        p1 += (size - up) // 2
    if down > 1:
        p0 += (size - down + 1) // 2
        p1 += (size - down) // 2
    if up > 1:
        x = _np_upfirdn(x, KERNEL * up**2, up, 1, (p0, p1, p0, p1))
    else:
        x = np.pad(x, [(0, 0), (p0, p1), (p0, p1), (0, 0)])
    x = _np_correlate(x, w)
    if down > 1:
        x = _np_upfirdn(x, KERNEL, 1, down, (0, 0, 0, 0))
    return x


@pytest.mark.parametrize(
    ("k", "up", "down", "flip"),
    [(3, 1, 1, True), (3, 2, 1, False), (3, 1, 2, True), (1, 2, 1, True), (1, 1, 2, True)],
)
def test_conv2d_resample_matches_the_generic_definition(k, up, down, flip) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3))
    w = rng.normal(size=(k, k, 3, 4))  # asymmetric: a wrong flip would show
    got = conv2d_resample(
        tf.constant(x), tf.constant(w), KERNEL, up=up, down=down, padding=k // 2, flip_weight=flip
    ).numpy()
    expected = _np_conv2d_resample(x, w, up, down, k // 2, flip)
    assert got.shape == (2, 8 * up // down, 8 * up // down, 4)
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize(("up", "demodulate"), [(1, True), (2, True), (1, False)])
def test_modulated_conv_equals_per_sample_convolution(up: int, demodulate: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 6, 4))
    weight = rng.normal(size=(3, 3, 4, 5))
    styles = rng.normal(size=(3, 4)) + 1.0
    noise = rng.normal(size=(3, 6 * up, 6 * up, 1))
    got = modulated_conv2d(
        tf.constant(x, tf.float32),
        tf.constant(weight, tf.float32),
        tf.constant(styles, tf.float32),
        noise=tf.constant(noise, tf.float32),
        up=up,
        padding=1,
        kernel=KERNEL,
        demodulate=demodulate,
        flip_weight=up == 1,
    ).numpy()
    for b in range(3):
        w_b = weight * styles[b][None, None, :, None]  # the fused form's per-sample weights
        if demodulate:
            w_b = w_b / np.sqrt(np.sum(w_b**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        expected = _np_conv2d_resample(x[b : b + 1], w_b, up, 1, 1, up == 1) + noise[b]
        np.testing.assert_allclose(got[b : b + 1], expected, rtol=1e-4, atol=1e-4)


def test_demodulation_gives_unit_output_variance() -> None:
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(4, 16, 16, 64)), tf.float32)
    weight = tf.constant(rng.normal(size=(3, 3, 64, 32)), tf.float32)
    styles = tf.constant(rng.normal(size=(4, 64)) * 3.0 + 1.0, tf.float32)
    y = modulated_conv2d(x, weight, styles, padding=1).numpy()[:, 1:-1, 1:-1]  # away from padding
    assert np.var(y) == pytest.approx(1.0, abs=0.05)
    plain = modulated_conv2d(x, weight, styles, padding=1, demodulate=False).numpy()
    assert np.var(plain[:, 1:-1, 1:-1]) > 10  # without demodulation the styles' scale stays


def test_equalized_lr_stores_unit_weights_and_scales_at_run_time() -> None:
    keras.utils.set_random_seed(3)
    fc = FullyConnected(256, lr_multiplier=0.01, bias_init=2.0)
    fc.build((None, 128))
    stored = fc.weight.numpy()
    assert np.std(stored) == pytest.approx(1.0 / 0.01, rel=0.05)  # N(0, 1 / lr_mul^2)
    assert np.mean(stored) == pytest.approx(0.0, abs=2.0)
    np.testing.assert_array_equal(fc.bias.numpy(), 2.0)
    x = tf.random.stateless_normal([5, 128], seed=[1, 2])
    expected = x.numpy() @ (stored * 0.01 / math.sqrt(128)) + 2.0 * 0.01
    np.testing.assert_allclose(fc(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    # Effective weights at init: std 1 / sqrt(fan_in) whatever the multiplier.
    assert np.std(stored * fc.weight_gain) == pytest.approx(1.0 / math.sqrt(128), rel=0.05)

    conv = EqualizedConv2D(8, 3, activation="lrelu", conv_clamp=0.5)
    conv.build((None, None, None, 6))
    assert np.std(conv.weight.numpy()) == pytest.approx(1.0, rel=0.15)
    image = tf.random.stateless_normal([2, 5, 5, 6], seed=[3, 4])
    effective = conv.weight.numpy() / math.sqrt(6 * 9)
    reference = _np_conv2d_resample(image.numpy(), effective, padding=1)
    activated = np.where(reference > 0, reference, 0.2 * reference) * math.sqrt(2)
    expected = np.clip(activated, -0.5, 0.5)
    np.testing.assert_allclose(conv(image).numpy(), expected, atol=1e-5)


def test_mapping_lr_multiplier_scales_the_effective_learning_rate() -> None:
    """One Adam step moves each stored weight by about lr, so the effective weight moves by
    lr * lr_multiplier / sqrt(fan_in): the multiplier is a per-layer learning rate."""
    moves = {}
    for multiplier in (1.0, 0.01):
        keras.utils.set_random_seed(4)
        fc = FullyConnected(16, lr_multiplier=multiplier)
        fc.build((None, 64))
        before = fc.weight.numpy() * fc.weight_gain
        optimizer = keras.optimizers.Adam(1e-3)
        x = tf.random.stateless_normal([8, 64], seed=[5, 6])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fc(x) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, [fc.weight]), [fc.weight], strict=True))
        moves[multiplier] = np.median(np.abs(fc.weight.numpy() * fc.weight_gain - before))
    assert moves[1.0] == pytest.approx(1e-3 / 8, rel=0.05)
    assert moves[0.01] / moves[1.0] == pytest.approx(0.01, rel=0.05)
    mapping = MappingNetwork(z_dim=8, w_dim=8, num_ws=4, num_layers=2)
    mapping.build()
    assert all(fc.lr_multiplier == 0.01 and fc.activation == "lrelu" for fc in mapping.fcs)


def _np_mbstd(x, group, channels):
    n, h, w, c = x.shape
    out = np.zeros((n, h, w, channels))
    per = n // group
    for j in range(per):
        members = x[j::per]  # the reference's reshape(G, -1, ...): examples j, j + n/G, ...
        std = np.sqrt(members.var(axis=0) + 1e-8)  # (h, w, c)
        for f in range(channels):
            out[j::per, :, :, f] = std[..., f * (c // channels) : (f + 1) * (c // channels)].mean()
    return np.concatenate([x, out], axis=-1)


@pytest.mark.parametrize(("batch", "group"), [(8, 4), (6, 3), (2, 2)])
def test_minibatch_std_matches_numpy(batch: int, group: int) -> None:
    x = np.random.default_rng(5).normal(size=(batch, 4, 4, 6)).astype(np.float32)
    got = MinibatchStd(group_size=4, num_channels=2)(tf.constant(x)).numpy()
    # Batch 6 is not a multiple of 4: the group becomes 3, its largest divisor up to 4.
    np.testing.assert_allclose(got, _np_mbstd(x.astype(np.float64), group, 2), rtol=1e-5)
    assert MinibatchStd.couples_batch


@pytest.mark.parametrize(
    ("side", "channels", "extra"),
    [(32, 3, {}), (32, 1, {"architecture": "orig"}), (64, 3, {"architecture": "resnet"}),
     (128, 3, {"channel_base": 128, "channel_max": 4})],
)  # fmt: skip
def test_generator_and_discriminator_shapes(side: int, channels: int, extra: dict) -> None:
    shape = (side, side, channels)
    G = build_stylegan2_generator(image_shape=shape, **{**TINY_G, **extra})
    assert G.num_ws == 2 * int(math.log2(side)) - 2 and G.w_dim == 8 and G.unbounded_output
    z = tf.random.stateless_normal([2, 8], seed=[6, 7])
    images = G(z, training=True)
    assert images.shape == (2, *shape) and images.dtype == tf.float32
    ws = G.mapping(z, None, training=True)
    assert ws.shape == (2, G.num_ws, 8)
    assert G.synthesis(ws, training=False).shape == (2, *shape)
    D = build_stylegan2_discriminator(
        image_shape=shape, **{**TINY_D, **{k: v for k, v in extra.items() if k != "mapping_layers"}}
    )
    logits = D(images, training=True)
    assert logits.shape == (2, 1) and logits.dtype == tf.float32


def test_non_power_of_two_images_are_a_clear_config_error() -> None:
    for build in (build_stylegan2_generator, build_stylegan2_discriminator):
        with pytest.raises(ConfigError, match="cannot produce 28x28 images.*power of two"):
            build(image_shape=(28, 28, 1))
    with pytest.raises(ConfigError, match="truncation_cutoff=9"):
        build_stylegan2_generator(image_shape=(32, 32, 3), truncation_cutoff=9, **TINY_G)
    with pytest.raises(ConfigError, match="dataset has no labels"):
        build_stylegan2_generator(image_shape=(32, 32, 3), conditioning="embedding", **TINY_G)


def test_conditional_generator_and_projection_discriminator() -> None:
    keras.utils.set_random_seed(8)
    G = build_stylegan2_generator(
        image_shape=(32, 32, 3), num_classes=10, conditioning="embedding", **TINY_G
    )
    D = build_stylegan2_discriminator(
        image_shape=(32, 32, 3), num_classes=10, conditioning="projection", **TINY_D
    )
    assert G.num_classes == 10 and D.num_classes == 10 and D.auxiliary_classes == 0
    z = tf.random.stateless_normal([2, 8], seed=[8, 9])
    a = G([z, tf.constant([1, 1])], training=False)
    b = G([z, tf.constant([7, 7])], training=False)
    assert not np.allclose(a.numpy(), b.numpy())
    ws = G.mapping(z, tf.constant([1, 1]), training=False)
    np.testing.assert_allclose(G.synthesis(ws, training=False).numpy(), a.numpy(), atol=1e-6)
    da = D([a, tf.constant([1, 1])]).numpy()
    db = D([a, tf.constant([2, 2])]).numpy()
    assert da.shape == (2, 1) and not np.allclose(da, db)
    # The projection: out(x) . cmap / sqrt(cmap_dim), cmap = label mapping (cmap_dim 8).
    assert D.get_layer("mapping")(tf.constant([3])).shape == (1, 8)


def _copy(source: keras.Model, target: keras.Model) -> None:
    for a, b in zip(target.weights, source.weights, strict=True):
        a.assign(b)


def test_style_mixing_one_cutoff_per_batch_from_a_second_latent() -> None:
    keras.utils.set_random_seed(9)
    mapping = MappingNetwork(z_dim=8, w_dim=8, num_ws=6, num_layers=2, mixing_prob=0.5)
    mapping.build()
    z = tf.random.stateless_normal([5, 8], seed=[9, 10])
    own = mapping.map(z, None).numpy()
    mixed_batches = 0
    for _ in range(16):
        ws = mapping(z, training=True, style_mixing=True).numpy()
        head = np.all(np.isclose(ws, own[:, None]), axis=2)  # (B, num_ws): own w kept
        cutoffs = head.sum(axis=1)
        assert np.all(head[:, 0]) and len(set(cutoffs)) == 1  # one cutoff, never 0
        cutoff = cutoffs[0]
        if cutoff < 6:
            mixed_batches += 1
            tail = ws[:, cutoff:]
            np.testing.assert_allclose(tail, np.repeat(tail[:, :1], 6 - cutoff, axis=1))
            assert not np.allclose(tail[:, 0], own)
        assert head[:, :cutoff].all()
    assert 0 < mixed_batches < 16  # a coin per batch, p = 0.5
    # No mixing without the flag (what path-length regularizers call) or at inference.
    np.testing.assert_allclose(mapping(z, training=True).numpy(), np.repeat(own[:, None], 6, 1))

    G = build_stylegan2_generator(image_shape=(32, 32, 3), mixing_prob=1.0, **TINY_G)
    plain = build_stylegan2_generator(image_shape=(32, 32, 3), mixing_prob=0.0, **TINY_G)
    _copy(G, plain)
    z = tf.random.stateless_normal([3, 8], seed=[11, 12])
    mixed_images = G(z, training=True)
    assert mixed_images.shape == (3, 32, 32, 3)
    assert not np.allclose(mixed_images.numpy(), plain(z, training=True).numpy())


def test_truncation_psi_zero_gives_the_average_image_and_one_changes_nothing() -> None:
    keras.utils.set_random_seed(10)
    G = build_stylegan2_generator(image_shape=(32, 32, 3), **TINY_G)
    z = tf.random.stateless_normal([4, 8], seed=[12, 13])
    G(z, training=True)  # moves w_avg off zero
    before = G.mapping.w_avg.numpy().copy()
    G(z, training=False)
    np.testing.assert_array_equal(G.mapping.w_avg.numpy(), before)  # inference keeps it
    assert np.abs(before).max() > 0
    untruncated = G(z, training=False).numpy()
    G.set_truncation(1.0, 3)
    np.testing.assert_array_equal(G(z, training=False).numpy(), untruncated)
    G.set_truncation(0.0)
    images = G(z, training=False).numpy()
    average = G.synthesis(tf.tile(before[None, None], [1, G.num_ws, 1]), training=False).numpy()
    for image in images:
        np.testing.assert_allclose(image, average[0], atol=1e-5)
    G.set_truncation(0.5, 3)
    ws = G.mapping(z, None, training=False).numpy()
    raw = G.mapping.map(z, None).numpy()[:, None]
    np.testing.assert_allclose(
        ws[:, :3], np.broadcast_to(before + 0.5 * (raw - before), ws[:, :3].shape), atol=1e-6
    )
    np.testing.assert_allclose(ws[:, 3:], np.broadcast_to(raw, ws[:, 3:].shape), atol=1e-6)
    # Training calls never truncate.
    trained = G.mapping(z, None, training=True).numpy()
    np.testing.assert_allclose(trained[:, :3], np.repeat(raw, 3, 1))
    with pytest.raises(ValueError, match="cutoff"):
        G.set_truncation(0.5, G.num_ws + 1)


def test_noise_is_constant_at_inference_and_random_in_training() -> None:
    keras.utils.set_random_seed(11)
    G = build_stylegan2_generator(image_shape=(32, 32, 3), mixing_prob=0.0, **TINY_G)
    z = tf.random.stateless_normal([2, 8], seed=[14, 15])
    quiet = G(z, training=False).numpy()
    np.testing.assert_array_equal(G(z, training=True).numpy(), quiet)  # strengths start at 0
    layers = [v for v in G.weights if v.path.endswith("noise_strength")]
    assert len(layers) == 2 * 4 - 1
    for strength in layers:
        strength.assign(0.5)
    first, second = G(z, training=False).numpy(), G(z, training=False).numpy()
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, quiet)
    a, b = G(z, training=True).numpy(), G(z, training=True).numpy()
    assert not np.allclose(a, b) and not np.allclose(a, first)
    layer = SynthesisLayer(4, 4, w_dim=8, resolution=8)
    layer.build()
    assert not layer.noise_const.trainable and layer.noise_strength.trainable


def test_mixed_precision_only_the_highest_resolutions_in_float16() -> None:
    with precision_policy("mixed_float16"):
        G = build_stylegan2_generator(image_shape=(32, 32, 3), num_fp16_res=2, **TINY_G)
        D = build_stylegan2_discriminator(image_shape=(32, 32, 3), num_fp16_res=2, **TINY_D)
    dtypes = {block.resolution: block.compute_dtype for block in G.synthesis.blocks}
    assert dtypes == {4: "float32", 8: "float32", 16: "float16", 32: "float16"}
    assert G.synthesis.blocks[-1].conv1.conv_clamp == 256.0  # the reference's default with fp16
    assert G.mapping.compute_dtype == "float32"
    assert D.get_layer("b32").compute_dtype == "float16"
    assert D.get_layer("b8").compute_dtype == "float32"
    z = tf.random.stateless_normal([4, 8], seed=[16, 17])
    images = G(z, training=True)
    logits = D(images, training=True)
    assert images.dtype == tf.float32 and logits.dtype == tf.float32
    assert np.isfinite(images.numpy()).all() and np.isfinite(logits.numpy()).all()


def test_two_replicas_equal_one_device_with_the_global_batch() -> None:
    strategy = MirroredStrategy(num_cpu_devices=2).create()  # the session's shared strategy
    kwargs = dict(image_shape=(16, 16, 3), mixing_prob=1.0, **TINY_G)
    keras.utils.set_random_seed(12)
    single = build_stylegan2_generator(**kwargs)
    with strategy.scope():
        mirrored = build_stylegan2_generator(**kwargs)
    for strength in [v for v in single.weights if v.path.endswith("noise_strength")]:
        strength.assign(0.7)
    _copy(single, mirrored)
    for layer in ("mapping", "synthesis"):
        state = single.get_layer(layer).seed_generator.state
        mirrored.get_layer(layer).seed_generator.state.assign(state)
    z = tf.random.stateless_normal([8, 8], seed=[18, 19])
    expected = single(z, training=True).numpy()

    def rows(context: tf.distribute.experimental.ValueContext) -> tf.Tensor:
        start = 4 * context.replica_id_in_sync_group
        return z[start : start + 4]

    values = strategy.experimental_distribute_values_from_function(rows)

    @tf.function
    def step(inputs):
        return strategy.run(lambda batch: mirrored(batch, training=True), args=(inputs,))

    got = np.concatenate([t.numpy() for t in strategy.experimental_local_results(step(values))])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(
        mirrored.mapping.w_avg.numpy(), single.mapping.w_avg.numpy(), atol=1e-7
    )
    assert np.abs(single.mapping.w_avg.numpy()).max() > 0


def test_one_train_step_updates_everything_and_checkpoints_the_rng(tiny_cifar10) -> None:
    tiny = [*TINY_STYLEGAN2, "trainer.batch_size=4"]
    run = load_run_config(
        compose_config(
            overrides=[
                "dataset=cifar10",
                f"dataset.path={tiny_cifar10[0]}",
                *tiny,
            ]
        )
    )
    data = run.dataset.load()
    state = build_state(run, data.spec)
    G = state.generator
    rng = {id(v) for v in state.rng_states}
    for layer in ("mapping", "synthesis"):  # mixing and noise draws resume exactly
        assert id(G.get_layer(layer).seed_generator.state) in rng
    step = build_train_step(run, state, tf.distribute.get_strategy(), 4)
    before = [w.numpy().copy() for w in G.weights]
    metrics = step(iter(train_dataset(data, batch_size=4, seed=0)), 1)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    changed = {
        w.path for w, b in zip(G.weights, before, strict=True) if not np.array_equal(w.numpy(), b)
    }
    assert "mapping/w_avg" in changed and "mapping/fc0/weight" in changed
    assert "synthesis/b32/conv1/noise_strength" in changed  # the noise path has gradients
    assert "mapping/truncation_psi" not in changed
