"""`strategy=mirrored`: synchronous data parallelism over the devices of one machine."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from gantrain.distribute.base import StrategySpec, once_per_process, runtime_started_error
from gantrain.distribute.one_device import check_device
from gantrain.errors import ConfigError

# How gradients are summed over the replicas: auto lets TensorFlow pick (NCCL between GPUs).
CROSS_DEVICE_OPS = {
    "auto": None,
    "nccl": tf.distribute.NcclAllReduce,
    "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce,
    "reduce_to_one": tf.distribute.ReductionToOneDevice,
}


def configure_cpu_devices(count: int, where: str) -> list[str]:
    """Split the CPU into `count` logical devices; returns their names.

    TensorFlow allows this only before its runtime starts (the first op of the process). If
    it already started with exactly `count` logical CPUs (a test session configured them, or
    a second run in the same process), they are used as they are.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if count > 1 and (current is None or len(current) != count):
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as error:
            raise runtime_started_error(
                where, f"splitting the CPU into {count} logical devices", error
            ) from error
    return [f"/device:CPU:{i}" for i in range(count)]


@dataclass
class MirroredStrategy(StrategySpec):
    """tf.distribute.MirroredStrategy: one replica per device, variables mirrored on each.

    `devices`: device names (['/gpu:0', '/gpu:1']); null uses every local GPU (the CPU if
    there is none). `num_cpu_devices`: N > 0 splits the CPU into N logical devices and
    mirrors over them (for testing the multi-replica path without GPUs; no speed-up).
    `cross_device_ops`: auto | nccl | hierarchical_copy | reduce_to_one.
    """

    devices: list[str] | None = None
    num_cpu_devices: int = 0
    cross_device_ops: str = "auto"

    def check(self) -> None:
        if self.num_cpu_devices < 0:
            raise ConfigError(
                f"strategy.num_cpu_devices={self.num_cpu_devices}: must be >= 0 (0: use GPUs)."
            )
        if self.num_cpu_devices and self.devices:
            raise ConfigError(
                "strategy.devices and strategy.num_cpu_devices are both set; use devices for "
                "GPUs, or num_cpu_devices=N for N logical CPU devices, not both."
            )
        if self.devices is not None and not self.devices:
            raise ConfigError("strategy.devices=[]: list at least one device, or use null.")
        if self.cross_device_ops not in CROSS_DEVICE_OPS:
            raise ConfigError(
                f"strategy.cross_device_ops={self.cross_device_ops!r}: use one of "
                f"{', '.join(CROSS_DEVICE_OPS)}."
            )

    def create(self) -> tf.distribute.Strategy:
        devices = None
        if self.num_cpu_devices:
            devices = configure_cpu_devices(self.num_cpu_devices, "strategy.num_cpu_devices")
        elif self.devices:
            devices = [check_device(d, "strategy.devices") for d in self.devices]
        ops = CROSS_DEVICE_OPS[self.cross_device_ops]
        return once_per_process(
            ("mirrored", tuple(devices or ()), self.cross_device_ops),
            lambda: tf.distribute.MirroredStrategy(
                devices=devices, cross_device_ops=ops() if ops else None
            ),
        )
