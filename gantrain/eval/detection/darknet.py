"""Darknet `.cfg` files: parsing, and the byte count their `.weights` file must have.

OpenCV's Darknet importer reads a truncated `.weights` file without complaint (the missing
parameters stay uninitialised), so gantrain checks the size first. A weights file is a
header (major, minor, revision as int32, then the number of images seen: int64 from format
0.2 on, int32 before) followed by float32 parameters, layer by layer: for a convolutional
layer the biases, then (with batch_normalize) scales, rolling means and rolling variances,
then the kernel.
"""

from __future__ import annotations

import struct
from pathlib import Path

from gantrain.errors import ConfigError

Section = tuple[str, dict[str, str]]

# Layers that carry no parameters and keep their input's channel count.
_PASS_THROUGH = {"shortcut", "upsample", "maxpool", "yolo", "region", "dropout", "avgpool"}


def parse_cfg(text: str) -> list[Section]:
    """Sections of a Darknet cfg in order: [("net", {...}), ("convolutional", {...}), ...]."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ValueError(f"line {number}: unclosed section header {line!r}")
            sections.append((line[1:-1].strip().lower(), {}))
        elif "=" in line:
            if not sections:
                raise ValueError(f"line {number}: option {line!r} before any [section]")
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
        else:
            raise ValueError(f"line {number}: cannot read {line!r}")
    if not sections or sections[0][0] not in ("net", "network"):
        raise ValueError("the first section must be [net]")
    return sections


def parameter_count(sections: list[Section]) -> int:
    """float32 parameters a weights file holds for these sections (after the header)."""
    channels = [int(sections[0][1].get("channels", 3))]  # channels[i + 1]: output of layer i
    total = 0
    for index, (kind, options) in enumerate(sections[1:]):
        previous = channels[-1]
        if kind == "convolutional":
            filters = int(options["filters"])
            size = int(options.get("size", 1))
            groups = int(options.get("groups", 1))
            batch_norm = int(options.get("batch_normalize", 0))
            total += filters * (previous // groups) * size * size
            total += filters * (4 if batch_norm else 1)
            channels.append(filters)
        elif kind == "route":
            sources = [int(v) for v in options["layers"].split(",")]
            picked = [channels[(s if s >= 0 else index + s) + 1] for s in sources]
            channels.append(sum(picked) // int(options.get("groups", 1)))
        elif kind in _PASS_THROUGH:
            channels.append(previous)
        else:
            raise ValueError(
                f"layer {index} is [{kind}], which gantrain's weights-size check does not know "
                "(it knows convolutional, route, shortcut, upsample, maxpool, yolo)"
            )
    return total


def header_size(weights: Path) -> int:
    """16 or 20 bytes, from the format version in the file's first 8 bytes."""
    with weights.open("rb") as file:
        head = file.read(8)
    if len(head) < 8:
        return 20
    major, minor = struct.unpack("<ii", head)
    return 20 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 16


def check_weights_size(cfg: Path, weights: Path) -> int:
    """Raise ConfigError unless `weights` has exactly the bytes `cfg` needs; returns them."""
    try:
        sections = parse_cfg(cfg.read_text(encoding="utf-8", errors="replace"))
        params = parameter_count(sections)
    except (ValueError, KeyError, IndexError) as error:
        raise ConfigError(f"cfg={cfg}: not a Darknet cfg gantrain can read ({error}).") from error
    expected = header_size(weights) + 4 * params
    actual = weights.stat().st_size
    if actual != expected:
        raise ConfigError(
            f"weights={weights} has {actual:,} bytes, but cfg={cfg.name} needs {expected:,} "
            f"({params:,} float32 parameters plus the header): the file is truncated or "
            "belongs to another cfg; download it again or pick the matching cfg."
        )
    return expected
