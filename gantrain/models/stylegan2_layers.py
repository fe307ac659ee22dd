"""StyleGAN2's layers and ops (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN"), as NVlabs' stylegan2-ada-pytorch `training/networks.py` and
`torch_utils/ops/{bias_act,conv2d_resample,upfirdn2d}.py` define them, channels-last.

- Equalized learning rate: every weight is stored at unit scale (N(0, 1) / lr_multiplier for
  fully connected layers, N(0, 1) for convolutions) and multiplied by
  lr_multiplier / sqrt(fan_in) in every forward pass, never at initialization (under Adam the
  two are not the same). Biases are stored as `bias_init` and multiplied by lr_multiplier.
- `bias_act`: x + b -> activation -> x gain (leaky ReLU 0.2 has gain sqrt(2)) -> clamp to
  +-clamp; convolutions pass `conv_clamp * gain`, the reference's.
- `conv2d_resample`: convolution with optional x2 FIR up/downsampling, padding taken once,
  the same fast paths as the reference (transposed convolution for up, strided for down), on
  gantrain/models/resample.py's plain-TF upfirdn2d.
- `modulated_conv2d`: the reference's non-fused form (scale the input channels by the styles,
  one shared convolution, scale the output channels by the demodulation coefficients). It is
  the same function as the fused per-sample convolution (tested against it) and needs no
  grouped-convolution gradients, which TensorFlow lacks on CPU (DESIGN.md section 5).
- `MappingNetwork`: z normalized by its second moment [+ normalized embedding of the label]
  -> `num_layers` fully connected leaky-ReLU layers (lr multiplier 0.01) -> w, broadcast to
  `num_ws` copies; tracks w_avg during training; truncation and style mixing (see its
  docstring). `LabelMapping` is the discriminator's label-only mapping (z_dim 0).

Mixed precision: layers compute in their dtype policy's compute dtype (the builders pick
float16 for the highest `num_fp16_res` resolutions when the global policy is mixed, as the
reference's `use_fp16` blocks) with variables, styles and demodulation coefficients in
float32; they cast explicitly (`autocast` is off) so a float32 quantity is never rounded to
float16 before the reference rounds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import initializers, layers, saving

from gantrain.errors import ConfigError
from gantrain.models.resample import lowpass_filter, upfirdn2d

LRELU_SLOPE = 0.2
# The reference's `activation_funcs[...].def_gain`.
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2.0)}
DEFAULT_FILTER = (1, 3, 3, 1)


def check_activation(activation: str) -> None:
    if activation not in ACTIVATION_GAINS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATION_GAINS)}, got {activation!r}"
        )


def resample_kernel(taps: Sequence[float]) -> np.ndarray:
    """The reference's `upfirdn2d.setup_filter(taps)`: outer product normalized to sum 1."""
    return lowpass_filter(taps, inplace=True)


def bias_act(
    x: tf.Tensor,
    bias: tf.Tensor | None = None,
    *,
    activation: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> tf.Tensor:
    """x + bias (last axis) -> activation -> times `gain` (None: the activation's own gain,
    sqrt(2) for lrelu) -> clamped to [-clamp, clamp] (None: no clamp), in x's dtype."""
    if bias is not None:
        x = x + tf.cast(bias, x.dtype)
    if activation == "lrelu":
        x = tf.nn.leaky_relu(x, alpha=LRELU_SLOPE)
    gain = ACTIVATION_GAINS[activation] if gain is None else gain
    if gain != 1:
        x = x * tf.cast(gain, x.dtype)
    if clamp is not None and clamp >= 0:
        x = tf.clip_by_value(x, tf.cast(-clamp, x.dtype), tf.cast(clamp, x.dtype))
    return x


def normalize_2nd_moment(x: tf.Tensor, eps: float = 1e-8) -> tf.Tensor:
    """x (B, F) divided by the root mean square of its features."""
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + eps)


