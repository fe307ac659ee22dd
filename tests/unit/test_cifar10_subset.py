"""scripts/cifar10_subset.py: the first N train images per class, bytes unchanged."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import cifar10_subset


def _archive(path: Path, per_class: int) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for label in ("cat", "dog"):
            for i in reversed(range(per_class)):  # stored out of order on purpose
                archive.writestr(f"train/{label}/{i:04d}.jpg", f"{label}{i}".encode())
            archive.writestr(f"test/{label}/0000.jpg", b"test image")
    return path


def test_writes_the_first_images_of_each_class_in_name_order(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "c.zip", per_class=5)
    out = tmp_path / "subset"
    assert cifar10_subset.main([str(archive), str(out), "--per-class", "3"]) == 0
    for label in ("cat", "dog"):
        names = sorted(p.name for p in (out / label).iterdir())
        assert names == ["0000.jpg", "0001.jpg", "0002.jpg"]
        assert (out / label / "0002.jpg").read_bytes() == f"{label}2".encode()
    assert not (out / "test").exists()


def test_too_few_images_an_existing_output_and_a_broken_zip_are_one_line(
    tmp_path: Path,
) -> None:
    archive = _archive(tmp_path / "c.zip", per_class=2)
    with pytest.raises(SystemExit, match="200 per class are asked"):
        cifar10_subset.main([str(archive), str(tmp_path / "a")])
    assert not (tmp_path / "a").exists()
    with pytest.raises(SystemExit, match="exists; give a new folder"):
        cifar10_subset.main([str(archive), str(tmp_path), "--per-class", "1"])
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match="not a readable zip"):
        cifar10_subset.main([str(tmp_path / "bad.zip"), str(tmp_path / "b")])
