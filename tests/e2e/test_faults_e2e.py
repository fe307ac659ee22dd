"""Faults a user meets from the command line: kill -9 mid-run, SIGTERM from a scheduler."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gantrain.logging.stats import read_jsonl
from tests.conftest import REPO, TINY, run_gantrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")
MAX_STEPS = 40
# Every step logged and every other one checkpointed, so a kill lands anywhere: between
# steps, while logging, or half-way through writing a checkpoint.
SETTINGS = [
    *TINY,
    f"trainer.max_steps={MAX_STEPS}",
    "trainer.log_every=1",
    "trainer.checkpoint_every=2",
    f"trainer.sample_every={MAX_STEPS}",
    "trainer.deterministic=true",
]


def _start(run_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gantrain", "train", *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def _logged_step(run_dir: Path) -> int:
    path = run_dir / "stats.jsonl"
    if not path.exists():
        return 0
    steps = [r["step"] for r in read_jsonl(path)]
    return max(steps, default=0)


def _wait_for_step(process: subprocess.Popen, run_dir: Path, step: int, timeout: float) -> int:
    """Poll stats.jsonl until the run has logged `step`; returns the step logged by then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = _logged_step(run_dir)
        if logged >= step:
            return logged
        if process.poll() is not None:
            pytest.fail(f"the run ended before step {step}:\n{process.communicate()[1]}")
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"no step {step} within {timeout}s")


def _losses(run_dir: Path) -> dict[int, list[float]]:
    return {r["step"]: [r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")}


def test_kill_9_at_a_random_step_then_rerun_gives_the_uninterrupted_losses(
    tmp_path: Path, tiny_mnist: Path
) -> None:
    settings = [*SETTINGS, f"dataset.path={tiny_mnist}"]
    kill_at = random.randrange(3, MAX_STEPS // 2)
    # The uninterrupted reference runs alongside (two cores; determinism does not care).
    reference = _start(tmp_path / "reference", *settings)
    victim = _start(tmp_path / "killed", *settings)
    try:
        _wait_for_step(victim, tmp_path / "killed", kill_at, timeout=240)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        killed_at = _logged_step(tmp_path / "killed")
        assert killed_at < MAX_STEPS, "the run finished before the kill: nothing was tested"

        rerun = run_gantrain("train", *settings, f"hydra.run.dir={tmp_path / 'killed'}")
        assert rerun.returncode == 0, rerun.stderr
        reference.wait(timeout=240)
        assert reference.returncode == 0, reference.communicate()[1]
    finally:
        for process in (reference, victim):
            if process.poll() is None:
                process.kill()
                process.wait()

    resumed = [json.loads(line) for line in (tmp_path / "killed" / "run_info.jsonl").open()]
    resumed_from = resumed[-1]["resumed_from"]
    assert resumed_from is not None, f"killed at step {killed_at}: the rerun did not resume"
    resumed_step = int(resumed_from.rsplit("-", 1)[1])
    # At most checkpoint_every steps lost (one more if the kill hit a checkpoint write).
    assert killed_at - 4 <= resumed_step <= killed_at, (killed_at, resumed_from)
    got, want = _losses(tmp_path / "killed"), _losses(tmp_path / "reference")
    assert sorted(got) == sorted(want) == list(range(1, MAX_STEPS + 1))
    for step in want:  # bit-identical with trainer.deterministic=true
        assert got[step] == want[step], f"step {step} (killed at {killed_at}, kill_at={kill_at})"


def test_sigterm_saves_a_checkpoint_and_exits_75(tmp_path: Path, tiny_mnist: Path) -> None:
    run_dir = tmp_path / "run"
    settings = [*SETTINGS, f"dataset.path={tiny_mnist}", "trainer.max_steps=100000"]
    process = _start(run_dir, *settings)
    try:
        _wait_for_step(process, run_dir, 3, timeout=240)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 75, stderr
    last = [line for line in stderr.strip().splitlines() if line.strip()][-1]
    assert last.startswith("interrupted by SIGTERM at step "), stderr
    assert "Run the same command again to resume" in last
    step = int(last.split("at step ")[1].split(";")[0])
    assert f"saved {run_dir / 'checkpoints' / f'ckpt-{step}'}." in last
    assert (run_dir / "checkpoints" / f"ckpt-{step}.index").exists()
    assert "Traceback" not in stderr
