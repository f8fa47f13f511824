import numpy as np
import pytest
from scipy import linalg

from gancourse import metrics


def _oracle_fid(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2))))


def _oracle_kid(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    total = sum(kxx[i, j] for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    total += sum(kyy[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return total - 2 * k(x, y).mean()


def test_fid_matches_scipy_oracle():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 5)), rng.normal(1.0, 2.0, size=(300, 5)) @ rng.normal(size=(5, 5))
    assert metrics.fid_from_features(x, y) == pytest.approx(_oracle_fid(x, y), rel=1e-6)


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(1).normal(size=(100, 8))
    assert metrics.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def test_equal_covariances_give_squared_mean_distance():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    assert metrics.frechet_distance(mu1, cov, mu2, cov) == pytest.approx(13.0, rel=1e-8)


def test_fid_closed_form_for_diagonal_gaussians():
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    # sum of (sqrt(a) - sqrt(b))^2 over the diagonal: (1-3)^2 + (2-1)^2
    assert metrics.frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(5.0)


def test_fid_handles_singular_covariances():
    x = np.zeros((10, 3))
    x[:, 0] = np.arange(10)
    assert np.isfinite(metrics.fid_from_features(x, x + 1.0))


def test_kid_matches_loop_oracle_and_is_near_zero_for_same_distribution():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 4)), rng.normal(0.5, 1.0, size=(30, 4))
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(_oracle_kid(x, y), rel=1e-9)
    # With subsets of the full size, every subset is the whole set (in another order).
    mean, std = metrics.kid_from_features(x[:30], y, subsets=3, subset_size=30)
    assert mean == pytest.approx(_oracle_kid(x[:30], y), rel=1e-9) and std == pytest.approx(0, abs=1e-9)
    same = metrics.kid_from_features(rng.normal(size=(400, 4)), rng.normal(size=(400, 4)), subsets=5, subset_size=200)
    far = metrics.kid_from_features(rng.normal(size=(400, 4)), rng.normal(2, 1, size=(400, 4)), subsets=5,
                                    subset_size=200)
    assert abs(same[0]) < 0.05 < far[0]
    assert same[1] >= 0


def test_metric_input_errors():
    with pytest.raises(ValueError, match="n >= 2"):
        metrics.feature_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        metrics.feature_stats(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="same d"):
        metrics.kid_from_features(np.zeros((5, 2)), np.zeros((5, 3)))


def test_classifier_features_are_meaningful_and_cached():
    extractor = metrics.ClassifierFeatures("digits", 28)
    assert extractor.test_accuracy > 0.9
    from gancourse import data

    real, labels = data.arrays("digits", "test", image_size=32, channels=3)  # any size/channels is converted
    feats = extractor.features(real)
    assert feats.shape == (300, 64)
    cached = metrics.ClassifierFeatures("digits", 28)  # loads the cached weights, no retraining
    np.testing.assert_allclose(cached.features(real[:10]), feats[:10], rtol=1e-5, atol=1e-5)
    # Real test digits are closer to real training digits than noise is.
    train, _ = data.arrays("digits", "train", image_size=28, channels=1)
    noise = np.random.default_rng(0).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32)
    real_fid = metrics.fid_from_features(extractor.features(train), feats)
    noise_fid = metrics.fid_from_features(extractor.features(train), extractor.features(noise))
    assert real_fid * 10 < noise_fid
    with pytest.raises(ValueError, match=r"\(n, H, W, C\)"):
        extractor.features(np.zeros((28, 28)))


def test_inception_features_shape_without_weights():
    extractor = metrics.InceptionFeatures(weights=None)
    feats = extractor.features(np.zeros((2, 28, 28, 1), np.float32))
    assert feats.shape == (2, 2048)


def test_two_fresh_classifier_caches_hold_identical_weights(tmp_path, monkeypatch):
    """The cached classifier depends on nothing that ran before it, and it leaves the global random state alone."""
    import keras

    weights = []
    for i, warmup in enumerate((0, 5)):
        monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / f"cache{i}"))
        keras.utils.set_random_seed(123)
        for _ in range(warmup):  # other random work before it, as in a chapter
            keras.layers.Dense(4)(np.zeros((1, 3), np.float32))
        before = np.random.random()
        keras.utils.set_random_seed(123)
        for _ in range(warmup):
            keras.layers.Dense(4)(np.zeros((1, 3), np.float32))
        extractor = metrics.ClassifierFeatures("digits", 16, epochs=2)
        assert np.random.random() == before  # the caller's NumPy stream is untouched
        assert extractor.cache_path.exists() and "16px_2ep_v2" in extractor.cache_path.name
        weights.append(extractor.classifier.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
