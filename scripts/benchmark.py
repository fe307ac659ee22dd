"""gantrain's speed against the origin's own loop and a hand-written alternating loop.

Two measures:

1. Per step, in one process per setting (`--setting`, `--all`): three sides timed in
   alternating blocks, step by step, median over all timed steps (machine noise hits them
   alike), and the ratios measured in that process:
   - `origin`: the origin document's loop, the TensorFlow DCGAN tutorial's structure exactly
     (`origin_loop`): its two models, `from_tensor_slices(images).shuffle(60000).batch(B)`
     iterated epoch after epoch, and a `tf.function` step with ONE generator forward and
     two gradient tapes, both optimizers applied after (Adam 1e-4 as the tutorial: the
     optimizer's settings do not change the work per image);
   - `hand-written alternating`: the configured architecture in a plain `tf.function` with
     gantrain's alternating structure (D updates, then G's loss through the updated D with a
     second generator forward), gantrain's optimizer settings;
   - `gantrain TrainStep`: the framework's step over its own input pipeline.
2. The whole `python -m gantrain train` command as a user runs it (`--train-command`): in one
   session, interleaved origin / gantrain / origin, each in its own process; gantrain with the
   default recipe's settings (EMA, logging, sample grids, checkpoints at their default
   intervals) and the origin's loop run alone for the same number of steps. The one change:
   `trainer.ema_start=0`, so the EMA averages from the first step, as it does in 90% of a
   default 10,000-step run (before its ema_start of 1,000 it is a cheaper copy, which a
   1,100-step benchmark would otherwise mostly measure). Both are scored
   the same way: per window of `log_every` steps, images / wall time; the report gives the
   median window and the whole run after the first window (which holds the tracing), whose
   time includes every callback that ran in between.

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
    python scripts/benchmark.py --train-command --batch-size 256 --steps 300
    python scripts/benchmark.py --train-command --repeats 3 --markdown   # 7 interleaved runs
    python scripts/benchmark.py --train-command --variant @step --variant ""   # step alone too
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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

ORIGIN = "origin (TF DCGAN tutorial)"
HAND = "hand-written alternating"
STEP = "gantrain TrainStep"
PIPELINE = "input pipeline alone"
NOISE_DIM = 100  # the tutorial's

# The EMA averaging from step 1: the steady state of 90% of a default run (module docstring).
EMA_STEADY_STATE = "trainer.ema_start=0"

# `--variant @step`: gantrain's TrainStep alone in its own process (no command around it).
STEP_ALONE = "@step"
STEP_ALONE_SIDE = "gantrain TrainStep alone"

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
        ["trainer.ema_decay=0.999", EMA_STEADY_STATE],
        "trainer.ema_decay=0.999, averaging from step 1 (the hand-written loop has no EMA)",
    ),
    "input_pipeline": ([], "next() on the distributed input pipeline, no training"),
}


def make_generator_model() -> keras.Model:
    """The tutorial's generator, layer for layer (keras.Input instead of `input_shape=`)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(NOISE_DIM,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(
                1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"
            ),
        ]
    )


def make_discriminator_model() -> keras.Model:
    """The tutorial's discriminator, layer for layer."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )


def origin_loop(images, batch_size: int) -> Callable[[], tf.Tensor]:
    """The origin document's training loop (the TF DCGAN tutorial), one step per call.

    `images`: uint8 (N, 28, 28, 1) MNIST digits. Everything below is the tutorial's code
    with BATCH_SIZE = `batch_size`: the normalization in numpy, `shuffle(60000).batch(B)`
    without repeat (the epoch loop restarts it; the last batch of an epoch is partial when B
    does not divide 60,000, as in the tutorial), one generator forward and two tapes. Returns
    a callable running the next step and returning its generator loss (to wait on).
    """
    generator = make_generator_model()
    discriminator = make_discriminator_model()
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = keras.optimizers.Adam(1e-4)
    discriminator_optimizer = keras.optimizers.Adam(1e-4)
    train_images = (images.reshape(images.shape[0], 28, 28, 1).astype("float32") - 127.5) / 127.5
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(60000)
    train_dataset = train_dataset.batch(batch_size)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([batch_size, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(
            disc_loss, discriminator.trainable_variables
        )
        generator_optimizer.apply_gradients(
            zip(gradients_of_generator, generator.trainable_variables, strict=True)
        )
        discriminator_optimizer.apply_gradients(
            zip(gradients_of_discriminator, discriminator.trainable_variables, strict=True)
        )
        return gen_loss

    def epochs():
        while True:  # for epoch in range(EPOCHS): for image_batch in dataset: ...
            yield from train_dataset

    batches = epochs()
    return lambda: train_step(next(batches))


def hand_written(run, data, batch_size: int) -> Callable[[], object]:
    """gantrain's alternating structure by hand: plain models, optimizers, dataset, tf.function."""
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
    sides = {
        ORIGIN: origin_loop(data.images, args.batch_size),
        HAND: hand_written(run, data, args.batch_size),
    }
    per_call = {ORIGIN: 1, HAND: 1, STEP: run.trainer.steps_per_loop, PIPELINE: 1}
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
        "ratio_vs_origin": {n: r / rates[ORIGIN] for n, r in rates.items()},
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
        f"| setting (batch {batch_size}) | images/s | origin images/s | vs origin | "
        "alternating images/s | vs alternating | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        rates = report["images_per_sec"]
        name = PIPELINE if PIPELINE in rates else STEP
        label = report["description"]
        if name == PIPELINE:
            label += f" ({rates[PIPELINE] / rates[STEP]:.0f}x the train step)"
        lines.append(
            f"| {label} | {rates[name]:.0f} | {rates[ORIGIN]:.0f} | "
            f"{report['ratio_vs_origin'][name]:.3f} | {rates[HAND]:.0f} | "
            f"{report['ratio_vs_hand_written'][name]:.3f} | {report['peak_rss_mib']:.0f} MiB |"
        )
    loads = [r["load_average"][0] for r in reports]
    lines.append("")
    lines.append(
        f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} cores; TensorFlow {reports[0]['tensorflow']}, "
        f"Keras {reports[0]['keras']}."
    )
    return "\n".join(lines)


