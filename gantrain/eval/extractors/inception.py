"""InceptionV3 (keras.applications, ImageNet weights): the standard FID/IS feature extractor.

Features are the 2048-d global average pool; probabilities are the 1000-way ImageNet softmax.
Images are resized to 299x299 with `tf.image.resize(method="bicubic", antialias=True)`:
TF2's resize does not antialias by default, which aliases downscaled images and shifts FID
(clean-fid's finding); antialiasing matters when images are larger than 299 and is a no-op
when upscaling (MNIST, CIFAR-10). Grayscale images are repeated to three channels.

Numbers are not interchangeable with papers' FIDs: those use the TF1 `pool_3` graph of the
2015 Inception network, Keras ships the 2016 InceptionV3 weights. Compare gantrain FIDs with
gantrain FIDs of the same protocol.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gantrain.eval.base import Features
from gantrain.eval.extractors.base import FeatureExtractor, batched
from gantrain.eval.extractors.keras_apps import load_application

SIZE = 299
KERAS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
RESIZE = f"tf.image.resize bicubic antialias=True to {SIZE}x{SIZE}, gray->RGB, clip [-1, 1]"


def prepare(images: tf.Tensor) -> tf.Tensor:
    """float32 (N, H, W, 1|3) in [-1, 1] -> (N, 299, 299, 3) in [-1, 1] (InceptionV3's range)."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    resized = tf.image.resize(images, (SIZE, SIZE), method="bicubic", antialias=True)
    # Bicubic overshoots at edges; the network was trained on [-1, 1].
    return tf.clip_by_value(resized, -1.0, 1.0)


class InceptionV3Extractor(FeatureExtractor):
    """2048-d pool features and 1000 ImageNet class probabilities of InceptionV3.

    `weights`: a local weights file (`eval.weights`), or None for Keras's ImageNet weights.
    """

    name = "inception"
    num_classes = 1000

    def __init__(self, *, weights: str | None = None, batch_size: int = 50) -> None:
        network, self.weights = load_application(
            lambda **kw: keras.applications.InceptionV3(include_top=True, **kw),
            weights,
            network="InceptionV3",
            keras_file=KERAS_FILE,
            setting="eval.weights",
        )
        pool = network.get_layer("avg_pool").output
        probs = network.get_layer("predictions").output
        self.model = keras.Model(network.inputs, [pool, probs], name="inception_features")
        self.batch_size = batch_size
        self._predict = tf.function(
            lambda x: self.model(prepare(x), training=False), reduce_retracing=True
        )

    def __call__(self, images: np.ndarray) -> Features:
        pools, probs = [], []
        for chunk in batched(images, self.batch_size):
            pool, prob = self._predict(tf.convert_to_tensor(chunk, tf.float32))
            pools.append(pool.numpy())
            probs.append(prob.numpy())
        return Features(np.concatenate(pools), np.concatenate(probs))

    def describe(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "network": "keras.applications.InceptionV3 avg_pool (2048) + predictions (1000)",
            "weights": self.weights,
            "resize": RESIZE,
        }
