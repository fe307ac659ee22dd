"""Strategies from the command line, each in a fresh process as users run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gantrain.config import load_run_config
from gantrain.logging.stats import read_jsonl
from gantrain.training.loop import train
from tests.conftest import REPO, TINY, compose_config, run_gantrain

pytestmark = pytest.mark.e2e

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")
STEPS = ["trainer.max_steps=4", "trainer.log_every=1", "trainer.sample_every=4"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _losses(run_dir: Path) -> np.ndarray:
    return np.array([[r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")])


def _reference_losses(tiny_mnist: Path, run_dir: Path) -> np.ndarray:
    """The same run under the default strategy, in this process."""
    overrides = [*TINY, f"dataset.path={tiny_mnist}", *STEPS]
    train(load_run_config(compose_config(overrides=overrides)), run_dir)
    return _losses(run_dir)


@pytest.mark.slow
def test_mirrored_from_the_cli_sets_up_logical_cpus_first(tiny_mnist: Path, tmp_path) -> None:
    # A fresh process: the CLI imports TensorFlow and lists devices, Hydra composes, then
    # train() must create the strategy (splitting the CPU) before any TensorFlow op.
    run_dir = tmp_path / "mirrored"
    result = run_gantrain(
        "train", *TINY, f"dataset.path={tiny_mnist}", *STEPS, f"hydra.run.dir={run_dir}",
        "strategy=mirrored", "strategy.num_cpu_devices=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stderr
    np.testing.assert_allclose(
        _losses(run_dir), _reference_losses(tiny_mnist, tmp_path / "default"), rtol=2e-4, atol=1e-5
    )


@pytest.mark.slow
def test_two_workers_train_together_and_only_the_chief_writes(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        scratch = tmp_path / f"tmp{index}"
        scratch.mkdir()
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TMPDIR": str(scratch),
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        }
        command = [
            sys.executable, "-m", "gantrain", "train", *TINY, f"dataset.path={tiny_mnist}",
            *STEPS, "trainer.checkpoint_every=4", "strategy=multi_worker",
            "strategy.communication=ring", f"hydra.run.dir={run_dir}",
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    assert "2 replica(s)" in outputs[0][1]

    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.index"))
    assert checkpoints == ["ckpt-4.index"]
    # The real-image grid and the step-0 grid of a fresh run, then the last step's: once each.
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == [
        "real.png",
        "step_000000.png",
        "step_000004.png",
    ]
    assert len(read_jsonl(run_dir / "run_info.jsonl")) == 1
    assert sorted(p.name for p in run_dir.glob("*.log")) == ["train.log", "train.worker1.log"]
    assert "training dcgan_generator" in (run_dir / "train.worker1.log").read_text()
    # The non-chief saved into a scratch dir of its own and deleted it.
    assert list((tmp_path / "tmp1").iterdir()) == []
    # Two workers with one replica each train like one device with the global batch.
    np.testing.assert_allclose(
        _losses(run_dir), _reference_losses(tiny_mnist, tmp_path / "default"), rtol=2e-4, atol=1e-5
    )
