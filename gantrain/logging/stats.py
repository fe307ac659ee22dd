"""`stats.jsonl`: one JSON object per logged step, appended and flushed as it happens."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gantrain.atomic import atomic_writer
from gantrain.errors import writing


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them visible as "nan", "inf"
    return value


def json_line(record: Mapping[str, Any]) -> str:
    """One JSON object on one line; top-level NaN/inf become the strings "nan", "inf"."""
    return json.dumps({k: _jsonable(v) for k, v in record.items()})


# How far back from the end to look for the last line break (records are far shorter).
_TAIL_BYTES = 1 << 20


def repair_torn_tail(path: str | os.PathLike) -> bool:
    """Make `path` end with a complete line; True if it had to be repaired.

    A crash in the middle of a write leaves a last line without its line break. Appending to
    it would glue the next record onto it and make both unreadable. A torn line that still
    parses (only the break is missing) gets its break; anything else is cut off.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with path.open("rb+") as file:
        start = max(0, size - _TAIL_BYTES)
        file.seek(start)
        tail = file.read()
        if tail.endswith(b"\n"):
            return False
        cut = tail.rfind(b"\n")
        if cut < 0 and start > 0:  # one line longer than the window: read it all
            file.seek(0)
            tail, start = file.read(), 0
            cut = tail.rfind(b"\n")
        try:
            complete = isinstance(json.loads(tail[cut + 1 :]), dict)
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            complete = False
        if complete:
            file.seek(0, os.SEEK_END)
            file.write(b"\n")
        else:
            file.truncate(start + cut + 1)
    return True


class JsonlWriter:
    """Appends records to a `.jsonl` file, one object per line.

    A torn last line (a crash mid-write) is repaired first (`repair_torn_tail`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_torn_tail(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, record: Mapping[str, Any]) -> None:
        # A full disk: one line naming the file; the records before stay (a torn last one is
        # repaired when the run resumes).
        with writing(self.path, "free some space and rerun; the records written before are kept"):
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
    with atomic_writer(path) as file:
        file.writelines(json.dumps(r) + "\n" for r in kept)
    return len(records) - len(kept)
