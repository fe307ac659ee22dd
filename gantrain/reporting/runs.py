"""Reading run dirs for a report: which runs a folder holds, and what each one logged.

A run dir is recognised by `.hydra/overrides.yaml` (every `train` launch writes it) or by its
stats file. A run contributes its overrides, its `stats.jsonl` (losses, D(x), D(G(z)),
images/s, wall time), any `metric-<name>.jsonl` an evaluator wrote (one record per
evaluation: `step` plus numeric values such as `fid`), its latest sample grid and real grid
(`samples/`); a job that failed in a sweep contributes its `failure.json`.

Status of a run (`RunSummary.status`):

- `running`: a live process holds the run dir's lock (`gantrain.run_lock`; the operating
  system drops it when that process ends, however it ends);
- `failed: <message>`: it has a `failure.json` (a sweep job that failed);
- `done`: its last logged step reached its target, `trainer.max_steps` or the step
  `trainer.max_kimg` binds at (from `.hydra/config.yaml`, the latest launch's config);
  `done (max_time)`: it stopped short of that after `trainer.max_time` of training;
- `interrupted at N/M`: it stopped at step N of M for any other reason (Ctrl-C, a kill, a
  crash, a diverged loss), and is resumable from its latest checkpoint;
- `no stats`: it logged nothing.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

import gantrain.recipes  # noqa: F401  (registers the recipes' resolvers)
from gantrain.budget import parse_max_time, target_steps
from gantrain.errors import ConfigError
from gantrain.logging.stats import read_jsonl
from gantrain.sweeps import FAILURE_FILE, read_failure

Curve = list[tuple[int, float]]

DEFAULT_STATS_FILE = "stats.jsonl"
LOSS_CURVES = ("g_loss", "d_loss")
#: What D says about real and generated images (`d_real` = D(x), `d_fake` = D(G(z))).
D_CURVES = ("d_real", "d_fake")
STATS_CURVES = LOSS_CURVES + D_CURVES


@dataclass
class RunSummary:
    """One run of a report. Times in seconds; curves map a metric to (step, value) pairs."""

    path: Path
    name: str
    overrides: list[str]
    failure: str | None = None
    steps: int | None = None
    wall_time_sec: float | None = None
    images_per_sec: float | None = None
    curves: dict[str, Curve] = field(default_factory=dict)
    objective: dict[str, Any] = field(default_factory=dict)
    #: The curves that came from evaluators (`metric-*.jsonl`), which can rank runs.
    eval_metrics: set[str] = field(default_factory=set)
    #: The step the run trains to (None when its config is unknown).
    target_steps: int | None = None
    #: `trainer.max_time` in seconds, None when unlimited.
    max_time: float | None = None
    running: bool = False
    #: The latest `samples/step_NNNNNN.png` and `samples/real.png`, when they exist.
    final_grid: Path | None = None
    real_grid: Path | None = None

    @property
    def status(self) -> str:
        progress = f"{self.steps or 0}/{self.target_steps}" if self.target_steps else ""
        if self.running:
            return f"running at {progress}" if progress else "running"
        if self.failure is not None:
            return f"failed: {self.failure}"
        if self.steps is None:
            return "no stats"
        if self.target_steps is None or self.steps >= self.target_steps:
            return "done"
        timed_out = self.max_time is not None and (self.wall_time_sec or 0.0) >= self.max_time
        return "done (max_time)" if timed_out else f"interrupted at {progress}"


def _number(value: Any) -> float | None:
    """A JSON value as a float ('nan'/'inf' strings included), or None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf", "infinity"):
        return float(value)
    return None


def _natural_key(path: Path) -> list[Any]:
    """Sort key that puts job 10 after job 9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def _is_run(path: Path) -> bool:
    return (path / ".hydra" / "overrides.yaml").exists() or any(
        (path / name).exists() for name in (DEFAULT_STATS_FILE, FAILURE_FILE)
    )


def find_runs(root: str | os.PathLike) -> list[Path]:
    """The run dirs at or under `root` (a run dir or a sweep dir), in job order."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dir={root}: no such folder; give a run dir or a multirun dir.")
    if _is_run(root):
        return [root]
    runs = set()
    for dirpath, dirnames, _ in os.walk(root):
        # Hidden folders (.hydra, .submitit) are never runs; runs hold no other runs.
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if _is_run(Path(dirpath)):
            runs.add(Path(dirpath))
            dirnames[:] = []
    if not runs:
        raise ConfigError(
            f"dir={root}: no runs found (no .hydra/overrides.yaml or stats.jsonl at or under it); "
            "give a train run dir or a multirun dir."
        )
    return sorted(runs, key=_natural_key)


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ".hydra" / "config.yaml"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as file:  # a stream: YAML errors name the file
        loaded = yaml.safe_load(file)
    return loaded if isinstance(loaded, dict) else {}


