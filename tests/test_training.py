import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import nn, training
from gancourse.data.pipeline import image_dataset
from gancourse.models import dcgan


def _gan(**changes):
    cfg = dcgan.config("modern").scaled("smoke").replace(batch_size=8, **changes)
    gan = dcgan.DCGAN(cfg)
    gan.compile()
    return cfg, gan


def _data(cfg, n=32, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, (n, cfg.image_size, cfg.image_size, 1)).astype(np.float32)
    return image_dataset(x, cfg.batch_size, seed=seed)


@pytest.mark.parametrize("mode,real,fake", [("none", (1, 1), (0, 0)), ("one_sided", (0.9, 0.9), (0, 0)),
                                            ("two_sided", (0.9, 0.9), (0.1, 0.1)), ("noisy", (0.8, 1.0), (0, 0.2))])
def test_label_targets(mode, real, fake):
    _, gan = _gan(label_smoothing=mode)
    logits = tf.zeros((500, 1))
    r, f = gan.label_targets(logits, True).numpy(), gan.label_targets(logits, False).numpy()
    assert r.shape == f.shape == (500, 1)
    assert real[0] - 1e-6 <= r.min() and r.max() <= real[1] + 1e-6
    assert fake[0] - 1e-6 <= f.min() and f.max() <= fake[1] + 1e-6
    if mode == "noisy":
        assert r.std() > 0.03 and f.std() > 0.03  # drawn per sample


def test_option_validation():
    cfg = dcgan.config("modern").scaled("smoke")
    g, d = dcgan.build_generator(cfg), dcgan.build_discriminator(cfg)
    with pytest.raises(ValueError, match="noise='gauss'"):
        training.GAN(g, d, latent_dim=100, noise="gauss")
    with pytest.raises(ValueError, match="d_steps=0 must be >= 1"):
        training.GAN(g, d, latent_dim=100, d_steps=0)
    with pytest.raises(ValueError, match="smoothing=0.7"):
        training.GAN(g, d, latent_dim=100, smoothing=0.7)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        training.make_optimizer("rmsprop", 1e-3)


def test_checkpoint_resume_restores_weights_optimizer_and_epoch(tmp_path):
    cfg, gan = _gan(epochs=2)
    history, _ = training.fit(gan, _data(cfg), cfg, tmp_path, verbose=0)
    assert history.epoch == [0, 1]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    assert any((tmp_path / "logs").rglob("events.out.tfevents*"))

    cfg2, fresh = _gan(epochs=2)
    assert training.restore(fresh, tmp_path / "checkpoints") == 2
    assert int(fresh.g_optimizer.iterations) == int(gan.g_optimizer.iterations) == 8
    for a, b in zip(gan.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(gan.d_optimizer.variables, fresh.d_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # Adam moments too
    np.testing.assert_array_equal(np.asarray(gan.seed_generator.state), np.asarray(fresh.seed_generator.state))

    # A longer run in the same folder continues at epoch 3 with the same step counter.
    cfg3, resumed = _gan(epochs=3)
    history, _ = training.fit(resumed, _data(cfg3), cfg3, tmp_path, verbose=0)
    assert history.epoch == [2]
    assert int(resumed.g_optimizer.iterations) == 12
    assert training.restore(_gan()[1], tmp_path / "checkpoints") == 3
    # Nothing left to do: no training, no history.
    again, _ = training.fit(_gan(epochs=3)[1], _data(cfg3), cfg3, tmp_path, verbose=0)
    assert again is None


def test_restore_into_another_architecture_is_a_clear_error(tmp_path):
    cfg, gan = _gan(epochs=1)
    training.fit(gan, _data(cfg), cfg, tmp_path, verbose=0, tensorboard=False)
    other = dcgan.DCGAN(dcgan.config("gans_in_action").scaled("smoke"))
    other.compile()
    with pytest.raises(ValueError, match="does not match this model"):
        training.restore(other, tmp_path / "checkpoints")
    assert training.restore(other, tmp_path / "empty") == 0


def test_nan_loss_stops_with_named_loss_and_step():
    cfg, gan = _gan(steps_per_execution=1)
    bad = np.full((16, cfg.image_size, cfg.image_size, 1), np.nan, np.float32)
    with pytest.raises(training.NonFiniteLossError, match=r"d_loss became nan at epoch 1 \(first seen after step 1\)"):
        gan.fit(image_dataset(bad, 8), epochs=1, verbose=0, callbacks=[training.StopOnNonFinite()])


def test_sample_grid_keeps_fixed_noise_images():
    cfg, gan = _gan(epochs=2)
    grid = training.SampleGrid(n=4)
    gan.fit(_data(cfg), epochs=2, verbose=0, callbacks=[grid])
    assert sorted(grid.images) == [1, 2]
    assert grid.images[1].shape == (4, cfg.image_size, cfg.image_size, 1)
    assert not np.array_equal(grid.images[1], grid.images[2])  # the generator moved
    np.testing.assert_array_equal(grid.noise, gan.fixed_noise(4))


def test_fid_monitor_logs_into_history():
    cfg, gan = _gan(epochs=1)

    class MeanFeatures:
        def features(self, images):
            return np.stack([images.mean(axis=(1, 2, 3)), images.std(axis=(1, 2, 3))], axis=1)

    real = np.random.default_rng(1).normal(size=(50, 2))
    monitor = training.FIDMonitor(MeanFeatures(), real, n=20)
    history = gan.fit(_data(cfg), epochs=1, verbose=0, callbacks=[monitor])
    assert history.history["fid"][0] == pytest.approx(monitor.values[1])
    assert monitor.values[1] > 0


def test_sample_grid_names_the_protocol_a_model_lacks():
    import keras

    x = keras.Input((2,))
    plain = keras.Model(x, keras.layers.Dense(1)(x))
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=r"preview\(inputs\).*Functional lacks it"):
        plain.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[training.SampleGrid(n=2)])


