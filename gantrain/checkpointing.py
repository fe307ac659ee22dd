"""Checkpoints of `GANState`: where to resume from, saving, and restoring with clear errors.

A run dir keeps its checkpoints in `<run_dir>/checkpoints/` (tf.train.CheckpointManager,
`ckpt-<step>` files). Next to them, `config.yaml` holds the resolved config of the run that
wrote the latest checkpoint: `sample` and other tools rebuild the models from it, even if a
later launch in the same run dir changed `.hydra/config.yaml`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import tensorflow as tf
from omegaconf import DictConfig, OmegaConf

from gantrain.errors import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.yaml"


def latest_checkpoint(directory: str | os.PathLike) -> str | None:
    """Prefix of the newest checkpoint in a checkpoint directory, or None."""
    return tf.train.latest_checkpoint(str(directory))


def find_checkpoint(path: str | os.PathLike) -> str:
    """Resolve a run dir, a checkpoint dir or a checkpoint prefix to a checkpoint prefix."""
    path = Path(path).expanduser()
    if path.is_dir():
        for directory in (path / CHECKPOINT_DIR, path):
            found = latest_checkpoint(directory)
            if found:
                return found
        raise CheckpointError(
            f"{path} holds no checkpoint (looked for {path / CHECKPOINT_DIR}/checkpoint and "
            f"{path}/checkpoint); give a run dir of a run that saved one, or a prefix such as "
            f"{path / CHECKPOINT_DIR / 'ckpt-1000'}."
        )
    if Path(f"{path}.index").exists():
        return str(path)
    raise CheckpointError(
        f"{path}: neither a run dir nor a checkpoint (no {path}.index); give a run dir or a "
        "checkpoint prefix such as outputs/train/<run>/checkpoints/ckpt-1000."
    )


def resolve_resume(resume: str, run_dir: str | os.PathLike) -> str | None:
    """The checkpoint a run in `run_dir` starts from, per `trainer.resume`; None: fresh start."""
    own_dir = Path(run_dir) / CHECKPOINT_DIR
    own = latest_checkpoint(own_dir)
    if resume == "auto":
        return own
    if resume == "never":
        if own or any(own_dir.glob("ckpt-*")):
            raise CheckpointError(
                f"trainer.resume=never, but {own_dir} already has checkpoints (latest: "
                f"{own or 'unreadable'}); nothing was changed. Use a new hydra.run.dir, or "
                "trainer.resume=auto to continue that run."
            )
        return None
    source = find_checkpoint(resume)
    if own and Path(source).resolve().parent != own_dir.resolve():
        raise CheckpointError(
            f"trainer.resume={resume}, but this run dir already has its own checkpoints "
            f"({own}); starting from another run here would mix two runs. Use a new "
            "hydra.run.dir, or trainer.resume=auto to continue this one."
        )
    return source


def checkpoint_step(prefix: str) -> int:
    """The step a `ckpt-<step>` prefix was saved at."""
    try:
        return int(prefix.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


class Checkpoints:
    """Saves and restores a `tf.train.Checkpoint` of the run state in `<run_dir>/checkpoints`."""

    def __init__(
        self,
        checkpoint: tf.train.Checkpoint,
        run_dir: str | os.PathLike,
        *,
        step: tf.Variable,
        max_to_keep: int,
        subdir: str = CHECKPOINT_DIR,
    ) -> None:
        self.checkpoint = checkpoint
        # `subdir`: another folder of the run dir (the best checkpoint: checkpoints/best).
        self.directory = Path(run_dir) / subdir
        self.step = step
        self.manager = tf.train.CheckpointManager(
            checkpoint, str(self.directory), max_to_keep=max_to_keep, step_counter=step
        )

    def save(self, config: DictConfig | None = None) -> str:
        """Save at the current step (the step is the checkpoint number); returns the prefix."""
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        if config is not None:
            tmp = self.directory / f".{CONFIG_FILE}.tmp"
            tmp.write_text(OmegaConf.to_yaml(config, resolve=True), encoding="utf-8")
            os.replace(tmp, self.directory / CONFIG_FILE)
        return path

    def restore(self, prefix: str) -> None:
        """Restore every part of the state from `prefix`, or fail saying what did not match."""
        restore_into(self.checkpoint, prefix, complete=True)


def restore_into(checkpoint: tf.train.Checkpoint, prefix: str, *, complete: bool) -> None:
    """Restore `checkpoint` from `prefix`.

    complete=True: every value in the file must land in an object and every object must get
    a value (a full resume). complete=False: only the objects given must be found (tools
    that load just the generator).
    """
    try:
        status = checkpoint.restore(prefix)
        if complete:
            status.assert_consumed()
        status.assert_existing_objects_matched()
        if not complete:
            status.expect_partial()
    except (AssertionError, ValueError) as error:
        detail = " ".join(str(error).split())[:400]
        raise CheckpointError(
            f"checkpoint {prefix} does not match the configured models/optimizers ({detail}). "
            "Use the config the checkpoint was trained with (its run dir's "
            f"{CHECKPOINT_DIR}/{CONFIG_FILE}), or start a new run dir."
        ) from error
    except (tf.errors.OpError, IndexError, OSError, KeyError) as error:
        # A missing or truncated file surfaces as any of these, depending on which part broke.
        first_line = (str(error).splitlines() or [""])[0]
        raise CheckpointError(
            f"cannot read checkpoint {prefix} ({type(error).__name__}: {first_line}); the files "
            "may be missing or damaged. Resume from an older checkpoint with "
            "trainer.resume=<run_dir>/checkpoints/ckpt-<step>."
        ) from error
