"""Metrics from activations against closed forms and constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from gantrain.eval.metrics.fid import fid_from_features, frechet_distance, sqrtm_psd
from gantrain.eval.metrics.inception_score import inception_score
from gantrain.eval.metrics.kid import kid_from_features, mmd2_unbiased
from gantrain.eval.metrics.precision_recall import knn_radii, precision_recall


def _spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.standard_normal((dim, dim))
    return a @ a.T + 0.1 * np.eye(dim)


def test_sqrtm_psd_squares_back() -> None:
    matrix = _spd(np.random.default_rng(0), 6)
    root = sqrtm_psd(matrix)
    np.testing.assert_allclose(root @ root, matrix, atol=1e-9)


def test_fid_of_a_set_with_itself_is_zero() -> None:
    features = np.random.default_rng(1).standard_normal((500, 32)).astype(np.float32)
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-6)
    other = features + 0.5
    assert fid_from_features(features, other) == pytest.approx(32 * 0.25, rel=1e-6)


def test_fid_matches_the_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(2)
    mean1, mean2 = rng.standard_normal(8), rng.standard_normal(8)
    var1, var2 = rng.uniform(0.5, 2, 8), rng.uniform(0.5, 2, 8)
    expected = ((mean1 - mean2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    got = frechet_distance(mean1, np.diag(var1), mean2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fid_matches_eigenvalues_of_the_covariance_product() -> None:
    rng = np.random.default_rng(3)
    cov1, cov2 = _spd(rng, 10), _spd(rng, 10)
    mean1, mean2 = rng.standard_normal(10), rng.standard_normal(10)
    # tr((S1 S2)^(1/2)) = sum of square roots of the (real, positive) eigenvalues of S1 S2.
    trace_root = np.sqrt(np.linalg.eigvals(cov1 @ cov2).real).sum()
    expected = ((mean1 - mean2) ** 2).sum() + np.trace(cov1 + cov2) - 2 * trace_root
    assert frechet_distance(mean1, cov1, mean2, cov2) == pytest.approx(expected, rel=1e-8)


def test_fid_from_samples_approaches_the_gaussians_closed_form() -> None:
    rng = np.random.default_rng(4)
    n = 200_000
    a = rng.normal(0.0, 1.0, (n, 2))
    b = rng.normal([1.0, -1.0], [2.0, 0.5], (n, 2))
    expected = 2.0 + (1 + 4 - 2 * 2) + (1 + 0.25 - 2 * 0.5)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=0.02)


def test_kid_of_identical_distributions_is_near_zero() -> None:
    rng = np.random.default_rng(5)
    real = rng.standard_normal((1000, 16))
    generated = rng.standard_normal((1000, 16))
    mean, std = kid_from_features(real, generated, subsets=50, subset_size=300)
    assert abs(mean) < 3 * std / np.sqrt(50) + 1e-4
    shifted = kid_from_features(real, generated + 0.5, subsets=50, subset_size=300)[0]
    assert shifted > 20 * max(abs(mean), 1e-4)


def test_kid_is_unbiased_small_subsets_agree_with_large_ones() -> None:
    """The estimator's mean does not depend on the subset size (a V-statistic's would)."""
    rng = np.random.default_rng(6)
    real = rng.standard_normal((4000, 4))
    generated = rng.standard_normal((4000, 4)) * 1.3 + 0.2
    large = kid_from_features(real, generated, subsets=10, subset_size=1500, seed=1)[0]
    small = kid_from_features(real, generated, subsets=3000, subset_size=10, seed=2)[0]
    assert small == pytest.approx(large, rel=0.1)
    # The biased estimator (diagonal kept) would be far off with 10 samples per subset.
    x, y = generated[:10], real[:10]
    biased = (
        ((x @ x.T / 4 + 1) ** 3).mean() + ((y @ y.T / 4 + 1) ** 3).mean()
        - 2 * ((x @ y.T / 4 + 1) ** 3).mean()
    )  # fmt: skip
    assert biased > mmd2_unbiased(x, y) + 0.1


def test_inception_score_bounds() -> None:
    uniform = np.full((1000, 10), 0.1)
    assert inception_score(uniform, splits=10)[0] == pytest.approx(1.0)
    confident = np.eye(10)[np.arange(1000) % 10]
    mean, std = inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    one_class = np.eye(10)[np.zeros(1000, int)]
    assert inception_score(one_class, splits=5)[0] == pytest.approx(1.0)
    half = np.eye(10)[np.arange(1000) % 5]
    assert inception_score(half, splits=10)[0] == pytest.approx(5.0, rel=1e-6)


def test_knn_radii_on_a_line() -> None:
    points = np.arange(10, dtype=np.float64)[:, None]
    np.testing.assert_allclose(knn_radii(points, 1), np.ones(10))
    radii = knn_radii(points, 3)
    assert radii[0] == 9.0 and radii[5] == 4.0  # squared distances to the 3rd neighbour


def test_precision_recall_on_point_clouds_with_known_overlap() -> None:
    rng = np.random.default_rng(7)
    real = rng.uniform(0, 1, (3000, 2))
    same = rng.uniform(0, 1, (3000, 2))
    precision, recall = precision_recall(real, same, k=3)
    assert precision > 0.95 and recall > 0.95
    # Half of the generated square overlaps the real one, and vice versa.
    shifted = rng.uniform(0, 1, (3000, 2)) + np.array([0.5, 0.0])
    precision, recall = precision_recall(real, shifted, k=3)
    assert precision == pytest.approx(0.5, abs=0.04)
    assert recall == pytest.approx(0.5, abs=0.04)
    # A generated cloud inside a quarter of the real square: precise, poor recall.
    inner = rng.uniform(0, 0.5, (3000, 2))
    precision, recall = precision_recall(real, inner, k=3)
    assert precision > 0.95 and recall == pytest.approx(0.25, abs=0.04)
    far = rng.uniform(5, 6, (3000, 2))
    assert precision_recall(real, far, k=3) == (0.0, 0.0)


def test_density_and_coverage_of_a_hand_computed_case() -> None:
    from gantrain.eval.metrics.density_coverage import density_coverage

    # 1-d, k=1: real radii (distance to the nearest other real point) are 1, 1, 2, 4.
    real = np.array([[0.0], [1.0], [3.0], [7.0]])
    generated = np.array([[0.5], [0.6], [6.0], [20.0]])
    # Balls containing each sample: 0.5 -> {0, 1}, 0.6 -> {0, 1}, 6 -> {7}, 20 -> none:
    # density = (2 + 2 + 1 + 0) / (k M) = 5 / 4; real 3 has no sample within 2: coverage 3/4.
    assert density_coverage(real, generated, k=1) == pytest.approx((1.25, 0.75))


def test_density_and_coverage_match_the_papers_formula_written_out() -> None:
    from gantrain.eval.metrics.density_coverage import density_coverage

    rng = np.random.default_rng(7)
    real, generated, k = rng.standard_normal((60, 4)), rng.standard_normal((50, 4)) + 0.3, 5
    distances = np.linalg.norm(real[:, None] - real[None], axis=-1)
    radii = np.sort(distances, axis=1)[:, k]  # column 0 is the point itself
    to_real = np.linalg.norm(generated[:, None] - real[None], axis=-1)  # (M, N)
    density = (to_real < radii[None]).sum() / (k * len(generated))
    coverage = (to_real.min(axis=0) < radii).mean()
    assert density_coverage(real, generated, k=k) == pytest.approx((density, coverage))
    assert density_coverage(real, real + 1e-9, k=k)[1] == 1.0  # every ball holds its copy


def test_intra_fid_is_the_mean_of_hand_computed_per_class_fids() -> None:
    from gantrain.eval.metrics.intra_fid import intra_fid

    # Second coordinate constant: each class is a 1-d problem. np.cov uses N - 1.
    real = np.array([[0.0, 0], [2, 0], [0, 0], [4, 0]])  # class 0: mean 1 var 2; class 1: 2, 8
    generated = np.array([[1.0, 0], [3, 0], [2, 0], [4, 0]])  # class 0: 2, 2; class 1: 3, 2
    labels = np.array([0, 0, 1, 1])
    # Class 0: (1 - 2)^2 + 2 + 2 - 2 sqrt(4) = 1; class 1: (2 - 3)^2 + 8 + 2 - 2 sqrt(16) = 3.
    mean, per_class = intra_fid(real, labels, generated, labels, 2)
    assert per_class == pytest.approx([1.0, 3.0], abs=1e-9) and mean == pytest.approx(2.0)
    with pytest.raises(ValueError, match="class 1 has 2 real and 1 generated"):
        intra_fid(real, labels, generated[:3], labels[:3], 2)


class _Identity:
    """An extractor whose features are the (flattened) images themselves."""

    name = "identity"
    num_classes = 0

    def __call__(self, images):
        from gantrain.eval.base import Features

        return Features(images.reshape(len(images), -1))

    def describe(self):
        return {"extractor": "identity", "weights": "none", "resize": "none"}


def _run(evaluator, images, labels=None):
    from gantrain.eval.base import Batch

    evaluator.reset()
    for start in range(0, len(images), 7):
        part = slice(start, start + 7)
        evaluator.update(Batch(images[part], None if labels is None else labels[part]))
    return evaluator.result()


def test_kid_is_reported_times_1e3_with_the_unit_in_its_name() -> None:
    from gantrain.eval.metrics.kid import KIDEvaluator
    from gantrain.eval.reference import stats_from_features

    rng = np.random.default_rng(5)
    real, generated = rng.standard_normal((40, 6)), rng.standard_normal((30, 6)) + 0.2
    evaluator = KIDEvaluator(
        extractor=_Identity(), reference=lambda: stats_from_features(real), subsets=5,
        subset_size=20,
    )  # fmt: skip
    assert evaluator.metric_names() == ("kid_x1e3", "kid_x1e3_std")
    result = _run(evaluator, generated.astype(np.float32))
    mean, std = kid_from_features(real, generated, subsets=5, subset_size=20, seed=0)
    assert result["kid_x1e3"] == pytest.approx(1e3 * mean, rel=1e-5)
    assert result["kid_x1e3_std"] == pytest.approx(1e3 * std, rel=1e-5)
    protocol = evaluator.protocol()
    assert protocol["unit"] == "x 1e3" and "warning" in protocol  # subsets of 20 images


def test_intra_fid_and_density_coverage_evaluators() -> None:
    from gantrain.errors import ConfigError
    from gantrain.eval.metrics.density_coverage import DensityCoverageEvaluator, density_coverage
    from gantrain.eval.metrics.intra_fid import IntraFIDEvaluator, intra_fid
    from gantrain.eval.reference import stats_from_features

    rng = np.random.default_rng(6)
    real = rng.standard_normal((40, 3)).astype(np.float32)
    real_labels = np.arange(40) % 2
    generated = (rng.standard_normal((30, 3)) + 0.5).astype(np.float32)
    labels = np.arange(30) % 2
    reference = stats_from_features(real, labels=real_labels)
    evaluator = IntraFIDEvaluator(
        extractor=_Identity(), reference=lambda: reference, num_classes=2, conditional=True
    )
    result = _run(evaluator, generated, labels)
    expected, per_class = intra_fid(real, real_labels, generated, labels, 2)
    assert result == {"intra_fid": pytest.approx(expected)}
    assert evaluator.protocol()["per_class_fid"] == [round(v, 4) for v in per_class]
    with pytest.raises(ConfigError, match="needs a class-conditional generator"):
        IntraFIDEvaluator(extractor=_Identity(), reference=None, num_classes=10, conditional=False)

    dc = DensityCoverageEvaluator(extractor=_Identity(), reference=lambda: reference)
    got = _run(dc, generated)
    # 30 generated against a seeded 30 of the 40 real, as the paper's equal-size setting.
    subset = real[np.sort(np.random.default_rng(0).choice(40, 30, replace=False))]
    assert tuple(got.values()) == pytest.approx(density_coverage(subset, generated, k=5))
    assert dc.protocol()["samples_per_set"] == 30
