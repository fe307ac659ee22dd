"""A run whose R1/R2 gamma and Adam beta_2 follow schedules resumes them exactly."""

from __future__ import annotations

from pathlib import Path

from gantrain.config import load_run_config
from gantrain.training.loop import train
from tests.conftest import assert_resume_is_exact, compose_config


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

    keys = ("d_loss", "g_loss", "d_r1", "d_r2")
    # A crash after step 2's checkpoint, resumed from ckpt-2 to step 4 (tests/conftest.py).
    assert_resume_is_exact(run, tmp_path, keys)
