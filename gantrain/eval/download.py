"""Downloading an evaluation network's file once into gantrain's cache, verified.

Unlike dataset downloads (gantrain/data/download.py, resumable `.part` files), a network
file is written to a temporary name beside its target and renamed only after its size and
sha256 match; on any failure (a dropped connection, a short or corrupt file, Ctrl-C) the
temporary file is deleted, so the cache never holds a half-written file.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from gantrain.errors import ConfigError

log = logging.getLogger("gantrain")

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, *, size: int | None, sha256: str | None) -> str | None:
    """None if `path` has the expected size and sha256 (None = not checked), else why not."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        return f"{actual_size} bytes, expected {size}"
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            return f"sha256 {actual}, expected {sha256}"
    return None


def download(
    url: str,
    target: Path,
    *,
    size: int | None,
    sha256: str | None,
    what: str,
    manual: str,
    timeout: float = 60.0,
) -> Path:
    """`target`, downloaded from `url` if it is not there yet (or fails verification).

    `size` (bytes) and `sha256` are checked when given. `what` names the file in messages;
    `manual` says how to provide it by hand. Errors are one-line ConfigErrors.
    """
    if target.is_file():
        problem = verify(target, size=size, sha256=sha256)
        if problem is None:
            return target
        log.warning("%s: cached %s has %s; downloading it again", what, target, problem)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.download")
    log.info("downloading %s from %s to %s", what, url, target)
    try:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "gantrain"})
            with (
                urllib.request.urlopen(request, timeout=timeout) as response,
                tmp.open("wb") as file,
                tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=what) as bar,
            ):
                length = response.headers.get("Content-Length")
                received = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    file.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                file.flush()
                os.fsync(file.fileno())
            if length is not None and received != int(length):
                raise ConfigError(
                    f"the download of {what} from {url} stopped after {received} of {length} "
                    f"bytes (the connection dropped); nothing was kept. Run again, or {manual}."
                )
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            # http.client.IncompleteRead: the server closed before Content-Length bytes.
            raise ConfigError(
                f"cannot download {what} from {url} ({type(error).__name__}: "
                f"{str(error)[:160]}); nothing was kept. Check the connection and run again, "
                f"or {manual}."
            ) from error
        problem = verify(tmp, size=size, sha256=sha256)
        if problem is not None:
            raise ConfigError(
                f"downloaded {what} from {url} has {problem}; it was deleted (a partial or "
                f"altered file). Run again to retry, or {manual}."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
