"""`python -m gantrain train` in a subprocess: every artifact of a run, then `sample`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_gantrain

pytestmark = pytest.mark.e2e

SCALARS = {
    "loss/generator", "loss/discriminator", "D/real", "D/fake", "lr/generator",
    "lr/discriminator", "speed/images_per_sec", "progress/kimg",
}  # fmt: skip


# `trained_run`: tests/e2e/conftest.py (shared with test_api_e2e.py).


def test_run_dir_has_every_artifact(trained_run: Path) -> None:
    assert (trained_run / ".hydra" / "config.yaml").exists()
    assert (trained_run / "train.log").exists()
    checkpoints = trained_run / "checkpoints"
    assert (checkpoints / "checkpoint").exists()
    assert sorted(p.name for p in checkpoints.glob("*.index")) == ["ckpt-2.index", "ckpt-4.index"]
    assert (checkpoints / "config.yaml").exists()
    samples = sorted(p.name for p in (trained_run / "samples").glob("*.png"))
    assert samples == ["real.png", "step_000000.png", "step_000002.png", "step_000004.png"]
    grid = np.asarray(Image.open(trained_run / "samples" / "step_000004.png"))
    assert grid.shape == (4 * 58 + 2, 4 * 58 + 2)  # 4x4 digits of 28 px enlarged x2, 2 px gaps


def test_stats_jsonl_has_one_record_per_logged_step(trained_run: Path) -> None:
    records = [json.loads(line) for line in (trained_run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for record in records:
        assert {"step", "g_loss", "d_loss", "images_per_sec", "elapsed_sec"} <= record.keys()
        assert np.isfinite([record["g_loss"], record["d_loss"]]).all()
        assert record["images_per_sec"] > 0
    assert records[1]["elapsed_sec"] > records[0]["elapsed_sec"] > 0


def test_tensorboard_events_hold_scalars_and_grid(trained_run: Path) -> None:
    events = EventAccumulator(str(trained_run / "tb"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert tags >= SCALARS
    steps = [e.step for e in events.Tensors("loss/generator")]
    assert steps == [2, 4]
    assert "D(x)" in events.SummaryMetadata("D/real").summary_description
    assert "samples/fixed_latents" in tags  # TF2 image summaries are stored as tensors
    assert [e.step for e in events.Tensors("samples/fixed_latents")] == [0, 2, 4]
    assert [e.step for e in events.Tensors("samples/real")] == [0]


def test_sample_writes_npz(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "samples.npz"
    result = run_gantrain(
        "sample", f"run_dir={trained_run}", "num_samples=10", f"output={out}", "seed=3"
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as data:
        images = data["images"]
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    again = tmp_path / "again.npz"
    run_gantrain("sample", f"run_dir={trained_run}", "num_samples=10", f"output={again}", "seed=3")
    with np.load(again) as data:
        np.testing.assert_array_equal(data["images"], images)


def test_sample_writes_png_grid(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    result = run_gantrain("sample", f"run_dir={trained_run}", "num_samples=9", f"output={out}")
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(out)).shape == (3 * 58 + 2, 3 * 58 + 2)


def test_sample_bad_run_dir_is_one_line(tmp_path: Path) -> None:
    result = run_gantrain("sample", f"run_dir={tmp_path}", f"output={tmp_path / 'x.npz'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.stderr
