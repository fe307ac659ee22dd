"""What every subcommand shares: the config location and user-error reporting."""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from gantrain.errors import (
    DISK_ERRNOS,
    GantrainError,
    StoppedAtOnce,
    TrainingInterrupted,
    disk_problem,
    yaml_problem,
)

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
# Registers the `gantrain.help` resolver of configs/hydra/help/gantrain.yaml (`--help`).
import gantrain.help  # noqa: E402, F401

# What to do about each class of disk error (gantrain.errors.DISK_ERRNOS).
_DISK_FIX = {
    errno.ENOSPC: "free some space there (or write elsewhere) and rerun; files already "
    "written are kept",
    errno.EDQUOT: "free some of your quota (or write elsewhere) and rerun; files already "
    "written are kept",
    errno.ENAMETOOLONG: "use a shorter path",
}


def user_error_message(error: BaseException) -> str | None:
    """One line for an error that is the user's input or machine, not a bug; None otherwise.

    Covers errors other libraries raise before or beside gantrain's own checks: a required
    key left out (OmegaConf's `???`), a YAML file that is not plain data, and disk errors
    (full, read-only, refused, name too long) naming the file when the OS says which.
    """
    import yaml
    from omegaconf.errors import MissingMandatoryValue

    if isinstance(error, MissingMandatoryValue):
        key = getattr(error, "full_key", None) or str(error).split(":")[-1].strip()
        command = os.path.basename(sys.argv[0]) if sys.argv else "gantrain"
        return (
            f"{key} is required: give {key}=... on the command line (`{command} --help` lists "
            "the keys)."
        )
    if isinstance(error, yaml.YAMLError):
        return yaml_problem(error)
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        problem = disk_problem(error)
        where = f"{error.filename}: " if error.filename else ""
        fix = _DISK_FIX.get(error.errno, "pick a path you can write (hydra.run.dir=, output=)")
        return f"{where}{problem}; {fix}."
    return None


def user_errors(task: F) -> F:
    """Turn a GantrainError into one line on the console and a traceback in the run's log.

    A `TrainingInterrupted` (SIGTERM/SIGINT after a checkpoint was saved) is one line too, and
    exit code 75; a second Ctrl-C (`StoppedAtOnce`) or a Ctrl-C outside the training loop
    exits 130 (see gantrain/errors.py for every exit code). Errors of other libraries that
    are the user's input or machine (`user_error_message`) are one line with exit code 2.

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
        except KeyboardInterrupt:
            log.debug("traceback of the interruption below", exc_info=True)
            log.warning("interrupted by SIGINT (Ctrl-C); nothing new was saved.")
            raise SystemExit(StoppedAtOnce.exit_code) from None
        except Exception as error:
            message = user_error_message(error)
            if message is None:
                raise
            log.debug("traceback of the error below", exc_info=True)
            log.error("error: %s", message)
            raise SystemExit(GantrainError.exit_code) from None

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
