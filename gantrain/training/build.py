"""Building a run's objects from a validated config: models, losses, state, sampler."""

from __future__ import annotations

import keras
import tensorflow as tf

from gantrain.config import RunConfig, TrainerConfig, build
from gantrain.data.base import DatasetSpec
from gantrain.errors import ConfigError
from gantrain.losses.adversarial import AdversarialLoss
from gantrain.optim import adjust_for_lazy_phases, lazy_ratio
from gantrain.regularizers import Regularizer, build_regularizers, lazy_interval
from gantrain.training.augmentation import build_augmentation
from gantrain.training.ema import EmaRate
from gantrain.training.precision import check_float32_outputs, with_loss_scaling
from gantrain.training.sampling import Sampler
from gantrain.training.state import GANState, new_step_counter
from gantrain.training.step import TrainStep


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


def check_conditioning_pair(
    run: RunConfig, generator: keras.Model, discriminator: keras.Model
) -> None:
    """A class-conditional generator needs a discriminator that uses labels, and vice versa."""
    g_conditional = int(getattr(generator, "num_classes", 0)) > 0
    d_conditional = (
        int(getattr(discriminator, "num_classes", 0)) > 0
        or int(getattr(discriminator, "auxiliary_classes", 0)) > 0
    )
    if g_conditional and not d_conditional:
        raise ConfigError(
            f"generator={run.generator._target_} is class-conditional, but discriminator="
            f"{run.discriminator._target_} ignores labels, so nothing teaches G the classes; "
            "use discriminator=dcgan_projection or acgan (or set discriminator.conditioning)."
        )
    if d_conditional and not g_conditional:
        raise ConfigError(
            f"discriminator={run.discriminator._target_} is class-conditional, but generator="
            f"{run.generator._target_} takes no labels; use a conditional generator such as "
            "generator=cdcgan (or set generator.conditioning)."
        )


def build_loss(run: RunConfig) -> AdversarialLoss:
    loss = build(run.loss, "loss")
    if not isinstance(loss, AdversarialLoss):
        raise ConfigError(f"loss._target_={run.loss._target_} did not build an AdversarialLoss.")
    return loss


def build_optimizer(
    run: RunConfig, model: str, regularizers: list[Regularizer], clock: tf.Variable
) -> keras.optimizers.Optimizer:
    """`model`'s optimizer (optimizer.<model>: "generator" or "discriminator"), loss-scaled
    under mixed precision (`with_loss_scaling`).

    Lazy phases share their model's optimizer: with trainer.lazy_adjust, a model with lazy
    regularizers gets StyleGAN2's adjustment, lr * c and betas ** c with c = k / (k + 1)
    (gantrain/optim.py `adjust_for_lazy_phases`, `lazy_ratio`).
    """
    where = f"optimizer.{model}"
    node = run.optimizer_generator if model == "generator" else run.optimizer_discriminator
    optimizer = build(node, where, total_steps=run.trainer.max_steps, clock=clock)
    if run.trainer.lazy_adjust and lazy_interval(regularizers, model):
        intervals = {r.interval for r in regularizers if r.applies_to == model and r.interval > 1}
        try:
            adjust_for_lazy_phases(optimizer, lazy_ratio(sorted(intervals)))
        except TypeError as error:
            raise ConfigError(
                f"trainer.lazy_adjust=true: {where}: {error}; set trainer.lazy_adjust=false "
                "to keep its settings as configured."
            ) from error
    return with_loss_scaling(optimizer, run.trainer.precision)


def build_state(run: RunConfig, spec: DatasetSpec) -> GANState:
    """The full training state. Call inside `strategy.scope()` and the run's precision policy.

    Under mixed_float16 each optimizer gets its own loss scale (`with_loss_scaling`). The
    regularizers are built here too: the state owns (and checkpoints) their variables.
    """
    generator = build_generator(run, spec)
    discriminator = build_discriminator(run, spec)
    check_float32_outputs(generator, "generator")
    check_float32_outputs(discriminator, "discriminator")
    check_conditioning_pair(run, generator, discriminator)
    total_steps = run.trainer.max_steps
    step = new_step_counter()  # the clock of every schedule (gantrain/schedules.py)
    regularizers = build_regularizers(run.regularizers, total_steps=total_steps, clock=step)
    return GANState(
        generator=generator,
        discriminator=discriminator,
        g_optimizer=build_optimizer(run, "generator", regularizers, step),
        d_optimizer=build_optimizer(run, "discriminator", regularizers, step),
        seed=run.trainer.seed,
        grid_size=run.logging.sample_grid,
        generator_ema=build_generator(run, spec) if run.trainer.ema_on else None,
        regularizers=regularizers,
        step=step,
        augmentation=build_augmentation(run.trainer, clock=step),
    )


def build_ema_rate(trainer: TrainerConfig, batch_size: int, clock: tf.Variable) -> EmaRate:
    """The EMA's decay per step from the trainer's ema_* keys (gantrain/training/ema.py)."""
    return EmaRate(
        decay=trainer.ema_decay,
        start=trainer.ema_start,
        kimg=trainer.ema_kimg,
        final_kimg=trainer.ema_final_kimg,
        schedule=trainer.ema_schedule,
        rampup=trainer.ema_rampup,
        batch_size=batch_size,
        total_steps=trainer.max_steps,
        clock=clock,
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


def build_train_step(
    run: RunConfig, state: GANState, strategy: tf.distribute.Strategy, batch_size: int
) -> TrainStep:
    """The compiled train step with the run's trainer options (n_critic, EMA, ...)."""
    trainer = run.trainer
    return TrainStep(
        state,
        build_loss(run),
        strategy,
        global_batch_size=batch_size,
        steps_per_loop=trainer.steps_per_loop,
        n_critic=trainer.n_critic,
        clip_norm=trainer.clip_grad_norm,
        augment=state.augmentation,
        ema_rate=build_ema_rate(trainer, batch_size, state.step),
        jit_compile=trainer.jit_compile,
        update=trainer.update,
        fused_d_pass=trainer.fused_d_pass,
    )
