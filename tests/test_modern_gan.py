"""The post-DCGAN options of DCGANConfig (spectral norm, R1, self-attention, EMA, DiffAugment, train_size)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import nn, training
from gancourse.experiments import ch04
from gancourse.models import dcgan
from gancourse.nn.modern import SpectralNorm, diff_augment

SNGAN = dict(objective="hinge", label_smoothing="none", spectral_norm=True, batch_norm="generator")
WGAN_GP = dict(objective="wgan-gp", label_smoothing="none", batch_norm="generator")


def _cfg(**changes):
    return ch04.study_config("modern", "smoke", epochs=1).replace(batch_size=16, **changes)


def _real(cfg, n=16, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, cfg.image_size, cfg.image_size, 1)),
                       tf.float32)


def _values(variables):
    return [np.array(v) for v in variables]


def test_defaults_are_off_and_build_the_plain_networks():
    cfg = _cfg()
    assert (cfg.spectral_norm, cfg.r1_weight, cfg.self_attention, cfg.ema, cfg.augment, cfg.train_size) == \
        (False, 0.0, False, 0.0, "none", None)
    gan = dcgan.DCGAN(cfg)
    kinds = {type(layer).__name__ for net in gan.networks.values() for layer in net.layers}
    assert not kinds & {"SpectralNorm", "SelfAttention"}
    assert gan.ema_generator is None and gan.extra_state() == {}
    x = _real(cfg, 4)
    assert gan.augment(x) is x


@pytest.mark.parametrize("changes,match", [
    (dict(architecture="gans_in_action", spectral_norm=True, image_size=8), "spectral_norm=True needs architecture 'dcgan'"),
    (dict(architecture="pyimagesearch", self_attention=True, image_size=8), "self_attention=True needs architecture"),
    (dict(ema=1.0), "must be below 1"),
    (dict(ema=-0.5), "must be >= 0"),
    (dict(r1_weight=-1.0), "must be >= 0"),
    (dict(augment="ada"), "augment='ada' is not allowed"),
    (dict(train_size=0), "train_size=0 must be >= 1"),
    (dict(r1_weight=1.0, d_batch="mixed"), "need d_batch='separate'"),
    (dict(augment="diffaugment", d_batch="mixed"), "need d_batch='separate'"),
    (dict(self_attention=True, width=0.0625), "self_attention needs at least 8 channels"),
])
def test_invalid_values_are_one_line_errors(changes, match):
    with pytest.raises(ValueError, match=match) as err:
        _cfg(**changes)
    assert "\n" not in str(err.value)


def test_train_size_too_large_is_a_clear_error():
    with pytest.raises(ValueError, match=r"train_size=5000 exceeds the 1497 images of the digits train split; "
                                         r"choose at most 1497"):
        dcgan.training_images(_cfg(train_size=5000))


# -- spectral norm ---------------------------------------------------------------
def test_spectral_norm_layer_normalises_without_touching_the_kernel():
    layer = SpectralNorm(keras.layers.Conv2D(6, 3), power_iterations=1)
    x = tf.random.normal((2, 5, 5, 4))
    layer(x)
    kernel = np.array(layer.kernel)
    for _ in range(60):  # the power iteration converges on the largest singular value
        layer(x, training=True)
    np.testing.assert_array_equal(np.array(layer.kernel), kernel)  # the trainable kernel is never overwritten
    sigma = np.linalg.svd(kernel.reshape(-1, 6), compute_uv=False)[0]
    np.testing.assert_allclose(np.array(layer.normalized_kernel()), kernel / sigma, rtol=1e-4)
    u = np.array(layer.vector_u)
    layer(x, training=False)
    np.testing.assert_array_equal(np.array(layer.vector_u), u)  # inference leaves u alone
    # the output is the wrapped convolution with W / sigma
    plain = keras.layers.Conv2D(6, 3)
    plain.build(x.shape)
    plain.set_weights([kernel / sigma, np.array(layer.layer.bias)])
    np.testing.assert_allclose(np.array(layer(x)), np.array(plain(x)), rtol=1e-4, atol=1e-5)
    # the gradient flows through sigma(W): it differs from the gradient with sigma held constant
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    through = np.array(tape.gradient(loss, layer.kernel))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer.layer.convolution_op(x, layer.kernel / tf.constant(sigma)) ** 2)
    held = np.array(tape.gradient(loss, layer.kernel))
    assert not np.allclose(through, held, rtol=1e-3)
    clone = SpectralNorm.from_config(layer.get_config())
    assert clone.power_iterations == 1 and isinstance(clone.layer, keras.layers.Conv2D)
    with pytest.raises(ValueError, match="SpectralNorm wraps Dense or Conv"):
        SpectralNorm(keras.layers.Conv2DTranspose(2, 3))(x)


def test_sngan_wraps_every_weight_layer_of_d_and_keeps_the_update_contract():
    cfg = _cfg(**SNGAN)
    gan = dcgan.DCGAN(cfg)
    gan.compile()
    d_layers = gan.discriminator.layers
    weighted = [layer for layer in d_layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert weighted == [] and sum(isinstance(layer, SpectralNorm) for layer in d_layers) == 3
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in d_layers)
    real = _real(cfg)
    g0, d0 = _values(gan.generator.trainable_variables), _values(gan.discriminator.trainable_variables)
    u0 = _values(gan.discriminator.non_trainable_variables)
    gan.generator_step(16)  # runs D in training mode: u moves, D's trainable weights must not
    assert all(np.array_equal(a, b) for a, b in zip(d0, _values(gan.discriminator.trainable_variables)))
    assert any(not np.array_equal(a, b) for a, b in zip(g0, _values(gan.generator.trainable_variables)))
    assert any(not np.array_equal(a, b) for a, b in zip(u0, _values(gan.discriminator.non_trainable_variables)))
    g1 = _values(gan.generator.trainable_variables)
    gan.discriminator_step(real)  # (the hinge loss's gradient for D's last bias is 0 while every margin is active)
    assert sum(not np.array_equal(a, b) for a, b in zip(d0, _values(gan.discriminator.trainable_variables))) >= 5
    assert all(np.array_equal(a, b) for a, b in zip(g1, _values(gan.generator.trainable_variables)))


# -- R1 ---------------------------------------------------------------------------
def test_r1_penalty_matches_a_hand_computation_on_linear_and_quadratic_critics():
    cfg = _cfg(r1_weight=3.0)
    gan = dcgan.DCGAN(cfg)
    x = _real(cfg, 8)
    linear = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    w = np.array(linear.layers[-1].kernel)[:, 0]
    gan.discriminator = linear
    assert float(gan.r1_penalty(x)) == pytest.approx(3.0 / 2 * np.sum(w ** 2), rel=1e-5)  # grad_x D = w
    a = np.random.default_rng(1).normal(size=(8, 8, 1)).astype(np.float32)
    quadratic = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda t: tf.reduce_sum(
        a * t ** 2, axis=[1, 2, 3])[:, None])])
    gan.discriminator = quadratic  # grad_x D = 2 a x, per image
    expected = 3.0 / 2 * np.mean(np.sum((2 * a * np.array(x)) ** 2, axis=(1, 2, 3)))
    assert float(gan.r1_penalty(x)) == pytest.approx(expected, rel=1e-5)
    # discriminator_loss adds exactly the penalty
    plain = dcgan.DCGAN(_cfg())
    plain.discriminator = quadratic
    fakes = _real(cfg, 8, seed=2)
    out_r, out_f = quadratic(x), quadratic(fakes)
    diff = float(gan.discriminator_loss(x, fakes, out_r, out_f) - plain.discriminator_loss(x, fakes, out_r, out_f))
    assert diff == pytest.approx(expected, rel=1e-4)


# -- self-attention -----------------------------------------------------------------
@pytest.mark.parametrize("size,stages,expected", [(8, 2, 4), (28, None, 14), (64, None, 32)])
def test_self_attention_sits_at_half_the_image_size(size, stages, expected):
    cfg = _cfg(self_attention=True, image_size=size, stages=stages, width=0.25 if size < 64 else 0.125)
    g, d = dcgan.build_generator(cfg), dcgan.build_discriminator(cfg)
    for net, name in ((g, "g_attention"), (d, "d_attention")):
        layer = net.get_layer(name)
        assert isinstance(layer, nn.SelfAttention) and layer.output.shape[1:3] == (expected, expected)
    assert g.output.shape[1:] == (size, size, 1) and d.output.shape[1:] == (1,)


def test_self_attention_starts_as_the_identity_and_attends_with_rows_summing_to_one():
    cfg = _cfg(self_attention=True)
    g = dcgan.build_generator(cfg)
    layer = g.get_layer("g_attention")
    assert float(layer.gamma) == 0.0
    features = keras.Model(g.inputs, layer.input)(tf.random.normal((3, cfg.latent_dim)))  # (3, 4, 4, C)
    np.testing.assert_array_equal(np.array(layer(features)), np.array(features))
    beta = np.array(layer.attention_map(features))
    assert beta.shape == (3, 16, 16) and np.all(beta >= 0)
    np.testing.assert_allclose(beta.sum(-1), 1.0, rtol=1e-5)
    layer.gamma.assign(0.5)
    assert not np.allclose(np.array(layer(features)), np.array(features))
    clone = nn.SelfAttention.from_config(layer.get_config())
    assert (clone.key_ratio, clone.value_ratio, clone.init) == (8, 1, cfg.init)


# -- EMA ----------------------------------------------------------------------------
def test_ema_generator_follows_the_average_and_is_what_the_model_samples():
    decay = 0.9
    gan = dcgan.DCGAN(_cfg(ema=decay))
    gan.compile()
    g, avg = gan.generator, gan.ema_generator
    assert [v.path.split("/", 1)[1] for v in avg.weights] == [v.path.split("/", 1)[1] for v in g.weights]
    for a, b in zip(avg.weights, g.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert avg.trainable_weights == []  # the average is not trained
    old = _values(avg.weights)
    gan.generator_step(16)
    trainable = {id(w) for w in g.trainable_weights}
    changed = 0
    for before, a, b in zip(old, avg.weights, g.weights):
        if id(b) in trainable:
            np.testing.assert_allclose(np.array(a), decay * before + (1 - decay) * np.array(b), rtol=1e-5, atol=1e-7)
            changed += not np.array_equal(np.array(a), before)
        else:  # batch-norm statistics are copied
            np.testing.assert_array_equal(np.array(a), np.array(b))
    assert changed > 0
    z = gan.fixed_noise(4)
    np.testing.assert_allclose(gan.generate(z), np.array(avg(z, training=False)), rtol=1e-6)
    assert not np.allclose(gan.generate(z), np.array(g(z, training=False)))
    np.testing.assert_array_equal(gan.sample(4), gan.generate(z))
    np.testing.assert_array_equal(gan.metric_samples(4), gan.generate(z))
    np.testing.assert_array_equal(gan.preview(gan.preview_inputs(4)), gan.generate(z))


def test_checkpoint_round_trip_restores_the_combined_options(tmp_path):
    cfg = _cfg(ema=0.99, self_attention=True, augment="diffaugment", r1_weight=1.0, **SNGAN)
    gan = dcgan.DCGAN(cfg)
    gan.compile()
    gan.train_step(_real(cfg))
    state = training.checkpoint_state(gan)
    state.epoch.assign(1)
    state.save(str(tmp_path / "ckpt"))
    fresh = dcgan.DCGAN(cfg.replace(seed=5))
    fresh.compile()
    assert "ema_generator" in gan.checkpoint_objects()
    assert training.restore(fresh, tmp_path) == 1
    for net in ("generator", "discriminator", "ema_generator"):
        for a, b in zip(getattr(gan, net).weights, getattr(fresh, net).weights):
            np.testing.assert_array_equal(np.array(a), np.array(b))  # SN's u and attention's gamma included
    z = gan.fixed_noise(3)
    np.testing.assert_array_equal(gan.generate(z), fresh.generate(z))


@pytest.mark.parametrize("changes", [SNGAN, WGAN_GP, dict(r1_weight=1.0), dict(self_attention=True),
                                     dict(ema=0.99), dict(augment="diffaugment"),
                                     dict(augment="diffaugment", step_order="g_first", r1_weight=0.5)])
def test_each_option_trains_and_updates_only_its_groups(changes):
    cfg = _cfg(**changes)
    gan = dcgan.DCGAN(cfg)
    gan.compile()
    g0, d0 = _values(gan.generator.trainable_variables), _values(gan.discriminator.trainable_variables)
    gan.generator_step(16)
    assert all(np.array_equal(a, b) for a, b in zip(d0, _values(gan.discriminator.trainable_variables)))
    g1 = _values(gan.generator.trainable_variables)
    gan.discriminator_step(_real(cfg))
    assert all(np.array_equal(a, b) for a, b in zip(g1, _values(gan.generator.trainable_variables)))
    images = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
    logs = gan.fit(dcgan.batches(cfg, images), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert int(gan.d_optimizer.iterations) == 1 + 2 and int(gan.g_optimizer.iterations) == 1 + 2
    assert not np.array_equal(g0[0], np.array(gan.generator.trainable_variables[0]))


# -- DiffAugment ---------------------------------------------------------------------
def test_diff_augment_shapes_ranges_draws_and_gradients():
    seed = keras.random.SeedGenerator(0)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)), tf.float32)
    for policy in (("color",), ("translation",), ("cutout",), ("color", "translation", "cutout")):
        assert diff_augment(x, seed, policy).shape == x.shape
    moved = np.array(diff_augment(x, seed, ("translation", "cutout")))
    assert moved.min() >= -1 and moved.max() <= 1  # shifts and cut squares only move pixels or zero them
    cut = np.array(diff_augment(x, seed, ("cutout",)))
    zeros = (cut == 0).reshape(32, -1).sum(1)
    assert zeros.max() <= 16 and zeros.mean() > 4  # a 4x4 square, sometimes clipped at the border
    shifted = np.array(diff_augment(tf.ones((64, 8, 8, 1)), seed, ("translation",)))
    assert set(np.unique(shifted)) == {0.0, 1.0} and (shifted == 0).any()  # zero fill of at most one pixel row/col
    assert (shifted.reshape(64, -1) == 0).sum(1).max() <= 15
    bright = np.array(diff_augment(tf.zeros((64, 8, 8, 1)), seed, ("color",)))
    assert np.abs(bright).max() <= 0.75 + 1e-6  # brightness +-0.5, contrast x [0.5, 1.5] about the image mean
    a, b = np.array(diff_augment(x, seed)), np.array(diff_augment(x, seed))
    assert not np.allclose(a, b)  # a fresh draw per call
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'rotate'"):
        diff_augment(x, seed, ("rotate",))
    # the generator's gradient passes through the augmentation
    gan = dcgan.DCGAN(_cfg(augment="diffaugment"))
    with tf.GradientTape() as tape:
        loss = gan.generator_objective(gan.generator(gan.sample_noise(8), training=True))
    grads = tape.gradient(loss, gan.generator.trainable_variables)
    assert all(g is not None for g in grads) and any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


# -- train_size ----------------------------------------------------------------------
def test_train_size_subset_is_fixed_stratified_and_seed_independent():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    idx = dcgan.subset_indices(labels, 10)
    assert len(idx) == 10 and len(set(idx)) == 10
    np.testing.assert_array_equal(np.bincount(labels[idx], minlength=3), [5, 3, 2])
    np.testing.assert_array_equal(idx, dcgan.subset_indices(labels, 10))
    assert np.bincount(labels[dcgan.subset_indices(labels, 7)], minlength=3).tolist() in ([4, 2, 1], [3, 2, 2])
    assert len(dcgan.subset_indices(40, 12)) == 12  # unlabelled data: a plain random subset
    with pytest.raises(ValueError, match="between 1 and the 100 training images"):
        dcgan.subset_indices(labels, 101)
    full = dcgan.training_images(_cfg())
    small = dcgan.training_images(_cfg(train_size=150))
    assert small.shape == (150, 8, 8, 1) and len(full) == 1497
    np.testing.assert_array_equal(small, dcgan.training_images(_cfg(train_size=150, seed=7)))
    data, grid = dcgan.training_data(_cfg(train_size=150))
    assert grid is None and sum(1 for _ in data) == 150 // 16
