"""TensorBoard event files of a run: scalars and image grids under `<run_dir>/tb`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from gantrain.logging import tags
from gantrain.logging.hparams import HParamValue


class TensorBoardWriter:
    """Writes scalars and uint8 pictures at a step; a no-op when `enabled` is False.

    Scalars are given by their plain metric names (`d_loss`, `lr_generator`, ...) and written
    under their grouped tags with a description (`gantrain.logging.tags`).
    """

    def __init__(self, logdir: str | os.PathLike, *, enabled: bool = True) -> None:
        self._writer = tf.summary.create_file_writer(str(logdir)) if enabled else None
        # TensorBoard reads a tag's description from its first event: write it once per tag.
        self._described: set[str] = set()

    def _description(self, tag: str, text: str) -> str | None:
        if tag in self._described:
            return None
        self._described.add(tag)
        return text

    def scalars(
        self,
        values: Mapping[str, float],
        step: int,
        *,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        """`values` by metric name (or by tag, when a name holds a `/`); `descriptions` by the
        same keys overrides the table's."""
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                text = (descriptions or {}).get(name) or tags.description(name)
                tag = tags.tag(name)
                tf.summary.scalar(tag, value, description=self._description(tag, text))
        self._writer.flush()

    def image(self, tag: str, picture: np.ndarray, step: int, *, description: str = "") -> None:
        """`picture` is uint8 (H, W, C)."""
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            tf.summary.image(
                tag,
                picture[None],
                max_outputs=1,
                description=self._description(tag, description) if description else None,
            )
        self._writer.flush()

    def hparams(self, values: Mapping[str, HParamValue], **config: Any) -> None:
        """The run's hyperparameters for the HParams dashboard: `values` (see
        `gantrain.logging.hparams.run_hparams`) and, with `config`, the dashboard's
        experiment (`hparams.experiment_summary`'s keyword arguments: which metrics judge a
        run, which keys were swept)."""
        if self._writer is None:
            return
        from tensorboard.plugins.hparams import api as hp

        from gantrain.logging.hparams import experiment_summary

        with self._writer.as_default():
            if config:
                tf.summary.experimental.write_raw_pb(
                    experiment_summary(values, **config).SerializeToString(), step=0
                )
            hp.hparams(dict(values))
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