# -- the whole train command against the origin's loop ----------------------------------------


def window_scores(records: list[tuple[int, float]], batch_size: int) -> dict:
    """Images/s from (step, wall seconds) records taken every `log_every` steps.

    `median_window`: the median over windows between consecutive records; `whole`: all
    images after the first record over the time after it (the first window holds tracing
    and warm-up, which are per process, not per image).
    """
    if len(records) < 3:
        raise SystemExit("benchmark: need at least 3 logged records; raise --steps")
    windows = [
        (s1 - s0) * batch_size / (t1 - t0) for (s0, t0), (s1, t1) in itertools.pairwise(records)
    ]
    (first_step, first_time), (last_step, last_time) = records[0], records[-1]
    return {
        "median_window": statistics.median(windows),
        "whole": (last_step - first_step) * batch_size / (last_time - first_time),
        "steps": last_step,
    }


def origin_run(args: argparse.Namespace) -> dict:
    """The origin's loop alone in this process for `--steps` steps, scored per window."""
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        run = load_run_config(compose("train", ["dataset=mnist"]))
    keras.utils.set_random_seed(0)
    return windowed(origin_loop(run.dataset.load().images, args.batch_size), args)


def step_run(args: argparse.Namespace) -> dict:
    """gantrain's TrainStep alone in this process (the `--variant @step` side), scored per
    window exactly as `origin_run`: the default recipe with `args.overrides`, no callbacks."""
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        cfg = compose(
            "train", ["dataset=mnist", f"trainer.batch_size={args.batch_size}", *args.overrides]
        )
    run = load_run_config(cfg)
    strategy = run.strategy.create()  # before any TensorFlow op, as train() does
    keras.utils.set_random_seed(run.trainer.seed)
    step = framework(run, run.dataset.load(), strategy, args.batch_size)
    return windowed(lambda: next(iter(step().values())), args)


def windowed(step: Callable[[], tf.Tensor], args: argparse.Namespace) -> dict:
    """`--steps` calls of `step`, timed per `--log-every` window (waiting on its result)."""
    records, started = [], time.perf_counter()
    for done in range(1, args.steps + 1):
        result = step()
        if done % args.log_every == 0:
            result.numpy()  # wait for the window's work
            records.append((done, time.perf_counter() - started))
    return window_scores(records, args.batch_size)


def train_command_run(args: argparse.Namespace, overrides: list[str], directory: Path) -> dict:
    """`python -m gantrain train dataset=mnist ...` in a process, scored from its stats.jsonl."""
    command = [
        sys.executable, "-m", "gantrain", "train", "dataset=mnist",
        f"trainer.batch_size={args.batch_size}", f"trainer.max_steps={args.steps}",
        f"trainer.log_every={args.log_every}", f"hydra.run.dir={directory}", *overrides,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"benchmark: {' '.join(command)} failed")
    with (directory / "stats.jsonl").open(encoding="utf-8") as file:
        stats = [json.loads(line) for line in file]
    records = [(r["step"], r["elapsed_sec"]) for r in stats]
    return {
        **window_scores(records, args.batch_size),
        # The logger's own figure: train calls only (callbacks excluded), first window dropped.
        "median_logged": statistics.median(r["images_per_sec"] for r in stats[1:]),
    }


def _in_subprocess(args: argparse.Namespace, *flags: str, overrides: Sequence[str] = ()) -> dict:
    command = [
        sys.executable, __file__, *flags, "--batch-size", str(args.batch_size),
        "--steps", str(args.steps), "--log-every", str(args.log_every), *overrides,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"benchmark: {' '.join(command)} failed")
    return json.loads(out.stdout)


