"""`python -m gantrain prepare source=IMAGES output=DIR`: write a prepared dataset.

See gantrain/data/prepare.py for the sources it reads and how it resumes; the result trains
with `dataset=prepared dataset.path=DIR`.
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig, OmegaConf

from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, emit_result, user_errors

log = logging.getLogger("gantrain")


@hydra.main(config_path=CONFIG_PATH, config_name="prepare", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.data.prepare import PrepareOptions, prepare

    settings = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(settings, dict)
    progress_bar = bool(settings.pop("progress_bar", True))
    manifest = prepare(PrepareOptions(**settings), progress_bar=progress_bar)
    emit_result(
        {
            "output": str(cfg.output),
            "count": manifest["count"],
            "shape": manifest["shape"],
            "num_classes": manifest["num_classes"],
            "skipped_unreadable": manifest["source"]["skipped_unreadable"],
            "shards": len(manifest["shards"]),
        }
    )
