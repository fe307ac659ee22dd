"""The Inception graph of the original FID: TensorFlow's 2015-12-05 `classify_image_graph_def.pb`.

This is the network behind every published FID (TTUR, TF-GAN; stylegan2-ada's
`inception-2015-12-05.pkl`, pytorch-fid, torch-fidelity and clean-fid port it): its 2048-d
`pool_3` features for FID/KID, and its 1008-way logits for IS. The GraphDef is imported into a
TF2 function with our images mapped onto its `ExpandDims:0` tensor (float32 (N, H, W, 3) in
[0, 255], any size), so it runs batched.

The batch quirk: the graph was exported for one JPEG at a time (`DecodeJpeg` -> `ExpandDims`),
and TTUR rewrites every tensor's static batch dimension of 1 to None to feed batches. Importing
with an input map onto `ExpandDims:0` of shape (None, H, W, 3) lets TF2's shape inference do
that; the one op that truly hard-codes batch 1 (`pool_3/_reshape` to [1, 2048], ahead of the
classifier) is bypassed: the logits are `squeeze(pool_3) @ W` with the graph's own
`softmax/logits/MatMul` weight W, without the bias, as Salimans et al.'s IS code and
stylegan2-ada (`no_output_bias=True`) compute them. Its batch normalizations use an op TF2
functions no longer run; `modernize` rewrites them into their formula.

Resize protocols (`eval.resize`), both from uint8 images as the references quantize them:
- `legacy_tf` (default): images at their own size go in; the graph's own `ResizeBilinear` to
  299x299 (TF1 legacy: align_corners=False, no half-pixel centers) resizes them, as TTUR, TF-GAN
  and stylegan2-ada's published numbers.
- `clean`: clean-fid's resize: per channel in float32, PIL bicubic (antialiased) to 299x299,
  clipped to [0, 255]; the graph's resize is then the identity.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image

from gantrain.errors import ConfigError
from gantrain.eval.base import Features
from gantrain.eval.download import download, sha256_of
from gantrain.eval.extractors.base import FeatureExtractor, batched

log = logging.getLogger("gantrain")

ARCHIVE = "inception-2015-12-05.tgz"
GRAPH_FILE = "classify_image_graph_def.pb"
INPUT = "ExpandDims:0"
POOL = "pool_3:0"
LOGITS_MATMUL = "softmax/logits/MatMul"
SIZE = 299
RESIZES = {
    "legacy_tf": "legacy_tf: uint8, then the graph's own ResizeBilinear to 299x299 "
    "(TF1, align_corners=False), as TTUR / TF-GAN / stylegan2-ada",
    "clean": "clean: uint8, then PIL bicubic per channel in float32 to 299x299, clipped to "
    "[0, 255] (clean-fid)",
}
_SCOPE = "fid_inception"
MANUAL = (
    f"download {{url}} yourself and pass eval.weights=PATH (the .tgz or the {GRAPH_FILE} inside it)"
)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """float32 (N, H, W, 1|3) in [-1, 1] -> uint8 (N, H, W, 3), quantized as a saved PNG."""
    from gantrain.eval.images import to_uint8_rgb

    return to_uint8_rgb(images)


def clean_resize(pixels: np.ndarray, size: int = SIZE) -> np.ndarray:
    """clean-fid's resize: uint8 (N, H, W, 3) -> float32 (N, size, size, 3) in [0, 255].

    Each channel is resized on its own as a float32 ('F' mode) PIL image with BICUBIC, which
    PIL antialiases when downscaling; the result is clipped, not re-quantized.
    """
    out = np.empty((len(pixels), size, size, pixels.shape[-1]), np.float32)
    for n, image in enumerate(pixels):
        for c in range(image.shape[-1]):
            channel = Image.fromarray(image[:, :, c].astype(np.float32))
            resized = channel.resize((size, size), resample=Image.Resampling.BICUBIC)
            out[n, :, :, c] = np.asarray(resized, np.float32).clip(0.0, 255.0)
    return out


def _member_bytes(archive: Path, setting: str) -> bytes:
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                if Path(member.name).name == GRAPH_FILE and member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    return extracted.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ConfigError(
            f"{setting}={archive}: not a readable .tgz archive ({type(error).__name__}: {error})."
        ) from error
    raise ConfigError(f"{setting}={archive}: the archive holds no {GRAPH_FILE}.")


def graph_bytes(
    *,
    weights: str | None,
    cache: Path | None,
    url: str,
    archive_size: int | None,
    archive_sha256: str | None,
) -> bytes:
    """The serialized GraphDef: from `weights` (a .pb, or the .tgz), else from the archive
    downloaded once into `<cache>/inception/`."""
    manual = MANUAL.format(url=url)
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(f"eval.weights={weights}: no such file; {manual}.")
        if path.suffix == ".pb":
            return path.read_bytes()
        return _member_bytes(path, "eval.weights")
    if cache is None:
        raise ConfigError(f"no cache folder to download {ARCHIVE} into; {manual}.")
    archive = download(
        url,
        cache / "inception" / ARCHIVE,
        size=archive_size,
        sha256=archive_sha256,
        what=f"the FID Inception graph ({ARCHIVE})",
        manual=manual,
    )
    if archive_sha256 is None:
        # Not pinned (no source we could check publishes it): logged so users can compare.
        log.info("%s sha256 %s", archive, sha256_of(archive))
    return _member_bytes(archive, "the downloaded archive")


def parse_graph(data: bytes, source: str) -> tf.compat.v1.GraphDef:
    """A GraphDef holding the FID Inception's input, pool_3 and logits; one-line errors."""
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as error:  # protobuf's DecodeError has no stable import path
        raise ConfigError(
            f"{source}: not a TensorFlow GraphDef ({type(error).__name__}); give "
            f"{GRAPH_FILE} from {ARCHIVE}."
        ) from error
    names = {node.name for node in graph_def.node}
    missing = [
        n for n in (INPUT.split(":")[0], POOL.split(":")[0], LOGITS_MATMUL) if n not in names
    ]
    if missing:
        raise ConfigError(
            f"{source}: a GraphDef without {', '.join(missing)}: not the FID Inception graph "
            f"({GRAPH_FILE} of {ARCHIVE})."
        )
    return graph_def


