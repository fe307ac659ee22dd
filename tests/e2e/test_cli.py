"""The command line as a user meets it: help, mistakes, one-line errors."""

from __future__ import annotations

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


def test_train_help_is_hydras() -> None:
    result = run_gantrain("train", "--help")
    assert result.returncode == 0
    assert "== Configuration groups ==" in result.stdout
    groups = dict(
        line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line and "," in line
    )
    assert "dcgan" in groups["generator"].split(", ")
    assert "cgan_mnist" in groups["experiment"].split(", ")


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
