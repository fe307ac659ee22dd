"""A run whose R1/R2 gamma and Adam beta_2 follow schedules resumes them exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gantrain.config import load_run_config
from gantrain.logging.stats import read_jsonl
from gantrain.training.loop import train
from tests.conftest import compose_config


def test_a_resumed_run_continues_gamma_and_beta_2_schedules_exactly(
    tiny_overrides, tmp_path: Path
) -> None:
    features = [
        *tiny_overrides,
        "loss=relativistic_pairing",
        "regularizer=[r1,r2]",
        "regularizer.r1.gamma=1.0",
        "regularizer.r1.schedule=cosine",
        "regularizer.r1.final_gamma=0.1",
        "regularizer.r2.gamma=1.0",
        "regularizer.r2.schedule=linear",
        "regularizer.r2.final_gamma=0.1",
        "optimizer.generator.beta_2_schedule=cosine",
        "optimizer.generator.final_beta_2=0.99",
        "optimizer.discriminator.beta_2_schedule=cosine",
        "optimizer.discriminator.final_beta_2=0.99",
        "trainer.max_steps=4",
        "trainer.log_every=1",
        "trainer.checkpoint_every=2",
    ]

    def run(run_dir: Path) -> None:
        train(load_run_config(compose_config(overrides=features)), run_dir)

    run(tmp_path / "straight")
    # Simulate a crash after step 2's checkpoint: the run resumes from ckpt-2 to step 4.
    resumed_dir = tmp_path / "resumed"
    run(resumed_dir)
    for path in (resumed_dir / "checkpoints").glob("ckpt-4*"):
        path.unlink()
    (resumed_dir / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n'
    )
    run(resumed_dir)
    assert read_jsonl(resumed_dir / "run_info.jsonl")[-1]["resumed_from"].endswith("ckpt-2")
    keys = ("d_loss", "g_loss", "d_r1", "d_r2")
    straight, resumed = (
        {r["step"]: [r[k] for k in keys] for r in read_jsonl(tmp_path / d / "stats.jsonl")}
        for d in ("straight", "resumed")
    )
    assert sorted(resumed) == [1, 2, 3, 4]
    for step in range(1, 5):
        np.testing.assert_allclose(resumed[step], straight[step], rtol=1e-5, err_msg=f"step {step}")
