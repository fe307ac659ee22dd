"""Truncation at sampling time (`sample`/`eval` truncation_psi, truncation_cutoff): applied to
the Sampler's private copy of a tiny StyleGAN2 generator, never to the restored generator;
psi 0 draws the w_avg image for every z, psi 1 is untruncated; a generator without a mapping
network refuses psi != 1 in one line; eval's protocol and sample's .npz record it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantrain.checkpointing import Checkpoints
from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.eval.base import Batch, Evaluator
from gantrain.eval.settings import load_eval_settings
from gantrain.generation import draw_latents
from gantrain.tasks.evaluate import recorded_truncation, score_run, truncated_protocol
from gantrain.tasks.sample import Plan, load_sampler, truncation_setting, write
from gantrain.training.build import build_generator
from tests.conftest import compose_config

TINY_STYLEGAN2 = [
    "generator=stylegan2",
    "discriminator=stylegan2",
    "dataset=cifar10",
    "generator.latent_dim=8",
    "generator.w_dim=8",
    "generator.mapping_layers=2",
    "generator.channel_base=64",
    "generator.channel_max=8",
    "discriminator.channel_base=64",
    "discriminator.channel_max=8",
]
NUM_WS = 8  # 32x32: two ws per block 4..32 (4 blocks)


def _save_run(path: Path, overrides: list[str], *, w_avg: bool) -> Path:
    """A run dir holding an untrained generator and a different EMA twin (no training)."""
    run = load_run_config(compose_config(overrides=overrides))
    spec = run.dataset.spec()
    generator, ema = build_generator(run, spec), build_generator(run, spec)
    for variable in ema.trainable_variables:
        variable.assign(variable * 0.5 + 0.1)
    if w_avg:  # a w_avg away from 0, as training leaves it
        for model, seed in ((generator, 1), (ema, 2)):
            mapping = model.get_layer("mapping")
            mapping.w_avg.assign(np.random.default_rng(seed).normal(size=8).astype(np.float32))
    checkpoint = tf.train.Checkpoint(generator=generator, generator_ema=ema)
    step = tf.Variable(5, dtype=tf.int64)
    Checkpoints(checkpoint, path, step=step, max_to_keep=1).save(run.raw)
    return path


@pytest.fixture(scope="module")
def stylegan2_run(tmp_path_factory, tiny_cifar10) -> Path:
    root = tiny_cifar10[0]
    path = tmp_path_factory.mktemp("sg2") / "run"
    return _save_run(path, [*TINY_STYLEGAN2, f"dataset.path={root}"], w_avg=True)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, tiny_mnist: Path) -> Path:
    path = tmp_path_factory.mktemp("dcgan") / "run"
    overrides = ["generator.widths=[16,8]", "generator.latent_dim=8", f"dataset.path={tiny_mnist}"]
    return _save_run(path, overrides, w_avg=False)


def _truncation_vars(model) -> tuple[float, int]:
    mapping = model.get_layer("mapping")
    return float(mapping.truncation_psi.numpy()), int(mapping.truncation_cutoff.numpy())


def _w_avg_image(sampler, ws: np.ndarray | None = None) -> np.ndarray:
    """The untruncated synthesis (const noise) of `ws`, by default w_avg in every slot."""
    mapping = sampler.source.get_layer("mapping")
    if ws is None:
        ws = np.tile(mapping.w_avg.numpy()[None, None], [1, NUM_WS, 1])
    images = sampler.source.get_layer("synthesis")(tf.constant(ws), training=False)
    return np.clip(images.numpy(), -1.0, 1.0)


def test_psi_zero_draws_the_w_avg_image_for_every_latent(stylegan2_run: Path) -> None:
    sampler, _, _ = load_sampler(str(stylegan2_run), truncation=(0.0, None))
    z = draw_latents(0, 4, 8)
    images = sampler.generate(z)
    expected = _w_avg_image(sampler)
    for image in images:
        np.testing.assert_allclose(image, expected[0], atol=1e-5)
    assert float(np.abs(expected).max()) > 1e-3  # a real image, not a blank one
    # Only the private copy truncates: the restored (EMA) generator keeps psi 1.
    assert _truncation_vars(sampler.model) == (0.0, NUM_WS)
    assert _truncation_vars(sampler.source) == (1.0, NUM_WS)
    # A refresh copies the source's truncation variables too; the copy truncates again.
    sampler.refresh()
    np.testing.assert_allclose(
        sampler.generate(z[:2]), images[:2], atol=1e-5
    )  # batch-size-dependent float noise (CPU conv kernels)
    assert sampler.truncation_used() == {"psi": 0.0, "cutoff": None}


def _untruncated(sampler, z: np.ndarray) -> np.ndarray:
    """The source generator's own inference output (its truncation variables as they are)."""
    return np.clip(sampler.source(tf.constant(z), training=False).numpy(), -1.0, 1.0)


