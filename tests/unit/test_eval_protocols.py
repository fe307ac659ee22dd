"""Named protocols, the startup check of evaluator settings, the protocol record, extractors
built from their YAML, published reference statistics, and DINOv2 with a tiny backbone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gantrain.config import load_run_config
from gantrain.data.cifar10 import Cifar10Source
from gantrain.data.mnist import MnistSource
from gantrain.errors import ConfigError, DatasetError, GantrainError
from gantrain.eval.callback import eval_settings_for
from gantrain.eval.extractors.domain import DomainClassifierExtractor
from gantrain.eval.extractors.registry import build_extractor, extractor_names
from gantrain.eval.metrics.fid import FEW_IMAGES
from gantrain.eval.reference import read_reference_stats, write_reference_stats
from gantrain.eval.runner import Evaluation, append_metric_files, image_batches
from gantrain.eval.settings import PROTOCOLS, EvalSettings, check_evaluator_counts
from tests.conftest import compose_config

FID = {"_target_": "gantrain.eval.metrics.fid.FIDEvaluator"}
KID = {"_target_": "gantrain.eval.metrics.kid.KIDEvaluator", "subset_size": 1000}
IS = {"_target_": "gantrain.eval.metrics.inception_score.InceptionScoreEvaluator", "splits": 10}
PR = {"_target_": "gantrain.eval.metrics.precision_recall.PrecisionRecallEvaluator", "k": 3}
DC = {"_target_": "gantrain.eval.metrics.density_coverage.DensityCoverageEvaluator"}


def _eval_settings(*overrides: str) -> EvalSettings:
    from gantrain.eval.settings import load_eval_settings

    return load_eval_settings(compose_config("evaluate", ["eval=fid", *overrides]))


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_named_protocol_fixes_its_counts_and_split(name: str) -> None:
    named = PROTOCOLS[name]
    settings = _eval_settings(f"eval.protocol={name}")
    assert (settings.num_samples, settings.num_real, settings.real_split) == (
        named.num_samples,
        named.num_real,
        named.real_split,
    )
    assert settings.protocol_name == name and named.reproduces
    if name != "default":
        with pytest.raises(ConfigError, match=f"eval.protocol={name} fixes num_samples"):
            _eval_settings(f"eval.protocol={name}", "eval.num_samples=1000")
    assert PROTOCOLS["fid50k_full"].num_samples == 50_000
    assert PROTOCOLS["fid50k_full"].num_real is None  # the full training set
    assert (PROTOCOLS["fid10k_test"].num_samples, PROTOCOLS["fid10k_test"].real_split) == (
        10_000,
        "test",
    )


def test_default_with_own_counts_is_recorded_as_custom() -> None:
    assert _eval_settings("eval.num_samples=10000").protocol_name == "default"
    assert _eval_settings("eval.num_samples=500").protocol_name == "custom"
    with pytest.raises(ConfigError, match="eval.protocol='fid5k': use one of default, "):
        _eval_settings("eval.protocol=fid5k")


def test_settings_that_cannot_work_fail_at_startup_in_one_line() -> None:
    def check(evaluators: dict, **counts):
        settings = EvalSettings(evaluators=evaluators, **counts)
        return check_evaluator_counts(settings)

    with pytest.raises(ConfigError, match=r"eval.is: 5 generated images .* into 10 splits"):
        check({"is": IS}, num_samples=5)
    with pytest.raises(ConfigError, match=r"eval.pr: k=3 nearest neighbours .* gets 3"):
        check({"pr": PR}, num_samples=100, num_real=3)
    with pytest.raises(ConfigError, match=r"eval.dc: k=5 nearest neighbours"):
        check({"dc": DC}, num_samples=5, num_real=100)  # k's default from the signature
    with pytest.raises(ConfigError, match="eval.fid: needs at least 2 generated"):
        check({"fid": FID}, num_samples=1)
    # Numbers that would mean nothing: one warning line each, naming the evaluator.
    warnings = check({"fid": FID, "kid": KID, "is": IS}, num_samples=64, num_real=128)
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert warnings[0].startswith("eval.fid: FID from 64 generated and 128 real images means")
    assert warnings[1].startswith("eval.kid: KID from subsets of 64 images means nothing")
    assert check({"fid": FID, "kid": KID}, num_samples=FEW_IMAGES, num_real=None) == []


def test_train_refuses_impossible_evaluator_settings_before_building(tiny_overrides) -> None:
    cfg = compose_config(
        "train", [*tiny_overrides, "trainer.eval_every=2", "eval=[fid,is]", "eval.num_samples=4"]
    )
    with pytest.raises(ConfigError, match="eval.is: 4 generated images .* 10 splits"):
        eval_settings_for(load_run_config(cfg))


def test_protocol_record_names_the_protocol_everywhere(tiny_mnist: Path, tmp_path: Path) -> None:
    settings = EvalSettings(evaluators={"fid": FID}, protocol="fid10k_test")
    evaluation = Evaluation(
        settings, MnistSource(path=str(tiny_mnist)), num_classes=10, conditional=False
    )
    assert evaluation.tag_name() == "fid10k_test_domain"  # TensorBoard: eval/<this>/fid
    images = np.random.default_rng(0).uniform(-1, 1, (40, 28, 28, 1)).astype(np.float32)
    results, protocol = evaluation.score(image_batches(images, None, 16))
    assert protocol["name"] == "fid10k_test"
    assert protocol["real_split"] == "test" and protocol["num_real"] == 64  # the whole split
    assert protocol["real_selection"] == "every image of the split"
    assert protocol["extractor"] == "domain"
    # 40 images: FID says its number means nothing, in the evaluator's protocol.
    assert "means nothing" in protocol["evaluators"]["fid"]["warning"]
    append_metric_files(tmp_path, 7, results, protocol)
    line = json.loads((tmp_path / "metric-fid.jsonl").read_text().splitlines()[-1])
    assert line["step"] == 7 and line["protocol"]["name"] == "fid10k_test"
    assert line["protocol"]["warning"].startswith("FID from 40 generated")


def test_extractors_are_built_from_their_yaml(tmp_path: Path) -> None:
    assert {"auto", "domain", "inception", "inception_fid", "dinov2"} <= set(extractor_names())
    extractor = build_extractor("domain", dataset="mnist", cache=tmp_path)
    assert isinstance(extractor, DomainClassifierExtractor) and extractor.batch_size == 250
    with pytest.raises(ConfigError, match="eval.resize=clean: extractor domain takes no resize"):
        build_extractor("domain", dataset="mnist", cache=tmp_path, resize="clean")
    # Not the eval.extractor (an evaluator's own): the settings serve the other one.
    lenient = build_extractor(
        "domain", strict=False, dataset="mnist", cache=tmp_path, resize="clean"
    )
    assert isinstance(lenient, DomainClassifierExtractor)
    with pytest.raises(ConfigError, match="eval.extractor='vgg': use one of auto, "):
        build_extractor("vgg")


def test_rgb_data_defaults_to_the_fid_inception_graph(tiny_cifar10, tmp_path: Path) -> None:
    from tests.unit.test_eval_inception_fid import tiny_fid_graph

    graph = tmp_path / "classify_image_graph_def.pb"
    graph.write_bytes(tiny_fid_graph()[0])
    root, _ = tiny_cifar10
    settings = EvalSettings(evaluators={"fid": FID}, weights=str(graph), resize="clean")
    evaluation = Evaluation(
        settings, Cifar10Source(path=str(root)), num_classes=10, conditional=False
    )
    images = np.random.default_rng(0).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    _, protocol = evaluation.score(image_batches(images, None, 4))
    assert protocol["extractor"] == "inception_fid" and protocol["resize"].startswith("clean:")
    assert protocol["weights"].startswith("classify_image_graph_def.pb sha256:")
    assert evaluation.tag_name() == "default_inception_fid"


def test_reference_stats_round_trip_in_the_ttur_layout(tiny_mnist: Path, tmp_path: Path) -> None:
    source = MnistSource(path=str(tiny_mnist))
    images = np.random.default_rng(0).uniform(-1, 1, (30, 28, 28, 1)).astype(np.float32)
    direct = Evaluation(
        EvalSettings(evaluators={"fid": FID}), source, num_classes=10, conditional=False
    )
    fid_direct = direct.score(image_batches(images, None, 16))[0]["fid"]["fid"]
    stats = direct.real.stats(direct.extractor())
    path = tmp_path / "mnist_stats.npz"
    write_reference_stats(path, stats, {"name": "default", "extractor": "domain"})
    with np.load(path, allow_pickle=False) as archive:  # what TTUR / pytorch-fid read
        assert archive["mu"].shape == (128,) and archive["sigma"].shape == (128, 128)
        assert archive["mu"].dtype == np.float64
    moments, record = read_reference_stats(path)
    np.testing.assert_array_equal(moments.cov, stats.cov)
    assert record["dimension"] == 128 and record["source"]["extractor"] == "domain"
    published = Evaluation(
        EvalSettings(evaluators={"fid": FID}, reference_stats=str(path)),
        source,
        num_classes=10,
        conditional=False,
    )
    results, protocol = published.score(image_batches(images, None, 16))
    assert results["fid"]["fid"] == pytest.approx(fid_direct, rel=1e-9)
    assert protocol["reference_stats"]["file"] == str(path) and "num_real" not in protocol
    with pytest.raises(ConfigError, match="eval.kid: needs the real images' features"):
        Evaluation(
            EvalSettings(evaluators={"kid": KID}, reference_stats=str(path)),
            source,
            num_classes=10,
            conditional=False,
        )
    np.savez(tmp_path / "wrong.npz", mu=np.zeros(4), sigma=np.eye(4))
    wrong = Evaluation(
        EvalSettings(evaluators={"fid": FID}, reference_stats=str(tmp_path / "wrong.npz")),
        source,
        num_classes=10,
        conditional=False,
    )
    with pytest.raises(ConfigError, match="reference statistics have 4 dimensions, .* 128"):
        wrong.score(image_batches(images, None, 16))
    np.savez(tmp_path / "other.npz", mean=np.zeros(4))
    with pytest.raises(DatasetError, match="eval.reference_stats=.*has no mu, sigma"):
        read_reference_stats(tmp_path / "other.npz")
    np.savez(tmp_path / "bad.npz", mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(GantrainError, match="mu has shape"):
        read_reference_stats(tmp_path / "bad.npz")


def test_dinov2_cls_features_with_dgm_eval_preprocessing(tmp_path: Path) -> None:
    from keras_hub.models import DINOV2Backbone
    from PIL import Image

    from gantrain.eval.extractors.dinov2 import DINOv2Extractor

    backbone = DINOV2Backbone(
        patch_size=14,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        image_shape=(28, 28, 3),
        position_embedding_shape=(28, 28, 3),
    )  # fmt: skip: the same class as the presets, tiny and random
    extractor = DINOv2Extractor(backbone=backbone, batch_size=3)
    images = np.random.default_rng(0).uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    features = extractor(images)
    assert features.pool.shape == (5, 16) and features.probs is None
    # dgm-eval: uint8 -> PIL bicubic to the input size -> [0, 1] -> ImageNet mean/std.
    pixels = np.clip(np.rint((images + 1) * 127.5), 0, 255).astype(np.uint8)
    prepared = np.stack([
        np.asarray(Image.fromarray(p).resize((28, 28), Image.BICUBIC), np.float32) / 255
        for p in pixels
    ])  # fmt: skip
    prepared = (prepared - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    cls = backbone({"images": prepared.astype(np.float32)})[:, 0]
    np.testing.assert_allclose(features.pool, np.asarray(cls), rtol=1e-4, atol=1e-5)
    described = extractor.describe()
    assert described["extractor"] == "dinov2" and described["resize"].startswith("dgm-eval")
    # Offline: a preset folder (what eval.weights=DIR takes), built at the requested size.
    backbone.save_to_preset(str(tmp_path / "preset"))
    loaded = DINOv2Extractor(weights=str(tmp_path / "preset"), image_size=28)
    np.testing.assert_allclose(loaded(images).pool, features.pool, rtol=1e-5, atol=1e-6)
    assert loaded.describe()["weights"] == f"keras-hub preset {tmp_path / 'preset'}"
    with pytest.raises(ConfigError, match="eval.weights=.*not a folder"):
        DINOv2Extractor(weights="/nonexistent/preset")
