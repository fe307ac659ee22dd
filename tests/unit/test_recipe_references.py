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

# brownvc/R3GAN train.py, preset CIFAR10, with its README's command (--batch=512 --mirror=1
# --aug=1 --cond=1); G/D kwargs; its Trainer.py weights R1 + R2 by gamma / 2.
_R3GAN_WIDTHS = [3 * x // 4 for x in [1024, 1024, 1024, 1024]]  # WidthPerStage
_R3GAN_NET = {
    "widths": _R3GAN_WIDTHS,
    "cardinalities": [3 * x for x in [32, 32, 32, 32]],  # CardinalityPerStage
    "blocks": [2 * x for x in [1, 1, 1, 1]],  # BlocksPerStage
    "expansion": 2,  # ExpansionFactor
}
R3GAN_CIFAR10 = {
    "dataset.name": "cifar10",
    "dataset.xflip": True,  # --mirror=1
    "generator._target_": "gantrain.models.generators.r3gan.build_r3gan_generator",
    "discriminator._target_": "gantrain.models.discriminators.r3gan.build_r3gan_discriminator",
    **{f"generator.{k}": v for k, v in _R3GAN_NET.items()},
    **{f"discriminator.{k}": v for k, v in _R3GAN_NET.items()},  # reversed lists: all equal
    "generator.latent_dim": 64,  # NoiseDimension
    "generator.conditioning": "embedding",  # --cond=1
    "generator.embedding_dim": 64,  # G ConditionEmbeddingDimension = NoiseDimension
    "discriminator.conditioning": "projection",
    "discriminator.embedding_dim": _R3GAN_WIDTHS[0],  # D ConditionEmbeddingDimension
    "loss._target_": "gantrain.losses.adversarial.relativistic_pairing",  # R3GANLoss
    "regularizer.r1._target_": "gantrain.regularizers.r1.R1",
    "regularizer.r2._target_": "gantrain.regularizers.r2.R2",
    **{
        f"regularizer.{r}.{k}": v
        for r in ("r1", "r2")
        for k, v in {
            "gamma": 0.05,  # gamma_scheduler base_value
            "final_gamma": 0.005,  # final_value
            "schedule": "cosine",  # cosine_decay_with_warmup
            "interval": 1,
            "schedule_start": 0,
        }.items()
    },
    **{
        f"optimizer.{m}.{k}": v
        for m in ("generator", "discriminator")
        for k, v in {
            "_target_": "gantrain.optim.adam",  # torch.optim.Adam
            "beta_1": 0.0,  # betas=[0, ...]
            "epsilon": 1e-8,  # eps
            "lr": 2e-4,  # lr_scheduler base_value
            "final_lr": 5e-5,
            "schedule": "cosine",
            "decay_start": 0,
            "beta_2": 0.9,  # beta2_scheduler base_value
            "final_beta_2": 0.99,
            "beta_2_schedule": "cosine",
            "beta_2_start": 0,
        }.items()
    },
    "trainer.batch_size": 512,  # --batch=512
    "trainer.n_critic": 1,
    "trainer.max_steps": 39_063,  # decay_nimg 2e7 / 512, the schedules' horizon
    "trainer.ema_decay": 0.0,
    "trainer.ema_start": 0,
    "trainer.ema_kimg": 0.0,  # ema_scheduler base_value
    "trainer.ema_final_kimg": 5000.0,  # final_value ema_nimg 5000 * 1000
    "trainer.ema_schedule": "cosine",
    "trainer.ema_rampup": 0.0,
    "trainer.augment": ["r3gan"],  # AugmentPipe kwargs of train.py (see ada.py)
    "trainer.augment_p": 0.0,  # aug_scheduler base_value
    "trainer.augment_p_final": 0.55,  # final_value
    "trainer.augment_p_schedule": "cosine",
    "trainer.ada_target": None,  # p follows the schedule, no ADA controller
}

TABLES = {
    "r3gan_cifar10": R3GAN_CIFAR10,
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
