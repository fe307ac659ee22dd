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

# NVlabs/stylegan2-ada-pytorch train.py setup_training_loop_kwargs, what every cfg shares:
# G_kwargs/D_kwargs (and networks.py's defaults they leave), the Adam kwargs, the loss,
# training_loop's D_reg_interval, and the ADA defaults (--aug=ada, augpipe bgc).
_STYLEGAN2_ADA = {
    "generator._target_": "gantrain.models.generators.stylegan2.build_stylegan2_generator",
    "discriminator._target_": (
        "gantrain.models.discriminators.stylegan2.build_stylegan2_discriminator"
    ),
    "loss._target_": "gantrain.losses.adversarial.non_saturating",  # StyleGAN2Loss softplus
    "generator.latent_dim": 512,  # G_kwargs z_dim
    "generator.w_dim": 512,  # G_kwargs w_dim
    "generator.architecture": "skip",  # SynthesisBlock architecture default
    "generator.mapping_lr_multiplier": 0.01,  # MappingNetwork lr_multiplier default
    "generator.w_avg_beta": 0.995,  # MappingNetwork w_avg_beta default
    "generator.use_noise": True,  # SynthesisLayer use_noise default
    "generator.truncation_psi": 1.0,  # training and metrics sample with psi 1
    "generator.channel_max": 512,  # synthesis_kwargs.channel_max
    "discriminator.channel_max": 512,  # D_kwargs.channel_max
    "generator.num_fp16_res": 4,  # synthesis_kwargs.num_fp16_res
    "discriminator.num_fp16_res": 4,  # D_kwargs.num_fp16_res
    "generator.conv_clamp": 256,  # synthesis_kwargs.conv_clamp
    "discriminator.conv_clamp": 256,  # D_kwargs.conv_clamp
    "discriminator.mbstd_num_channels": 1,  # DiscriminatorEpilogue mbstd_num_channels
    "regularizer.r1._target_": "gantrain.regularizers.r1.R1",  # StyleGAN2Loss Dr1
    "regularizer.r1.interval": 16,  # training_loop D_reg_interval
    "regularizer.r1.schedule": "constant",
    **{
        f"optimizer.{m}.{k}": v
        for m in ("generator", "discriminator")
        for k, v in {
            "_target_": "gantrain.optim.adam",  # torch.optim.Adam
            "beta_1": 0.0,  # betas=[0, 0.99]
            "epsilon": 1e-8,  # eps
            "schedule": "constant",
            "beta_2_schedule": "constant",
        }.items()
    },
    "optimizer.discriminator.beta_2": 0.99,  # betas=[0, 0.99]
    "trainer.lazy_adjust": True,  # mb_ratio = reg_interval / (reg_interval + 1)
    "trainer.n_critic": 1,
    "trainer.ema_decay": 0.0,  # EMA by half-life (ema_kimg) only
    "trainer.augment": ["bgc"],  # augpipe_specs['bgc']
    "trainer.augment_p": 0.0,  # training_loop augment_p
    "trainer.augment_p_schedule": "constant",
    "trainer.ada_target": 0.6,  # --aug=ada: args.ada_target = 0.6
    "trainer.ada_interval": 4,  # training_loop ada_interval
    "trainer.ada_kimg": 500,  # training_loop ada_kimg
}
# loss.py StyleGAN2Loss defaults where the cfg keeps path length regularization.
_PATH_LENGTH = {
    "regularizer.path_length._target_": "gantrain.regularizers.path_length.PathLength",
    "regularizer.path_length.weight": 2.0,  # pl_weight
    "regularizer.path_length.interval": 4,  # training_loop G_reg_interval
    "regularizer.path_length.decay": 0.01,  # pl_decay
    "regularizer.path_length.batch_shrink": 2,  # pl_batch_shrink
    "regularizer.path_length.style_mixing_prob": None,  # G's own: its mixing_prob
    "generator.mixing_prob": 0.9,  # style_mixing_prob
    "optimizer.generator.lr": 0.0025,  # spec.lrate (both cfgs below)
    "optimizer.generator.beta_2": 0.99,
}

