"""`stats.jsonl`: one JSON object per logged step, appended and flushed as it happens."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them visible as "nan", "inf"
    return value


def json_line(record: Mapping[str, Any]) -> str:
    """One JSON object on one line; top-level NaN/inf become the strings "nan", "inf"."""
    return json.dumps({k: _jsonable(v) for k, v in record.items()})


class JsonlWriter:
    """Appends records to a `.jsonl` file, one object per line."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, record: Mapping[str, Any]) -> None:
        self._file.write(json_line(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete records of a `.jsonl` file (a torn last line from a crash is skipped)."""
    records = []
    with Path(path).open(encoding="utf-8") as file:
        for line in file:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def drop_records_after(path: str | os.PathLike, step: int) -> int:
    """Remove records with `step` > `step` (logged after the checkpoint a run resumes from).

    They belong to a trajectory the resumed run replaces; keeping them would give two values
    per step. Returns how many were dropped. The file is replaced atomically.
    """
    path = Path(path)
    if not path.exists():
        return 0
    records = read_jsonl(path)
    kept = [r for r in records if int(r.get("step", 0)) <= step]
    if len(kept) == len(records):
        return 0
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        file.writelines(json.dumps(r) + "\n" for r in kept)
    os.replace(tmp, path)
    return len(records) - len(kept)
