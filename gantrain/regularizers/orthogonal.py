"""BigGAN's orthogonal regularization (Brock et al. 2019, eq. 3; ajbrock/BigGAN-PyTorch
`utils.ortho`): beta * ||W^T W * (1 - I)||_F^2 summed over the model's weight matrices, the
off-diagonal form that leaves the filters' norms free.

Every trainable variable with two or more dimensions counts, seen as a matrix with one
column per output unit (a Keras kernel (..., in, out) reshaped to (-1, out); an embedding
table (classes, dim) with one row per class, as PyTorch's layout). BigGAN-PyTorch adds the
gradient 2 * strength * (W W^T * (1 - I)) W directly, which is the gradient of
strength / 2 * ||W W^T * (1 - I)||_F^2: `weight` here is that strength (BigGAN: 1e-4), and
the value is halved to match. Variables whose path contains an `exclude` entry are skipped
(BigGAN-PyTorch blacklists G's shared class embedding).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from gantrain.regularizers.base import Regularizer, RegularizerContext


def off_diagonal_gram_penalty(matrix: tf.Tensor) -> tf.Tensor:
    """||M^T M * (1 - I)||_F^2 of a (rows, columns) matrix: its columns' pairwise overlaps."""
    gram = tf.matmul(matrix, matrix, transpose_a=True)
    off = gram * (1.0 - tf.eye(tf.shape(gram)[0], dtype=gram.dtype))
    return tf.reduce_sum(tf.square(off))


class Orthogonal(Regularizer):
    """`weight`: BigGAN's strength beta (1e-4); `applies_to`: generator (BigGAN) or
    discriminator; `exclude`: substrings of variable paths to leave out."""

    def __init__(
        self,
        *,
        weight: float = 1e-4,
        applies_to: str = "generator",
        exclude: Sequence[str] = ("shared_embedding",),
    ) -> None:
        super().__init__(weight=weight, interval=1, applies_to=applies_to)
        self.exclude = tuple(str(e) for e in exclude)

    def _matrices(self, model) -> list[tf.Tensor]:
        matrices = []
        for variable in model.trainable_variables:
            path = getattr(variable, "path", variable.name)
            if len(variable.shape) < 2 or any(e in path for e in self.exclude):
                continue
            value = tf.cast(variable, tf.float32)
            if "embeddings" in path:  # (classes, dim): one row per class, as PyTorch
                matrices.append(tf.transpose(value))
            else:  # (..., in, out): one column per output unit
                matrices.append(tf.reshape(value, [-1, variable.shape[-1]]))
        return matrices

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        penalties = [off_diagonal_gram_penalty(m) for m in self._matrices(ctx.model)]
        if not penalties:
            return tf.constant(0.0)
        return 0.5 * tf.add_n(penalties)
