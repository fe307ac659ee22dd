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
