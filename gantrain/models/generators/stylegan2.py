"""StyleGAN2 generator (Karras et al. 2020; reference NVlabs/stylegan2-ada-pytorch
`training/networks.py` Generator, SynthesisNetwork, SynthesisBlock, SynthesisLayer,
ToRGBLayer; style mixing from `training/loss.py` StyleGAN2Loss.run_G), channels-last.

z (B, latent_dim) [+ labels int32 (B,)] -> `mapping` (MappingNetwork) -> ws (B, num_ws, w_dim)
-> `synthesis` (SynthesisNetwork) -> images (B, R, R, C) float32, unbounded (no tanh, as the
reference; gantrain clips to [-1, 1] where images become pixels). The synthesis network starts
from a learned 4x4 constant; a block per resolution 4, 8, ..., R: [x2 modulated conv (FIR
[1,3,3,1] up)] -> modulated conv, each with demodulation, per-pixel noise times a learned
strength, bias, lrelu (gain sqrt(2)); ToRGB a modulated 1x1 conv without demodulation.
Architectures: `skip` (reference default: the RGB outputs of all blocks, FIR-upsampled and
summed), `orig` (ToRGB of the last block only), `resnet` (1x1 x2-up skip connection, both
branches times sqrt(0.5)). Channels at resolution r: min(channel_base // r, channel_max).

The interface (what regularizers such as path length use):

    G = build_stylegan2_generator(image_shape=(32, 32, 3), ...)
    G(z, training=...) / G([z, labels], training=...)   # the contract; training=True mixes styles
    ws = G.mapping(z, labels_or_None, training=True)     # (B, G.num_ws, G.w_dim); updates w_avg
    ws = G.mapping(z, labels, training=True, style_mixing=True)  # also mixes, as the full call
    images = G.synthesis(ws, training=True)              # random noise; training=False: const
    G.set_truncation(psi=0.7, cutoff=None)               # used by training=False calls only
    G.num_ws, G.w_dim, G.latent_dim, G.num_classes, G.unbounded_output (True),
    G.style_mixing_prob (the mapping's mixing_prob)

The attributes are set by the builder; on a copy loaded from a .keras file use
`G.get_layer("mapping")` / `G.get_layer("synthesis")` (the truncation variables travel with
the weights). training=True draws noise and mixing latents from the layers' SeedGenerators
for the global batch (each replica keeps its rows), so a step under MirroredStrategy equals
the single-device step; their states are checkpointed with the run (training/state.py).

Departures from the reference, each for a reason:
- training=False uses the layers' constant noise buffers (the reference's noise_mode='const')
  so sample grids and exports are a deterministic function of z. The reference's metrics
  sample with noise_mode='random' by default: a FID computed here with training=False uses the
  const noise, a slightly different sampler.
- Always the non-fused modulated convolution (the reference fuses at inference); the same
  function, and it has gradients on CPU.
- Labels are int class ids; the embedding is the reference's linear layer on their one-hot.
- Mixed precision follows the global Keras policy: only with a mixed policy do the highest
  `num_fp16_res` resolutions compute in float16 (the reference uses float16 whenever asked).
- The constant input is (4, 4, C), weights (k, k, in, out): channels-last layouts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import initializers, saving

from gantrain.errors import ConfigError
from gantrain.models.conditioning import check_conditioning, finish_generator
from gantrain.models.resample import upsample2d
from gantrain.models.stylegan2_layers import (
    ACTIVATION_GAINS,
    DEFAULT_FILTER,
    EqualizedConv2D,
    FullyConnected,
    MappingNetwork,
    _StyleGAN2Layer,
    bias_act,
    block_dtype,
    channels_for,
    check_activation,
    default_conv_clamp,
    global_batch_normal,
    modulated_conv2d,
    resample_kernel,
    track_for_checkpoints,
)

ARCHITECTURES = ("orig", "skip", "resnet")


class _ModulatedLayer(_StyleGAN2Layer):
    """What SynthesisLayer and ToRGB share: the affine layer mapping w to per-input-channel
    styles (bias 1, as the reference's), the unit-normal k x k kernel and the config."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        kernel_size: int,
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.w_dim = int(w_dim)
        self.kernel_size = int(kernel_size)
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(in_channels, bias_init=1.0, dtype="float32", name="affine")

    def _build_affine_and_weight(self) -> None:
        self.affine.build((None, self.w_dim))
        k = self.kernel_size
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, self.in_channels, self.out_channels),
            initializer=initializers.RandomNormal(stddev=1.0),
            dtype="float32",
        )

    def _add_bias(self) -> None:
        self.bias = self.add_weight(
            name="bias", shape=(self.out_channels,), initializer="zeros", dtype="float32"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "w_dim": self.w_dim,
            "kernel_size": self.kernel_size,
            "conv_clamp": self.conv_clamp,
        }


