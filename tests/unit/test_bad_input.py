"""Bad input gets one clear line (the rest of the list lives in test_config.py, test_data.py,
test_checkpoint.py and tests/e2e/test_cli.py; the README's Reliability table maps them)."""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
import types
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig, OmegaConf

from gantrain.config import build, load_run_config
from gantrain.distribute import per_replica_batch_size
from gantrain.errors import ConfigError
from gantrain.overrides import check_overrides
from gantrain.tasks.common import user_errors
from gantrain.training.interrupt import InterruptRequest
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["trainer.max_stepz=3"],
            "gantrain: trainer.max_stepz: unknown key. Valid keys of trainer: max_steps, ",
        ),
        (
            ["generator=dcgan", "generator.foo.bar=1"],
            "gantrain: generator.foo.bar: unknown key. Valid keys of generator: _target_, ",
        ),
        (["trainer.batch_size=[1,2"], "gantrain: cannot apply the overrides: no viable"),
    ],
)
def test_overrides_hydra_cannot_apply_are_one_line(args: list[str], expected: str) -> None:
    problem = check_overrides("train", args)
    assert problem is not None and problem.startswith(expected), problem
    assert "\n" not in problem


def test_valid_overrides_and_sweeps_pass_the_check() -> None:
    assert check_overrides("train", ["trainer.max_steps=3", "+trainer.extra=1"]) is None
    assert check_overrides("train", ["-m", "trainer.max_stepz=1,2"]) is None  # Hydra's
    assert check_overrides("no-such-command", ["x.y=1"]) is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.on_nan=ignore", "trainer.on_nan='ignore': use stop or skip."),
        ("trainer.deterministic=maybe", "trainer.deterministic: Value 'maybe'"),
        ("trainer.checkpoints_to_keep=0", "trainer.checkpoints_to_keep=0: must be a positive"),
        ("trainer.max_steps=-1", "trainer.max_steps=-1: must be a positive"),
        ("trainer.n_critic=0", "trainer.n_critic=0: must be a positive"),
    ],
)
def test_bad_trainer_values_name_their_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_run_config(compose_config(overrides=[override]))
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("lr", ["0", "-1e-4"])
def test_non_positive_learning_rate_is_a_config_error(lr: str) -> None:
    run = load_run_config(compose_config(overrides=[f"optimizer.discriminator.lr={lr}"]))
    with pytest.raises(ConfigError) as info:
        build(run.optimizer_discriminator, "optimizer.discriminator")
    assert str(info.value).startswith("optimizer.discriminator: ")
    assert f"rejected its arguments: lr={float(lr):g} must be positive" in str(info.value)


def test_batch_not_divisible_by_replicas_names_both() -> None:
    strategy = types.SimpleNamespace(num_replicas_in_sync=3)
    assert per_replica_batch_size(strategy, 12) == 4
    with pytest.raises(ConfigError) as info:
        per_replica_batch_size(strategy, 16)
    assert str(info.value) == (
        "trainer.batch_size=16 does not divide evenly over 3 replicas; use a multiple of 3."
    )


def test_a_run_dir_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    problem = check_overrides("train", [f"hydra.run.dir={blocker}/run"])
    assert problem == (
        f"gantrain: cannot create the run dir {blocker}/run: {blocker} is not a directory; "
        "pick another hydra.run.dir."
    )
    assert check_overrides("train", [f"hydra.run.dir={tmp_path}/new/run"]) is None


# --- issue 11: what used to be a traceback ------------------------------------------------


def _one_line_exit(task, caplog: pytest.LogCaptureFixture, code: int = 2) -> str:
    """Run `task` under user_errors; check the exit code and return the last warning or
    error it logged (one line, no traceback on the console)."""
    with caplog.at_level(logging.INFO, logger="gantrain"), pytest.raises(SystemExit) as info:
        user_errors(task)()
    assert info.value.code == code
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines and all("\n" not in line for line in lines), lines
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.INFO)
    return lines[-1]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_run_dir_on_a_pseudo_filesystem_is_one_line() -> None:
    # root may write /proc by its permission bits; only trying shows the refusal.
    problem = check_overrides("train", ["hydra.run.dir=/proc/gantrain-run"])
    assert problem is not None and problem.startswith(
        "gantrain: cannot create the run dir /proc/gantrain-run: /proc refuses new folders ("
    ), problem
    assert not Path("/proc/gantrain-run").exists()


