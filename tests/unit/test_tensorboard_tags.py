"""TensorBoard tags and descriptions, and what the HParams dashboard is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata, plugin_data_pb2

from gantrain.logging import tags
from gantrain.logging.hparams import (
    choices_from_targets,
    experiment_summary,
    override_keys,
    run_hparams,
    sweep_keys,
)
from gantrain.logging.tensorboard import TensorBoardWriter
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("d_loss", "loss/discriminator"),
        ("g_loss", "loss/generator"),
        ("d_real", "D/real"),
        ("d_fake", "D/fake"),
        ("lr_generator", "lr/generator"),
        ("images_per_sec", "speed/images_per_sec"),
        ("d_r1", "reg/r1"),
        # Not in the table: the rules give new metrics a group.
        ("d_path_length", "reg/d_path_length"),
        ("g_pl_penalty", "reg/g_pl_penalty"),
        ("g_consistency_loss", "loss/g_consistency_loss"),
        ("lr_mapping", "lr/mapping"),
        ("aug_p", "aug/p"),
        ("something", "misc/something"),
        ("eval/default_domain/fid", "eval/default_domain/fid"),
    ],
)
def test_metric_names_map_to_grouped_tags(name: str, tag: str) -> None:
    assert tags.tag(name) == tag
    assert tags.description(name)


def test_every_table_tag_is_unique_and_grouped() -> None:
    table_tags = [t for t, _ in tags.TABLE.values()]
    assert len(set(table_tags)) == len(table_tags)
    groups = {t.split("/")[0] for t in table_tags}
    assert groups <= {"loss", "D", "reg", "lr", "aug", "speed", "progress", "health"}


def test_writer_uses_tags_and_descriptions(tmp_path: Path) -> None:
    writer = TensorBoardWriter(tmp_path)
    writer.scalars({"d_real": 0.6, "d_r1": 0.1}, 1)
    writer.scalars({"d_real": 0.5, "d_r1": 0.2}, 2)
    writer.image(tags.REAL_TAG, np.zeros((4, 4, 1), np.uint8), 0, description="real ones")
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    assert set(events.Tags()["tensors"]) == {"D/real", "reg/r1", "samples/real"}
    assert [e.step for e in events.Tensors("D/real")] == [1, 2]
    assert events.SummaryMetadata("D/real").summary_description.startswith("D(x)")
    assert "R1" in events.SummaryMetadata("reg/r1").summary_description
    assert events.SummaryMetadata("samples/real").summary_description == "real ones"


def test_hparams_are_choices_and_comparable_leaves() -> None:
    cfg = compose_config(overrides=["optimizer.generator.lr=1e-3", "dataset.path=/data/m.npz"])
    hparams = run_hparams(
        cfg, choices={"generator": "dcgan", "loss": "non_saturating"}, first=["trainer.seed"]
    )
    keys = list(hparams)
    assert keys[:3] == ["trainer.seed", "generator", "loss"]
    assert hparams["optimizer.generator.lr"] == 1e-3
    assert hparams["generator.widths"] == "[256, 128, 64]"
    assert hparams["trainer.batch_size"] == 32
    assert not [k for k in keys if "_target_" in k or k.startswith(("logging.", "objective."))]
    assert "dataset.path" not in hparams  # a path (and a null) is not a hyperparameter
    assert "trainer.log_every" not in hparams and "trainer.resume" not in hparams
    assert not [k for k in keys if k.startswith("eval.")]  # eval_every=0: not used
    assert "null" not in hparams.values()
    assert all(isinstance(v, bool | int | float | str) for v in hparams.values())
    with_eval = run_hparams(compose_config(overrides=["trainer.eval_every=10"]), choices={})
    assert with_eval["eval.extractor"] == "auto" and "eval.cache_dir" not in with_eval


def test_choices_without_hydra_come_from_the_targets() -> None:
    cfg = compose_config(overrides=["loss=hinge", "optimizer@optimizer.discriminator=rmsprop"])
    choices = choices_from_targets(cfg)
    assert choices["generator"] == "dcgan" and choices["dataset"] == "mnist"
    assert choices["loss"] == "hinge"
    assert choices["optimizer.generator"] == "adam"
    assert choices["optimizer.discriminator"] == "rmsprop"
    assert run_hparams(cfg)["loss"] == "hinge"


def test_sweep_keys_come_from_the_multirun_overrides(tmp_path: Path) -> None:
    multirun = tmp_path / "multirun.yaml"
    task = ["trainer.max_steps=30", "optimizer.generator.lr=1e-4,2e-4", "generator=dcgan,mlp"]
    multirun.write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    assert sweep_keys(multirun) == ["optimizer.generator.lr", "generator"]
    assert sweep_keys(tmp_path / "missing.yaml") == []
    assert override_keys(
        ["+loss.r1_gamma=10", "optimizer@optimizer.generator=sgd", "hydra.x=1"]
    ) == [
        "loss.r1_gamma",
        "optimizer.generator",
    ]


def test_experiment_summary_lists_the_judging_metrics_and_marks_swept_keys() -> None:
    summary = experiment_summary(
        {"optimizer.generator.lr": 1e-3, "generator": "dcgan", "trainer.deterministic": False},
        metrics=[("loss/generator", "G's loss"), ("eval/default_domain/fid", "fid")],
        swept=["optimizer.generator.lr"],
    )
    [value] = summary.value
    assert value.tag == metadata.EXPERIMENT_TAG
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    infos = {info.name: info for info in data.experiment.hparam_infos}
    assert infos["optimizer.generator.lr"].differs and not infos["generator"].differs
    assert [m.name.tag for m in data.experiment.metric_infos] == [
        "loss/generator",
        "eval/default_domain/fid",
    ]


def test_dashboard_shows_swept_keys_first_and_only_the_judging_metrics(tmp_path: Path) -> None:
    """What `tensorboard --logdir <sweep>` gets from two jobs' writers (no training)."""
    from tensorboard import context as tb_context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    judging = [(tags.tag(n), tags.description(n)) for n in tags.JUDGING]
    for job, lr in (("0", 1e-4), ("1", 2e-4)):
        writer = TensorBoardWriter(tmp_path / job / "tb")
        values = {"optimizer.generator.lr": lr, "generator": "dcgan", "trainer.batch_size": 16}
        writer.hparams(values, metrics=judging, swept=["optimizer.generator.lr"])
        writer.scalars({"g_loss": 0.5 + lr, "d_loss": 1.0, "images_per_sec": 100.0}, 2)
        writer.close()
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    context = backend_context.Context(
        base_plugin.TBContext(
            logdir=str(tmp_path),
            multiplexer=multiplexer,
            data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path)),
        )
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=10, allowed_statuses=[api_pb2.STATUS_UNKNOWN]
    )
    response = list_session_groups.Handler(tb_context.RequestContext(), context, "", request).run()
    metrics = {m.name.tag for g in response.session_groups for m in g.metric_values}
    assert metrics == {"loss/generator", "loss/discriminator"}  # not speed/images_per_sec
    experiment = context.experiment_from_metadata(
        tb_context.RequestContext(),
        "",
        True,
        context.hparams_metadata(tb_context.RequestContext(), ""),
        context.hparams_from_data_provider(tb_context.RequestContext(), "", 0),
    )
    assert next(h.name for h in experiment.hparam_infos) == "optimizer.generator.lr"
    assert [m.name.tag for m in experiment.metric_infos] == [t for t, _ in judging]


def test_real_grid_rows_hold_the_classes_of_the_sample_grid_rows(tmp_path: Path) -> None:
    from gantrain.training.callbacks import RealGrid

    labels = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0], np.int32)
    images = (np.arange(9, dtype=np.uint8) * 20)[:, None, None, None] * np.ones(
        (1, 4, 4, 1), np.uint8
    )
    writer = TensorBoardWriter(tmp_path / "tb")
    grid = RealGrid(
        images, labels, writer, tmp_path, count=9, columns=3,
        grid_labels=np.repeat(np.arange(3), 3),
    )  # fmt: skip
    picked = grid.pick()
    np.testing.assert_array_equal(labels[[0, 4, 8, 1, 3, 7, 2, 5, 6]], [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(picked[:, 0, 0, 0], images[[0, 4, 8, 1, 3, 7, 2, 5, 6], 0, 0, 0])
    grid.on_start(5)  # a resumed launch writes nothing
    assert not (tmp_path / "real.png").exists()
    grid.on_start(0)
    writer.close()
    assert (tmp_path / "real.png").exists()
