"""SRGAN: architectures and counts, the VGG content loss, the objectives, the two phases, upscale, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from gancourse.models import srgan
from gancourse.nn import superres
from gancourse.nn.spatial import PixelShuffle


def _smoke(preset="paper", **changes):
    return srgan.config(preset).scaled("smoke").replace(**changes)


def _pairs(n=8, size=64, seed=0):
    hr = np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)
    lr = np.clip(tf.image.resize(hr, (size // 4, size // 4), method="bicubic", antialias=True).numpy(), -1, 1)
    return lr, hr


def _weights(net):
    return [w.numpy().copy() for w in net.trainable_weights]


def _changed(before, net):
    return any(not np.array_equal(a, w.numpy()) for a, w in zip(before, net.trainable_weights))


# ---------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------
def test_book_counts_and_shapes_match_the_source():
    model = srgan.SRGAN("book")
    assert model.generator.count_params() == 2_042_691
    assert model.discriminator.count_params() == 5_219_137
    assert model.generator.compute_output_shape((1, 64, 64, 3)) == (1, 256, 256, 3)
    assert model.discriminator.output_shape == (None, 16, 16, 1)  # a Dense on a 4-D map: one score per position
    assert model.discriminator.layers[-1].activation is keras.activations.sigmoid
    kinds = [type(layer).__name__ for layer in model.generator.layers]
    assert kinds.count("UpSampling2D") == 2 and "PixelShuffle" not in kinds and "PReLU" not in kinds
    block = [layer.name for layer in model.generator.layers if layer.name.startswith("res1_")]
    assert block == ["res1_a_conv", "res1_a_act", "res1_a_bn", "res1_b_conv", "res1_b_bn", "res1_add"]  # ReLU -> BN
    assert model.generator.get_layer("pre_conv").kernel_size == (9, 9)  # the code's 9, not the table's 3


def test_paper_counts_and_the_flatten_head():
    model = srgan.SRGAN("paper")
    g, d = model.generator, model.discriminator
    assert g.count_params() == 1_554_883
    prelus = [layer for layer in g.layers if isinstance(layer, layers.PReLU)]
    assert len(prelus) == 1 + 16 + 2 and all(p.count_params() == 64 for p in prelus)  # one slope per channel
    assert [type(layer).__name__ for layer in g.layers].count("PixelShuffle") == 2
    assert g.compute_output_shape((1, 24, 24, 3)) == (1, 96, 96, 3)
    assert d.output_shape == (None, 1)
    head = d.get_layer("dense").count_params()
    assert head == 6 * 6 * 512 * 1024 + 1024  # 96 px / 16 = 6
    assert d.count_params() == 23_569_217 and head / d.count_params() > 0.8
    at_256 = superres.paper_discriminator(256)
    assert at_256.get_layer("dense").count_params() == 16 * 16 * 512 * 1024 + 1024  # 134M: why the book has none


def test_paper_block_order_is_conv_bn_prelu_and_book_d_is_act_then_bn():
    g = srgan.SRGAN("paper").generator
    assert [layer.name for layer in g.layers if layer.name.startswith("res1_a_")] == [
        "res1_a_conv", "res1_a_bn", "res1_a_act"]
    d = srgan.SRGAN("book").discriminator
    assert [layer.name for layer in d.layers if layer.name.startswith("d2_")] == ["d2_conv", "d2_act", "d2_bn"]
    assert d.get_layer("d2_bn").momentum == 0.8


def test_generators_are_fully_convolutional():
    g = srgan.SRGAN(_smoke()).generator
    out = g(np.zeros((2, 10, 14, 3), np.float32))
    assert out.shape == (2, 40, 56, 3)


def test_long_skip_adds_the_first_conv_output():
    g = srgan.SRGAN(_smoke("book")).generator
    add = g.get_layer("long_skip")
    sources = {t._keras_history.operation.name for t in add.input}
    assert sources == {"post_bn", "pre_act"}


def test_pixel_shuffle_matches_depth_to_space():
    x = np.arange(2 * 3 * 3 * 8, dtype=np.float32).reshape(2, 3, 3, 8)
    np.testing.assert_array_equal(PixelShuffle(2)(x), tf.nn.depth_to_space(x, 2))


# ---------------------------------------------------------------------------
# the VGG content loss
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape", [("block3_conv3", (64, 64, 256)), ("block5_conv4", (16, 16, 512))])
def test_vgg_layers_and_shapes_at_256(layer, shape):
    features = superres.feature_extractor(layer, 256, weights="none")
    assert features.output_shape == (None, *shape)
    assert not features.trainable and not features.trainable_weights
    trunk = features.layers[-1]
    assert trunk.layers[-1].name == layer


def test_random_extractor_has_the_vgg_layout_at_reduced_width():
    full = superres.feature_extractor("block3_conv3", 64, weights="none")
    thin = superres.feature_extractor("block3_conv3", 64, weights="random", width_divisor=8)
    assert [lay.name for lay in full.layers[-1].layers][1:] == [lay.name for lay in thin.layers[-1].layers][1:]
    assert thin.output_shape == (None, 16, 16, 32)
    again = superres.feature_extractor("block3_conv3", 64, weights="random", width_divisor=8)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(thin(x), again(x))  # fixed by the seed


def test_preprocessing_is_vgg19_preprocess_input_of_the_0_255_image():
    x = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    expected = keras.applications.vgg19.preprocess_input((x + 1.0) * 127.5)
    np.testing.assert_allclose(superres.VGGPreprocess()(x), expected, atol=1e-4)


def test_paper_scales_the_features_by_1_over_12_75():
    plain = superres.feature_extractor("block2_conv1", 32, weights="random", width_divisor=8)
    scaled = superres.feature_extractor("block2_conv1", 32, weights="random", width_divisor=8,
                                        scale=superres.PAPER_FEATURE_SCALE)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(scaled(x)) * 12.75, plain(x), rtol=1e-5, atol=1e-4)
    assert srgan.config("paper").content_layer == "block5_conv4"


def test_content_loss_is_the_feature_mse():
    model = srgan.SRGAN(_smoke("book"))
    _, hr = _pairs(2)
    sr = hr[::-1].copy()
    f = model.features
    expected = np.mean((np.asarray(f(sr)) - np.asarray(f(hr))) ** 2)
    assert float(model.content_loss(sr, hr)) == pytest.approx(expected, rel=1e-5)
    pixels = srgan.SRGAN(_smoke("book", content="mse"))
    assert pixels.features is None
    assert float(pixels.content_loss(sr, hr)) == pytest.approx(np.mean((sr - hr) ** 2), rel=1e-6)


def test_unknown_vgg_layer_and_weights_are_refused():
    with pytest.raises(ValueError, match="unknown VGG19 layer 'block6_conv1'"):
        superres.feature_extractor("block6_conv1", 64, weights="random")
    with pytest.raises(ValueError, match="unknown feature weights 'caffe'"):
        superres.feature_extractor("block3_conv3", 64, weights="caffe")


# ---------------------------------------------------------------------------
# objectives, phases, learning rates
# ---------------------------------------------------------------------------
def test_book_objective_is_mse_for_d_and_bce_for_g():
    real, fake = tf.constant([[0.9], [0.8]]), tf.constant([[0.2], [0.4]])
    d = srgan.BOOK_OBJECTIVE.discriminator(real, fake)
    assert float(d) == pytest.approx(0.5 * (np.mean([0.01, 0.04]) + np.mean([0.04, 0.16])))
    g = srgan.BOOK_OBJECTIVE.generator(fake)
    assert float(g) == pytest.approx(-np.mean(np.log([0.2, 0.4])), rel=1e-5)
    assert srgan.objective_for("bce").logits and not srgan.BOOK_OBJECTIVE.logits


def test_pretraining_trains_only_the_generator_on_pixel_mse():
    cfg = _smoke("paper", epochs=2, pretrain_epochs=1, lr_drop_epoch=0, steps_per_execution=1)
    model = srgan.SRGAN(cfg)
    model.compile()
    lr, hr = _pairs(8)
    data = tf.data.Dataset.from_tensor_slices((lr, hr)).batch(4)
    g0, d0 = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(data, epochs=1, verbose=0)
    assert model.phase == "pretrain"
    assert _changed(g0, model.generator) and not _changed(d0, model.discriminator)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert logs["g_loss"] == pytest.approx(logs["g_mse"]) and logs["d_loss"] == 0.0
    d1 = _weights(model.discriminator)
    history = model.fit(data, epochs=2, initial_epoch=1, verbose=0)
    assert model.phase == "gan" and _changed(d1, model.discriminator)
    assert history.history["g_adv"][-1] > 0 and history.history["g_content"][-1] > 0


def test_learning_rate_drops_tenfold_at_the_drop_epoch():
    cfg = srgan.config("paper")
    assert cfg.learning_rate_at(0) == pytest.approx(1e-4) and cfg.learning_rate_at(107) == pytest.approx(1e-4)
    assert cfg.learning_rate_at(108) == pytest.approx(1e-5)
    assert [cfg.phase_at(e) for e in (0, 97, 98)] == ["pretrain", "pretrain", "gan"]
    model = srgan.SRGAN(_smoke("paper", epochs=4, pretrain_epochs=1, lr_drop_epoch=3))
    model.compile()
    model.set_epoch(3)
    assert all(float(o.learning_rate) == pytest.approx(1e-5) for o in model.optimizers.values())
    model.set_epoch(0)
    assert model.phase == "pretrain" and float(model.g_optimizer.learning_rate) == pytest.approx(1e-4)


def test_smoke_scales_the_phases_with_the_epochs():
    cfg = srgan.config("paper").scaled("smoke")
    assert (cfg.epochs, cfg.pretrain_epochs, cfg.lr_drop_epoch) == (4, 3, 4)
    assert cfg.dataset == "offline_sr" and cfg.feature_weights == "random" and cfg.res_blocks == 16


def test_adversarial_weight_zero_leaves_the_discriminator_alone():
    model = srgan.SRGAN(_smoke("book", adv_weight=0.0, steps_per_execution=1))
    model.compile()
    lr, hr = _pairs(4)
    d0 = _weights(model.discriminator)
    model.fit(tf.data.Dataset.from_tensor_slices((lr, hr)).batch(4), epochs=1, verbose=0)
    assert not _changed(d0, model.discriminator)


# ---------------------------------------------------------------------------
# using the model
# ---------------------------------------------------------------------------
def test_upscale_uint8_any_size_and_inference_batch_norm():
    model = srgan.SRGAN(_smoke("book"))
    images = np.random.default_rng(0).integers(0, 256, (3, 12, 20, 3), dtype=np.uint8)
    out = srgan.upscale(images, model)
    assert out.shape == (3, 48, 80, 3) and out.dtype == np.uint8
    one = model.upscale(images[1])
    assert one.shape == (48, 80, 3)
    np.testing.assert_array_equal(one, out[1])  # inference-mode BN: an image's output ignores its batch
    np.testing.assert_array_equal(srgan.upscale(images, model.generator), out)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((2, 8, 8), np.uint8), r"RGB images"),
    (np.zeros((2, 8, 8, 4), np.uint8), r"RGB images"),
])
def test_upscale_refuses_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        srgan.upscale(bad, srgan.SRGAN(_smoke("book")))


def test_preview_rows():
    model = srgan.SRGAN(_smoke("book"))
    lr, hr = _pairs(3)
    rows = model.preview((lr, hr))
    assert rows.shape == (4, 3, 64, 64, 3)
    np.testing.assert_array_equal(rows[3], hr)
    np.testing.assert_array_equal(rows[0][:, ::4, ::4], lr)  # nearest-neighbour enlargement


@pytest.mark.parametrize("changes,match", [
    (dict(image_size=72), "multiple of 16"),
    (dict(discriminator="paper"), "objective 'book' needs the book discriminator"),
    (dict(pretrain_epochs=30), "pretrain_epochs=30 must be <= epochs=20"),
    (dict(content_layer="block9_conv1"), "content_layer"),
])
def test_bad_configs_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        srgan.config("book", **changes)


def test_legacy_loop_trains_both_networks():
    from gancourse.legacy import LegacySRLoop

    cfg = _smoke("book")
    model = srgan.SRGAN(cfg)
    loop = LegacySRLoop(model.generator, model.discriminator, model.features, cfg.make_optimizer("discriminator"),
                        cfg.make_optimizer("generator"), adv_weight=cfg.adv_weight)
    kernel = model.discriminator.get_layer("d1_conv").kernel  # D is frozen between its updates: read it directly
    g0, d0 = _weights(model.generator), kernel.numpy().copy()
    lr, hr = _pairs(4)
    d_loss, g_loss = loop.step(lr, hr)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert _changed(g0, model.generator) and not np.array_equal(d0, kernel.numpy())
    assert not model.features.trainable_weights  # the content network stays frozen


def test_bench_builds_the_book_baseline_and_refuses_one_for_the_paper():
    from gancourse import bench

    assert type(bench.legacy_loop("srgan", _smoke("book"))).__name__ == "LegacySRLoop"
    with pytest.raises(ValueError, match="fit\\(\\) variants only"):
        bench.legacy_loop("srgan", _smoke("paper"))
    assert bench._config("srgan", "standard").feature_weights == "random"  # no download in the bench


def test_evaluate_a_benchmark_folder_against_bicubic(tmp_path):
    from PIL import Image
    from scipy import ndimage

    from gancourse import metrics
    from gancourse.data import superres as sr_data

    rng = np.random.default_rng(3)
    folder = tmp_path / "Set5" / "image_SRF_4"
    folder.mkdir(parents=True)
    for stem, (h, w) in (("baby", (50, 42)), ("bird", (36, 64))):
        smooth = ndimage.gaussian_filter(rng.uniform(0, 255, (h, w, 3)), (3, 3, 0))
        Image.fromarray(smooth.astype(np.uint8)).save(folder / f"img_{stem}_SRF_4_HR.png")
    model = srgan.SRGAN(_smoke("book", bicubic_skip=True))  # starts as exactly bicubic
    scores = srgan.evaluate(model, tmp_path / "Set5")
    assert scores["model"]["psnr_y"].shape == (2,)
    np.testing.assert_allclose(scores["model"]["psnr_y"], scores["bicubic"]["psnr_y"], atol=0.05)
    lr, hr = sr_data.benchmark_pairs(folder)[1]
    assert hr.shape == (36, 64, 3)  # modcrop: already a multiple of 4
    expected = metrics.psnr_y(srgan.bicubic(lr[None]), hr[None])[0]
    assert scores["bicubic"]["psnr_y"][1] == pytest.approx(expected)
    with pytest.raises(ValueError, match="does not match its HR image"):
        srgan.evaluate(model, [(lr, hr[:32])])
