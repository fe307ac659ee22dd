"""The best checkpoint by an evaluator metric (checkpoints/best/)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import tensorflow as tf

from gantrain.eval.callback import BestCheckpoint


def test_best_checkpoint_keeps_improvements_only(tmp_path: Path) -> None:
    step, weight = tf.Variable(0, dtype=tf.int64), tf.Variable(1.0)
    state = SimpleNamespace(step=step, checkpoint=lambda: tf.train.Checkpoint(w=weight, step=step))

    def at(value: int) -> int:
        step.assign(value)
        weight.assign(float(value))
        return value

    best = BestCheckpoint(state, tmp_path, metric="fid", mode="min", start_step=0)
    assert best.offer(at(2), {"fid": 5.0}, None)
    assert not best.offer(at(4), {"fid": 6.0}, None)
    assert not best.offer(at(6), {"fid": float("nan")}, None)
    assert best.offer(at(8), {"fid": 4.0}, None)
    directory = tmp_path / "checkpoints" / "best"
    assert sorted(p.name for p in directory.glob("ckpt-*.index")) == ["ckpt-8.index"]
    record = json.loads((directory / "best.json").read_text())
    assert (record["value"], record["step"], record["mode"]) == (4.0, 8, "min")
    restored = tf.Variable(0.0)
    tf.train.Checkpoint(w=restored).restore(record["checkpoint"]).expect_partial()
    assert float(restored.numpy()) == 8.0

    # A later launch continues the ranking; one resumed from before the best, or ranking by
    # another metric, starts afresh.
    assert (
        BestCheckpoint(state, tmp_path, metric="fid", mode="min", start_step=8).best["value"] == 4.0
    )
    assert BestCheckpoint(state, tmp_path, metric="fid", mode="min", start_step=6).best is None
    assert BestCheckpoint(state, tmp_path, metric="is", mode="max", start_step=8).best is None
    higher = BestCheckpoint(state, tmp_path, metric="is", mode="max", start_step=8)
    assert higher.offer(at(10), {"is": 2.0}, None) and not higher.offer(at(12), {"is": 1.5}, None)
