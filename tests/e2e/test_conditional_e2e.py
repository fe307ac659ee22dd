"""A class-conditional run from the command line: grids with a row per class, `sample labels=`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY, run_gantrain

pytestmark = pytest.mark.e2e

CELL = 58  # a 28 px digit enlarged x2 plus the 2 px gap


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory, tiny_mnist: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("e2e-cgan") / "run"
    result = run_gantrain(
        "train",
        "experiment=cgan_mnist",
        *TINY,
        "trainer.ema_decay=0.5",
        "trainer.ema_start=0",
        f"dataset.path={tiny_mnist}",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr
    return run_dir


def test_sample_grid_has_one_row_per_class(conditional_run: Path) -> None:
    grid = np.asarray(Image.open(conditional_run / "samples" / "step_000004.png"))
    assert grid.shape == (10 * CELL + 2, 4 * CELL + 2)  # 10 classes x sample_grid 4


def test_sample_with_one_label_and_with_a_cycle(conditional_run: Path, tmp_path: Path) -> None:
    result = run_gantrain(
        "sample", f"run_dir={conditional_run}", f"output={tmp_path / 'threes.npz'}", "labels=3",
        "num_samples=5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "threes.npz") as saved:
        assert saved["labels"].tolist() == [3] * 5
        assert saved["images"].shape == (5, 28, 28, 1)
    result = run_gantrain(
        "sample", f"run_dir={conditional_run}", f"output={tmp_path / 'cycle.png'}",
        "labels=[0,1,2]", "num_samples=12",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    grid = np.asarray(Image.open(tmp_path / "cycle.png"))
    assert grid.shape == (3 * CELL + 2, 4 * CELL + 2)  # a row per listed class


def test_sample_rejects_classes_the_model_does_not_have(conditional_run: Path, tmp_path) -> None:
    result = run_gantrain(
        "sample", f"run_dir={conditional_run}", f"output={tmp_path / 'x.png'}", "labels=10"
    )
    assert result.returncode == 2
    assert "labels=10: classes [10] do not exist" in result.stderr
