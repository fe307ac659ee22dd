"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data"), as NVlabs' stylegan2-ada-pytorch
(`training/augment.py` AugmentPipe, the ADA heuristic of `training/training_loop.py`).

Every image D sees (real and fake alike, G's gradient flowing through) is augmented; each
transform fires per image with probability `p * strength`. `AdaController` moves p so that
r_t = E[sign(D(real))] stays near a target: sign(r_t - target) * (batch * interval) /
(kimg * 1000) every `interval` steps, clamped at 0 from below only (as the reference).

`ada_augment` is a pure function of the images, p and two per-image tables of random draws,
(B, NUM_UNIFORMS) uniforms in [0, 1) and (B, NUM_NORMALS) standard normals, that the train
step draws statelessly from (seed, step, phase) for the global batch: runs reproduce and
resume exactly, whatever the number of replicas. The reference draws each transform's value
and its gate (`rand < p * strength`) for every image and keeps the value where the gate
passes: the same here, one fixed column per draw (UNIFORM_COLUMNS, NORMAL_COLUMNS), so the
distribution is the reference's.

The pipeline, in the reference's order:
- pixel blitting and general geometric transforms (x-flip, 90-degree rotations, integer
  translation; isotropic scaling, pre-rotation, anisotropic scaling, post-rotation,
  fractional translation), composed into one inverse 3x3 matrix per image and executed
  once: reflect padding computed from the transformed corners, 2x upsampling with the sym6
  wavelet low-pass filter, bilinear sampling, 2x downsampling with the same filter;
- color (brightness, contrast, luma flip, hue rotation around the luma axis, saturation),
  composed into one 4x4 matrix per image; grayscale images take the mean of its RGB rows
  and skip hue and saturation, as the reference;
- cutout (optional; R3GAN's CIFAR-10 preset adds it to 'bgc').
Image-space filtering and additive noise (the reference's 'f' and 'n' groups) are not
implemented: `AdaSpec` has no fields for them.

Images are NHWC float32 in [-1, 1] (the reference's NCHW, same value range and pixel-center
coordinates); other float dtypes are cast to float32 and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import tensorflow as tf

from gantrain.models.resample import upfirdn2d

# -- the random draws ------------------------------------------------------------------------

# One column per value the reference draws per image (its torch.rand / torch.randn calls);
# `*_gate` columns decide whether the transform fires (gate < p * strength).
UNIFORM_COLUMNS = (
    "xflip", "xflip_gate",
    "rotate90", "rotate90_gate",
    "xint_x", "xint_y", "xint_gate",
    "scale_gate",
    "rotate_pre", "rotate_pre_gate",
    "aniso_gate",
    "rotate_post", "rotate_post_gate",
    "xfrac_gate",
    "brightness_gate",
    "contrast_gate",
    "lumaflip", "lumaflip_gate",
    "hue", "hue_gate",
    "saturation_gate",
    "cutout_gate", "cutout_x", "cutout_y",
)  # fmt: skip
NORMAL_COLUMNS = (
    "scale", "aniso", "xfrac_x", "xfrac_y", "brightness", "contrast", "saturation",
)  # fmt: skip
NUM_UNIFORMS = len(UNIFORM_COLUMNS)
NUM_NORMALS = len(NORMAL_COLUMNS)
_U = {name: i for i, name in enumerate(UNIFORM_COLUMNS)}
_N = {name: i for i, name in enumerate(NORMAL_COLUMNS)}

# The orthogonal low-pass filter of the geometric resampling: the sym6 wavelet's decomposition
# low-pass coefficients (the reference's `wavelets['sym6']`), normalized to sum 1 as its
# `upfirdn2d.setup_filter` does. It is not symmetric, so convolution vs correlation matters.
_SYM6 = np.array(
    [
        0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
        -0.048311742585633, 0.4910559419267466, 0.787641141030194, 0.3379294217276218,
        -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
        0.0017677118642428036, -0.007800708325034148,
    ]
)  # fmt: skip
HZ_GEOM = (_SYM6 / _SYM6.sum()).astype(np.float32).astype(np.float64)
HZ_PAD = HZ_GEOM.size // 4  # 3: the extra low-res border kept around the image while resampling

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
# The reference's augpipe groups (train.py `augpipe_specs`) that exist here.
GROUPS = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": COLOR,
    "cutout": ("cutout",),
}
_PIPE_LETTERS = {"b": "blit", "g": "geom", "c": "color"}


@dataclass(frozen=True)
class AdaSpec:
    """Per-transform probability multipliers ("strengths"; the reference's AugmentPipe
    arguments, 0 = off) and the ranges of their parameters (the reference's defaults).

    A transform fires per image with probability p * strength (rotation: pre- or
    post-rotation each with 1 - sqrt(1 - p * rotate), so that either fires with p * rotate).
    """

    xflip: float = 0.0
    rotate90: float = 0.0
    xint: float = 0.0
    scale: float = 0.0
    rotate: float = 0.0
    aniso: float = 0.0
    xfrac: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    lumaflip: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    cutout: float = 0.0
    xint_max: float = 0.125  # integer translation range, relative to the image side
    scale_std: float = 0.2  # log2 std of isotropic scaling
    rotate_max: float = 1.0  # rotation range, 1 = full circle
    aniso_std: float = 0.2  # log2 std of anisotropic scaling
    xfrac_std: float = 0.125  # std of fractional translation, relative to the image side
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2 std
    hue_max: float = 1.0  # hue rotation range, 1 = full circle
    saturation_std: float = 1.0  # log2 std
    cutout_size: float = 0.5  # cutout square side, relative to the image side

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"ada.{field.name}={value!r}: must be a number")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"ada.{field.name}={value}: must be finite and >= 0")
            object.__setattr__(self, field.name, float(value))

    @classmethod
    def bgc(cls, **overrides: float) -> AdaSpec:
        """The reference's default pipeline 'bgc': blit + geom + color, every strength 1."""
        return cls.from_names(("blit", "geom", "color"), **overrides)

    @classmethod
    def r3gan(cls, **overrides: float) -> AdaSpec:
        """R3GAN's pipeline (its train.py): bgc with the color strengths 0.5, plus cutout."""
        color = {name: 0.5 for name in COLOR}
        return cls.from_names(("blit", "geom", "cutout"), **{**color, **overrides})

    @classmethod
    def from_names(cls, names: str | tuple[str, ...] | list[str], **overrides: float) -> AdaSpec:
        """Strength 1 for each named group (blit, geom, color, cutout) or transform (xflip,
        ..., cutout), or a reference pipe name made of b/g/c letters ('bg', 'bgc');
        `overrides` set other fields (strengths < 1, ranges)."""
        if isinstance(names, str):
            names = (names,)
        strengths: dict[str, float] = {}
        transforms = set(GEOMETRIC + COLOR + ("cutout",))
        for name in names:
            if name in GROUPS:
                members = GROUPS[name]
            elif name in transforms:
                members = (name,)
            elif name and set(name) <= set(_PIPE_LETTERS):
                members = tuple(t for letter in name for t in GROUPS[_PIPE_LETTERS[letter]])
            else:
                raise ValueError(
                    f"unknown ADA augmentation {name!r}: use groups {', '.join(GROUPS)}, "
                    f"transforms {', '.join(sorted(transforms))}, or a pipe such as 'bgc' "
                    "(image-space filtering 'f' and noise 'n' are not implemented)"
                )
            strengths.update(dict.fromkeys(members, 1.0))
        return replace(cls(**strengths), **overrides)

    @property
    def geometric(self) -> bool:
        """Any geometric transform enabled (else the resampling is skipped altogether)."""
        return any(getattr(self, name) > 0 for name in GEOMETRIC)

    def color_enabled(self, num_channels: int) -> bool:
        """Any color transform enabled for images with `num_channels` channels (hue and
        saturation act on RGB only, as the reference)."""
        names = COLOR if num_channels > 1 else ("brightness", "contrast", "lumaflip")
        return any(getattr(self, name) > 0 for name in names)


