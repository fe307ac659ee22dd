"""`gantrain prepare`: images (a folder, a zip, a StyleGAN-style dataset) -> a prepared dataset.

Sources, in a stable sorted order:
- a folder of images: flat (unlabeled) or one subfolder per class (classes are the sorted
  subfolder names), as `dataset=image_folder` reads it;
- a .zip of images, with the same two layouts inside;
- either of those with a StyleGAN `dataset.json` at the top (`{"labels": [["path", int], ...]}`,
  what stylegan2-ada's dataset_tool writes): integer labels from it.

Images are decoded and fitted on every core (a process pool), then written in order into
ArrayRecord shards (gantrain/data/prepared.py) inside `<output>.partial/`. Each finished shard
is recorded there, so an interrupted run resumes at the first unfinished shard when run again
with the same settings. The manifest is written last and the folder is renamed to `<output>`
only when it is complete; an existing prepared dataset is replaced (with `overwrite=true`) only
after the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from gantrain.atomic import atomic_writer
from gantrain.data.folder import FITS, fit_image, parse_color
from gantrain.data.prepared import (
    FORMAT,
    FORMAT_VERSION,
    LABELS,
    MANIFEST,
    WRITER_OPTIONS,
    file_sha256,
    shard_name,
)
from gantrain.errors import ConfigError, DatasetError

log = logging.getLogger("gantrain")

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
# PIL modes that hold no colour: a dataset of only these stays one channel (channels=auto).
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}
PROGRESS = "progress.json"
# What a worker may meet in a broken or non-image file.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError)


@dataclass(frozen=True)
class PrepareOptions:
    """The settings of one `prepare` run (configs/prepare.yaml)."""

    source: str
    output: str
    resolution: int = 256
    channels: str | int = "auto"
    fit: str = "center_crop"
    alpha: str = "flatten"
    background: str = "white"
    labels: str = "auto"
    shard_mb: float = 256
    workers: int = 0
    overwrite: bool = False

    def check(self) -> None:
        if self.resolution <= 0:
            raise ConfigError(f"resolution={self.resolution}: must be a positive number.")
        if str(self.channels) not in ("auto", "1", "3"):
            raise ConfigError(f"channels={self.channels}: use auto, 3 (RGB) or 1 (grayscale).")
        if self.fit not in FITS:
            raise ConfigError(f"fit={self.fit!r}: choose one of {', '.join(FITS)}.")
        if self.alpha not in ("flatten", "drop"):
            raise ConfigError(f"alpha={self.alpha!r}: choose flatten (onto background) or drop.")
        if self.labels not in ("auto", "none"):
            raise ConfigError(f"labels={self.labels!r}: choose auto or none.")
        if self.shard_mb <= 0 or self.workers < 0:
            raise ConfigError("shard_mb must be positive and workers >= 0 (0 = every core).")
        parse_color(self.background, "background")


@dataclass(frozen=True)
class Listing:
    """The images of a source: member names in order, their labels (or None), class names."""

    kind: str  # "folder" | "zip"
    root: Path
    names: list[str]
    labels: list[int] | None
    label_names: list[str] = field(default_factory=list)
    label_origin: str = "none"


def _stylegan_labels(raw: bytes, where: str, names: list[str]) -> list[int] | None:
    try:
        entries = json.loads(raw).get("labels")
    except (ValueError, AttributeError):
        raise DatasetError(f"{where}: not valid JSON with a 'labels' list.") from None
    if entries is None:
        return None
    try:
        table = {str(PurePosixPath(name)): label for name, label in entries}
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: 'labels' must be a list of [path, label] pairs.") from None
    labels = []
    for name in names:
        label = table.get(name)
        if label is None:
            raise DatasetError(f"{where}: no label for {name}; every image needs one.")
        if not isinstance(label, int) or isinstance(label, bool) or label < 0:
            raise DatasetError(
                f"{where}: label {label!r} of {name} is not a class index (a non-negative "
                "integer); other label kinds are not supported."
            )
        labels.append(label)
    return labels


def list_source(source: str, *, labels: str = "auto") -> Listing:
    """The images of `source` (a folder or a .zip) in sorted order, with their labels."""
    root = Path(source).expanduser()
    if root.is_dir():
        kind = "folder"
        names = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in EXTENSIONS
        )
        meta = root / "dataset.json"
        meta_raw = meta.read_bytes() if meta.is_file() else None
    elif root.is_file() and zipfile.is_zipfile(root):
        kind = "zip"
        with zipfile.ZipFile(root) as archive:
            members = [i.filename for i in archive.infolist() if not i.is_dir()]
            names = sorted(
                m
                for m in members
                if PurePosixPath(m).suffix.lower() in EXTENSIONS
                and not m.startswith(("__MACOSX/", "."))
            )
            meta_raw = archive.read("dataset.json") if "dataset.json" in members else None
        meta = PurePosixPath(f"{root}:dataset.json")
    elif root.exists():
        raise DatasetError(f"source={root}: neither a folder nor a .zip file of images.")
    else:
        raise DatasetError(f"source={root}: no such file or folder.")
    if not names:
        raise DatasetError(
            f"source={root}: no {', '.join(EXTENSIONS)} images in it or its subfolders."
        )
    if labels == "none":
        return Listing(kind, root, names, None)
    if meta_raw is not None:
        found = _stylegan_labels(meta_raw, str(meta), names)
        if found is not None:
            names_ = [str(i) for i in range(max(found) + 1)]
            return Listing(kind, root, names, found, names_, "dataset.json")
    if any(len(PurePosixPath(n).parts) == 1 for n in names):
        return Listing(kind, root, names, None)
    top = [PurePosixPath(n).parts[0] for n in names]
    classes = sorted(set(top))
    index = {name: i for i, name in enumerate(classes)}
    return Listing(kind, root, names, [index[t] for t in top], classes, "subfolders")


# Worker-process state: the zip is opened once per worker, not once per image.
_worker: dict[str, Any] = {}


def _init_worker(kind: str, root: str) -> None:
    _worker.clear()
    _worker.update(kind=kind, root=root)
    if kind == "zip":
        _worker["zip"] = zipfile.ZipFile(root)


def _open(name: str) -> Image.Image:
    if _worker["kind"] == "zip":
        import io

        return Image.open(io.BytesIO(_worker["zip"].read(name)))
    return Image.open(os.path.join(_worker["root"], name))


def _probe(name: str) -> str | None:
    """The PIL mode of one image (header only), or None if it cannot be opened."""
    try:
        with _open(name) as image:
            return image.mode
    except DECODE_ERRORS:
        return None


def _convert(job: tuple[str, int, int, str, tuple[int, int, int] | None]) -> bytes | None:
    """One image as raw uint8 HWC bytes, or None when it cannot be decoded."""
    name, resolution, channels, fit, background = job
    try:
        with _open(name) as image:
            image.load()
            return fit_image(image, resolution, channels, fit=fit, background=background).tobytes()
    except DECODE_ERRORS:
        return None


def _settings_key(options: PrepareOptions, listing: Listing, channels: int) -> str:
    """Hash of everything that decides the output, so a resume only reuses matching shards."""
    what = {
        "format_version": FORMAT_VERSION,
        "source": str(listing.root.resolve()),
        "names": hashlib.sha256("\n".join(listing.names).encode()).hexdigest(),
        "labels": listing.labels,
        "resolution": options.resolution,
        "channels": channels,
        "fit": options.fit,
        "alpha": options.alpha,
        "background": list(parse_color(options.background, "background")),
        "shard_mb": options.shard_mb,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write, flush to disk, then rename: a crash leaves the old file or the new, never half."""
    with atomic_writer(path) as handle:
        json.dump(data, handle, indent=1)


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise DatasetError(f"output={output}: exists and is not a folder; pick another output.")
    if (output / MANIFEST).is_file():
        if not overwrite:
            raise DatasetError(
                f"output={output}: already a prepared dataset; pass overwrite=true to replace "
                "it (it is kept until the new one is complete) or pick another output."
            )
    elif output.is_dir() and any(output.iterdir()):
        raise DatasetError(
            f"output={output}: a non-empty folder that is not a prepared dataset; refusing to "
            "write into it, pick a new or empty folder."
        )


