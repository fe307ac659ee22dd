"""A folder of images (PNG or JPEG), for datasets gantrain does not ship.

Every image is center-cropped to a square and resized (`fit: center_crop`), resized
without cropping (`fit: resize`, the aspect ratio is not kept), or padded to a square with the
`background` colour and resized (`fit: pad`, nothing cut off), to `resolution` x `resolution`
with `channels` 3 (RGB) or 1 (grayscale). Transparent pixels (RGBA, LA, palette transparency)
are composited onto `background` (white by default) instead of keeping whatever colour they
happen to store (stylegan2-ada issue 33). When every image sits in a subfolder, the subfolder
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
FITS = ("center_crop", "resize", "pad")


def parse_color(value: str | tuple | list, key: str) -> tuple[int, int, int]:
    """`background` as an RGB triple: "white", "black", "#rrggbb", "R,G,B" or a list."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128)}
    try:
        if isinstance(value, (tuple, list)):
            rgb = tuple(int(v) for v in value)
        elif value.lower() in named:
            rgb = named[value.lower()]
        elif value.startswith("#") and len(value) == 7:
            rgb = tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))
        else:
            rgb = tuple(int(v) for v in value.split(","))
    except (ValueError, AttributeError):
        rgb = ()
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise ConfigError(
            f"{key}={value!r}: give a colour as white, black, gray, #rrggbb or R,G,B (0-255)."
        )
    return rgb  # type: ignore[return-value]


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )


def fit_image(
    image: Image.Image,
    resolution: int,
    channels: int,
    *,
    fit: str = "center_crop",
    background: tuple[int, int, int] | None = (255, 255, 255),
) -> np.ndarray:
    """One decoded image as uint8 (resolution, resolution, channels).

    `fit` is the non-square policy (center_crop | resize | pad); `background` is the colour
    transparent pixels are flattened onto and `pad` fills with; None drops the alpha channel
    instead (the stored colour of transparent pixels shows).
    """
    fill = background or (0, 0, 0)
    if has_alpha(image) and background is not None:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*fill, 255))
        image = Image.alpha_composite(flat, rgba).convert("RGB")
    image = image.convert("RGB" if channels == 3 else "L")
    if fit == "center_crop":
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    elif fit == "pad" and image.width != image.height:
        side = max(image.size)
        color = (
            fill if channels == 3 else round(0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2])
        )
        square = Image.new(image.mode, (side, side), color)
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        image = square
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.uint8)
    return array.reshape(resolution, resolution, channels)


@dataclass
class ImageFolderSource(DatasetSource):
    """Images under `dataset.path`; classes from subfolder names when all images have one."""

    name: str = "image_folder"
    resolution: int = 64
    channels: int = 3
    fit: str = "center_crop"
    # Colour that transparent pixels are flattened onto and `fit: pad` fills with.
    background: str = "white"
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
        parse_color(self.background, "dataset.background")

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
            return fit_image(
                image,
                self.resolution,
                self.channels,
                fit=self.fit,
                background=parse_color(self.background, "dataset.background"),
            )

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