def _curves_from(records: list[dict[str, Any]], skip: tuple[str, ...] = ("step",)) -> dict:
    curves: dict[str, Curve] = {}
    for record in records:
        step = record.get("step")
        if not isinstance(step, int):
            continue
        for key, raw in record.items():
            value = _number(raw)
            if key not in skip and value is not None:
                curves.setdefault(key, []).append((step, value))
    return curves


def is_running(run_dir: Path) -> bool:
    """Whether a live process holds the run dir's lock (see `gantrain.run_lock`).

    A cleanly released lock file is empty, so only a file naming an owner (a live one, or one
    killed with -9) is tested, with a shared non-blocking lock released at once.
    """
    import fcntl

    from gantrain.run_lock import LOCK_FILE

    path = run_dir / LOCK_FILE
    try:
        if not path.read_text(encoding="utf-8").strip():
            return False
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)  # closing drops the shared lock if it was taken
    return False


def _trainer(config: dict[str, Any]) -> dict[str, Any]:
    """The saved config's `trainer` node with its interpolations resolved against the whole
    config (a recipe's `${gantrain.stylegan2_ada_auto:batch_size}` needs dataset.resolution);
    the node as saved when it does not resolve."""
    trainer = config.get("trainer") or {}
    try:
        resolved = OmegaConf.to_container(OmegaConf.create(config).trainer, resolve=True)
    except (OmegaConfBaseException, ValueError, TypeError, AttributeError):
        return trainer
    return resolved if isinstance(resolved, dict) else trainer


def _budget(config: dict[str, Any]) -> tuple[int | None, float | None]:
    """(target step, max_time seconds) of a run's saved config; (None, None) if unknown."""
    trainer = _trainer(config)
    try:
        steps = target_steps(
            int(trainer["max_steps"]),
            float(trainer.get("max_kimg") or 0.0),
            int(trainer.get("batch_size") or 1),
            int(trainer.get("n_critic") or 1),
        )
        max_time = parse_max_time(trainer.get("max_time"))
    except (KeyError, TypeError, ValueError, ConfigError):
        return None, None
    return steps, max_time


def _grids(run_dir: Path) -> tuple[Path | None, Path | None]:
    samples = run_dir / "samples"
    steps = sorted(samples.glob("step_*.png"), key=_natural_key)
    real = samples / "real.png"
    return (steps[-1] if steps else None), (real if real.exists() else None)


def summarize(run_dir: Path, root: Path) -> RunSummary:
    """Everything a report shows about one run."""
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = []
    if overrides_file.exists():
        with overrides_file.open(encoding="utf-8") as file:
            overrides = [str(o) for o in yaml.safe_load(file) or []]
    config = _config(run_dir)
    stats_file = (config.get("logging") or {}).get("stats_file") or DEFAULT_STATS_FILE
    failure = read_failure(run_dir)
    name = str(run_dir.relative_to(root)) if run_dir != root else run_dir.name
    summary = RunSummary(
        path=run_dir,
        name=name,
        overrides=overrides,
        failure=failure.get("message", "?") if failure else None,
        objective=config.get("objective") or {},
        running=is_running(run_dir),
    )
    summary.target_steps, summary.max_time = _budget(config)
    summary.final_grid, summary.real_grid = _grids(run_dir)
    stats = read_jsonl(run_dir / stats_file) if (run_dir / stats_file).exists() else []
    if stats:
        last = stats[-1]
        summary.steps = int(last.get("step", 0))
        summary.wall_time_sec = _number(last.get("elapsed_sec"))
        # The first interval includes tracing the tf.function; leave it out when there are more.
        speeds = [_number(r.get("images_per_sec")) for r in stats[1:] or stats]
        speeds = [s for s in speeds if s is not None and math.isfinite(s) and s > 0]
        summary.images_per_sec = statistics.median(speeds) if speeds else None
        all_curves = _curves_from(stats)
        summary.curves = {k: all_curves[k] for k in STATS_CURVES if k in all_curves}
    for path in sorted(run_dir.glob("metric-*.jsonl")):
        for key, curve in _curves_from(read_jsonl(path)).items():
            if key not in summary.curves:
                summary.curves[key] = curve
                summary.eval_metrics.add(key)
    return summary


def collect(root: str | os.PathLike) -> list[RunSummary]:
    """Summaries of every run at or under `root`."""
    root = Path(root)
    return [summarize(run, root) for run in find_runs(root)]


def label_runs(runs: list[RunSummary]) -> tuple[list[str], list[str]]:
    """(a label per run: the overrides that differ between runs; the overrides all share).

    A sweep's jobs share most overrides (dataset, model size, ...); the label keeps what was
    swept. A run without differing overrides is labelled by its folder name.
    """
    if not runs:
        return [], []
    common = [o for o in runs[0].overrides if all(o in r.overrides for r in runs[1:])]
    if len(runs) == 1:
        common = []
    labels = []
    for run in runs:
        own = [o for o in run.overrides if o not in common]
        labels.append(" ".join(own) if own else run.name)
    return labels, common
