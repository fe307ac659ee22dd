"""scripts/benchmark.py --train-command: each gantrain run against the origin runs around it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import benchmark


def _origin(rate: float) -> dict:
    return {"side": benchmark.ORIGIN, "median_window": rate, "whole": rate * 0.9}


def _gantrain(variant: str, rate: float) -> dict:
    return {"side": "gantrain train", "overrides": [variant], "median_window": rate, "whole": rate}


def test_ratios_use_the_two_neighbouring_origin_runs_and_the_summary_takes_medians() -> None:
    runs = [
        _origin(100.0),
        _gantrain("a", 110.0),  # neighbours 100 and 120
        _origin(120.0),
        _gantrain("b", 60.0),  # neighbours 120 and 80
        _origin(80.0),
        _gantrain("a", 90.0),  # neighbours 80 and 100
        _origin(100.0),
        _gantrain("b", 200.0),  # neighbours 100 and 100
        _origin(100.0),
        _gantrain("a", 100.0),  # neighbours 100 and 100
        _origin(100.0),
    ]
    summary = benchmark.score_runs(runs)
    assert runs[1]["ratio_median_window"] == pytest.approx(1.0)
    assert runs[1]["ratio_whole"] == pytest.approx(110.0 / 99.0)
    assert runs[3]["ratio_median_window"] == pytest.approx(0.6)
    assert summary["a"]["ratios_median_window"] == pytest.approx([1.0, 1.0, 1.0])
    assert summary["b"]["ratios_median_window"] == pytest.approx([0.6, 2.0])
    assert summary["b"]["median_ratio_median_window"] == pytest.approx(1.3)
    assert summary["a"]["median_ratio_whole"] == pytest.approx(1.0 / 0.9)
    assert "ratio_whole" not in runs[0]
