"""Building a run's objects from a validated config: models, losses, state, sampler."""

from __future__ import annotations

import keras

from gantrain.config import RunConfig, build
from gantrain.data.base import DatasetSpec
from gantrain.errors import ConfigError
from gantrain.losses.adversarial import AdversarialLoss
from gantrain.training.precision import check_float32_outputs, with_loss_scaling
from gantrain.training.sampling import Sampler
from gantrain.training.state import GANState


def build_generator(run: RunConfig, spec: DatasetSpec) -> keras.Model:
    """The generator for `spec`'s images; checks the architecture contract's attributes."""
    model = build(
        run.generator, "generator", image_shape=spec.image_shape, num_classes=spec.num_classes
    )
    if not hasattr(model, "latent_dim"):
        raise ConfigError(
            f"generator._target_={run.generator._target_} built a model without a latent_dim "
            "attribute; generator builders must set model.latent_dim."
        )
    output_shape = tuple(model.output_shape[1:])
    if output_shape != tuple(spec.image_shape):
        raise ConfigError(
            f"generator={run.generator._target_} produces images of shape {output_shape}, but "
            f"dataset {spec.name} has {tuple(spec.image_shape)}; change the generator's "
            "settings or pick one for this resolution."
        )
    return model


def build_discriminator(run: RunConfig, spec: DatasetSpec) -> keras.Model:
    return build(
        run.discriminator,
        "discriminator",
        image_shape=spec.image_shape,
        num_classes=spec.num_classes,
    )


def build_loss(run: RunConfig) -> AdversarialLoss:
    loss = build(run.loss, "loss")
    if not isinstance(loss, AdversarialLoss):
        raise ConfigError(f"loss._target_={run.loss._target_} did not build an AdversarialLoss.")
    return loss


def build_state(run: RunConfig, spec: DatasetSpec) -> GANState:
    """The full training state. Call inside `strategy.scope()` and the run's precision policy.

    Under mixed_float16 each optimizer gets its own loss scale (`with_loss_scaling`).
    """
    generator = build_generator(run, spec)
    discriminator = build_discriminator(run, spec)
    check_float32_outputs(generator, "generator")
    check_float32_outputs(discriminator, "discriminator")
    precision = run.trainer.precision
    return GANState(
        generator=generator,
        discriminator=discriminator,
        g_optimizer=with_loss_scaling(
            build(run.optimizer_generator, "optimizer.generator"), precision
        ),
        d_optimizer=with_loss_scaling(
            build(run.optimizer_discriminator, "optimizer.discriminator"), precision
        ),
        seed=run.trainer.seed,
        grid_size=run.logging.sample_grid,
    )


def build_sampler(run: RunConfig, spec: DatasetSpec, generator: keras.Model) -> Sampler:
    """A sampler drawing from `generator`'s weights through a private copy of it.

    Build it outside any strategy scope: it runs on the chief, on plain variables.
    """
    return Sampler(
        generator,
        build_generator(run, spec),
        standing_stats=run.trainer.standing_stats,
        seed=run.trainer.seed,
    )
