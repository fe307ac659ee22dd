"""The prepared-dataset format: random-access ArrayRecord shards plus a manifest.

A prepared dataset is a folder:

    manifest.json                   written last: its presence means the dataset is complete
    labels.npy                      int32 (N,), only for labeled datasets
    shard-00000-of-00004.array_record ...

Each shard holds consecutive examples, one ArrayRecord record per image: its raw uint8 pixels,
H*W*C bytes in HWC order (no image codec: decoding PNG made reads about 16x slower, see
scripts/shard_formats.py). `manifest.json` holds the format version, count, shape, label names,
where the data came from, the command that made it, and each shard's example count, byte size
and SHA-256. Readers check it before training so a missing, truncated or altered shard is one
clear error naming the file, not a crash halfway through an epoch.

Why ArrayRecord (see pyproject.toml): random access by index (the training order is a
permutation fixed by (seed, step)), the format TFDS's random-access `data_source` and grain
read, and as fast here as plain binary records read with pread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # access.py imports TensorFlow; only readers need it
    from gantrain.data.access import ExampleReader

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset
from gantrain.errors import ConfigError, DatasetError

log = logging.getLogger("gantrain")

FORMAT = "gantrain-prepared"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LABELS = "labels.npy"
# One record per chunk: a chunk is the unit ArrayRecord reads (and compresses), so bigger
# groups would read and decompress neighbours of every randomly picked image. Uncompressed:
# uint8 photos barely compress with a general-purpose codec and every read would pay for it.
WRITER_OPTIONS = "group_size:1,uncompressed"
VERIFY = ("checksum", "size")


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}.array_record"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` says, checked on load."""

    count: int
    shape: tuple[int, int, int]
    label_names: list[str]
    labeled: bool
    shards: list[dict[str, Any]]
    labels_sha256: str | None
    raw: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return len(self.label_names) if self.labeled else 0


