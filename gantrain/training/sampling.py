"""Drawing images from a trained generator, as good as the training-mode generator.

A generator trained with batch norm draws its training-time images with *batch* statistics.
Its moving averages lag behind fast-changing GAN weights, so inference-mode samples come out
faint and low-contrast. The `Sampler` keeps its own copy of the generator, copies the weights
into it, and recomputes every batch-norm layer's statistics from fresh latents in training
mode ("standing statistics", Brock et al. 2019, BigGAN) before drawing in inference mode.

`Sampler.set_truncation(psi, cutoff)` truncates the copy's intermediate latents (StyleGAN2's
truncation trick) for `sample` and `eval`: only the private copy changes, so the training
generator and its EMA twin (and the training grids, which never call it) stay untruncated.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

_CHUNK = 256


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    found: list[keras.layers.BatchNormalization] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batch_norm_layers(layer))
    return found


def truncation_mapping(model: keras.Model) -> keras.layers.Layer | None:
    """The layer whose `set_truncation(psi, cutoff)` truncates `model`'s training=False calls
    (StyleGAN2's mapping network, which tracks w_avg), or None for generators without one.

    Looked up by layer name, not the builder's `model.mapping` attribute, which a generator
    loaded from a .keras file no longer has.
    """
    try:
        layer = model.get_layer("mapping")
    except ValueError:
        return None
    if not getattr(layer, "tracks_w_avg", False) or not hasattr(layer, "set_truncation"):
        return None
    return layer


class Sampler:
    """Images from `source`'s current weights, drawn through the copy `model`.

    `model` must be built by the same builder as `source` (same variables, same order) and
    outside any distribution strategy. `standing_stats` latents (0: keep moving averages)
    are drawn with seed `seed` at each `refresh()`.
    """

    def __init__(
        self, source: keras.Model, model: keras.Model, *, standing_stats: int, seed: int
    ) -> None:
        if len(source.weights) != len(model.weights):
            raise ValueError("the sampling copy must have the same variables as the generator")
        self.source = source
        self.model = model
        self.standing_stats = standing_stats
        self.seed = seed
        self.latent_dim = int(source.latent_dim)
        self.num_classes = int(getattr(source, "num_classes", 0))
        self._bn = batch_norm_layers(model)
        self._predict = tf.function(
            lambda inputs: model(inputs, training=False), reduce_retracing=True
        )
        self._refresh: tf.types.experimental.GenericFunction | None = None
        # (psi, cutoff) set by set_truncation; None: the copy keeps the source's values.
        self._truncation: tuple[float, int | None] | None = None

    def set_truncation(self, psi: float = 1.0, cutoff: int | None = None) -> None:
        """Truncate the sampling copy's ws from now on: ws[:, :cutoff] = w_avg + psi (ws - w_avg)
        (psi 1 = off, cutoff None = every w), kept across `refresh()`, which copies the source's
        truncation variables along with its weights and is therefore followed by a re-apply.

        The source model is never touched. Raises ValueError for a generator without a
        w_avg-tracking mapping network (see `truncation_mapping`).
        """
        mapping = truncation_mapping(self.model)
        if mapping is None:
            raise ValueError("this generator has no mapping network to truncate")
        self._truncation = (float(psi), None if cutoff is None else int(cutoff))
        self._apply_truncation()

    def _apply_truncation(self) -> None:
        if self._truncation is None:
            return
        psi, cutoff = self._truncation
        mapping = truncation_mapping(self.model)
        num_ws = int(mapping.num_ws)
        # The reference slices ws[:, :cutoff] (networks.py MappingNetwork.forward): a cutoff
        # past the last w truncates them all, where set_truncation would reject it.
        mapping.set_truncation(psi, None if cutoff is None else min(cutoff, num_ws))

    def truncation_used(self) -> dict[str, float | int | None]:
        """The truncation the copy draws with, read from its variables: {"psi", "cutoff"}
        (cutoff None = every w; psi 1.0 and cutoff None for generators that cannot truncate)."""
        mapping = truncation_mapping(self.model)
        if mapping is None:
            return {"psi": 1.0, "cutoff": None}
        psi = float(mapping.truncation_psi.numpy())
        cutoff = int(mapping.truncation_cutoff.numpy())
        if psi == 1.0 or cutoff >= int(mapping.num_ws):
            cutoff = None  # psi 1 truncates nothing; a cutoff at num_ws is every w
        return {"psi": psi, "cutoff": cutoff}

    def _inputs(self, z: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor | list[tf.Tensor]:
        """Generator inputs: `z`, or `[z, labels]` for a class-conditional generator."""
        if not self.num_classes:
            return z
        if labels is None:
            raise ValueError("this generator is class-conditional: give a label per latent")
        return [z, labels]

    def refresh(self) -> None:
        """Copy the source's weights, then recompute batch-norm statistics.

        One compiled call (traced at the first refresh): the weight copy and the standing
        statistics' chunks run as one graph instead of hundreds of eager ops (measured: the
        eager form cost 1.2 to 2.8 s per sample grid of the default MNIST recipe, several
        percent of its training time at batch 32).
        """
        if self._refresh is None:
            self._refresh = tf.function(self._copy_and_restat)
        self._refresh()
        self._apply_truncation()  # the copy took the source's truncation variables too

    def _copy_and_restat(self) -> None:
        for target, value in zip(self.model.weights, self.source.weights, strict=True):
            target.assign(value)
        if not self._bn or self.standing_stats <= 0:
            return
        seed = tf.constant([self.seed, -2], tf.int64)
        z = tf.random.stateless_normal([self.standing_stats, self.latent_dim], seed=seed)
        labels = None
        if self.num_classes:
            labels = tf.random.stateless_uniform(
                [self.standing_stats], seed=seed + 1, maxval=self.num_classes, dtype=tf.int32
            )
        momenta = [layer.momentum for layer in self._bn]
        try:
            # Running mean over chunks: after chunk i, stats = mean of the chunks' statistics.
            # The momenta are read while tracing, so the graph keeps each chunk's own.
            for i, start in enumerate(range(0, self.standing_stats, _CHUNK)):
                for layer in self._bn:
                    layer.momentum = i / (i + 1)
                chunk = slice(start, start + _CHUNK)
                self.model(
                    self._inputs(z[chunk], None if labels is None else labels[chunk]),
                    training=True,
                )
        finally:
            for layer, momentum in zip(self._bn, momenta, strict=True):
                layer.momentum = momentum

    def generate(
        self,
        z: np.ndarray | tf.Tensor,
        labels: np.ndarray | tf.Tensor | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Images float32 (N, H, W, C) in [-1, 1] for latents (N, latent_dim).

        `labels` (N,) int: the class of each image, required by class-conditional generators.
        """
        z = tf.convert_to_tensor(z, tf.float32)
        if labels is not None:
            labels = tf.convert_to_tensor(labels, tf.int32)
        chunks = []
        for start in range(0, int(z.shape[0]), batch_size):
            part = slice(start, start + batch_size)
            inputs = self._inputs(z[part], None if labels is None else labels[part])
            chunks.append(self._predict(inputs).numpy())
        # Generators without an output tanh (model.unbounded_output: R3GAN, StyleGAN2) are
        # clipped here, where their output becomes images; a no-op for the others.
        return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)