# -- matrices --------------------------------------------------------------------------------


def _matrix(rows: list[list[Any]], batch: tf.Tensor) -> tf.Tensor:
    """(B, R, K) float32 from rows of scalars and (B,) tensors (the reference's `matrix`)."""
    elems = [tf.broadcast_to(tf.cast(e, tf.float32), [batch]) for row in rows for e in row]
    return tf.reshape(tf.stack(elems, axis=-1), [batch, len(rows), len(rows[0])])


def _translate2d(tx: Any, ty: Any, batch: tf.Tensor) -> tf.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], batch)


def _scale2d(sx: Any, sy: Any, batch: tf.Tensor) -> tf.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], batch)


def _rotate2d(theta: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    c, s = tf.cos(theta), tf.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], batch)


def _gate(uniforms: tf.Tensor, name: str, probability: Any) -> tf.Tensor:
    """(B,) bool: the transform `name` fires (its gate uniform < probability)."""
    return uniforms[:, _U[f"{name}_gate"]] < probability


def geometric_matrix(
    p: tf.Tensor, uniforms: tf.Tensor, normals: tf.Tensor, *, spec: AdaSpec, height: int,
    width: int,
) -> tuple[tf.Tensor, tf.Tensor]:  # fmt: skip
    """The inverse homogeneous transforms G_inv (B, 3, 3) float32 (G_inv @ pixel_out =
    pixel_in, centered pixel coordinates x right, y down) and (B,) bool: some geometric
    transform fired for the image. Composed as the reference: G_inv @= each transform's
    inverse in the order xflip, rotate90, xint, scale, pre-rotate, aniso, post-rotate, xfrac.
    """
    batch = tf.shape(uniforms)[0]
    g = tf.eye(3, batch_shape=[batch])
    fired = tf.zeros([batch], tf.bool)
    zeros, ones = tf.zeros([batch]), tf.ones([batch])
    u = lambda name: uniforms[:, _U[name]]  # noqa: E731
    n = lambda name: normals[:, _N[name]]  # noqa: E731
    if spec.xflip > 0:
        gate = _gate(uniforms, "xflip", spec.xflip * p)
        i = tf.where(gate, tf.floor(u("xflip") * 2), zeros)
        g = g @ _scale2d(1 / (1 - 2 * i), 1, batch)  # scale2d_inv(1 - 2i, 1)
        fired |= gate
    if spec.rotate90 > 0:
        gate = _gate(uniforms, "rotate90", spec.rotate90 * p)
        i = tf.where(gate, tf.floor(u("rotate90") * 4), zeros)
        g = g @ _rotate2d(-(np.float32(-np.pi / 2) * i), batch)  # rotate2d_inv(-pi/2 i)
        fired |= gate
    if spec.xint > 0:
        gate = _gate(uniforms, "xint", spec.xint * p)
        tx = tf.where(gate, (u("xint_x") * 2 - 1) * spec.xint_max, zeros)
        ty = tf.where(gate, (u("xint_y") * 2 - 1) * spec.xint_max, zeros)
        # tf.round rounds half to even, as torch.round.
        g = g @ _translate2d(-tf.round(tx * width), -tf.round(ty * height), batch)
        fired |= gate
    if spec.scale > 0:
        gate = _gate(uniforms, "scale", spec.scale * p)
        s = tf.where(gate, tf.pow(2.0, n("scale") * spec.scale_std), ones)
        g = g @ _scale2d(1 / s, 1 / s, batch)
        fired |= gate
    # P(pre or post rotation) = p * rotate.
    p_rot = 1 - tf.sqrt(tf.clip_by_value(1 - spec.rotate * p, 0.0, 1.0))
    if spec.rotate > 0:
        gate = _gate(uniforms, "rotate_pre", p_rot)
        theta = tf.where(
            gate, (u("rotate_pre") * 2 - 1) * np.float32(np.pi) * spec.rotate_max, zeros
        )
        g = g @ _rotate2d(theta, batch)  # rotate2d_inv(-theta), before the anisotropic scaling
        fired |= gate
    if spec.aniso > 0:
        gate = _gate(uniforms, "aniso", spec.aniso * p)
        s = tf.where(gate, tf.pow(2.0, n("aniso") * spec.aniso_std), ones)
        g = g @ _scale2d(1 / s, 1 / (1 / s), batch)  # scale2d_inv(s, 1 / s)
        fired |= gate
    if spec.rotate > 0:
        gate = _gate(uniforms, "rotate_post", p_rot)
        theta = tf.where(
            gate, (u("rotate_post") * 2 - 1) * np.float32(np.pi) * spec.rotate_max, zeros
        )
        g = g @ _rotate2d(theta, batch)  # after the anisotropic scaling
        fired |= gate
    if spec.xfrac > 0:
        gate = _gate(uniforms, "xfrac", spec.xfrac * p)
        tx = tf.where(gate, n("xfrac_x") * spec.xfrac_std, zeros)
        ty = tf.where(gate, n("xfrac_y") * spec.xfrac_std, zeros)
        g = g @ _translate2d(-(tx * width), -(ty * height), batch)
        fired |= gate
    return g, fired


