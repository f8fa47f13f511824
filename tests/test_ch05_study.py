"""Chapter 05 (SRGAN): the exercises' checkers, the exhibits of the book's defects and the study's helpers."""

import numpy as np
import pytest
import tensorflow as tf

from gancourse import exercises
from gancourse.exercises import ch05 as ex


# -- exercises: the reference passes, the typical wrong answers fail with a useful hint ------------------------

def test_all_chapter_05_exercises_are_registered():
    assert exercises.list_exercises("05") == ["05.best_estimate", "05.content_loss", "05.pixel_shuffle", "05.psnr_y"]
    for name in exercises.list_exercises("05"):
        assert exercises.check(name, exercises.get(name).reference), name


@pytest.mark.parametrize("r,c", [(2, 3), (3, 1), (4, 2)])
def test_pixel_shuffle_reference_is_depth_to_space(r, c):
    x = np.random.default_rng(r).normal(size=(2, 3, 5, c * r * r)).astype(np.float32)
    np.testing.assert_array_equal(ex.pixel_shuffle(x, r), tf.nn.depth_to_space(x, r).numpy())
    from gancourse.nn.spatial import pixel_shuffle

    np.testing.assert_array_equal(ex.pixel_shuffle(x, r), np.asarray(pixel_shuffle(tf.constant(x), r)))


def test_pixel_shuffle_checker_catches_channel_order_and_a_bare_reshape():
    def torch_order(x, r):
        n, h, w, d = x.shape
        return x.reshape(n, h, w, d // r // r, r, r).transpose(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, -1)

    def reshape_only(x, r):
        n, h, w, d = x.shape
        return x.reshape(n, h * r, w * r, d // r // r)

    def swapped(x, r):
        n, h, w, d = x.shape
        return x.reshape(n, h, w, r, r, -1).transpose(0, 1, 4, 2, 3, 5).reshape(n, h * r, w * r, -1)

    result = exercises.check("05.pixel_shuffle", torch_order)
    assert not result and "PyTorch's channel order" in result.message
    result = exercises.check("05.pixel_shuffle", reshape_only)
    assert not result and "reshape alone" in result.message
    result = exercises.check("05.pixel_shuffle", swapped)
    assert not result and "swapped" in result.message


def test_psnr_y_reference_against_an_independent_computation():
    rng = np.random.default_rng(0)
    hr = rng.uniform(0, 255, (20, 16, 3))
    sr = np.clip(hr + rng.normal(0, 6, hr.shape), 0, 255)
    # MATLAB rgb2ycbcr on doubles in [0, 1]: Y = 16 + [65.481 128.553 24.966] . rgb, peak 255
    y = lambda im: 16 + (65.481 * im[..., 0] + 128.553 * im[..., 1] + 24.966 * im[..., 2]) / 255
    mse = np.mean((y(hr)[4:-4, 4:-4] - y(sr)[4:-4, 4:-4]) ** 2)
    want = 10 * np.log10(255 ** 2 / mse)
    assert ex.psnr_y(sr / 127.5 - 1, hr / 127.5 - 1, border=4) == pytest.approx(want, abs=1e-9)
    assert ex.rgb_to_y(np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])) == pytest.approx([16.0, 235.0])


def test_psnr_y_checker_catches_no_crop_rgb_and_the_wrong_peak():
    def no_crop(p, t, border=4):
        return ex.psnr_y(p, t, 0)

    def rgb(p, t, border=4):
        p, t = p[border:-border, border:-border], t[border:-border, border:-border]
        return float(tf.image.psnr(p, t, max_val=2.0))

    def peak_219(p, t, border=4):
        return ex.psnr_y(p, t, border) + 20 * np.log10(219 / 255)

    result = exercises.check("05.psnr_y", no_crop)
    assert not result and "crop 4 px" in result.message
    result = exercises.check("05.psnr_y", rgb)
    assert not result and "RGB" in result.message
    result = exercises.check("05.psnr_y", peak_219)
    assert not result and "peak is 255" in result.message


def test_content_loss_checker_catches_linearity_pixels_and_scaling():
    wrong = {
        "not linear": lambda f, hr, sr, s=1.0: float(np.mean((s * f(hr - sr)) ** 2)),
        "pixel MSE": lambda f, hr, sr, s=1.0: float(np.mean((hr - sr) ** 2)),
        "scale ** 2": lambda f, hr, sr, s=1.0: float(s * np.mean((f(hr) - f(sr)) ** 2)),
        "not the sum": lambda f, hr, sr, s=1.0: float(np.sum((s * f(hr) - s * f(sr)) ** 2)),
        "square root": lambda f, hr, sr, s=1.0: float(np.sqrt(np.mean((s * f(hr) - s * f(sr)) ** 2))),
    }
    for hint, answer in wrong.items():
        result = exercises.check("05.content_loss", answer)
        assert not result and hint in result.message, (hint, result.message)


def test_toy_features_are_nonlinear_and_pooled():
    x = np.random.default_rng(1).uniform(-1, 1, (2, 8, 6, 3))
    f = ex.toy_features(x)
    assert f.shape == (2, 4, 3, 6) and f.min() >= 0
    assert not np.allclose(ex.toy_features(x) - ex.toy_features(-x), ex.toy_features(2 * x))


def test_best_estimate_checker_catches_a_sharp_candidate_and_mean_median_swaps():
    result = exercises.check("05.best_estimate", lambda c, loss="mse": c[0])
    assert not result and "one of the candidates" in result.message
    result = exercises.check("05.best_estimate", lambda c, loss="mse": np.mean(c, axis=0))
    assert not result and "median" in result.message
    result = exercises.check("05.best_estimate", lambda c, loss="mse": np.median(c, axis=0))
    assert not result and "take the mean" in result.message
    # the MSE-optimal estimate of two shifted stripe patterns is flat grey: the blur of an MSE-trained model
    stripes = np.where(np.arange(8) % 2, 1.0, -1.0)[None, :, None] * np.ones((8, 8, 1))
    np.testing.assert_allclose(ex.best_estimate(np.stack([stripes, np.roll(stripes, 1, axis=1)])), 0.0)
    with pytest.raises(ValueError, match="'mse' or 'l1'"):
        ex.best_estimate(stripes[None], "l2")
