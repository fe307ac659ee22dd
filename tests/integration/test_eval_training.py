"""Evaluators during training: metric files, TensorBoard, best checkpoint, TrainResult."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.logging.stats import read_jsonl
from gantrain.tasks.sample import load_sampler
from gantrain.training.loop import train
from tests.conftest import compose_config

EVAL = [
    "trainer.eval_every=2",
    "eval=[fid,is]",
    "eval.num_samples=64",
    "eval.num_real=128",
    "eval.batch_size=32",
]


def _train(overrides: list[str], run_dir: Path, *extra: str):
    return train(load_run_config(compose_config(overrides=[*overrides, *EVAL, *extra])), run_dir)


@pytest.mark.slow
def test_training_runs_evaluators_and_keeps_the_best(tiny_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _train(tiny_overrides, run_dir, f"eval.cache_dir={tmp_path / 'cache'}")
    # The latest evaluator results reach the caller (an Optuna sweep minimizes `fid`).
    assert {"fid", "is", "is_std", "g_loss"} <= set(result.metrics)
    records = read_jsonl(run_dir / "metric-fid.jsonl")
    assert [r["step"] for r in records] == [2, 4]
    assert records[-1]["fid"] == pytest.approx(result.metrics["fid"])
    protocol = records[-1]["protocol"]
    assert protocol["num_generated"] == 64 and protocol["num_real"] == 128
    assert protocol["extractor"] == "domain" and protocol["weights"].startswith("mnist_classifier")
    assert protocol["real_split"] == "train" and "resize" in protocol
    assert [r["step"] for r in read_jsonl(run_dir / "metric-is.jsonl")] == [2, 4]
    # Same latents every evaluation: the reference statistics were computed once.
    assert len(list((tmp_path / "cache" / "reference").glob("*.npz"))) == 1

    best = json.loads((run_dir / "checkpoints" / "best" / "best.json").read_text())
    fids = {r["step"]: r["fid"] for r in records}
    assert best["metric"] == "fid" and best["mode"] == "min"
    assert best["value"] == pytest.approx(min(fids.values()))
    assert best["step"] == min(fids, key=fids.get)
    # The best checkpoint is a full checkpoint that the sampling tools load.
    sampler, _, prefix = load_sampler(str(run_dir), str(run_dir / "checkpoints" / "best"))
    assert prefix.endswith(f"best/ckpt-{best['step']}")
    assert sampler.generate(np.zeros((2, 16), np.float32)).shape == (2, 28, 28, 1)
    assert list((run_dir / "tb").glob("events.*"))
    # TensorBoard: eval/<protocol>_<extractor>/<metric>, described; the HParams tab judges
    # the run by them too.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"tensors": 0})
    events.Reload()
    assert "eval/custom_domain/fid" in events.Tags()["tensors"]  # custom: 64 samples
    assert "protocol" in events.SummaryMetadata("eval/custom_domain/fid").summary_description
    content = events.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    judged = {m.name.tag for m in experiment.metric_infos}
    assert {"eval/custom_domain/fid", "eval/custom_domain/is", "loss/generator"} <= judged

    # Resuming keeps earlier metric lines and the best so far, and evaluates on.
    resumed = _train(
        tiny_overrides, run_dir, f"eval.cache_dir={tmp_path / 'cache'}", "trainer.max_steps=6"
    )
    assert resumed.resumed_from.endswith("ckpt-4")
    assert [r["step"] for r in read_jsonl(run_dir / "metric-fid.jsonl")] == [2, 4, 6]
    best_after = json.loads((run_dir / "checkpoints" / "best" / "best.json").read_text())
    assert best_after["value"] <= best["value"]


def test_eval_mistakes_fail_before_training(tiny_overrides, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="eval.best_metric=precision: none of the chosen"):
        _train(tiny_overrides, tmp_path / "a", "eval.best_metric=precision")
    assert not list((tmp_path / "a").glob("checkpoints/ckpt-*"))
    with pytest.raises(ConfigError, match="trainer.eval_every=3 is not a multiple"):
        _train(tiny_overrides, tmp_path / "b", "trainer.eval_every=3", "trainer.steps_per_loop=2")
    # Settings are validated before anything is built or written.
    with pytest.raises(ConfigError, match="eval.num_real=0"):
        _train(tiny_overrides, tmp_path / "c", "eval.num_real=0")
    # Only the run-dir lock (taken before building, released on exit) may be there.
    assert {p.name for p in (tmp_path / "c").iterdir()} <= {".gantrain.lock"}


def test_eval_off_by_default(tiny_overrides, tmp_path: Path) -> None:
    result = train(load_run_config(compose_config(overrides=tiny_overrides)), tmp_path)
    assert "fid" not in result.metrics
    assert not list(tmp_path.glob("metric-*.jsonl"))
