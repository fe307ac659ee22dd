"""User-facing errors.

A `GantrainError` is a mistake the user can fix (a config value, a dataset path, a
checkpoint). Its message is one line that says what is wrong and how to fix it; the
command-line entry points print that line without a stack trace and write the full
trace to the run's log file. Anything else is a bug and keeps its traceback.

Exit codes of `gantrain`: 0 done, 1 a bug (traceback), 2 a user error, 3 training diverged
(NaN/inf loss with trainer.on_nan=stop), 75 interrupted by SIGTERM/SIGINT after saving a
checkpoint (run the same command again to resume).
"""


class GantrainError(Exception):
    """Base class of errors whose message is meant for the user."""

    exit_code = 2


class ConfigError(GantrainError):
    """A config value is unknown, of the wrong type or out of range."""


class DatasetError(GantrainError):
    """A dataset is missing, unreadable or not in the expected layout."""


class CheckpointError(GantrainError):
    """A checkpoint cannot be found, read or restored into the configured models."""


class NonFiniteLossError(GantrainError):
    """A loss became NaN or inf and `trainer.on_nan=stop` (training diverged)."""

    exit_code = 3


# A BaseException, like KeyboardInterrupt: an interruption is not an error, and handlers of
# `Exception` (a sweep that records failed jobs and goes on) must let it through.
class TrainingInterrupted(BaseException):
    """SIGTERM or SIGINT stopped training after a checkpoint was saved; rerun to resume."""

    # EX_TEMPFAIL of sysexits.h: a temporary failure, the same command will carry on.
    exit_code = 75
