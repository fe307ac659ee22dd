"""Training from a prepared dataset: streamed batches, exact resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrain.config import load_run_config
from gantrain.data.prepare import PrepareOptions, prepare
from gantrain.logging.stats import read_jsonl
from gantrain.training.loop import train
from tests.conftest import TINY, compose_config

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / "images" / label).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "images" / label / f"{i}.png")
    options = PrepareOptions(
        source=str(root / "images"),
        output=str(root / "ds"),
        resolution=16,
        workers=1,
        shard_mb=4096 / 2**20,  # several shards of 5 images
    )
    prepare(options, progress_bar=False)
    return root / "ds"


def _train(prepared: Path, run_dir: Path, *extra: str):
    overrides = [*TINY, "dataset=prepared", f"dataset.path={prepared}", "trainer.log_every=1"]
    return train(load_run_config(compose_config(overrides=[*overrides, *extra])), run_dir)


def _losses(run_dir: Path) -> dict[int, list[float]]:
    return {r["step"]: [r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")}


def test_stopped_run_resumes_with_the_uninterrupted_batches(prepared: Path, tmp_path) -> None:
    # 40 images, batch 16: 2 steps per epoch, so the 4 steps cross an epoch boundary and the
    # resumed half starts in a new permutation.
    straight = _train(prepared, tmp_path / "straight", "trainer.max_steps=4")
    assert straight.step == 4
    _train(prepared, tmp_path / "resumed", "trainer.max_steps=3")  # stopped at step 3
    resumed = _train(prepared, tmp_path / "resumed", "trainer.max_steps=4")
    assert resumed.resumed_from.endswith("ckpt-3")  # mid-epoch: the pipeline skips one batch
    reference, again = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(again) == [1, 2, 3, 4]
    for step in range(1, 5):
        np.testing.assert_allclose(again[step], reference[step], rtol=1e-5, err_msg=f"step {step}")
