"""Feature extractors by name: one YAML per extractor in configs/eval/extractor/.

`eval.extractor=NAME` (and an evaluator's own `extractor: NAME`) picks
`configs/eval/extractor/NAME.yaml`, whose `_target_` is the extractor's class (or a function
returning one) and whose other keys are its constructor arguments. Adding an extractor is one
Python file and one YAML file. The YAML files ship with gantrain and are looked up by name
only, so a run dir's config can pick an extractor but never name code to run.

Besides its YAML arguments, an extractor's constructor receives, when it accepts them, the
values of the run it serves (`PROVIDED`): `weights` (`eval.weights`), `classifier`
(`eval.classifier`), `resize` (`eval.resize`), `dataset` (the dataset's name) and `cache`
(gantrain's cache folder, a Path). Batch sizes are the YAML's: they depend on the network's
memory, not on `eval.batch_size` (the generator's).
"""

from __future__ import annotations

import inspect
from importlib import resources
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gantrain.config import build, check_target_arguments
from gantrain.errors import ConfigError
from gantrain.eval.extractors.base import FeatureExtractor

PROVIDED = ("weights", "classifier", "resize", "dataset", "cache")
#: Not a YAML file: picks domain for grayscale data and inception_fid for RGB.
AUTO = "auto"


def _folder():
    return resources.files("gantrain.configs") / "eval" / "extractor"


def extractor_names() -> list[str]:
    """`auto` and the name of every shipped extractor YAML."""
    names = sorted(e.name[: -len(".yaml")] for e in _folder().iterdir() if e.name.endswith(".yaml"))
    return [AUTO, *names]


def check_extractor_name(name: str, where: str) -> None:
    """One-line ConfigError unless `name` is `auto` or a shipped extractor."""
    names = extractor_names()
    if name not in names:
        raise ConfigError(f"{where}={name!r}: use one of {', '.join(names)}.")


def extractor_node(name: str) -> DictConfig:
    """The YAML node of extractor `name` (`_target_` + constructor arguments)."""
    check_extractor_name(name, "eval.extractor")
    node = OmegaConf.create((_folder() / f"{name}.yaml").read_text(encoding="utf-8"))
    if not isinstance(node, DictConfig):
        raise ConfigError(f"configs/eval/extractor/{name}.yaml: must be a mapping with _target_.")
    return node


def build_extractor(name: str, *, strict: bool = True, **context: Any) -> FeatureExtractor:
    """Build extractor `name`; `context` holds the `PROVIDED` values (None = not set).

    `strict` (for `eval.extractor` itself): a setting the extractor does not take is an error
    when it is set (say `eval.resize=clean` with an extractor that has one fixed resize), so
    it is never silently ignored. A second extractor an evaluator picks for itself
    (`eval.kid.extractor=domain`) is not strict: the settings serve `eval.extractor`.
    """
    where = f"eval.extractor={name}"
    node = extractor_node(name)
    target = check_target_arguments(node, where, PROVIDED)
    params = inspect.signature(target).parameters
    for key in ("resize", "weights", "classifier"):
        if strict and context.get(key) is not None and key not in params:
            raise ConfigError(
                f"eval.{key}={context[key]}: extractor {name} takes no {key} setting; "
                f"unset it or pick an extractor that does."
            )
    provided = {k: v for k, v in context.items() if k in params and v is not None}
    extractor = build(node, where, **provided)
    if not isinstance(extractor, FeatureExtractor):
        raise ConfigError(f"{where}: {node._target_} did not build a FeatureExtractor.")
    return extractor
