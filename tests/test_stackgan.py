"""StackGAN: the four networks' counts, conditioning augmentation, the KL term, matching-aware pairs, the two
stages and their isolation, the decay schedule, generation and errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import legacy
from gancourse.data import captioned
from gancourse.models import stackgan as sg
from gancourse.nn import stackgan as nets
from gancourse.nn.conditioning import ConditioningAugmentation, kl_to_standard_normal


def _cfg(preset="book", **changes):
    base = dict(batch_size=8, epochs=1, stage2_epochs=1)
    base.update(changes)
    return sg.config(preset).scaled("smoke").replace(**base)


def _data(cfg, n=24, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    side = cfg.stage2_size
    hr = rng.uniform(-1, 1, (n, side, side, 3)).astype(np.float32)
    e = rng.normal(size=(n, 10, 1024)).astype(np.float32)
    return hr, e, np.arange(n) % classes


def _values(net):
    """Every weight, batch-norm moving statistics included (not the conditioning noise's random state)."""
    return [v.numpy().copy() for v in net.weights]


def _same(before, net):
    return all(np.array_equal(a, v.numpy()) for a, v in zip(before, net.weights))


def test_the_books_parameter_counts():
    g1, d1 = nets.stage1_generator(), nets.stage1_discriminator()
    g2, d2 = nets.stage2_generator(), nets.stage2_discriminator()
    assert (g1.count_params(), nets.without_text_compressor(d1)) == (10_270_400, 3_097_601)
    assert (g2.count_params(), nets.without_text_compressor(d2)) == (28_649_536, 48_486_401)
    # trainable counts as the book's summaries print them (BatchNorm moving statistics excluded)
    trainable = [sum(int(np.prod(w.shape)) for w in n.trainable_weights) for n in (g1, g2)]
    assert trainable == [10_268_480, 28_636_864]
    assert d1.get_layer("text_compressor").count_params() == 1024 * 128 + 128
    assert [tuple(o.shape[1:]) for o in g2.outputs] == [(256, 256, 3), (128,), (128,)]
    assert tuple(g2.get_layer("tile_condition").output.shape[1:]) == (16, 16, 640)  # the book's prose says (batch, 640)
    # StackGAN's code puts batch norm after Stage-I G's first dense layer: 4 x 16,384 more
    assert nets.stage1_generator(dense_norm="batch").count_params() == 10_270_400 + 4 * 16_384


def test_unsupported_sizes_are_refused():
    with pytest.raises(ValueError, match=r"image_size=48 is not supported; choose one of 16, 32, 64, 128 \(the "
                                         r"Stage-I side"):
        nets.stage1_generator(48)
    with pytest.raises(ValueError, match="must be 4x a Stage-I size"):
        nets.stage2_discriminator(100)
    with pytest.raises(ValueError, match="choose 1 or 2"):
        sg.StackGAN(_cfg()).set_stage(3)


def test_conditioning_augmentation_draws_noise_per_sample():
    ca = ConditioningAugmentation(128, seed=1)
    e = np.repeat(np.random.default_rng(0).normal(size=(1, 1024)).astype(np.float32), 16, axis=0)
    c, mu, logvar = ca(tf.constant(e), training=True)
    c = c.numpy()
    assert np.allclose(mu.numpy(), mu.numpy()[0])  # identical captions give identical distributions...
    spread = c.std(axis=0)
    assert spread.min() > 0  # ...but different samples (the book's single batch-wide eps gives identical rows)
    # c's spread per dimension matches the predicted sigma = exp(logvar / 2)
    sigma = np.exp(0.5 * logvar.numpy()[0])
    big = np.repeat(e[:1], 4000, axis=0)
    draws = ca(tf.constant(big), training=True)[0].numpy()
    np.testing.assert_allclose(draws.std(axis=0), sigma, rtol=0.1)
    no_ca = ConditioningAugmentation(128, seed=1, sample=False)
    c2, mu2, _ = no_ca(tf.constant(e), training=True)
    np.testing.assert_array_equal(c2.numpy(), mu2.numpy())


def test_the_books_kl_reads_mu_twice_and_the_fixed_one_is_the_kl():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 128)).astype(np.float32)
    logsigma = rng.normal(scale=0.3, size=(5, 128)).astype(np.float32)
    stats = np.concatenate([mu, logsigma], axis=1)
    correct = float(sg.correct_kl_loss(stats))
    assert correct == pytest.approx(float(kl_to_standard_normal(mu, 2 * logsigma)), rel=1e-5)
    by_hand = np.mean(-logsigma + 0.5 * (np.exp(2 * logsigma) + mu ** 2 - 1))
    assert correct == pytest.approx(by_hand, rel=1e-5)
    book = float(sg.book_kl_loss(stats))
    assert book == pytest.approx(np.mean(-mu + 0.5 * (np.exp(2 * mu) + mu ** 2 - 1)), rel=1e-5)
    assert abs(book - correct) > 0.1
    # the book's term does not depend on log sigma at all: sigma is never regularised
    other = np.concatenate([mu, logsigma + 3.0], axis=1)
    assert float(sg.book_kl_loss(other)) == pytest.approx(book)
    assert float(sg.correct_kl_loss(np.zeros((2, 256), np.float32))) == pytest.approx(0.0, abs=1e-7)


