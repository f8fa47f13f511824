"""Age-cGAN: the networks and their counts, the conditional steps, the encoder phase and latent optimisation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import set_seed
from gancourse.data.ages import AGE_GROUPS, N_AGES, age_category, one_hot
from gancourse.models import agecgan
from gancourse.nn.conditioning import ConditionTiling
from gancourse.nn.faces import (FR_INPUT_SIZE, age_encoder, check_image_size, conditional_discriminator,
                                conditional_generator, imagenet_face_embedder)


def _small(**changes):
    changes.setdefault("batch_size", 8)
    cfg = agecgan.config("book").scaled("smoke").replace(**changes)
    set_seed(0)
    model = agecgan.AgeCGAN(cfg)
    model.compile()
    return model


def _faces(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 32, 32, 3)).astype(np.float32), rng.integers(0, N_AGES, n)


def _weights(net):
    return [w.numpy().copy() for w in net.weights]


def _same(before, net):
    return all(np.array_equal(a, w.numpy()) for a, w in zip(before, net.weights))


def _tiny_fr():
    set_seed(3)
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 5, strides=4, activation="tanh"),
                             keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.UnitNormalization()],
                            name="tiny_fr")


# -- age groups ---------------------------------------------------------------------
def test_age_groups_are_the_books_six():
    assert AGE_GROUPS == ("0-18", "19-29", "30-39", "40-49", "50-59", "60+")
    ages = [1, 18, 19, 29, 30, 39, 40, 49, 50, 59, 60, 99]
    assert age_category(ages).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for bad in (0, -3):  # the book's bucket function reuses the previous image's group here
        with pytest.raises(ValueError, match="ages must be positive"):
            age_category([30, bad])
    # always six columns, even when a subset has two classes (the book's len(set(...)) would give 2)
    assert one_hot([0, 5, 5]).shape == (3, 6)
    with pytest.raises(ValueError, match=r"in \[0, 6\)"):
        one_hot([6])


# -- networks -----------------------------------------------------------------------
def test_book_networks_have_the_spec_counts_and_shapes():
    e, g, d = age_encoder(), conditional_generator(), conditional_discriminator()
    assert (e.count_params(), g.count_params(), d.count_params()) == (18_287_268, 34_885_251, 1_569_665)
    assert e.output.shape == (None, 100)
    assert g.get_layer("condition").output.shape == (None, 106)
    assert g.get_layer("reshape").output.shape == (None, 8, 8, 256)
    assert g.output.shape == (None, 64, 64, 3)
    assert g.get_layer("up1_bn").momentum == pytest.approx(0.8)
    assert d.get_layer("tile_age").output.shape == (None, 32, 32, 70)
    assert d.get_layer("flatten").output.shape == (None, 8192)
    assert e.get_layer("flatten").output.shape == (None, 4096)
    # batch norm from the second encoder convolution on, and none on D's first
    names = [layer.name for layer in e.layers] + [layer.name for layer in d.layers]
    assert "e1_bn" not in names and {"e2_bn", "e3_bn", "e4_bn", "dense_bn"} <= set(names)
    assert "d1_bn" not in names and {"d2_bn", "d3_bn", "d4_bn"} <= set(names)


def test_label_tiling_copies_the_age_to_every_position_and_reloads(tmp_path):
    d = conditional_discriminator(32, filters=8)
    tiling = d.get_layer("tile_age")
    features = np.zeros((2, 16, 16, 8), np.float32)
    y = one_hot([1, 4])
    out = np.asarray(tiling([features, y]))
    assert out.shape == (2, 16, 16, 14)
    np.testing.assert_array_equal(out[:, :, :, 8:], np.broadcast_to(y[:, None, None, :], (2, 16, 16, 6)))
    path = tmp_path / "d.keras"
    d.save(path)
    loaded = keras.models.load_model(path)  # safe mode: no Lambda, no safe_mode=False
    assert isinstance(loaded.get_layer("tile_age"), ConditionTiling)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded([x, y]), d([x, y]), rtol=1e-5, atol=1e-6)


def test_the_condition_changes_the_output():
    set_seed(0)
    g = conditional_generator(32, 8, dense=16, filters=16)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    a = np.asarray(g([z, one_hot([0, 0])], training=False))
    b = np.asarray(g([z, one_hot([5, 5])], training=False))
    assert np.abs(a - b).mean() > 1e-4


def test_image_sizes_are_checked():
    assert check_image_size(128) == 128
    for bad in (48, 100):
        with pytest.raises(ValueError, match=r"image_size=\d+ is not supported; choose one of 32, 64, 128"):
            age_encoder(bad)


def test_the_books_face_network_is_frozen_generic_features_at_192_px():
    fr = imagenet_face_embedder(weights=None)
    assert fr.count_params() == 54_533_472  # InceptionResNetV2 without top 54,336,736 + Dense(1536 -> 128)
    assert fr.get_layer("resize").output.shape == (None, FR_INPUT_SIZE, FR_INPUT_SIZE, 3)
    assert fr.trainable_weights == []
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    emb = np.asarray(fr(x, training=False))
    assert emb.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="must be a multiple of image_size=64"):
        imagenet_face_embedder(weights=None, input_size=200)
    with pytest.raises(ValueError, match="below InceptionResNetV2's smallest input, 75 px"):
        imagenet_face_embedder(32, weights=None, input_size=64)


# -- configs ------------------------------------------------------------------------
def test_presets_differ_where_the_paper_does():
    book, paper = agecgan.config("book"), agecgan.config("paper")
    assert (book.label_smoothing, book.smoothing, book.encoder_samples, book.latent_method) == ("one_sided", 0.1,
                                                                                                 None, "adam")
    assert (paper.label_smoothing, paper.encoder_samples, paper.latent_method) == ("none", 100_000, "lbfgs")
    assert (book.learning_rate, book.beta_1, book.batch_size, book.epochs) == (2e-4, 0.5, 128, 500)
    assert book.total_epochs == 1000
    smoke = paper.scaled("smoke")
    assert (smoke.dataset, smoke.face_net, smoke.image_size, smoke.encoder_samples) == ("offline_faces", "rendered",
                                                                                       32, 2_000)
    with pytest.raises(ValueError, match="objective='wgan-gp' is not supported"):
        agecgan.config("book", objective="wgan-gp")
    with pytest.raises(ValueError, match="dataset='faces' is not allowed; choose one of 'wiki', 'offline_faces'"):
        agecgan.config("book", dataset="faces")


def test_one_sided_smoothing_is_real_point_nine_and_fake_zero():
    book, paper = _small(), _small(label_smoothing="none")
    logits = tf.zeros((3, 1))
    assert np.asarray(book.label_targets(logits, True)).tolist() == [[pytest.approx(0.9)]] * 3
    assert np.asarray(book.label_targets(logits, False)).tolist() == [[0.0]] * 3  # not the book's zeros * 0.1
    assert np.asarray(paper.label_targets(logits, True)).tolist() == [[1.0]] * 3


def test_encoder_optimizer_uses_keras_defaults():
    model = _small()
    enc = model.optimizer_for("encoder")
    assert float(enc.learning_rate) == pytest.approx(1e-3) and float(enc.beta_1) == pytest.approx(0.9)
    assert float(model.optimizer_for("generator").beta_1) == pytest.approx(0.5)


def test_ages_are_validated():
    assert agecgan.as_one_hot(2, 3).tolist() == one_hot([2, 2, 2]).tolist()
    assert agecgan.as_one_hot(one_hot([1, 2])).shape == (2, 6)
    with pytest.raises(ValueError, match="got 2 ages for 3 faces"):
        agecgan.as_one_hot([1, 2], 3)
    with pytest.raises(ValueError, match="age groups must be integers"):
        agecgan.as_one_hot(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="one-hot ages must be"):
        agecgan.as_one_hot(np.ones((2, 6)))


# -- training -----------------------------------------------------------------------
def test_a_d_step_changes_only_d_and_a_g_step_only_g():
    model = _small()
    x, ages = _faces(8)
    y = tf.constant(one_hot(ages))
    before = {k: _weights(n) for k, n in model.networks.items()}
    trainable = {k: [v.numpy().copy() for v in n.trainable_variables] for k, n in model.networks.items()}
    loss, acc, real, fake = model.conditional_discriminator_step(tf.constant(x), y)
    assert np.isfinite(float(loss)) and 0 <= float(acc) <= 1
    changed = {k: not all(np.array_equal(a, v.numpy()) for a, v in zip(trainable[k], n.trainable_variables))
               for k, n in model.networks.items()}
    assert changed == {"generator": False, "discriminator": True, "encoder": False}
    assert _same(before["encoder"], model.encoder)
    trainable = {k: [v.numpy().copy() for v in n.trainable_variables] for k, n in model.networks.items()}
    model.conditional_generator_step(8)
    changed = {k: not all(np.array_equal(a, v.numpy()) for a, v in zip(trainable[k], n.trainable_variables))
               for k, n in model.networks.items()}
    assert changed == {"generator": True, "discriminator": False, "encoder": False}


def test_the_g_step_draws_uniform_random_ages():
    model = _small()
    groups = np.argmax(np.asarray(model.sample_ages(6000)), axis=1)
    counts = np.bincount(groups, minlength=6)
    assert counts.min() > 850 and counts.max() < 1150  # 1000 each, +-5 sigma
    # the step conditions D on the ages it gave G: a spy on D sees the same one-hots as G
    seen = []
    for net in (model.generator, model.discriminator):
        original = net.call

        def spy(inputs, training=None, mask=None, original=original, net=net):
            seen.append((net.name, np.asarray(inputs[1])))
            return original(inputs, training=training, mask=mask)

        net.call = spy
    model.conditional_generator_step(32)
    (g_name, g_ages), (d_name, d_ages) = seen
    assert g_name.endswith("generator") and d_name.endswith("discriminator")
    np.testing.assert_array_equal(g_ages, d_ages)
    assert len(set(np.argmax(g_ages, axis=1))) > 2


def test_fit_runs_both_phases_and_the_encoder_phase_freezes_g_and_d():
    model = _small(epochs=1, encoder_epochs=2, encoder_steps_per_epoch=3)
    x, ages = _faces(16)
    data = agecgan.batches(model.cfg, (x, ages))
    history = model.fit(data, epochs=1, verbose=0)
    assert history.epoch == [0] and "encoder_loss" not in history.history
    g, d = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(data, epochs=3, initial_epoch=1, verbose=0)
    assert history.epoch == [1, 2] and set(history.history) == {"encoder_loss"}
    assert _same(g, model.generator) and _same(d, model.discriminator)
    assert model.phase == "cgan"
    assert all(np.isfinite(history.history["encoder_loss"]))


def test_both_phases_in_one_fit_merge_their_histories():
    model = _small(epochs=1, encoder_epochs=1, encoder_steps_per_epoch=2)
    history = model.fit(agecgan.batches(model.cfg, _faces(16)), epochs=model.cfg.total_epochs, verbose=0)
    assert history.epoch == [0, 1]
    assert np.isnan(history.history["encoder_loss"][0]) and np.isfinite(history.history["encoder_loss"][1])
    assert np.isfinite(history.history["d_loss"][0]) and np.isnan(history.history["d_loss"][1])


def test_the_encoder_learns_to_invert_g_on_fresh_noise():
    # four latent dimensions: even an untrained G then maps z to visibly different faces
    model = _small(encoder_steps_per_epoch=30, latent_dim=4, batch_size=16)
    before = model.encoder_error(128)
    history = model.train_encoder(epochs=2)
    after = model.encoder_error(128)  # in inference mode: E's batch-norm averages have caught up
    assert after < 0.6 * before
    assert history.history["encoder_loss"][-1] < history.history["encoder_loss"][0]


def test_a_run_killed_in_the_encoder_phase_resumes_there(tmp_path, capsys):
    import json

    from gancourse import training

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:  # the second encoder epoch ends, before its checkpoint is written
                raise KeyboardInterrupt

    model = _small(epochs=1, encoder_epochs=3, encoder_steps_per_epoch=2)
    data = agecgan.batches(model.cfg, _faces(16))
    with pytest.raises(KeyboardInterrupt):
        training.fit(model, data, model.cfg, tmp_path, extra_callbacks=[Kill()], verbose=0)
    fresh = _small(epochs=1, encoder_epochs=3, encoder_steps_per_epoch=2)
    g = _weights(model.generator)
    history, _ = training.fit(fresh, data, fresh.cfg, tmp_path, verbose=0)
    assert "resuming from the checkpoint of epoch 2" in capsys.readouterr().out
    assert history.epoch == [2, 3] and set(history.history) == {"encoder_loss"}
    assert int(fresh.cgan_epochs.numpy()) == 1 and _same(g, fresh.generator)  # phase 1 was not run again
    logged = json.loads((tmp_path / "history.json").read_text())
    assert len(logged["d_loss"]) == 1 and len(logged["encoder_loss"]) == 4 and logged["encoder_loss"][0] is None
    longer = _small(epochs=2, encoder_epochs=3, encoder_steps_per_epoch=2)
    with pytest.raises(ValueError, match="cGAN phase ended after epoch 1"):
        training.fit(longer, data, longer.cfg, tmp_path, verbose=0)


def test_a_fixed_encoder_set_is_reproducible_and_used():
    model = _small(encoder_samples=40)
    z, y = model.fixed_encoder_set()
    assert z.shape == (40, model.latent_dim) and y.shape == (40, 6)
    again = _small(encoder_samples=40).fixed_encoder_set()
    np.testing.assert_array_equal(z, again[0])
    batch_z, batch_y = next(iter(model.encoder_data()))
    assert batch_z.shape == (8, model.latent_dim)
    rows = {tuple(np.round(r, 5)) for r in z}
    assert all(tuple(np.round(r, 5)) in rows for r in np.asarray(batch_z))
    with pytest.raises(ValueError, match="draws fresh"):
        _small().fixed_encoder_set()


def test_data_of_the_wrong_shape_is_refused():
    model = _small()
    bad = tf.data.Dataset.from_tensor_slices((np.zeros((8, 48, 48, 3), np.float32),
                                              one_hot(np.zeros(8, int)))).batch(8)
    with pytest.raises(ValueError, match="give \\(images \\(n, S, S, 3\\), one-hot ages \\(n, 6\\)\\) batches"):
        model.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="pass a tuple \\(images, ages\\)"):
        agecgan.batches(model.cfg, np.zeros((8, 32, 32, 3)))
    with pytest.raises(ValueError, match="fewer than one batch"):
        agecgan.batches(model.cfg, _faces(4))


# -- generation, encoding, phase 3 ----------------------------------------------------
def test_generation_and_the_age_grid():
    model = _small()
    z = model.fixed_noise(3, seed=1)
    grid = model.age_grid(z)
    assert grid.shape == (6, 3, 32, 32, 3) and grid.min() >= -1 and grid.max() <= 1
    np.testing.assert_allclose(grid[2], model.generate(z, 2), atol=1e-6)
    assert model.preview(model.preview_inputs(64)).shape == (6, 8, 32, 32, 3)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 100\)"):
        model.generate(np.zeros((2, 7)))


def test_optimize_latent_lowers_the_identity_distance_and_leaves_g_and_fr_unchanged():
    model, fr = _small(), _tiny_fr()
    x, ages = _faces(6)
    g, fr_w = _weights(model.generator), _weights(fr)
    result = model.optimize_latent(x, ages, fr, steps=15, learning_rate=0.05)
    assert result.z.shape == (6, 100) and result.losses.shape == (16, 6)
    assert np.all(result.final < result.initial)
    np.testing.assert_allclose(result.initial, result.losses[0])
    np.testing.assert_allclose(result.z.shape, model.encode(x).shape)
    assert _same(g, model.generator) and _same(fr_w, fr)
    # the reported distance is the one a reader would measure
    rebuilt = model.reconstruct(x, ages, z=result.z)
    measured = np.linalg.norm(np.asarray(fr(rebuilt)) - np.asarray(fr(x)), axis=1)
    np.testing.assert_allclose(measured, result.final, rtol=1e-3, atol=1e-4)
    # starts from E(x)
    start = model.reconstruct(x, ages)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(fr(start)) - np.asarray(fr(x)), axis=1), result.initial,
                               rtol=1e-3, atol=1e-4)


def test_pixel_wise_and_lbfgs_optimisation_lower_their_objectives():
    model, fr = _small(), _tiny_fr()
    x, ages = _faces(3)
    pixel = model.optimize_latent(x, ages, objective="pixel", steps=10)
    assert np.all(pixel.final < pixel.initial)
    g = _weights(model.generator)
    lbfgs = model.optimize_latent(x, ages, fr, method="lbfgs", steps=8)
    assert np.all(lbfgs.final < lbfgs.initial) and lbfgs.losses.shape == (2, 3)
    assert _same(g, model.generator)
    none = model.optimize_latent(x, ages, fr, steps=0)
    np.testing.assert_array_equal(none.initial, none.final)
    np.testing.assert_allclose(none.z, model.encode(x))


def test_phase_three_refuses_bad_input():
    model, fr = _small(), _tiny_fr()
    x, ages = _faces(2)
    with pytest.raises(ValueError, match="unknown objective 'face'; choose one of identity, pixel"):
        model.optimize_latent(x, ages, fr, objective="face")
    with pytest.raises(ValueError, match="unknown method 'sgd'; choose one of adam, lbfgs"):
        model.optimize_latent(x, ages, fr, method="sgd")
    with pytest.raises(ValueError, match=r"images must be \(n, 32, 32, 3\)"):
        model.optimize_latent(x[:, :16, :16], ages, fr)
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        model.optimize_latent(x * 255, ages, fr)
    with pytest.raises(ValueError, match="fr must be a network"):
        model.optimize_latent(x, ages, fr="openface")
    with pytest.raises(ValueError, match=r"z0 must be \(2, 100\)"):
        model.optimize_latent(x, ages, fr, z0=np.zeros((2, 5)))


def test_the_books_joint_finetuning_changes_copies_only():
    model, fr = _small(), _tiny_fr()
    x, ages = _faces(8)
    g, e = _weights(model.generator), _weights(model.encoder)
    encoder, generator = model.finetuned(x, ages, fr, steps=2, batch_size=4)
    assert _same(g, model.generator) and _same(e, model.encoder)
    assert encoder is not model.encoder and generator is not model.generator
    assert not _same(g, generator) and not _same(e, encoder)


def test_the_age_strip_puts_the_input_first_then_six_ages():
    model, fr = _small(), _tiny_fr()
    x, ages = _faces(2)
    strip = model.age_strip(x, ages, fr, steps=2)
    assert strip.shape == (2, 7, 32, 32, 3)
    np.testing.assert_array_equal(strip[:, 0], x)
    plain = model.age_strip(x, ages, refine=None)
    np.testing.assert_allclose(plain[:, 3], model.generate(model.encode(x), 2), atol=1e-6)


# -- the Keras 2 baseline ------------------------------------------------------------
def test_the_keras2_conditional_loop_trains_both_networks():
    from gancourse import bench, legacy

    cfg = bench._config("agecgan", "smoke").replace(batch_size=8)
    loop = bench.legacy_loop("agecgan", cfg)
    assert isinstance(loop, legacy.LegacyConditionalLoop) and loop.real_label == pytest.approx(0.9)
    g, d = _weights(loop.generator), _weights(loop.discriminator)
    x, ages = _faces(8)
    d_loss, g_loss = loop.step(x, one_hot(ages))
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert not _same(g, loop.generator) and not _same(d, loop.discriminator)
    assert loop.discriminator.trainable is False  # frozen again for the stacked model's next step
