"""Train-step speed of a config relative to the default DCGAN, in one process.

On a shared machine absolute speeds drift with the load; the ratio of two configs timed in
alternating blocks does not. Multiply the ratio by the default DCGAN's unloaded speed to
budget a run (e.g. how many steps ten unloaded minutes give):

    python scripts/relative_speed.py experiment=cgan_mnist
    python scripts/relative_speed.py experiment=sngan_cifar10 dataset.path=cifar-10-python.tar.gz

`--baseline "OVERRIDES"` compares against another config instead of the default DCGAN (e.g.
BigGAN's step against SN-GAN's at the same batch size, as the README's zoo table does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import framework, time_calls
from hydra import compose, initialize_config_module

from gantrain.config import load_run_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per side")
    parser.add_argument("--blocks", type=int, default=6, help="alternating timed blocks")
    parser.add_argument("--steps-per-block", type=int, default=10)
    parser.add_argument(
        "--baseline",
        default="",
        help="Hydra overrides of the baseline, as one string (default: the default DCGAN)",
    )
    parser.add_argument("overrides", nargs="+", help="Hydra overrides of the compared config")
    args = parser.parse_args()

    sides = {}
    baseline = args.baseline.split()
    for name, overrides in (("baseline", baseline), ("config", args.overrides)):
        with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
            run = load_run_config(compose("train", overrides))
        data = run.dataset.load()
        batch = run.trainer.batch_size
        sides[name] = (framework(run, data, run.strategy.create(), batch), batch)
    for fn, _ in sides.values():
        time_calls(fn, args.warmup)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for block in range(args.blocks):
        order = list(sides) if block % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name] += time_calls(sides[name][0], args.steps_per_block)
    steps_per_sec = {name: 1.0 / statistics.median(t) for name, t in times.items()}
    report = {
        "overrides": args.overrides,
        "steps_per_sec": steps_per_sec,
        "batch_size": {name: batch for name, (_, batch) in sides.items()},
        "baseline": baseline or "default dcgan",
        "ratio_steps_per_sec": steps_per_sec["config"] / steps_per_sec["baseline"],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
