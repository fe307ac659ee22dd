"""A run's hyperparameters for TensorBoard's HParams dashboard.

Each run writes into its `tb/` folder the values a researcher compares, and an experiment
summary saying which scalars judge a run:

- hyperparameters: the group choices by name (`generator=dcgan`, `loss=hinge`,
  `optimizer.generator=adam`; from Hydra's runtime choices, or derived from the `_target_`s
  when `train()` runs outside Hydra), then the numeric, boolean and string leaves of the
  resolved config (`optimizer.generator.lr`, `trainer.batch_size`, ...; lists of such
  values as JSON text). Left out: `_target_`s, nulls, empty strings, paths, the `logging`
  and `objective` groups, bookkeeping keys (`BOOKKEEPING`: intervals, resume, ...) and the
  `eval` group when `trainer.eval_every=0` (it is not used then).
- order: the keys a sweep varies first (the sweep overrides of `multirun.yaml` and the
  Optuna search space; marked as differing, which the dashboard sorts to the front), then the
  run's other command-line overrides, then the choices, then the rest.
- metrics: the losses and D's outputs (`tags.JUDGING`) and the evaluator results
  (`eval/<protocol>/<metric>`), not every scalar of the run.

`tensorboard --logdir <multirun dir>` then shows one row per job. Every job of a sweep writes
the same experiment summary and the dashboard reads one of them; a key only some jobs have
(a sweep over architectures) shows for the jobs that have it when the first one does.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("gantrain")

HParamValue = bool | int | float | str

#: Groups that are not hyperparameters (what a run writes and what it returns to a sweeper).
SKIPPED_GROUPS = ("hydra", "logging", "objective")
#: Keys that change how a run is recorded or resumed, not what it learns.
BOOKKEEPING = (
    "trainer.log_every",
    "trainer.sample_every",
    "trainer.checkpoint_every",
    "trainer.checkpoints_to_keep",
    "trainer.resume",
    "eval.batch_size",
    "eval.cache_dir",
    "eval.best_metric",
    "eval.best_mode",
)
#: Hydra's choices that are not hyperparameters.
SKIPPED_CHOICES = ("logging", "eval/settings", "hparams_search")


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith(("~", "."))


def _leaves(values: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, HParamValue]]:
    """The comparable leaves of a resolved config (see the module docstring)."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if str(key).startswith("_") or name in BOOKKEEPING:
            continue
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{name}.")
        elif isinstance(value, str):
            if value and not _looks_like_path(value):
                yield name, value
        elif isinstance(value, bool | int | float):
            yield name, value
        elif isinstance(value, list) and all(
            isinstance(v, bool | int | float | str) for v in value
        ):
            yield name, json.dumps(value)


def _choice_name(key: str) -> str:
    """Hydra's choice key -> the config key it fills: `optimizer@optimizer.generator` ->
    `optimizer.generator`."""
    return key.rpartition("@")[2] if "@" in key else key


def choices_from_targets(config: Mapping[str, Any]) -> dict[str, str]:
    """Group choices derived from the `_target_`s, for runs composed outside Hydra's task:
    the builder's module for `build_*` functions and `*Source` classes (`dcgan`, `mnist`),
    else the target's own name (`adam`, `non_saturating`)."""
    nodes = {key: config.get(key) for key in ("generator", "discriminator", "dataset", "loss")}
    nodes["strategy"] = config.get("strategy")
    optimizer = config.get("optimizer") or {}
    for role in ("generator", "discriminator"):
        nodes[f"optimizer.{role}"] = optimizer.get(role) if isinstance(optimizer, Mapping) else None
    choices = {}
    for key, node in nodes.items():
        target = node.get("_target_") if isinstance(node, Mapping) else None
        if not target:
            continue
        module, _, attr = str(target).rpartition(".")
        generic = attr.startswith("build") or attr.endswith("Source")
        choices[key] = module.rpartition(".")[2] if generic and module else attr
    return choices


