"""Plot values of runs' stats.jsonl over steps, one panel per key, one line per run.

    python scripts/plot_stats.py RUN_DIR [RUN_DIR ...] --keys aug_p aug_rt d_real \
        --output docs/ada_c2k_p.png

A run without a key (ADA's `aug_p` in a run without ADA) is left out of that key's panel.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantrain.logging.stats import read_jsonl


def read_stats(run_dir: Path) -> list[dict]:
    """The records of `run_dir`/stats.jsonl (a torn last line skipped); a one-line error
    when it is missing."""
    path = run_dir / "stats.jsonl"
    if not path.is_file():
        raise SystemExit(f"plot_stats: {path}: no such file; give a gantrain run dir")
    return read_jsonl(path)


def plot(runs: dict[str, list[dict]], keys: list[str], output: Path) -> None:
    """One panel per key (steps on x), a line per run that logged the key."""
    figure, axes = plt.subplots(len(keys), 1, figsize=(7, 2.4 * len(keys)), sharex=True)
    axes = [axes] if len(keys) == 1 else list(axes)
    for axis, key in zip(axes, keys, strict=True):
        for name, records in runs.items():
            points = [(r["step"], r[key]) for r in records if key in r]
            if points:
                axis.plot(*zip(*points, strict=True), label=name, linewidth=1)
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[-1].set_xlabel("step")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run dirs with a stats.jsonl")
    parser.add_argument("--keys", nargs="+", required=True, help="stats.jsonl keys to plot")
    parser.add_argument("--output", type=Path, required=True, help="the .png to write")
    args = parser.parse_args(argv)
    runs = {run.name: read_stats(run) for run in args.runs}
    missing = [k for k in args.keys if not any(k in r for rs in runs.values() for r in rs)]
    if missing:
        raise SystemExit(f"plot_stats: no run logged {', '.join(missing)}")
    plot(runs, args.keys, args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
