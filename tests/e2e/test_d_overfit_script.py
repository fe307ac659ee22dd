"""scripts/d_overfit.py: D's outputs on training reals, held-out reals and fakes per checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _d_overfit(run_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "scripts" / "d_overfit.py"), str(run_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


def test_one_record_per_checkpoint_and_no_gap_when_held_out_is_the_training_set(
    trained_run: Path, tiny_mnist: Path
) -> None:
    common = ["--checkpoints", "ckpt-2", "ckpt-4", "--num", "32", "--batch", "16"]
    test = _d_overfit(
        trained_run, *common, "--held-out", "dataset=mnist", f"dataset.path={tiny_mnist}",
        "dataset.split=test",
    )  # fmt: skip
    assert test.returncode == 0, test.stderr[-2000:]
    records = [json.loads(line) for line in test.stdout.splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for record in records:
        for name in ("train", "held_out", "fake"):
            assert -1.0 <= record[name]["mean_sign"] <= 1.0
        assert record["gap_logit"] == pytest.approx(
            record["train"]["mean_logit"] - record["held_out"]["mean_logit"]
        )
    # Different images, different scores: the two checkpoints' Ds differ too.
    assert records[0]["gap_logit"] != 0.0
    assert records[0]["train"] != records[1]["train"]

    # The training split itself as the "held-out" set (same seeded pick): no gap at all.
    same = _d_overfit(
        trained_run, *common, "--held-out", "dataset=mnist", f"dataset.path={tiny_mnist}"
    )
    assert same.returncode == 0, same.stderr[-2000:]
    for line in same.stdout.splitlines():
        record = json.loads(line)
        assert record["gap_logit"] == 0.0 and record["gap_sign"] == 0.0


def test_more_images_than_the_held_out_set_has_is_one_line(
    trained_run: Path, tiny_mnist: Path
) -> None:
    out = _d_overfit(
        trained_run, "--checkpoints", "ckpt-4", "--num", "100", "--held-out", "dataset=mnist",
        f"dataset.path={tiny_mnist}", "dataset.split=test",
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("d_overfit: --num 100: the dataset")
