"""The `eval:` config node: protocol settings (a dataclass schema) plus the evaluators.

`eval.evaluators.<name>` nodes come from the `eval` config group (`eval=[fid,kid,is,pr]`
picks `configs/eval/{fid,kid,is,pr}.yaml`); the settings from `configs/eval/settings/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gantrain.config import structured
from gantrain.errors import ConfigError

EXTRACTORS = ("auto", "domain", "inception")
BEST_MODES = ("auto", "min", "max")


@dataclass
class EvalSettings:
    """Schema of `eval:` (see configs/eval/settings/default.yaml for the meaning of each key)."""

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
        for name, node in self.evaluators.items():
            if not isinstance(node, dict):
                raise ConfigError(
                    f"eval.evaluators.{name}: must be a mapping with _target_ or plugin, "
                    f"got {node!r}."
                )

    def evaluator_node(self, name: str) -> DictConfig:
        return OmegaConf.create(self.evaluators[name])


def load_eval_settings(cfg: DictConfig) -> EvalSettings:
    """Validate `cfg.eval` (a composed train/eval config); one-line ConfigError on mistakes."""
    node = cfg.get("eval")
    if node is None:
        raise ConfigError("eval: missing from the config; pick evaluators with eval=[fid,...].")
    # A mandatory value left unset (`???`, say a YOLO cfg path) fails here, naming its key.
    return structured(node, "eval", EvalSettings)
