"""A folder of images (PNG or JPEG), for datasets gantrain does not ship.

Every image is center-cropped to a square and resized (`fit: center_crop`), or resized
without cropping (`fit: resize`, the aspect ratio is not kept), to `resolution` x `resolution`
with `channels` 3 (RGB) or 1 (grayscale). When every image sits in a subfolder, the subfolder
names (sorted) are the classes 0, 1, ...; images directly in the folder make it unlabeled.
Files that cannot be decoded are skipped with one warning giving their count; a folder with
no readable image is an error. Images are held in memory as uint8.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset
from gantrain.errors import ConfigError, DatasetError

log = logging.getLogger("gantrain")

EXTENSIONS = (".png", ".jpg", ".jpeg")
FITS = ("center_crop", "resize")


@dataclass
class ImageFolderSource(DatasetSource):
    """Images under `dataset.path`; classes from subfolder names when all images have one."""

    name: str = "image_folder"
    resolution: int = 64
    channels: int = 3
    fit: str = "center_crop"
    splits: ClassVar[tuple[str, ...]] = ("train",)

    def check(self) -> None:
        super().check()
        if not self.path:
            raise ConfigError(
                "dataset.path is not set: dataset=image_folder needs dataset.path=<folder of "
                "PNG/JPEG images, optionally one subfolder per class>."
            )
        if self.resolution <= 0:
            raise ConfigError(f"dataset.resolution={self.resolution}: must be a positive number.")
        if self.channels not in (1, 3):
            raise ConfigError(f"dataset.channels={self.channels}: use 3 (RGB) or 1 (grayscale).")
        if self.fit not in FITS:
            raise ConfigError(f"dataset.fit={self.fit!r}: choose one of {', '.join(FITS)}.")

    def _listing(self) -> tuple[list[Path], list[int] | None, list[str]]:
        """(image files, their labels or None, class names), in a stable sorted order."""
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise DatasetError(f"dataset.path={root}: no such folder; give a folder of images.")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not files:
            raise DatasetError(
                f"dataset.path={root}: no {', '.join(EXTENSIONS)} files in it or its subfolders."
            )
        top = [f.relative_to(root).parts[0] for f in files]
        if any(len(f.relative_to(root).parts) == 1 for f in files):
            return files, None, []
        classes = sorted(set(top))
        index = {name: i for i, name in enumerate(classes)}
        return files, [index[t] for t in top], classes

    def spec(self, num_examples: int | None = None) -> DatasetSpec:
        files, _, classes = self._listing()
        return DatasetSpec(
            name=self.name,
            image_shape=(self.resolution, self.resolution, self.channels),
            num_classes=len(classes),
            num_examples=num_examples or len(files),
        )

    def _decode(self, path: Path) -> np.ndarray:
        with Image.open(path) as image:
            image = image.convert("RGB" if self.channels == 3 else "L")
            if self.fit == "center_crop":
                side = min(image.size)
                left, top = (image.width - side) // 2, (image.height - side) // 2
                image = image.crop((left, top, left + side, top + side))
            image = image.resize((self.resolution, self.resolution), Image.Resampling.BICUBIC)
            array = np.asarray(image, dtype=np.uint8)
        return array.reshape(self.resolution, self.resolution, self.channels)

    def load(self) -> LoadedDataset:
        files, labels, classes = self._listing()
        images, kept, unreadable = [], [], []
        for i, path in enumerate(files):
            try:
                images.append(self._decode(path))
                kept.append(i)
            except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
                unreadable.append(path)
        if unreadable:
            log.warning(
                "dataset.path=%s: skipped %d unreadable of %d image files (first: %s)",
                self.path,
                len(unreadable),
                len(files),
                ", ".join(str(p) for p in unreadable[:3]),
            )
        if not images:
            raise DatasetError(
                f"dataset.path={self.path}: none of its {len(files)} image files could be "
                "decoded; check that they are PNG or JPEG images."
            )
        if classes:
            log.info(
                "dataset %s: classes %s",
                self.name,
                ", ".join(f"{i}={c}" for i, c in enumerate(classes)),
            )
        label_array = None if labels is None else np.asarray([labels[i] for i in kept], np.int32)
        return LoadedDataset(
            spec=self.spec(len(images)), images=np.stack(images), labels=label_array
        )
