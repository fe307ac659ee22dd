"""ImageNet top-k with ResNet-50 (shipped class names, origin preprocessing) and the domain
classifier's class-level scores."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from gantrain.errors import ConfigError
from gantrain.eval.base import Batch, Features
from gantrain.eval.classification.cas import ClassAccuracyEvaluator
from gantrain.eval.classification.imagenet import (
    ImageNetEvaluator,
    ResNet50Classifier,
    imagenet_classes,
    preprocess,
    top_k,
)
from gantrain.eval.reference import stats_from_features


def test_class_names_ship_with_the_package() -> None:
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert classes[0] == ("n01440764", "tench")
    assert classes[388] == ("n02510455", "giant panda")
    assert classes[999] == ("n15075141", "toilet paper")
    wnids = [wnid for wnid, _ in classes]
    assert wnids == sorted(wnids)  # Keras's class order: sorted WordNet ids


def test_top_k_names_the_most_probable_classes() -> None:
    probs = np.zeros((2, 1000), np.float32)
    probs[0, [388, 0, 5]] = [0.7, 0.2, 0.1]
    probs[1, 999] = 1.0
    best = top_k(probs, 2)
    assert [p["label"] for p in best[0]] == ["giant panda", "tench"]
    assert best[0][0] == {
        "index": 388, "wnid": "n02510455", "label": "giant panda",
        "probability": pytest.approx(0.7),
    }  # fmt: skip
    assert best[1][0]["label"] == "toilet paper"


def test_preprocess_resizes_the_shorter_side_and_crops_the_center() -> None:
    # 300x600: shorter side -> 256 (256x512), center crop 224 keeps columns 144..368 of 512,
    # i.e. the middle of the original. Paint the original's center red, the sides blue.
    image = np.zeros((300, 600, 3), np.uint8)
    image[..., 2] = 255
    image[:, 150:450] = [255, 0, 0]
    out = preprocess(image)
    assert out.shape == (224, 224, 3)
    # caffe mode: BGR order, ImageNet means subtracted, no scaling.
    np.testing.assert_allclose(out[112, 112], [0 - 103.939, 0 - 116.779, 255 - 123.68], atol=0.5)
    np.testing.assert_allclose(
        out[:, 0], np.tile([-103.939, -116.779, 255 - 123.68], (224, 1)), atol=0.5
    )


@pytest.mark.slow
def test_resnet50_loads_local_weights_and_classifies(tmp_path: Path) -> None:
    keras.utils.set_random_seed(2)
    network = keras.applications.ResNet50(weights=None, include_top=True)
    path = tmp_path / "resnet50.weights.h5"
    network.save_weights(path)
    evaluator = ImageNetEvaluator(weights=str(path), batch_size=2)
    classifier = evaluator.classifier
    images = [
        np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
        for i, (h, w) in enumerate([(256, 256), (300, 400), (500, 240)])
    ]
    probs = classifier(images)
    assert probs.shape == (3, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    expected = network(np.stack([preprocess(i) for i in images])).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
    assert classifier.describe()["weights"].startswith("resnet50.weights.h5 sha256:")

    evaluator.reset()
    evaluator.update(
        Batch(np.random.default_rng(5).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32))
    )
    result = evaluator.result()
    assert set(result) == set(evaluator.metric_names())
    assert 1 <= result["imagenet_classes_found"] <= 4
    assert 0.25 <= result["imagenet_top_class_share"] <= 1.0


def test_resnet50_missing_weights_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        ResNet50Classifier(weights=str(tmp_path / "resnet.h5"))
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in str(caught.value)


class OneHotExtractor:
    """Pretends to classify: the 'prediction' is stored in the first pixel."""

    name = "fake"
    num_classes = 4

    def __call__(self, images):
        predicted = images[:, 0, 0, 0].astype(int)
        return Features(np.zeros((len(images), 2), np.float32), np.eye(4)[predicted])

    def describe(self):
        return {"extractor": "fake", "weights": "none", "resize": "none"}


def _batch(predicted, labels=None) -> Batch:
    images = np.zeros((len(predicted), 2, 2, 1), np.float32)
    images[:, 0, 0, 0] = predicted
    return Batch(images, None if labels is None else np.asarray(labels))


def _reference(labels):
    return lambda: stats_from_features(np.zeros((len(labels), 2)), labels=np.asarray(labels))


def test_classification_accuracy_score_against_requested_labels() -> None:
    evaluator = ClassAccuracyEvaluator(
        extractor=OneHotExtractor(), reference=_reference([0, 1, 2, 3]), conditional=True
    )
    evaluator.reset()
    evaluator.update(_batch([0, 1, 1, 3], labels=[0, 1, 2, 3]))
    evaluator.update(_batch([0, 0], labels=[0, 1]))
    result = evaluator.result()
    assert set(result) == set(evaluator.metric_names())
    assert result["cas"] == pytest.approx(4 / 6)
    assert [result[f"cas_{k}"] for k in range(4)] == [1.0, 0.5, 0.0, 1.0]
    assert [result[f"class_share_{k}"] for k in range(4)] == pytest.approx([3 / 6, 2 / 6, 0, 1 / 6])
    assert result["modes_covered"] == 3.0
    expected_kl = sum(p * np.log(p / 0.25) for p in (3 / 6, 2 / 6, 1 / 6))
    assert result["class_kl"] == pytest.approx(expected_kl, rel=1e-6)


def test_class_coverage_of_an_unconditional_generator() -> None:
    evaluator = ClassAccuracyEvaluator(
        extractor=OneHotExtractor(),
        reference=_reference([0, 0, 1, 2, 3, 3]),  # real shares 1/3, 1/6, 1/6, 1/3
        conditional=False,
        coverage_threshold=0.5,
    )
    assert not any(name.startswith("cas") for name in evaluator.metric_names())
    evaluator.reset()
    evaluator.update(_batch([0] * 10 + [1] * 9 + [3]))  # class 3 at 1/20 < 0.5 * 1/3
    result = evaluator.result()
    assert result["modes_covered"] == 2.0
    balanced = ClassAccuracyEvaluator(
        extractor=OneHotExtractor(), reference=_reference([0, 1, 2, 3]), conditional=False
    )
    balanced.reset()
    balanced.update(_batch([0, 1, 2, 3] * 5))
    assert balanced.result()["class_kl"] == pytest.approx(0.0, abs=1e-9)
    assert balanced.result()["modes_covered"] == 4.0


def test_confidence_is_the_mean_top_class_probability() -> None:
    class SoftExtractor(OneHotExtractor):
        def __call__(self, images):
            top = images[:, 0, 0, 0]  # the top-class probability, on class 0
            rest = (1.0 - top)[:, None] / 3.0
            probs = np.concatenate([top[:, None], np.repeat(rest, 3, axis=1)], axis=1)
            return Features(np.zeros((len(images), 2), np.float32), probs)

    evaluator = ClassAccuracyEvaluator(
        extractor=SoftExtractor(), reference=_reference([0, 1, 2, 3]), conditional=False
    )
    evaluator.reset()
    evaluator.update(_batch([1.0, 0.5]))
    evaluator.update(_batch([0.25]))  # a tie: the top probability is still 0.25
    assert evaluator.result()["confidence"] == pytest.approx((1.0 + 0.5 + 0.25) / 3)