def hydra_context() -> tuple[dict[str, str] | None, list[str], list[str]]:
    """(Hydra's group choices, the run's override keys, the keys its sweep varies), or
    (None, [], []) outside a Hydra task."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, [], []
    hydra = HydraConfig.get()
    choices = {
        _choice_name(str(k)): str(v)
        for k, v in hydra.runtime.choices.items()
        if v is not None and not str(k).startswith("hydra/") and str(k) not in SKIPPED_CHOICES
    }
    overrides = override_keys(list(hydra.overrides.task))
    swept: list[str] = []
    if hydra.mode == RunMode.MULTIRUN:
        swept = sweep_keys(Path(hydra.sweep.dir) / "multirun.yaml")
        params = OmegaConf.select(hydra, "sweeper.params")  # Optuna's search space
        if isinstance(params, Mapping):
            swept += [k for k in (_override_key(str(p)) for p in params) if k not in swept]
    return choices, overrides, swept


def _override_key(key: str) -> str:
    """`+loss.r1_gamma` -> `loss.r1_gamma`; `optimizer@optimizer.generator` ->
    `optimizer.generator`."""
    return _choice_name(key.lstrip("+~"))


def override_keys(overrides: Sequence[str]) -> list[str]:
    """The config keys of command-line overrides (`a.b=1` -> `a.b`), Hydra's own left out."""
    keys = []
    for override in overrides:
        key = _override_key(re.split(r"=", str(override), maxsplit=1)[0])
        if key and not key.startswith("hydra.") and key not in keys:
            keys.append(key)
    return keys


def sweep_keys(multirun_yaml: Path) -> list[str]:
    """The keys a basic sweep varies (`a=1,2`, `range(...)`, `choice(...)`): read from the
    `multirun.yaml` Hydra writes into the sweep dir before the first job starts."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        saved = OmegaConf.load(multirun_yaml)
        task = list(OmegaConf.select(saved, "hydra.overrides.task") or [])
        parsed = OverridesParser.create().parse_overrides(task)
    except Exception as error:  # an unreadable file only loses the ordering
        log.debug("cannot read the sweep's overrides from %s: %s", multirun_yaml, error)
        return []
    keys = []
    for override in parsed:
        if override.is_sweep_override():
            key = _override_key(override.get_key_element())
            if key not in keys:
                keys.append(key)
    return keys


def run_hparams(
    config: DictConfig,
    *,
    choices: Mapping[str, str] | None = None,
    first: Sequence[str] = (),
) -> dict[str, HParamValue]:
    """The hyperparameters of a run, in dashboard order: the keys of `first` that the run
    has, then the group `choices` (default: derived from the `_target_`s), then the leaves."""
    values = OmegaConf.to_container(config, resolve=True)
    assert isinstance(values, dict)
    for group in SKIPPED_GROUPS:
        values.pop(group, None)
    if not (values.get("trainer") or {}).get("eval_every"):
        values.pop("eval", None)
    picked: dict[str, HParamValue] = dict(
        choices_from_targets(values) if choices is None else choices
    )
    picked.update(_leaves(values))
    ordered = {key: picked[key] for key in first if key in picked}
    ordered.update((k, v) for k, v in picked.items() if k not in ordered)
    return ordered


def experiment_summary(
    values: Mapping[str, HParamValue],
    *,
    metrics: Sequence[tuple[str, str]],
    swept: Iterable[str] = (),
) -> Any:
    """The HParams plugin's experiment summary (a `Summary` proto): the hyperparameters
    `values` (those in `swept` marked as differing) and the `metrics` as (tag, description)."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    swept = set(swept)
    types = {bool: api_pb2.DATA_TYPE_BOOL, str: api_pb2.DATA_TYPE_STRING}
    experiment = api_pb2.Experiment(
        hparam_infos=[
            api_pb2.HParamInfo(
                name=name,
                type=types.get(type(value), api_pb2.DATA_TYPE_FLOAT64),
                differs=name in swept,
            )
            for name, value in values.items()
        ],
        metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), description=text)
            for tag, text in metrics
        ],
    )
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.EXPERIMENT_TAG,
        metadata=metadata.create_summary_metadata(
            plugin_data_pb2.HParamsPluginData(experiment=experiment)
        ),
        tensor=metadata.NULL_TENSOR,
    )
    return summary