# cfg_specs['cifar'] (ref_gpus 2, kimg 100000, mb 64, mbstd 32, fmaps 1, lrate 0.0025, gamma
# 0.01, ema 500, ramp 0.05, map 2) and `if cfg == 'cifar'`, with --cond=1 and no --mirror
# (NVlabs/stylegan2-ada README's command for the paper's CIFAR-10 model).
STYLEGAN2_ADA_CIFAR10 = {
    **_STYLEGAN2_ADA,
    "dataset.name": "cifar10",
    "dataset.xflip": False,  # no --mirror
    "generator.conditioning": "embedding",  # --cond=1: MappingNetwork embed of c
    "discriminator.conditioning": "projection",  # --cond=1: D mapping + cmap projection
    "discriminator.cmap_dim": None,  # cmap_dim default: channels at 4x4
    "discriminator.mapping_layers": 8,  # D mapping_kwargs default num_layers
    "generator.mapping_layers": 2,  # spec.map
    "generator.channel_base": 32768,  # int(spec.fmaps * 32768), fmaps 1
    "discriminator.channel_base": 32768,
    "discriminator.mbstd_group_size": 32,  # spec.mbstd
    "discriminator.architecture": "orig",  # cifar: D_kwargs.architecture = 'orig'
    "generator.mixing_prob": 0.0,  # cifar: style_mixing_prob = 0
    "regularizer.path_length": None,  # cifar: pl_weight = 0 (no Gpl phase computes)
    "regularizer.r1.gamma": 0.01,  # spec.gamma
    # G_reg_interval stays 4 with pl_weight 0, so G's Adam gets mb_ratio 4/5 all the same.
    "optimizer.generator.lr": pytest.approx(0.0025 * 4 / 5),
    "optimizer.generator.beta_2": pytest.approx(0.99 ** (4 / 5), rel=1e-15),
    "optimizer.discriminator.lr": 0.0025,  # spec.lrate
    "trainer.batch_size": 64,  # spec.mb
    "trainer.max_kimg": 100_000,  # spec.kimg
    "trainer.ema_kimg": 500,  # spec.ema
    "trainer.ema_rampup": 0.05,  # spec.ramp
}

# cfg_specs['paper256'] (ref_gpus 8, kimg 25000, mb 64, mbstd 8, fmaps 0.5, lrate 0.0025,
# gamma 1, ema 20, ramp None, map 8), unconditional, no --mirror.
STYLEGAN2_FFHQ256 = {
    **_STYLEGAN2_ADA,
    **_PATH_LENGTH,
    "dataset.name": "image_folder",
    "dataset.resolution": 256,
    "dataset.xflip": False,  # --mirror default
    "generator.conditioning": "none",  # --cond default
    "discriminator.conditioning": "none",
    "generator.mapping_layers": 8,  # spec.map
    "generator.channel_base": 16384,  # int(spec.fmaps * 32768), fmaps 0.5
    "discriminator.channel_base": 16384,
    "discriminator.mbstd_group_size": 8,  # spec.mbstd
    "discriminator.architecture": "resnet",  # D architecture default
    "regularizer.r1.gamma": 1.0,  # spec.gamma
    "optimizer.discriminator.lr": 0.0025,  # spec.lrate
    "trainer.batch_size": 64,  # spec.mb
    "trainer.max_kimg": 25_000,  # spec.kimg
    "trainer.ema_kimg": 20,  # spec.ema
    "trainer.ema_rampup": 0,  # spec.ramp None
}

TABLES = {
    "r3gan_cifar10": R3GAN_CIFAR10,
    "biggan_cifar10": BIGGAN_CIFAR10,
    "biggan_diffaug_lecam_cifar10": BIGGAN_DIFFAUG_LECAM_CIFAR10,
    "stylegan2_ada_cifar10": STYLEGAN2_ADA_CIFAR10,
    "stylegan2_ffhq256": STYLEGAN2_FFHQ256,
}


@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_recipe_matches_its_reference_table(experiment: str) -> None:
    cfg = compose_config(overrides=[f"experiment={experiment}"])
    for key, expected in TABLES[experiment].items():
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        assert value == expected, f"{experiment}: {key} is {value!r}, the reference {expected!r}"


# cfg_specs['auto'] populated by train.py for gpus=1, worked out by hand from its formulas:
# mb = max(min(min(4096 // res, 32), 64), 1), mbstd = min(mb, 4), fmaps 1 from 512 px else
# 0.5, lrate 0.002 from 1024 px else 0.0025, gamma = 0.0002 * res^2 / mb, ema = mb * 10 / 32.
#  res: (mb, mbstd, fmaps, lrate, gamma, ema)
AUTO_1GPU = {
    32: (32, 4, 0.5, 0.0025, 0.0064, 10.0),
    64: (32, 4, 0.5, 0.0025, 0.0256, 10.0),
    128: (32, 4, 0.5, 0.0025, 0.1024, 10.0),
    256: (16, 4, 0.5, 0.0025, 0.8192, 5.0),
    512: (8, 4, 1, 0.0025, 6.5536, 2.5),
    1024: (4, 4, 1, 0.002, 52.4288, 1.25),
}


