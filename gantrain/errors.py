"""User-facing errors.

A `GantrainError` is a mistake the user can fix (a config value, a dataset path, a
checkpoint). Its message is one line that says what is wrong and how to fix it; the
command-line entry points print that line without a stack trace and write the full
trace to the run's log file. Anything else is a bug and keeps its traceback.
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
