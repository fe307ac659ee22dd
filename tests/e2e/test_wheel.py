"""A built wheel, installed away from the checkout, finds its Hydra configs and data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_wheel_install_finds_configs(tmp_path: Path, tiny_mnist: Path) -> None:
    wheel_dir, target, cwd = tmp_path / "wheel", tmp_path / "site", tmp_path / "elsewhere"
    cwd.mkdir()
    # --no-build-isolation: build with the setuptools already installed (no network).
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(wheel_dir), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next(wheel_dir.glob("gantrain-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "2"}
    probe = subprocess.run(
        [sys.executable, "-c",
         "import gantrain, gantrain.configs, gantrain.data.mnist as m; "
         "print(gantrain.__file__); print(gantrain.configs.__file__); "
         "print(m.packaged_mnist_path().stat().st_size)"],
        cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    lines = probe.stdout.split()
    assert lines[0].startswith(str(target)) and lines[1].startswith(str(target))
    assert int(lines[2]) > 10_000_000  # MNIST ships inside the wheel
    result = subprocess.run(
        [sys.executable, "-m", "gantrain", "train", "--cfg", "job"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "build_dcgan_generator" in result.stdout
    # A sweep (-m) from the wheel: Hydra must find the configs as package data (hydra#717).
    sweep = subprocess.run(
        [sys.executable, "-m", "gantrain", "train", "-m", *TINY, f"dataset.path={tiny_mnist}",
         "trainer.max_steps=2", "trainer.seed=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    for job in ("0", "1"):
        assert (tmp_path / "sweep" / job / "checkpoints" / "ckpt-2.index").exists()
    listing = subprocess.run(
        [sys.executable, "-m", "gantrain", "train", "--help"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    # One line per group: "  <group>=<choice>  <what it is>; options: a, b, c".
    groups = {
        line.split("=", 1)[0].strip(): line.rsplit("options: ", 1)[1].split(", ")
        for line in listing.stdout.splitlines()
        if "options: " in line
    }
    assert "mnist" in groups["dataset"] and "adam" in groups["optimizer@optimizer.generator"]
    assert "cgan_mnist" in groups["experiment"]
    assert groups["hparams_search"] == ["dcgan_mnist"]
