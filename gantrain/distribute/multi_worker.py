"""`strategy=multi_worker`: synchronous data parallelism over several processes/machines.

Every worker runs the same `gantrain train` command with the same `hydra.run.dir` (on storage
all workers see). The cluster comes from the TF_CONFIG environment variable or from the SLURM
job the process runs in. MultiWorkerMirroredStrategy sets up collective ops, which TensorFlow
allows only before its first op and once per process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import tensorflow as tf

from gantrain.distribute.base import StrategySpec, once_per_process, runtime_started_error
from gantrain.errors import ConfigError

CLUSTERS = ("tf_config", "slurm")
COMMUNICATION = {
    "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
    "ring": tf.distribute.experimental.CommunicationImplementation.RING,
    "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
}


class CpuSlurmClusterResolver(tf.distribute.cluster_resolver.SlurmClusterResolver):
    """SlurmClusterResolver for nodes without GPUs.

    TensorFlow's resolver hands out GPUs to tasks while it lists them and lists no task at
    all when a node has no GPU (TF 2.21: gpus_per_node=0 fails with a zero range step). This
    one lets it hand out placeholder slots (CUDA_VISIBLE_DEVICES untouched) and reports no GPU.
    """

    def __init__(self, port_base: int) -> None:
        super().__init__(
            port_base=port_base, gpus_per_node=2**16, gpus_per_task=1, auto_set_gpu=False
        )

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None) -> dict[str, int]:
        return {"GPU": 0}


@dataclass
class MultiWorkerStrategy(StrategySpec):
    """tf.distribute.MultiWorkerMirroredStrategy over a cluster of worker processes.

    `cluster`: tf_config (TF_CONFIG, JSON with `cluster` and `task`) or slurm (SLURM_* of the
    job step, one task per worker). `communication`: all-reduce implementation, auto | ring
    (gRPC, CPUs) | nccl (GPUs). SLURM only: `port_base` is the port of each node's first task;
    `gpus_per_node` (null: ask nvidia-smi; 0 on CPU nodes).
    """

    cluster: str = "tf_config"
    communication: str = "auto"
    port_base: int = 8888
    gpus_per_node: int | None = None

    def check(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ConfigError(
                f"strategy.cluster={self.cluster!r}: use one of {', '.join(CLUSTERS)}."
            )
        if self.communication not in COMMUNICATION:
            raise ConfigError(
                f"strategy.communication={self.communication!r}: use one of "
                f"{', '.join(COMMUNICATION)}."
            )
        if not 0 < self.port_base < 65536:
            raise ConfigError(f"strategy.port_base={self.port_base}: not a TCP port.")
        if self.gpus_per_node is not None and self.gpus_per_node < 0:
            raise ConfigError(f"strategy.gpus_per_node={self.gpus_per_node}: must be >= 0.")

    def cluster_resolver(self) -> tf.distribute.cluster_resolver.ClusterResolver:
        """The resolver for `cluster`, checked to describe this process's task."""
        if self.cluster == "slurm":
            try:
                if self.gpus_per_node == 0:
                    return CpuSlurmClusterResolver(self.port_base)
                return tf.distribute.cluster_resolver.SlurmClusterResolver(
                    port_base=self.port_base, gpus_per_node=self.gpus_per_node
                )
            except (RuntimeError, ValueError, OSError) as error:
                raise ConfigError(
                    f"strategy.cluster=slurm: cannot read the SLURM job ({error}); start "
                    "gantrain with srun inside a SLURM allocation (one task per worker), and "
                    "set strategy.gpus_per_node=0 on nodes without GPUs."
                ) from error
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise ConfigError(
                "strategy.cluster=tf_config: the TF_CONFIG environment variable is not set; "
                'set it on every worker, e.g. {"cluster": {"worker": ["host1:port", '
                '"host2:port"]}, "task": {"type": "worker", "index": 0}}.'
            )
        try:
            config = json.loads(raw)
            task = config["task"]
            workers = config["cluster"][task["type"]]
            if not 0 <= int(task["index"]) < len(workers):
                raise IndexError(f"task index {task['index']} of {len(workers)} {task['type']}s")
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ConfigError(
                f"TF_CONFIG={raw!r} is not a valid cluster description ({error}); it needs "
                '"cluster" (job name -> list of host:port) and "task" ({"type", "index"}).'
            ) from error
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()

    def create(self) -> tf.distribute.Strategy:
        resolver = self.cluster_resolver()
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=COMMUNICATION[self.communication]
        )
        try:
            return once_per_process(
                ("multi_worker", self.cluster, self.communication),
                lambda: tf.distribute.MultiWorkerMirroredStrategy(
                    cluster_resolver=resolver, communication_options=options
                ),
            )
        except RuntimeError as error:
            raise runtime_started_error(
                "strategy=multi_worker", "setting up collective ops", error
            ) from error
