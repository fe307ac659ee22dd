"""`python -m gantrain eval run_dir=DIR [checkpoint=P] | images=FILE.npz [eval=[fid,kid,is,pr]]`.

Scores a run's generator or a saved sample set with the chosen evaluators and prints one JSON
object (metric names as keys, plus `protocol`) as the last line of stdout.

`truncation_psi`/`truncation_cutoff` (run_dir mode) truncate the sampling copy of a StyleGAN2
generator in w; the truncation goes into `protocol.truncation`, and a truncated score is
named `custom`, since no reference protocol (fid50k_full, ...) truncates.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")


def truncated_protocol(protocol: dict[str, Any], truncation: dict[str, Any]) -> dict[str, Any]:
    """`protocol` with `truncation` ({"psi", "cutoff"}) recorded; a truncated one is renamed
    `custom`: the same counts without truncation are another metric (StyleGAN2's paper quotes
    FID at psi 1, its truncated numbers separately)."""
    from gantrain.eval.settings import CUSTOM

    protocol = {**protocol, "truncation": truncation}
    if truncation["psi"] != 1.0:
        protocol["name"] = CUSTOM
    return protocol


def score_run(cfg: DictConfig, settings) -> dict[str, Any]:
    """Metrics + protocol of a run's checkpoint; appends to <run_dir>/metric-<name>.jsonl."""
    from gantrain.checkpointing import checkpoint_step
    from gantrain.config import load_run_config
    from gantrain.eval.runner import (
        Evaluation,
        append_metric_files,
        flat_record,
        generated_batches,
    )
    from gantrain.tasks.sample import load_sampler, trained_config, truncation_setting

    run_dir = Path(cfg.run_dir)
    sampler, spec, prefix = load_sampler(
        str(run_dir), cfg.checkpoint, truncation=truncation_setting(cfg)
    )
    run = load_run_config(trained_config(run_dir, prefix))
    evaluation = Evaluation(
        settings, run.dataset, num_classes=spec.num_classes, conditional=bool(sampler.num_classes)
    )
    step = checkpoint_step(prefix)
    log.info("scoring %s (step %d) with %s", prefix, step, ", ".join(settings.evaluators))
    batches = generated_batches(
        sampler,
        num_samples=settings.num_samples,
        batch_size=settings.batch_size,
        seed=settings.seed,
    )
    results, protocol = evaluation.score(batches)
    protocol = {"checkpoint": prefix, "step": step, **protocol}
    protocol = truncated_protocol(protocol, sampler.truncation_used())
    append_metric_files(run_dir, step, results, protocol)
    return flat_record(results, protocol)


def score_images(cfg: DictConfig, settings) -> dict[str, Any]:
    """Metrics + protocol of the images in an .npz, against `dataset`'s real images."""
    from gantrain.config import structured_from_target
    from gantrain.data.base import DatasetSource
    from gantrain.eval.runner import Evaluation, flat_record, image_batches, load_images
    from gantrain.eval.settings import check_evaluator_counts

    images, labels = load_images(cfg.images)
    for warning in check_evaluator_counts(settings, num_generated=len(images)):
        log.warning("%s", warning)
    source = structured_from_target(cfg.dataset, "dataset", DatasetSource)
    spec = source.spec()
    evaluation = Evaluation(
        settings, source, num_classes=spec.num_classes, conditional=labels is not None
    )
    log.info(
        "scoring %d images from %s with %s", len(images), cfg.images, ", ".join(settings.evaluators)
    )
    results, protocol = evaluation.score(image_batches(images, labels, settings.batch_size))
    protocol = {"images": str(cfg.images), **protocol}
    truncation = recorded_truncation(Path(cfg.images))
    if truncation is not None:
        protocol = truncated_protocol(protocol, truncation)
    return flat_record(results, protocol)


def recorded_truncation(path: Path) -> dict[str, Any] | None:
    """The truncation `gantrain sample` recorded in an .npz (`truncation_psi`, optional
    `truncation_cutoff`), or None for a file without it (not written by sample, or older)."""
    from gantrain.data.npz import read_npz_arrays
    from gantrain.eval.runner import IMAGES_LAYOUT

    arrays = read_npz_arrays(
        path.expanduser(),
        (),
        optional=("truncation_psi", "truncation_cutoff"),
        layout=IMAGES_LAYOUT,
        setting="images",
    )
    if "truncation_psi" not in arrays:
        return None
    cutoff = arrays.get("truncation_cutoff")
    return {
        "psi": float(arrays["truncation_psi"]),
        "cutoff": None if cutoff is None else int(cutoff),
    }


@hydra.main(config_path=CONFIG_PATH, config_name="evaluate", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.eval.settings import check_evaluator_counts, load_eval_settings

    if bool(cfg.run_dir) == bool(cfg.images):
        raise ConfigError(
            "give run_dir=DIR (score a training run's generator) or images=FILE.npz (score "
            "saved samples), one of the two."
        )
    if cfg.checkpoint and not cfg.run_dir:
        raise ConfigError("checkpoint= picks a checkpoint of run_dir=; give run_dir too.")
    if cfg.images and (cfg.truncation_psi != 1 or cfg.truncation_cutoff is not None):
        key = "truncation_psi" if cfg.truncation_psi != 1 else "truncation_cutoff"
        raise ConfigError(
            f"{key}={cfg[key]}: truncation applies to a run_dir= generator; images= are drawn "
            "already (draw them truncated: `gantrain sample ... truncation_psi=P output=FILE.npz`)."
        )
    if cfg.run_dir:
        from gantrain.tasks.sample import truncation_setting

        truncation_setting(cfg)  # a bad value fails here, before anything is built
    settings = load_eval_settings(cfg)
    if cfg.run_dir:  # the images= mode checks against the file's count once it is read
        for warning in check_evaluator_counts(settings):
            log.warning("%s", warning)
    record = score_run(cfg, settings) if cfg.run_dir else score_images(cfg, settings)
    emit_result(record, cfg.output)
