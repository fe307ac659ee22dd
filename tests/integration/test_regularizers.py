"""The regularizer extension point end to end: regularizers defined in this file only (no
gantrain module names them) join the phases, train, and their state is checkpointed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from gantrain.checkpointing import Checkpoints
from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.losses.adversarial import LossTerms
from gantrain.regularizers import Regularizer, RegularizerContext
from gantrain.training.build import build_state, build_train_step
from tests.conftest import compose_config


class RunningMeanPenalty(Regularizer):
    """A lazy G-side toy with state: (mean pixel of G(z) - its running mean)^2 per example."""

    extra_metrics = ("running_mean",)

    def __init__(self, *, weight: float = 1.0, interval: int = 2, decay: float = 0.5) -> None:
        super().__init__(weight=weight, interval=interval, applies_to="generator")
        self.decay = decay

    def build(self, state) -> None:
        self.add_state("mean", 0.0)
        self.add_state("calls", 0, tf.int64)

    def __call__(self, ctx: RegularizerContext) -> LossTerms:
        per_example = tf.reduce_mean(ctx.fake(), axis=[1, 2, 3])
        mean = self.decay * self.mean + (1.0 - self.decay) * ctx.global_mean(per_example)
        ctx.assign(self.mean, mean)
        ctx.assign(self.calls, self.calls + 1)
        noise = ctx.normal((1,), self.stream("noise"))[:, 0]  # a private random stream
        penalty = tf.square(per_example - tf.stop_gradient(mean)) + 0.0 * noise
        return LossTerms(loss=penalty, parts={"running_mean": mean})


class LogitAnchor(Regularizer):
    """A D-side toy of the adversarial pass (LeCam-like): (D(G(z)) - EMA of D(x))^2."""

    needs_logits = True

    def __init__(self, *, weight: float = 0.1) -> None:
        super().__init__(weight=weight, interval=1, applies_to="discriminator")

    def build(self, state) -> None:
        self.add_state("anchor", 0.0)

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        ctx.assign(self.anchor, 0.9 * self.anchor + 0.1 * ctx.global_mean(ctx.real_logits))
        return tf.reshape(tf.square(ctx.fake_logits - self.anchor), [-1])


TOYS = [
    f"+regularizer.toy._target_={__name__}.RunningMeanPenalty",
    "+regularizer.toy.decay=0.25",
    f"+regularizer.anchor._target_={__name__}.LogitAnchor",
]


def _setup(tiny_overrides: list[str], seed: int = 0):
    run = load_run_config(
        compose_config(overrides=[*tiny_overrides, *TOYS, f"trainer.seed={seed}"])
    )
    data = run.dataset.load()
    state = build_state(run, data.spec)
    step = build_train_step(run, state, tf.distribute.get_strategy(), run.trainer.batch_size)
    return state, step, iter(train_dataset(data, batch_size=run.trainer.batch_size, seed=0))


def test_toy_regularizers_join_the_phases_and_train(tiny_overrides) -> None:
    state, step, iterator = _setup(tiny_overrides)
    toy, anchor = state.regularizers
    assert (toy.key, toy.decay, anchor.key) == ("toy", 0.25, "anchor")
    assert [(p.name, p.interval) for p in step.phases] == [
        ("discriminator", 1),
        ("generator", 1),
        ("generator_regularization", 2),
    ]
    records = [{k: float(v) for k, v in step(iterator, 1).items()} for _ in range(4)]
    assert int(toy.calls.numpy()) == 2  # steps 0 and 2
    assert int(state.g_optimizer.iterations.numpy()) == 4 + 2
    assert {"g_toy", "g_running_mean", "g_reg_loss", "d_anchor"} <= set(records[0])
    assert records[1]["g_running_mean"] == records[0]["g_running_mean"]  # held between runs
    assert float(toy.mean.numpy()) == records[3]["g_running_mean"] != 0.0
    assert float(anchor.anchor.numpy()) != 0.0 and records[3]["d_anchor"] > 0


def test_regularizer_state_is_part_of_the_checkpoint(tiny_overrides, tmp_path: Path) -> None:
    state, step, iterator = _setup(tiny_overrides)
    for _ in range(3):
        step(iterator, 1)
    toy, anchor = state.regularizers
    saved = {v.name: v.numpy() for v in (toy.mean, toy.calls, anchor.anchor)}
    prefix = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=1).save()

    fresh, _, _ = _setup(tiny_overrides, seed=1)
    fresh_toy, fresh_anchor = fresh.regularizers
    assert int(fresh_toy.calls.numpy()) == 0
    # A complete restore (every saved value lands, every variable gets one).
    Checkpoints(fresh.checkpoint(), tmp_path / "x", step=fresh.step, max_to_keep=1).restore(prefix)
    restored = {v.name: v.numpy() for v in (fresh_toy.mean, fresh_toy.calls, fresh_anchor.anchor)}
    assert restored.keys() == saved.keys()
    for name, value in saved.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
