"""Every experiment recipe composes, validates and trains 2 steps with tiny models.

The recipes' hyperparameters stay as written (losses, n_critic, schedules, normalization);
only widths, batch size, intervals and the dataset files are made tiny.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gantrain.config import load_run_config
from gantrain.training.loop import train
from tests.conftest import REPO, compose_config

EXPERIMENTS = sorted(p.stem for p in (REPO / "configs" / "experiment").glob("*.yaml"))

# Tiny widths per architecture (the number of entries keeps each network's depth).
TINY_GENERATOR = {
    "build_dcgan_generator": ["generator.widths=[32,16,8]", "generator.latent_dim=16"],
    "build_sndcgan_generator": ["generator.widths=[32,16,8,8]", "generator.latent_dim=16"],
    "build_resnet_generator": ["generator.widths=[16,16,16]", "generator.latent_dim=16"],
    "build_mlp_generator": ["generator.widths=[32]", "generator.latent_dim=16"],
    "build_biggan_generator": ["generator.channels=8", "generator.latent_dim=8"],
    "build_r3gan_generator": [
        "generator.widths=[8,8,8]",
        "generator.cardinalities=[2,2,2]",
        "generator.blocks=[1,1,1]",
        "generator.latent_dim=8",
    ],
    "build_stylegan2_generator": [
        "generator.latent_dim=8",
        "generator.w_dim=8",
        "generator.channel_base=64",
        "generator.channel_max=8",
    ],
}
TINY_DISCRIMINATOR = {
    "build_dcgan_discriminator": lambda n: f"discriminator.widths=[{','.join(['8'] * n)}]",
    "build_sndcgan_discriminator": lambda n: f"discriminator.widths=[{','.join(['8'] * n)}]",
    "build_resnet_discriminator": lambda n: f"discriminator.widths=[{','.join(['16'] * n)}]",
    "build_mlp_discriminator": lambda n: f"discriminator.widths=[{','.join(['16'] * n)}]",
    "build_biggan_discriminator": lambda n: "discriminator.channels=8",
    "build_r3gan_discriminator": lambda n: (
        f"discriminator.widths=[{','.join(['8'] * n)}] "
        f"discriminator.cardinalities=[{','.join(['2'] * n)}] "
        f"discriminator.blocks=[{','.join(['1'] * n)}]"
    ),
    "build_stylegan2_discriminator": lambda n: (
        "discriminator.channel_base=64 discriminator.channel_max=8"
    ),
}
TINY_TRAINER = [
    "trainer.max_steps=2",
    "trainer.batch_size=8",
    "trainer.log_every=1",
    "trainer.sample_every=2",
    "trainer.checkpoint_every=2",
    "trainer.standing_stats=32",
    "logging.sample_grid=2",
    "logging.progress_bar=false",
]


# Datasets the two-step test has tiny files for: dataset name -> (fixture, its path).
TINY_DATA = {
    "mnist": ("tiny_mnist", lambda f: f),
    "cifar10": ("tiny_cifar10", lambda f: f[0]),
    "image_folder": ("tiny_image_folder", lambda f: f),
}
# ... and what else they need: image folders are read at the fixture's 32x32 (a recipe's own
# resolution, e.g. stylegan2_ffhq256's 256, would only upscale the tiny images).
TINY_DATA_OVERRIDES = {"image_folder": ["dataset.resolution=32"]}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_recipe_is_tested(experiment: str) -> None:
    """`test_recipe_trains_two_steps` can shrink every recipe: its architectures have tiny
    settings above and its dataset tiny files. A new recipe fails here, fast, until it does."""
    full = compose_config(overrides=[f"experiment={experiment}"])
    generator = full.generator._target_.rsplit(".", 1)[1]
    discriminator = full.discriminator._target_.rsplit(".", 1)[1]
    assert generator in TINY_GENERATOR, f"{experiment}: add {generator} to TINY_GENERATOR"
    assert discriminator in TINY_DISCRIMINATOR, (
        f"{experiment}: add {discriminator} to TINY_DISCRIMINATOR"
    )
    assert full.dataset.name in TINY_DATA, f"{experiment}: add tiny {full.dataset.name} data"


def test_recipes_cite_their_reference_and_its_fid() -> None:
    for name in EXPERIMENTS:
        text = (REPO / "configs" / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_"), name
        assert "Reference FID:" in text or "Reference score:" in text, name
        assert f"experiment={name}" in text, f"{name}: give the command line"


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_recipe_trains_two_steps(experiment, request, tmp_path: Path) -> None:
    full = compose_config(overrides=[f"experiment={experiment}"])
    generator = full.generator._target_.rsplit(".", 1)[1]
    discriminator = full.discriminator._target_.rsplit(".", 1)[1]
    fixture, path_of = TINY_DATA[full.dataset.name]
    data = path_of(request.getfixturevalue(fixture))
    overrides = [
        f"experiment={experiment}",
        *TINY_GENERATOR[generator],
        *TINY_DISCRIMINATOR[discriminator](len(full.discriminator.get("widths", []))).split(),
        f"dataset.path={data}",
        *TINY_DATA_OVERRIDES.get(full.dataset.name, []),
        *TINY_TRAINER,
    ]
    run = load_run_config(compose_config(overrides=overrides))
    assert run.trainer.n_critic == full.trainer.n_critic  # the recipe itself is kept
    result = train(run, tmp_path)
    assert result.step == 2
    assert all(math.isfinite(result.metrics[k]) for k in ("d_loss", "g_loss"))
    assert (tmp_path / "samples" / "step_000002.png").exists()
    assert (tmp_path / "checkpoints" / "ckpt-2.index").exists()
