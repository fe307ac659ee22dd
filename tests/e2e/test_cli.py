"""The command line as a user meets it: help, mistakes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY, run_gantrain

pytestmark = pytest.mark.e2e


def test_help_lists_subcommands() -> None:
    result = run_gantrain("--help")
    assert result.returncode == 0
    assert "train" in result.stdout and "sample" in result.stdout


def test_unknown_subcommand_is_one_line() -> None:
    result = run_gantrain("trian")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown command 'trian'" in lines[0] and "train, sample" in lines[0]


def test_command_help_describes_each_group_and_key_with_the_composed_values() -> None:
    # Rendered by Hydra through configs/hydra/help/gantrain.yaml (gantrain/help.py; the text
    # itself is tested in tests/unit/test_help.py).
    result = run_gantrain("train", "experiment=wgan_gp_mnist", "--help")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("usage: python -m gantrain train ")
    (generator,) = [line for line in lines if line.startswith("  generator=dcgan ")]
    assert "the generator architecture" in generator and "options: " in generator
    assert any(line.startswith("  trainer.n_critic=5 ") and "D updates" in line for line in lines)
    result = run_gantrain("sample", "seed=3", "--help")
    assert result.returncode == 0 and "\n  seed=3 " in result.stdout
    assert "trainer." not in result.stdout and "powered by Hydra" not in result.stdout
    # A reader that leaves before the text comes (`| head`, a closed pipe) ends it quietly.
    process = subprocess.Popen(
        [sys.executable, "-m", "gantrain", "train", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # long before the child, still importing Hydra, writes
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141 and stderr == "", stderr


def test_cfg_job_prints_the_composed_config() -> None:
    result = run_gantrain("train", "--cfg", "job", "optimizer.generator.lr=1e-3")
    assert result.returncode == 0
    assert "lr: 0.001" in result.stdout
    assert "batch_size: 32" in result.stdout


def test_unknown_group_option_is_one_line_with_valid_options() -> None:
    result = run_gantrain("train", "generator=dcgna")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gantrain: unknown generator 'dcgna'; valid options: ")
    assert "dcgan" in lines[0].rsplit(": ", 1)[1].rstrip(".").split(", ")


def _user_error(args: list[str], run_dir: Path) -> str:
    result = run_gantrain("train", *TINY, f"hydra.run.dir={run_dir}", *args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def test_user_errors_are_one_line_and_traced_in_the_log(tmp_path: Path) -> None:
    line = _user_error([f"dataset.path={tmp_path / 'nope.npz'}"], tmp_path / "run")
    assert line.startswith("error: dataset.path=") and "no such file" in line
    log = (tmp_path / "run" / "train.log").read_text()
    assert "Traceback" in log and "DatasetError" in log

    line = _user_error(["trainer.batch_size=0"], tmp_path / "run2")
    assert "trainer.batch_size=0: must be a positive number" in line
    line = _user_error(["generator.widths=[64,32,16,8]"], tmp_path / "run3")
    assert "cannot produce 28x28 images" in line
    line = _user_error(["+trainer.max_stepz=3"], tmp_path / "run4")
    assert "trainer.max_stepz: unknown key" in line


def test_bad_input_leaves_an_existing_run_untouched(tmp_path: Path, tiny_mnist: Path) -> None:
    run_dir = tmp_path / "run"
    ok = run_gantrain("train", *TINY, f"dataset.path={tiny_mnist}", f"hydra.run.dir={run_dir}")
    assert ok.returncode == 0, ok.stderr
    kept = {
        p: p.read_bytes()
        for p in run_dir.rglob("*")
        if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log"
    }
    _user_error([f"dataset.path={tmp_path / 'missing.npz'}", "trainer.max_steps=8"], run_dir)
    for path, content in kept.items():
        assert path.read_bytes() == content, path