def _op(name: str, op: str, inputs: list[str], dtype: int):
    from tensorflow.core.framework import node_def_pb2

    node = node_def_pb2.NodeDef(name=name, op=op, input=inputs)
    node.attr["T"].type = dtype
    return node


def modernize(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """The same graph with ops TF2 functions can run.

    The 2015 graph normalizes with `BatchNormWithGlobalNormalization`, removed at GraphDef
    version 9 (measured on TF 2.21: a function importing it fails with "Op
    BatchNormWithGlobalNormalization is not available in GraphDef version 2474"). Each such
    node becomes the kernel's own formula, (t - m) * (rsqrt(v + eps) * gamma) + beta (gamma
    only with `scale_after_normalization`), under the node's name so its consumers are
    unchanged. Device pins are dropped (the graph was exported on a GPU machine's defaults).
    """
    from tensorflow.core.framework import node_def_pb2

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op != "BatchNormWithGlobalNormalization":
            copied = out.node.add()
            copied.CopyFrom(node)
            copied.device = ""
            continue
        t, mean, var, beta, gamma = list(node.input)[:5]
        dtype = node.attr["T"].type
        base = f"{node.name}/_gantrain"
        eps = node_def_pb2.NodeDef(name=f"{base}_eps", op="Const")
        eps.attr["dtype"].type = dtype
        eps.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(node.attr["variance_epsilon"].f, tf.as_dtype(dtype))
        )
        factor = f"{base}_rsqrt"
        nodes = [
            eps,
            _op(f"{base}_var_eps", "AddV2", [var, eps.name], dtype),
            _op(factor, "Rsqrt", [f"{base}_var_eps"], dtype),
        ]
        if node.attr["scale_after_normalization"].b:
            nodes.append(_op(f"{base}_factor", "Mul", [factor, gamma], dtype))
            factor = f"{base}_factor"
        nodes += [
            _op(f"{base}_centered", "Sub", [t, mean], dtype),
            _op(f"{base}_scaled", "Mul", [f"{base}_centered", factor], dtype),
            _op(node.name, "AddV2", [f"{base}_scaled", beta], dtype),
        ]
        out.node.extend(nodes)
    return out


