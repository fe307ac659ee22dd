"""`python -m gantrain eval export-stats dataset=D output=FILE.npz [eval.extractor=...]`.

Computes the real images' feature statistics with the evaluation settings' extractor and
reference set, and writes `mu`/`sigma` as TTUR and pytorch-fid do, so gantrain's statistics
can be used by those tools and theirs by gantrain (`eval.reference_stats=FILE.npz`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")


@hydra.main(config_path=CONFIG_PATH, config_name="export_stats", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    import dataclasses

    from gantrain.config import structured_from_target
    from gantrain.data.base import DatasetSource
    from gantrain.eval.extractors.registry import build_extractor
    from gantrain.eval.reference import RealData, cache_dir, write_reference_stats
    from gantrain.eval.settings import load_eval_settings

    output = Path(str(cfg.output)).expanduser()
    if output.suffix != ".npz":
        raise ConfigError(f"output={output}: must end in .npz (the TTUR / pytorch-fid layout).")
    if output.is_dir():
        raise ConfigError(f"output={output} is a folder; give a file name ending in .npz.")
    settings = load_eval_settings(cfg)
    if settings.reference_stats:
        raise ConfigError("eval.reference_stats: export-stats computes statistics; drop it.")
    source = structured_from_target(cfg.dataset, "dataset", DatasetSource)
    if settings.real_split:
        source = dataclasses.replace(source, split=settings.real_split)
        source.check()
    channels = int(source.spec().image_shape[-1])
    name = settings.extractor
    if name == "auto":
        name = "domain" if channels == 1 else "inception_fid"
    cache = cache_dir(settings.cache_dir)
    extractor = build_extractor(
        name,
        weights=settings.weights,
        classifier=settings.classifier,
        resize=settings.resize,
        dataset=source.name,
        cache=cache,
    )
    real = RealData(
        source,
        num_real=settings.num_real,
        seed=settings.seed,
        cache=cache,
        batch_size=settings.batch_size,
    )
    stats = real.stats(extractor)
    described = extractor.describe()
    protocol = {
        "name": settings.protocol_name,
        **real.protocol(),
        **{k: described[k] for k in ("extractor", "network", "weights", "resize")},
        "dimension": int(stats.mean.shape[0]),
    }
    write_reference_stats(output, stats, protocol)
    log.info("wrote mu/sigma of %d %s images to %s", protocol["num_real"], source.name, output)
    emit_result({"output": str(output), "protocol": protocol})
