"""Recipes that claim a reference config hold that config's values (issue 13): each table is
taken from the reference's own files, so a recipe cannot drift from what it claims."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.conftest import compose_config

# StudioGAN src/configs/CIFAR10/BigGAN.yaml over src/config.py's defaults (Adam eps 1e-6 for
# non-StyleGAN backbones, batch 64, 5 D updates per step, total_steps 100000).
BIGGAN_CIFAR10 = {
    "dataset.name": "cifar10",
    "generator._target_": "gantrain.models.generators.biggan.build_biggan_generator",
    "discriminator._target_": "gantrain.models.discriminators.biggan.build_biggan_discriminator",
    "loss._target_": "gantrain.losses.adversarial.hinge",
    "generator.latent_dim": 80,  # z_dim
    "generator.shared_dim": 128,  # g_shared_dim
    "generator.channels": 96,  # g_conv_dim
    "discriminator.channels": 96,  # d_conv_dim
    "generator.attention_blocks": [2],  # attn_g_loc
    "discriminator.attention_blocks": [1],  # attn_d_loc
    "generator.spectral": True,  # apply_g_sn
    "discriminator.spectral": True,  # apply_d_sn
    "generator.conditioning": "cbn",  # g_cond_mtd cBN
    "discriminator.conditioning": "projection",  # d_cond_mtd PD
    "generator.initializer": "orthogonal",  # g_init ortho
    "discriminator.initializer": "orthogonal",  # d_init ortho
    "optimizer.generator.lr": 2e-4,
    "optimizer.discriminator.lr": 2e-4,
    "optimizer.generator.beta_1": 0.5,
    "optimizer.generator.beta_2": 0.999,
    "optimizer.discriminator.beta_1": 0.5,
    "optimizer.discriminator.beta_2": 0.999,
    "optimizer.generator.epsilon": 1e-6,
    "optimizer.discriminator.epsilon": 1e-6,
    "trainer.batch_size": 64,
    "trainer.n_critic": 5,  # d_updates_per_step
    "trainer.max_steps": 100_000,  # total_steps
    "trainer.ema_decay": 0.9999,  # g_ema_decay
    "trainer.ema_start": 1000,  # g_ema_start
    "trainer.augment": [],
    "regularizer": None,  # no penalty
}

# StudioGAN src/configs/CIFAR10/BigGAN-DiffAug-LeCam.yaml: the same plus these.
BIGGAN_DIFFAUG_LECAM_CIFAR10 = {
    **BIGGAN_CIFAR10,
    "trainer.max_steps": 200_000,
    "trainer.augment": ["color", "translation", "cutout"],  # diffaug_type "diffaug"
    "regularizer.lecam._target_": "gantrain.regularizers.lecam.LeCam",
    "regularizer.lecam.weight": 0.3,  # lecam_lambda
    "regularizer.lecam.decay": 0.99,  # lecam_ema_decay
    "regularizer.lecam.start": 1000,  # lecam_ema_start_iter
}
del BIGGAN_DIFFAUG_LECAM_CIFAR10["regularizer"]

TABLES = {
    "biggan_cifar10": BIGGAN_CIFAR10,
    "biggan_diffaug_lecam_cifar10": BIGGAN_DIFFAUG_LECAM_CIFAR10,
}


@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_recipe_matches_its_reference_table(experiment: str) -> None:
    cfg = compose_config(overrides=[f"experiment={experiment}"])
    for key, expected in TABLES[experiment].items():
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        assert value == expected, f"{experiment}: {key} is {value!r}, the reference {expected!r}"
