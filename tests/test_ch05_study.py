"""Chapter 05 (SRGAN): the exercises' checkers, the exhibits of the book's defects and the study's helpers."""

import numpy as np
import pytest
import tensorflow as tf

from gancourse import exercises
from gancourse.exercises import ch05 as ex


# -- exercises: the reference passes, the typical wrong answers fail with a useful hint ------------------------


def _refused(exercise_id: str, answer, phrase: str) -> None:
    """The checker fails ``answer`` with a message containing ``phrase``."""
    result = exercises.check(exercise_id, answer)
    assert not result and phrase in result.message, result.message

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

    for answer, phrase in ((torch_order, "PyTorch's channel order"), (reshape_only, "reshape alone"),
                           (swapped, "swapped")):
        _refused("05.pixel_shuffle", answer, phrase)


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

    for answer, phrase in ((no_crop, "crop 4 px"), (rgb, "RGB"), (peak_219, "peak is 255")):
        _refused("05.psnr_y", answer, phrase)


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


def test_preprocess_shift_with_the_offline_random_extractor_needs_no_download():
    x = np.random.default_rng(4).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    found = ch05.preprocess_shift(x, weights="random", width_divisor=4)
    assert found["weights"] == "random" and found["relative_change"].shape == (2,)
    assert np.all(found["norm_ratio"] < 0.1)  # raw [-1, 1] input is two orders of magnitude smaller
    assert np.all(found["relative_change"] > 0.9) and np.all(np.abs(found["cosine"]) <= 1 + 1e-9)
    again = ch05.preprocess_shift(x, weights="random", width_divisor=4)
    np.testing.assert_allclose(again["cosine"], found["cosine"])  # seeded: the same random network
    with pytest.raises(ValueError, match="weights must be"):
        ch05.preprocess_shift(x, weights=None)


# -- the study's statistics, on made-up scores ----------------------------------------------------------------

def _fake_study(srgan_psnr_drop=2.0, srgan_sharper=0.5, seeds=2, n=12, falling=False, steps=(1_000_000, 200_000)):
    rng = np.random.default_rng(9)
    base = {"psnr_y": rng.normal(25, 2, n), "ssim_y": rng.uniform(0.6, 0.8, n), "sharpness": rng.uniform(0.3, 0.5, n),
            "feature_mse": rng.uniform(1, 2, n)}
    noise = lambda: rng.normal(0, 0.05, (seeds, n))  # noqa: E731
    scores = {
        "bicubic": {k: np.tile(v - (1.0 if k == "psnr_y" else 0.0), (seeds, 1)) for k, v in base.items()},
        "SRResNet": {k: v + noise() for k, v in base.items()},
        "SRGAN": {"psnr_y": base["psnr_y"] - srgan_psnr_drop + noise(), "ssim_y": base["ssim_y"] + noise(),
                  "sharpness": base["sharpness"] + srgan_sharper + noise(), "feature_mse": base["feature_mse"] - 0.5
                  + noise()},
    }
    curve = list(np.linspace(1, 0.2, 16)) if falling else [0.5] * 16
    histories = {s: {"pretrain": {"g_mse": curve}, "gan": {"g_content": curve}} for s in range(seeds)}
    return {"scores": scores, "histories": histories, "pretrain_steps": steps[0], "gan_steps": steps[1]}


