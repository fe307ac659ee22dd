"""The evaluator protocol and a set of evaluators.

An evaluator sees generated images batch by batch (`update`) and reports scalars (`result`),
after `reset` (detectron2's `DatasetEvaluator`). Metrics that compare against the real data
get their feature extractor and the real data's statistics injected at construction, so an
evaluator never loads a network or a dataset itself, and statistics are computed from
activations (TF-GAN's `*_from_activations`).

Writing one (in gantrain or in another package)::

    class MeanBrightness(Evaluator):
        def metric_names(self):
            return ("brightness",)

        def reset(self):
            self.total, self.count = 0.0, 0

        def update(self, batch):
            self.total += float(batch.images.sum())
            self.count += batch.images.size

        def result(self):
            return {"brightness": self.total / max(self.count, 1)}

Constructor arguments come from the evaluator's YAML node; gantrain also passes, when the
constructor accepts them: `extractor` (a FeatureExtractor), `reference` (the real data's
`ReferenceStats` for that extractor, loaded on first use), `num_classes` and `conditional`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gantrain.errors import ConfigError


@dataclass
class Features:
    """Activations of one batch: `pool` float32 (N, D) and class probabilities (N, K) or None."""

    pool: np.ndarray
    probs: np.ndarray | None = None


@dataclass
class Batch:
    """Generated images float32 (N, H, W, C) in [-1, 1] and the labels asked for (N,) or None.

    `features(extractor)` runs an extractor once per batch, however many evaluators share it
    (FID, KID and precision/recall all read the same activations).
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    _features: dict[int, Features] = field(default_factory=dict, repr=False)

    def features(self, extractor: Callable[[np.ndarray], Features]) -> Features:
        key = id(extractor)
        if key not in self._features:
            self._features[key] = extractor(self.images)
        return self._features[key]


class Evaluator(abc.ABC):
    """One evaluator: `reset`, then `update` per batch, then `result`.

    `metric_names()` lists the keys `result()` returns, known before any image is seen, so a
    set can reject two evaluators reporting the same name before anything runs. `minimize`
    names the metrics where lower is better (for keeping the best checkpoint).
    """

    minimize: frozenset[str] = frozenset()

    @abc.abstractmethod
    def metric_names(self) -> tuple[str, ...]:
        """The keys of `result()`."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abc.abstractmethod
    def update(self, batch: Batch) -> None:
        """Accumulate one batch of generated images."""

    @abc.abstractmethod
    def result(self) -> dict[str, float]:
        """The metrics over everything since `reset`."""

    def protocol(self) -> dict[str, Any]:
        """How the numbers were computed (extractor, sample counts, splits, ...)."""
        return {}

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        """Before any image is drawn: raise ConfigError if these constructor `options` cannot
        work with `num_generated` generated and `num_real` real images (None: the whole
        split, size not known yet); return warnings for numbers that would mean little.

        gantrain calls it at `train` and `eval` startup, so a setting that cannot work fails
        before training starts instead of at the first evaluation.
        """
        return []


class EvaluatorSet:
    """Named evaluators run together; their metric names must not collide."""

    def __init__(self, evaluators: Mapping[str, Evaluator]) -> None:
        owner: dict[str, str] = {}
        for name, evaluator in evaluators.items():
            if not isinstance(evaluator, Evaluator):
                raise ConfigError(
                    f"eval.{name} built a {type(evaluator).__name__}, not a "
                    "gantrain.eval.base.Evaluator; check its _target_ or plugin."
                )
            for metric in evaluator.metric_names():
                if metric in owner:
                    raise ConfigError(
                        f"eval.{name} and eval.{owner[metric]} both report "
                        f"'{metric}'; drop one or give one another prefix "
                        f"(eval.{name}.prefix=...)."
                    )
                owner[metric] = name
        self.evaluators = dict(evaluators)

    def __len__(self) -> int:
        return len(self.evaluators)

    def metric_names(self) -> list[str]:
        return [m for e in self.evaluators.values() for m in e.metric_names()]

    def direction(self, metric: str) -> str:
        """'min' or 'max': how the evaluator reporting `metric` ranks it."""
        for evaluator in self.evaluators.values():
            if metric in evaluator.metric_names():
                return "min" if metric in evaluator.minimize else "max"
        raise KeyError(metric)

    def run(self, batches: Iterable[Batch]) -> dict[str, dict[str, float]]:
        """Reset, feed every batch to every evaluator, return {evaluator name: result}."""
        for evaluator in self.evaluators.values():
            evaluator.reset()
        for batch in batches:
            for evaluator in self.evaluators.values():
                evaluator.update(batch)
        results = {}
        for name, evaluator in self.evaluators.items():
            result = {k: float(v) for k, v in evaluator.result().items()}
            declared = set(evaluator.metric_names())
            if set(result) != declared:
                raise RuntimeError(
                    f"evaluator {name} ({type(evaluator).__name__}) returned "
                    f"{sorted(result)} but declared {sorted(declared)} in metric_names()"
                )
            results[name] = result
        return results

    def protocols(self) -> dict[str, dict[str, Any]]:
        return {name: e.protocol() for name, e in self.evaluators.items()}
