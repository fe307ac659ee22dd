"""Downloading dataset files once into a cache, with a progress bar and a checksum.

Files go to `$GANTRAIN_DATA` if set, else Keras's cache (`$KERAS_HOME/datasets`, by default
`~/.keras/datasets`). A download is written to `<file>.part` and renamed only after its MD5
matches, so an interrupted download never looks complete; the next attempt resumes the
`.part` file with an HTTP range request when the server supports it (and starts over when it
does not).
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tqdm.auto import tqdm

from gantrain.errors import DatasetError

log = logging.getLogger("gantrain")

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where downloaded datasets live: $GANTRAIN_DATA, else $KERAS_HOME/datasets or ~/.keras."""
    if os.environ.get("GANTRAIN_DATA"):
        return Path(os.environ["GANTRAIN_DATA"]).expanduser()
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home).expanduser() / "datasets"


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def open_url(url: str, offset: int) -> tuple[BinaryIO, int | None, bool]:
    """(stream, total size or None, resumed) for `url` from byte `offset`.

    `resumed` is False when the server ignored the range request: the stream starts at 0.
    """
    headers = {"User-Agent": "gantrain"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    resumed = bool(offset) and getattr(response, "status", None) == 206
    length = response.headers.get("Content-Length")
    total = None if length is None else int(length) + (offset if resumed else 0)
    return response, total, resumed


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: stream.read(_CHUNK), b"")


def fetch(url: str, filename: str, *, md5: str, what: str, manual: str) -> Path:
    """The cached copy of `url` as `cache_dir()/filename`, downloaded if missing.

    `what` names the file in messages; `manual` says how to provide it by hand (for errors).
    A cached file whose MD5 differs is downloaded again.
    """
    target = cache_dir() / filename
    if target.exists():
        if md5_of(target) == md5:
            return target
        log.warning("%s: cached %s has the wrong checksum; downloading it again", what, target)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    log.info("downloading %s from %s to %s", what, url, target)
    try:
        stream, total, resumed = open_url(url, offset)
        with (
            stream,
            part.open("ab" if resumed else "wb") as file,
            tqdm(
                total=total,
                initial=offset if resumed else 0,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=what,
            ) as bar,
        ):
            for chunk in _chunks(stream):
                file.write(chunk)
                bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DatasetError(
            f"cannot download {what} from {url} ({type(error).__name__}: {error}); check the "
            f"connection and run again (a partial download resumes), or {manual}."
        ) from error
    actual = md5_of(part)
    if actual != md5:
        part.unlink()
        raise DatasetError(
            f"downloaded {what} from {url} has MD5 {actual}, expected {md5}; the partial file "
            f"was deleted. Run again to retry, or {manual}."
        )
    os.replace(part, target)
    return target