def score_runs(runs: list[dict]) -> dict[str, dict]:
    """Each gantrain run's ratios to the origin runs around it; the median ratio per variant.

    `runs` alternate origin / gantrain / origin / ...; every gantrain run gets
    `ratio_median_window` and `ratio_whole` against the mean of its two neighbours (set in
    place), and the summary maps each variant's overrides to its ratios and their medians.
    """
    summary: dict[str, dict] = {}
    for position, run in enumerate(runs):
        if run["side"] == ORIGIN:
            continue
        around = [runs[position - 1], runs[position + 1]]
        entry = summary.setdefault(" ".join(run["overrides"]), {})
        for key in ("median_window", "whole"):
            run[f"ratio_{key}"] = run[key] / statistics.mean(r[key] for r in around)
            entry.setdefault(f"ratios_{key}", []).append(run[f"ratio_{key}"])
    for entry in summary.values():
        for key in ("median_window", "whole"):
            entry[f"median_ratio_{key}"] = statistics.median(entry[f"ratios_{key}"])
    return summary


def train_command(args: argparse.Namespace) -> dict:
    """Interleaved in one session: origin, then (gantrain variant, origin) per variant."""
    import tempfile

    # Each repeat runs every variant again, still between two origin runs, so slow drifts of
    # the machine's speed hit both sides alike; the summary is the median ratio per variant.
    variants = (args.variant or [""]) * args.repeats
    runs: list[dict] = []

    def origin() -> None:
        print("benchmark: origin loop ...", file=sys.stderr, flush=True)
        runs.append({"side": ORIGIN, **_in_subprocess(args, "--origin-run")})

    origin()
    with tempfile.TemporaryDirectory(prefix="gantrain-bench-") as scratch:
        for index, variant in enumerate(variants):
            overrides = [*variant.split(), *args.overrides]
            # The EMA's steady state unless the run sets ema_start itself (one value per key).
            if not any(o.startswith("trainer.ema_start=") for o in overrides):
                overrides = [EMA_STEADY_STATE, *overrides]
            if STEP_ALONE in overrides:
                # The step without the command around it, in its own process like the origin
                # (the marker stays in "overrides": the summary keeps the two sides apart).
                rest = [o for o in overrides if o != STEP_ALONE]
                print(f"benchmark: TrainStep alone {' '.join(rest)} ...", file=sys.stderr)
                score = _in_subprocess(args, "--step-run", overrides=rest)
                runs.append({"side": STEP_ALONE_SIDE, "overrides": overrides, **score})
            else:
                print(f"benchmark: gantrain train {' '.join(overrides)} ...", file=sys.stderr)
                score = train_command_run(args, overrides, Path(scratch) / f"run{index}")
                runs.append({"side": "gantrain train", "overrides": overrides, **score})
            origin()
    origins = [r for r in runs if r["side"] == ORIGIN]
    summary = score_runs(runs)
    return {
        "batch_size": args.batch_size,
        "steps": args.steps,
        "log_every": args.log_every,
        "repeats": args.repeats,
        "runs": runs,
        "summary": summary,
        "origin_spread": max(r["whole"] for r in origins) / min(r["whole"] for r in origins),
        "load_average": os.getloadavg(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def train_command_markdown(report: dict) -> str:
    lines = [
        f"| run (batch {report['batch_size']}, {report['steps']} steps, images/s) | median "
        "window | whole run | vs origin (median) | vs origin (whole) |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in report["runs"]:
        label = run["side"] + (f" {' '.join(run['overrides'])}" if "overrides" in run else "")
        ratios = " | "
        if "ratio_whole" in run:
            ratios = f" **{run['ratio_median_window']:.3f}** | **{run['ratio_whole']:.3f}**"
        lines.append(f"| {label} | {run['median_window']:.0f} | {run['whole']:.0f} |{ratios} |")
    if report["repeats"] > 1:
        for overrides, entry in report["summary"].items():
            lines.append(
                f"| median of {report['repeats']} ratios: {overrides} | | | "
                f"**{entry['median_ratio_median_window']:.3f}** | "
                f"**{entry['median_ratio_whole']:.3f}** |"
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
    parser.add_argument(
        "--train-command",
        action="store_true",
        help="the whole `gantrain train` command against the origin's loop (see above)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        help="with --train-command: extra train overrides of one gantrain run, as one string "
        "(repeat to compare several; default: one run of the default recipe); `@step` in it: "
        "gantrain's TrainStep alone in its own process instead of the whole command",
    )
    parser.add_argument("--steps", type=int, default=1100, help="--train-command: steps per run")
    parser.add_argument("--log-every", type=int, default=100, help="--train-command: window")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="--train-command: run the variants this many times, each between origin runs",
    )
    parser.add_argument("--origin-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--step-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the train config")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be at least 1")

    if args.origin_run:
        print(json.dumps(origin_run(args)))
        return 0
    if args.step_run:
        print(json.dumps(step_run(args)))
        return 0
    if args.train_command:
        report = train_command(args)
        print(train_command_markdown(report) if args.markdown else json.dumps(report, indent=2))
        return 0
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