def _pool(workers: int, listing: Listing):
    # spawn, not fork: the caller may have TensorFlow's threads running (tests, notebooks),
    # and forking a multi-threaded process can deadlock the child.
    context = multiprocessing.get_context("spawn")
    return context.Pool(workers, _init_worker, (listing.kind, str(listing.root)))


def _channels(options: PrepareOptions, listing: Listing, pool, chunk: int) -> int:
    if str(options.channels) != "auto":
        return int(options.channels)
    modes = {m for m in pool.imap_unordered(_probe, listing.names, chunksize=chunk) if m}
    return 1 if modes and modes <= GRAY_MODES else 3


def prepare(options: PrepareOptions, *, progress_bar: bool = True) -> dict[str, Any]:
    """Convert `options.source` into a prepared dataset at `options.output`; the manifest."""
    from array_record.python.array_record_module import ArrayRecordWriter
    from tqdm import tqdm

    options.check()
    output = Path(options.output).expanduser()
    _check_output(output, options.overwrite)
    listing = list_source(options.source, labels=options.labels)
    if output.resolve().is_relative_to(listing.root.resolve()) and listing.kind == "folder":
        raise ConfigError(f"output={output}: inside the source folder; pick a folder outside.")
    workers = options.workers or os.cpu_count() or 1
    chunk = max(1, min(64, len(listing.names) // (workers * 8)))
    partial = output.with_name(output.name + ".partial")
    background = None if options.alpha == "drop" else parse_color(options.background, "background")
    started = time.time()
    with _pool(workers, listing) as pool:
        channels = _channels(options, listing, pool, chunk)
        shape = (options.resolution, options.resolution, channels)
        record_bytes = int(np.prod(shape))
        per_shard = max(1, int(options.shard_mb * 2**20) // record_bytes)
        num_shards = -(-len(listing.names) // per_shard)
        key = _settings_key(options, listing, channels)
        done = _resume(partial, key)
        first = len(done)
        log.info(
            "prepare: %d images from %s -> %s, %dx%dx%d, %d shard(s), %d worker(s)%s",
            len(listing.names),
            listing.root,
            output,
            *shape,
            num_shards,
            workers,
            f"; resuming after {first} finished shard(s)" if first else "",
        )
        start_index = first * per_shard
        jobs = (
            (name, options.resolution, channels, options.fit, background)
            for name in listing.names[start_index:]
        )
        results: Iterator[bytes | None] = pool.imap(_convert, jobs, chunksize=chunk)
        bar = tqdm(
            total=len(listing.names),
            initial=start_index,
            unit="img",
            desc="prepare",
            disable=not progress_bar or None,
            file=sys.stderr,
        )
        try:
            for shard in range(first, num_shards):
                names = listing.names[shard * per_shard : (shard + 1) * per_shard]
                file = shard_name(shard, num_shards)
                writer = ArrayRecordWriter(str(partial / file), WRITER_OPTIONS)
                kept_labels, skipped = [], []
                for offset, name in enumerate(names):
                    record = next(results)
                    if record is None:
                        skipped.append(name)
                    else:
                        writer.write(record)
                        if listing.labels is not None:
                            kept_labels.append(listing.labels[shard * per_shard + offset])
                    bar.update(1)
                writer.close()
                done.append(
                    {
                        "file": file,
                        "count": len(names) - len(skipped),
                        "bytes": (partial / file).stat().st_size,
                        "sha256": file_sha256(partial / file),
                        "labels": kept_labels,
                        "skipped": skipped,
                    }
                )
                # Recorded only once the shard is closed and hashed: a resume trusts it.
                _write_json(partial / PROGRESS, {"key": key, "shards": done})
        finally:
            bar.close()
    return _publish(options, listing, output, partial, done, shape, started)


def _resume(partial: Path, key: str) -> list[dict[str, Any]]:
    """Shards an interrupted run with the same settings finished; clears anything else."""
    progress = partial / PROGRESS
    if progress.is_file():
        try:
            state = json.loads(progress.read_text(encoding="utf-8"))
            if state.get("key") == key:
                done = list(state["shards"])
                if all(
                    (partial / s["file"]).is_file()
                    and (partial / s["file"]).stat().st_size == s["bytes"]
                    for s in done
                ):
                    keep = {s["file"] for s in done} | {PROGRESS}
                    for path in partial.iterdir():
                        if path.name not in keep:
                            path.unlink()
                    return done
            log.info("prepare: %s holds other settings' work; starting afresh", partial)
        except (ValueError, KeyError, TypeError, OSError):
            log.info("prepare: %s has an unreadable progress file; starting afresh", partial)
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return []


def _publish(
    options: PrepareOptions,
    listing: Listing,
    output: Path,
    partial: Path,
    done: list[dict[str, Any]],
    shape: tuple[int, int, int],
    started: float,
) -> dict[str, Any]:
    from gantrain import __version__

    count = sum(s["count"] for s in done)
    skipped = [name for s in done for name in s["skipped"]]
    if count == 0:
        raise DatasetError(
            f"source={listing.root}: none of its {len(listing.names)} image files could be "
            f"decoded; check that they are images ({', '.join(EXTENSIONS)})."
        )
    labeled = listing.labels is not None
    labels_sha = None
    if labeled:
        labels = np.asarray([label for s in done for label in s["labels"]], np.int32)
        np.save(partial / LABELS, labels, allow_pickle=False)
        labels_sha = file_sha256(partial / LABELS)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "count": count,
        "shape": list(shape),
        "dtype": "uint8",
        "encoding": "raw HWC bytes, one ArrayRecord record per image",
        "labeled": labeled,
        "num_classes": len(listing.label_names) if labeled else 0,
        "label_names": listing.label_names if labeled else [],
        "label_origin": listing.label_origin,
        "source": {
            "path": str(listing.root.resolve()),
            "kind": listing.kind,
            "images_found": len(listing.names),
            "skipped_unreadable": len(skipped),
            "skipped_first": skipped[:20],
        },
        "settings": {
            "resolution": options.resolution,
            "channels": shape[2],
            "fit": options.fit,
            "alpha": options.alpha,
            "background": list(parse_color(options.background, "background")),
        },
        "command": " ".join(sys.argv) if sys.argv else "",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gantrain": __version__,
        "shards": [{k: s[k] for k in ("file", "count", "bytes", "sha256")} for s in done],
        "labels_sha256": labels_sha,
    }
    (partial / PROGRESS).unlink()
    _write_json(partial / MANIFEST, manifest)  # last: from now on the folder is complete
    old = output.with_name(output.name + ".old")
    if output.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(output, old)  # kept until the new dataset is in place
    os.replace(partial, output)
    if old.exists():
        shutil.rmtree(old)
    if skipped:
        log.warning(
            "prepare: skipped %d unreadable of %d image files (first: %s)",
            len(skipped),
            len(listing.names),
            ", ".join(skipped[:3]),
        )
    log.info(
        "prepare: wrote %d images (%s) in %d shard(s) to %s in %.0f s",
        count,
        "x".join(map(str, shape)),
        len(done),
        output,
        time.time() - started,
    )
    return manifest
