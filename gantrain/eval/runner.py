"""Scoring generated images: evaluators built from `eval:`, fed batch by batch, recorded.

`Evaluation` owns what evaluators share: the real data (`RealData`, statistics cached per
extractor), the feature extractors (built once, on first use) and the `EvaluatorSet`. The
`eval` command and the training callback both use it, so a number means the same thing in
`metric-<name>.jsonl` whichever wrote it.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, open_dict

from gantrain.config import build, check_target_arguments
from gantrain.data.base import DatasetSource
from gantrain.data.npz import read_npz_arrays
from gantrain.errors import ConfigError, DatasetError
from gantrain.eval.base import Batch, Evaluator, EvaluatorSet
from gantrain.eval.discovery import plugin_target
from gantrain.eval.extractors.base import FeatureExtractor
from gantrain.eval.extractors.registry import build_extractor, check_extractor_name
from gantrain.eval.reference import RealData, ReferenceStats, cache_dir, read_reference_stats
from gantrain.eval.settings import EvalSettings
from gantrain.logging.stats import JsonlWriter
from gantrain.paths import inside_run_dir

log = logging.getLogger("gantrain")

# Arguments gantrain passes to evaluator constructors that accept them.
PROVIDED = ("extractor", "reference", "num_classes", "conditional")


class Evaluation:
    """The evaluators of `settings` for images like `dataset`'s.

    `num_classes`: classes of the generator (0 = unconditional); `conditional`: whether
    batches carry the labels the images were generated for.
    """

    def __init__(
        self,
        settings: EvalSettings,
        dataset: DatasetSource,
        *,
        num_classes: int,
        conditional: bool,
    ) -> None:
        settings.resolve_protocol()  # idempotent; settings built in code skip check()
        self.settings = settings
        self.cache = cache_dir(settings.cache_dir)
        self.num_classes = num_classes
        self.conditional = conditional
        real_source = dataset
        if settings.real_split:
            real_source = dataclasses.replace(dataset, split=settings.real_split)
            try:
                real_source.check()
            except ConfigError as error:
                raise ConfigError(f"eval.real_split: {error}") from None
        self.dataset = real_source
        self.channels = int(dataset.spec().image_shape[-1])
        self.real = RealData(
            real_source,
            num_real=settings.num_real,
            seed=settings.seed,
            cache=self.cache,
            batch_size=settings.batch_size,
        )
        self._extractors: dict[str, FeatureExtractor] = {}
        # eval.reference_stats: published moments (mu, sigma) instead of the dataset's images.
        self.published: ReferenceStats | None = None
        self.published_protocol: dict[str, Any] = {}
        if settings.reference_stats:
            self.published, self.published_protocol = read_reference_stats(settings.reference_stats)
        if not settings.evaluators:
            raise ConfigError("eval: no evaluators chosen; pick some with eval=[fid,kid,is,pr].")
        self.evaluators = EvaluatorSet(
            {name: self._build(name, settings.evaluator_node(name)) for name in settings.evaluators}
        )

    def extractor_name(self, name: str | None) -> str:
        """`auto` -> `domain` for grayscale (MNIST-like) data, `inception_fid` for RGB."""
        name = name or self.settings.extractor
        if name == "auto":
            return "domain" if self.channels == 1 else "inception_fid"
        return name

    def extractor(self, name: str | None = None) -> FeatureExtractor:
        """The extractor `name` (default: `eval.extractor`), built on first use from
        configs/eval/extractor/<name>.yaml."""
        name = self.extractor_name(name)
        if name not in self._extractors:
            extractor = build_extractor(
                name,
                strict=name == self.extractor_name(None),
                weights=self.settings.weights,
                classifier=self.settings.classifier,
                resize=self.settings.resize,
                dataset=self.dataset.name,
                cache=self.cache,
            )
            log.info("feature extractor %s: %s", name, extractor.describe()["weights"])
            self._extractors[name] = extractor
        return self._extractors[name]

    def reference(self, extractor: FeatureExtractor) -> ReferenceStats:
        """The real data's statistics for `extractor`: computed (cached) from the dataset, or
        the published moments of `eval.reference_stats` (checked against its dimension)."""
        if self.published is None:
            return self.real.stats(extractor)
        return self.published

    def _build(self, name: str, node: DictConfig) -> Evaluator:
        where = f"eval.{name}"
        with open_dict(node):
            plugin = node.pop("plugin", None)
            extractor_name = node.pop("extractor", None)
            if plugin is not None:
                if "_target_" in node:
                    raise ConfigError(f"{where}: give _target_ or plugin, not both.")
                node["_target_"] = plugin_target(str(plugin), where)
        if "_target_" not in node:
            raise ConfigError(
                f"{where}: needs _target_ (an Evaluator class path) or plugin (the name of an "
                "installed evaluator; see `python -m gantrain list-plugins`)."
            )
        target = check_target_arguments(node, where, PROVIDED)
        params = inspect.signature(target).parameters
        if extractor_name is not None and "extractor" not in params:
            raise ConfigError(f"{where}.extractor: {node._target_} takes no feature extractor.")
        if extractor_name is not None:
            check_extractor_name(str(extractor_name), f"{where}.extractor")
        if (
            self.published is not None
            and "reference" in params
            and getattr(target, "requires_real_features", True)
        ):
            raise ConfigError(
                f"{where}: needs the real images' features, but eval.reference_stats="
                f"{self.settings.reference_stats} holds only mu/sigma; with reference_stats "
                "pick FID alone (eval=fid), or drop eval.reference_stats."
            )
        provided: dict[str, Any] = {}
        if "extractor" in params or "reference" in params:
            extractor = self.extractor(extractor_name)
            provided["extractor"] = extractor
            provided["reference"] = lambda: self.reference(extractor)
        provided["num_classes"] = self.num_classes
        provided["conditional"] = self.conditional
        return build(node, where, **{k: v for k, v in provided.items() if k in params})

    def score(self, batches: Iterable[Batch]) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
        """({evaluator name: metrics}, protocol) over all `batches`."""
        seen = 0

        def counted() -> Iterator[Batch]:
            nonlocal seen
            for batch in batches:
                seen += len(batch.images)
                yield batch

        results = self.evaluators.run(counted())
        return results, self.protocol(seen)

    def tag_name(self) -> str:
        """`<protocol>_<extractor>` (`fid50k_full_inception_fid`, `default_domain`): the
        TensorBoard group of the metrics (`eval/<tag name>/fid`). Both parts are in it, since
        numbers of another protocol or another network are another metric."""
        return f"{self.settings.protocol_name}_{self.extractor_name(None)}"

    def protocol(self, num_generated: int) -> dict[str, Any]:
        protocol: dict[str, Any] = {
            "name": self.settings.protocol_name,
            "num_generated": num_generated,
            "seed": self.settings.seed,
        }
        if self.published is not None:
            protocol["reference_stats"] = self.published_protocol
        elif self.real.loaded:
            protocol.update(self.real.protocol())
        default = self.extractor_name(None)
        if default in self._extractors:
            described = self._extractors[default].describe()
            protocol.update({k: described[k] for k in ("extractor", "weights", "resize")})
        protocol["evaluators"] = self.evaluators.protocols()
        return protocol


def generated_batches(
    sampler: Any, *, num_samples: int, batch_size: int, seed: int
) -> Iterator[Batch]:
    """`num_samples` images from a `Sampler`, latents (and balanced labels for a
    class-conditional generator) drawn with `seed`, so every evaluation of a run sees the
    same latents and differences come from the weights alone."""
    rng = np.random.default_rng(seed)
    latents = rng.standard_normal((num_samples, sampler.latent_dim), dtype=np.float32)
    labels = None
    if sampler.num_classes:
        labels = rng.permutation(np.arange(num_samples) % sampler.num_classes).astype(np.int32)
    for start in range(0, num_samples, batch_size):
        part = slice(start, start + batch_size)
        part_labels = None if labels is None else labels[part]
        images = sampler.generate(latents[part], part_labels, batch_size=batch_size)
        yield Batch(images, part_labels)


IMAGES_LAYOUT = (
    "an .npz with `images` (N, H, W, C), uint8 in [0, 255] or float in [-1, 1], and optional "
    "`labels` (N,) int, as `python -m gantrain sample output=FILE.npz` writes"
)


def load_images(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images float32 (N, H, W, C) in [-1, 1] and labels (N,) int32 or None from an .npz."""
    path = Path(path).expanduser()
    arrays = read_npz_arrays(
        path, ("images",), optional=("labels",), layout=IMAGES_LAYOUT, setting="images"
    )
    images, labels = arrays["images"], arrays.get("labels")
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise DatasetError(
            f"images={path}: `images` has shape {images.shape}; expected {IMAGES_LAYOUT}."
        )
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 127.5 - 1.0
    elif np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
        finite = np.isfinite(images)
        if not finite.all():
            count = int(finite.size - np.count_nonzero(finite))
            index, y, x, c = (int(i) for i in np.argwhere(~finite)[0])
            raise DatasetError(
                f"images={path}: {count} value{'s are' if count > 1 else ' is'} NaN or "
                "infinite, the first "
                f"{images[index, y, x, c]} at image {index}, pixel (y={y}, x={x}), channel {c}; "
                f"expected {IMAGES_LAYOUT}."
            )
        low, high = float(images.min()), float(images.max())
        if low < -1.001 or high > 1.001:
            raise DatasetError(
                f"images={path}: float values span [{low:.3g}, {high:.3g}], outside [-1, 1]; "
                f"expected {IMAGES_LAYOUT}."
            )
        images = np.clip(images, -1.0, 1.0)
    else:
        raise DatasetError(f"images={path}: `images` is {images.dtype}; expected {IMAGES_LAYOUT}.")
    if labels is not None:
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(
                f"images={path}: `labels` is {labels.dtype} {labels.shape}, expected int "
                f"({len(images)},); expected {IMAGES_LAYOUT}."
            )
        labels = labels.astype(np.int32)
    return images, labels


