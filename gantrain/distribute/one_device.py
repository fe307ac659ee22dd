"""`strategy=one_device`: everything on one named device (a GPU, or the CPU)."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from gantrain.distribute.base import StrategySpec
from gantrain.errors import ConfigError


def check_device(device: str, where: str) -> str:
    """`device` as TensorFlow spells it ('/device:GPU:0'); it must exist on this machine.

    Only physical devices are listed here, which does not start the TensorFlow runtime, so a
    strategy can still configure it afterwards.
    """
    try:
        spec = tf.DeviceSpec.from_string(device)
    except ValueError as error:
        raise ConfigError(
            f"{where}={device!r}: not a device name ({error}); use e.g. /gpu:0."
        ) from error
    if not spec.device_type:
        raise ConfigError(f"{where}={device!r}: names no device type; use e.g. /gpu:0 or /cpu:0.")
    kind = spec.device_type.upper()
    index = spec.device_index or 0
    if kind == "CPU" and index > 0:
        raise ConfigError(
            f"{where}={device!r}: there is one CPU device; for several logical CPU devices use "
            "strategy=mirrored strategy.num_cpu_devices=N."
        )
    found = len(tf.config.list_physical_devices(kind))
    if kind != "CPU" and index >= found:
        raise ConfigError(
            f"{where}={device!r}: this machine has {found} {kind} device(s); "
            f"pick one of {kind}:0..{max(found - 1, 0)} or use /cpu:0."
        )
    return f"/device:{kind}:{index}"


@dataclass
class OneDeviceStrategy(StrategySpec):
    """tf.distribute.OneDeviceStrategy: variables and computation on `device`.

    `device`: '/gpu:0', '/cpu:0', ...; null picks the first GPU, or the CPU without one.
    """

    device: str | None = None

    def create(self) -> tf.distribute.Strategy:
        device = self.device
        if device is None:
            device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(check_device(device, "strategy.device"))