def test_psi_one_is_untruncated_even_over_a_truncated_source(stylegan2_run: Path) -> None:
    z = draw_latents(3, 4, 8)
    off, _, _ = load_sampler(str(stylegan2_run), truncation=(1.0, None))
    untruncated = _untruncated(off, z)  # the restored generator: psi 1
    np.testing.assert_allclose(
        off.generate(z), untruncated, atol=1e-5
    )  # batch-size-dependent float noise (CPU conv kernels)
    assert not np.allclose(untruncated[0], untruncated[1], atol=1e-3)  # z matters
    # A source built with generator.truncation_psi=0.5: the copy takes it at refresh, and
    # the sampling keys put psi 1 back.
    off.source.get_layer("mapping").set_truncation(0.5, None)
    off.refresh()
    np.testing.assert_allclose(
        off.generate(z), untruncated, atol=1e-5
    )  # batch-size-dependent float noise (CPU conv kernels)
    assert off.truncation_used() == {"psi": 1.0, "cutoff": None}
    # No truncation asked (training grids, export): the copy follows the source.
    plain, _, _ = load_sampler(str(stylegan2_run))
    before = _untruncated(plain, z)
    plain.source.get_layer("mapping").set_truncation(0.5, None)
    plain.refresh()
    np.testing.assert_allclose(
        plain.generate(z), _untruncated(plain, z), atol=1e-5
    )  # batch-size-dependent float noise (CPU conv kernels)
    assert not np.allclose(plain.generate(z), before, atol=1e-4)
    assert plain.truncation_used() == {"psi": 0.5, "cutoff": None}


def test_cutoff_truncates_the_first_ws_only(stylegan2_run: Path) -> None:
    z = draw_latents(1, 3, 8)
    sampler, _, _ = load_sampler(str(stylegan2_run), truncation=(0.0, 2))
    mapping = sampler.source.get_layer("mapping")
    ws = mapping(tf.constant(z), training=False).numpy()  # the source: untruncated
    ws[:, :2] = mapping.w_avg.numpy()
    np.testing.assert_allclose(sampler.generate(z), _w_avg_image(sampler, ws), atol=1e-5)
    assert sampler.truncation_used() == {"psi": 0.0, "cutoff": 2}
    # A cutoff past the last w truncates all of them, as the reference's slice does.
    past, _, _ = load_sampler(str(stylegan2_run), truncation=(0.0, 50))
    np.testing.assert_allclose(past.generate(z)[0], _w_avg_image(past)[0], atol=1e-5)
    assert past.truncation_used() == {"psi": 0.0, "cutoff": None}


def test_a_generator_without_mapping_refuses_truncation_in_one_line(dcgan_run: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_sampler(str(dcgan_run), truncation=(0.7, None))
    assert str(error.value) == (
        "truncation_psi=0.7: generator=dcgan has no mapping network to truncate; truncation "
        "needs generator=stylegan2"
    )
    sampler, _, _ = load_sampler(str(dcgan_run), truncation=(1.0, None))  # off: any generator
    assert sampler.truncation_used() == {"psi": 1.0, "cutoff": None}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["truncation_psi=nan"], "truncation_psi=nan: must be a finite number"),
        (["truncation_psi=inf"], "truncation_psi=inf: must be a finite number"),
        (["truncation_psi=high"], "truncation_psi=high: must be a finite number"),
        (["truncation_cutoff=0"], "truncation_cutoff=0: must be >= 1"),
        (["truncation_cutoff=1.5"], "truncation_cutoff=1.5: must be a whole number"),
    ],
)
def test_bad_truncation_values_are_config_errors(overrides: list[str], message: str) -> None:
    for config in ("sample", "evaluate"):
        cfg = compose_config(config, ["run_dir=unused", "output=unused", *overrides])
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            truncation_setting(cfg)


