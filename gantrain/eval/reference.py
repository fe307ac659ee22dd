"""Statistics of the real data, computed once per dataset/extractor/protocol and cached.

The cache key covers everything a number depends on (FID depends on protocol: mimicry#35,
stylegan2-ada#99): the dataset's name and split, the number of real images and how they were
picked, a digest of those images' pixels (another file under the same dataset name gets its
own entry), and the extractor's description (name, weights identity, resize method).
Entries are `.npz` files under `<cache>/reference/`, written atomically and read without
pickles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gantrain.atomic import atomic_writer
from gantrain.data.base import DatasetSource
from gantrain.errors import ConfigError

log = logging.getLogger("gantrain")

CACHE_ENV = "GANTRAIN_CACHE"


def cache_dir(configured: str | None = None) -> Path:
    """`eval.cache_dir`, else $GANTRAIN_CACHE, else ~/.cache/gantrain."""
    chosen = configured or os.environ.get(CACHE_ENV) or "~/.cache/gantrain"
    return Path(chosen).expanduser()


def image_float(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1] (the one image convention of gantrain)."""
    return images.astype(np.float32) / 127.5 - 1.0


@dataclass(frozen=True)
class ReferenceStats:
    """Activations of the real images: `features` float32 (N, D), their mean (D,) and
    covariance (D, D) in float64, class probabilities (N, K) or None, labels (N,) or None.

    `features` is None for published moments (`eval.reference_stats`): FID needs only
    mean and covariance; KID, precision/recall and density/coverage need the features."""

    features: np.ndarray | None
    mean: np.ndarray
    cov: np.ndarray
    probs: np.ndarray | None
    labels: np.ndarray | None


def stats_from_features(
    features: np.ndarray, probs: np.ndarray | None = None, labels: np.ndarray | None = None
) -> ReferenceStats:
    features = np.asarray(features, np.float32)
    as64 = features.astype(np.float64)
    return ReferenceStats(
        features=features,
        mean=as64.mean(axis=0),
        cov=np.cov(as64, rowvar=False),
        probs=probs,
        labels=labels,
    )


