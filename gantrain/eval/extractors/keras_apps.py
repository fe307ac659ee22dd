"""Loading keras.applications networks with ImageNet weights, online or offline.

With `weights=None` Keras downloads the ImageNet weights on first use into its cache
(`$KERAS_HOME/models`, by default `~/.keras/models`). Offline, give the file by path (the
`eval.weights=PATH` setting of InceptionV3, `weights=` of ResNet-50); a missing file is a
one-line error naming the file and where to put it. No URL lives in gantrain's code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import keras

from gantrain.errors import ConfigError


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights."""
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"


@cache
def _digest(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (memoized per path, size and modification time)."""
    stat = os.stat(path)
    return _digest(str(path), stat.st_size, stat.st_mtime)


def weights_identity(path: str | os.PathLike) -> str:
    """`<file name> sha256:<first 16 hex digits>`: the same bytes give the same identity,
    wherever the file lives, so reference statistics are shared between copies."""
    return f"{Path(path).name} sha256:{file_digest(path)[:16]}"


def load_application(
    builder: Callable[..., keras.Model],
    weights: str | None,
    *,
    network: str,
    keras_file: str,
    setting: str,
) -> tuple[keras.Model, str]:
    """(model with ImageNet weights, weights identity).

    `weights`: a local weights file, or None for Keras's ImageNet weights (downloaded on
    first use). `keras_file`: the file name Keras downloads; `setting`: the config key that
    takes a path (for the error messages).
    """
    cached = keras_cache_dir() / keras_file
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{setting}={weights}: no such file; put the {network} ImageNet weights "
                f"(Keras's {keras_file}) there, or copy them to {cached} and leave {setting} "
                "unset."
            )
        try:
            return builder(weights=str(path)), weights_identity(path)
        except (ValueError, OSError, KeyError, TypeError) as error:
            first = (str(error).splitlines() or [""])[0][:200]
            raise ConfigError(
                f"{setting}={weights}: cannot load {network} weights from it "
                f"({type(error).__name__}: {first}); give the full ImageNet model's weights "
                f"(Keras's {keras_file}, include_top=True)."
            ) from error
    try:
        model = builder(weights="imagenet")
    except Exception as error:  # Keras raises a bare Exception when the download fails
        raise ConfigError(
            f"{network} ImageNet weights are not available (Keras could not download "
            f"{keras_file}: {type(error).__name__}); offline, copy that file to {cached} or "
            f"pass {setting}=PATH."
        ) from error
    identity = (
        weights_identity(cached) if cached.is_file() else f"imagenet (keras {keras.__version__})"
    )
    return model, identity
