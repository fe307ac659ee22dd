"""Bad input from the command line: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_gantrain

pytestmark = pytest.mark.e2e


def test_a_misspelled_key_is_one_line_naming_the_valid_ones() -> None:
    # Without the +, Hydra itself would report this in five lines and exit 1.
    result = run_gantrain("train", "trainer.max_stepz=3")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gantrain: trainer.max_stepz: unknown key. Valid keys of trainer:")
    assert "max_steps" in lines[0] and "Traceback" not in result.stderr


def test_what_hydra_would_report_with_a_traceback_is_one_line(tmp_path) -> None:
    # Each of these stops before TensorFlow is imported (a second or two each).
    evil = tmp_path / "mine" / "experiment" / "evil.yaml"
    evil.parent.mkdir(parents=True)
    marker = tmp_path / "ran"
    evil.write_text(
        "# @package _global_\ntrainer:\n"
        f'  seed: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    cases = [
        (
            ["train", "hydra.run.dir=/proc/gantrain-run"],
            "gantrain: cannot create the run dir /proc",
        ),
        (["train", f"hydra.run.dir={tmp_path}/{'x' * 300}"], "gantrain: cannot create the run dir"),
        (["sample", "output=x.npz"], "gantrain sample: run_dir is required: give run_dir=..."),
        (
            ["train", "--config-dir", str(tmp_path / "mine"), "+experiment=evil"],
            f"gantrain: {evil}, line 3: the YAML tag !!python/object/apply:os.system is not",
        ),
    ]
    for args, expected in cases:
        result = run_gantrain(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(expected), (args, lines[0])
    assert not marker.exists()
