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