def test_study_table_compares_with_srresnet_paired_and_holm_corrected():
    table, comparisons = ch05.study_table(_fake_study())
    assert [r["method"] for r in table] == ["bicubic", "SRResNet", "SRGAN"]
    assert len(comparisons) == 8 and all(r["family"] == 8 for r in comparisons)  # 2 methods x 4 metrics together
    assert ch05.verdict(comparisons, "SRGAN", "psnr_y") == "lower"
    assert ch05.verdict(comparisons, "SRGAN", "sharpness") == "sharper"
    assert ch05.verdict(comparisons, "SRGAN", "feature_mse") == "closer"
    assert ch05.verdict(comparisons, "bicubic", "psnr_y") == "lower"
    assert ":" not in table[1]["PSNR-Y (dB) ↑"] and ": lower, -" in table[2]["PSNR-Y (dB) ↑"]
    psnr = next(r for r in comparisons if r["variant"] == "SRGAN" and r["metric"] == "psnr_y")
    assert table[2]["PSNR-Y (dB) ↑"].endswith(f"{psnr['difference']:+.3g} [{psnr['low']:+.3g}, {psnr['high']:+.3g}]")
    assert ", x" in table[2]["sharpness (HR = 1)"]  # a ratio of geometric means
    text = ch05.headline(comparisons, ch05.convergence(_fake_study()))
    assert text.startswith("Of four expectations") and ", 4 hold here" in text and "Not found" not in text


def test_headline_names_what_was_not_found_and_convergence_calls_unconverged_runs_that():
    study = _fake_study(srgan_psnr_drop=0.0, srgan_sharper=0.0, falling=True)
    _, comparisons = ch05.study_table(study)
    converged = ch05.convergence(study)
    assert converged["unconverged"] and converged["pretrain"] == [True, True]
    assert "**not converged**" in converged["text"] and "2 of 2 runs" in converged["text"]
    text = ch05.headline(comparisons, converged)
    assert "Not found: SRGAN has a lower PSNR than SRResNet (no difference detected)" in text
    assert "had not converged" in text
    assert not ch05.convergence(_fake_study())["unconverged"]


def test_a_flat_curve_after_a_few_steps_is_not_called_converged():
    short = ch05.convergence(_fake_study(steps=(64, 48)))
    assert short["pretrain"] == [False, False] and short["short"] and short["unconverged"]
    assert "showed no downward trend" in short["text"] and "64 + 48 steps" in short["text"]
    assert "**not converged**" in short["text"]


def test_sharpness_is_compared_and_shown_on_a_log_scale():
    study = _fake_study()
    logs = ch05.per_image(study, "sharpness")
    np.testing.assert_allclose(logs["SRGAN"], np.log(study["scores"]["SRGAN"]["sharpness"]).mean(axis=0))
    table, _ = ch05.study_table(study)
    shown = float(table[1]["sharpness (HR = 1)"].split(" ")[0])
    assert shown == pytest.approx(np.exp(logs["SRResNet"].mean()), rel=1e-2)  # a geometric mean


def test_the_study_is_scored_with_features_it_was_not_trained_on():
    from gancourse.models import srgan

    cfg = srgan.config("paper").scaled("smoke")
    scorer = ch05.scoring_features(cfg)
    model = srgan.SRGAN(cfg)
    assert scorer.layers[-1].layers[-1].name == "block3_conv3" != cfg.content_layer
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    assert scorer(x).shape != model.features(x).shape
    with pytest.raises(ValueError, match="another layer"):
        ch05.scoring_features(cfg.replace(content_layer="block3_conv3"))


def test_plausible_candidates_share_an_lr_image_and_their_mean_is_the_mse_optimum():
    rng = np.random.default_rng(10)
    hr = np.clip(rng.normal(0, 0.5, (5, 32, 32, 3)), -1, 1).astype(np.float32)
    found = ch05.plausible_candidates(hr[0], hr[1:])
    assert found["candidates"].shape == (5, 32, 32, 3)
    np.testing.assert_allclose(found["candidates"][0], hr[0])
    assert found["lr_spread"] < 0.5 * found["hr_spread"]
    assert found["mse_of_mean"] < found["mse_of_candidate"] and found["sharpness_of_mean"] < 1
    with pytest.raises(ValueError, match="donors"):
        ch05.plausible_candidates(hr[0], hr[1:, :16])


def test_enlarge_and_zoom():
    x = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    assert ch05.enlarge(x, 2).shape == (2, 8, 8, 1) and ch05.enlarge(x, 2)[0, 1, 1, 0] == x[0, 0, 0, 0]
    z = ch05.zoom(x, 2)
    assert z.shape == x.shape and (z[:, :2, :2] == x[:, :1, :1]).all()
    with pytest.raises(ValueError, match="divide"):
        ch05.zoom(x, 3)