def image_batches(
    images: np.ndarray, labels: np.ndarray | None, batch_size: int
) -> Iterator[Batch]:
    for start in range(0, len(images), batch_size):
        part = slice(start, start + batch_size)
        yield Batch(images[part], None if labels is None else labels[part])


def flat_record(results: Mapping[str, Mapping[str, float]], protocol: dict[str, Any]) -> dict:
    """One object: every metric by name, plus the protocol."""
    record: dict[str, Any] = {k: v for metrics in results.values() for k, v in metrics.items()}
    record["protocol"] = protocol
    return record


def append_metric_files(
    run_dir: Path,
    step: int,
    results: Mapping[str, Mapping[str, float]],
    protocol: dict[str, Any],
    **extra: Any,
) -> None:
    """One line per evaluator in `<run_dir>/metric-<name>.jsonl`: step, metrics, protocol."""
    shared = {k: v for k, v in protocol.items() if k != "evaluators"}
    for name, metrics in results.items():
        own = {**shared, **protocol.get("evaluators", {}).get(name, {})}
        writer = JsonlWriter(inside_run_dir(run_dir, f"metric-{name}.jsonl", f"eval.{name}"))
        try:
            writer.write({"step": step, **extra, **metrics, "protocol": own})
        finally:
            writer.close()