def import_graph(graph_def: tf.compat.v1.GraphDef):
    """A TF2 function: float32 (N, H, W, 3) in [0, 255] -> (pool (N, D), probs (N, K))."""

    # The input's dtype as the graph declares it (float32 after the JPEG front end's Cast in
    # the 2015 graph; an integer type would take the quantized pixels as they are).
    node = next(n for n in graph_def.node if n.name == INPUT.split(":")[0])
    dtype = tf.as_dtype(node.attr["T"].type) if "T" in node.attr else tf.float32

    def forward(images: tf.Tensor):
        mapped = images if dtype == tf.float32 else tf.cast(tf.round(images), dtype)
        (pool,) = tf.graph_util.import_graph_def(
            graph_def, input_map={INPUT: mapped}, return_elements=[POOL], name=_SCOPE
        )
        graph = tf.compat.v1.get_default_graph()
        weights = graph.get_operation_by_name(f"{_SCOPE}/{LOGITS_MATMUL}").inputs[1]
        pool = tf.squeeze(pool, [1, 2])  # (N, 1, 1, D) -> (N, D)
        return pool, tf.nn.softmax(tf.matmul(pool, weights))

    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    wrapped = tf.compat.v1.wrap_function(forward, [spec])
    # Only what the outputs need: the graph's JPEG-decoding front (an unfed placeholder)
    # and its batch-1 reshape are left out.
    feed = wrapped.graph.inputs[0]
    return wrapped.prune(feeds=[feed], fetches=list(wrapped.outputs))


class FIDInceptionExtractor(FeatureExtractor):
    """2048-d pool_3 features and 1008-way probabilities of the 2015-12-05 Inception graph.

    `weights`: the .tgz or its .pb (`eval.weights`), else `url` is downloaded once into
    `cache` and checked against `archive_size` / `archive_sha256` (None = not checked).
    `resize`: `legacy_tf` (None means this) or `clean`.
    """

    name = "inception_fid"

    def __init__(
        self,
        *,
        url: str,
        archive_size: int | None = None,
        archive_sha256: str | None = None,
        weights: str | None = None,
        cache: Path | None = None,
        resize: str | None = None,
        batch_size: int = 50,
    ) -> None:
        self.resize = resize or "legacy_tf"
        if self.resize not in RESIZES:
            raise ConfigError(f"eval.resize={resize!r}: use one of {', '.join(RESIZES)}.")
        data = graph_bytes(
            weights=weights,
            cache=cache,
            url=url,
            archive_size=archive_size,
            archive_sha256=archive_sha256,
        )
        source = f"eval.weights={weights}" if weights else f"{GRAPH_FILE} of {ARCHIVE}"
        self._forward = import_graph(modernize(parse_graph(data, source)))
        self.weights = f"{GRAPH_FILE} sha256:{hashlib.sha256(data).hexdigest()[:16]}"
        self.batch_size = batch_size
        probe_pool, probe_probs = self._forward(tf.zeros((1, SIZE, SIZE, 3), tf.float32))
        self.dimension = int(probe_pool.shape[-1])
        self.num_classes = int(probe_probs.shape[-1])

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """[-1, 1] images -> what the graph's ExpandDims:0 takes under this resize protocol."""
        pixels = to_pixels(images)
        if self.resize == "clean":
            return clean_resize(pixels)
        return pixels.astype(np.float32)

    def __call__(self, images: np.ndarray) -> Features:
        pools, probs = [], []
        for chunk in batched(images, self.batch_size):
            pool, prob = self._forward(tf.convert_to_tensor(self.prepare(chunk)))
            pools.append(pool.numpy())
            probs.append(prob.numpy())
        return Features(np.concatenate(pools), np.concatenate(probs))

    def describe(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "network": f"TF Inception 2015-12-05 graph: pool_3 ({self.dimension}) + "
            f"softmax/logits without bias ({self.num_classes})",
            "weights": self.weights,
            "resize": RESIZES[self.resize],
        }
