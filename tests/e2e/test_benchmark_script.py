"""scripts/benchmark.py runs end to end and reports both sides of the comparison."""

from __future__ import annotations

import json
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
    hand, step = "hand-written tf.function", "gantrain TrainStep"
    assert report["timed_steps"] == {hand: 6, step: 6}  # 2 blocks x 3 steps per side
    rates, ratios = report["images_per_sec"], report["ratio_vs_hand_written"]
    assert rates[hand] > 0 and rates[step] > 0
    assert ratios[hand] == 1.0
    assert ratios[step] == pytest.approx(rates[step] / rates[hand])
    assert ("trainer.ema_decay=0.999" in report["overrides"]) == (setting == "ema")