@pytest.mark.parametrize("name", ["a" * 300, "b/" * 2100], ids=["long name", "long path"])
def test_a_run_dir_name_too_long_is_one_line(tmp_path: Path, name: str) -> None:
    problem = check_overrides("train", [f"hydra.run.dir={tmp_path}/{name}"])
    assert problem is not None and problem.startswith("gantrain: cannot create the run dir ")
    assert problem.endswith("; pick another hydra.run.dir.") and "long" in problem
    assert len(problem) < 400 and list(tmp_path.iterdir()) == []  # the probe is gone


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("sample", [], "gantrain sample: run_dir, output are required: give run_dir=... output="),
        ("sample", ["output=x.npz"], "gantrain sample: run_dir is required: give run_dir=..."),
        ("export", ["run_dir=x"], "gantrain export: output is required: give output=... (`gantr"),
    ],
)
def test_required_keys_left_out_are_one_line_naming_them(
    command: str, args: list[str], expected: str
) -> None:
    problem = check_overrides(command, args)
    assert problem is not None and problem.startswith(expected), problem


def test_a_missing_mandatory_value_inside_a_task_is_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = OmegaConf.create({"output": "???"})
    line = _one_line_exit(lambda: cfg.output, caplog)
    assert line.startswith("error: output is required: give output=... on the command line")


EVIL = '!!python/object/apply:os.system ["touch {marker}"]'