@pytest.mark.parametrize("objective", ["bce", "lsgan", "hinge", "wgan", "wgan-gp"])
def test_objective_is_one_config_field(objective):
    cfg, gan = _gan(objective=objective, label_smoothing="none")
    assert gan.objective.name == objective
    want = {"d_loss", "g_loss", "d_real", "d_fake"} | ({"d_acc"} if objective not in ("wgan", "wgan-gp") else set())
    assert {m.name for m in gan.metrics} == want
    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, cfg.image_size, cfg.image_size, 1)), tf.float32)
    fakes = gan.generator(gan.fixed_noise(8), training=True)
    real_out, fake_out = gan.discriminator(real), gan.discriminator(fakes)
    d_loss = float(gan.discriminator_loss(real, fakes, real_out, fake_out))
    plain = float(gan.objective.discriminator(real_out, fake_out))
    if objective == "wgan-gp":
        assert d_loss > plain  # the gradient penalty is added
    else:
        assert d_loss == pytest.approx(plain, rel=1e-5)
    logs = gan.train_step(real)
    assert set(logs) == want and all(np.isfinite(float(v)) for v in logs.values())
    score = float(logs["d_real"])
    assert (0.0 <= score <= 1.0) if objective == "bce" else True  # probabilities only where D has logits
    with pytest.raises(ValueError, match="needs objective 'bce'"):
        dcgan.config("modern").replace(objective=objective if objective != "bce" else "hinge")


def test_update_groups_are_declared_and_checked():
    cfg, gan = _gan()
    assert gan.NETWORKS == ("generator", "discriminator") and set(gan.optimizers) == {"generator", "discriminator"}
    assert set(map(id, gan.group_variables("generator"))) == set(map(id, gan.generator.trainable_variables))
    with pytest.raises(ValueError, match="unknown update group 'critic'"):
        gan.group_variables("critic")
    with pytest.raises(ValueError, match="optimizers for unknown group"):
        dcgan.DCGAN(cfg).compile({"critic": training.make_optimizer("adam", 1e-3)})
    g = dcgan.build_generator(cfg)
    with pytest.raises(ValueError, match="declares networks generator, discriminator"):
        training.AdversarialModel({"generator": g})
    with pytest.raises(ValueError, match="does not depend on"):  # a loss that ignores the updated group
        gan.update("discriminator", lambda: tf.reduce_mean(gan.generator(gan.fixed_noise(2))))


def test_linear_decay_schedule():
    schedule = training.LinearDecay(1.0, start=10, steps=20)
    assert [float(schedule(s)) for s in (0, 10, 20, 30, 40)] == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])
    opt = dcgan.config("modern", schedule="linear", decay_start=5, decay_steps=5).make_optimizer("generator")
    opt.build([tf.Variable(0.0)])
    opt.iterations.assign(7)
    assert float(opt.learning_rate) == pytest.approx(2e-4 * 0.6)
    with pytest.raises(ValueError, match="schedule='cosine'"):
        training.make_optimizer("adam", 1e-3, schedule="cosine")


