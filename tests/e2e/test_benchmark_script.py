"""scripts/benchmark.py runs end to end and reports both sides of the comparison."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest

from tests.conftest import REPO, TINY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("setting", ["default", "ema"])
def test_benchmark_times_both_sides_in_one_process(setting: str) -> None:
    command = [
        sys.executable, str(REPO / "scripts" / "benchmark.py"), "--setting", setting,
        "--batch-size", "16", "--warmup", "2", "--blocks", "2", "--steps-per-block", "3",
        *TINY,  # tiny models; its trainer.batch_size=16 matches --batch-size
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["setting"] == setting and report["batch_size"] == 16
    origin, hand, step = (
        "origin (TF DCGAN tutorial)",
        "hand-written alternating",
        "gantrain TrainStep",
    )
    # 2 blocks x 3 steps per side, the origin's loop among them
    assert report["timed_steps"] == {origin: 6, hand: 6, step: 6}
    rates, ratios = report["images_per_sec"], report["ratio_vs_hand_written"]
    assert rates[origin] > 0 and rates[hand] > 0 and rates[step] > 0
    assert ratios[hand] == 1.0
    assert ratios[step] == pytest.approx(rates[step] / rates[hand])
    assert report["ratio_vs_origin"][step] == pytest.approx(rates[step] / rates[origin])
    assert ("trainer.ema_decay=0.999" in report["overrides"]) == (setting == "ema")


# Keys the --train-command mode sets itself (a second value would be a Hydra error).
SET_BY_THE_BENCHMARK = ("trainer.max_steps", "trainer.log_every", "trainer.batch_size")


def test_train_command_mode_scores_gantrain_against_the_origin_loop(tiny_mnist) -> None:
    """--train-command: origin / gantrain train / origin / TrainStep alone / origin in
    separate processes, one report."""
    command = [
        sys.executable, str(REPO / "scripts" / "benchmark.py"), "--train-command",
        "--batch-size", "16", "--steps", "6", "--log-every", "2",
        "--variant", "trainer.update=simultaneous", "--variant", "@step",
        *[o for o in TINY if not o.startswith(SET_BY_THE_BENCHMARK)],
        f"dataset.path={tiny_mnist}",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    sides = [run["side"] for run in report["runs"]]
    origin = "origin (TF DCGAN tutorial)"
    assert sides == [origin, "gantrain train", origin, "gantrain TrainStep alone", origin]
    gantrain, alone = report["runs"][1], report["runs"][3]
    assert "trainer.update=simultaneous" in gantrain["overrides"] and gantrain["steps"] == 6
    assert "trainer.ema_start=0" in gantrain["overrides"]  # the EMA's steady state
    around = statistics.mean(report["runs"][i]["whole"] for i in (0, 2))
    assert gantrain["ratio_whole"] == pytest.approx(gantrain["whole"] / around)
    # The step alone: its own process, scored the same way, kept apart in the summary.
    assert alone["steps"] == 6 and "@step" in alone["overrides"]
    assert alone["ratio_whole"] == pytest.approx(
        alone["whole"] / statistics.mean(report["runs"][i]["whole"] for i in (2, 4))
    )
    assert len(report["summary"]) == 2
