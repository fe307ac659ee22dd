"""Checkpoints of `GANState`: where to resume from, saving, and restoring with clear errors.

A run dir keeps its checkpoints in `<run_dir>/checkpoints/` (tf.train.CheckpointManager,
`ckpt-<step>` files). Next to them, `config.yaml` holds the resolved config of the run that
wrote the latest checkpoint: `sample` and other tools rebuild the models from it, even if a
later launch in the same run dir changed `.hydra/config.yaml`.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import tensorflow as tf
from omegaconf import DictConfig, OmegaConf

from gantrain import checkpoint_files as files
from gantrain.atomic import atomic_write_text
from gantrain.errors import CheckpointError, NonFiniteLossError, disk_problem

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.yaml"


def latest_checkpoint(directory: str | os.PathLike) -> str | None:
    """Prefix of the newest readable checkpoint in a checkpoint directory, or None if it has
    none at all.

    A damaged newer checkpoint (a truncated data file, a missing index: a crash or a full disk
    while saving) is skipped with a warning naming it; if checkpoints exist but none is
    readable, that is a CheckpointError listing each one and what is wrong with it.
    """
    directory = Path(directory)
    good, bad = files.readable_candidates(directory)
    if good is None and bad:
        found = "; ".join(f"{Path(p).name}: {why}" for p, why in bad)
        raise CheckpointError(
            f"no readable checkpoint in {directory} (found {found}); the files are damaged. "
            "Start a new run dir, or pass a checkpoint copied from elsewhere with "
            "trainer.resume=<path>."
        )
    for prefix, why in bad:
        log.warning(
            "skipping damaged checkpoint %s (%s); using %s instead", prefix, why, Path(good).name
        )
    return good


def find_checkpoint(path: str | os.PathLike) -> str:
    """Resolve a run dir, a checkpoint dir or a checkpoint prefix to a readable prefix."""
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
        trouble = files.problem(path)
        if trouble:
            raise CheckpointError(
                f"cannot read checkpoint {path} ({trouble}); the files are damaged. Give an "
                f"older one, or the run dir ({path.parent.parent}) to use its newest "
                "readable checkpoint."
            )
        return str(path)
    raise CheckpointError(
        f"{path}: neither a run dir nor a checkpoint (no {path}.index); give a run dir or a "
        "checkpoint prefix such as outputs/train/<run>/checkpoints/ckpt-1000."
    )


def resolve_resume(resume: str, run_dir: str | os.PathLike) -> str | None:
    """The checkpoint a run in `run_dir` starts from, per `trainer.resume`; None: fresh start."""
    own_dir = Path(run_dir) / CHECKPOINT_DIR
    if resume == "never":
        found = files.candidates(own_dir)
        if found:
            raise CheckpointError(
                f"trainer.resume=never, but {own_dir} already has checkpoints (latest: "
                f"{found[0]}); nothing was changed. Use a new hydra.run.dir, or "
                "trainer.resume=auto to continue that run."
            )
        return None
    own = latest_checkpoint(own_dir)
    if resume == "auto":
        return own
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
    return files.step_of(prefix)


def ensure_writable(directory: Path) -> None:
    """Create `directory` and write a probe file into it, or raise CheckpointError now (not
    at the first checkpoint, hours into the run).

    The probe's name is unique to this process: the workers of a multi-worker run probe the
    same run dir at the same moment, and one must not delete the other's probe."""
    probe = directory / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"gantrain")
        probe.unlink()
    except OSError as error:
        raise CheckpointError(
            f"cannot write into {directory} ({type(error).__name__}: {error.strerror or error}); "
            "pick a writable hydra.run.dir or fix the directory's permissions."
        ) from error


