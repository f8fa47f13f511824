import numpy as np
import pytest
from scipy.integrate import trapezoid

from gancourse import metrics
from gancourse.data import toy


def test_ring_samples_and_centres():
    c = toy.ring_centers(8, 2.0)
    assert c.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0, rtol=1e-6)
    x = toy.ring(4000, std=0.05, seed=1)
    assert x.shape == (4000, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, toy.ring(4000, std=0.05, seed=1))
    with pytest.raises(ValueError, match="modes >= 1"):
        toy.ring_centers(0)


def test_mixture_1d_and_pdf():
    x = toy.gaussian_mixture_1d(20000, means=(-2, 3), stds=(0.5, 1.0), weights=(0.25, 0.75), seed=0)
    assert x.shape == (20000, 1)
    assert np.mean(x < 0.5) == pytest.approx(0.25, abs=0.02)
    grid = np.linspace(-8, 10, 4001)
    assert trapezoid(toy.gaussian_mixture_pdf(grid, (-2, 3), (0.5, 1.0), (0.25, 0.75)), grid) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="sum to 1"):
        toy.gaussian_mixture_1d(10, weights=(0.5, 0.6))


def test_mode_coverage_counts_modes_and_quality():
    centers = toy.ring_centers(8, 2.0)
    full = toy.ring(8000, std=0.05, seed=0)
    r = metrics.mode_coverage(full, centers, std=0.05)
    assert r["modes_covered"] == 8 and r["high_quality"] > 0.98 and r["kl_to_uniform"] < 0.01
    collapsed = np.repeat(centers[:2], 500, axis=0) + 0.01
    r = metrics.mode_coverage(collapsed, centers, std=0.05)
    assert r["modes_covered"] == 2 and r["high_quality"] == 1.0
    assert r["kl_to_uniform"] == pytest.approx(np.log(4), rel=1e-3)
    noise = np.random.default_rng(0).uniform(-3, 3, (1000, 2))
    assert metrics.mode_coverage(noise, centers, std=0.05)["high_quality"] < 0.05
    with pytest.raises(ValueError, match="must share d"):
        metrics.mode_coverage(np.zeros((3, 3)), centers, 0.05)


def test_inception_score_properties_and_oracle():
    k = 10
    uniform = np.full((100, k), 1 / k)
    assert metrics.inception_score(uniform)[0] == pytest.approx(1.0)
    confident = np.eye(k)[np.arange(100) % k]
    mean, std = metrics.inception_score(confident * 0.999999 + 1e-7)
    assert mean == pytest.approx(k, rel=1e-3) and std == pytest.approx(0, abs=1e-3)
    p = np.random.default_rng(0).dirichlet(np.ones(k), size=50)
    py = p.mean(0)
    oracle = np.exp(np.mean(np.sum(p * np.log(p / py), axis=1)))
    assert metrics.inception_score(p, splits=1)[0] == pytest.approx(oracle, rel=1e-6)
    with pytest.raises(ValueError, match="distribution"):
        metrics.inception_score(np.ones((20, 3)))
    with pytest.raises(ValueError, match="n >= splits"):
        metrics.inception_score(uniform[:5])


def test_inception_classifier_shape_without_weights():
    probs = metrics.InceptionClassifier(weights=None).predict(np.zeros((2, 32, 32, 1), np.float32))
    assert probs.shape == (2, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