def _evil_yaml(path: Path, marker: Path, header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{header}trainer:\n  max_steps: {EVIL.format(marker=marker)}\n")
    return path


def test_a_python_tag_in_a_user_config_file_is_one_line_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _evil_yaml(tmp_path / "mine" / "experiment" / "evil.yaml", marker, "# @package _global_\n")
    expected = (
        f"gantrain: {tmp_path}/mine/experiment/evil.yaml, line 3: the YAML tag "
        "!!python/object/apply:os.system is not allowed: gantrain reads configs as plain data"
    )
    for args in (
        [f"hydra.searchpath=[file://{tmp_path}/mine]", "+experiment=evil"],
        ["--config-dir", str(tmp_path / "mine"), "+experiment=evil"],
        [f"--config-dir={tmp_path / 'mine'}", "+experiment=evil"],
    ):
        problem = check_overrides("train", args)
        assert problem is not None and problem.startswith(expected), (args, problem)
    assert check_overrides("train", ["--config-dir", str(tmp_path), "-m"]) is None  # Hydra's
    assert not marker.exists()


def test_a_python_tag_on_the_command_line_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    problem = check_overrides("train", [f"trainer.max_steps={EVIL.format(marker=marker)}"])
    assert problem is not None and problem.startswith("gantrain: cannot apply the overrides: ")
    quoted = f"trainer.max_steps='{EVIL.format(marker=marker)}'"  # a plain string, then
    with pytest.raises(ConfigError, match="could not be converted to Integer"):
        load_run_config(compose_config(overrides=[quoted]))
    assert not marker.exists()


def test_a_python_tag_in_a_run_dirs_config_is_one_line_for_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gantrain.tasks import report

    marker = tmp_path / "ran"
    _evil_yaml(tmp_path / "run" / ".hydra" / "config.yaml", marker)
    (tmp_path / "run" / ".hydra" / "overrides.yaml").write_text("[]\n")
    cfg = compose_config("report", [f"dir={tmp_path / 'run'}"])
    line = _one_line_exit(lambda: report.main(cfg), caplog)
    assert line.startswith(
        f"error: {tmp_path}/run/.hydra/config.yaml, line 2: the YAML tag "
        "!!python/object/apply:os.system is not allowed"
    ), line
    assert not marker.exists()


def test_a_second_ctrl_c_stops_at_once_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def train() -> None:
        with InterruptRequest() as interrupt:
            os.kill(os.getpid(), signal.SIGINT)
            assert interrupt.signal_name == "SIGINT"  # the first asks for a save
            os.kill(os.getpid(), signal.SIGINT)  # the second (mid-save, say) stops at once
            time.sleep(5)  # the handler raises before this ends
            pytest.fail("the second SIGINT did not stop")

    line = _one_line_exit(train, caplog, code=130)
    assert line == (
        "SIGINT again: stopped at once, without saving; the checkpoints saved before are "
        "kept. Run the same command again to resume from the latest one."
    )
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_a_ctrl_c_outside_training_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    line = _one_line_exit(interrupted, caplog, code=130)
    assert line == "interrupted by SIGINT (Ctrl-C); nothing new was saved."


def _sample_cfg(output: Path, *extra: str) -> DictConfig:
    return compose_config("sample", ["run_dir=unused", f"output={output}", *extra])


def test_sample_refuses_to_replace_an_existing_output_unless_told(tmp_path: Path) -> None:
    from gantrain.tasks.sample import _check

    existing = tmp_path / "samples.npz"
    existing.write_bytes(b"precious")
    with pytest.raises(ConfigError) as info:
        _check(_sample_cfg(existing))
    assert str(info.value) == (
        f"output={existing}: {existing} exists; pass overwrite=true to replace, or pick "
        "another output=."
    )
    assert _check(_sample_cfg(existing, "overwrite=true")) == existing
    (tmp_path / "new.png").write_bytes(b"")  # the grid beside new.npz
    with pytest.raises(ConfigError, match=r"new\.png exists; pass overwrite=true"):
        _check(_sample_cfg(tmp_path / "new.npz", "grid=true"))
    folder = tmp_path / "pngs"
    folder.mkdir()
    assert _check(_sample_cfg(folder)) == folder  # empty: fine
    (folder / "000000.png").write_bytes(b"")
    with pytest.raises(ConfigError, match="the folder already holds files; pass overwrite=true"):
        _check(_sample_cfg(folder))
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ConfigError, match="is a folder; give a file name"):
        _check(_sample_cfg(tmp_path / "dir.png", "overwrite=true"))
    assert existing.read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not an archive", "is not an .npz archive (not even a zip file, which an .npz is"),
        ("npy", "is not an .npz archive (it is a single .npy array, as np.save writes; np.savez"),
        ("object", "holds object (pickled) arrays, which gantrain never loads since unpickling"),
    ],
)
def test_a_file_that_is_not_a_plain_npz_says_what_it_is(
    tmp_path: Path, content: bytes | str, expected: str
) -> None:
    from gantrain.data.npz import read_npz_arrays
    from gantrain.errors import DatasetError

    path = tmp_path / "x.npz"
    if content == "npy":
        with path.open("wb") as file:
            np.save(file, np.zeros((2, 4, 4, 1), np.float32))
    elif content == "object":
        np.savez(path, images=np.array([{"a": 1}], dtype=object))
    else:
        path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        read_npz_arrays(path, ("images",), layout="an .npz with `images`", setting="images")
    message = str(info.value)
    assert message.startswith(f"images={path} {expected}"), message
    assert "allow_pickle" not in message and "pickle.load" not in message


