"""Training in-process with tiny models: resume continues exactly."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrain.config import load_run_config
from gantrain.errors import CheckpointError
from gantrain.logging.stats import read_jsonl
from gantrain.training.loop import train
from tests.conftest import compose_config

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def _train(overrides: list[str], run_dir: Path, **trainer):
    extra = [f"trainer.{k}={v}" for k, v in trainer.items()]
    return train(load_run_config(compose_config(overrides=[*overrides, *extra])), run_dir)


def _losses(run_dir: Path) -> dict[int, list[float]]:
    return {r["step"]: [r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")}


def test_resume_continues_step_count_and_losses(tiny_overrides, tmp_path: Path) -> None:
    every = {"log_every": 1, "sample_every": 3, "checkpoint_every": 3}
    straight = _train(tiny_overrides, tmp_path / "straight", max_steps=6, **every)
    assert straight.step == 6 and straight.resumed_from is None

    first = _train(tiny_overrides, tmp_path / "resumed", max_steps=3, **every)
    assert first.step == 3
    second = _train(tiny_overrides, tmp_path / "resumed", max_steps=6, **every)
    assert second.step == 6
    assert second.resumed_from.endswith("ckpt-3")

    reference, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(resumed) == [1, 2, 3, 4, 5, 6]
    for step in range(1, 7):
        np.testing.assert_allclose(
            resumed[step], reference[step], rtol=1e-5, err_msg=f"step {step}"
        )
    assert sorted(p.name for p in (tmp_path / "resumed" / "samples").glob("step_*.png")) == [
        "step_000000.png",  # the fresh launch's untrained grid; the resumed one adds none
        "step_000003.png",
        "step_000006.png",
    ]
    infos = read_jsonl(tmp_path / "resumed" / "run_info.jsonl")
    assert [i["resumed_from"] is None for i in infos] == [True, False]


def test_max_steps_reached_stops_at_once(tiny_overrides, tmp_path: Path, caplog) -> None:
    _train(tiny_overrides, tmp_path, max_steps=2)
    before = (tmp_path / "stats.jsonl").read_text()
    with caplog.at_level(logging.INFO, logger="gantrain"):
        result = _train(tiny_overrides, tmp_path, max_steps=2)
    assert result.step == 2 and result.metrics == {}
    assert "nothing to do" in caplog.text and "raise trainer.max_steps" in caplog.text
    assert (tmp_path / "stats.jsonl").read_text() == before


def test_resume_never_refuses_and_keeps_everything(tiny_overrides, tmp_path: Path) -> None:
    _train(tiny_overrides, tmp_path, max_steps=2)
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="resume=never"):
        _train(tiny_overrides, tmp_path, max_steps=4, resume="never")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


def test_resume_from_another_run_dir(tiny_overrides, tmp_path: Path) -> None:
    _train(tiny_overrides, tmp_path / "a", max_steps=2)
    result = _train(tiny_overrides, tmp_path / "b", max_steps=4, resume=str(tmp_path / "a"))
    assert result.step == 4
    assert result.resumed_from == str(tmp_path / "a" / "checkpoints" / "ckpt-2")
    assert (tmp_path / "b" / "checkpoints" / "ckpt-4.index").exists()
    assert not (tmp_path / "a" / "checkpoints" / "ckpt-4.index").exists()


def test_stats_logged_after_the_checkpoint_are_replaced_on_resume(tiny_overrides, tmp_path) -> None:
    _train(tiny_overrides, tmp_path, max_steps=4, log_every=1, checkpoint_every=2)
    # Simulate a crash after step 4 was logged but only ckpt-2 survived.
    for path in (tmp_path / "checkpoints").glob("ckpt-4*"):
        path.unlink()
    (tmp_path / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n'
    )
    _train(tiny_overrides, tmp_path, max_steps=4, log_every=1, checkpoint_every=2)
    steps = [r["step"] for r in read_jsonl(tmp_path / "stats.jsonl")]
    assert steps == [1, 2, 3, 4]


def test_max_kimg_stops_at_the_step_that_shows_that_many_images(tiny_overrides, tmp_path) -> None:
    # 0.048 kimg at batch 16 = 3 steps, before max_steps=4; the last step logs and checkpoints.
    result = _train(tiny_overrides, tmp_path, max_kimg=0.048, log_every=1)
    assert result.step == 3
    records = read_jsonl(tmp_path / "stats.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[-1]["kimg"] == pytest.approx(0.048)
    assert (tmp_path / "checkpoints" / "ckpt-3.index").exists()
    # A fresh run also draws its untrained grid and the real images it is heading for.
    samples = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert samples == ["real.png", "step_000000.png", "step_000002.png", "step_000003.png"]
    real = np.asarray(Image.open(tmp_path / "samples" / "real.png"))
    assert real.shape == np.asarray(Image.open(tmp_path / "samples" / "step_000000.png")).shape
    assert real.std() > 10  # digits, not a blank grid


def test_max_time_stops_cleanly_with_a_checkpoint_and_resumes(tiny_overrides, tmp_path) -> None:
    """The decision is taken on an injected clock (1 s per train call), so it is exact."""
    ticks = iter(range(100))
    run = load_run_config(
        compose_config(overrides=[*tiny_overrides, "trainer.max_time=2.5", "trainer.max_steps=6"])
    )
    result = train(run, tmp_path, clock=lambda: float(next(ticks)))
    assert result.step == 3  # 1 s, 2 s, 3 s >= 2.5 s: stop after the third step
    assert (tmp_path / "checkpoints" / "ckpt-3.index").exists()
    assert read_jsonl(tmp_path / "stats.jsonl")[-1]["step"] == 3
    # The budget counts every launch: the same budget trains nothing more ...
    again = iter(range(100))
    assert train(run, tmp_path, clock=lambda: float(next(again))).step == 3
    # ... and a larger one continues from the checkpoint to max_steps.
    more = _train(tiny_overrides, tmp_path, max_steps=6, max_time="00:10:00")
    assert more.step == 6 and more.resumed_from.endswith("ckpt-3")
