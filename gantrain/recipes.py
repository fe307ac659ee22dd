"""Recipe values computed from the composed config: StyleGAN2-ADA's `auto` config.

NVlabs/stylegan2-ada-pytorch `train.py` (`setup_training_loop_kwargs`, `cfg_specs['auto']`
and the lines that populate it) picks the batch, the minibatch-std group, the channel base,
the learning rate, R1's gamma and the EMA half-life from the training set's resolution and
the GPU count:

    mb    = max(min(gpus * min(4096 // res, 32), 64), gpus)
    mbstd = min(mb // gpus, 4)
    fmaps = 1 if res >= 512 else 0.5          channel_base = int(fmaps * 32768)
    lrate = 0.002 if res >= 1024 else 0.0025
    gamma = 0.0002 * res ** 2 / mb
    ema   = mb * 10 / 32                      (kimg; ramp-up 0.05, 2 mapping layers, fixed)

`experiment=stylegan2_ada` reads these with `${gantrain.stylegan2_ada_auto:<field>}`; the
resolver takes the resolution from the config's `dataset.resolution` (the side every image
is resized to), so `dataset.resolution=256` on the command line changes all of them at once,
and any single value can still be overridden (`trainer.batch_size=64`), as the reference's
`--batch`/`--gamma` override its spec (the other values keep following the resolution, as
there). gpus is 1 (the reference's `--gpus` default): gantrain's `trainer.batch_size` is the
global batch whatever the strategy, so a run on N replicas keeps these values.

The resolver is registered on import; gantrain/config.py and the `gantrain.configs` package
import this module, so every command that composes or validates a config has it.
"""

from __future__ import annotations

import numbers

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

# The reference's --gpus default; the formulas' `gpus` (see the module docstring).
AUTO_GPUS = 1

RESOLVER = "gantrain.stylegan2_ada_auto"


def stylegan2_ada_auto(resolution: int, gpus: int = AUTO_GPUS) -> dict[str, int | float]:
    """StyleGAN2-ADA's `auto` spec at `resolution` on `gpus` GPUs, named by gantrain's keys:
    batch_size (mb), mbstd_group_size (mbstd), fmaps, channel_base (int(fmaps * 32768)),
    lr (lrate), gamma (R1 gamma) and ema_kimg (ema)."""
    if isinstance(resolution, bool) or not isinstance(resolution, numbers.Integral):
        raise ValueError("must be a whole number of pixels")
    if resolution < 1:
        raise ValueError("must be a positive number of pixels")
    if gpus < 1:
        raise ValueError(f"gpus={gpus}: must be positive")
    res = int(resolution)
    batch = max(min(gpus * min(4096 // res, 32), 64), gpus)
    fmaps = 1 if res >= 512 else 0.5
    return {
        "batch_size": batch,
        "mbstd_group_size": min(batch // gpus, 4),
        "fmaps": fmaps,
        "channel_base": int(fmaps * 32768),
        "lr": 0.002 if res >= 1024 else 0.0025,
        "gamma": 0.0002 * (res**2) / batch,
        "ema_kimg": batch * 10 / 32,
    }


def _resolve(field: str, *, _root_: DictConfig) -> int | float:
    """`${gantrain.stylegan2_ada_auto:<field>}`: `field` of the auto spec at the config's
    dataset.resolution. Errors are InterpolationResolutionErrors, which gantrain's config
    validation reports in one line naming the key being resolved."""
    fields = sorted(stylegan2_ada_auto(32))
    if field not in fields:
        raise InterpolationResolutionError(
            f"{RESOLVER}:{field}: unknown field; choose one of {', '.join(fields)}."
        )
    dataset = _root_.get("dataset")
    if not isinstance(dataset, DictConfig) or "resolution" not in dataset:
        raise InterpolationResolutionError(
            "StyleGAN2-ADA's auto config derives it from dataset.resolution, and this "
            "dataset has no such key; use dataset=image_folder (or set the value directly)."
        )
    # A recipe cannot require it with `???` (merging `???` keeps image_folder's default): it
    # sets null, and an unset value is null or `???`.
    if OmegaConf.is_missing(dataset, "resolution") or dataset.resolution is None:
        raise InterpolationResolutionError(
            "StyleGAN2-ADA's auto config derives it from dataset.resolution, which is not set; "
            "give dataset.resolution=<side of the training images, a power of two such as 256>."
        )
    resolution = dataset.resolution
    try:
        return stylegan2_ada_auto(resolution)[field]
    except ValueError as error:
        raise InterpolationResolutionError(
            f"StyleGAN2-ADA's auto config derives it from dataset.resolution={resolution!r}, "
            f"which {error}."
        ) from error


OmegaConf.register_new_resolver(RESOLVER, _resolve, replace=True)
