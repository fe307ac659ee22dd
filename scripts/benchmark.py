"""Framework train step vs a hand-written tf.function loop, in one process, per setting.

Both train the same architecture (the configured generator/discriminator) at the same batch
size, with the same update rule (one D step then one G step, Adam, non-saturating loss). The
hand-written side is what a user would write after the TensorFlow DCGAN tutorial: a plain
float32 `tf.function` with two gradient tapes fed by a plain `tf.data` pipeline, on the
default strategy. The sides are timed in alternating blocks, step by step, and the report
gives the median over all timed steps, so machine noise hits them alike. The figure that
matters is the ratio (setting / hand-written), measured in the same process.

The framework runs without the generator EMA (`trainer.ema_decay=0`), since the hand-written
loop has none; the `ema` setting turns it back on to show what the default recipe's EMA costs.

Settings (`--setting`): the default step, each strategy usable on this machine, precisions,
XLA, steps_per_loop 10, the EMA, and the input pipeline alone (which must feed at least 10x
the train step's rate). `--all` runs every setting in its own process (TensorFlow runtime
options and the dtype policy are per process) and prints the table with each process's peak
RSS.

    python scripts/benchmark.py                         # default setting, JSON
    python scripts/benchmark.py --setting mixed_float16
    python scripts/benchmark.py --all --markdown        # the README table
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
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
from gantrain.distribute import distribute_dataset  # noqa: E402
from gantrain.training.build import (  # noqa: E402
    build_discriminator,
    build_generator,
    build_state,
    build_train_step,
)
from gantrain.training.precision import precision_policy  # noqa: E402

HAND = "hand-written tf.function"
STEP = "gantrain TrainStep"
PIPELINE = "input pipeline alone"

# setting -> (Hydra overrides, what it shows)
SETTINGS: dict[str, tuple[list[str], str]] = {
    "default": ([], "strategy=default, float32, no XLA, steps_per_loop=1"),
    "one_device": (["strategy=one_device"], "strategy=one_device (CPU:0)"),
    "mirrored_2cpu": (
        ["strategy=mirrored", "strategy.num_cpu_devices=2"],
        "strategy=mirrored over 2 logical CPUs",
    ),
    "mixed_float16": (["trainer.precision=mixed_float16"], "trainer.precision=mixed_float16"),
    "mixed_bfloat16": (["trainer.precision=mixed_bfloat16"], "trainer.precision=mixed_bfloat16"),
    "xla": (["trainer.jit_compile=true"], "trainer.jit_compile=true"),
    "steps_per_loop_10": (["trainer.steps_per_loop=10"], "trainer.steps_per_loop=10"),
    "ema": (
        ["trainer.ema_decay=0.999"],
        "trainer.ema_decay=0.999 (the hand-written loop has no EMA)",
    ),
    "input_pipeline": ([], "next() on the distributed input pipeline, no training"),
}


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


def framework_iterator(run, data, strategy, batch_size: int):
    dataset = distribute_dataset(
        strategy,
        lambda: train_dataset(data, batch_size=batch_size, seed=run.trainer.seed),
        batch_size,
    )
    return iter(dataset)


def framework(run, data, strategy, batch_size: int) -> Callable[[], object]:
    """gantrain's TrainStep over its own input pipeline, as `train` runs it."""
    with precision_policy(run.trainer.precision), strategy.scope():
        state = build_state(run, data.spec)
    step = build_train_step(run, state, strategy, batch_size)
    iterator = framework_iterator(run, data, strategy, batch_size)
    per_call = run.trainer.steps_per_loop
    return lambda: step(iterator, per_call)