_LUMA = np.array([1, 1, 1, 0], np.float32) / np.float32(np.sqrt(3))  # the luma axis v


def color_matrix(
    p: tf.Tensor, uniforms: tf.Tensor, normals: tf.Tensor, *, spec: AdaSpec, num_channels: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """The homogeneous color transforms C (B, 4, 4) float32 (C @ [r, g, b, 1] = the new
    color) and (B,) bool: some color transform fired. C = saturation @ hue @ lumaflip @
    contrast @ brightness, as the reference; hue and saturation only for num_channels > 1."""
    batch = tf.shape(uniforms)[0]
    eye = tf.eye(4, batch_shape=[batch])
    c = eye
    fired = tf.zeros([batch], tf.bool)
    zeros, ones = tf.zeros([batch]), tf.ones([batch])
    u = lambda name: uniforms[:, _U[name]]  # noqa: E731
    n = lambda name: normals[:, _N[name]]  # noqa: E731
    v = tf.constant(_LUMA)
    vv = v[:, None] * v[None, :]  # v.ger(v), in float32 as the reference
    if spec.brightness > 0:
        gate = _gate(uniforms, "brightness", spec.brightness * p)
        b = tf.where(gate, n("brightness") * spec.brightness_std, zeros)
        c = _matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], batch) @ c
        fired |= gate
    if spec.contrast > 0:
        gate = _gate(uniforms, "contrast", spec.contrast * p)
        k = tf.where(gate, tf.pow(2.0, n("contrast") * spec.contrast_std), ones)
        c = _matrix([[k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]], batch) @ c
        fired |= gate
    if spec.lumaflip > 0:
        gate = _gate(uniforms, "lumaflip", spec.lumaflip * p)
        i = tf.where(gate, tf.floor(u("lumaflip") * 2), zeros)
        c = (eye - 2 * vv * i[:, None, None]) @ c  # Householder reflection through v
        fired |= gate
    if spec.hue > 0 and num_channels > 1:
        gate = _gate(uniforms, "hue", spec.hue * p)
        theta = tf.where(gate, (u("hue") * 2 - 1) * np.float32(np.pi) * spec.hue_max, zeros)
        c = _rotate3d(v, theta, batch) @ c  # rotation around v
        fired |= gate
    if spec.saturation > 0 and num_channels > 1:
        gate = _gate(uniforms, "saturation", spec.saturation * p)
        s = tf.where(gate, tf.pow(2.0, n("saturation") * spec.saturation_std), ones)
        c = (vv + (eye - vv) * s[:, None, None]) @ c
        fired |= gate
    return c, fired


