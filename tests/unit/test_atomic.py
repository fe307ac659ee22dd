"""The one atomic-write helper (gantrain/atomic.py), and that gantrain has no other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gantrain.atomic import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    is_temporary,
    remove_stale_temporaries,
    temporary_name,
)
from tests.conftest import REPO


def test_a_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "best.json"
    atomic_write_text(path, "old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_text("old\n")
    for interruption in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(interruption)), atomic_writer(path) as file:
            file.write("half of the new")
            raise interruption
        assert path.read_text() == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.jsonl"]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "g.keras", suffix=".keras") as tmp:
        assert tmp.name.endswith(".tmp.keras")
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.jsonl"]


def test_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    # Two processes writing one file (workers probing, a sweep's jobs) must not clobber each
    # other's half-written temporary, and a link placed at a temporary name is not followed.
    names = {temporary_name(tmp_path / "x.png") for _ in range(100)}
    assert len(names) == 100
    with atomic_writer(tmp_path / "x.png", "wb") as file:
        assert Path(file.name).parent == tmp_path and is_temporary(Path(file.name).name)


def test_stale_temporaries_are_recognized_and_nothing_else(tmp_path: Path) -> None:
    stale = [temporary_name(tmp_path / "a.png"), temporary_name(tmp_path / "g.keras", ".keras")]
    mine = ["notes.tmp", ".hidden.tmp", ".a.png.tmp", "a.png", ".a.png.zzzzzzzz.tmp"]
    for path in [*stale, *(tmp_path / name for name in mine)]:
        path.write_text("x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mine)


# Renames that are not a hand-rolled atomic write of one file: checkpoint shards published
# under their final names, folder swaps (an export, a prepared dataset) and resumable
# downloads (`.part` files kept across runs on purpose).
RENAMES_ALLOWED = {
    "gantrain/atomic.py",
    "gantrain/checkpoint_files.py",
    "gantrain/export.py",
    "gantrain/data/prepare.py",
    "gantrain/data/download.py",
    "gantrain/eval/download.py",
}


def _renames(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("replace", "rename")
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "os"
    ]


def test_every_atomic_write_goes_through_the_helper() -> None:
    found = {
        f"{path.relative_to(REPO)}:{line}"
        for path in (REPO / "gantrain").rglob("*.py")
        if str(path.relative_to(REPO)) not in RENAMES_ALLOWED
        for line in _renames(path.read_text(encoding="utf-8"))
    }
    assert found == set(), "use gantrain.atomic (atomic_writer, atomic_write_text, atomic_path)"
    assert _renames("import os\nos.replace(tmp, path)\nos.rename(a, b)\n") == [2, 3]
