"""`sample` modes and `export`, in-process: unconditional runs trained here, and a
class-conditional run with EMA weights built from the contract (tests/tiny_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gantrain.checkpointing import Checkpoints
from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.export import METADATA, export_generator
from gantrain.generation import draw_latents
from gantrain.tasks.sample import has_ema, load_sampler, plan, write
from gantrain.training.build import build_generator
from gantrain.training.loop import train
from tests.conftest import TINY, compose_config

CONDITIONAL = [
    "generator._target_=tests.tiny_models.build_tiny_conditional_generator",
    "~generator.widths",
    "~generator.kernel_size",
    "~generator.negative_slope",
    "generator.latent_dim=8",
    "trainer.standing_stats=64",
]


@pytest.fixture(autouse=True)
def _trust_the_tiny_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # The conditional run is built by tests/tiny_models.py; a run dir's config may name only
    # gantrain's own builders unless the user trusts more (gantrain/run_dir_config.py).
    monkeypatch.setenv("GANTRAIN_TRUSTED_TARGETS", "tests.tiny_models.")


def sample_cfg(*overrides: str):
    return compose_config("sample", ["run_dir=unused", "output=unused", *overrides])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_mnist: Path) -> Path:
    path = tmp_path_factory.mktemp("uncond") / "run"
    train(load_run_config(compose_config(overrides=[*TINY, f"dataset.path={tiny_mnist}"])), path)
    return path


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory, tiny_mnist: Path) -> Path:
    """A run dir whose checkpoint holds a conditional generator and a different EMA copy."""
    path = tmp_path_factory.mktemp("cond") / "run"
    run = load_run_config(compose_config(overrides=[f"dataset.path={tiny_mnist}", *CONDITIONAL]))
    spec = run.dataset.spec()
    generator, ema = build_generator(run, spec), build_generator(run, spec)
    for variable in ema.trainable_variables:
        variable.assign(variable * 0.5 + 0.1)
    step = tf.Variable(3, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(generator=generator, generator_ema=ema)
    Checkpoints(checkpoint, path, step=step, max_to_keep=1).save(run.raw)
    return path


def test_conditional_run_samples_its_ema_weights(conditional_run: Path) -> None:
    prefix = str(conditional_run / "checkpoints" / "ckpt-3")
    assert has_ema(prefix)
    z = draw_latents(0, 6, 8)
    labels = np.arange(6, dtype=np.int32)
    by_default, _, _ = load_sampler(str(conditional_run))
    raw, _, _ = load_sampler(str(conditional_run), ema=False)
    assert by_default.num_classes == 10 and by_default.latent_dim == 8
    ema_images = by_default.generate(z, labels)
    assert not np.allclose(ema_images, raw.generate(z, labels))
    # The default sampler holds the EMA copy's weights.
    ema_model = tf.train.Checkpoint(generator_ema=build_generator(*_run_and_spec(prefix)))
    ema_model.restore(prefix).expect_partial()
    for mine, theirs in zip(
        by_default.source.weights, ema_model.generator_ema.weights, strict=True
    ):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def _run_and_spec(prefix: str):
    from omegaconf import OmegaConf

    run = load_run_config(OmegaConf.load(Path(prefix).parent / "config.yaml"))
    return run, run.dataset.spec()


def test_class_grid_has_one_row_per_class(conditional_run: Path, tmp_path: Path) -> None:
    sampler, _, _ = load_sampler(str(conditional_run))
    drawn = plan(sample_cfg("mode=classes", "per_class=4", "labels=[3,1,7]"), 8, 10)
    assert drawn.labels.tolist() == [3] * 4 + [1] * 4 + [7] * 4 and drawn.columns == 4
    np.testing.assert_array_equal(drawn.latents[:4], drawn.latents[8:])
    images = sampler.generate(drawn.latents, drawn.labels)
    [npz, png] = write(tmp_path / "c.npz", images, drawn, grid=True, frame_ms=100)
    with np.load(npz) as data:
        np.testing.assert_array_equal(data["labels"], drawn.labels)
        np.testing.assert_array_equal(data["images"], images)
    picture = np.asarray(Image.open(png))
    assert picture.shape == (3 * 58 + 2, 4 * 58 + 2)  # 3 rows (classes) x 4 columns
    # Same latent, different class: the class changes the image.
    assert not np.allclose(images[0], images[4])


def test_conditional_samples_cycle_classes_and_interpolate_in_one(conditional_run: Path) -> None:
    drawn = plan(sample_cfg("num_samples=7", "labels=[2,5]"), 8, 10)
    assert drawn.labels.tolist() == [2, 5, 2, 5, 2, 5, 2]
    assert drawn.order.tolist() == [0, 2, 4, 6, 1, 3, 5] and drawn.columns == 4
    drawn = plan(sample_cfg("mode=interpolate", "labels=4", "steps=3"), 8, 10)
    assert drawn.labels.tolist() == [4] * 4
    with pytest.raises(ConfigError, match="interpolate takes one class"):
        plan(sample_cfg("mode=interpolate", "labels=[1,2]"), 8, 10)
    with pytest.raises(ConfigError, match="mode=classes: this run's generator is unconditional"):
        plan(sample_cfg("mode=classes"), 8, 0)


def test_folder_output_and_gif(run_dir: Path, tmp_path: Path) -> None:
    sampler, _, _ = load_sampler(str(run_dir))
    drawn = plan(sample_cfg("num_samples=3", "truncation=0.7"), sampler.latent_dim, 0)
    assert np.abs(drawn.latents).max() <= 0.7
    images = sampler.generate(drawn.latents)
    written = write(tmp_path / "pngs", images, drawn, grid=True, frame_ms=100)
    assert [p.name for p in written] == ["000000.png", "000001.png", "000002.png", "grid.png"]
    first = np.asarray(Image.open(written[0]))
    assert first.shape == (28, 28)  # native resolution, no enlargement
    expected = np.clip(np.rint((images[0, ..., 0] + 1) * 127.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(first, expected)

    drawn = plan(sample_cfg("mode=interpolate", "seeds=[0,5]", "steps=4"), sampler.latent_dim, 0)
    [gif] = write(
        tmp_path / "walk.gif", sampler.generate(drawn.latents), drawn, grid=False, frame_ms=80
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 5 and animation.info["duration"] == 80
        assert animation.size == (56, 56)  # enlarged x2 like the grids


@pytest.mark.parametrize("kind", ["unconditional", "conditional"])
def test_export_reloads_with_plain_tensorflow(
    kind: str, run_dir: Path, conditional_run: Path, tmp_path: Path
) -> None:
    source = run_dir if kind == "unconditional" else conditional_run
    sampler, _, prefix = load_sampler(str(source))
    path = export_generator(sampler, tmp_path / "model", {"checkpoint": prefix})
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    z = draw_latents(1, 5, sampler.latent_dim)
    if kind == "conditional":
        labels = np.array([0, 9, 3, 3, 1], np.int32)
        assert sorted(serve.structured_input_signature[1]) == ["label", "latent"]
        images = serve(latent=tf.constant(z), label=tf.constant(labels))["images"].numpy()
        direct = loaded.generate(z, labels)["images"].numpy()
        expected = sampler.generate(z, labels)
    else:
        assert list(serve.structured_input_signature[1]) == ["latent"]
        images = serve(latent=tf.constant(z))["images"].numpy()
        direct = loaded.generate(z)["images"].numpy()
        expected = sampler.generate(z)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected, atol=1e-5)
    np.testing.assert_allclose(direct, expected, atol=1e-5)
    info = json.loads((path / METADATA).read_text())
    assert info["latent_dim"] == sampler.latent_dim and info["image_shape"] == [28, 28, 1]
    assert info["num_classes"] == (10 if kind == "conditional" else 0)
    assert info["checkpoint"] == prefix


def test_export_replaces_only_what_gantrain_exported(run_dir: Path, tmp_path: Path) -> None:
    sampler, _, _ = load_sampler(str(run_dir))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    # Someone else's SavedModel: it has a saved_model.pb, but gantrain did not write it.
    theirs = tmp_path / "theirs"
    tf.saved_model.save(tf.Module(), str(theirs))
    (tmp_path / "file").write_text("mine")
    for path in (tmp_path / "notes", theirs, tmp_path / "file"):
        before = sorted(p.relative_to(tmp_path) for p in path.rglob("*"))
        with pytest.raises(ConfigError, match="(?i)nothing was deleted") as info:
            export_generator(sampler, path, {})
        assert "\n" not in str(info.value)
        assert sorted(p.relative_to(tmp_path) for p in path.rglob("*")) == before
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    # Its own export, gantrain replaces (and leaves nothing beside it).
    ours = export_generator(sampler, tmp_path / "ours", {"step": 1})
    export_generator(sampler, ours, {"step": 2})
    assert json.loads((ours / METADATA).read_text())["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "notes", "ours", "theirs"]