@saving.register_keras_serializable(package="gantrain")
class SynthesisLayer(_ModulatedLayer):
    """Modulated 3x3 conv (optionally x2 up) + noise + bias + lrelu: the reference's
    SynthesisLayer. call(x, w, noise=None, gain=1): `noise` (B, res, res, 1) unit normal
    (random mode), None = the constant buffer (the reference's noise_mode='const')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = DEFAULT_FILTER,
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            w_dim=w_dim,
            kernel_size=kernel_size,
            conv_clamp=conv_clamp,
            **kwargs,
        )
        check_activation(activation)
        self.resolution = int(resolution)
        self.up = int(up)
        self.use_noise = bool(use_noise)
        self.activation = activation
        self.resample_filter = [float(t) for t in resample_filter]
        self._kernel = resample_kernel(self.resample_filter)

    def build(self, input_shape: Any = None) -> None:
        self._build_affine_and_weight()
        if self.use_noise:
            self.noise_const = self.add_weight(
                name="noise_const",
                shape=(self.resolution, self.resolution),
                initializer=initializers.RandomNormal(stddev=1.0),
                trainable=False,
                dtype="float32",
            )
            self.noise_strength = self.add_weight(
                name="noise_strength", shape=(), initializer="zeros", dtype="float32"
            )
        self._add_bias()

    def call(
        self, x: tf.Tensor, w: tf.Tensor, noise: tf.Tensor | None = None, gain: float = 1.0
    ) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        styles = self.affine(w)
        scaled_noise = None
        if self.use_noise:
            source = self.noise_const[None, :, :, None] if noise is None else noise
            scaled_noise = tf.cast(source, tf.float32) * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=scaled_noise,
            up=self.up,
            padding=self.kernel_size // 2,
            kernel=self._kernel,
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

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "up": self.up,
            "use_noise": self.use_noise,
            "activation": self.activation,
            "resample_filter": self.resample_filter,
        }


@saving.register_keras_serializable(package="gantrain")
class ToRGB(_ModulatedLayer):
    """The reference's ToRGBLayer: modulated 1x1 conv (styles times 1 / sqrt(in), no
    demodulation) + bias, clamped to conv_clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            w_dim=w_dim,
            kernel_size=kernel_size,
            conv_clamp=conv_clamp,
            **kwargs,
        )
        self.weight_gain = 1.0 / math.sqrt(self.in_channels * self.kernel_size**2)

    def build(self, input_shape: Any = None) -> None:
        self._build_affine_and_weight()
        self._add_bias()

    def call(self, x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(
            x, self.weight, styles, padding=self.kernel_size // 2, demodulate=False
        )
        return bias_act(x, self.bias, clamp=self.conv_clamp)


@saving.register_keras_serializable(package="gantrain")
class SynthesisBlock(_StyleGAN2Layer):
    """One resolution of the synthesis network (the reference's SynthesisBlock).

    call(x, img, ws, noises=None) -> (x, img): x (B, res/2, res/2, in) or None for the first
    block (which starts from the learned constant), img float32 or None, ws (B, num_conv +
    num_torgb, w_dim), noises a list of num_conv unit-normal maps or None (constant noise).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = DEFAULT_FILTER,
        conv_clamp: float | None = None,
        use_noise: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.w_dim = int(w_dim)
        self.resolution = int(resolution)
        self.img_channels = int(img_channels)
        self.is_last = bool(is_last)
        self.architecture = architecture
        self.resample_filter = [float(t) for t in resample_filter]
        self.conv_clamp = conv_clamp
        self.use_noise = bool(use_noise)
        self._kernel = resample_kernel(self.resample_filter)
        common = dict(
            w_dim=w_dim,
            resolution=resolution,
            resample_filter=self.resample_filter,
            conv_clamp=conv_clamp,
            use_noise=use_noise,
            dtype=self.dtype_policy,
        )
        self.num_conv = 0
        self.num_torgb = 0
        self.conv0 = None
        if self.in_channels:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, name="conv0", **common)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, name="conv1", **common)
        self.num_conv += 1
        self.torgb = None
        if is_last or architecture == "skip":
            self.torgb = ToRGB(
                out_channels,
                img_channels,
                w_dim=w_dim,
                conv_clamp=conv_clamp,
                dtype=self.dtype_policy,
                name="torgb",
            )
            self.num_torgb += 1
        self.skip = None
        if self.in_channels and architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels,
                1,
                use_bias=False,
                up=2,
                resample_filter=self.resample_filter,
                dtype=self.dtype_policy,
                name="skip",
            )

    def build(self, input_shape: Any = None) -> None:
        if not self.in_channels:
            self.const = self.add_weight(
                name="const",
                shape=(self.resolution, self.resolution, self.out_channels),
                initializer=initializers.RandomNormal(stddev=1.0),
                dtype="float32",
            )
        for layer in (self.conv0, self.conv1, self.torgb):
            if layer is not None:
                layer.build(None)
        if self.skip is not None:
            self.skip.build((None, None, None, self.in_channels))

    def call(
        self,
        x: tf.Tensor | None,
        img: tf.Tensor | None,
        ws: tf.Tensor,
        noises: list[tf.Tensor] | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        dtype = self.compute_dtype
        noises = noises if noises is not None else [None] * self.num_conv
        if not self.in_channels:
            x = tf.tile(tf.cast(self.const, dtype)[None], [tf.shape(ws)[0], 1, 1, 1])
        else:
            x = tf.cast(x, dtype)
        if not self.in_channels:
            x = self.conv1(x, ws[:, 0], noises[0])
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noises[0])
            x = self.conv1(x, ws[:, 1], noises[1], gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x, ws[:, 0], noises[0])
            x = self.conv1(x, ws[:, 1], noises[1])
        if img is not None:
            img = upsample2d(img, self._kernel)
        if self.torgb is not None:
            y = tf.cast(self.torgb(x, ws[:, self.num_conv]), tf.float32)
            img = y if img is None else img + y
        return x, img

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "w_dim": self.w_dim,
            "resolution": self.resolution,
            "img_channels": self.img_channels,
            "is_last": self.is_last,
            "architecture": self.architecture,
            "resample_filter": self.resample_filter,
            "conv_clamp": self.conv_clamp,
            "use_noise": self.use_noise,
        }


@saving.register_keras_serializable(package="gantrain")
class SynthesisNetwork(_StyleGAN2Layer):
    """ws (B, num_ws, w_dim) -> images (B, R, R, C) float32 (the reference's SynthesisNetwork).

    call(ws, training=None): training=True adds fresh per-pixel noise (drawn from this layer's
    SeedGenerator for the global batch), otherwise the layers' constant noise. Block b reads
    ws[b's first index : + num_conv + num_torgb], the next block starts num_conv later (a
    block's ToRGB shares its w with the next block's first conv, as the reference).
    """

    def __init__(
        self,
        *,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        architecture: str = "skip",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = DEFAULT_FILTER,
        use_noise: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["dtype"] = "float32"  # its blocks pick their own precision
        super().__init__(**kwargs)
        log2 = round(math.log2(img_resolution))
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.w_dim = int(w_dim)
        self.img_resolution = int(img_resolution)
        self.img_channels = int(img_channels)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.num_fp16_res = int(num_fp16_res)
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.resample_filter = [float(t) for t in resample_filter]
        self.use_noise = bool(use_noise)
        self.seed = seed
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        fp16_resolution = max(2 ** (log2 + 1 - self.num_fp16_res), 8)
        self.blocks = []
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels_for(res // 2, channel_base, channel_max) if res > 4 else 0,
                channels_for(res, channel_base, channel_max),
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=res == self.img_resolution,
                architecture=architecture,
                resample_filter=self.resample_filter,
                conv_clamp=conv_clamp,
                use_noise=use_noise,
                dtype=block_dtype(res >= fp16_resolution),
                name=f"b{res}",
            )
            self.num_ws += block.num_conv
            if block.is_last:
                self.num_ws += block.num_torgb
            self.blocks.append(block)
        track_for_checkpoints(self, self.blocks)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: Any = None) -> None:
        for block in self.blocks:
            block.build(None)

    def call(self, ws: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        ws = tf.cast(ws, tf.float32)
        batch = tf.shape(ws)[0]
        x = img = None
        index = 0
        for block in self.blocks:
            block_ws = ws[:, index : index + block.num_conv + block.num_torgb]
            index += block.num_conv
            noises = None
            if training and self.use_noise:
                # The reference's noise_mode='random': fresh unit noise per layer and call.
                noises = [
                    global_batch_normal(
                        self.seed_generator, batch, [block.resolution, block.resolution, 1]
                    )
                    for _ in range(block.num_conv)
                ]
            x, img = block(x, img, block_ws, noises=noises)
        return img

    def compute_output_spec(self, ws: Any, training: Any = None) -> keras.KerasTensor:
        side = self.img_resolution
        return keras.KerasTensor((ws.shape[0], side, side, self.img_channels), dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "w_dim": self.w_dim,
            "img_resolution": self.img_resolution,
            "img_channels": self.img_channels,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "num_fp16_res": self.num_fp16_res,
            "architecture": self.architecture,
            "conv_clamp": self.conv_clamp,
            "resample_filter": self.resample_filter,
            "use_noise": self.use_noise,
            "seed": self.seed,
        }


def check_image_shape(image_shape: Sequence[int], architecture: str, smallest: int) -> int:
    """The side R of square power-of-two images (R >= smallest); ConfigError otherwise."""
    height, width = int(image_shape[0]), int(image_shape[1])
    if height != width or height < smallest or height & (height - 1):
        raise ConfigError(
            f"{architecture} cannot produce {height}x{width} images: StyleGAN2 needs square "
            f"images whose side is a power of two (at least {smallest}: 32, 64, 128, ...). For "
            "28x28 data such as MNIST, fit it to 32x32 (dataset=tfds dataset.name=mnist "
            "dataset.resolution=32, or dataset=image_folder dataset.resolution=32) or choose "
            "another architecture."
        )
    return height


def build_stylegan2_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 512,
    w_dim: int = 512,
    mapping_layers: int = 8,
    mapping_lr_multiplier: float = 0.01,
    embed_features: int | None = None,
    layer_features: int | None = None,
    w_avg_beta: float = 0.995,
    mixing_prob: float = 0.9,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    architecture: str = "skip",
    channel_base: int = 32768,
    channel_max: int = 512,
    num_fp16_res: int = 0,
    conv_clamp: float | None = None,
    resample_filter: Sequence[float] = DEFAULT_FILTER,
    use_noise: bool = True,
    conditioning: str = "none",
) -> keras.Model:
    """z (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, R, R, C) float32,
    unbounded; see the module docstring for `mapping`, `synthesis` and truncation."""
    check_conditioning(conditioning, ("none", "embedding"), num_classes, "generator")
    side = check_image_shape(image_shape, "generator=stylegan2", 4)
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"generator.architecture={architecture!r}: choose one of {', '.join(ARCHITECTURES)}."
        )
    if not 0.0 <= mixing_prob <= 1.0:
        raise ConfigError(f"generator.mixing_prob={mixing_prob}: must be in [0, 1].")
    classes = int(num_classes) if conditioning == "embedding" else 0
    synthesis = SynthesisNetwork(
        w_dim=w_dim,
        img_resolution=side,
        img_channels=int(image_shape[-1]),
        channel_base=channel_base,
        channel_max=channel_max,
        num_fp16_res=num_fp16_res,
        architecture=architecture,
        conv_clamp=default_conv_clamp(conv_clamp, num_fp16_res),
        resample_filter=resample_filter,
        use_noise=use_noise,
        name="synthesis",
    )
    if truncation_cutoff is not None and not 0 <= truncation_cutoff <= synthesis.num_ws:
        raise ConfigError(
            f"generator.truncation_cutoff={truncation_cutoff}: must be null or in "
            f"[0, {synthesis.num_ws}] (the number of ws at {side}x{side})."
        )
    mapping = MappingNetwork(
        z_dim=latent_dim,
        num_classes=classes,
        w_dim=w_dim,
        num_ws=synthesis.num_ws,
        num_layers=mapping_layers,
        embed_features=embed_features,
        layer_features=layer_features,
        lr_multiplier=mapping_lr_multiplier,
        w_avg_beta=w_avg_beta,
        mixing_prob=mixing_prob,
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff,
        name="mapping",
    )
    z = keras.Input((latent_dim,), name="latent")
    if classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [z, labels]
        ws = mapping(z, labels, style_mixing=True)
    else:
        inputs = [z]
        ws = mapping(z, style_mixing=True)
    images = synthesis(ws)
    model = finish_generator(
        inputs,
        images,
        name="stylegan2_generator",
        latent_dim=latent_dim,
        num_classes=classes,
        conditioning=conditioning,
    )
    model.unbounded_output = True
    model.mapping = mapping
    model.synthesis = synthesis
    model.num_ws = synthesis.num_ws
    model.w_dim = int(w_dim)
    model.set_truncation = mapping.set_truncation
    # Read by regularizers that call mapping/synthesis themselves (path length) and mix as
    # the reference's run_G does; the full training call mixes on its own.
    model.style_mixing_prob = float(mixing_prob)
    return model
