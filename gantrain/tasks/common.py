"""What every subcommand shares: the config location and user-error reporting."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from gantrain.errors import GantrainError, TrainingInterrupted

# Hydra reads the configs as package data, so a wheel install finds them (hydra#717).
CONFIG_PATH = "pkg://gantrain.configs"
HYDRA_VERSION_BASE = "1.3"

log = logging.getLogger("gantrain")

F = TypeVar("F", bound=Callable[..., Any])

# TensorFlow's C++ warnings after start-up (see gantrain.tfimport for the notes before it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def worker_log_suffix() -> str:
    """'' for the chief or a lone process; '.worker<N>' for the other workers of a cluster.

    Multi-worker runs share one run dir; this keeps each worker's log file apart
    (`train.log`, `train.worker1.log`, ...). Read from TF_CONFIG, or from SLURM's task rank
    in a multi-task job step; the same chief rule as `gantrain.distribute.is_chief`.
    """
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError):
        return ""  # the strategy reports a broken TF_CONFIG in one line
    if kind is None and int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
        kind, index, cluster = "worker", int(os.environ.get("SLURM_PROCID", "0") or 0), {}
    if kind in (None, "chief") or (kind == "worker" and index == 0 and "chief" not in cluster):
        return ""
    return f".{kind}{index}"


OmegaConf.register_new_resolver("gantrain.worker_log_suffix", worker_log_suffix, replace=True)


def user_errors(task: F) -> F:
    """Turn a GantrainError into one line on the console and a traceback in the run's log.

    A `TrainingInterrupted` (SIGTERM/SIGINT after a checkpoint was saved) is one line too, and
    exit code 75 (see gantrain/errors.py for every exit code).

    The console handler shows INFO and above; the traceback is logged at DEBUG, which only the
    run's log file records.
    """

    @functools.wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gantrain.tfimport import startup_notes

        if startup_notes():
            log.debug("TensorFlow start-up notes:\n%s", startup_notes().rstrip())
        try:
            return task(*args, **kwargs)
        except GantrainError as error:
            log.debug("traceback of the error below", exc_info=True)
            log.error("error: %s", error)
            raise SystemExit(error.exit_code) from None
        except TrainingInterrupted as stop:
            log.warning("%s", stop)
            raise SystemExit(stop.exit_code) from None

    return wrapper  # type: ignore[return-value]


def emit_result(record: Mapping[str, Any], output: str | None = None) -> None:
    """Print `record` as one JSON line on stdout (the command's result; logs go to stderr)
    and, when `output` is given, write it to that file too."""
    from gantrain.logging.stats import json_line

    line = json_line(record)
    if output:
        path = Path(output).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line + "\n", encoding="utf-8")
        log.info("wrote %s", path)
    print(line, flush=True)