def test_translation_updates_touch_only_their_network_and_support_unconditional_d():
    from gancourse.nn import translation
    from gancourse.training import steps

    g = translation.unet_generator("paper", 32, 3, 3, base_filters=4)
    d_cond = translation.patchgan_discriminator("paper", 32, 3, 3, base_filters=4)
    image = keras.Input((32, 32, 3))
    d_plain = keras.Model(image, keras.layers.Conv2D(1, 4, strides=4)(image))  # an unconditional critic
    rng = np.random.default_rng(0)
    x, y = (tf.constant(rng.uniform(-1, 1, (2, 32, 32, 3)), tf.float32) for _ in range(2))
    for d, source in ((d_cond, x), (d_plain, None)):
        g_before = [v.numpy().copy() for v in g.trainable_variables]
        d_before = [v.numpy().copy() for v in d.trainable_variables]
        value, p_real, p_fake = steps.discriminator_update(d, keras.optimizers.Adam(1e-2), y, g(x),
                                                                 source=source)
        assert np.isfinite(float(value)) and 0 < float(p_real) < 1 and 0 < float(p_fake) < 1
        assert all(np.array_equal(a, v.numpy()) for a, v in zip(g_before, g.trainable_variables))
        assert any(not np.array_equal(a, v.numpy()) for a, v in zip(d_before, d.trainable_variables))
        d_before = [v.numpy().copy() for v in d.trainable_variables]
        total, gan_term, l1, fake = steps.generator_update(
            g, d, keras.optimizers.Adam(1e-2), x, y, l1_weight=10.0, conditional=source is not None,
            objective="bce")
        assert float(total) == pytest.approx(float(gan_term) + 10 * float(l1), rel=1e-5)
        assert fake.shape == (2, 32, 32, 3)
        assert all(np.array_equal(a, v.numpy()) for a, v in zip(d_before, d.trainable_variables))
        assert any(not np.array_equal(a, v.numpy()) for a, v in zip(g_before, g.trainable_variables))


class _TwoWay(training.AdversarialModel):
    """A CycleGAN-shaped model: two generators and two discriminators in two update groups, an image pool."""

    NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")
    GROUPS = {"generators": ("g_ab", "g_ba"), "discriminators": ("d_a", "d_b")}
    METRICS = ("g_loss", "d_loss")
    DATA_NETWORK = "d_a"

    def __init__(self):
        def net(name, out):
            x = keras.Input((4,))
            return keras.Model(x, keras.layers.Dense(out, name=f"{name}_dense")(x), name=name)

        super().__init__({"g_ab": net("g_ab", 4), "g_ba": net("g_ba", 4), "d_a": net("d_a", 1),
                          "d_b": net("d_b", 1)}, seed=0, name="two_way")
        self.pool = nn.ImagePool(3, (4,), seed=1)

    def extra_state(self):
        return {"pool_b": self.pool}

    def train_step(self, data):
        a, b = data
        g_loss, fake_b = self.update("generators", lambda: (
            tf.reduce_mean(tf.square(self.d_b(self.g_ab(a)) - 1)) + tf.reduce_mean(tf.abs(self.g_ba(self.g_ab(a)) - a)),
            self.g_ab(a)))
        old_fake_b = self.pool(tf.stop_gradient(fake_b))
        d_loss = self.update("discriminators", lambda: tf.reduce_mean(tf.square(self.d_b(b) - 1))
                             + tf.reduce_mean(tf.square(self.d_b(old_fake_b))) + 0.0 * tf.reduce_mean(self.d_a(a)))
        return self.record(g_loss=g_loss, d_loss=d_loss)


def test_any_number_of_networks_groups_and_declared_extra_state(tmp_path):
    model = _TwoWay()
    with pytest.raises(ValueError, match="needs an optimizer for group 'discriminators'"):
        model.compile({"generators": keras.optimizers.Adam(1e-2)})
    model.compile({"generators": keras.optimizers.Adam(1e-2), "discriminators": keras.optimizers.Adam(1e-2)})
    assert len(model.group_variables("generators")) == 4 and len(model.group_variables("discriminators")) == 4
    rng = np.random.default_rng(0)
    batch = tuple(tf.constant(rng.normal(size=(2, 4)), tf.float32) for _ in range(2))
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(3), epochs=1, verbose=0)
    assert int(model.pool.count) == 3  # the pool filled up inside the compiled train_step
    objects = model.checkpoint_objects()
    assert set(objects) == {"g_ab", "g_ba", "d_a", "d_b", "optimizer_generators", "optimizer_discriminators",
                            "rng", "pool_b"}
    state = training.checkpoint_state(model)
    state.save(str(tmp_path / "ckpt"))
    fresh = _TwoWay()
    fresh.compile({"generators": keras.optimizers.Adam(1e-2), "discriminators": keras.optimizers.Adam(1e-2)})
    training.restore(fresh, tmp_path)
    np.testing.assert_array_equal(fresh.pool.buffer.numpy(), model.pool.buffer.numpy())
    assert int(fresh.pool.count) == 3
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizers["generators"].iterations) == 3
