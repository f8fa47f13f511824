"""Chapter 08's study, inference switches, exhibits and drawings, and the variables each training step changes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import exercises
from gancourse.data import paired
from gancourse.experiments import ch08
from gancourse.models import pix2pix
from gancourse.nn import translation


def _tiny_model(**changes):
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=8, **changes)
    model = pix2pix.Pix2Pix(cfg)
    model.compile()
    return model


def _changes(model, step):
    """``{"G trainable", "D moving", ...}``: the kinds of variables of each network that ``step()`` changed."""
    nets = {"G": model.generator, "D": model.discriminator}
    before = {(n, i): v.numpy().copy() for n, net in nets.items() for i, v in enumerate(net.variables)}
    step()
    kinds = set()
    for n, net in nets.items():
        for i, v in enumerate(net.variables):
            if not np.array_equal(before[n, i], v.numpy()):
                kinds.add(f"{n} {'trainable' if v.trainable else 'moving' if 'moving' in v.path else 'seed'}")
    return kinds


def test_each_step_changes_exactly_these_variables():
    model = _tiny_model()
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
    fake = model.translate(x)
    # D step on given fakes: D's weights and D's batch-norm statistics, nothing of G
    assert _changes(model, lambda: model.discriminator_step(x, y, fake)) == {"D trainable", "D moving"}
    # G step: G's weights, statistics and dropout seeds, and D's batch-norm statistics (D runs in training mode)
    assert _changes(model, lambda: model.generator_step(x, y)) == {"G trainable", "G moving", "G seed", "D moving"}
    # a D step that makes its own fakes runs G in training mode too
    assert _changes(model, lambda: model.discriminator_step(x, y)) == {"D trainable", "D moving", "G moving",
                                                                        "G seed"}
    d_trainable = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    model.generator_step(x, y)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(d_trainable, model.discriminator.trainable_variables))


@pytest.mark.parametrize("field,n_layers,grid", [(1, 0, 256), (16, 1, 126), (70, 3, 30), (286, 5, 6)])
def test_paper_discriminator_family_receptive_fields(field, n_layers, grid):
    assert translation.PAPER_PATCH_LAYERS[field] == n_layers
    assert translation.receptive_field(translation.patchgan_stack(n_layers)) == field
    d = translation.patchgan_discriminator("paper", 256, n_layers=n_layers)
    assert translation.receptive_field(d) == field and d.output_shape == (None, grid, grid, 1)


def test_patchgan_family_errors():
    with pytest.raises(ValueError, match="n_layers must be >= 0"):
        translation.patchgan_stack(-1)
    with pytest.raises(ValueError, match="'paper' PatchGAN only"):
        translation.patchgan_discriminator("mastering_pytorch", 256, n_layers=5)
    with pytest.raises(ValueError, match="at least 128 px"):
        translation.patchgan_discriminator("paper", 64, n_layers=5)
    assert translation.patchgan_discriminator("paper", 256).count_params() == 2_770_433  # unchanged default


def test_exercise_stacks_use_the_paper_family():
    from gancourse.exercises import ch08 as ex

    fields = {name: translation.receptive_field(stack) for name, stack in ex._STACKS.items()}
    assert fields["the paper's 286x286 ImageGAN (five stride-2 convs)"] == 286
    assert fields["the paper's 1x1 PixelGAN (1x1 convs)"] == 1 and fields["the paper's 16x16 PatchGAN"] == 16
    assert fields["the paper's 70x70 PatchGAN"] == 70


def test_encoder_decoder_has_no_skips_and_layout_reads_the_model():
    unet = translation.unet_generator("paper", 32, base_filters=8)
    plain = translation.unet_generator("paper", 32, base_filters=8, skips=False)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.Concatenate) for layer in unet.layers) == 4
    assert plain.count_params() < unet.count_params() and plain.output_shape == unet.output_shape
    layout = translation.unet_layout(unet)
    assert [b["name"] for b in layout] == [f"down{i}" for i in range(1, 6)] + [f"up{i}" for i in range(1, 5)] + [
        "output"]
    assert [(b["side"], b["channels"]) for b in layout[:5]] == [(16, 8), (8, 16), (4, 32), (2, 64), (1, 64)]
    assert layout[5] == {"name": "up1", "side": 2, "channels": 128, "skip_from": "down4"}
    assert all(b["skip_from"] is None for b in translation.unet_layout(plain))
    book = translation.unet_layout(translation.unet_generator("book", 32, base_filters=8))
    assert book[5]["skip_from"] == "down4"
    cfg = pix2pix.config("paper").scaled("smoke").replace(skips=False)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in pix2pix.build_generator(cfg).layers)


def test_translate_switches_and_leaves_the_model_unchanged():
    model = _tiny_model()
    x = np.random.default_rng(1).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    stats_before = [v.numpy().copy() for v in model.generator.non_trainable_variables if "moving" in v.path]
    plain = model.translate(x)
    np.testing.assert_array_equal(plain, model.translate(x, batch_norm="moving", dropout=False))
    a, b = model.translate(x, training=True), model.translate(x, training=True)
    assert not np.array_equal(a, b)  # dropout draws differ
    np.testing.assert_allclose(model.translate(x, batch_norm="batch", dropout=False, batch_size=6),
                               model.translate(x, batch_norm="batch", dropout=False, batch_size=6), atol=1e-6)
    moving_dropout = model.translate(x, batch_norm="moving", dropout=True)
    assert not np.array_equal(moving_dropout, plain)
    stats_after = [v.numpy() for v in model.generator.non_trainable_variables if "moving" in v.path]
    assert all(np.array_equal(p, q) for p, q in zip(stats_before, stats_after))
    assert all(layer.trainable for layer in model.generator.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert {layer.rate for layer in model.generator.layers if isinstance(layer, keras.layers.Dropout)} == {0.5}
    with pytest.raises(ValueError, match="'batch' or 'moving'"):
        model.translate(x, batch_norm="instance")


def test_inference_modes_rows():
    model = _tiny_model()
    x, y = paired.offline_pairs("test", 32, n=4)
    rows = ch08.inference_modes(model, x, y, batch_sizes=(1, 4))
    assert len(rows) == 6 and rows[0]["batch norm"] == "moving averages" and rows[0]["dropout"] == "off"
    assert rows[0]["change from plain inference"] == 0.0
    assert all(r["two runs differ by"] == 0.0 for r in rows if r["dropout"] == "off")
    assert all(r["two runs differ by"] > 0.0 for r in rows if r["dropout"] == "on")
    assert rows[2]["change from plain inference"] > 0  # batch statistics differ from the fresh moving averages


def test_seed_study_is_reproducible_and_scores_every_run():
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=4, batch_size=8, epochs=1)
    train = paired.offline_pairs("train", 32, n=16)
    test = paired.offline_pairs("test", 32, n=12)
    variants = {"L1 + cGAN": {}, "L1 only": {"gan_weight": 0.0}, "unit": {"unit_range": True}}
    first = ch08.seed_study(cfg, (0, 1), train, test, variants, n_show=3)
    assert [len(v) for v in first["scores"].values()] == [2, 2, 2] and len(first["clipped"]) == 2
    assert first["outputs"]["unit"].shape == (3, 32, 32, 3)
    assert first["scores"]["L1 + cGAN"][0] != first["scores"]["L1 + cGAN"][1]  # seeds differ
    again = ch08.seed_study(cfg, (0,), train, test, {"L1 + cGAN": {}}, n_show=3)
    assert again["scores"]["L1 + cGAN"][0]["l1"] == pytest.approx(first["scores"]["L1 + cGAN"][0]["l1"], rel=1e-4)


def test_study_rows_verdicts_come_from_the_statistics():
    scores = {"L1 + cGAN": [{"l1": v, "sharpness": 1.0 + v, "ssim": 0.5} for v in (0.10, 0.11, 0.12)],
              "worse": [{"l1": v, "sharpness": 0.2 + v, "ssim": 0.5} for v in (0.30, 0.31, 0.32)],
              "same": [{"l1": v, "sharpness": 1.0 + v, "ssim": 0.5} for v in (0.09, 0.115, 0.13)]}
    rows, comparisons = ch08.study_rows(scores)
    by = {r["variant"]: r for r in rows}
    assert by["L1 + cGAN"]["l1 vs L1 + cGAN"] == "baseline" and by["L1 + cGAN"]["seeds"] == 3
    assert by["worse"]["l1 vs L1 + cGAN"] == "higher" and by["worse"]["sharpness vs L1 + cGAN"] == "blurrier"
    assert by["same"]["l1 vs L1 + cGAN"] == "no difference detected"
    assert by["L1 + cGAN"]["l1"].startswith("0.110 [")
    assert set(comparisons) == {"l1", "sharpness", "ssim"}


def test_softmax_pair_matches_one_logit_until_it_clips():
    rows = {r["logit gap"]: r for r in ch08.softmax_pair_losses()}
    assert rows[0.0]["book loss"] == pytest.approx(np.log(2), rel=1e-5) == rows[0.0]["course loss"]
    assert rows[5.0]["book loss"] == pytest.approx(rows[5.0]["course loss"], rel=1e-4)
    assert rows[-30.0]["book gradient"] == 0.0 and rows[-30.0]["course gradient"] == pytest.approx(-1.0)
    assert rows[-30.0]["book loss"] < 17 < rows[-30.0]["course loss"]


def test_single_class_batches_erase_the_mean_gap():
    d = translation.patchgan_discriminator("paper", 32, base_filters=8)
    rng = np.random.default_rng(3)
    source = rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    real = rng.uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)
    fake = rng.uniform(-1, 0, (8, 32, 32, 3)).astype(np.float32)
    before = [v.numpy().copy() for v in d.non_trainable_variables]
    found = ch08.single_class_batches(d, source, real, fake)
    assert found["norm_gap_separate"] < 1e-4 < 1e-2 < found["norm_gap_mixed"]
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, d.non_trainable_variables))


def test_registration_exhibits_and_book_host():
    found = ch08.registration_exhibits()
    assert found["unregistered_trainable"] == 0 and found["in_call_trainable"] == 0
    assert found["in_call_change"] > 1e-3
    assert found["name_error"] == "NameError: name 'normalization' is not defined"
    assert found["list_call_error"] == "TypeError: 'list' object is not callable"
    assert found["sequential_shape"] == (1, 16, 16, 8)
    assert found["raw_score_losses"][0] < 1e-6 and found["raw_score_losses"][1] == pytest.approx(16.118, abs=0.01)
    assert ch08.book_host() == ("efrogans.eecs.berkeley.edu", "efrosgans.eecs.berkeley.edu")


def test_patch_window_is_the_receptive_field():
    d = translation.patchgan_discriminator("paper", 256)
    top, left, bottom, right = ch08.patch_window(d, 15, 15)
    assert (bottom - top, right - left) == (70, 70)
    next_top, next_left, _, _ = ch08.patch_window(d, 16, 15)
    assert (next_top - top, next_left - left) == (8, 0)  # neighbouring logits step by 8 px
    corner = ch08.patch_window(d, 0, 0)
    assert corner[:2] == (0, 0) and corner[2] < 70
    small = translation.patchgan_discriminator("paper", 64, n_layers=1)
    t, l, b, r = ch08.patch_window(small, 10, 10)
    assert (b - t, r - l) == (16, 16)


def test_drawings_draw_every_block_and_window():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    g = translation.unet_generator("paper", 32, base_filters=8)
    ch08.draw_unet(a, g, "u")
    assert len(a.patches) == len(translation.unet_layout(g)) + 1  # the blocks and the input
    ch08.draw_patches(b, np.zeros((64, 64, 3)), {"one": (0, 0, 10, 10), "two": (5, 5, 20, 20)})
    assert len(b.patches) == 2
    plt.close(fig)


def test_quoted_counts_are_built():
    counts = {r["source"]: r["params"] for r in ch08.quoted_counts()}
    assert counts["the TensorFlow tutorial"] == 54_425_859
    assert counts["the source book, as printed"] == 129_153_729
    assert counts["the source book's table"] == 19_546_562 and counts["the source book's code"] == 19_802_768
    assert counts["the package (as the paper's code)"] == 54_425_859 - 4 * 512


def _wrong_marginal(p, q, conditional=True):
    return exercises.get("08.conditional_discriminator").reference(p, q, True)


def _no_zero_convention(p, q, conditional=True):
    if not conditional:
        p, q = np.broadcast_to(p.sum(axis=0), p.shape), np.broadcast_to(q.sum(axis=0), q.shape)
    with np.errstate(invalid="ignore"):
        return p / (p + q)


@pytest.mark.parametrize("wrong,hint", [
    (_wrong_marginal, "column sums"),
    (lambda p, q, c=True: exercises.get("08.conditional_discriminator").reference(q, p, c), "share of the DATA"),
    (_no_zero_convention, "NaN or inf"),
])
def test_conditional_discriminator_checker(wrong, hint):
    assert exercises.check("08.conditional_discriminator", exercises.get("08.conditional_discriminator").reference)
    result = exercises.check("08.conditional_discriminator", wrong)
    assert not result and hint in result.message


def test_conditional_discriminator_reference_values():
    ref = exercises.get("08.conditional_discriminator").reference
    data = np.array([[0.5, 0.0], [0.0, 0.5]])
    ignores = np.full((2, 2), 0.25)
    np.testing.assert_allclose(ref(data, ignores, False), 0.5)
    np.testing.assert_allclose(ref(data, ignores, True), [[2 / 3, 0.0], [0.0, 2 / 3]])
    np.testing.assert_allclose(ref(np.zeros((1, 2)), np.zeros((1, 2))), 0.5)


def test_chapter_prose_types_no_quoted_counts():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "book" / "08_pix2pix.md").read_text()
    for number in ("54,425,859", "54,423,811", "129,153,729", "129,151,681", "19,546,562", "19,802,768",
                   "54425859", "129153729"):
        assert number not in text, f"{number} is typed into chapter 08; compute it on the page"
    assert "efrogans" not in text  # the book's misspelt host comes from ch08.BOOK_DATASET_URL
