"""Fixtures shared by the e2e modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY, run_gantrain


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_mnist: Path) -> Path:
    """`python -m gantrain train` with TINY models on the tiny MNIST (4 steps), as a user runs
    it. Tests must not add files to it (test_api_e2e.py compares run dirs with it)."""
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    result = run_gantrain("train", *TINY, f"dataset.path={tiny_mnist}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir
