"""TensorBoard event files of a run: scalars and image grids under `<run_dir>/tb`."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf


class TensorBoardWriter:
    """Writes scalars and uint8 pictures at a step; a no-op when `enabled` is False."""

    def __init__(self, logdir: str | os.PathLike, *, enabled: bool = True) -> None:
        self._writer = tf.summary.create_file_writer(str(logdir)) if enabled else None

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        self._writer.flush()

    def image(self, name: str, picture: np.ndarray, step: int) -> None:
        """`picture` is uint8 (H, W, C)."""
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            tf.summary.image(name, picture[None], max_outputs=1)
        self._writer.flush()

    def hparams(self, values: Mapping[str, bool | int | float | str]) -> None:
        """The run's hyperparameters for the HParams dashboard (see gantrain.logging.hparams)."""
        if self._writer is None:
            return
        from tensorboard.plugins.hparams import api as hp

        with self._writer.as_default():
            hp.hparams(dict(values))
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
