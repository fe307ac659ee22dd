"""Training budgets: `trainer.max_steps`, `trainer.max_kimg` and `trainer.max_time`.

Steps and images do not depend on the machine (the same run took 10 minutes one day and 50
another here), so budgets can be stated in them: `max_kimg` stops after that many thousand
real images shown to D (a step shows `batch_size * n_critic`), `max_steps` after that many
generator steps, whichever comes first. `max_time` is a wall-clock limit on the training time
summed over every launch of the run (`GANState.elapsed_sec`, in the checkpoint), like
Lightning's `max_time`: the run stops cleanly at the first step boundary past it, with a
checkpoint, and a later launch with a larger budget continues it. The loop's
`StopCondition` (training/loop.py) makes the decisions.

No TensorFlow here: `gantrain report` uses it to know a run's target step.
"""

from __future__ import annotations

import math
import re

from gantrain.errors import ConfigError

_CLOCK = re.compile(r"^(?:(?P<d>\d+):)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d*)?)$")


def parse_max_time(value: str | int | float | None, key: str = "trainer.max_time") -> float | None:
    """Seconds of a `max_time` value: seconds, "HH:MM:SS" or "DD:HH:MM:SS"; None for no limit
    (null or 0).

    Raises ConfigError for anything else, a negative or a non-finite value.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{key}={value}: give seconds or a duration such as 00:10:00.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        found = _CLOCK.match(text)
        if found:
            parts = {k: float(v or 0) for k, v in found.groupdict().items()}
            seconds = ((parts["d"] * 24 + parts["h"]) * 60 + parts["m"]) * 60 + parts["s"]
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ConfigError(
                    f"{key}={value!r}: give seconds (600) or a duration HH:MM:SS (00:10:00) or "
                    "DD:HH:MM:SS; null for no limit."
                ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{key}={value}: must be a finite number of seconds >= 0.")
    return seconds or None  # 0 turns the limit off, as 0 does for the other budgets


def kimg_steps(max_kimg: float, batch_size: int, n_critic: int = 1) -> int:
    """The generator steps that show `max_kimg` thousand real images (rounded up)."""
    return math.ceil(max_kimg * 1000.0 / (batch_size * n_critic) - 1e-9)


def target_steps(max_steps: int, max_kimg: float | None, batch_size: int, n_critic: int = 1) -> int:
    """The step a run stops at: `max_steps`, or fewer when `max_kimg` binds first."""
    if not max_kimg:
        return max_steps
    return min(max_steps, kimg_steps(max_kimg, batch_size, n_critic))
