"""What the safe checkpoint write costs: gantrain's save (write, read back, publish, fsync)
against tf.train.CheckpointManager.save on the same state, alternating, median seconds.

    python scripts/checkpoint_cost.py [--repeats 10] [hydra overrides of the train config]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    import tensorflow as tf
    from hydra import compose, initialize_config_module

    from gantrain.checkpointing import Checkpoints
    from gantrain.config import load_run_config
    from gantrain.training.build import build_state

    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        run = load_run_config(compose(config_name="train", overrides=args.overrides))
    state = build_state(run, run.dataset.spec())
    parts = (state.generator, state.discriminator, state.g_optimizer, state.d_optimizer)
    size = sum(v.numpy().nbytes for part in parts for v in part.variables)
    times: dict[str, list[float]] = {"CheckpointManager.save": [], "gantrain Checkpoints.save": []}
    with tempfile.TemporaryDirectory() as root:
        ours = Checkpoints(state.checkpoint(), Path(root) / "ours", step=state.step, max_to_keep=2)
        manager = tf.train.CheckpointManager(
            state.checkpoint(), str(Path(root) / "tf"), max_to_keep=2, step_counter=state.step
        )
        for repeat in range(args.repeats + 1):
            state.step.assign(repeat)
            for name, save in (
                ("CheckpointManager.save", manager.save),
                ("gantrain Checkpoints.save", ours.save),
            ):
                started = time.perf_counter()
                save()
                if repeat:  # the first round warms up both
                    times[name].append(time.perf_counter() - started)
    baseline = statistics.median(times["CheckpointManager.save"])
    print(f"state: {size / 2**20:.1f} MiB, {args.repeats} saves each")
    print("| save | median seconds | ratio |\n|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
