"""`gantrain prepare` from the command line: one JSON line, then a one-line refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_gantrain

pytestmark = pytest.mark.e2e


def test_prepare_then_refuse_to_overwrite(tmp_path: Path) -> None:
    source = tmp_path / "images"
    source.mkdir()
    for i in range(3):
        Image.fromarray(np.full((6, 9, 3), 40 * i, np.uint8)).save(source / f"{i}.png")
    output = tmp_path / "prepared"
    done = run_gantrain("prepare", f"source={source}", f"output={output}", "resolution=4")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["count"] == 3 and result["shape"] == [4, 4, 3] and result["num_classes"] == 0
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["command"].startswith("gantrain prepare source=")
    again = run_gantrain("prepare", f"source={source}", f"output={output}", "resolution=4")
    assert again.returncode == 2
    errors = [line for line in again.stderr.splitlines() if "error" in line]
    assert errors == [
        f"error: output={output}: already a prepared dataset; pass overwrite=true to replace "
        "it (it is kept until the new one is complete) or pick another output."
    ]