def test_study_runs_both_phases_and_restarts_each_seed_from_scratch():
    from gancourse.data import superres
    from gancourse.models import srgan

    cfg = srgan.config("paper").scaled("smoke").replace(image_size=32, base_filters=8, res_blocks=1, d_filters=8,
                                                        d_dense=16, feature_width_divisor=8, batch_size=4)
    train, test = superres.offline_sr("train", 32, n=32), superres.offline_sr("test", 32, n=8)
    found = ch05.study(cfg, seeds=(0, 0), pretrain_steps=8, gan_steps=8, train=train, test=test, n_test=6,
                       log_every=1)
    assert set(found["scores"]) == {"bicubic", "SRResNet", "SRGAN"}
    for method, scores in found["scores"].items():
        assert set(scores) == {"psnr_y", "ssim_y", "sharpness", "feature_mse"}
        assert scores["psnr_y"].shape == (2, 6)
        # the same seed twice: a restart reproduces the run exactly (weights, optimizer state, batches)
        np.testing.assert_allclose(scores["psnr_y"][0], scores["psnr_y"][1], rtol=1e-5)
    assert not np.allclose(found["scores"]["SRResNet"]["psnr_y"], found["scores"]["SRGAN"]["psnr_y"])
    history = found["histories"][0]
    assert len(history["pretrain"]["g_mse"]) == 8 and len(history["gan"]["g_content"]) == 8
    assert max(history["pretrain"]["d_loss"]) == 0.0 and min(history["gan"]["d_real"]) > 0.0  # D trains in phase 2
    assert {k: v.shape for k, v in found["shown"].items()} == {k: (4, 32, 32, 3) for k in
                                                                ("LR", "bicubic", "SRResNet", "SRGAN", "HR")}
    with pytest.raises(ValueError, match="8 logged points"):
        ch05.study(cfg, pretrain_steps=4, gan_steps=8, train=train, test=test, log_every=1)


def test_batch_one_exhibit_restores_the_generator():
    from gancourse.models import srgan

    cfg = srgan.config("paper").scaled("smoke").replace(base_filters=8, res_blocks=1)
    generator = srgan.build_generator(cfg)
    before = [w.copy() for w in generator.get_weights()]
    rng = np.random.default_rng(11)
    lr, hr = rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32), rng.uniform(-1, 1, (3, 32, 32, 3))
    found = ch05.batch_one_exhibit(generator, lr, hr)
    assert found["difference"] > 0.01  # training-mode BN normalises each image by its own statistics
    for a, b in zip(before, generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_describe_presets_counts_the_book_networks():
    rows = {r["preset"]: r for r in ch05.describe_presets()}
    assert rows["book"]["generator"] == 2042691 and rows["book"]["discriminator"] == 5219137
    assert rows["book"]["D output"] == "16x16x1" and rows["paper"]["D output"] == "1"
    assert rows["book"]["content layer"] == "block3_conv3 64x64x256"
    assert rows["paper"]["content layer"].startswith("block5_conv4 6x6x512")


@pytest.mark.parametrize("profile", ["smoke", "standard"])
def test_study_settings_make_valid_configs(profile):
    from gancourse.models import srgan

    settings = ch05.study_settings(profile)
    cfg = srgan.config("paper").scaled("smoke").replace(**settings["srgan"])
    assert cfg.generator == "srresnet" and cfg.discriminator == "paper" and cfg.content_layer == "block5_conv4"
    paper_rate = srgan.config("paper").learning_rate
    assert cfg.learning_rate == (ch05.SMOKE_LEARNING_RATE if profile == "smoke" else paper_rate)
    assert cfg.bicubic_skip == (profile == "smoke")  # the skip only where runs are a few dozen steps long
    assert len(settings["seeds"]) >= 2
    for phase in ("pretrain_steps", "gan_steps"):
        assert settings[phase] >= 8 * settings["log_every"]  # enough points for the convergence check
