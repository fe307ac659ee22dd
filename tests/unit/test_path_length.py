"""Path-length regularization against hand-computed values: lengths, penalty, running mean,
style mixing, the gradient through the input gradient, and its build-time checks."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.regularizers.base import RegularizerContext
from gantrain.regularizers.path_length import PathLength, mix_styles

LATENT, W_DIM, NUM_WS, SHAPE = 3, 2, 3, (2, 2, 1)
BATCH = 6


class FakeGenerator:
    """mapping: ws[b, i] = z[b] @ A (+ E[label]) for every style i; synthesis: images =
    act(flatten(ws) @ W) reshaped to SHAPE. Input gradients are closed-form."""

    def __init__(self, *, nonlinear: bool, num_classes: int = 0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.A = tf.Variable(rng.normal(size=(LATENT, W_DIM)), dtype=tf.float32)
        self.W = tf.Variable(
            rng.normal(size=(NUM_WS * W_DIM, int(np.prod(SHAPE)))) * 0.5, dtype=tf.float32
        )
        self.E = tf.Variable(rng.normal(size=(max(num_classes, 1), W_DIM)), dtype=tf.float32)
        self.nonlinear, self.num_classes = nonlinear, num_classes
        self.latent_dim, self.name = LATENT, "fake_generator"
        self.mapping_calls: list[tuple[tf.Tensor, tf.Tensor | None, bool]] = []

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return [self.A, self.W]

    def mapping(self, z, labels, training=False):
        self.mapping_calls.append((z, labels, training))
        w = z @ self.A
        if labels is not None:
            w += tf.gather(self.E, labels)
        return tf.repeat(w[:, None, :], NUM_WS, axis=1)

    def synthesis(self, ws, training=False):
        h = tf.reshape(ws, [-1, NUM_WS * W_DIM]) @ self.W
        return tf.reshape(tf.tanh(h) if self.nonlinear else h, [-1, *SHAPE])


class Draws:
    """The context's `draw`: fixed values per (kind, shape, stream), recorded for numpy."""

    def __init__(self, offset: int = 0) -> None:
        self.values: dict[int, np.ndarray] = {}
        self.offset = offset

    def __call__(self, kind: str, shape: tuple[int, ...], stream: int) -> tf.Tensor:
        rng = np.random.default_rng(stream % 1000 + self.offset)
        full = (BATCH, *shape)
        value = rng.random(full) if kind == "uniform" else rng.normal(size=full)
        self.values[stream] = value.astype(np.float32)
        return tf.constant(self.values[stream])


def _context(generator, draws: Draws, labels=None) -> RegularizerContext:
    return RegularizerContext(
        state=None,
        model=generator,
        real=tf.zeros((BATCH, *SHAPE)),
        labels=None,
        fake_labels=labels,
        step=tf.constant(0, tf.int64),
        global_batch_size=BATCH,
        real_logits=None,
        fake_logits=None,
        make_fake=lambda: None,
        critic_fn=lambda images, labels: None,
        draw=draws,
    )


def _built(generator, **kwargs) -> PathLength:
    regularizer = PathLength(**kwargs)
    regularizer.key = "path_length"
    regularizer.build(SimpleNamespace(generator=generator))
    return regularizer


def _numpy_mix(ws: np.ndarray, others: np.ndarray, u: np.ndarray, prob: float) -> np.ndarray:
    # The reference: cutoff ~ randint[1, num_ws) with probability prob, else num_ws; styles
    # from the cutoff on come from the second latents.
    out = ws.copy()
    for b in range(len(ws)):
        cutoff = 1 + int(np.floor(u[b, 1] * (NUM_WS - 1))) if u[b, 0] < prob else NUM_WS
        out[b, cutoff:] = others[b, cutoff:]
    return out


