"""Shape checks shared by architectures, with errors that say which config to change."""

from __future__ import annotations

from gantrain.errors import ConfigError


def base_resolution(image_shape: tuple[int, int, int], upsamplings: int, architecture: str) -> int:
    """The square start resolution from which `upsamplings` x2 steps reach `image_shape`.

    `architecture` is the config choice, such as "generator=dcgan", for the error message.
    """
    height, width, _ = image_shape
    factor = 2**upsamplings
    if height != width or height % factor:
        raise ConfigError(
            f"{architecture} cannot produce {height}x{width} images: it needs square images whose "
            f"side is a multiple of {factor} (2^{upsamplings} upsamplings); choose another "
            "architecture, change its widths, or use a dataset of a fitting resolution."
        )
    return height // factor
