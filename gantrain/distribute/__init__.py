"""Distribution strategies (`strategy:` configs) and what the training loop asks of them.

One `StrategySpec` dataclass per strategy, each in its own module; a config names it with
`_target_: gantrain.distribute.<Class>`.
"""

from gantrain.distribute.base import (
    DefaultStrategy,
    StrategySpec,
    is_chief,
    num_workers,
    per_replica_batch_size,
    worker_id,
)
from gantrain.distribute.data import distribute_dataset
from gantrain.distribute.mirrored import MirroredStrategy, configure_cpu_devices
from gantrain.distribute.multi_worker import MultiWorkerStrategy
from gantrain.distribute.one_device import OneDeviceStrategy
from gantrain.distribute.tpu import TPUStrategy

__all__ = [
    "DefaultStrategy",
    "MirroredStrategy",
    "MultiWorkerStrategy",
    "OneDeviceStrategy",
    "StrategySpec",
    "TPUStrategy",
    "configure_cpu_devices",
    "distribute_dataset",
    "is_chief",
    "num_workers",
    "per_replica_batch_size",
    "worker_id",
]
