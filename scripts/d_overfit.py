"""How much a run's discriminator has overfit its training images, checkpoint by checkpoint.

The measure of Karras et al. 2020 (ADA), Fig. 1b: D's outputs on the training reals, on real
images of the same distribution that D never saw (a held-out set) and on generated images.
While D generalizes, training and held-out reals score alike; once it memorizes the training
set, held-out reals drift toward the fakes' side. For each checkpoint the script prints one
JSON line: per set the mean logit and the mean sign (ADA's r_t heuristic on that set), and
`gap_logit` / `gap_sign` = train minus held-out (0 while D generalizes).

D is called in inference mode on un-augmented images (the paper's figure is for a run without
augmentation; for an ADA run it shows what D makes of clean images). Fakes come from the raw
generator (what D is trained against), latents seeded by `--seed`.

    python scripts/d_overfit.py /work/runs/noada --checkpoints ckpt-3000 ckpt-7000 \\
        --held-out dataset=cifar10 dataset.path=cifar-10-python.tar.gz dataset.split=test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantrain.tfimport import import_tensorflow_quietly

import_tensorflow_quietly()

import tensorflow as tf  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402

from gantrain.checkpointing import checkpoint_step, find_checkpoint, restore_into  # noqa: E402
from gantrain.config import load_run_config  # noqa: E402
from gantrain.data.base import LoadedDataset  # noqa: E402
from gantrain.errors import ConfigError  # noqa: E402
from gantrain.eval.extractors.base import batched  # noqa: E402
from gantrain.eval.reference import image_float  # noqa: E402
from gantrain.tasks.sample import run_checkpoint, trained_config  # noqa: E402
from gantrain.training.build import build_discriminator, build_generator  # noqa: E402


def pick(data: LoadedDataset, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` (image float32 in [-1, 1], label int32) rows of `data`, a seeded random pick."""
    if count > len(data.images):
        raise ConfigError(
            f"--num {count}: the dataset {data.spec.name} has {len(data.images)} images; "
            "lower --num"
        )
    rows = np.random.default_rng(seed).choice(len(data.images), count, replace=False)
    images = image_float(data.images[rows])
    labels = np.zeros(count, np.int32) if data.labels is None else data.labels[rows]
    return images, labels.astype(np.int32)


def scores(discriminator, images: np.ndarray, labels: np.ndarray, batch: int) -> np.ndarray:
    """D's logits (N,) for images (N, H, W, C), batch by batch (no augmentation)."""
    conditional = int(getattr(discriminator, "num_classes", 0)) > 0
    out = []
    for x, y in zip(batched(images, batch), batched(labels, batch), strict=True):
        logits = discriminator([x, y] if conditional else x, training=False)
        logits = logits[0] if isinstance(logits, list | tuple) else logits
        out.append(np.asarray(logits, np.float32).reshape(-1))
    return np.concatenate(out)


def generated(generator, count: int, num_classes: int, seed: int, batch: int):
    """(images in [-1, 1], labels) from the raw generator with seeded latents."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((count, generator.latent_dim), dtype=np.float32)
    labels = rng.integers(0, max(num_classes, 1), count).astype(np.int32)
    images = [
        np.asarray(generator([zb, yb] if num_classes else zb, training=False), np.float32)
        for zb, yb in zip(batched(z, batch), batched(labels, batch), strict=True)
    ]
    return np.concatenate(images), labels


def summary(logits: np.ndarray) -> dict[str, float]:
    return {"mean_logit": float(logits.mean()), "mean_sign": float(np.sign(logits).mean())}


def measure(args: argparse.Namespace) -> list[dict]:
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        held_out_run = load_run_config(compose("train", args.held_out))
    held_out = held_out_run.dataset.load()
    records = []
    reals = None  # the same seeded picks for every checkpoint
    for name in args.checkpoints:
        prefix = find_checkpoint(run_checkpoint(args.run_dir, name))
        run = load_run_config(trained_config(Path(args.run_dir), prefix))
        if reals is None:
            train_data = run.dataset.load()
            if held_out.images.shape[1:] != train_data.images.shape[1:]:
                raise ConfigError(
                    f"--held-out images are {held_out.images.shape[1:]}, the run's "
                    f"{train_data.images.shape[1:]}: give a held-out set of the same shape"
                )
            reals = {
                "train": pick(train_data, args.num, args.seed),
                "held_out": pick(held_out, args.num, args.seed),
            }
        spec = run.dataset.spec()
        generator = build_generator(run, spec)
        discriminator = build_discriminator(run, spec)
        restore_into(
            tf.train.Checkpoint(generator=generator, discriminator=discriminator),
            prefix,
            complete=False,
        )
        num_classes = int(getattr(generator, "num_classes", 0) or 0)  # 0: unconditional G
        sets = {**reals, "fake": generated(generator, args.num, num_classes, args.seed, args.batch)}
        result = {
            key: summary(scores(discriminator, images, labels, args.batch))
            for key, (images, labels) in sets.items()
        }
        record = {
            "checkpoint": prefix,
            "step": checkpoint_step(prefix),
            "num": args.num,
            **result,
            "gap_logit": result["train"]["mean_logit"] - result["held_out"]["mean_logit"],
            "gap_sign": result["train"]["mean_sign"] - result["held_out"]["mean_sign"],
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoints", nargs="+", required=True, help="ckpt-N names or paths")
    parser.add_argument(
        "--held-out",
        nargs="+",
        required=True,
        help="Hydra dataset overrides of real images D never saw (same shape as the run's)",
    )
    parser.add_argument("--num", type=int, default=2000, help="images per set")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        measure(args)
    except ConfigError as error:
        print(f"d_overfit: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
