"""The super-resolution scores against independent computations (scikit-image)."""

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gancourse import metrics


def _pair(seed=0, n=3, size=40, noise=0.1):
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, (n, size, size, 3)).astype(np.float32)
    p = np.clip(t + rng.normal(0, noise, t.shape), -1, 1).astype(np.float32)
    return p, t


def _uint8(x):
    return np.round(np.clip((x + 1) * 127.5, 0, 255)).astype(np.uint8)


def test_y_channel_matches_scikit_image_rgb2ycbcr():
    p, _ = _pair()
    np.testing.assert_allclose(metrics.rgb_to_y(p), np.stack([rgb2ycbcr(_uint8(x))[..., 0] for x in p]), atol=1e-9)
    white, black = np.ones((1, 4, 4, 3)), -np.ones((1, 4, 4, 3))
    assert np.allclose(metrics.rgb_to_y(white), 235.0) and np.allclose(metrics.rgb_to_y(black), 16.0)


@pytest.mark.parametrize("border", [0, 4])
def test_psnr_and_ssim_on_y_match_scikit_image(border):
    p, t = _pair()
    psnr, ssim = metrics.psnr_y(p, t, border), metrics.ssim_y(p, t, border)
    for i in range(len(p)):
        crop = slice(border, 40 - border) if border else slice(None)
        ya, yb = (rgb2ycbcr(_uint8(x))[..., 0][crop, crop] for x in (p[i], t[i]))
        assert psnr[i] == pytest.approx(peak_signal_noise_ratio(yb, ya, data_range=255), abs=1e-9)
        assert ssim[i] == pytest.approx(structural_similarity(yb, ya, gaussian_weights=True, sigma=1.5,
                                                              use_sample_covariance=False, data_range=255), abs=1e-6)


def test_the_border_crop_ignores_errors_at_the_edges():
    _, t = _pair(n=1)
    p = t.copy()
    p[:, :4] = -t[:, :4]  # wrong only in the top 4 rows
    assert np.isinf(metrics.psnr_y(p, t, border=4)[0])
    assert metrics.psnr_y(p, t, border=0)[0] < 25


def test_sharpness_is_below_one_for_a_blurred_image():
    from scipy import ndimage

    _, t = _pair(n=2, size=48)
    blurred = ndimage.gaussian_filter(t, sigma=(0, 1.5, 1.5, 0))
    assert np.all(metrics.sharpness_y(blurred, t) < 0.3)
    assert np.allclose(metrics.sharpness_y(t, t), 1.0)


def test_sr_scores_returns_per_image_arrays_and_feature_distances():
    p, t = _pair(n=4)
    scores = metrics.sr_scores(p, t, features=lambda x: x[:, ::2, ::2])
    assert set(scores) == {"psnr_y", "ssim_y", "sharpness", "feature_mse"}
    assert all(v.shape == (4,) for v in scores.values())
    np.testing.assert_allclose(scores["feature_mse"], ((p[:, ::2, ::2] - t[:, ::2, ::2]) ** 2).mean(axis=(1, 2, 3)),
                               rtol=1e-5)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 16, 16, 1)), r"RGB images"),
    (np.full((1, 16, 16, 3), np.nan), r"NaN"),
])
def test_bad_images_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        metrics.psnr_y(bad, bad)


def test_shape_mismatch_and_oversized_border_are_refused():
    p, t = _pair(n=1, size=16)
    with pytest.raises(ValueError, match="one shape"):
        metrics.psnr_y(p, t[:, :8])
    with pytest.raises(ValueError, match="leaves nothing"):
        metrics.psnr_y(p, t, border=8)
