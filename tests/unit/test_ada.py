"""ADA (stylegan2-ada-pytorch AugmentPipe and its p controller): each transform, the whole
pipeline against a line-by-line numpy port of the reference's forward pass, the bilinear
sampler, gradients, exact identities, and the controller's arithmetic and state."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gantrain.distribute import MirroredStrategy
from gantrain.training.ada import (
    COLOR,
    GEOMETRIC,
    HZ_GEOM,
    NORMAL_COLUMNS,
    NUM_NORMALS,
    NUM_UNIFORMS,
    UNIFORM_COLUMNS,
    AdaController,
    AdaSpec,
    ada_augment,
    affine_grid,
    color_matrix,
    grid_sample,
)

F = np.float32


# -- a numpy port of AugmentPipe.forward (NCHW, as the reference; loops allowed here) ---------


def _mat(rows, batch):
    out = np.zeros((batch, len(rows), len(rows[0])), F)
    for r, row in enumerate(rows):
        for k, e in enumerate(row):
            out[:, r, k] = e
    return out


def _t2(tx, ty, b):
    return _mat([[1, 0, tx], [0, 1, ty], [0, 0, 1]], b)


def _s2(sx, sy, b):
    return _mat([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], b)


def _r2(theta, b):
    c, s = np.cos(theta), np.sin(theta)
    return _mat([[c, -s, 0], [s, c, 0], [0, 0, 1]], b)


def _upfirdn1d(x, f, axis, up=1, down=1, pad=(0, 0), flip_filter=False, gain=1.0):
    """upfirdn2d's reference semantics along one axis (the filter is separable)."""
    x = np.moveaxis(x, axis, -1)
    z = np.zeros((*x.shape[:-1], x.shape[-1] * up))
    z[..., ::up] = x
    p0, p1 = pad
    z = np.pad(z, [(0, 0)] * (z.ndim - 1) + [(max(p0, 0), max(p1, 0))])
    z = z[..., max(-p0, 0) : z.shape[-1] - max(-p1, 0)]
    w = np.asarray(f) * gain
    if not flip_filter:  # convolution
        w = w[::-1]
    length = z.shape[-1] - len(w) + 1
    out = sum(w[k] * z[..., k : k + length] for k in range(len(w)))
    return np.moveaxis(out[..., ::down], -1, axis).astype(F)


def _np_grid_sample(x, grid):
    """torch grid_sample(bilinear, zeros, align_corners=False), NCHW, per pixel."""
    b, c, hi, wi = x.shape
    out = np.zeros((b, c, grid.shape[1], grid.shape[2]))
    for n in range(b):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                gx, gy = grid[n, i, j]
                ix, iy = ((gx + 1) * wi - 1) / 2, ((gy + 1) * hi - 1) / 2
                x0, y0 = int(np.floor(ix)), int(np.floor(iy))
                fx, fy = ix - x0, iy - y0
                for yy, xx, wt in (
                    (y0, x0, (1 - fx) * (1 - fy)),
                    (y0, x0 + 1, fx * (1 - fy)),
                    (y0 + 1, x0, (1 - fx) * fy),
                    (y0 + 1, x0 + 1, fx * fy),
                ):
                    if 0 <= xx < wi and 0 <= yy < hi:
                        out[n, :, i, j] += wt * x[n, :, yy, xx]
    return out.astype(F)


def _np_affine_grid(theta, h, w):
    xs = (2 * np.arange(w) + 1) / w - 1
    ys = (2 * np.arange(h) + 1) / h - 1
    x, y = np.meshgrid(xs, ys)
    return np.einsum("hwk,bjk->bhwj", np.stack([x, y, np.ones_like(x)], -1), theta)


