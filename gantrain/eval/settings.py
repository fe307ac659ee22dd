"""The `eval:` config node: protocol settings (a dataclass schema) and the evaluators.

Keys of `eval` that are settings (the fields of `EvalSettings`: `eval.num_samples`, ...) come
from `configs/eval/settings/`; every other key is an evaluator node, from the `eval` config
group (`eval=[fid,kid,is,pr]` adds `eval.fid`, `eval.kid`, ... from configs/eval/*.yaml) or
added on the command line (`+eval.mine.plugin=contrast`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import format_omegaconf_error, structured
from gantrain.errors import ConfigError

EXTRACTORS = ("auto", "domain", "inception")
BEST_MODES = ("auto", "min", "max")


@dataclass
class EvalSettings:
    """Schema of the settings in `eval:` (configs/eval/settings/default.yaml explains each)."""

    num_samples: int = 10_000
    num_real: int = 10_000
    real_split: str | None = None
    extractor: str = "auto"
    weights: str | None = None
    classifier: str | None = None
    batch_size: int = 250
    seed: int = 0
    cache_dir: str | None = None
    best_metric: str | None = "fid"
    best_mode: str = "auto"
    # Evaluator name -> its node (_target_ or plugin, and constructor arguments).
    evaluators: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        for key in ("num_samples", "num_real", "batch_size"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"eval.{key}={getattr(self, key)}: must be a positive number.")
        if self.extractor not in EXTRACTORS:
            raise ConfigError(
                f"eval.extractor={self.extractor!r}: use one of {', '.join(EXTRACTORS)}."
            )
        if self.best_mode not in BEST_MODES:
            raise ConfigError(
                f"eval.best_mode={self.best_mode!r}: use one of {', '.join(BEST_MODES)}."
            )

    def evaluator_node(self, name: str) -> DictConfig:
        return OmegaConf.create(self.evaluators[name])


SETTINGS = tuple(f.name for f in dataclasses.fields(EvalSettings) if f.name != "evaluators")


def load_eval_settings(cfg: DictConfig) -> EvalSettings:
    """Validate `cfg.eval` (a composed train/eval config); one-line ConfigError on mistakes."""
    node = cfg.get("eval")
    if not isinstance(node, DictConfig):
        raise ConfigError("eval: missing from the config; pick evaluators with eval=[fid,...].")
    settings = structured(
        OmegaConf.masked_copy(node, [k for k in node if k in SETTINGS]), "eval", EvalSettings
    )
    for name in node:
        if name in SETTINGS:
            continue
        value = node._get_node(name)
        if not isinstance(value, DictConfig):
            raise ConfigError(
                f"eval.{name}={value}: neither a setting (those are {', '.join(SETTINGS)}) nor "
                "an evaluator (a mapping with _target_ or plugin)."
            )
        try:
            # A mandatory value left unset (`???`, say a YOLO cfg path) fails here.
            settings.evaluators[name] = OmegaConf.to_container(
                value, resolve=True, throw_on_missing=True
            )
        except OmegaConfBaseException as error:
            raise ConfigError(format_omegaconf_error(error, "", [])) from error
    return settings