@pytest.mark.parametrize("resolution", sorted(AUTO_1GPU))
def test_stylegan2_ada_auto_formulas(resolution: int) -> None:
    from gantrain.recipes import stylegan2_ada_auto

    mb, mbstd, fmaps, lrate, gamma, ema = AUTO_1GPU[resolution]
    assert stylegan2_ada_auto(resolution) == {
        "batch_size": mb,
        "mbstd_group_size": mbstd,
        "fmaps": fmaps,
        "channel_base": int(fmaps * 32768),
        "lr": lrate,
        "gamma": pytest.approx(gamma, rel=1e-12),
        "ema_kimg": ema,
    }


def test_stylegan2_ada_auto_with_more_gpus() -> None:
    """The formulas' gpus term (the recipe uses 1): 8 GPUs at 256 px give mb 8 * 16 = 128
    capped to 64, mbstd min(64 // 8, 4) = 4, gamma 0.0002 * 65536 / 64, ema 20 kimg."""
    from gantrain.recipes import stylegan2_ada_auto

    auto = stylegan2_ada_auto(256, gpus=8)
    assert (auto["batch_size"], auto["mbstd_group_size"], auto["ema_kimg"]) == (64, 4, 20.0)
    assert auto["gamma"] == pytest.approx(0.2048)
    assert stylegan2_ada_auto(4096, gpus=2)["batch_size"] == 2  # at least one image per GPU


# experiment=stylegan2_ada: cfg 'auto' with the defaults of train.py (unconditional, no
# --mirror, --aug=ada), kimg 25000, ramp 0.05, map 2, path length and style mixing on.
STYLEGAN2_ADA_AUTO = {
    **_STYLEGAN2_ADA,
    **_PATH_LENGTH,
    "dataset.name": "image_folder",
    "dataset.xflip": False,
    "generator.conditioning": "none",
    "discriminator.conditioning": "none",
    "generator.mapping_layers": 2,  # spec.map
    "discriminator.architecture": "resnet",
    "trainer.max_kimg": 25_000,  # spec.kimg
    "trainer.ema_rampup": 0.05,  # spec.ramp
}


@pytest.mark.parametrize("resolution", sorted(AUTO_1GPU))
def test_stylegan2_ada_recipe_at_each_resolution(resolution: int) -> None:
    mb, mbstd, fmaps, lrate, gamma, ema = AUTO_1GPU[resolution]
    overrides = ["experiment=stylegan2_ada", "dataset.path=DIR", f"dataset.resolution={resolution}"]
    cfg = compose_config(overrides=overrides)
    table = {
        **STYLEGAN2_ADA_AUTO,
        "dataset.resolution": resolution,
        "trainer.batch_size": mb,
        "discriminator.mbstd_group_size": mbstd,
        "generator.channel_base": int(fmaps * 32768),
        "discriminator.channel_base": int(fmaps * 32768),
        "optimizer.generator.lr": lrate,
        "optimizer.discriminator.lr": lrate,
        "regularizer.r1.gamma": pytest.approx(gamma, rel=1e-12),
        "trainer.ema_kimg": ema,
    }
    for key, expected in table.items():
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        assert value == expected, f"{resolution}px: {key} is {value!r}, the reference {expected!r}"


def test_stylegan2_ada_recipe_needs_the_resolution() -> None:
    """Without dataset.resolution the recipe fails at validation in one line naming it."""
    from gantrain.config import load_run_config
    from gantrain.errors import ConfigError

    cfg = compose_config(overrides=["experiment=stylegan2_ada", "dataset.path=DIR"])
    with pytest.raises(ConfigError) as error:
        load_run_config(cfg)
    message = str(error.value)
    assert message.startswith("trainer.batch_size: ") and "\n" not in message
    assert "give dataset.resolution=" in message
    cfg = compose_config(
        overrides=["experiment=stylegan2_ada", "dataset.path=DIR", "dataset.resolution=0"]
    )
    with pytest.raises(ConfigError, match="dataset.resolution=0, which must be a positive"):
        load_run_config(cfg)
