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
    assert ex.rgb_to_y(np.array([[[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]])).ravel() == pytest.approx([16.0, 235.0])
    # the package's protocol on a quantised image agrees with the exercise's reference
    hr8, sr8 = np.round(hr), np.round(sr)
    from gancourse import metrics

    assert metrics.psnr_y(sr8[None] / 127.5 - 1, hr8[None] / 127.5 - 1)[0] == pytest.approx(
        ex.psnr_y(sr8 / 127.5 - 1, hr8 / 127.5 - 1), abs=1e-6)


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


# -- the paper's table and the book's defects -----------------------------------------------------------------

from gancourse.experiments import ch05  # noqa: E402


def test_paper_table_prints_only_checked_values_and_shows_the_psnr_price():
    rows = ch05.paper_rows()
    assert [r["test set"] for r in rows] == ["Set5", "Set14", "BSD100"]
    assert rows[0]["SRResNet PSNR (dB)"] == "32.05" and rows[0]["bicubic SSIM"] == "not checked"
    assert ch05.paper_below_bicubic() == ["BSD100"]
    assert all(gap < 0 for gap in ch05.paper_gaps().values())  # SRGAN pays in PSNR on every set
    assert "1609.04802" in ch05.PAPER_TABLE_SOURCE


def test_vgg_outputs_assignment_fails_in_keras_3_and_the_submodel_has_the_right_shape():
    found = ch05.vgg_outputs_exhibit(64)
    assert found["layer"] == "block3_conv3"
    assert found["error"].startswith("AttributeError") and "no setter" in found["error"]
    assert found["shape"] == (16, 16, 256)


def test_bytescale_and_legacy_imresize_stretch_float_input_only():
    assert ch05.bytescale(np.array([10.0, 15.0, 20.0])).tolist() == [0, 128, 255]
    data = np.array([[7, 9]], np.uint8)
    assert ch05.bytescale(data) is data
    ramp = np.linspace(100, 159, 32)[:, None, None] * np.ones((32, 32, 3))
    hazy = ramp.astype(np.uint8)  # a smooth, low-contrast image: values 100..159
    found = ch05.contrast_stretch_exhibit(hazy, (16, 16))
    assert found["book"].shape == found["uint8"].shape == (16, 16, 3)
    assert found["book_max"] - found["book_min"] > 150 > found["uint8_max"] - found["uint8_min"]
    assert 100 <= found["uint8_min"] and found["uint8_max"] < 160
    with pytest.raises(ValueError, match="interp must be"):
        ch05.legacy_imresize(hazy, (8, 8), "area")
    with pytest.raises(ValueError, match="uint8 photo"):
        ch05.contrast_stretch_exhibit(hazy.astype(np.float32))


def test_high_frequency_share_of_an_upsampled_image_is_small():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=(64, 64))
    assert ch05.high_frequency_share(noise, 0.5) == pytest.approx(0.75, abs=0.05)  # white noise: 3/4 of the plane
    from scipy import ndimage

    # cubic-spline up-sampling by 4 leaves almost nothing above the source's Nyquist (1/4 of the new one)
    smooth = ndimage.zoom(rng.normal(size=(16, 16)), 4, order=3, mode="grid-wrap", grid_mode=True)
    assert ch05.high_frequency_share(smooth, 0.5) < 1e-3


def test_resampling_exhibit_geometry_and_detail():
    from skimage import data

    found = ch05.resampling_exhibit(data.astronaut())
    assert found["celeba"].shape == (218, 178, 3)
    assert found["book_hr"].shape == found["square_hr"].shape == found["native_hr"].shape == (256, 256, 3)
    assert found["aspect_change"] == pytest.approx(218 / 178)
    assert found["hf_native_hr"] > 1.5 * max(found["hf_book_hr"], found["hf_square_hr"])
    with pytest.raises(ValueError, match="at least 218 px high"):
        ch05.resampling_exhibit(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="larger than 178"):
        ch05.resampling_exhibit(data.astronaut(), hr_size=128)


def test_objective_mismatch_gradients_match_finite_differences():
    eps = 1e-6
    sig = lambda z: 1 / (1 + np.exp(-z))
    for row in ch05.objective_mismatch((-2.0, 0.5)):
        z = row["pre-activation z"]
        d_grad = (sig(z + eps) ** 2 - sig(z - eps) ** 2) / (2 * eps)
        g_grad = (-np.log(sig(z + eps)) + np.log(sig(z - eps))) / (2 * eps)
        assert row["its gradient in z"] == pytest.approx(d_grad, rel=1e-5)
        assert row["G's gradient in z"] == pytest.approx(g_grad, rel=1e-5)
    for row in ch05.optimal_discriminators():
        assert row["argmin MSE"] == pytest.approx(row["a / (a + b)"], abs=1e-4)
        assert row["argmin BCE"] == pytest.approx(row["a / (a + b)"], abs=1e-4)


def test_icnr_kernel_makes_sub_pixel_conv_a_nearest_upsampling_of_a_conv():
    from gancourse.nn.spatial import pixel_shuffle

    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 2, 5)).astype(np.float32)
    x = rng.normal(size=(1, 6, 7, 2)).astype(np.float32)
    conv = lambda k: tf.nn.conv2d(x, k, 1, "SAME")
    shuffled = np.asarray(pixel_shuffle(conv(ch05.icnr_kernel(kernel, 2)), 2))
    nearest = np.repeat(np.repeat(np.asarray(conv(kernel)), 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(shuffled, nearest, atol=1e-5)


def test_phase_contrast_and_the_checkerboard_of_each_upsampler():
    flat = np.ones((1, 20, 20, 3))
    assert ch05.phase_contrast(flat) == 0.0
    board = flat + 0.5 * (np.indices((20, 20)).sum(axis=0) % 2)[None, :, :, None]
    assert ch05.phase_contrast(board) == pytest.approx(0.5 / 1.25)
    rows = {r["up-sampler"]: r["checkerboard (phase contrast)"]
            for r in ch05.checkerboard_rows(ch05.upsampler_outputs(np.ones((1, 12, 12, 3))))}
    assert list(rows) == list(ch05.UPSAMPLERS)
    assert rows["nearest + conv"] < 1e-6 and rows["sub-pixel conv, ICNR init"] < 1e-6
    assert rows["sub-pixel conv, random init"] > 0.1 and rows["transposed conv"] > 0.1
    with pytest.raises(ValueError, match=r"\(1, H, W, C\)"):
        ch05.upsampler_outputs(np.ones((12, 12, 3)))


def test_preprocess_shift_with_random_weights_needs_no_download():
    x = np.random.default_rng(4).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    found = ch05.preprocess_shift(x, weights=None)
    assert found["weights"] == "random" and found["relative_change"].shape == (2,)
    assert np.all(found["norm_ratio"] < 0.1)  # raw [-1, 1] input is two orders of magnitude smaller
    assert np.all(found["relative_change"] > 0.9) and np.all(np.abs(found["cosine"]) <= 1 + 1e-9)
    again = ch05.preprocess_shift(x, weights=None)
    np.testing.assert_allclose(again["cosine"], found["cosine"])  # seeded: the same random network
    with pytest.raises(ValueError, match="weights must be"):
        ch05.preprocess_shift(x, weights="random")