def test_wrong_pairs_come_from_another_class_uniformly():
    classes = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    counts = np.zeros((8, 8))
    seed = keras.random.SeedGenerator(0)
    for _ in range(300):
        idx, has = sg.wrong_indices(classes, seed)
        idx = idx.numpy()
        assert has.numpy().all()
        assert np.all(classes[idx] != classes)
        counts[np.arange(8), idx] += 1
    # row 7 (class 3) can pair with any of the 7 others: each about 300 / 7 times
    assert counts[7, :7].min() > 20 and counts[7, 7] == 0
    idx, has = sg.wrong_indices(np.zeros(4, int), seed)
    assert not has.numpy().any()
    with pytest.raises(ValueError, match="class_ids must be a vector"):
        sg.wrong_indices(np.zeros((2, 2), int))


def test_matching_aware_loss_is_real_plus_half_wrong_and_fake():
    real, wrong, fake = (tf.constant([[a], [b]], tf.float32) for a, b in ((2.0, 1.0), (-1.0, 0.5), (0.3, -2.0)))

    def bce(t, x):
        x = np.asarray(x, np.float64)
        return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))

    want = bce(0.9, [2.0, 1.0]) + 0.5 * (bce(0, [-1.0, 0.5]) + bce(0, [0.3, -2.0]))
    assert float(sg.matching_aware_loss(real, wrong, fake, 0.9)) == pytest.approx(want, rel=1e-5)
    masked = sg.matching_aware_loss(real, wrong, fake, 0.9, tf.constant([True, False]))
    assert float(masked) == pytest.approx(bce(0.9, [2.0, 1.0]) + 0.5 * (bce(0, [-1.0]) + bce(0, [0.3, -2.0])),
                                          rel=1e-5)
    none = sg.matching_aware_loss(real, wrong, fake, 0.9, tf.constant([False, False]))
    assert float(none) == pytest.approx(bce(0.9, [2.0, 1.0]) + 0.5 * bce(0, [0.3, -2.0]), rel=1e-5)


def test_presets_fix_the_books_bugs_and_follow_the_paper():
    book, paper = sg.config("book"), sg.config("paper")
    model = sg.StackGAN(_cfg())
    assert model.g_target == 1.0  # the book asks G for 0.9
    assert float(model.label_targets(tf.zeros((1, 1)), True)[0, 0]) == pytest.approx(0.9)
    assert float(model.label_targets(tf.zeros((1, 1)), False)[0, 0]) == 0.0
    assert (book.kl_weight, paper.kl_weight) == (2.0, 2.0)
    assert (book.lr_decay_epochs, paper.lr_decay_epochs) == (0, 100)
    assert (book.captions_per_step, paper.captions_per_step) == (1, 4)
    assert (book.epochs, book.stage2_epochs, paper.epochs, paper.stage2_epochs) == (1000, 1000, 600, 600)
    assert paper.label_smoothing == "none" and paper.dense_norm == "batch" and paper.flip
    assert book.total_epochs == 2000 and book.stage2_size == 256
    with pytest.raises(ValueError, match="matching-aware discriminator is trained with binary cross-entropy"):
        sg.config("book", objective="lsgan", label_smoothing="none")


def test_two_stages_each_update_only_its_own_networks():
    cfg = _cfg()
    data = captioned.from_arrays(*_data(cfg), cfg)
    model = sg.StackGAN(cfg)
    model.compile()
    before = {k: _values(n) for k, n in model.networks.items()}
    history = model.fit(data, epochs=1, verbose=0)
    assert sorted(history.history) == sorted(sg._STAGE1_METRICS)
    assert int(model.stage1_epochs.numpy()) == 1
    assert not _same(before["generator"], model.generator) and not _same(before["discriminator"],
                                                                         model.discriminator)
    # Stage-I leaves Stage-II alone, moving statistics included
    assert _same(before["stage2_generator"], model.stage2_generator)
    assert _same(before["stage2_discriminator"], model.stage2_discriminator)
    after_one = {k: _values(n) for k, n in model.networks.items()}
    history = model.fit(data, epochs=2, initial_epoch=1, verbose=0)
    assert sorted(history.history) == sorted(sg._STAGE2_METRICS)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    # Stage-II leaves Stage-I exactly as it was: weights and batch-norm statistics
    assert _same(after_one["generator"], model.generator) and _same(after_one["discriminator"],
                                                                    model.discriminator)
    assert not _same(after_one["stage2_generator"], model.stage2_generator)
    assert not _same(after_one["stage2_discriminator"], model.stage2_discriminator)
    assert int(model.stage1_epochs.numpy()) == 1
    longer = sg.StackGAN(cfg.replace(epochs=3))  # a resumed run whose Stage-I stopped at epoch 1
    longer.compile()
    longer.stage1_epochs.assign(1)
    with pytest.raises(ValueError, match="Stage-I ended after epoch 1 and its Stage-II was trained on that"):
        longer.fit(data, epochs=5, initial_epoch=2, verbose=0)


