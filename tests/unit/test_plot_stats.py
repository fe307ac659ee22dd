"""scripts/plot_stats.py: a panel per key from runs' stats.jsonl, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import plot_stats


def _run(root: Path, name: str, records: list[dict]) -> Path:
    run = root / name
    run.mkdir()
    (run / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_plots_each_key_of_the_runs_that_logged_it(tmp_path: Path) -> None:
    ada = _run(tmp_path, "ada", [{"step": s, "aug_p": s / 100, "d_real": 0.5} for s in (1, 2)])
    plain = _run(tmp_path, "plain", [{"step": s, "d_real": 0.4} for s in (1, 2)])
    output = tmp_path / "out" / "p.png"
    assert plot_stats.main([str(ada), str(plain), "--keys", "aug_p", "d_real", "--output",
                            str(output)]) == 0  # fmt: skip
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_key_no_run_logged_and_a_missing_run_are_one_line(tmp_path: Path) -> None:
    run = _run(tmp_path, "run", [{"step": 1, "d_real": 0.5}])
    with pytest.raises(SystemExit, match="no run logged aug_p"):
        plot_stats.main([str(run), "--keys", "aug_p", "--output", str(tmp_path / "p.png")])
    with pytest.raises(SystemExit, match=r"stats.jsonl: no such file"):
        plot_stats.main([str(tmp_path / "nope"), "--keys", "d_real", "--output", "x.png"])
