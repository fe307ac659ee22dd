"""The FID Inception extractor against a tiny stand-in graph with the real tensor names, and
its download against a local HTTP server (tests never touch the network)."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gantrain.errors import ConfigError
from gantrain.eval.extractors.inception_fid import FIDInceptionExtractor

CHANNELS, CLASSES = 4, 5
DIM = 2 * CHANNELS  # pool_3 concatenates two towers


def tiny_fid_graph(
    seed: int = 0, *, cast_first: bool = True
) -> tuple[bytes, dict[str, np.ndarray]]:
    """A GraphDef shaped like classify_image_graph_def.pb: JPEG front end with batch 1
    (DecodeJpeg -> Cast -> ExpandDims), the legacy ResizeBilinear to 299, (x - 128) / 128, a
    1x1 convolution, the 2015 graph's BatchNormWithGlobalNormalization and old Concat op, and a
    mean standing in for Inception, pool_3 (1, 1, 1, D), the batch-1
    `pool_3/_reshape` and softmax/logits (MatMul + bias). Shapes are recorded with batch 1,
    like the original's."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv": rng.normal(size=(3, CHANNELS)).astype(np.float32),
        "softmax": rng.normal(size=(DIM, CLASSES)).astype(np.float32),
        "bias": rng.normal(size=(CLASSES,)).astype(np.float32),
        # conv/batchnorm: BatchNormWithGlobalNormalization's mean, variance, beta, gamma
        "bn": rng.uniform(0.5, 2.0, size=(4, CHANNELS)).astype(np.float32),
    }
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        if cast_first:  # as in the 2015 graph (so ExpandDims:0 is float32)
            expanded = tf.expand_dims(
                tf.cast(decoded, tf.float32, name="Cast"), 0, name="ExpandDims"
            )
        else:  # a uint8 ExpandDims:0, should a graph declare it so
            expanded = tf.cast(tf.expand_dims(decoded, 0, name="ExpandDims"), tf.float32)
        resized = tf.raw_ops.ResizeBilinear(
            images=expanded, size=[299, 299], align_corners=False, name="ResizeBilinear"
        )
        normed = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1 / 128.0, name="Mul")
        kernel = tf.constant(weights["conv"][None, None], name="conv/conv2d_params")
        conv = tf.nn.conv2d(normed, kernel, 1, "VALID", name="conv/Conv2D")
        for i, part in enumerate(("moving_mean", "moving_variance", "beta", "gamma")):
            tf.constant(weights["bn"][i], name=f"conv/batchnorm/{part}")
        # Stands in for the BatchNormWithGlobalNormalization node spliced in below.
        normalized = tf.identity(conv, name="conv/batchnorm")
        # The graph's inception blocks join towers with the old Concat op (concat_dim first).
        join = tf.raw_ops.Concat(
            concat_dim=tf.constant(3, name="mixed/join/concat_dim"),
            values=[normalized, 2.0 * normalized],
            name="mixed/join",
        )
        pool = tf.reduce_mean(join, [1, 2], keepdims=True, name="pool_3")
        flat = tf.reshape(pool, [1, DIM], name="pool_3/_reshape")
        matmul = tf.matmul(flat, tf.constant(weights["softmax"], name="softmax/weights"),
                           name="softmax/logits/MatMul")  # fmt: skip
        logits = tf.nn.bias_add(matmul, tf.constant(weights["bias"]), name="softmax/logits")
        tf.nn.softmax(logits, name="softmax")
    graph_def = graph.as_graph_def(add_shapes=True)
    # The 2015 graph's batch norm: an op TF removed at GraphDef version 9, which current TF
    # refuses to create, so the node is written into the GraphDef by hand.
    node = next(n for n in graph_def.node if n.name == "conv/batchnorm")
    node.op = "BatchNormWithGlobalNormalization"
    del node.input[:]
    node.input.extend(["conv/Conv2D"] + [f"conv/batchnorm/{p}" for p in
                      ("moving_mean", "moving_variance", "beta", "gamma")])  # fmt: skip
    node.attr["variance_epsilon"].f = 0.001
    node.attr["scale_after_normalization"].b = True
    graph_def.versions.producer = 5  # older than the op's removal, like the original
    return graph_def.SerializeToString(), weights


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    data, weights = tiny_fid_graph()
    path = tmp_path_factory.mktemp("fid_graph") / "classify_image_graph_def.pb"
    path.write_bytes(data)
    return path, weights


