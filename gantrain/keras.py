"""`gantrain.keras.GAN`: gantrain's train step as a `keras.Model`, for `model.fit()`.

    import gantrain.keras, keras
    gan = gantrain.keras.GAN(generator, discriminator, loss="wgan_gp", n_critic=5)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9),
                d_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9))
    gan.fit(dataset, epochs=10, callbacks=[keras.callbacks.TensorBoard("logs")])

No second implementation: `compile` builds gantrain's `GANState` (both optimizers built
right away, the step counter, the seed, the regularizers' state) and the same `TrainStep` the
command line runs (gantrain/training/step.py and phases.py: n_critic, regularizers and lazy
phases, EMA, DiffAugment, gradient clipping, loss scaling, the NaN guard), so a step's losses
equal `gantrain train`'s on the same batches and seed (tested).

Why `make_train_function` is replaced, not just `train_step`: Keras calls `train_step` inside
`strategy.run`, per replica. gantrain's step reads its n_critic real batches from the iterator
and keeps its control flow (lazy phases, the n_critic loop) in the cross-replica context
around `strategy.run`, as MirroredStrategy requires of synchronization points; so the train
function hands Keras's iterator to the TrainStep. `train_step(batches)` still runs one GAN
step on n_critic given batches, outside a replica context.

Data: a `tf.data.Dataset` of image batches (N, H, W, C) float32 in [-1, 1], of
`(images, labels)` tuples or of `{"image": ..., "label": ...}` dicts; labels int32 (N,) for
class-conditional models. Every batch must have the same, known size (`drop_remainder=True`)
since latents are drawn for the global batch. Each GAN step reads n_critic batches, so an
epoch of K batches is K / n_critic steps (with n_critic > 1 repeat the dataset and give
`steps_per_epoch`, so no step starts on an epoch's last batches and runs out). Logs hold
each step's values (`d_loss`, `g_loss`, `d_real`, `d_fake`, the regularizers' terms...), as
gantrain's stats.jsonl.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.losses.adversarial import AdversarialLoss
from gantrain.regularizers.base import Regularizer
from gantrain.training.augment import check_policy
from gantrain.training.precision import check_float32_outputs, with_loss_scaling
from gantrain.training.state import GANState
from gantrain.training.step import TrainStep

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _loss_and_regularizers(
    loss: str | AdversarialLoss,
    regularizers: Sequence[str | Regularizer] | None,
    overrides: Sequence[str],
) -> tuple[AdversarialLoss, list[Regularizer]]:
    """The loss and regularizers the CLI builds for `loss=<name> [regularizer=[...]]`.

    Names come from configs/loss/ and configs/regularizer/ (with their YAML defaults: loss
    `wgan_gp` brings the gradient penalty, as on the command line); instances are used as
    they are. `overrides` tune them: ["regularizer.gradient_penalty.weight=5"].
    """
    given = [r for r in regularizers or () if isinstance(r, Regularizer)]
    names = [r for r in regularizers or () if not isinstance(r, Regularizer)]
    if not all(isinstance(name, str) for name in names):
        raise ConfigError(
            "regularizers: give names from configs/regularizer/ (['r1']) or "
            "gantrain.regularizers.Regularizer instances."
        )
    if isinstance(loss, AdversarialLoss) and regularizers is not None and not names:
        return loss, given
    from gantrain.api import _compose
    from gantrain.config import load_run_config
    from gantrain.regularizers.base import build_regularizers
    from gantrain.training.build import build_loss

    arguments = list(overrides)
    if isinstance(loss, str):
        arguments.insert(0, f"loss={loss}")
    elif not isinstance(loss, AdversarialLoss):
        raise ConfigError(
            f"loss={loss!r}: give a name from configs/loss/ (non_saturating, wgan_gp, hinge, "
            "...) or a gantrain.losses.adversarial.AdversarialLoss."
        )
    if regularizers is not None:
        arguments.append(f"regularizer=[{','.join(names)}]")
    run = load_run_config(_compose("train", arguments))
    built = build_loss(run) if isinstance(loss, str) else loss
    return built, [*build_regularizers(run.regularizers), *given]


class _Batches:
    """`next()` over given batches, for a step outside Keras's iterator (`train_step`)."""

    def __init__(self, batches: Iterable[Any]) -> None:
        self._batches: Iterator[Any] = iter(batches)

    def __next__(self) -> Any:
        return next(self._batches)