def read_manifest(root: Path) -> Manifest:
    """The manifest of the prepared dataset at `root`; DatasetError naming the file if not."""
    path = root / MANIFEST
    make = f"run `python -m gantrain prepare source=<images> output={root}`"
    if root.with_name(root.name + ".partial").is_dir() and not path.is_file():
        raise DatasetError(
            f"{path}: missing, so {root} is not a complete prepared dataset (a .partial folder "
            f"beside it: `prepare` was interrupted; rerun the same command to resume)."
        )
    if not root.is_dir():
        raise DatasetError(f"dataset.path={root}: no such folder; {make}.")
    if not path.is_file():
        raise DatasetError(f"{path}: missing, so {root} is not a prepared dataset; {make}.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise DatasetError(f"{path}: not a gantrain prepared-dataset manifest.")
        version = int(raw["format_version"])
        if version > FORMAT_VERSION:
            raise DatasetError(
                f"{path}: format version {version} is newer than this gantrain reads "
                f"({FORMAT_VERSION}); upgrade gantrain or prepare the dataset again with it."
            )
        manifest = Manifest(
            count=int(raw["count"]),
            shape=tuple(int(v) for v in raw["shape"]),  # type: ignore[arg-type]
            label_names=[str(n) for n in raw.get("label_names") or []],
            labeled=bool(raw["labeled"]),
            shards=list(raw["shards"]),
            labels_sha256=raw.get("labels_sha256"),
            raw=raw,
        )
        for shard in manifest.shards:
            shard["file"], shard["count"], shard["bytes"] = (
                str(shard["file"]),
                int(shard["count"]),
                int(shard["bytes"]),
            )
    except DatasetError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(
            f"{path}: unreadable manifest ({type(error).__name__}: {error}); prepare the "
            "dataset again."
        ) from None
    if len(manifest.shape) != 3 or sum(s["count"] for s in manifest.shards) != manifest.count:
        raise DatasetError(f"{path}: shape or shard counts do not add up; prepare it again.")
    return manifest


def verify(root: Path, manifest: Manifest, *, checksums: bool) -> None:
    """Every shard (and labels.npy) present, of the recorded size and, optionally, SHA-256."""
    files = [(s["file"], s["bytes"], s.get("sha256")) for s in manifest.shards]
    if manifest.labeled:
        files.append((LABELS, None, manifest.labels_sha256))
    for name, size, sha in files:
        path = root / name
        if not path.is_file():
            raise DatasetError(
                f"{path}: missing from the prepared dataset {root}; prepare it again."
            )
        actual = path.stat().st_size
        if size is not None and actual != size:
            raise DatasetError(
                f"{path}: {actual} bytes, the manifest says {size} (truncated or replaced); "
                "prepare the dataset again."
            )
        if checksums and sha and file_sha256(path) != sha:
            raise DatasetError(
                f"{path}: SHA-256 differs from the manifest (corrupted or altered); prepare "
                "the dataset again (or dataset.verify=size to skip checksums)."
            )


class PreparedReader:
    """Random access to the examples of a verified prepared dataset.

    Reading goes through ArrayRecord's data source (positioned reads, no memory map: pages of
    a memory-mapped file would count in the process's RSS and grow with the dataset). Labels
    (4 bytes per example) are held in memory.
    """

    def __init__(self, root: Path, manifest: Manifest) -> None:
        from array_record.python.array_record_data_source import ArrayRecordDataSource

        self.root = root
        self.manifest = manifest
        self.record_bytes = int(np.prod(manifest.shape))
        self._source = ArrayRecordDataSource([str(root / s["file"]) for s in manifest.shards])
        if len(self._source) != manifest.count:
            raise DatasetError(
                f"{root}: its shards hold {len(self._source)} records, the manifest says "
                f"{manifest.count}; prepare the dataset again."
            )
        self.labels = (
            np.load(root / LABELS, allow_pickle=False).astype(np.int32)
            if manifest.labeled
            else None
        )
        if self.labels is not None and len(self.labels) != manifest.count:
            raise DatasetError(
                f"{root / LABELS}: {len(self.labels)} labels for {manifest.count} images; "
                "prepare the dataset again."
            )

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 (len(indices), H, W, C) of the examples at `indices` (int, in [0, count))."""
        records = self._source.__getitems__([int(i) for i in indices])
        out = np.empty((len(records), self.record_bytes), np.uint8)
        for row, record in enumerate(records):
            if len(record) != self.record_bytes:
                raise DatasetError(
                    f"{self.root}: a record of {len(record)} bytes, expected "
                    f"{self.record_bytes}; prepare the dataset again."
                )
            out[row] = np.frombuffer(record, np.uint8)
        return out.reshape(len(records), *self.manifest.shape)


@dataclass
class PreparedSource(DatasetSource):
    """A dataset written by `python -m gantrain prepare` (see gantrain/data/prepared.py)."""

    name: str = "prepared"
    # `checksum` hashes every shard before training (about a second per GB here); `size`
    # only checks that every shard is there with its recorded size.
    verify: str = "checksum"
    splits: ClassVar[tuple[str, ...]] = ("train",)

    def check(self) -> None:
        super().check()
        if not self.path:
            raise ConfigError(
                "dataset.path is not set: dataset=prepared needs dataset.path=<folder written "
                "by `python -m gantrain prepare`>."
            )
        if self.verify not in VERIFY:
            raise ConfigError(f"dataset.verify={self.verify!r}: choose one of {', '.join(VERIFY)}.")

    @property
    def root(self) -> Path:
        return Path(str(self.path)).expanduser()

    def spec(self) -> DatasetSpec:
        manifest = read_manifest(self.root)
        return DatasetSpec(
            name=self.name,
            image_shape=manifest.shape,
            num_classes=manifest.num_classes,
            num_examples=manifest.count,
        )

    def open_reader(self) -> PreparedReader:
        manifest = read_manifest(self.root)
        verify(self.root, manifest, checksums=self.verify == "checksum")
        if manifest.label_names and manifest.labeled:
            log.info(
                "dataset %s: classes %s",
                self.name,
                ", ".join(f"{i}={c}" for i, c in enumerate(manifest.label_names)),
            )
        return PreparedReader(self.root, manifest)

    def examples(self) -> ExampleReader:
        from gantrain.data.access import FunctionReader, mirrored

        reader = self.open_reader()
        spec = DatasetSpec(
            name=self.name,
            image_shape=reader.manifest.shape,
            num_classes=reader.manifest.num_classes,
            num_examples=reader.manifest.count,
        )
        examples = FunctionReader(spec, reader.read, reader.labels)
        return mirrored(examples) if self.xflip else examples

    def load(self) -> LoadedDataset:
        """Every image in memory (for small prepared datasets; training streams instead)."""
        reader = self.open_reader()
        count = reader.manifest.count
        images = np.concatenate(
            [reader.read(np.arange(i, min(i + 1024, count))) for i in range(0, count, 1024)]
        )
        return LoadedDataset(spec=self.spec(), images=images, labels=reader.labels)
