"""Framework train step vs a hand-written tf.function loop, in one process.

Both train the same architecture (the configured generator/discriminator) at the same batch
size, with the same update rule (one D step then one G step, Adam, non-saturating loss). The
hand-written side is what a user would write after the TensorFlow DCGAN tutorial: a plain
`tf.function` with two gradient tapes fed by a plain `tf.data` pipeline. The two are timed in
alternating blocks, step by step, and the report gives the median over all timed steps, so
machine noise hits both alike. The figure that matters is the ratio (framework / hand-written).

    python scripts/benchmark.py                     # MNIST DCGAN, batch 64
    python scripts/benchmark.py --batch-size 256 --blocks 8 --steps-per-block 20
    python scripts/benchmark.py --markdown          # the README table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantrain.tfimport import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402

from gantrain.config import load_run_config  # noqa: E402
from gantrain.data.pipeline import train_dataset  # noqa: E402
from gantrain.training.build import (  # noqa: E402
    build_discriminator,
    build_generator,
    build_loss,
    build_state,
)
from gantrain.training.step import TrainStep  # noqa: E402


def hand_written(run, data, batch_size: int) -> Callable[[], object]:
    """The tutorial-style loop: plain models, optimizers, dataset and tf.function."""
    generator = build_generator(run, data.spec)
    discriminator = build_discriminator(run, data.spec)
    g_opt = keras.optimizers.Adam(run.optimizer_generator.lr, beta_1=run.optimizer_generator.beta_1)
    d_opt = keras.optimizers.Adam(
        run.optimizer_discriminator.lr, beta_1=run.optimizer_discriminator.beta_1
    )
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    latent_dim = generator.latent_dim
    images = tf.data.Dataset.from_tensor_slices(data.images)
    images = (
        images.map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0)
        .shuffle(10_000)
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    iterator = iter(images)

    @tf.function
    def step(real):
        fake = generator(tf.random.normal([batch_size, latent_dim]), training=True)
        with tf.GradientTape() as tape:
            real_out = discriminator(real, training=True)
            fake_out = discriminator(fake, training=True)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            fake_out = discriminator(
                generator(tf.random.normal([batch_size, latent_dim]), training=True), training=True
            )
            g_loss = bce(tf.ones_like(fake_out), fake_out)
        grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables, strict=True))
        return d_loss, g_loss

    return lambda: step(next(iterator))


def framework(run, data, batch_size: int) -> Callable[[], object]:
    """gantrain's TrainStep over its own input pipeline, as `train` runs it."""
    strategy = run.strategy.create()
    with strategy.scope():
        state = build_state(run, data.spec)
    step = TrainStep(
        state,
        build_loss(run),
        strategy,
        global_batch_size=batch_size,
        steps_per_loop=run.trainer.steps_per_loop,
    )
    dataset = train_dataset(data, batch_size=batch_size, seed=run.trainer.seed)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    per_call = run.trainer.steps_per_loop
    return lambda: step(iterator, per_call)


def time_calls(fn: Callable[[], object], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = fn()
        tf.nest.map_structure(lambda t: t.numpy(), result)  # wait for the step to finish
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per side")
    parser.add_argument("--blocks", type=int, default=6, help="alternating timed blocks")
    parser.add_argument("--steps-per-block", type=int, default=15)
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the train config")
    args = parser.parse_args()

    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        cfg = compose("train", [f"trainer.batch_size={args.batch_size}", *args.overrides])
    run = load_run_config(cfg)
    keras.utils.set_random_seed(run.trainer.seed)
    data = run.dataset.load()
    sides = {
        "hand-written tf.function": hand_written(run, data, args.batch_size),
        "gantrain TrainStep": framework(run, data, args.batch_size),
    }
    per_call = {"hand-written tf.function": 1, "gantrain TrainStep": run.trainer.steps_per_loop}
    for fn in sides.values():
        time_calls(fn, args.warmup)
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for block in range(args.blocks):
        order = list(sides) if block % 2 == 0 else list(reversed(sides))
        for name in order:
            calls = max(1, args.steps_per_block // per_call[name])
            samples[name] += [t / per_call[name] for t in time_calls(sides[name], calls)]
    rates = {name: args.batch_size / statistics.median(times) for name, times in samples.items()}
    baseline = rates["hand-written tf.function"]
    report = {
        "batch_size": args.batch_size,
        "timed_steps_per_side": {n: len(t) for n, t in samples.items()},
        "images_per_sec": rates,
        "ratio_vs_hand_written": {n: r / baseline for n, r in rates.items()},
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "overrides": args.overrides,
    }
    if args.markdown:
        print(f"| train step (batch {args.batch_size}) | images/s (median) | ratio |")
        print("|---|---:|---:|")
        for name, rate in rates.items():
            print(f"| {name} | {rate:.0f} | {rate / baseline:.3f} |")
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