class GAN(keras.Model):
    """A generator and a discriminator trained by gantrain's step under `fit()`.

    `generator`: latent (B, latent_dim) [+ labels] -> images in [-1, 1], with `latent_dim`
    (and `num_classes` for conditional models) attributes, or a functional model whose first
    input is the latent (latent_dim is read from it). `discriminator`: images [+ labels] ->
    logits (B, 1) (gantrain/models/__init__.py has the contract; any gantrain architecture
    fits). `loss`: a configs/loss name or an AdversarialLoss; `regularizers`: None (the loss
    option's own, e.g. wgan_gp's gradient penalty), or names / Regularizer instances;
    `overrides`: config overrides of those (["regularizer.r1.weight=1"]). `n_critic`,
    `augment` (DiffAugment policy), `ema_decay`/`ema_start`, `clip_grad_norm`, `seed`,
    `jit_compile` and `update` mean what their `trainer.` keys mean; the optimizers given to
    `compile` are used as they are (no `trainer.lazy_adjust` of lr and betas for lazy phases:
    scale them yourself, lr * k / (k + 1) and betas ** (k / (k + 1)), for StyleGAN2's). Build
    the models and the GAN under the strategy's scope and the dtype policy you train with
    (mixed_float16: each optimizer gets its own loss scale, as with trainer.precision).

    Calling the model draws images: `gan(z)` = generator(z) (the EMA generator when there is
    one). `gan.state` is gantrain's GANState after `compile` (its `checkpoint()` holds
    everything to resume exactly).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        *,
        loss: str | AdversarialLoss = "non_saturating",
        regularizers: Sequence[str | Regularizer] | None = None,
        overrides: Sequence[str] = (),
        n_critic: int = 1,
        augment: Sequence[str] = (),
        ema_decay: float = 0.0,
        ema_start: int = 0,
        clip_grad_norm: float = 0.0,
        seed: int = 0,
        jit_compile: bool = False,
        update: str = "simultaneous",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from gantrain.config import TrainerConfig

        # The trainer schema's own checks (on the shipped defaults plus these values), so a
        # bad value reads as on the command line; the DiffAugment policy is training's check.
        TrainerConfig.with_defaults(
            n_critic=n_critic,
            clip_grad_norm=clip_grad_norm,
            ema_decay=ema_decay,
            ema_start=ema_start,
            augment=list(augment),
            update=update,
        )
        check_policy(augment)
        self.update_scheme = update
        precision = keras.mixed_precision.global_policy().name
        if precision not in PRECISIONS:
            raise ConfigError(f"dtype policy {precision}: use one of {', '.join(PRECISIONS)}.")
        self.gantrain_precision = precision
        for model, where in ((generator, "generator"), (discriminator, "discriminator")):
            if not model.built:
                raise ConfigError(f"{where} {model.name} is not built; build it (call it once).")
            check_float32_outputs(model, where)
        _contract_attributes(generator)
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema = _ema_twin(generator) if ema_decay else None
        self.adversarial_loss, self.regularizers_ = _loss_and_regularizers(
            loss, regularizers, overrides
        )
        self.n_critic = int(n_critic)
        self.augment = tuple(augment)
        self.ema_decay, self.ema_start = float(ema_decay), int(ema_start)
        self.clip_grad_norm = float(clip_grad_norm)
        self.seed = int(seed)
        self.gantrain_jit_compile = bool(jit_compile)
        self.state: GANState | None = None
        self._gantrain_step: TrainStep | None = None
        self._step_batch: int | None = None
        self.built = True

    def call(self, inputs: Any, training: bool = False) -> tf.Tensor:
        """Images (B, H, W, C) in [-1, 1] for latents (B, latent_dim) [, labels]."""
        model = self.generator_ema if self.generator_ema is not None else self.generator
        return model(inputs, training=training)

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer,
        d_optimizer: keras.optimizers.Optimizer,
        **kwargs: Any,
    ) -> None:
        """Build gantrain's state around the two optimizers; `kwargs` go to Keras's compile
        (`run_eagerly`, ...; not `loss`, `optimizer` or `metrics`: the step owns those)."""
        for key in ("loss", "optimizer", "metrics", "steps_per_execution"):
            if key in kwargs:
                raise ConfigError(
                    f"GAN.compile({key}=...): the gantrain step owns it; give g_optimizer= and "
                    "d_optimizer=, and the loss to GAN(loss=...)."
                )
        if g_optimizer is d_optimizer:
            raise ConfigError("g_optimizer and d_optimizer must be two optimizer objects.")
        with self.distribute_strategy.scope():
            self.state = GANState(
                generator=self.generator,
                discriminator=self.discriminator,
                g_optimizer=with_loss_scaling(g_optimizer, self.gantrain_precision),
                d_optimizer=with_loss_scaling(d_optimizer, self.gantrain_precision),
                seed=self.seed,
                grid_size=1,
                generator_ema=self.generator_ema,
                regularizers=self.regularizers_,
            )
        self._gantrain_step = None
        # Keras's own `optimizer` is G's (what TensorBoard reads its learning rate and step
        # count from: one G update per GAN step); the loss scaling is gantrain's, per optimizer.
        super().compile(optimizer=self.state.g_optimizer, auto_scale_loss=False, **kwargs)

    @property
    def metrics(self) -> list:
        return []  # the step's values are returned as they are (no Keras trackers to reset)

    # -- the step ---------------------------------------------------------------------------

    def _step_for(self, global_batch_size: int) -> TrainStep:
        if self.state is None:
            raise ConfigError("GAN: call compile(g_optimizer=..., d_optimizer=...) before fit().")
        if self._gantrain_step is None or self._step_batch != global_batch_size:
            with self.distribute_strategy.scope():
                self._gantrain_step = TrainStep(
                    self.state,
                    self.adversarial_loss,
                    self.distribute_strategy,
                    global_batch_size=global_batch_size,
                    steps_per_loop=1,
                    n_critic=self.n_critic,
                    clip_norm=self.clip_grad_norm,
                    augment=self.augment,
                    ema_decay=self.ema_decay,
                    ema_start=self.ema_start,
                    jit_compile=self.gantrain_jit_compile,
                    update=self.update_scheme,
                )
            self._step_batch = global_batch_size
            self.train_function = None
        return self._gantrain_step

    def _as_step_batches(self, dataset: tf.data.Dataset) -> tuple[tf.data.Dataset, int]:
        """`dataset` as the step's {"image", "label"} batches, and their (fixed) size."""
        spec = dataset.element_spec
        if isinstance(spec, Mapping):
            if "image" not in spec:
                raise ConfigError(
                    'fit(): dict batches need an "image" key (and "label" for labels).'
                )
            image_spec = spec["image"]
        elif isinstance(spec, tuple):
            if not 1 <= len(spec) <= 2:
                raise ConfigError("fit(): give batches of images or (images, labels).")
            image_spec = spec[0]
        else:
            image_spec = spec
        batch = image_spec.shape[0] if image_spec.shape.rank == 4 else None
        if image_spec.shape.rank != 4 or batch is None:
            raise ConfigError(
                f"fit(): batches must be images (N, H, W, C) of one known size N; got shape "
                f"{image_spec.shape}. Batch with drop_remainder=True."
            )
        conditional = int(getattr(self.discriminator, "num_classes", 0)) > 0 or int(
            getattr(self.discriminator, "auxiliary_classes", 0)
        )

        def to_step(*element: Any) -> dict[str, tf.Tensor]:
            if len(element) == 1 and isinstance(element[0], Mapping):
                images, labels = element[0]["image"], element[0].get("label")
            else:
                images, labels = element[0], element[1] if len(element) > 1 else None
            if labels is None:
                if conditional:
                    raise ConfigError(
                        "fit(): this discriminator is class-conditional; give labels."
                    )
                labels = tf.zeros([batch], tf.int32)
            return {"image": tf.cast(images, tf.float32), "label": tf.cast(labels, tf.int32)}

        return dataset.map(to_step), int(batch)

    def fit(self, x: Any = None, *args: Any, **kwargs: Any) -> keras.callbacks.History:
        """Keras's fit on a `tf.data.Dataset` (see the module docstring for its batches)."""
        if not isinstance(x, tf.data.Dataset):
            raise ConfigError(
                "GAN.fit(x): give a tf.data.Dataset of image batches (N, H, W, C) in [-1, 1] "
                "(or (images, labels)), batched with drop_remainder=True."
            )
        if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
            raise ConfigError("GAN.fit: a GAN has no validation loss; leave validation_* out.")
        dataset, batch = self._as_step_batches(x)
        kwargs.setdefault("shuffle", False)  # the data order is the dataset's, as gantrain's
        self._step_for(batch)
        return super().fit(dataset, *args, **kwargs)

    def make_train_function(self, force: bool = False):
        if self.train_function is not None and not force:
            return self.train_function
        step = self._step_for(self._step_batch) if self._step_batch else None
        if step is None:
            raise ConfigError("GAN: train through fit(dataset) (it sizes the step's batches).")

        def train_function(iterator: Any) -> dict[str, tf.Tensor]:
            # Keras gives its epoch's (distributed) iterator, or a list of batches
            # (train_on_batch): the step reads its n_critic batches from either.
            source = iterator if hasattr(iterator, "get_next") else _Batches(iterator)
            return step(source, 1)

        self.train_function = train_function
        return train_function

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One GAN step on one batch dict {"image", "label"} (n_critic batches for
        n_critic > 1, as a list); outside a replica context (not inside strategy.run)."""
        batches = list(data) if isinstance(data, list | tuple) else [data]
        if len(batches) != self.n_critic:
            raise ConfigError(f"train_step: give {self.n_critic} batch(es), one per D update.")
        step = self._step_for(int(batches[0]["image"].shape[0]))
        return step._one_step(_Batches(batches))

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            "a GAN is not saved as one Keras file: save its generator "
            "(gantrain.models.saving.save_generator) and checkpoint gan.state.checkpoint()."
        )


def _contract_attributes(generator: keras.Model) -> None:
    """Give a plain functional generator the contract's attributes (from its inputs)."""
    if not hasattr(generator, "latent_dim"):
        generator.latent_dim = int(generator.inputs[0].shape[-1])
    if not hasattr(generator, "num_classes"):
        generator.num_classes = 0
        if len(generator.inputs) > 1:
            raise ConfigError(
                f"generator {generator.name} takes labels: set generator.num_classes to the "
                "number of classes."
            )


def _ema_twin(generator: keras.Model) -> keras.Model:
    """A copy of the generator (same builder, same weights) to hold the EMA."""
    twin = keras.models.clone_model(generator)
    twin.set_weights(generator.get_weights())
    twin.latent_dim, twin.num_classes = generator.latent_dim, generator.num_classes
    return twin
