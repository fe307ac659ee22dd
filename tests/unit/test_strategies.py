"""Strategy configs: every YAML validates; bad values and missing clusters fail in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.distribute import (
    DefaultStrategy,
    MirroredStrategy,
    MultiWorkerStrategy,
    OneDeviceStrategy,
    StrategySpec,
    TPUStrategy,
    is_chief,
    num_workers,
    worker_id,
)
from gantrain.distribute.data import replica_slices
from gantrain.errors import ConfigError
from tests.conftest import compose_config

STRATEGY_YAMLS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "configs" / "strategy").glob("*.yaml")
)


@pytest.mark.parametrize("name", STRATEGY_YAMLS)
def test_every_strategy_yaml_validates(name: str) -> None:
    run = load_run_config(compose_config(overrides=[f"strategy={name}"]))
    assert isinstance(run.strategy, StrategySpec)


def test_the_five_strategies_ship() -> None:
    """The shipped five build their specs; a new strategy YAML (validated by the test above)
    breaks nothing here."""
    kinds = {
        name: type(load_run_config(compose_config(overrides=[f"strategy={name}"])).strategy)
        for name in STRATEGY_YAMLS
    }
    shipped = {
        "default": DefaultStrategy,
        "mirrored": MirroredStrategy,
        "multi_worker": MultiWorkerStrategy,
        "one_device": OneDeviceStrategy,
        "tpu": TPUStrategy,
    }
    assert {name: kinds.get(name) for name in shipped} == shipped


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["strategy=mirrored", "strategy.num_cpu_devices=-1"], "num_cpu_devices=-1: must be"),
        (
            ["strategy=mirrored", "strategy.num_cpu_devices=2", "strategy.devices=[/gpu:0]"],
            "both set",
        ),
        (["strategy=mirrored", "strategy.cross_device_ops=mpi"], "cross_device_ops='mpi'"),
        (["strategy=mirrored", "+strategy.device=x"], "strategy.device: unknown key"),
        (["strategy=multi_worker", "strategy.cluster=k8s"], "strategy.cluster='k8s'"),
        (["strategy=multi_worker", "strategy.communication=mpi"], "communication='mpi'"),
        (["strategy=multi_worker", "strategy.port_base=70000"], "not a TCP port"),
        (["strategy=tpu", "strategy.tpu="], "strategy.tpu is empty"),
    ],
)
def test_bad_strategy_values_fail_at_startup(overrides: list[str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_run_config(compose_config(overrides=overrides))


@pytest.mark.parametrize(
    ("device", "expected"),
    [("/gpu:0", "0 GPU device"), ("/cpu:1", "one CPU device"), ("banana", "not a device name")],
)
def test_one_device_names_a_device_of_this_machine(device: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        OneDeviceStrategy(device=device).create()


def test_one_device_defaults_to_the_cpu_without_gpus() -> None:
    strategy = OneDeviceStrategy().create()
    assert strategy.num_replicas_in_sync == 1
    assert strategy.extended.worker_devices == ("/job:localhost/replica:0/task:0/device:CPU:0",)
    assert is_chief(strategy) and num_workers(strategy) == 1 and worker_id(strategy) == "chief"


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG environment variable is not set"):
        MultiWorkerStrategy().create()


@pytest.mark.parametrize(
    "tf_config",
    [
        "{not json",
        json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
    ],
)
def test_multi_worker_rejects_a_broken_tf_config(monkeypatch, tf_config: str) -> None:
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError, match="not a valid cluster description"):
        MultiWorkerStrategy().cluster_resolver()


def test_multi_worker_reads_tf_config(monkeypatch) -> None:
    cluster = {"worker": ["127.0.0.1:1111", "127.0.0.1:2222"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    resolver = MultiWorkerStrategy().cluster_resolver()
    assert resolver.cluster_spec().as_dict() == cluster
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)


def test_slurm_cluster_comes_from_the_job_step(monkeypatch) -> None:
    for key, value in {
        "SLURM_PROCID": "1",
        "SLURM_STEP_NUM_TASKS": "2",
        "SLURM_STEP_NODELIST": "node[07-08]",
        "SLURM_STEP_TASKS_PER_NODE": "1(x2)",
    }.items():
        monkeypatch.setenv(key, value)
    spec = MultiWorkerStrategy(cluster="slurm", port_base=9000, gpus_per_node=0)
    resolver = spec.cluster_resolver()
    assert resolver.cluster_spec().as_dict() == {"worker": ["node07:9000", "node08:9000"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)


def test_slurm_outside_a_job_says_how_to_start(monkeypatch) -> None:
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(ConfigError, match="start gantrain with srun"):
        MultiWorkerStrategy(cluster="slurm", gpus_per_node=0).cluster_resolver()


class _Resolver:
    def __init__(self, cluster: dict, task_type: str, task_id: int) -> None:
        self._cluster, self.task_type, self.task_id = cluster, task_type, task_id

    def cluster_spec(self) -> tf.train.ClusterSpec:
        return tf.train.ClusterSpec(self._cluster)


class _FakeStrategy:
    def __init__(self, resolver: _Resolver) -> None:
        self.cluster_resolver = resolver


@pytest.mark.parametrize(
    ("cluster", "task", "chief", "workers", "name"),
    [
        ({"worker": ["a:1", "b:1"]}, ("worker", 0), True, 2, "worker0"),
        ({"worker": ["a:1", "b:1"]}, ("worker", 1), False, 2, "worker1"),
        ({"chief": ["c:1"], "worker": ["a:1"]}, ("chief", 0), True, 2, "chief"),
        ({"chief": ["c:1"], "worker": ["a:1"]}, ("worker", 0), False, 2, "worker0"),
    ],
)
def test_chief_is_the_chief_task_or_worker_zero(cluster, task, chief, workers, name) -> None:
    strategy = _FakeStrategy(_Resolver(cluster, *task))
    assert is_chief(strategy) is chief
    assert num_workers(strategy) == workers
    assert worker_id(strategy) == name


def test_replica_slices_give_each_pipeline_its_replicas_rows() -> None:
    # 2 workers x 2 replicas, global batch 8: worker 1 feeds replicas 2 and 3 = rows 4..7.
    batches = tf.data.Dataset.from_tensor_slices(np.arange(24).reshape(3, 8))
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=4
    )
    got = [b.numpy().tolist() for b in replica_slices(batches, context, global_batch_size=8)]
    assert got == [[4, 5], [6, 7], [12, 13], [14, 15], [20, 21], [22, 23]]


def test_slurm_cpu_nodes_report_no_gpu(monkeypatch) -> None:
    for key, value in {
        "SLURM_PROCID": "3",
        "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_STEP_NODELIST": "cpu[1-2]",
        "SLURM_STEP_TASKS_PER_NODE": "2(x2)",
    }.items():
        monkeypatch.setenv(key, value)
    resolver = MultiWorkerStrategy(cluster="slurm", gpus_per_node=0).cluster_resolver()
    assert resolver.cluster_spec().as_dict() == {
        "worker": ["cpu1:8888", "cpu1:8889", "cpu2:8888", "cpu2:8889"]
    }
    assert resolver.task_id == 3 and resolver.num_accelerators() == {"GPU": 0}


@pytest.mark.parametrize(
    ("env", "suffix"),
    [
        ({}, ""),
        (
            {
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}
                )
            },
            "",
        ),
        (
            {
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}
                )
            },
            ".worker1",
        ),
        (
            {
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": {"chief": ["c:1"], "worker": ["a:1"]},
                        "task": {"type": "worker", "index": 0},
                    }
                )
            },
            ".worker0",
        ),
        ({"SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "2"}, ".worker2"),
        ({"SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"}, ""),
        ({"TF_CONFIG": "{broken"}, ""),
    ],
)
def test_each_worker_logs_to_its_own_file(monkeypatch, env: dict, suffix: str) -> None:
    from gantrain.tasks.common import worker_log_suffix

    for key in ("TF_CONFIG", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert worker_log_suffix() == suffix
