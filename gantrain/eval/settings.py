"""The `eval:` config node: protocol settings (a dataclass schema) and the evaluators.

Keys of `eval` that are settings (the fields of `EvalSettings`: `eval.num_samples`, ...) come
from `configs/eval/settings/`; every other key is an evaluator node, from the `eval` config
group (`eval=[fid,kid,is,pr]` adds `eval.fid`, `eval.kid`, ... from configs/eval/*.yaml) or
added on the command line (`+eval.mine.plugin=contrast`).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import format_omegaconf_error, structured
from gantrain.errors import ConfigError

BEST_MODES = ("auto", "min", "max")
RESIZES = ("legacy_tf", "clean")


@dataclass(frozen=True)
class NamedProtocol:
    """A sample-count / reference-set protocol as the references name it (`eval.protocol`).

    `num_real` None = every image of the split; `real_split` None = the dataset's own split.
    """

    name: str
    num_samples: int
    num_real: int | None
    real_split: str | None
    description: str
    reproduces: str


PROTOCOLS: dict[str, NamedProtocol] = {
    p.name: p
    for p in (
        NamedProtocol(
            "default",
            10_000,
            10_000,
            None,
            "10,000 generated vs a seeded random 10,000 of the dataset's split",
            "gantrain runs of the same extractor with each other",
        ),
        NamedProtocol(
            "fid50k_full",
            50_000,
            None,
            "train",
            "50,000 generated vs every image of the training split",
            "stylegan2-ada's metrics (CIFAR-10 FID 2.42) with eval.extractor=inception_fid",
        ),
        NamedProtocol(
            "fid10k_test",
            10_000,
            None,
            "test",
            "10,000 generated vs every image of the test split",
            "StudioGAN's CIFAR-10 table with eval.extractor=inception_fid",
        ),
    )
}
#: The recorded name when `eval.protocol=default` but its counts or split were changed.
CUSTOM = "custom"
PROTOCOL_KEYS = ("num_samples", "num_real", "real_split")


@dataclass
class EvalSettings:
    """Schema of the settings in `eval:` (configs/eval/settings/default.yaml explains each)."""

    protocol: str = "default"
    # None = the protocol's value (`resolve_protocol` fills them in).
    num_samples: int | None = None
    num_real: int | None = None
    real_split: str | None = None
    extractor: str = "auto"
    weights: str | None = None
    resize: str | None = None
    reference_stats: str | None = None
    classifier: str | None = None
    batch_size: int = 250
    seed: int = 0
    cache_dir: str | None = None
    best_metric: str | None = "fid"
    best_mode: str = "auto"
    # Evaluator name -> its node (_target_ or plugin, and constructor arguments).
    evaluators: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        from gantrain.eval.extractors.registry import check_extractor_name

        for key in ("num_samples", "num_real", "batch_size"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ConfigError(f"eval.{key}={value}: must be a positive number.")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"eval.protocol={self.protocol!r}: use one of {', '.join(PROTOCOLS)} "
                '(README "Evaluation" says which reproduces which paper).'
            )
        check_extractor_name(self.extractor, "eval.extractor")
        if self.resize is not None and self.resize not in RESIZES:
            raise ConfigError(f"eval.resize={self.resize!r}: use one of {', '.join(RESIZES)}.")
        self.resolve_protocol()
        if self.best_mode not in BEST_MODES:
            raise ConfigError(
                f"eval.best_mode={self.best_mode!r}: use one of {', '.join(BEST_MODES)}."
            )

    def resolve_protocol(self) -> None:
        """Fill unset counts and split from `eval.protocol`.

        A named reference protocol fixes them: a different explicit value would make its
        numbers a different metric under the same name, so it is an error. Under `default`,
        explicit values are the user's own protocol, recorded as `custom`.
        """
        named = PROTOCOLS[self.protocol]
        for key in PROTOCOL_KEYS:
            value, fixed = getattr(self, key), getattr(named, key)
            if value is None:
                setattr(self, key, fixed)
            elif self.protocol != "default" and value != fixed:
                shown = "every image of the split" if fixed is None else fixed
                raise ConfigError(
                    f"eval.{key}={value}: eval.protocol={self.protocol} fixes {key} to "
                    f"{shown}; drop eval.{key}, or use eval.protocol=default to choose your own."
                )

    @property
    def protocol_name(self) -> str:
        """The name recorded in every result: the protocol's, or `custom`."""
        named = PROTOCOLS[self.protocol]
        if all(getattr(self, k) == getattr(named, k) for k in PROTOCOL_KEYS):
            return self.protocol
        return CUSTOM

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


def check_evaluator_counts(
    settings: EvalSettings, *, num_generated: int | None = None
) -> list[str]:
    """Check every evaluator's options against the image counts, before anything is built.

    `num_generated`: images that will be scored (default `eval.num_samples`; the `eval
    images=` mode passes the file's count). Raises a one-line ConfigError for settings that
    cannot work (more IS splits than images, precision/recall's k not below the count) and
    returns one warning line per number that would mean nothing (FID/KID on a handful).
    """
    from gantrain.config import import_target
    from gantrain.eval.discovery import plugin_target

    settings.resolve_protocol()
    count = settings.num_samples if num_generated is None else num_generated
    assert count is not None
    warnings = []
    for name, node in settings.evaluators.items():
        where = f"eval.{name}"
        path = node.get("_target_")
        if path is None and node.get("plugin") is not None:
            path = plugin_target(str(node["plugin"]), where)
        if path is None:
            continue  # building it reports the missing _target_
        target = import_target(str(path), where)
        check = getattr(target, "check_counts", None)
        if check is None:
            continue
        defaults = {
            k: p.default
            for k, p in inspect.signature(target).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        options = {**defaults, **{k: v for k, v in node.items() if not k.startswith("_")}}
        try:
            found = check(options, num_generated=count, num_real=settings.num_real)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        warnings += [f"{where}: {line}" for line in found]
    return warnings