def legacy_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """TF1 ResizeBilinear (align_corners=False, no half-pixel centers), written out in numpy:
    source coordinate = out * (in / out), neighbours floor and floor + 1 (clamped)."""

    def weights_1d(n_in: int) -> np.ndarray:
        src = np.arange(size) * (n_in / size)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        matrix = np.zeros((size, n_in))
        matrix[np.arange(size), low] += 1 - (src - low)
        matrix[np.arange(size), high] += src - low
        return matrix

    rows, cols = weights_1d(image.shape[0]), weights_1d(image.shape[1])
    return np.einsum("ih,hwc,jw->ijc", rows, image.astype(np.float64), cols)


def expected_features(inputs: np.ndarray, weights: dict[str, np.ndarray]):
    """pool and probabilities of the stand-in network for graph inputs (N, 299, 299, 3)."""
    mean, variance, beta, gamma = weights["bn"]
    conv = ((inputs - 128.0) / 128.0) @ weights["conv"]
    tower = ((conv - mean) / np.sqrt(variance + 0.001) * gamma + beta).mean(axis=(1, 2))
    pool = np.concatenate([tower, 2.0 * tower], axis=-1)
    logits = pool @ weights["softmax"]  # no bias: Salimans et al.'s IS, stylegan2-ada
    probs = np.exp(logits - logits.max(1, keepdims=True))
    return pool, probs / probs.sum(1, keepdims=True)


def _images(n: int = 5, size: int = 32, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (n, size, size, channels)).astype(np.float32)


