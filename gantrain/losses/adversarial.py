"""Adversarial losses as pure functions on logits.

A loss config builds an `AdversarialLoss`: two functions, one for the discriminator phase and
one for the generator phase, each returning `LossTerms` of *per-example* values of shape (B,).
The train step reduces them over the global batch (`tf.nn.compute_average_loss`), which keeps
the same semantics under any `tf.distribute` strategy. Nothing here logs or reads a config.

Logged parts: `d_real` / `d_fake` are D(x) and D(G(z)) as probabilities for the sigmoid losses
(non_saturating, minimax, relativistic_average) and raw critic values for the others.
Every loss builder takes the same optional keys (the ACGAN class weights, see
`configurable`), listed in every loss YAML. Penalties and regularizers (gradient penalty, R1,
...) are not part of a loss: they are the `regularizer` config group (gantrain/regularizers/),
so any of them combines with any loss: `loss=hinge regularizer=[r1]`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import tensorflow as tf

from gantrain.errors import ConfigError


@dataclass(frozen=True)
class LossTerms:
    """`loss`: per-example loss (B,); `parts`: per-example values worth logging, by name."""

    loss: tf.Tensor
    parts: Mapping[str, tf.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class AdversarialLoss:
    """`discriminator(real_logits, fake_logits)` and `generator(fake_logits, real_logits)`.

    Logits have shape (B, 1) or (B,). `generator_needs_real` tells the step whether the G phase
    must run D on real images (relativistic losses); otherwise `real_logits` is None there.
    The class weights scale the ACGAN cross-entropy of a discriminator with an auxiliary
    classifier (in D's and G's loss).
    """

    name: str
    discriminator: Callable[[tf.Tensor, tf.Tensor], LossTerms]
    generator: Callable[[tf.Tensor, tf.Tensor | None], LossTerms]
    generator_needs_real: bool = False
    class_weight_discriminator: float = 1.0
    class_weight_generator: float = 1.0


def _flat(logits: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def configurable(base: Callable[[], AdversarialLoss]) -> Callable[..., AdversarialLoss]:
    """A loss builder that also takes the keys every loss config lists (all optional).

    class_weight_discriminator / class_weight_generator: factors (>= 0) of the ACGAN
    cross-entropy in D's and G's loss, used only with a discriminator that has an auxiliary
    classifier (discriminator=acgan).
    """

    def build(
        *, class_weight_discriminator: float = 1.0, class_weight_generator: float = 1.0
    ) -> AdversarialLoss:
        for key, value in (
            ("class_weight_discriminator", class_weight_discriminator),
            ("class_weight_generator", class_weight_generator),
        ):
            if not value >= 0:  # NaN too
                raise ConfigError(f"loss.{key}={value}: must be >= 0 (0 turns it off).")
        return dataclasses.replace(
            base(),
            class_weight_discriminator=float(class_weight_discriminator),
            class_weight_generator=float(class_weight_generator),
        )

    # Not functools.wraps: config validation reads this signature, not the base's.
    build.__name__ = build.__qualname__ = base.__name__
    build.__module__ = base.__module__
    build.__doc__ = (base.__doc__ or "") + "\n\nOptional keys: see `configurable`."
    return build


def _probability_parts(real: tf.Tensor, fake: tf.Tensor) -> dict[str, tf.Tensor]:
    return {"d_real": tf.sigmoid(real), "d_fake": tf.sigmoid(fake)}


def _sigmoid_discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
    """BCE(1, D(x)) + BCE(0, D(G(z))) = softplus(-real) + softplus(fake)."""
    real, fake = _flat(real_logits), _flat(fake_logits)
    loss_real = tf.nn.softplus(-real)
    loss_fake = tf.nn.softplus(fake)
    return LossTerms(
        loss=loss_real + loss_fake,
        parts={
            **_probability_parts(real, fake),
            "d_loss_real": loss_real,
            "d_loss_fake": loss_fake,
        },
    )


@configurable
def non_saturating() -> AdversarialLoss:
    """The origin's loss (Goodfellow et al. 2014, the -log D(G(z)) generator form).

    D: BCE(1, D(x)) + BCE(0, D(G(z))) = softplus(-real) + softplus(fake).
    G: BCE(1, D(G(z))) = softplus(-fake).
    Logged parts: D(x) and D(G(z)) as probabilities, and D's two loss halves.
    """

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        fake = _flat(fake_logits)
        return LossTerms(loss=tf.nn.softplus(-fake), parts={"g_d_fake": tf.sigmoid(fake)})

    return AdversarialLoss("non_saturating", _sigmoid_discriminator, generator)


@configurable
def minimax() -> AdversarialLoss:
    """The minimax game of Goodfellow et al. (2014) as written: G minimizes log(1 - D(G(z))).

    D: as non_saturating. G: log(1 - sigmoid(fake)) = -softplus(fake) (saturates when D wins).
    """

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        fake = _flat(fake_logits)
        return LossTerms(loss=-tf.nn.softplus(fake), parts={"g_d_fake": tf.sigmoid(fake)})

    return AdversarialLoss("minimax", _sigmoid_discriminator, generator)


def _critic_parts(real: tf.Tensor, fake: tf.Tensor) -> dict[str, tf.Tensor]:
    return {"d_real": real, "d_fake": fake}


def _critic_generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
    """G's loss against a critic (WGAN, hinge): -fake."""
    fake = _flat(fake_logits)
    return LossTerms(loss=-fake, parts={"g_d_fake": fake})