def test_one_fit_runs_both_stages_with_one_history():
    cfg = _cfg()
    data = captioned.from_arrays(*_data(cfg), cfg)
    model = sg.StackGAN(cfg)
    model.compile()
    history = model.fit(data, epochs=cfg.total_epochs, verbose=0)
    assert history.epoch == [0, 1]
    assert np.isfinite(history.history["d_loss"][0]) and np.isnan(history.history["d_loss"][1])
    assert np.isnan(history.history["d2_loss"][0]) and np.isfinite(history.history["d2_loss"][1])
    assert history.history["kl"][0] > 0


def test_fixed_conditioning_uses_mu_and_no_kl():
    cfg = _cfg(conditioning="fixed")
    model = sg.StackGAN(cfg)
    model.compile()
    history = model.fit(captioned.from_arrays(*_data(cfg), cfg), epochs=1, verbose=0)
    assert history.history["kl"] == [0.0]
    e = np.random.default_rng(0).normal(size=(2, 1024)).astype(np.float32)
    c = model.condition(e, n=5)
    np.testing.assert_allclose(c, np.repeat(c[:, :1], 5, axis=1))
    augmented = sg.StackGAN(_cfg()).condition(e, n=5)
    assert augmented.std(axis=1).min() > 0


def test_the_decay_halves_each_stages_rate_every_n_epochs():
    cfg = _cfg("paper", lr_decay_epochs=1, epochs=2)
    data = captioned.from_arrays(*_data(cfg), cfg)  # 3 batches of 8
    model = sg.StackGAN(cfg)
    model.compile()
    model.fit(data, epochs=2, verbose=0)
    rates = model.learning_rates()
    assert rates["generator"] == pytest.approx(cfg.learning_rate * 0.25)  # 6 steps, halved every 3
    assert rates["stage2_generator"] == pytest.approx(cfg.learning_rate)  # Stage-II has not started
    assert all(s.steps == 3 for s in model.schedules.values())
    assert sg.StackGAN(_cfg()).schedules == {}


def test_generation_is_reproducible_and_checked():
    model = sg.StackGAN(_cfg())
    e = np.random.default_rng(0).normal(size=(3, 1024)).astype(np.float32)
    low, high = model.generate(e, seed=4)
    assert low.shape == (3, 16, 16, 3) and high.shape == (3, 64, 64, 3)
    assert np.abs(low).max() <= 1 and np.abs(high).max() <= 1
    again = model.generate(e, seed=4)
    np.testing.assert_array_equal(high, again[1])
    other = model.generate(e, seed=5)[1]
    assert np.abs(other - high).max() > 0
    # with c = mu, only z matters: the same z gives the same image whatever the seed
    z = model.fixed_noise(3, 9)
    a = model.generate(e, z, seed=1, mean=True)[1]
    b = model.generate(e, z, seed=2, mean=True)[1]
    np.testing.assert_array_equal(a, b)
    grid = model.caption_grid(e[:2], model.fixed_noise(3))
    assert grid.shape == (2, 6, 64, 64, 3)
    np.testing.assert_allclose(grid[0, 0][::4, ::4], model.generate(e[:1], model.fixed_noise(3)[:1])[0][0], atol=1e-5)
    with pytest.raises(ValueError, match=r"caption embeddings must be \(n, 1024\), got shape \(3, 12\)"):
        model.generate(np.zeros((3, 12)))
    with pytest.raises(ValueError, match="NaN"):
        model.generate(np.full((1, 1024), np.nan))
    with pytest.raises(ValueError, match=r"z must have shape \(3, 100\)"):
        model.generate(e, np.zeros((2, 100)))


def test_a_cub_model_refuses_typed_captions():
    model = sg.StackGAN(_cfg(dataset="cub"))
    with pytest.raises(ValueError, match="char-CNN-RNN"):
        model.embed_captions("a small red bird")
    with pytest.raises(ValueError, match="test split's caption embeddings"):
        model.preview_inputs(4)


def test_a_batch_of_the_wrong_shape_is_refused():
    cfg = _cfg()
    model = sg.StackGAN(cfg)
    model.compile()
    wrong = captioned.from_arrays(*_data(cfg.replace(image_size=32)), cfg.replace(image_size=32))
    with pytest.raises(ValueError, match="this StackGAN takes .Stage-I image, Stage-II image, embedding, class id."):
        model.fit(wrong, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="StackGAN trains on .images, embeddings, class_ids."):
        sg.batches(cfg, np.zeros((4, 64, 64, 3)))


def test_the_legacy_loop_trains_stage_one():
    cfg = _cfg()
    model = sg.StackGAN(cfg)
    loop = legacy.LegacyStackLoop(model.generator, model.discriminator, cfg.latent_dim,
                                  cfg.make_optimizer("discriminator"), cfg.make_optimizer("generator"))
    low, high, e, c = (np.asarray(t) for t in next(iter(captioned.from_arrays(*_data(cfg), cfg))))
    g_before, d_before = _values(model.generator), _values(model.discriminator)
    d_loss, g_loss = loop.step(low, high, e, c)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert not _same(g_before, model.generator) and not _same(d_before, model.discriminator)