def _pixels(images: np.ndarray) -> np.ndarray:
    pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255)
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def test_legacy_tf_is_the_graphs_own_bilinear_resize_batched(graph_file) -> None:
    path, weights = graph_file
    extractor = FIDInceptionExtractor(url="unused", weights=str(path), batch_size=2)
    images = _images()
    features = extractor(images)  # batches of 2, 2, 1 through one batch-1 graph
    resized = np.stack([legacy_bilinear(p, 299) for p in _pixels(images)])
    pool, probs = expected_features(resized, weights)
    np.testing.assert_allclose(features.pool, pool, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(features.probs, probs, rtol=1e-4, atol=1e-6)
    assert extractor.num_classes == CLASSES and extractor.dimension == DIM
    described = extractor.describe()
    assert described["extractor"] == "inception_fid"
    assert described["resize"].startswith("legacy_tf:")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert described["weights"] == f"classify_image_graph_def.pb sha256:{digest}"
    # A graph whose ExpandDims:0 is uint8 takes the same (quantized) pixels.
    uint8_graph = path.with_name("uint8_input.pb")
    uint8_graph.write_bytes(tiny_fid_graph(cast_first=False)[0])
    as_uint8 = FIDInceptionExtractor(url="unused", weights=str(uint8_graph))
    np.testing.assert_allclose(as_uint8(images).pool, features.pool, rtol=1e-5, atol=1e-6)
    # Grayscale goes in as three equal channels.
    gray = _images(2, 28, 1)
    np.testing.assert_allclose(extractor(gray).pool, extractor(np.repeat(gray, 3, -1)).pool)


def test_clean_resize_is_pil_bicubic_per_channel_in_float(graph_file) -> None:
    path, weights = graph_file
    extractor = FIDInceptionExtractor(url="unused", weights=str(path), resize="clean")
    images = _images(3, 40)
    expected_inputs = np.stack([
        np.stack([
            np.asarray(
                Image.fromarray(p[:, :, c].astype(np.float32)).resize((299, 299), Image.BICUBIC)
            ).clip(0, 255)
            for c in range(3)
        ], axis=-1)
        for p in _pixels(images)
    ])  # fmt: skip
    pool, _ = expected_features(expected_inputs, weights)
    np.testing.assert_allclose(extractor(images).pool, pool, rtol=1e-4, atol=1e-5)
    assert extractor.describe()["resize"].startswith("clean:")
    legacy = FIDInceptionExtractor(url="unused", weights=str(path))
    assert not np.allclose(legacy(images).pool, pool, atol=1e-4)  # the protocol matters
    with pytest.raises(ConfigError, match="eval.resize='area': use one of legacy_tf, clean"):
        FIDInceptionExtractor(url="unused", weights=str(path), resize="area")


def _tgz(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_weights_as_archive_and_one_line_errors(graph_file, tmp_path: Path) -> None:
    path, _ = graph_file
    archive = tmp_path / "inception-2015-12-05.tgz"
    archive.write_bytes(_tgz("./classify_image_graph_def.pb", path.read_bytes()))
    from_archive = FIDInceptionExtractor(url="unused", weights=str(archive))
    from_graph = FIDInceptionExtractor(url="unused", weights=str(path))
    images = _images(2)
    np.testing.assert_allclose(from_archive(images).pool, from_graph(images).pool)
    assert from_archive.describe()["weights"] == from_graph.describe()["weights"]

    other = tmp_path / "other.tgz"
    other.write_bytes(_tgz("README", b"hello"))
    with pytest.raises(ConfigError, match="holds no classify_image_graph_def.pb"):
        FIDInceptionExtractor(url="unused", weights=str(other))
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xfe not a protobuf")
    with pytest.raises(ConfigError, match="not a TensorFlow GraphDef"):
        FIDInceptionExtractor(url="unused", weights=str(junk))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.placeholder(tf.float32, [None, 3], name="ExpandDims")
    wrong = tmp_path / "wrong.pb"
    wrong.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(ConfigError, match="without pool_3, softmax/logits/MatMul: not the FID"):
        FIDInceptionExtractor(url="unused", weights=str(wrong))
    with pytest.raises(ConfigError, match="no such file"):
        FIDInceptionExtractor(url="unused", weights=str(tmp_path / "missing.tgz"))


class _Server:
    """A one-file HTTP server on 127.0.0.1: `body` is served, `cut` bytes short when set."""

    def __init__(self) -> None:
        self.body, self.cut, self.requests = b"", 0, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server API's name
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body[: len(server.body) - server.cut])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/inception-2015-12-05.tgz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    served = _Server()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def test_download_once_verified_and_nothing_half_written(graph_file, server, tmp_path) -> None:
    path, _ = graph_file
    server.body = _tgz("classify_image_graph_def.pb", path.read_bytes())
    good = hashlib.sha256(server.body).hexdigest()
    cache = tmp_path / "cache"
    folder = cache / "inception"

    def build(**kw):
        return FIDInceptionExtractor(url=server.url, cache=cache, **kw)

    # A wrong checksum: one line, and no file left in the cache.
    with pytest.raises(ConfigError) as caught:
        build(archive_size=len(server.body), archive_sha256="0" * 64)
    message = str(caught.value)
    assert "sha256" in message and "expected 0000" in message and "\n" not in message
    assert "eval.weights=PATH" in message
    assert not folder.exists() or list(folder.iterdir()) == []
    # The connection drops halfway (Content-Length promised more): one line, nothing kept.
    server.cut = len(server.body) // 2
    with pytest.raises(ConfigError, match=r"stopped after \d+ of \d+ bytes .*nothing was kept"):
        build(archive_size=len(server.body), archive_sha256=good)
    assert list(folder.iterdir()) == []
    # A server that sends a shorter file whole: the size check catches it.
    server.body, server.cut = server.body[:-10], 0
    with pytest.raises(ConfigError, match=r"bytes, expected \d+"):
        build(archive_size=len(server.body) + 10, archive_sha256=None)
    assert list(folder.iterdir()) == []
    # The real thing: downloaded once, then read from the cache.
    server.body = _tgz("classify_image_graph_def.pb", path.read_bytes())
    good = hashlib.sha256(server.body).hexdigest()
    before = server.requests
    extractor = build(archive_size=len(server.body), archive_sha256=good)
    assert [p.name for p in folder.iterdir()] == ["inception-2015-12-05.tgz"]
    build(archive_size=len(server.body), archive_sha256=good)
    assert server.requests == before + 1
    assert extractor(_images(2)).pool.shape == (2, DIM)
    # A cached file that no longer verifies is downloaded again.
    (folder / "inception-2015-12-05.tgz").write_bytes(b"corrupt")
    build(archive_size=len(server.body), archive_sha256=good)
    assert server.requests == before + 2