def global_batch_normal(
    seed_generator: keras.random.SeedGenerator, batch: tf.Tensor | int, tail: Sequence[int]
) -> tf.Tensor:
    """Standard normal (batch, *tail) float32: this replica's rows of one draw for the
    global batch.

    A SeedGenerator's state is mirrored, so every replica draws the same numbers; drawing
    for batch * replicas and keeping rows [replica * batch, (replica + 1) * batch) gives each
    example what it would get on one device with the global batch (as GlobalBatchDropout).
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        return keras.random.normal([batch, *tail], seed=seed_generator)
    values = keras.random.normal([batch * replicas, *tail], seed=seed_generator)
    start = context.replica_id_in_sync_group * batch
    return values[start : start + batch]


def _conv(x: tf.Tensor, w: tf.Tensor, stride: int = 1, padding: int = 0) -> tf.Tensor:
    """Correlation (tf.nn.conv2d) of NHWC x with (k, k, in, out) w, zero padding each side."""
    pad = "VALID" if padding == 0 else [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    return tf.nn.conv2d(x, w, strides=stride, padding=pad)


def conv2d_resample(
    x: tf.Tensor,
    w: tf.Tensor,
    kernel: np.ndarray | None = None,
    *,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    flip_weight: bool = True,
) -> tf.Tensor:
    """2-D convolution of NHWC `x` with `w` (k, k, in, out) and optional up/downsampling by
    the FIR `kernel` (K, K), padding taken once (the reference's `conv2d_resample`).

    flip_weight=True is correlation (tf.nn.conv2d), False true convolution; the reference's
    upsampling layers use False. Upsampling: zero insertion, FIR with gain up^2, convolution;
    downsampling: FIR, convolution, keep every `down`-th sample. Each branch is the
    reference's fast path for its case, the same linear map as that definition (tested).
    """
    k = int(w.shape[0])
    if not flip_weight:
        w = tf.reverse(w, axis=[0, 1])
    size = 1 if kernel is None else int(kernel.shape[0])
    p0 = p1 = padding
    if up > 1:
        p0 += (size + up - 1) // 2
        p1 += (size - up) // 2
    if down > 1:
        p0 += (size - down + 1) // 2
        p1 += (size - down) // 2

    if k == 1 and down > 1 and up == 1:  # 1x1: downsample first, then convolve
        x = upfirdn2d(x, kernel, down=down, padding=(p0, p1, p0, p1))
        return _conv(x, w)
    if k == 1 and up > 1 and down == 1:  # 1x1: convolve first, then upsample
        x = _conv(x, w)
        return upfirdn2d(x, kernel, up=up, padding=(p0, p1, p0, p1), gain=up**2)
    if down > 1 and up == 1:  # filter, then strided convolution
        x = upfirdn2d(x, kernel, padding=(p0, p1, p0, p1))
        return _conv(x, w, stride=down)
    if up > 1:
        # Transposed strided convolution (zero insertion + true convolution with its filter),
        # then the FIR filter over the result. tf.nn.conv2d_transpose is a true convolution,
        # so correlation with w is convolution with w reversed.
        p0 -= k - 1
        p1 -= k - up
        crop = max(min(-p0, -p1), 0)
        filters = tf.transpose(tf.reverse(w, axis=[0, 1]), [0, 1, 3, 2])  # (k, k, out, in)
        shape = tf.shape(x)
        side_h = (shape[1] - 1) * up + k
        side_w = (shape[2] - 1) * up + k
        out_shape = tf.stack([shape[0], side_h, side_w, tf.shape(w)[3]])
        x = tf.nn.conv2d_transpose(x, filters, out_shape, strides=up, padding="VALID")
        if crop:
            x = x[:, crop : side_h - crop, crop : side_w - crop, :]
        x = upfirdn2d(x, kernel, padding=(p0 + crop, p1 + crop, p0 + crop, p1 + crop), gain=up**2)
        if down > 1:
            x = upfirdn2d(x, kernel, down=down)
        return x
    # No resampling: the padding is symmetric (padding on both sides).
    return _conv(x, w, padding=p0)


def modulated_conv2d(
    x: tf.Tensor,
    weight: tf.Tensor,
    styles: tf.Tensor,
    *,
    noise: tf.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    kernel: np.ndarray | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
) -> tf.Tensor:
    """Modulated convolution of NHWC `x` (B, H, W, I) with `weight` (k, k, I, O) float32 and
    per-example `styles` (B, I) float32; noise (B or 1, H', W', 1) is added after
    demodulation. Output (B, H', W', O) in x's dtype.

    Per example b this is the convolution with w_b = weight * styles[b] (over I), each
    output channel divided by ||w_b[..., o]|| (demodulation), computed as the reference's
    fused_modconv=False: x * styles -> shared convolution -> * demodulation coefficients.
    """
    in_channels = int(weight.shape[2])
    k = int(weight.shape[0])
    weight = tf.cast(weight, tf.float32)
    styles = tf.cast(styles, tf.float32)
    if x.dtype == tf.float16 and demodulate:
        # The reference's pre-normalization against float16 overflow; demodulation makes the
        # result independent of both per-channel / per-example scales.
        peak = tf.reduce_max(tf.abs(weight), axis=[0, 1, 2], keepdims=True)
        weight = weight * (1.0 / math.sqrt(in_channels * k * k) / peak)
        styles = styles / tf.reduce_max(tf.abs(styles), axis=1, keepdims=True)
    dcoefs = None
    if demodulate:
        # sum_{i, kh, kw} (weight * s_i)^2 = sum_i s_i^2 * sum_{kh, kw} weight^2: (B, O).
        energy = tf.matmul(tf.square(styles), tf.reduce_sum(tf.square(weight), axis=[0, 1]))
        dcoefs = tf.math.rsqrt(energy + 1e-8)
    x = x * tf.cast(styles, x.dtype)[:, None, None, :]
    x = conv2d_resample(
        x, tf.cast(weight, x.dtype), kernel, up=up, padding=padding, flip_weight=flip_weight
    )
    if dcoefs is not None:
        x = x * tf.cast(dcoefs, x.dtype)[:, None, None, :]
    if noise is not None:
        x = x + tf.cast(noise, x.dtype)
    return x


def track_for_checkpoints(owner: layers.Layer, sublayers: list[layers.Layer]) -> None:
    """Make `sublayers` (held in a Python list) dependencies of `owner` for tf.train.Checkpoint.

    Keras 3 tracks a list of layers for its own `weights`, but TensorFlow's checkpoint graph
    does not see into it: without this a checkpoint of the generator held only the mapping's
    w_avg and truncation values, and a restore silently kept every convolution and dense
    layer at its initialization (tested: a save/restore round trip of G and D).
    """
    for index, layer in enumerate(sublayers):
        owner._track_trackable(layer, name=f"{layer.name}_{index}", overwrite=True)


class _StyleGAN2Layer(layers.Layer):
    """Base: explicit casts instead of Keras autocasting (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("autocast", None)
        super().__init__(autocast=False, **kwargs)


@saving.register_keras_serializable(package="gantrain")
class FullyConnected(_StyleGAN2Layer):
    """The reference's FullyConnectedLayer: x (B, in) -> (B, units) with equalized lr.

    weight (in, units) stored N(0, 1) / lr_multiplier, used times lr_multiplier / sqrt(in);
    bias stored as `bias_init`, used times lr_multiplier; then `bias_act` with the
    activation's own gain (lrelu: sqrt(2)).
    """

    def __init__(
        self,
        units: int,
        *,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        use_bias: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_activation(activation)
        self.units = int(units)
        self.activation = activation
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.use_bias = bool(use_bias)

    def build(self, input_shape: tuple) -> None:
        in_features = int(input_shape[-1])
        self.weight_gain = self.lr_multiplier / math.sqrt(in_features)
        self.weight = self.add_weight(
            name="weight",
            shape=(in_features, self.units),
            initializer=initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=initializers.Constant(self.bias_init)
            )

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        w = tf.cast(self.weight, x.dtype) * tf.cast(self.weight_gain, x.dtype)
        b = None
        if self.bias is not None:
            b = tf.cast(self.bias, x.dtype)
            if self.lr_multiplier != 1:
                b = b * tf.cast(self.lr_multiplier, x.dtype)
        return bias_act(tf.matmul(x, w), b, activation=self.activation)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "lr_multiplier": self.lr_multiplier,
            "bias_init": self.bias_init,
            "use_bias": self.use_bias,
        }


@saving.register_keras_serializable(package="gantrain")
class EqualizedConv2D(_StyleGAN2Layer):
    """The reference's Conv2dLayer: NHWC conv, kernel (k, k, in, out) stored N(0, 1) and used
    times 1 / sqrt(in k^2), bias from 0, optional x2 FIR up/down, then `bias_act` with
    gain (activation gain) * `gain` and clamp `conv_clamp` * `gain`. 'same' padding."""

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        *,
        use_bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = DEFAULT_FILTER,
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_activation(activation)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.use_bias = bool(use_bias)
        self.activation = activation
        self.up = int(up)
        self.down = int(down)
        self.resample_filter = [float(t) for t in resample_filter]
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self._kernel = resample_kernel(self.resample_filter)

    def build(self, input_shape: tuple) -> None:
        in_channels = int(input_shape[-1])
        self.weight_gain = 1.0 / math.sqrt(in_channels * self.kernel_size**2)
        self.weight = self.add_weight(
            name="weight",
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=initializers.RandomNormal(stddev=1.0),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x: tf.Tensor, gain: float = 1.0) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        w = tf.cast(tf.cast(self.weight, tf.float32) * self.weight_gain, x.dtype)
        x = conv2d_resample(
            x,
            w,
            self._kernel,
            up=self.up,
            down=self.down,
            padding=self.kernel_size // 2,
            flip_weight=self.up == 1,  # the reference's choice (it only matters for porting)
        )
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(
            x,
            self.bias,
            activation=self.activation,
            gain=ACTIVATION_GAINS[self.activation] * gain,
            clamp=clamp,
        )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, _ = input_shape

        def side(n: int | None) -> int | None:
            return None if n is None else n * self.up // self.down

        return (batch, side(height), side(width), self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "use_bias": self.use_bias,
            "activation": self.activation,
            "up": self.up,
            "down": self.down,
            "resample_filter": self.resample_filter,
            "conv_clamp": self.conv_clamp,
        }


@saving.register_keras_serializable(package="gantrain")
class MappingNetwork(_StyleGAN2Layer):
    """The reference's MappingNetwork: (z (B, z_dim), labels int32 (B,) or None) -> ws.

    call(z, labels=None, training=None, style_mixing=False) -> ws (B, num_ws, w_dim) float32
    ((B, w_dim) when num_ws is None):
    - x = normalize_2nd_moment(z) [concatenated with normalize_2nd_moment(embed(labels)), the
      embedding a bias-carrying linear layer on the one-hot label, as the reference's `embed`]
      -> `num_layers` FullyConnected lrelu layers with `lr_multiplier` -> w, broadcast.
    - training: w_avg <- beta w_avg + (1 - beta) mean_batch(w). Under a multi-replica strategy
      the variable aggregates by MEAN: the replicas' updates average to the one of the global
      batch (the update is linear in the batch mean and the replicas hold equal batches).
    - training and style_mixing and mixing_prob > 0 (the generator's own training call, the
      reference's StyleGAN2Loss.run_G): one cutoff per batch, uniform in [1, num_ws), used
      with probability mixing_prob (a single draw for the whole batch, as the reference's
      `torch.rand([]) < p`), else num_ws; ws[:, cutoff:] are replaced by the mapping of a
      second, freshly drawn z (same labels) that does not update w_avg. Draws come from this
      layer's SeedGenerator for the global batch.
    - not training: truncation, ws[:, :cutoff] = w_avg + psi (ws - w_avg); psi and cutoff are
      variables (`set_truncation`), so a traced sampler sees changes and copies carry them.
    """

    def __init__(
        self,
        *,
        z_dim: int,
        num_classes: int = 0,
        w_dim: int = 512,
        num_ws: int | None = None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
        mixing_prob: float = 0.0,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["dtype"] = "float32"  # the reference maps in float32 under any precision
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"the mapping network needs at least one layer, got {num_layers}")
        if not 0.0 <= mixing_prob <= 1.0:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob}")
        self.z_dim = int(z_dim)
        self.num_classes = int(num_classes)
        self.w_dim = int(w_dim)
        self.num_ws = None if num_ws is None else int(num_ws)
        self.num_layers = int(num_layers)
        self.embed_features = embed_features
        self.layer_features = layer_features
        self.activation = activation
        self.lr_multiplier = float(lr_multiplier)
        self.w_avg_beta = None if w_avg_beta is None else float(w_avg_beta)
        self.mixing_prob = float(mixing_prob)
        self.seed = seed
        embed = 0 if self.num_classes == 0 else int(embed_features or self.w_dim)
        hidden = int(layer_features or self.w_dim)
        self._features = [self.z_dim + embed] + [hidden] * (self.num_layers - 1) + [self.w_dim]
        self._embed_features = embed
        self.embed = None
        if self.num_classes > 0:
            self.embed = FullyConnected(embed, dtype="float32", name="embed")
        self.fcs = [
            FullyConnected(
                self._features[i + 1],
                activation=activation,
                lr_multiplier=self.lr_multiplier,
                dtype="float32",
                name=f"fc{i}",
            )
            for i in range(self.num_layers)
        ]
        track_for_checkpoints(self, self.fcs)
        self.tracks_w_avg = self.num_ws is not None and self.w_avg_beta is not None
        self.mixes = self.num_ws is not None and self.mixing_prob > 0 and self.num_ws > 1
        if self.mixes:
            self.seed_generator = keras.random.SeedGenerator(seed)
        self._initial_truncation = (float(truncation_psi), truncation_cutoff)
        if not self.tracks_w_avg and (truncation_psi != 1 or truncation_cutoff is not None):
            raise ValueError("truncation needs w_avg (num_ws and w_avg_beta set)")

    def build(self, input_shape: Any = None) -> None:
        if self.embed is not None:
            self.embed.build((None, self.num_classes))
        for i, fc in enumerate(self.fcs):
            fc.build((None, self._features[i]))
        if self.tracks_w_avg:
            self.w_avg = self.add_weight(
                name="w_avg",
                shape=(self.w_dim,),
                initializer="zeros",
                trainable=False,
                aggregation="mean",  # replicas' updates average to the global batch's
            )
            psi, cutoff = self._initial_truncation
            self.truncation_psi = self.add_weight(
                name="truncation_psi",
                shape=(),
                initializer=initializers.Constant(1.0),
                trainable=False,
            )
            self.truncation_cutoff = self.add_weight(
                name="truncation_cutoff",
                shape=(),
                dtype="int32",
                initializer=initializers.Constant(self.num_ws),
                trainable=False,
            )
            self.set_truncation(psi, cutoff)

    def set_truncation(self, psi: float = 1.0, cutoff: int | None = None) -> None:
        """Truncation for calls with training=False: ws[:, :cutoff] = w_avg + psi (ws - w_avg).

        psi 1 = off (the default); cutoff None = every w. Training calls never truncate.
        """
        if not self.tracks_w_avg:
            raise ValueError("this mapping network tracks no w_avg, so it cannot truncate")
        if cutoff is not None and not 0 <= int(cutoff) <= self.num_ws:
            raise ValueError(
                f"truncation cutoff must be in [0, {self.num_ws}] or None, got {cutoff}"
            )
        if not math.isfinite(float(psi)):
            raise ValueError(f"truncation psi must be finite, got {psi}")
        self.truncation_psi.assign(float(psi))
        self.truncation_cutoff.assign(self.num_ws if cutoff is None else int(cutoff))

    def map(self, z: tf.Tensor | None, labels: tf.Tensor | None) -> tf.Tensor:
        """w (B, w_dim) float32 before broadcast: no w_avg update, mixing or truncation."""
        parts = []
        if self.z_dim > 0:
            if z is None:
                raise ValueError("this mapping network needs a latent z")
            parts.append(normalize_2nd_moment(tf.cast(z, tf.float32)))
        if self.num_classes > 0:
            if labels is None:
                raise ValueError("this mapping network is class-conditional: give labels")
            one_hot = tf.one_hot(tf.cast(labels, tf.int32), self.num_classes, dtype=tf.float32)
            parts.append(normalize_2nd_moment(self.embed(one_hot)))
        x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
        for fc in self.fcs:
            x = fc(x)
        return x

    def _broadcast(self, w: tf.Tensor) -> tf.Tensor:
        if self.num_ws is None:
            return w
        return tf.tile(w[:, None, :], [1, self.num_ws, 1])

    def call(
        self,
        z: tf.Tensor | None,
        labels: tf.Tensor | None = None,
        training: bool | None = None,
        style_mixing: bool = False,
    ) -> tf.Tensor:
        w = self.map(z, labels)
        if training and self.tracks_w_avg:
            mean = tf.reduce_mean(tf.stop_gradient(w), axis=0)
            self.w_avg.assign(mean + (self.w_avg - mean) * self.w_avg_beta)
        ws = self._broadcast(w)
        if training and style_mixing and self.mixes:
            ws = self._mix(ws, z, labels)
        if not training and self.tracks_w_avg:
            ws = self.truncate(ws)
        return ws

    def _mix(self, ws: tf.Tensor, z: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
        cutoff = keras.random.randint((), 1, self.num_ws, seed=self.seed_generator)
        coin = keras.random.uniform((), seed=self.seed_generator)
        cutoff = tf.where(coin < self.mixing_prob, cutoff, self.num_ws)
        z2 = global_batch_normal(self.seed_generator, tf.shape(z)[0], [self.z_dim])
        ws2 = self._broadcast(self.map(z2, labels))
        later = tf.range(self.num_ws) >= cutoff
        return tf.where(later[None, :, None], ws2, ws)

    def truncate(self, ws: tf.Tensor) -> tf.Tensor:
        """ws (B, num_ws, w_dim) with the truncation variables applied (psi 1: unchanged)."""
        psi = tf.cast(self.truncation_psi, ws.dtype)
        w_avg = tf.cast(self.w_avg, ws.dtype)
        apply = (tf.range(self.num_ws) < self.truncation_cutoff) & (psi != 1.0)
        return tf.where(apply[None, :, None], w_avg + psi * (ws - w_avg), ws)

    def compute_output_spec(
        self, z: Any, labels: Any = None, training: Any = None, style_mixing: bool = False
    ) -> keras.KerasTensor:
        batch = (z if z is not None else labels).shape[0]
        shape = (batch, self.w_dim) if self.num_ws is None else (batch, self.num_ws, self.w_dim)
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self) -> dict[str, Any]:
        psi, cutoff = self._initial_truncation
        return {
            **super().get_config(),
            "z_dim": self.z_dim,
            "num_classes": self.num_classes,
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "num_layers": self.num_layers,
            "embed_features": self.embed_features,
            "layer_features": self.layer_features,
            "activation": self.activation,
            "lr_multiplier": self.lr_multiplier,
            "w_avg_beta": self.w_avg_beta,
            "mixing_prob": self.mixing_prob,
            "truncation_psi": psi,
            "truncation_cutoff": cutoff,
            "seed": self.seed,
        }


@saving.register_keras_serializable(package="gantrain")
class LabelMapping(MappingNetwork):
    """The discriminator's conditioning mapping (the reference's MappingNetwork with z_dim 0,
    num_ws None, no w_avg): labels int32 (B,) -> cmap (B, w_dim) float32."""

    def __init__(self, **kwargs: Any) -> None:
        for key in ("z_dim", "num_ws", "w_avg_beta", "mixing_prob"):
            kwargs.pop(key, None)
        super().__init__(z_dim=0, num_ws=None, w_avg_beta=None, mixing_prob=0.0, **kwargs)

    def call(self, labels: tf.Tensor) -> tf.Tensor:  # type: ignore[override]
        return self.map(None, labels)

    def compute_output_spec(self, labels: Any) -> keras.KerasTensor:  # type: ignore[override]
        return keras.KerasTensor((labels.shape[0], self.w_dim), dtype="float32")


def block_dtype(use_low_precision: bool) -> str:
    """The dtype policy of a block: the global mixed policy (float16 compute) for the
    reference's `use_fp16` blocks when the run is mixed precision, else float32."""
    policy = keras.mixed_precision.global_policy()
    if use_low_precision and policy.compute_dtype != policy.variable_dtype:
        return policy.name
    return "float32"


def default_conv_clamp(conv_clamp: float | None, num_fp16_res: int) -> float | None:
    """conv_clamp None -> 256 when num_fp16_res > 0 (the reference's train.py sets both
    together), else no clamp; 0 -> no clamp."""
    if conv_clamp is None:
        return 256.0 if num_fp16_res > 0 else None
    return None if conv_clamp == 0 else float(conv_clamp)


def channels_for(resolution: int, channel_base: int, channel_max: int) -> int:
    """The reference's channels_dict: min(channel_base // resolution, channel_max)."""
    channels = min(int(channel_base) // resolution, int(channel_max))
    if channels < 1:
        raise ConfigError(
            f"channel_base={channel_base} gives no channels at {resolution}x{resolution} "
            "(channels = min(channel_base // resolution, channel_max)); raise channel_base."
        )
    return channels