class RealData:
    """The real images a run is compared with: `num_real` of `source`, picked by `seed`
    (None: every image of the split, as `fid50k_full` and `fid10k_test` compare against).

    Images load on first use. `protocol()` records what was picked; `stats(extractor)`
    returns cached or freshly computed `ReferenceStats`.
    """

    def __init__(
        self,
        source: DatasetSource,
        *,
        num_real: int | None,
        seed: int,
        cache: Path,
        batch_size: int,
    ) -> None:
        self.source = source
        self.num_real = num_real
        self.seed = seed
        self.cache = cache
        self.batch_size = batch_size
        self._images: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._digest = ""
        self._stats: dict[str, ReferenceStats] = {}

    def _load(self) -> None:
        if self._images is not None:
            return
        # By index: datasets larger than memory (prepared, tfds) read only the picked images.
        data = self.source.examples()
        count = data.spec.num_examples
        if count < 2:
            raise ConfigError(
                f"dataset {data.spec.name} (split {self.source.split}) has {count} image(s); "
                "reference statistics need at least 2."
            )
        if self.num_real is None or self.num_real >= count:
            self._images, self._labels = data.take(np.arange(count))
        else:
            # A seeded random subset, not the first N: folder datasets are often sorted by class.
            order = np.sort(np.random.default_rng(self.seed).permutation(count)[: self.num_real])
            self._images, self._labels = data.take(order)
        self._digest = hashlib.sha256(np.ascontiguousarray(self._images).tobytes()).hexdigest()

    @property
    def loaded(self) -> bool:
        """Whether the real images were needed (and so belong in the protocol)."""
        return self._images is not None

    def images(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The picked real images, uint8 (N, H, W, C), and their labels (N,) or None."""
        self._load()
        assert self._images is not None
        return self._images, self._labels

    def protocol(self) -> dict[str, Any]:
        self._load()
        assert self._images is not None
        return {
            "dataset": self.source.name,
            "real_split": self.source.split,
            "num_real": len(self._images),
            "real_selection": (
                "every image of the split"
                if self.num_real is None or self.num_real >= len(self._images)
                else f"uniform random subset without replacement, seed {self.seed}"
            ),
            "real_digest": self._digest[:16],
        }

    def stats(self, extractor) -> ReferenceStats:
        """Reference statistics for `extractor` (a FeatureExtractor), via the cache."""
        description = extractor.describe()
        key = json.dumps({**self.protocol(), **description}, sort_keys=True, default=str)
        if key in self._stats:
            return self._stats[key]
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        path = (
            self.cache / "reference" / f"{self.source.name}-{description['extractor']}-{digest}.npz"
        )
        stats = _read(path)
        if stats is None:
            stats = self._compute(extractor)
            _write(path, stats, key)
            log.info("cached reference statistics in %s", path)
        else:
            log.info("reference statistics from %s", path)
        self._stats[key] = stats
        return stats

    def _compute(self, extractor) -> ReferenceStats:
        images, labels = self.images()
        log.info(
            "computing %s features of %d real %s images (once; cached afterwards)",
            extractor.name,
            len(images),
            self.source.name,
        )
        pools, probs = [], []
        for start in range(0, len(images), self.batch_size):
            features = extractor(image_float(images[start : start + self.batch_size]))
            pools.append(features.pool)
            if features.probs is not None:
                probs.append(features.probs)
        return stats_from_features(
            np.concatenate(pools), np.concatenate(probs) if probs else None, labels
        )


def _read(path: Path) -> ReferenceStats | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        return ReferenceStats(
            features=arrays["features"],
            mean=arrays["mean"],
            cov=arrays["cov"],
            probs=arrays.get("probs"),
            labels=arrays.get("labels"),
        )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("ignoring unreadable reference cache %s (%s); recomputing", path, error)
        return None


def _write(path: Path, stats: ReferenceStats, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"features": stats.features, "mean": stats.mean, "cov": stats.cov}
    if stats.probs is not None:
        arrays["probs"] = stats.probs
    if stats.labels is not None:
        arrays["labels"] = stats.labels
    with atomic_writer(path, "wb") as file:
        np.savez(file, protocol=np.array(key), **arrays)


STATS_LAYOUT = (
    "an .npz with `mu` (D,) and `sigma` (D, D), the mean and covariance of the real images' "
    "features, as TTUR, pytorch-fid and `python -m gantrain eval export-stats` write"
)


def write_reference_stats(path: Path, stats: ReferenceStats, protocol: dict[str, Any]) -> None:
    """`mu`/`sigma` (float64) in the TTUR / pytorch-fid layout, plus `protocol` (a JSON
    string those tools ignore) saying how they were computed; written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "wb") as file:
        np.savez(
            file,
            mu=np.asarray(stats.mean, np.float64),
            sigma=np.asarray(stats.cov, np.float64),
            protocol=np.array(json.dumps(protocol, sort_keys=True, default=str)),
        )


def read_reference_stats(path: str | Path) -> tuple[ReferenceStats, dict[str, Any]]:
    """(moments, protocol record) of a `mu`/`sigma` .npz (`eval.reference_stats`)."""
    from gantrain.data.npz import read_npz_arrays
    from gantrain.eval.extractors.keras_apps import file_digest

    path = Path(path).expanduser()
    arrays = read_npz_arrays(
        path,
        ("mu", "sigma"),
        optional=("protocol",),
        layout=STATS_LAYOUT,
        setting="eval.reference_stats",
    )
    mu, sigma = np.asarray(arrays["mu"]), np.asarray(arrays["sigma"])
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ConfigError(
            f"eval.reference_stats={path}: mu has shape {mu.shape} and sigma {sigma.shape}; "
            f"expected {STATS_LAYOUT}."
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ConfigError(f"eval.reference_stats={path}: mu or sigma holds NaN or infinity.")
    record: dict[str, Any] = {
        "file": str(path),
        "sha256": file_digest(path)[:16],
        "dimension": len(mu),
    }
    if "protocol" in arrays:
        try:
            record["source"] = json.loads(str(arrays["protocol"]))
        except ValueError:
            record["source"] = str(arrays["protocol"])[:200]
    stats = ReferenceStats(
        features=None,
        mean=mu.astype(np.float64),
        cov=sigma.astype(np.float64),
        probs=None,
        labels=None,
    )
    return stats, record
