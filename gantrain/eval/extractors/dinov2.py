"""DINOv2 (Oquab et al. 2023) through keras-hub: the features of FD-DINOv2.

Stein et al. (NeurIPS 2023, "Exposing flaws of generative model evaluation metrics") found
that the Fréchet distance of DINOv2 ViT-L/14 features ranks generative models closer to human
judgement than Inception's. Preprocessing as their dgm-eval: the uint8 image resized to the
network's input (224x224) with PIL bicubic, scaled to [0, 1], normalized by the ImageNet mean
and std; the feature is the CLS token after the final layer norm (1024-d for ViT-L/14).

FD-DINOv2 numbers are a different metric from FID: never put one next to the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image

from gantrain.errors import ConfigError
from gantrain.eval.base import Features
from gantrain.eval.extractors.base import FeatureExtractor, batched

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_backbone(preset: str, weights: str | None, image_size: int):
    """keras-hub's DINOV2Backbone from `weights` (a local preset folder) or `preset` (a
    keras-hub preset name, downloaded on first use into keras-hub's cache), built for
    `image_size` square inputs (its position embeddings are interpolated to that grid)."""
    try:
        from keras_hub.models import DINOV2Backbone
    except ImportError as error:
        raise ConfigError(
            "eval.extractor=dinov2 needs keras-hub (`pip install keras-hub`)."
        ) from error
    source = preset
    if weights:
        path = Path(weights).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"eval.weights={weights}: not a folder; give a keras-hub preset folder of "
                f"DINOv2 (as `DINOV2Backbone.from_preset('{preset}').save_to_preset(DIR)` writes)."
            )
        source = str(path)
    try:
        shape = (image_size, image_size, 3)
        return DINOV2Backbone.from_preset(source, image_shape=shape), source
    except Exception as error:  # keras-hub raises assorted errors for download/format problems
        first = (str(error).splitlines() or [""])[0][:200]
        raise ConfigError(
            f"DINOv2 preset {source!r} is not available ({type(error).__name__}: {first}); "
            "offline, save the preset to a folder on a machine with access and pass "
            "eval.weights=DIR."
        ) from error


def dgm_eval_prepare(pixels: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, size, size, 3), resized and ImageNet-normalized."""
    out = np.empty((len(pixels), size, size, 3), np.float32)
    for n, image in enumerate(pixels):
        resized = Image.fromarray(image).resize((size, size), resample=Image.Resampling.BICUBIC)
        out[n] = np.asarray(resized, np.float32) / 255.0
    return (out - IMAGENET_MEAN) / IMAGENET_STD


class DINOv2Extractor(FeatureExtractor):
    """CLS-token features of a keras-hub `DINOV2Backbone`; no class probabilities.

    `preset`: a keras-hub preset (`dinov2_large` = ViT-L/14, Stein et al.'s choice);
    `weights`: a local preset folder instead (eval.weights). `image_size`: the input side
    (224, dgm-eval's). `backbone`: an already built backbone (tests pass a tiny random one;
    `preset`, `weights` and `image_size` are then its own).
    """

    name = "dinov2"
    num_classes = 0

    def __init__(
        self,
        *,
        preset: str = "dinov2_large",
        weights: str | None = None,
        image_size: int = 224,
        batch_size: int = 16,
        backbone: Any = None,
    ) -> None:
        if backbone is None:
            backbone, source = load_backbone(preset, weights, image_size)
            self.weights = f"keras-hub preset {source}"
        else:
            self.weights = f"in-memory {type(backbone).__name__} ({backbone.count_params()} params)"
        self.backbone = backbone
        self.size = int(backbone.image_shape[0])
        self.batch_size = batch_size
        self._predict = tf.function(
            lambda x: self.backbone({"images": x}, training=False)[:, 0], reduce_retracing=True
        )

    def __call__(self, images: np.ndarray) -> Features:
        from gantrain.eval.images import to_uint8_rgb

        pools = []
        for chunk in batched(images, self.batch_size):
            prepared = dgm_eval_prepare(to_uint8_rgb(chunk), self.size)
            pools.append(self._predict(tf.convert_to_tensor(prepared)).numpy())
        return Features(np.concatenate(pools).astype(np.float32), None)

    def describe(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "network": f"keras-hub DINOV2Backbone CLS token ({self.backbone.hidden_dim}-d)",
            "weights": self.weights,
            "resize": f"dgm-eval: uint8, PIL bicubic to {self.size}x{self.size}, ImageNet mean/std",
        }