def _rotate3d(v: tf.Tensor, theta: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    vx, vy, vz = v[0], v[1], v[2]
    s, c = tf.sin(theta), tf.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        batch,
    )


# -- resampling ------------------------------------------------------------------------------


def affine_grid(theta: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """(B, height, width, 2) sampling positions (x, y) in normalized [-1, 1] coordinates:
    theta (B, 2, 3) applied to the output pixel centers, as torch's `affine_grid` with
    align_corners=False (pixel j at (2 j + 1) / width - 1)."""
    xs = (2 * tf.range(width, dtype=tf.float32) + 1) / width - 1
    ys = (2 * tf.range(height, dtype=tf.float32) + 1) / height - 1
    x, y = tf.meshgrid(xs, ys)  # (height, width)
    base = tf.stack([x, y, tf.ones_like(x)], axis=-1)  # (H, W, 3)
    return tf.einsum("hwk,bjk->bhwj", base, theta)


def grid_sample(images: tf.Tensor, grid: tf.Tensor) -> tf.Tensor:
    """Bilinear sampling of images (B, Hi, Wi, C) at grid (B, Ho, Wo, 2) (x, y normalized to
    [-1, 1] over the image's extent) -> (B, Ho, Wo, C): torch's `grid_sample` with
    mode='bilinear', padding_mode='zeros', align_corners=False. Differentiable in `images`
    (the grid gets no gradient: ADA's grid depends on random draws only)."""
    shape = tf.shape(images)
    batch, in_h, in_w = shape[0], shape[1], shape[2]
    channels = images.shape[-1]
    out_h, out_w = grid.shape[1], grid.shape[2]
    hf, wf = tf.cast(in_h, tf.float32), tf.cast(in_w, tf.float32)
    grid = tf.stop_gradient(grid)
    ix = ((grid[..., 0] + 1) * wf - 1) / 2  # input pixel coordinates, centers at integers
    iy = ((grid[..., 1] + 1) * hf - 1) / 2
    # Clipping far-away positions keeps the integer casts in range without changing anything
    # (all of their taps are outside the image either way).
    ix = tf.clip_by_value(ix, -2.0, wf + 1)
    iy = tf.clip_by_value(iy, -2.0, hf + 1)
    x0, y0 = tf.floor(ix), tf.floor(iy)
    x1, y1 = x0 + 1, y0 + 1
    flat = tf.reshape(images, [batch, -1, channels])
    out = 0.0
    # The reference's corner order and weights: nw, ne, sw, se.
    for yy, xx, weight in (
        (y0, x0, (x1 - ix) * (y1 - iy)),
        (y0, x1, (ix - x0) * (y1 - iy)),
        (y1, x0, (x1 - ix) * (iy - y0)),
        (y1, x1, (ix - x0) * (iy - y0)),
    ):
        inside = (xx >= 0) & (xx <= wf - 1) & (yy >= 0) & (yy <= hf - 1)
        weight = tf.where(inside, weight, 0.0)
        xi = tf.cast(tf.clip_by_value(xx, 0.0, wf - 1), tf.int32)
        yi = tf.cast(tf.clip_by_value(yy, 0.0, hf - 1), tf.int32)
        index = tf.reshape(yi * in_w + xi, [batch, -1])
        values = tf.gather(flat, index, batch_dims=1)  # (B, Ho * Wo, C)
        out += values * tf.reshape(weight, [batch, -1, 1])
    return tf.reshape(out, [batch, out_h, out_w, channels])


def _upsample2x(x: tf.Tensor) -> tf.Tensor:
    """The reference's `upfirdn2d.upsample2d(x, Hz_geom, up=2)`: zero insertion, padding
    ((K + 1) // 2, (K - 2) // 2), convolution with the separable filter, gain 2 per axis."""
    size = HZ_GEOM.size
    p0, p1 = (size + 1) // 2, (size - 2) // 2
    x = upfirdn2d(x, HZ_GEOM[:, None], up=2, padding=(p0, p1, 0, 0), gain=2.0)
    return upfirdn2d(x, HZ_GEOM[None, :], padding=(0, 0, p0, p1), gain=2.0)


def _downsample2x(x: tf.Tensor) -> tf.Tensor:
    """The reference's `downsample2d(x, Hz_geom, down=2, padding=-2 * Hz_pad,
    flip_filter=True)`: crop 2 * Hz_pad - (K - 1) // 2 = 1 per side, correlate (our
    upfirdn2d convolves, so it gets the flipped filter), keep every second sample."""
    size = HZ_GEOM.size
    c0 = -2 * HZ_PAD + (size - 1) // 2
    c1 = -2 * HZ_PAD + (size - 2) // 2
    flipped = HZ_GEOM[::-1]
    x = upfirdn2d(x, flipped[:, None], padding=(c0, c1, c0, c1))
    return upfirdn2d(x, flipped[None, :], down=2)


def _geometric(images: tf.Tensor, g_inv: tf.Tensor, max_padding: bool = False) -> tf.Tensor:
    """Execute G_inv on images (B, H, W, C) float32 as the reference does."""
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # Padding: how far the transformed output corners reach outside the image, plus the
    # filter's support, over the whole batch (the reference's per-GPU batch: one padding
    # for all images); at most side - 1, so one reflection always suffices. So a replica's
    # result depends on its own batch, as a GPU's in the reference, but only in the filter
    # tails at the padded border: measured <= 3e-5 between batch 8 and batch 1 (32x32).
    corners = tf.constant(
        [[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], tf.float32
    )  # [xyz, idx]
    cp = g_inv @ corners  # (B, 3, 4)
    xs, ys = tf.reshape(cp[:, 0], [-1]), tf.reshape(cp[:, 1], [-1])
    margin = tf.stack(
        [tf.reduce_max(-xs), tf.reduce_max(-ys), tf.reduce_max(xs), tf.reduce_max(ys)]
    )
    margin += tf.constant([HZ_PAD * 2 - cx, HZ_PAD * 2 - cy] * 2, tf.float32)
    margin = tf.clip_by_value(margin, 0.0, tf.constant([width - 1, height - 1] * 2, tf.float32))
    margin = tf.cast(tf.math.ceil(margin), tf.int32)
    if max_padding:  # static shapes (XLA): the largest padding the reference ever uses
        margin = tf.constant([width - 1, height - 1] * 2, tf.int32)
    mx0, my0, mx1, my1 = margin[0], margin[1], margin[2], margin[3]
    images = tf.pad(images, [[0, 0], [my0, my1], [mx0, mx1], [0, 0]], mode="REFLECT")
    shift_x = tf.cast(mx0 - mx1, tf.float32) / 2
    shift_y = tf.cast(my0 - my1, tf.float32) / 2
    g_inv = _translate2d(shift_x, shift_y, batch) @ g_inv

    images = _upsample2x(images)
    g_inv = _scale2d(2, 2, batch) @ g_inv @ _scale2d(1 / 2, 1 / 2, batch)
    g_inv = _translate2d(-0.5, -0.5, batch) @ g_inv @ _translate2d(0.5, 0.5, batch)

    out_h, out_w = (height + HZ_PAD * 2) * 2, (width + HZ_PAD * 2) * 2
    up_shape = tf.cast(tf.shape(images), tf.float32)
    to_normalized = _scale2d(2 / up_shape[2], 2 / up_shape[1], batch)
    g_inv = to_normalized @ g_inv @ _scale2d(1 / (2 / out_w), 1 / (2 / out_h), batch)
    grid = affine_grid(g_inv[:, :2, :], out_h, out_w)
    images = grid_sample(images, grid)
    return _downsample2x(images)


def _apply_color(images: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
    channels = images.shape[-1]
    if channels == 3:
        out = tf.einsum("bhwk,bck->bhwc", images, c[:, :3, :3])
        return out + c[:, None, None, :3, 3]
    # Grayscale, as the reference: the mean of the RGB rows, applied to the one channel.
    mean = tf.reduce_mean(c[:, :3, :], axis=1)  # (B, 4)
    gain = tf.reduce_sum(mean[:, :3], axis=1)
    return images * gain[:, None, None, None] + mean[:, None, None, 3:]


def _cutout(images: tf.Tensor, p: tf.Tensor, uniforms: tf.Tensor, spec: AdaSpec) -> tf.Tensor:
    height, width = images.shape[1], images.shape[2]
    gate = _gate(uniforms, "cutout", spec.cutout * p)
    size = tf.where(gate, spec.cutout_size, 0.0)[:, None]  # (B, 1), the same for x and y
    center_x = uniforms[:, _U["cutout_x"], None]
    center_y = uniforms[:, _U["cutout_y"], None]
    coord_x = (tf.range(width, dtype=tf.float32)[None, :] + 0.5) / width
    coord_y = (tf.range(height, dtype=tf.float32)[None, :] + 0.5) / height
    keep_x = tf.abs(coord_x - center_x) >= size / 2  # (B, W)
    keep_y = tf.abs(coord_y - center_y) >= size / 2  # (B, H)
    keep = keep_x[:, None, :] | keep_y[:, :, None]
    return images * tf.cast(keep, images.dtype)[..., None]


def ada_augment(
    images: tf.Tensor, p: tf.Tensor | float, uniforms: tf.Tensor, normals: tf.Tensor, *,
    spec: AdaSpec, max_padding: bool = False,
) -> tf.Tensor:  # fmt: skip
    """ADA-augmented images, same shape and dtype as `images` (B, H, W, C), C 1 or 3 when a
    color transform is on, in [-1, 1] (values may leave it, as the reference's).

    `p`: the augmentation probability (scalar, e.g. `AdaController.p`); `uniforms`
    (B, NUM_UNIFORMS) in [0, 1) and `normals` (B, NUM_NORMALS) standard normal, one row per
    image (columns UNIFORM_COLUMNS / NORMAL_COLUMNS). Pure: the same inputs give the same
    output, in eager, inside tf.function and on any replica.

    Exactness where nothing fires (so p = 0 returns the images bit for bit): an image none
    of whose geometric transforms fired keeps its pixels, and a batch where none fired skips
    the resampling (tf.cond). The reference resamples such images through the identity
    matrix anyway, which returns them up to float rounding (the sym6 up/down pair is
    orthogonal, the identity grid hits pixel centers; measured ~1e-6 here): a departure of
    rounding size only. Likewise for color, whose identity matrix is exact but for the
    rounding of the saturation matrix at s = 1.

    `max_padding=True` (a departure, for `jit_compile=True`, which refuses the reference's
    data-dependent padding) reflect-pads every batch by side - 1, the reference's upper
    bound: the values differ only in filter tails at the padded border (measured <= 3e-5),
    at the cost of resampling a larger image.
    """
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    if height is None or width is None or channels is None:
        raise ValueError(f"ada_augment needs static image sizes, got {images.shape}")
    if spec.color_enabled(channels) and channels not in (1, 3):
        raise ValueError(f"ADA color transforms need RGB or grayscale images, got {channels}")
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    p = tf.cast(p, tf.float32)
    uniforms = tf.cast(uniforms, tf.float32)
    normals = tf.cast(normals, tf.float32)
    # Python-level, as the reference's `if self.xflip > 0`: disabled transforms cost nothing.
    if spec.geometric:
        g_inv, fired = geometric_matrix(p, uniforms, normals, spec=spec, height=height, width=width)
        resampled = tf.cond(
            tf.reduce_any(fired), lambda: _geometric(x, g_inv, max_padding), lambda: x
        )
        resampled.set_shape(x.shape)
        x = tf.where(fired[:, None, None, None], resampled, x)
    if spec.color_enabled(channels):
        c, fired = color_matrix(p, uniforms, normals, spec=spec, num_channels=channels)
        x = tf.where(fired[:, None, None, None], _apply_color(x, c), x)
    if spec.cutout > 0:
        x = _cutout(x, p, uniforms, spec)
    return tf.cast(x, dtype)


# -- the controller --------------------------------------------------------------------------


class AdaController(tf.Module):
    """ADA's p and the statistics that steer it: training state, checkpointed with the run.

    `target` r_t target (the reference's default 0.6), or None for a fixed p (`initial_p`,
    never changed by `adjust`); `interval`: steps between adjustments (4); `kimg`: thousands
    of images for p to move by 1 (500). Variables (create the controller inside
    `strategy.scope()`): `p`, `rt` (r_t of the last adjustment, for logging), `sign_sum` and
    `sign_count` (sum of sign(D(real)) and count since the last adjustment). They have
    ONLY_FIRST_REPLICA aggregation: every replica writes the same value (all-reduced).
    """

    def __init__(
        self,
        *,
        target: float | None = 0.6,
        interval: int = 4,
        kimg: float = 500.0,
        initial_p: float = 0.0,
        name: str = "ada",
    ) -> None:
        super().__init__(name=name)
        if target is not None and not math.isfinite(target):
            raise ValueError(f"ada target={target}: must be a finite number, or None (fixed p)")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"ada interval={interval}: must be an integer >= 1")
        if not (math.isfinite(kimg) and kimg > 0):
            raise ValueError(f"ada kimg={kimg}: must be a finite number > 0")
        if not (math.isfinite(initial_p) and initial_p >= 0):
            raise ValueError(f"ada initial_p={initial_p}: must be a finite number >= 0")
        self.target = None if target is None else float(target)
        self.interval = interval
        self.kimg = float(kimg)
        self.p = self._state("p", initial_p)
        self.rt = self._state("rt", 0.0)
        self.sign_sum = self._state("sign_sum", 0.0)
        self.sign_count = self._state("sign_count", 0.0)

    @staticmethod
    def _state(name: str, initial: float) -> tf.Variable:
        return tf.Variable(
            initial,
            dtype=tf.float32,
            trainable=False,
            name=f"ada_{name}",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )

    @property
    def adaptive(self) -> bool:
        return self.target is not None

    def accumulate(self, real_logits: tf.Tensor) -> None:
        """Add sign(real_logits) of this replica's batch, all-reduced over the replicas;
        call inside the replica context (strategy.run, or none). The reference collects
        'Loss/signs/real' wherever D judges reals: its D main phase and its lazy R1 phase.

        Departure: non-finite logits are left out (the reference's NaN would make p NaN for
        the rest of the run); the count counts the finite ones.
        """
        context = tf.distribute.get_replica_context()
        if context is None:
            raise RuntimeError("AdaController.accumulate runs in a replica context")
        logits = tf.cast(real_logits, tf.float32)
        finite = tf.math.is_finite(logits)
        signs = tf.where(finite, tf.sign(logits), 0.0)
        local = tf.stack([tf.reduce_sum(signs), tf.reduce_sum(tf.cast(finite, tf.float32))])
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
        self.sign_sum.assign_add(total[0])
        self.sign_count.assign_add(total[1])

    def adjust(self, global_batch_size: int) -> None:
        """The ADA heuristic (call every `interval` steps): r_t = sum / count; with a target
        p <- max(p + sign(r_t - target) * batch * interval / (kimg * 1000), 0); resets the
        accumulators. Departure: with nothing accumulated (count 0) p and rt stay (the
        reference would compute a NaN r_t)."""
        self._update(tf.constant(True), global_batch_size)

    def maybe_adjust(self, step: tf.Tensor, global_batch_size: int) -> None:
        """`adjust` when `step` (steps completed, counted after the increment, as the
        reference's batch_idx) is a multiple of `interval`; a no-op otherwise. Works in
        the cross-replica and the replica context, without control flow (tf.where)."""
        step = tf.convert_to_tensor(step)
        self._update(tf.equal(step % tf.cast(self.interval, step.dtype), 0), global_batch_size)

    def _update(self, due: tf.Tensor, global_batch_size: int) -> None:
        count = self.sign_count.read_value()
        total = self.sign_sum.read_value()
        due = due & (count > 0)
        rt = total / tf.maximum(count, 1.0)
        p = self.p.read_value()
        if self.adaptive:
            step = global_batch_size * self.interval / (self.kimg * 1000)
            adjusted = tf.maximum(p + tf.sign(rt - self.target) * step, 0.0)
            self.p.assign(tf.where(due, adjusted, p))
        self.rt.assign(tf.where(due, rt, self.rt.read_value()))
        self.sign_sum.assign(tf.where(due, 0.0, total))
        self.sign_count.assign(tf.where(due, 0.0, count))