def _numpy_lengths(gen: FakeGenerator, ws: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """sqrt(mean_i sum_j (d sum(img * noise) / d ws)^2) from the closed form."""
    W = gen.W.numpy().astype(np.float64)
    flat_noise = noise.reshape(len(noise), -1).astype(np.float64)
    if gen.nonlinear:
        img = np.tanh(ws.reshape(len(ws), -1) @ W)
        flat_noise = flat_noise * (1.0 - img**2)
    grads = (flat_noise @ W.T).reshape(len(ws), NUM_WS, W_DIM)
    return np.sqrt(np.mean(np.sum(grads**2, axis=2), axis=1))


def _expected(gen: FakeGenerator, reg: PathLength, draws: Draws, labels=None):
    shrink, prob = reg.batch_shrink, reg.style_mixing_prob
    A = gen.A.numpy().astype(np.float64)

    def mapped(z: np.ndarray) -> np.ndarray:
        w = z @ A
        if labels is not None:
            w = w + gen.E.numpy()[labels[::shrink]]
        return np.repeat(w[:, None, :], NUM_WS, axis=1)

    ws = mapped(draws.values[reg.stream("z")][::shrink])
    if prob:
        others = mapped(draws.values[reg.stream("mixing_z")][::shrink])
        ws = _numpy_mix(ws, others, draws.values[reg.stream("mixing")][::shrink], prob)
    noise = draws.values[reg.stream("noise")][::shrink] / np.sqrt(SHAPE[0] * SHAPE[1])
    return _numpy_lengths(gen, ws, noise)


@pytest.mark.parametrize("nonlinear, prob", [(False, 0.0), (True, 0.0), (True, 0.9)])
def test_lengths_penalty_and_mean_match_numpy(nonlinear: bool, prob: float) -> None:
    gen = FakeGenerator(nonlinear=nonlinear)
    reg = _built(gen, decay=0.3, style_mixing_prob=prob)
    pl_mean = 0.0
    for call in range(3):
        draws = Draws(offset=call)
        terms = reg(_context(gen, draws))
        lengths = _expected(gen, reg, draws)
        assert lengths.shape == (BATCH // 2,)  # batch_shrink 2
        pl_mean = pl_mean + 0.3 * (lengths.mean() - pl_mean)  # lerp(pl_mean, mean, decay)
        penalty = np.mean((lengths - pl_mean) ** 2)
        assert float(terms.loss) == pytest.approx(penalty, rel=1e-4, abs=1e-7)
        assert float(reg.pl_mean.numpy()) == pytest.approx(pl_mean, rel=1e-5)
        assert float(terms.parts["pl_mean"]) == pytest.approx(pl_mean, rel=1e-5)
    assert pl_mean > 0 and penalty > 0  # not a comparison of zeros
    assert [training for _, _, training in gen.mapping_calls] == [True] * 3


def test_mixing_changes_the_lengths_of_a_nonlinear_synthesis() -> None:
    gen = FakeGenerator(nonlinear=True)
    mixed = _built(gen, style_mixing_prob=1.0)
    plain = _built(gen, style_mixing_prob=0.0)
    draws = Draws()
    mixed(_context(gen, draws))
    plain(_context(gen, draws))
    assert float(mixed.pl_mean.numpy()) != pytest.approx(float(plain.pl_mean.numpy()), rel=1e-4)
    # Both mappings run as one call on both sets of latents.
    z, _, _ = gen.mapping_calls[0]
    assert z.shape == (2 * BATCH // 2, LATENT) and gen.mapping_calls[1][0].shape == (3, LATENT)


def test_mix_styles_takes_the_second_styles_from_the_cutoff_on() -> None:
    ws = tf.zeros((4, 5, 1))
    others = tf.ones((4, 5, 1))
    # u0 < p mixes; u1 picks the cutoff in [1, 5): 1 + floor(u1 * 4).
    u = tf.constant([[0.1, 0.0], [0.1, 0.99999], [0.1, 0.5], [0.95, 0.5]])
    mixed = mix_styles(ws, others, u, prob=0.9).numpy()[:, :, 0]
    np.testing.assert_array_equal(
        mixed, [[0, 1, 1, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]
    )
    # One style: nothing to mix.
    single = mix_styles(tf.zeros((2, 1, 1)), tf.ones((2, 1, 1)), tf.constant([[0.0, 0.9]] * 2), 1.0)
    np.testing.assert_array_equal(single.numpy(), 0.0)


def test_labels_reach_the_mapping_with_the_pl_rows() -> None:
    gen = FakeGenerator(nonlinear=True, num_classes=4)
    reg = _built(gen, style_mixing_prob=0.0, batch_shrink=3)
    labels = np.array([0, 1, 2, 3, 2, 1], np.int32)
    draws = Draws()
    reg(_context(gen, draws, labels=tf.constant(labels)))
    z, seen, _ = gen.mapping_calls[0]
    np.testing.assert_array_equal(seen.numpy(), labels[::3])
    assert z.shape == (2, LATENT)
    lengths = _expected(gen, reg, draws, labels=labels)
    assert float(reg.pl_mean.numpy()) == pytest.approx(0.01 * lengths.mean(), rel=1e-5)


def test_gradient_goes_through_the_input_gradient_and_the_mean() -> None:
    """d penalty / d W (double backpropagation) equals a numeric gradient of the closed form,
    with the updated mean's share of the gradient (the reference does not detach it)."""
    gen = FakeGenerator(nonlinear=False)
    reg = _built(gen, decay=0.5, style_mixing_prob=0.0)
    reg.pl_mean.assign(0.7)
    draws = Draws()
    with tf.GradientTape() as tape:
        loss = reg(_context(gen, draws)).loss
    grad = tape.gradient(loss, gen.W).numpy()
    noise = draws.values[reg.stream("noise")][::2] / np.sqrt(SHAPE[0] * SHAPE[1])
    W0 = gen.W.numpy().astype(np.float64)

    def f(W: np.ndarray) -> float:
        grads = (noise.reshape(3, -1) @ W.T).reshape(3, NUM_WS, W_DIM)
        lengths = np.sqrt(np.mean(np.sum(grads**2, axis=2), axis=1))
        mean = 0.7 + 0.5 * (lengths.mean() - 0.7)
        return float(np.mean((lengths - mean) ** 2))

    numeric = np.zeros_like(W0)
    for index in np.ndindex(W0.shape):
        step = np.zeros_like(W0)
        step[index] = 1e-6
        numeric[index] = (f(W0 + step) - f(W0 - step)) / 2e-6
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=1e-5)
    assert float(loss) == pytest.approx(f(W0), rel=1e-4)


def test_pl_mean_is_checkpointed_state(tmp_path) -> None:
    reg = _built(FakeGenerator(nonlinear=False))
    reg.pl_mean.assign(1.25)
    path = tf.train.Checkpoint(reg=reg).write(str(tmp_path / "ckpt"))
    fresh = _built(FakeGenerator(nonlinear=False))
    tf.train.Checkpoint(reg=fresh).read(path).assert_consumed()
    assert float(fresh.pl_mean.numpy()) == 1.25 and fresh.pl_mean.name.startswith("path_length")


def test_a_generator_without_mapping_network_is_a_config_error() -> None:
    z = keras.Input((4,))
    dcgan_like = keras.Model(z, keras.layers.Reshape(SHAPE)(keras.layers.Dense(4)(z)), name="g")
    dcgan_like.latent_dim = 4
    with pytest.raises(
        ConfigError,
        match=r"regularizer.path_length needs a generator with a "
        r"mapping network \(generator=stylegan2\)",
    ):
        _built(dcgan_like)


class SelfMixingGenerator(FakeGenerator):
    """A mapping that mixes itself when asked (as generator=stylegan2's)."""

    def mapping(self, z, labels=None, training=False, style_mixing=False):
        self.mixing_flags.append(style_mixing)
        return super().mapping(z, labels, training)


def test_a_self_mixing_mapping_mixes_by_default() -> None:
    gen = SelfMixingGenerator(nonlinear=True)
    gen.mixing_flags = []
    own = _built(gen)
    assert own.own_mixing
    own(_context(gen, Draws()))
    assert gen.mixing_flags == [True] and gen.mapping_calls[0][0].shape == (BATCH // 2, LATENT)
    # A probability set here overrides it: the regularizer mixes, the mapping does not.
    here = _built(gen, style_mixing_prob=0.5)
    assert not here.own_mixing
    here(_context(gen, Draws()))
    assert gen.mixing_flags == [True, False] and gen.mapping_calls[1][0].shape == (BATCH, LATENT)


def test_the_generators_mixing_probability_is_the_default() -> None:
    gen = FakeGenerator(nonlinear=False)
    assert _built(gen).style_mixing_prob == 0.0  # it declares none
    gen.style_mixing_prob = 0.9
    assert _built(gen).style_mixing_prob == 0.9
    assert _built(gen, style_mixing_prob=0.0).style_mixing_prob == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"applies_to": "discriminator"}, "path length regularizes the generator"),
        ({"batch_shrink": 0}, "batch_shrink=0"),
        ({"decay": 1.5}, "decay=1.5"),
        ({"style_mixing_prob": 2.0}, "style_mixing_prob=2.0"),
        ({"interval": 0}, "interval=0"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PathLength(**kwargs)


def test_reference_defaults() -> None:
    reg = PathLength()
    assert (reg.weight, reg.interval, reg.decay, reg.batch_shrink, reg.applies_to) == (
        2.0,
        4,
        0.01,
        2,
        "generator",
    )