def _reference(images, p, uniforms, normals, spec):
    """AugmentPipe.forward on NHWC images, every step as the reference writes it."""
    u = {name: uniforms[:, i].astype(F) for i, name in enumerate(UNIFORM_COLUMNS)}
    nrm = {name: normals[:, i].astype(F) for i, name in enumerate(NORMAL_COLUMNS)}
    x = np.transpose(images, (0, 3, 1, 2)).astype(F)
    b, c, h, w = x.shape
    p = F(p)
    g = np.tile(np.eye(3, dtype=F), (b, 1, 1))
    if spec.xflip > 0:
        i = np.where(u["xflip_gate"] < spec.xflip * p, np.floor(u["xflip"] * 2), 0)
        g = g @ _s2(1 / (1 - 2 * i), 1, b)
    if spec.rotate90 > 0:
        i = np.where(u["rotate90_gate"] < spec.rotate90 * p, np.floor(u["rotate90"] * 4), 0)
        g = g @ _r2(np.pi / 2 * i, b)
    if spec.xint > 0:
        t = (np.stack([u["xint_x"], u["xint_y"]], 1) * 2 - 1) * spec.xint_max
        t = np.where((u["xint_gate"] < spec.xint * p)[:, None], t, 0)
        g = g @ _t2(-np.round(t[:, 0] * w), -np.round(t[:, 1] * h), b)
    if spec.scale > 0:
        s = np.exp2(nrm["scale"] * spec.scale_std)
        s = np.where(u["scale_gate"] < spec.scale * p, s, 1)
        g = g @ _s2(1 / s, 1 / s, b)
    p_rot = 1 - np.sqrt(np.clip(1 - spec.rotate * p, 0, 1))
    for stage in ("pre", "aniso", "post"):
        if stage == "aniso" and spec.aniso > 0:
            s = np.exp2(nrm["aniso"] * spec.aniso_std)
            s = np.where(u["aniso_gate"] < spec.aniso * p, s, 1)
            g = g @ _s2(1 / s, s, b)
        elif stage != "aniso" and spec.rotate > 0:
            theta = (u[f"rotate_{stage}"] * 2 - 1) * np.pi * spec.rotate_max
            g = g @ _r2(np.where(u[f"rotate_{stage}_gate"] < p_rot, theta, 0), b)
    if spec.xfrac > 0:
        t = np.stack([nrm["xfrac_x"], nrm["xfrac_y"]], 1) * spec.xfrac_std
        t = np.where((u["xfrac_gate"] < spec.xfrac * p)[:, None], t, 0)
        g = g @ _t2(-t[:, 0] * w, -t[:, 1] * h, b)
    if spec.geometric:
        cx, cy = (w - 1) / 2, (h - 1) / 2
        cp = g @ np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], F).T
        hz_pad = len(HZ_GEOM) // 4
        margin = np.transpose(cp[:, :2, :], (1, 0, 2)).reshape(2, -1)
        margin = np.concatenate([-margin, margin]).max(axis=1)
        margin = margin + np.array([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2, F)
        margin = np.minimum(np.maximum(margin, 0), np.array([w - 1, h - 1] * 2, F))
        mx0, my0, mx1, my1 = np.ceil(margin).astype(int)
        x = np.pad(x, ((0, 0), (0, 0), (my0, my1), (mx0, mx1)), mode="reflect")
        g = _t2((mx0 - mx1) / 2, (my0 - my1) / 2, b) @ g
        k = len(HZ_GEOM)
        for axis in (2, 3):
            x = _upfirdn1d(x, HZ_GEOM, axis, up=2, pad=((k + 1) // 2, (k - 2) // 2), gain=2.0)
        g = _s2(2, 2, b) @ g @ _s2(0.5, 0.5, b)
        g = _t2(-0.5, -0.5, b) @ g @ _t2(0.5, 0.5, b)
        out_h, out_w = (h + hz_pad * 2) * 2, (w + hz_pad * 2) * 2
        g = _s2(2 / x.shape[3], 2 / x.shape[2], b) @ g @ _s2(out_w / 2, out_h / 2, b)
        x = _np_grid_sample(x, _np_affine_grid(g[:, :2, :], out_h, out_w))
        crop = (-hz_pad * 2 + (k - 1) // 2, -hz_pad * 2 + (k - 2) // 2)
        for axis in (2, 3):
            x = _upfirdn1d(x, HZ_GEOM, axis, down=2, pad=crop, flip_filter=True)
    eye = np.eye(4, dtype=F)
    cm = np.tile(eye, (b, 1, 1))
    if spec.brightness > 0:
        v = np.where(
            u["brightness_gate"] < spec.brightness * p, nrm["brightness"] * spec.brightness_std, 0
        )
        cm = _mat([[1, 0, 0, v], [0, 1, 0, v], [0, 0, 1, v], [0, 0, 0, 1]], b) @ cm
    if spec.contrast > 0:
        v = np.exp2(nrm["contrast"] * spec.contrast_std)
        v = np.where(u["contrast_gate"] < spec.contrast * p, v, 1)
        cm = _mat([[v, 0, 0, 0], [0, v, 0, 0], [0, 0, v, 0], [0, 0, 0, 1]], b) @ cm
    luma = (np.array([1, 1, 1, 0]) / np.sqrt(3)).astype(F)
    vv = np.outer(luma, luma)
    if spec.lumaflip > 0:
        i = np.where(u["lumaflip_gate"] < spec.lumaflip * p, np.floor(u["lumaflip"] * 2), 0)
        cm = (eye - 2 * vv * i[:, None, None]) @ cm
    if spec.hue > 0 and c > 1:
        theta = (u["hue"] * 2 - 1) * np.pi * spec.hue_max
        theta = np.where(u["hue_gate"] < spec.hue * p, theta, 0)
        vx, vy, vz = luma[:3]
        sn, cs = np.sin(theta), np.cos(theta)
        cc = 1 - cs
        rot = _mat(
            [
                [vx * vx * cc + cs, vx * vy * cc - vz * sn, vx * vz * cc + vy * sn, 0],
                [vy * vx * cc + vz * sn, vy * vy * cc + cs, vy * vz * cc - vx * sn, 0],
                [vz * vx * cc - vy * sn, vz * vy * cc + vx * sn, vz * vz * cc + cs, 0],
                [0, 0, 0, 1],
            ],
            b,
        )
        cm = rot @ cm
    if spec.saturation > 0 and c > 1:
        s = np.exp2(nrm["saturation"] * spec.saturation_std)
        s = np.where(u["saturation_gate"] < spec.saturation * p, s, 1)
        cm = (vv + (eye - vv) * s[:, None, None]) @ cm
    if spec.color_enabled(c):
        x = x.reshape(b, c, h * w)
        if c == 3:
            x = cm[:, :3, :3] @ x + cm[:, :3, 3:]
        else:
            gray = cm[:, :3, :].mean(axis=1, keepdims=True)
            x = x * gray[:, :, :3].sum(axis=2, keepdims=True) + gray[:, :, 3:]
        x = x.reshape(b, c, h, w)
    if spec.cutout > 0:
        size = np.where(u["cutout_gate"] < spec.cutout * p, spec.cutout_size, 0)[:, None, None]
        keep_x = np.abs((np.arange(w) + 0.5) / w - u["cutout_x"][:, None, None]) >= size / 2
        keep_y = np.abs((np.arange(h)[:, None] + 0.5) / h - u["cutout_y"][:, None, None]) >= (
            size / 2
        )
        x = x * (keep_x | keep_y)[:, None].astype(F)
    return np.transpose(x, (0, 2, 3, 1)).astype(F)


# -- helpers --------------------------------------------------------------------------------


def _images(batch=2, side=8, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, side, side, channels)).astype(F)


def _smooth(side=16):
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1)
    image = np.stack([np.sin(2 * xx + yy), 0.5 * np.cos(3 * yy), 2 * xx * yy - 1], -1)
    return image[None].astype(F)


def _draws(batch=1, uniform=0.8, normal=1.0, **columns):
    """Tables with every gate 0 (fires for any p > 0), the given value elsewhere."""
    u = np.full((batch, NUM_UNIFORMS), uniform, F)
    for i, name in enumerate(UNIFORM_COLUMNS):
        if name.endswith("_gate"):
            u[:, i] = 0.0
    for name, value in columns.items():
        u[:, UNIFORM_COLUMNS.index(name)] = value
    return u, np.full((batch, NUM_NORMALS), normal, F)


def _run(images, p, u, n, spec):
    return ada_augment(tf.constant(images), tf.constant(p, tf.float32), u, n, spec=spec).numpy()


ALL = (*GEOMETRIC, *COLOR, "cutout")


# -- the spec -------------------------------------------------------------------------------


def test_columns_and_spec_constructors_follow_the_reference() -> None:
    assert NUM_UNIFORMS == len(set(UNIFORM_COLUMNS)) == 24
    assert NUM_NORMALS == len(set(NORMAL_COLUMNS)) == 7
    bgc = AdaSpec.bgc()
    assert all(getattr(bgc, name) == 1.0 for name in (*GEOMETRIC, *COLOR)) and bgc.cutout == 0
    # train.py's augpipe_specs 'bg' and the defaults of AugmentPipe's ranges.
    assert AdaSpec.from_names("bg") == AdaSpec.from_names(["blit", "geom"])
    assert (bgc.scale_std, bgc.rotate_max, bgc.aniso_std, bgc.xfrac_std) == (0.2, 1, 0.2, 0.125)
    assert (bgc.brightness_std, bgc.contrast_std, bgc.hue_max, bgc.saturation_std) == (
        0.2,
        0.5,
        1,
        1,
    )
    assert (bgc.xint_max, bgc.cutout_size) == (0.125, 0.5)
    r3 = AdaSpec.r3gan()
    assert r3.cutout == 1 and r3.hue == 0.5 and r3.xflip == 1 and r3.saturation == 0.5
    assert AdaSpec.from_names("bgc", cutout=1).cutout == 1
    for bad in ("bgcf", "noise", "flip"):
        with pytest.raises(ValueError, match="unknown ADA augmentation"):
            AdaSpec.from_names(bad)
    with pytest.raises(ValueError, match="xflip"):
        AdaSpec(xflip=-1)


# -- every transform ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_each_transform_is_exact_at_p0_changes_at_p1_and_passes_gradients(name) -> None:
    x = _images()
    spec = AdaSpec(**{name: 1.0})
    u, n = _draws(batch=2)
    same = _run(x, 0.0, u, n, spec)
    assert same.tobytes() == x.tobytes()
    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = ada_augment(images, tf.constant(1.0), u, n, spec=spec)
        loss = tf.reduce_sum(out * tf.constant(_images(seed=1)))
    assert np.abs(out.numpy() - x).max() > 0.05
    grad = tape.gradient(loss, images).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_hue_and_saturation_leave_grayscale_alone_as_the_reference() -> None:
    x = _images(channels=1)
    u, n = _draws(batch=2)
    for name in ("hue", "saturation"):
        assert _run(x, 1.0, u, n, AdaSpec(**{name: 1.0})).tobytes() == x.tobytes()


@pytest.mark.parametrize(
    "spec,side,channels,p",
    [
        (AdaSpec.bgc(), 16, 3, 0.4),
        (AdaSpec.r3gan(), 8, 3, 1.0),
        (AdaSpec.from_names("bgc", cutout=1), 8, 1, 0.7),
    ],
    ids=["bgc-rgb16", "r3gan-rgb8", "bgc+cutout-gray8"],
)
def test_pipeline_matches_a_numpy_port_of_the_reference(spec, side, channels, p) -> None:
    rng = np.random.default_rng(3)
    x = _images(batch=4, side=side, channels=channels, seed=4)
    u = rng.uniform(0, 1, (4, NUM_UNIFORMS)).astype(F)
    n = rng.normal(size=(4, NUM_NORMALS)).astype(F)
    out = _run(x, p, u, n, spec)
    np.testing.assert_allclose(out, _reference(x, p, u, n, spec), atol=5e-5)
    assert np.abs(out - x).max() > 0.5


def test_integer_translation_is_exact_with_reflected_borders() -> None:
    x = _images(batch=1, side=8, seed=5)
    # t = (u * 2 - 1) * 0.125 * 8, rounded: u = 0.99 -> +1 px, u = 0.0 -> -1 px, 0.5 -> 0.
    for ux, uy, sx, sy in ((0.99, 0.5, 1, 0), (0.0, 0.99, -1, 1), (0.99, 0.0, 1, -1)):
        u, n = _draws(xint_x=ux, xint_y=uy)
        out = _run(x, 1.0, u, n, AdaSpec(xint=1))
        # G_inv @ out = in: out[i, j] = in[i - sy, j - sx], reflected (not zeros) outside.
        padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
        expected = padded[:, 2 - sy : 2 - sy + 8, 2 - sx : 2 - sx + 8]
        np.testing.assert_allclose(out, expected, atol=5e-6)


def test_flips_and_quarter_turns_are_close_but_not_exact_as_the_reference() -> None:
    # The reference executes blits through its resampling: the sym6 filter is not symmetric,
    # so its up/down pair reconstructs a mirrored signal only approximately (exact for a
    # translation). Close on a smooth image, visibly off on white noise: as the reference.
    x = _smooth()
    u, n = _draws(xflip=0.75)  # floor(0.75 * 2) = 1: flip
    np.testing.assert_allclose(_run(x, 1.0, u, n, AdaSpec(xflip=1)), x[:, :, ::-1], atol=0.03)
    for k in (1, 2, 3):
        u, n = _draws(rotate90=(k + 0.5) / 4)
        out = _run(x, 1.0, u, n, AdaSpec(rotate90=1))
        np.testing.assert_allclose(out, np.rot90(x, k, axes=(1, 2)), atol=0.05)
    noise = _images(batch=1, seed=6)
    u, n = _draws(xflip=0.75)
    assert np.abs(_run(noise, 1.0, u, n, AdaSpec(xflip=1)) - noise[:, :, ::-1]).max() > 0.05


def test_an_image_whose_gates_did_not_fire_keeps_its_pixels_exactly() -> None:
    x = _images(batch=3, seed=7)
    u, n = _draws(batch=3)
    u[1] = 0.999  # all of image 1's gates above p * strength
    out = _run(x, 0.9, u, n, AdaSpec.from_names("bgc", cutout=1))
    assert out[1].tobytes() == x[1].tobytes()
    assert np.abs(out[0] - x[0]).max() > 0.1 and np.abs(out[2] - x[2]).max() > 0.1


def test_p0_is_the_identity_bit_for_bit_inside_tf_function() -> None:
    spec = AdaSpec.from_names("bgc", cutout=1)
    augment = tf.function(lambda x, p, u, n: ada_augment(x, p, u, n, spec=spec))
    rng = np.random.default_rng(8)
    u = rng.uniform(0, 1, (2, NUM_UNIFORMS)).astype(F)
    n = rng.normal(size=(2, NUM_NORMALS)).astype(F)
    x = _images(seed=9)
    assert augment(x, tf.constant(0.0), u, n).numpy().tobytes() == x.tobytes()
    gray = _images(channels=1, seed=9)  # eagerly: one trace is enough for the cond
    assert _run(gray, 0.0, u, n, spec).tobytes() == gray.tobytes()


# -- color ----------------------------------------------------------------------------------


def test_color_transforms_against_hand_computed_values() -> None:
    x = _images(batch=1, seed=10)
    mean = x.mean(axis=3, keepdims=True)
    u, n = _draws()  # normals 1: b = 0.2, c = 2 ** 0.5, s = 2
    close = lambda a, b: np.testing.assert_allclose(a, b, atol=2e-6)  # noqa: E731
    close(_run(x, 1.0, u, n, AdaSpec(brightness=1)), x + 0.2)
    close(_run(x, 1.0, u, n, AdaSpec(contrast=1)), x * 2**0.5)
    close(_run(x, 1.0, u, n, AdaSpec(saturation=1)), mean + (x - mean) * 2)
    close(_run(x, 1.0, u, n, AdaSpec(lumaflip=1)), x - 2 * mean)
    # Contrast after brightness (C = contrast @ brightness): c * (x + b), not c * x + b.
    close(_run(x, 1.0, u, n, AdaSpec(brightness=1, contrast=1)), (x + 0.2) * 2**0.5)
    # A hue rotation by 2 pi / 3 around the gray axis cycles the channels: u = 5 / 6.
    u, n = _draws(hue=5 / 6)
    np.testing.assert_allclose(_run(x, 1.0, u, n, AdaSpec(hue=1)), np.roll(x, 1, axis=3), atol=1e-5)
    # Grayscale: the mean of C's RGB rows; a luma flip negates, brightness/contrast as RGB.
    gray = _images(batch=1, channels=1, seed=11)
    u, n = _draws()
    close(_run(gray, 1.0, u, n, AdaSpec(lumaflip=1)), -gray)
    close(_run(gray, 1.0, u, n, AdaSpec(brightness=1, contrast=1)), (gray + 0.2) * 2**0.5)


def test_color_matrix_composes_in_the_reference_order() -> None:
    u, n = _draws(hue=0.3, lumaflip=0.9)
    spec = AdaSpec.from_names("color")
    c, fired = color_matrix(tf.constant(1.0), u, n, spec=spec, num_channels=3)
    v = np.array([1, 1, 1, 0]) / np.sqrt(3)
    vv = np.outer(v, v)
    bright = np.eye(4)
    bright[:3, 3] = 0.2
    contrast = np.diag([2**0.5] * 3 + [1])
    flip = np.eye(4) - 2 * vv
    theta = (0.3 * 2 - 1) * np.pi
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    hue = np.eye(4)
    hue[:3, :3] = np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k  # Rodrigues
    saturation = vv + (np.eye(4) - vv) * 2
    expected = saturation @ hue @ flip @ contrast @ bright
    np.testing.assert_allclose(c.numpy()[0], expected, atol=1e-5)
    assert bool(fired.numpy()[0])


# -- the sampler ----------------------------------------------------------------------------


def test_grid_sample_matches_numpy_with_zeros_outside() -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 5, 7, 2)).astype(F)
    grid = rng.uniform(-1.4, 1.4, (2, 4, 6, 2)).astype(F)  # partly outside the image
    out = grid_sample(tf.constant(x), tf.constant(grid)).numpy()
    expected = _np_grid_sample(np.transpose(x, (0, 3, 1, 2)), grid)
    np.testing.assert_allclose(out, np.transpose(expected, (0, 2, 3, 1)), atol=1e-5)
    # The identity affine grid hits every pixel center.
    theta = np.tile(np.array([[1, 0, 0], [0, 1, 0]], F), (2, 1, 1))
    same = grid_sample(tf.constant(x), affine_grid(tf.constant(theta), 5, 7)).numpy()
    np.testing.assert_allclose(same, x, atol=1e-5)
    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(grid_sample(images, tf.constant(grid)))
    grad = tape.gradient(total, images).numpy()
    # d(sum)/d(pixel) = the sum of its bilinear weights over the grid: check one by numpy.
    ones = _np_grid_sample(np.ones((2, 1, 5, 7), F), grid).sum()
    assert grad.sum() == pytest.approx(ones * 2, rel=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_shape_and_dtype_are_kept(channels, dtype) -> None:
    x = tf.cast(_images(side=16, channels=channels), dtype)
    u, n = _draws(batch=2)
    out = ada_augment(x, tf.constant(1.0), u, n, spec=AdaSpec.from_names("bgc", cutout=1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.isfinite(tf.cast(out, tf.float32).numpy()).all()


def test_augment_runs_under_mirrored_strategy_like_on_one_device() -> None:
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    spec = AdaSpec.bgc()
    rng = np.random.default_rng(13)
    x = _images(batch=4, seed=14)
    u = rng.uniform(0, 1, (4, NUM_UNIFORMS)).astype(F)
    n = rng.normal(size=(4, NUM_NORMALS)).astype(F)

    def rows(values):
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(values[2 * ctx.replica_id_in_sync_group :][:2])
        )

    @tf.function
    def run(images, uniforms, normals):
        return strategy.run(
            lambda a, b, c: ada_augment(a, tf.constant(0.6), b, c, spec=spec),
            (images, uniforms, normals),
        )

    parts = strategy.experimental_local_results(run(rows(x), rows(u), rows(n)))
    # Each replica pads for its own half-batch (the reference: per GPU); that moves only
    # rounding-size amounts.
    np.testing.assert_allclose(np.concatenate(parts), _run(x, 0.6, u, n, spec), atol=5e-5)


# -- the controller -------------------------------------------------------------------------


def _feed(controller: AdaController, logits: list[float]) -> None:
    controller.accumulate(tf.constant(logits, tf.float32)[:, None])


def test_controller_moves_p_by_batch_times_interval_over_kimg() -> None:
    ada = AdaController(target=0.6, interval=4, kimg=500)
    step = np.float32(64 * 4 / 500_000)
    for _ in range(4):
        _feed(ada, [1.0, 2.0, 0.5, -1.0, 3.0])  # signs sum 3 of 5
    _feed(ada, [1.0])  # sum 13, count 21: rt = 0.619 > 0.6
    ada.adjust(64)
    assert float(ada.p) == pytest.approx(step, rel=1e-6)
    assert float(ada.rt) == pytest.approx(13 / 21, rel=1e-6)
    assert float(ada.sign_sum) == 0 and float(ada.sign_count) == 0
    _feed(ada, [1.0, -1.0, -2.0])  # rt = -1/3 < target: down by one step, to 0
    ada.adjust(64)
    assert float(ada.p) == 0.0
    _feed(ada, [-1.0])
    ada.adjust(64)  # clamped at 0
    assert float(ada.p) == 0.0
    # rt == target exactly: sign 0, no move (np.sign as the reference).
    exact = AdaController(target=0.5, initial_p=0.25)
    _feed(exact, [1.0, 1.0, 1.0, -1.0])
    exact.adjust(32)
    assert float(exact.p) == 0.25


def test_maybe_adjust_only_on_multiples_of_the_interval_and_ignores_nan() -> None:
    ada = AdaController(target=0.6, interval=4, kimg=1, initial_p=0.5)
    for step in range(1, 9):
        _feed(ada, [1.0, float("nan")])
        ada.maybe_adjust(tf.constant(step, tf.int64), 100)
        expected = 0.5 + 0.4 * (step // 4)  # 100 * 4 / 1000 per adjustment
        assert float(ada.p) == pytest.approx(expected, rel=1e-6)
        assert float(ada.sign_count) == (step % 4)  # the NaN is left out
    assert float(ada.rt) == 1.0
    ada.maybe_adjust(tf.constant(12, tf.int64), 100)  # nothing accumulated: no move
    assert float(ada.p) == pytest.approx(1.3, rel=1e-6)


def test_fixed_mode_keeps_p_and_still_reports_rt() -> None:
    fixed = AdaController(target=None, initial_p=0.3)
    _feed(fixed, [1.0, 1.0, -1.0, 1.0])
    fixed.adjust(64)
    assert float(fixed.p) == pytest.approx(0.3) and float(fixed.rt) == 0.5
    with pytest.raises(ValueError, match="interval"):
        AdaController(target=0.6, interval=0)


def test_controller_accumulates_over_replicas_and_round_trips_a_checkpoint(tmp_path) -> None:
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    with strategy.scope():
        ada = AdaController(target=0.6, interval=2, kimg=0.1)
    per_replica = strategy.experimental_distribute_values_from_function(
        lambda ctx: (
            tf.constant([[1.0], [1.0], [-1.0]])
            if ctx.replica_id_in_sync_group == 0
            else tf.constant([[2.0], [3.0], [4.0]])
        )
    )

    @tf.function
    def step(logits, number):
        strategy.run(ada.accumulate, (logits,))
        ada.maybe_adjust(number, 10)

    step(per_replica, tf.constant(1, tf.int64))
    for value in strategy.experimental_local_results(ada.sign_sum):
        assert float(value) == 4.0  # 1 from replica 0, 3 from replica 1, on every copy
    step(per_replica, tf.constant(2, tf.int64))  # rt = 8 / 12 > 0.6: p += 10 * 2 / 100
    for value in strategy.experimental_local_results(ada.p):
        assert float(value) == pytest.approx(0.2, rel=1e-6)
    for value in strategy.experimental_local_results(ada.rt):
        assert float(value) == pytest.approx(2 / 3, rel=1e-6)
    step(per_replica, tf.constant(3, tf.int64))  # accumulated, not yet adjusted

    path = tf.train.Checkpoint(ada=ada).save(str(tmp_path / "ada"))
    fresh = AdaController(target=0.6, interval=2, kimg=0.1)
    tf.train.Checkpoint(ada=fresh).restore(path).assert_consumed()
    for name in ("p", "rt", "sign_sum", "sign_count"):
        assert float(getattr(fresh, name).numpy()) == float(getattr(ada, name).numpy()), name
    assert float(fresh.sign_count) == 6.0 and float(fresh.p) == pytest.approx(0.2, rel=1e-6)


def test_max_padding_compiles_with_xla_and_changes_only_rounding() -> None:
    spec = AdaSpec.from_names("bgc", cutout=1)
    rng = np.random.default_rng(15)
    x = _images(batch=4, seed=16)
    u = rng.uniform(0, 1, (4, NUM_UNIFORMS)).astype(F)
    n = rng.normal(size=(4, NUM_NORMALS)).astype(F)
    compiled = tf.function(
        lambda *a: ada_augment(*a, spec=spec, max_padding=True), jit_compile=True
    )
    out = compiled(tf.constant(x), tf.constant(1.0), u, n).numpy()
    np.testing.assert_allclose(out, _run(x, 1.0, u, n, spec), atol=1e-4)
