"""`strategy=tpu`: TPUStrategy on a Cloud TPU (VM or pod). Documented; not testable here."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from gantrain.distribute.base import StrategySpec
from gantrain.errors import ConfigError


@dataclass
class TPUStrategy(StrategySpec):
    """tf.distribute.TPUStrategy through a TPUClusterResolver.

    `tpu`: 'local' on a TPU VM, else the TPU's name or grpc:// address. `zone`, `project`:
    where to look the name up (null: the VM's own, from the GCE metadata service).
    """

    tpu: str = "local"
    zone: str | None = None
    project: str | None = None

    def check(self) -> None:
        if not self.tpu:
            raise ConfigError(
                "strategy.tpu is empty: use local on a TPU VM, or the TPU's name or address."
            )

    def create(self) -> tf.distribute.Strategy:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu=self.tpu, zone=self.zone, project=self.project
            )
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            first_line = (str(error).splitlines() or [""])[0]
            raise ConfigError(
                f"strategy.tpu={self.tpu!r}: cannot reach the TPU ({first_line}); run on a TPU "
                "VM with tpu=local, or give the TPU's name and zone."
            ) from error
        return tf.distribute.TPUStrategy(resolver)