def test_any_finite_psi_is_taken_as_the_reference_does() -> None:
    for psi, cutoff in ((1.5, None), (-0.5, 3), (0, None)):
        extra = [f"truncation_psi={psi}", f"truncation_cutoff={cutoff or 'null'}"]
        cfg = compose_config("sample", ["run_dir=unused", "output=unused", *extra])
        assert truncation_setting(cfg) == (float(psi), cutoff)
    assert truncation_setting(compose_config("evaluate", [])) == (1.0, None)  # default: off


class Spread(Evaluator):
    """Largest per-pixel standard deviation over the images: 0 when all are identical."""

    def metric_names(self) -> tuple[str, ...]:
        return ("spread",)

    def reset(self) -> None:
        self.parts: list[np.ndarray] = []

    def update(self, batch: Batch) -> None:
        self.parts.append(batch.images)

    def result(self) -> dict[str, float]:
        return {"spread": float(np.concatenate(self.parts).std(axis=0).max())}


def _eval_cfg(run_dir: Path, *extra: str):
    return compose_config(
        "evaluate",
        [
            f"run_dir={run_dir}",
            "eval=[]",
            f"+eval.spread._target_={__name__}.Spread",
            "eval.num_samples=6",
            "eval.batch_size=3",
            *extra,
        ],
    )


def test_eval_records_the_truncation_in_its_protocol(stylegan2_run: Path) -> None:
    cfg = _eval_cfg(stylegan2_run, "truncation_psi=0", "truncation_cutoff=null")
    record = score_run(cfg, load_eval_settings(cfg))
    assert record["spread"] < 1e-5  # psi 0: eval scored six copies of the w_avg image
    assert record["protocol"]["truncation"] == {"psi": 0.0, "cutoff": None}
    assert record["protocol"]["name"] == "custom"
    [line] = (stylegan2_run / "metric-spread.jsonl").read_text().splitlines()
    assert json.loads(line)["protocol"]["truncation"] == {"psi": 0.0, "cutoff": None}
    cfg = _eval_cfg(stylegan2_run)
    record = score_run(cfg, load_eval_settings(cfg))
    assert record["spread"] > 1e-3
    assert record["protocol"]["truncation"] == {"psi": 1.0, "cutoff": None}


def test_an_untruncated_protocol_keeps_its_name() -> None:
    protocol = {"name": "fid50k_full", "num_generated": 50_000}
    kept = truncated_protocol(protocol, {"psi": 1.0, "cutoff": None})
    assert kept["name"] == "fid50k_full" and kept["truncation"]["psi"] == 1.0
    renamed = truncated_protocol(protocol, {"psi": 0.7, "cutoff": 4})
    assert renamed["name"] == "custom" and renamed["truncation"] == {"psi": 0.7, "cutoff": 4}
    assert protocol == {"name": "fid50k_full", "num_generated": 50_000}  # not modified


def test_sample_npz_records_the_truncation_for_eval(stylegan2_run: Path, tmp_path: Path) -> None:
    sampler, _, _ = load_sampler(str(stylegan2_run), truncation=(0.5, 3))
    z = draw_latents(0, 2, 8)
    drawn = Plan(z, None)
    used = sampler.truncation_used()
    [npz] = write(tmp_path / "s.npz", sampler.generate(z), drawn, grid=False, frame_ms=100,
                  truncation=used)  # fmt: skip
    with np.load(npz) as data:
        assert float(data["truncation_psi"]) == 0.5 and int(data["truncation_cutoff"]) == 3
    assert recorded_truncation(npz) == {"psi": 0.5, "cutoff": 3}
    [plain] = write(tmp_path / "p.npz", sampler.generate(z), drawn, grid=False, frame_ms=100)
    assert recorded_truncation(plain) is None