@configurable
def wgan() -> AdversarialLoss:
    """Wasserstein loss (Arjovsky et al. 2017). D (critic): fake - real; G: -fake.

    The critic must be kept Lipschitz: use loss=wgan_gp (gradient penalty) or a spectrally
    normalized discriminator. Logged: `d_wasserstein` = real - fake, the distance estimate.
    """

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        return LossTerms(
            loss=fake - real, parts={**_critic_parts(real, fake), "d_wasserstein": real - fake}
        )

    return AdversarialLoss("wgan", discriminator, _critic_generator)


@configurable
def hinge() -> AdversarialLoss:
    """Hinge loss (Lim & Ye 2017; SN-GAN, BigGAN). D: relu(1 - real) + relu(1 + fake); G: -fake."""

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        loss_real, loss_fake = tf.nn.relu(1.0 - real), tf.nn.relu(1.0 + fake)
        return LossTerms(
            loss=loss_real + loss_fake,
            parts={**_critic_parts(real, fake), "d_loss_real": loss_real, "d_loss_fake": loss_fake},
        )

    return AdversarialLoss("hinge", discriminator, _critic_generator)


@configurable
def least_squares() -> AdversarialLoss:
    """LSGAN (Mao et al. 2017) with the 0-1-1 coding: D pushes real to 1 and fake to 0.

    D: (real - 1)^2 / 2 + fake^2 / 2. G: (fake - 1)^2 / 2. D's output is used as is (no sigmoid).
    """

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        loss_real, loss_fake = 0.5 * tf.square(real - 1.0), 0.5 * tf.square(fake)
        return LossTerms(
            loss=loss_real + loss_fake,
            parts={**_critic_parts(real, fake), "d_loss_real": loss_real, "d_loss_fake": loss_fake},
        )

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        fake = _flat(fake_logits)
        return LossTerms(loss=0.5 * tf.square(fake - 1.0), parts={"g_d_fake": fake})

    return AdversarialLoss("least_squares", discriminator, generator)


@configurable
def relativistic_average() -> AdversarialLoss:
    """Relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2019).

    With r_i, f_i the logits and mean_r, mean_f their batch means:
    D: softplus(-(r_i - mean_f)) + softplus(f_i - mean_r)   (real "more real" than fake on average)
    G: softplus(-(f_i - mean_r)) + softplus(r_i - mean_f)   (the same game with roles swapped)
    Example i pairs real i with fake i; the means are over this replica's batch.
    """

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        real_rel = real - tf.reduce_mean(fake)
        fake_rel = fake - tf.reduce_mean(real)
        return LossTerms(
            loss=tf.nn.softplus(-real_rel) + tf.nn.softplus(fake_rel),
            parts=_probability_parts(real_rel, fake_rel),
        )

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        if real_logits is None:
            raise ValueError("relativistic_average needs D's logits on real images in the G phase")
        real, fake = _flat(real_logits), _flat(fake_logits)
        real_rel = real - tf.reduce_mean(fake)
        fake_rel = fake - tf.reduce_mean(real)
        return LossTerms(
            loss=tf.nn.softplus(-fake_rel) + tf.nn.softplus(real_rel),
            parts={"g_d_fake": tf.sigmoid(fake_rel)},
        )

    return AdversarialLoss(
        "relativistic_average", discriminator, generator, generator_needs_real=True
    )


@configurable
def relativistic_pairing() -> AdversarialLoss:
    """Relativistic pairing GAN, RpGAN (Jolicoeur-Martineau 2019; the loss of R3GAN, Huang et
    al. 2024, whose `R3GAN/Trainer.py` it follows): real i and fake i form a pair.

    D: softplus(-(r_i - f_i)); G: softplus(-(f_i - r_i)), with r, f D's logits on the paired
    real and fake images (the G phase runs D on the step's real batch too).
    Logged: D's raw outputs (`d_real`, `d_fake`) and `d_relativistic` = mean of r_i - f_i.
    """

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        return LossTerms(
            loss=tf.nn.softplus(-(real - fake)),
            parts={**_critic_parts(real, fake), "d_relativistic": real - fake},
        )

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        if real_logits is None:
            raise ValueError("relativistic_pairing needs D's logits on real images in the G phase")
        real, fake = _flat(real_logits), _flat(fake_logits)
        return LossTerms(loss=tf.nn.softplus(-(fake - real)), parts={"g_d_fake": fake})

    return AdversarialLoss(
        "relativistic_pairing", discriminator, generator, generator_needs_real=True
    )


def classification(class_logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """ACGAN's auxiliary classifier loss: per-example cross-entropy (B,) of labels int (B,)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(tf.reshape(labels, [-1]), tf.int32),
        logits=tf.cast(class_logits, tf.float32),
    )