def test_a_single_nan_pixel_in_eval_images_is_named(tmp_path: Path) -> None:
    from gantrain.errors import DatasetError
    from gantrain.eval.runner import load_images

    images = np.zeros((8, 6, 6, 1), np.float32)
    images[5, 2, 3, 0] = np.nan
    np.savez(tmp_path / "x.npz", images=images)
    with pytest.raises(DatasetError) as info:
        load_images(tmp_path / "x.npz")
    assert str(info.value).startswith(
        f"images={tmp_path / 'x.npz'}: 1 value is NaN or infinite, the first nan at image 5, "
        "pixel (y=2, x=3), channel 0; expected an .npz"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_writing_stats_is_one_line_naming_the_file() -> None:
    from gantrain.errors import StorageError
    from gantrain.logging.stats import JsonlWriter

    writer = JsonlWriter("/dev/full")  # every write: ENOSPC
    with pytest.raises(StorageError) as info:
        writer.write({"step": 1})
    assert str(info.value) == (
        "cannot write /dev/full: no space left on device; free some space and rerun; the "
        "records written before are kept"
    )


def test_a_full_disk_while_writing_a_picture_leaves_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from gantrain.errors import StorageError
    from gantrain.logging.images import save_png

    path = save_png(np.zeros((4, 4, 1), np.uint8), tmp_path / "grid.png")
    before = path.read_bytes()

    def full(self, file, *args, **kwargs) -> None:
        file.write(b"half a picture")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(StorageError, match=rf"^cannot write {path}: no space left on device; "):
        save_png(np.ones((4, 4, 1), np.uint8), path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


def test_a_full_disk_while_saving_a_checkpoint_says_so_and_keeps_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    from gantrain.checkpointing import Checkpoints
    from gantrain.errors import CheckpointError

    step = tf.Variable(1, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(weight=tf.Variable(1.0), step=step)
    checkpoints = Checkpoints(checkpoint, tmp_path, step=step, max_to_keep=3)
    first = checkpoints.save()
    step.assign(2)

    def full(prefix: str) -> None:
        # What TensorFlow raises on ENOSPC: no errno, the C library's text inside.
        raise tf.errors.ResourceExhaustedError(
            None,
            None,
            f"{prefix}_temp/part-0.data-00000-of-00001.tempstate1; No space left on "
            "device [Op:SaveV2]",
        )

    monkeypatch.setattr(checkpoint, "write", full)
    with pytest.raises(CheckpointError) as info:
        checkpoints.save()
    assert str(info.value) == (
        f"cannot save checkpoint {tmp_path}/checkpoints/ckpt-2 (no space left on device); the "
        f"latest checkpoint is still {first}. Check that {tmp_path}/checkpoints is writable "
        "and its disk has space, then rerun to resume."
    )
    assert checkpoints.latest() == first


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, "/data/x: no space left on device; free some space there (or write"),
        (errno.EROFS, "/data/x: read-only file system; pick a path you can write (hydra.run.dir="),
        (errno.ENAMETOOLONG, "/data/x: file name too long; use a shorter path."),
    ],
)
def test_disk_errors_anywhere_in_a_task_are_one_line(
    caplog: pytest.LogCaptureFixture, code: int, expected: str
) -> None:
    def task() -> None:
        raise OSError(code, os.strerror(code), "/data/x")

    assert _one_line_exit(task, caplog).startswith(f"error: {expected}")


def test_other_errors_keep_their_traceback() -> None:
    def task() -> None:
        raise OSError(errno.ENOENT, "No such file or directory", "/data/x")  # a bug, usually

    with pytest.raises(FileNotFoundError):
        user_errors(task)()


def test_a_relative_run_dir_finds_its_checkpoints_without_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # `sample run_dir=outputs/train/<run>` (the README's command) warned that every
    # checkpoint was damaged: the `checkpoint` file's names were prefixed twice.
    import tensorflow as tf

    from gantrain.checkpointing import Checkpoints, find_checkpoint

    monkeypatch.chdir(tmp_path)
    step = tf.Variable(1, dtype=tf.int64)
    checkpoints = Checkpoints(tf.train.Checkpoint(step=step), Path("run"), step=step, max_to_keep=2)
    checkpoints.save()
    step.assign(2)
    checkpoints.save()
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        found = find_checkpoint("run")
    assert Path(found).resolve() == (tmp_path / "run" / "checkpoints" / "ckpt-2").resolve()
    assert caplog.records == []


def test_checkpoint_names_resolve_inside_the_run_dir(tmp_path: Path) -> None:
    from gantrain.tasks.sample import run_checkpoint

    run = tmp_path / "run"
    (run / "checkpoints" / "best").mkdir(parents=True)
    for name in ("checkpoints/ckpt-5.index", "checkpoints/best/ckpt-3.index"):
        (run / name).touch()
    assert run_checkpoint(run, None) == str(run)
    assert run_checkpoint(run, "ckpt-5") == str(run / "checkpoints" / "ckpt-5")
    assert run_checkpoint(run, "best/ckpt-3") == str(run / "checkpoints" / "best" / "ckpt-3")
    elsewhere = tmp_path / "copied" / "ckpt-9"
    assert run_checkpoint(run, str(elsewhere)) == str(elsewhere)  # a path stays a path
    # A name the run does not have is passed on unchanged, for find_checkpoint's error.
    assert run_checkpoint(run, "ckpt-7") == "ckpt-7"
