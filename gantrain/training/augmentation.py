"""What D sees: DiffAugment or StyleGAN2-ADA's pipeline, each image augmented with probability p.

`trainer.augment` names the pipeline: DiffAugment policies (`[color, translation, cutout]`,
gantrain/training/augment.py), or StyleGAN2-ADA's `[bgc]` (blit + geometric + color
transforms, gantrain/training/ada.py), `[bgc, cutout]` (plus its cutout), or `[r3gan]` (the
AugmentPipe of R3GAN's presets: bgc with colour strengths 0.5, plus cutout). The probability p:
- DiffAugment: each image is augmented with probability p (drawn per image), else passed
  through; p = 1 (the default) is DiffAugment as published, exactly as before p existed;
- ADA: p is the pipeline's own: every transform is applied to each image with probability
  p times its strength (Karras et al. 2020).
p is a constant, a schedule on the GAN step clock (R3GAN: cosine 0 -> 0.55), or, with
`ada_target`, adapted every `ada_interval` steps toward E[sign D(x)] = target (the ADA
controller, whose p and accumulators are checkpointed state: a resumed run continues its p
instead of restarting at 0, the reference's stylegan2-ada issues 30 and 106).

All draws come from the train step's stateless streams (seed, step, slot, stream) for the
global batch, so augmentation is reproducible, resumable and the same on any replica count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.schedules import StepSchedule, build_schedule
from gantrain.training.augment import NUM_UNIFORMS, POLICIES, diff_augment

ADA_PIPELINES = ("bgc", "r3gan")
ADA_EXTRAS = ("cutout",)
# Draw(kind, shape, stream) -> (B, *shape) float32 of this replica (PhaseLosses.draw).
Draw = Callable[[str, tuple[int, ...], int], tf.Tensor]
# Stream offsets within an augmentation stream: the per-image gate, ADA's normals.
_GATE, _NORMALS = 1_000, 2_000


def check_augment(policy: Sequence[str]) -> tuple[str, ...]:
    """Validate `trainer.augment`: DiffAugment policies, or `bgc` [+ cutout], or `r3gan`."""
    policy = tuple(str(p) for p in policy)
    ada = [p for p in policy if p in ADA_PIPELINES]
    if ada:
        others = [p for p in policy if p not in ADA_PIPELINES]
        if len(ada) > 1 or any(p not in ADA_EXTRAS for p in others) or ("r3gan" in ada and others):
            raise ConfigError(
                f"trainer.augment={list(policy)}: StyleGAN2-ADA's pipeline is [bgc], "
                "optionally with its cutout ([bgc, cutout]), or R3GAN's [r3gan] alone; it "
                "does not combine with DiffAugment's color/translation."
            )
        return policy
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ConfigError(
            f"trainer.augment: unknown augmentation {', '.join(unknown)}; choose DiffAugment "
            f"policies from {', '.join(POLICIES)} (e.g. trainer.augment=[color,translation,"
            "cutout]), StyleGAN2-ADA's pipeline trainer.augment=[bgc] or R3GAN's [r3gan]."
        )
    return policy


class Augmentation(tf.Module):
    """The run's augmentation of D's inputs and, for adaptive ADA, its controller's state.

    `p`: None (DiffAugment: 1; adaptive ADA: 0, the reference's start) or a number, or a
    `StepSchedule`. `ada_target` (ADA only): adapt p toward it. Build it inside the
    strategy scope (the controller's variables); GANState checkpoints it.
    """

    def __init__(
        self,
        policy: Sequence[str] = (),
        *,
        p: float | StepSchedule | None = None,
        ada_target: float | None = None,
        ada_interval: int = 4,
        ada_kimg: float = 500.0,
    ) -> None:
        super().__init__(name="augmentation")
        self.policy = check_augment(policy)
        self.ada = any(name in ADA_PIPELINES for name in self.policy)
        if ada_target is not None and not self.ada:
            raise ConfigError(
                f"trainer.ada_target={ada_target} adapts StyleGAN2-ADA's p, but "
                f"trainer.augment={list(self.policy)} is not its pipeline; use "
                "trainer.augment=[bgc] or trainer.ada_target=null."
            )
        if ada_target is not None and isinstance(p, StepSchedule):
            raise ConfigError(
                "trainer.ada_target adapts p itself; a schedule of trainer.augment_p cannot "
                "also move it (set trainer.augment_p_schedule=constant)."
            )
        if p is None:
            if self.ada and ada_target is None:
                raise ConfigError(
                    "trainer.augment=[bgc] with a fixed p needs trainer.augment_p (e.g. 0.2), "
                    "or trainer.ada_target=0.6 to adapt it as StyleGAN2-ADA does."
                )
            p = 0.0 if self.ada else 1.0
        if isinstance(p, float) and not 0.0 <= p <= 1.0:
            raise ConfigError(f"trainer.augment_p={p}: must be in [0, 1].")
        self.p = p
        self.controller = None
        if self.ada:
            from gantrain.training import ada

            self._ada = ada
            if "r3gan" in self.policy:
                self.spec = ada.AdaSpec.r3gan()
            else:
                self.spec = ada.AdaSpec.bgc(cutout=1.0 if "cutout" in self.policy else 0.0)
            if ada_target is not None:
                self.controller = ada.AdaController(
                    target=ada_target, interval=ada_interval, kimg=ada_kimg, initial_p=float(p)
                )

    @property
    def active(self) -> bool:
        return bool(self.policy)

    @property
    def logs_p(self) -> bool:
        """Whether p is worth logging (anything but DiffAugment's constant 1)."""
        return self.active and not (isinstance(self.p, float) and self.p == 1.0 and not self.ada)

    def probability(self, step: tf.Tensor) -> tf.Tensor | float:
        """p at GAN step `step`."""
        if self.controller is not None:
            return self.controller.p
        if isinstance(self.p, StepSchedule):
            return self.p.value(step)
        return self.p

    def __call__(self, images: tf.Tensor, draw: Draw, stream: int, step: tf.Tensor) -> tf.Tensor:
        """`images` (B, H, W, C) augmented with this call's own random stream."""
        if not self.active:
            return images
        p = self.probability(step)
        if self.ada:
            uniforms = draw("uniform", (self._ada.NUM_UNIFORMS,), stream)
            normals = draw("normal", (self._ada.NUM_NORMALS,), stream + _NORMALS)
            return self._ada.ada_augment(
                images, tf.cast(p, tf.float32), uniforms, normals, spec=self.spec
            )
        augmented = diff_augment(images, self.policy, draw("uniform", (NUM_UNIFORMS,), stream))
        if isinstance(p, float) and p == 1.0:
            return augmented  # DiffAugment as published: no gate, no extra draws
        gate = draw("uniform", (1,), stream + _GATE) < tf.cast(p, tf.float32)
        return tf.where(tf.reshape(gate, [-1, 1, 1, 1]), augmented, images)

    def observe_real(self, real_logits: tf.Tensor) -> None:
        """D's logits on this replica's (augmented) reals in D's update: the ADA statistic."""
        if self.controller is not None:
            self.controller.accumulate(real_logits)

    def after_step(self, step: tf.Tensor, global_batch_size: int) -> None:
        """Cross-replica, after the step counter moved to `step`: ADA's adjustment of p on
        the steps it is due (the reference adjusts after iterations 0, interval, ...)."""
        if self.controller is not None:
            self.controller.maybe_adjust(step - 1, global_batch_size)

    def metrics(self, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """`aug_p` (and ADA's `aug_rt`) for logging: TensorBoard aug/p, aug/rt."""
        if not self.logs_p:
            return {}
        out = {"aug_p": tf.cast(tf.convert_to_tensor(self.probability(step)), tf.float32)}
        if self.controller is not None:
            out["aug_rt"] = tf.identity(self.controller.rt)
        return out


def build_augmentation(trainer: Any, *, clock: tf.Variable | None) -> Augmentation:
    """The Augmentation of a validated `trainer` config (augment, augment_p*, ada_*)."""
    p = trainer.augment_p
    if trainer.augment_p_schedule != "constant":
        if p is None:
            raise ConfigError(
                f"trainer.augment_p_schedule={trainer.augment_p_schedule} needs a starting "
                "trainer.augment_p (R3GAN: 0)."
            )
        # Both ends are probabilities already (TrainerConfig.check).
        final = p if trainer.augment_p_final is None else trainer.augment_p_final
        p = build_schedule(
            trainer.augment_p_schedule,
            float(p),
            final=float(final),
            start=0,
            end=trainer.max_steps,
            clock=clock,
            key="trainer.augment_p_schedule",
        )
    elif p is not None:
        p = float(p)
    return Augmentation(
        trainer.augment,
        p=p,
        ada_target=trainer.ada_target,
        ada_interval=trainer.ada_interval,
        ada_kimg=trainer.ada_kimg,
    )