class Checkpoints:
    """Saves and restores a `tf.train.Checkpoint` of the run state in `<run_dir>/checkpoints`.

    Saving never leaves the directory without a readable latest checkpoint (see
    gantrain/checkpoint_files.py); the newest `max_to_keep` recorded checkpoints are kept.
    """

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
        self.max_to_keep = max_to_keep
        # `restore` creates the checkpoint's save counter and expects it in the file: count
        # saves with it, as tf.train.CheckpointManager does.
        self.save_counter = checkpoint.save_counter

    def save(self, config: DictConfig | None = None) -> str:
        """Save at the current step (the step is the checkpoint number); returns the prefix.

        Raises CheckpointError (and leaves the previous latest checkpoint in charge) when the
        directory cannot be written, the disk is full, or the written files do not read back.
        """
        final = str(self.directory / f"{files.PREFIX}-{int(self.step.numpy())}")
        partial = str(self.directory / f"{files.PARTIAL}{Path(final).name}")
        bad = nonfinite_variables(self.checkpoint)
        if bad:
            # Even with trainer.on_nan=skip (which guards against NaN losses, not against a
            # finite loss whose update overflowed): a checkpoint never holds NaN/inf weights.
            listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise NonFiniteLossError(
                f"step {int(self.step.numpy())}: the training state holds NaN/inf values "
                f"({listed}); not saving it, the latest checkpoint is still "
                f"{self.latest() or 'none'}. Lower the learning rates (or set "
                "trainer.clip_grad_norm) and resume from it."
            )
        state = files.read_state(self.directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            files.delete(partial)  # left by a run killed while saving
            self.save_counter.assign_add(1)
            self.checkpoint.write(partial)
            trouble = files.problem(partial)
            if trouble:
                raise OSError(f"the written files do not read back: {trouble}")
            if config is not None:
                text = OmegaConf.to_yaml(config, resolve=True)
                atomic_write_text(self.directory / CONFIG_FILE, text)
            kept = [p for p in state.kept if p != final and Path(f"{p}.index").exists()]
            # Older checkpoints the `checkpoint` file does not list (it was lost, or a kill
            # came between publishing and recording) are pruned like the recorded ones.
            recorded = {*state.kept, state.latest}
            step = files.step_of(final)
            orphans = [
                p
                for p in files.on_disk(self.directory)
                if p not in recorded and files.step_of(p) < step and Path(f"{p}.index").exists()
            ]
            kept = [*sorted(orphans, key=files.step_of), *kept]
            if final in state.kept or final == state.latest:
                # Its files are about to be replaced: stop pointing at them first.
                files.write_state(self.directory, kept[-1] if kept else None, kept)
            files.publish(partial, final)
            kept = [*kept, final]
            files.write_state(self.directory, final, kept[-self.max_to_keep :])
        except (tf.errors.OpError, OSError) as error:
            files.delete(partial)
            detail = (str(error).strip().splitlines() or [""])[0][:200]
            # TensorFlow hides ENOSPC in a long op message: say it plainly when it is that.
            detail = disk_problem(error) or f"{type(error).__name__}: {detail}"
            latest, _ = files.readable_candidates(self.directory)
            raise CheckpointError(
                f"cannot save checkpoint {final} ({detail}); the "
                f"latest checkpoint is still {latest or 'none'}. Check that {self.directory} "
                "is writable and its disk has space, then rerun to resume."
            ) from error
        except BaseException:
            files.delete(partial)  # a second Ctrl-C mid-save: leave no partial files
            raise
        for old in kept[: -self.max_to_keep]:
            files.delete(old)
        return final

    def latest(self) -> str | None:
        """The checkpoint the `checkpoint` file names as the latest (None before any save)."""
        return files.read_state(self.directory).latest

    def restore(self, prefix: str) -> None:
        """Restore every part of the state from `prefix`, or fail saying what did not match."""
        restore_into(self.checkpoint, prefix, complete=True)


def nonfinite_variables(checkpoint: tf.train.Checkpoint) -> list[str]:
    """The floating-point variables of `checkpoint` holding NaN or inf, as `part: path`
    (`discriminator: conv2d/kernel`); the models' weights first, then optimizer slots etc."""
    import keras

    bad = []
    seen: set[int] = set()
    parts = tf.train.TrackableView(checkpoint).children(checkpoint).items()
    for part, child in sorted(parts, key=lambda item: not isinstance(item[1], keras.Model)):
        for obj in [child, *tf.train.TrackableView(child).descendants()]:
            if isinstance(obj, keras.Variable):
                name, value = obj.path, obj.value
            elif isinstance(obj, tf.Variable):
                name, value = obj.name.split(":")[0], obj
            else:
                continue
            if id(obj) in seen or not tf.as_dtype(value.dtype).is_floating:
                continue
            seen.add(id(obj))
            if not bool(tf.reduce_all(tf.math.is_finite(value))):
                bad.append(f"{part}: {name}")
    return bad


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