def time_calls(fn: Callable[[], object], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = fn()
        tf.nest.map_structure(lambda t: t.numpy(), result)  # wait for the work to finish
        times.append(time.perf_counter() - started)
    return times


def measure(setting: str, args: argparse.Namespace) -> dict:
    """Time the hand-written loop against `setting` in this process; a JSON-able report."""
    overrides, description = SETTINGS[setting]
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        cfg = compose(
            "train",
            [
                f"trainer.batch_size={args.batch_size}",
                "trainer.ema_decay=0",  # equal work: the hand-written loop keeps no EMA
                *overrides,
                *args.overrides,
            ],
        )
    run = load_run_config(cfg)
    # First, before any TensorFlow op (logical CPU devices, collective ops), as train() does.
    strategy = run.strategy.create()
    keras.utils.set_random_seed(run.trainer.seed)
    data = run.dataset.load()
    sides = {HAND: hand_written(run, data, args.batch_size)}
    per_call = {HAND: 1, STEP: run.trainer.steps_per_loop, PIPELINE: 1}
    sides[STEP] = framework(run, data, strategy, args.batch_size)
    if setting == "input_pipeline":
        iterator = framework_iterator(run, data, strategy, args.batch_size)
        sides[PIPELINE] = lambda: next(iterator)
    for name, fn in sides.items():
        time_calls(fn, max(1, args.warmup // per_call[name]))
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for block in range(args.blocks):
        order = list(sides) if block % 2 == 0 else list(reversed(sides))
        for name in order:
            calls = max(1, args.steps_per_block // per_call[name])
            samples[name] += [t / per_call[name] for t in time_calls(sides[name], calls)]
    rates = {name: args.batch_size / statistics.median(times) for name, times in samples.items()}
    return {
        "setting": setting,
        "description": description,
        "overrides": [*overrides, *args.overrides],
        "batch_size": args.batch_size,
        "replicas": strategy.num_replicas_in_sync,
        "timed_steps": {n: len(t) for n, t in samples.items()},
        "images_per_sec": rates,
        "ratio_vs_hand_written": {n: r / rates[HAND] for n, r in rates.items()},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": os.getloadavg(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def run_all(args: argparse.Namespace) -> list[dict]:
    """Every setting in a fresh process of this script; their reports in order."""
    reports = []
    for setting in SETTINGS:
        command = [
            sys.executable, __file__, "--setting", setting, "--batch-size", str(args.batch_size),
            "--warmup", str(args.warmup), "--blocks", str(args.blocks),
            "--steps-per-block", str(args.steps_per_block), *args.overrides,
        ]  # fmt: skip
        print(f"benchmark: {setting} ...", file=sys.stderr, flush=True)
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"benchmark: setting {setting} failed")
        reports.append(json.loads(out.stdout))
    return reports


def markdown(reports: list[dict], batch_size: int) -> str:
    lines = [
        f"| setting (batch {batch_size}) | images/s | hand-written images/s | ratio | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for report in reports:
        rates, ratios = report["images_per_sec"], report["ratio_vs_hand_written"]
        name = PIPELINE if PIPELINE in rates else STEP
        label = report["description"]
        if name == PIPELINE:
            label += f" ({rates[PIPELINE] / rates[STEP]:.0f}x the train step)"
        lines.append(
            f"| {label} | {rates[name]:.0f} | {rates[HAND]:.0f} | {ratios[name]:.3f} | "
            f"{report['peak_rss_mib']:.0f} MiB |"
        )
    loads = [r["load_average"][0] for r in reports]
    lines.append("")
    lines.append(
        f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} cores; TensorFlow {reports[0]['tensorflow']}, "
        f"Keras {reports[0]['keras']}."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=list(SETTINGS), default="default")
    parser.add_argument("--all", action="store_true", help="every setting, one process each")
    parser.add_argument("--batch-size", type=int, default=32)  # the default recipe's
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per side")
    parser.add_argument("--blocks", type=int, default=6, help="alternating timed blocks")
    parser.add_argument("--steps-per-block", type=int, default=20)
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the train config")
    args = parser.parse_args()

    reports = run_all(args) if args.all else [measure(args.setting, args)]
    if args.markdown:
        print(markdown(reports, args.batch_size))
    else:
        print(json.dumps(reports if args.all else reports[0], indent=2))
    pipeline = next((r for r in reports if r["setting"] == "input_pipeline"), None)
    if pipeline is not None:
        rates = pipeline["images_per_sec"]
        if rates[PIPELINE] < 10 * rates[STEP]:
            print(
                f"benchmark: the input pipeline feeds only {rates[PIPELINE] / rates[STEP]:.1f}x "
                "the train step's rate (needs >= 10x)",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
