"""CycleGAN: architectures and counts, the objective, the update groups, the image pool, the decay, bad input."""

import numpy as np
import pytest
import tensorflow as tf
import keras
from keras import layers

from gancourse import training
from gancourse.data import unpaired
from gancourse.models import cyclegan
from gancourse.nn import ImagePool, translation
from gancourse.nn.spatial import ReflectionPadding

RNG = np.random.default_rng(0)


def _smoke(preset="paper", **changes):
    return cyclegan.config(preset).scaled("smoke").replace(**changes)


def _images(n, size=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)


# ---------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("preset,generator,discriminator", [
    ("book", 1_971_747, 2_766_529), ("paper", 11_378_179, 2_764_737), ("unet", 54_413_955, 2_764_737)])
def test_full_size_counts(preset, generator, discriminator):
    model = cyclegan.CycleGAN(preset)
    assert {k: net.count_params() for k, net in model.networks.items()} == {
        "g_ab": generator, "g_ba": generator, "d_a": discriminator, "d_b": discriminator}


def test_unet_count_is_the_pix2pix_unet_with_affine_instance_norm():
    """Batch norm has 4 numbers per channel (scale, offset, moving mean and variance), affine instance norm 2;
    the two U-Nets differ by 2 per normalised channel and in nothing else."""
    batch = translation.unet_generator("paper", 256)
    instance = cyclegan.build_generator(cyclegan.config("unet"))
    channels = sum(layer.gamma.shape[0] for layer in batch.layers if isinstance(layer, layers.BatchNormalization))
    assert channels == 128 + 256 + 512 * 4 + 512 * 4 + 256 + 128 + 64  # encoder 2-7, decoder 1-7
    assert batch.count_params() - instance.count_params() == 2 * channels == 9_856
    assert not any(isinstance(layer, layers.BatchNormalization) for layer in instance.layers)


def test_output_shapes_and_value_ranges():
    book = cyclegan.CycleGAN("book")
    assert book.d_a.output_shape == (None, 7, 7, 1)  # the book's 7x7 at 128 px
    assert book.g_ab.output_shape == (None, 128, 128, 3)
    paper = cyclegan.CycleGAN("paper")
    assert paper.d_b.output_shape == (None, 30, 30, 1) and paper.g_ba.output_shape == (None, 256, 256, 3)
    assert translation.receptive_field(paper.d_a) == 70
    assert translation.receptive_field(book.d_a) == 94
    at_128 = cyclegan.build_discriminator(cyclegan.config("paper", image_size=128))
    assert at_128.output_shape == (None, 14, 14, 1)
    model = cyclegan.CycleGAN(_smoke("book"))
    out = model.translate(_images(3), "b2a")
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.float32 and np.abs(out).max() <= 1
    probabilities = np.asarray(model.d_a(_images(2)))
    assert probabilities.min() >= 0 and probabilities.max() <= 1  # the book's D ends in a sigmoid


def _count(net, kind):
    return sum(isinstance(layer, kind) for layer in net.layers)


def test_residual_blocks_follow_the_image_size_and_the_norms_follow_the_preset():
    res = lambda net: sum(layer.name.endswith("_add") for layer in net.layers)  # noqa: E731
    assert res(cyclegan.build_generator(cyclegan.config("paper"))) == 9
    assert res(cyclegan.build_generator(cyclegan.config("paper", image_size=128))) == 6
    assert res(cyclegan.build_generator(cyclegan.config("paper", image_size=128, res_blocks=9))) == 9
    assert res(cyclegan.build_generator(_smoke())) == 2
    book = cyclegan.build_generator(cyclegan.config("book"))
    assert res(book) == 6
    norms = [layer for layer in book.layers if isinstance(layer, layers.BatchNormalization)]
    assert len(norms) == 12 and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)
    instance = [layer for layer in book.layers if isinstance(layer, layers.GroupNormalization)]
    assert len(instance) == 5 and all(n.groups in (-1, n.input.shape[-1]) and n.center and n.scale for n in instance)
    paper = cyclegan.build_generator(cyclegan.config("paper"))
    assert _count(paper, layers.BatchNormalization) == 0
    assert all(not n.center and not n.scale for n in paper.layers if isinstance(n, layers.GroupNormalization))
    assert _count(paper, ReflectionPadding) == 2 + 2 * 9  # the two 7x7 convolutions and every residual 3x3
    assert _count(book, ReflectionPadding) == 0
    assert _count(book, layers.ZeroPadding2D) == 0  # "same" padding throughout


def test_reference_transposed_convolution_alignment():
    """PyTorch's ConvTranspose2d(k3, s2, padding=1, output_padding=1) keeps rows 1..2s of the full 2s + 1 map;
    Keras's "same" keeps rows 0..2s-1. The paper generator crops like PyTorch."""
    net = cyclegan.build_generator(_smoke())
    deconv = net.get_layer("up1_deconv")
    crop = net.get_layer("up1_crop")
    x = tf.constant(RNG.normal(size=(1,) + tuple(deconv.input.shape[1:])), tf.float32)
    full = deconv(x)
    assert full.shape[1] == 2 * x.shape[1] + 1
    np.testing.assert_array_equal(crop(full), full[:, 1:, 1:])


# ---------------------------------------------------------------------------
# the objective and the update groups
# ---------------------------------------------------------------------------
def test_generator_objective_matches_a_direct_computation():
    cfg = _smoke(pool_size=0, lambda_cycle=10.0, identity_weight=5.0)
    model = cyclegan.CycleGAN(cfg)
    model.compile(run_eagerly=True)
    a, b = _images(4, seed=1), _images(4, seed=2)
    g, f, d_a, d_b = (lambda x, net=net: np.asarray(net(x, training=True)) for net in
                      (model.g_ab, model.g_ba, model.d_a, model.d_b))
    adv = np.mean((d_b(g(a)) - 1) ** 2) + np.mean((d_a(f(b)) - 1) ** 2)  # LSGAN on logits, not halved
    cycle = np.mean(np.abs(f(g(a)) - a)) + np.mean(np.abs(g(f(b)) - b))
    identity = np.mean(np.abs(f(a) - a)) + np.mean(np.abs(g(b) - b))
    total, got_adv, got_cycle, got_identity, fake_b, fake_a = model.generator_step(a, b)
    np.testing.assert_allclose([got_adv, got_cycle, got_identity], [adv, cycle, identity], rtol=1e-5)
    np.testing.assert_allclose(total, adv + 10 * cycle + 5 * identity, rtol=1e-5)


def test_loss_weights_hook_takes_tensors_switched_without_a_new_trace():
    """A subclass may return variables from loss_weights(): one traced step then serves every setting."""
    import tensorflow as tf

    class Switched(cyclegan.CycleGAN):
        def __init__(self, cfg):
            super().__init__(cfg)
            self.weights_now = (tf.Variable(10.0, trainable=False), tf.Variable(5.0, trainable=False))

        def loss_weights(self):
            return self.weights_now

    model = Switched(_smoke(pool_size=0))
    model.compile()
    a, b = _images(4, seed=1), _images(4, seed=2)
    step = tf.function(lambda a, b: model.generator_step(a, b)[:4])
    tape_free = [np.asarray(x) for x in step(a, b)]
    traces = step.experimental_get_tracing_count()  # the first call also creates the optimizer's variables
    model.weights_now[0].assign(0.0)
    model.weights_now[1].assign(0.0)
    total, adversarial, cycle, identity = (float(x) for x in step(a, b))
    assert step.experimental_get_tracing_count() == traces
    assert np.isclose(total, adversarial) and cycle > 0 and identity > 0  # measured, but weighted 0
    assert tape_free[0] > tape_free[1]  # with the weights on, the total carried the L1 terms


@pytest.mark.parametrize("preset,scale", [("paper", 0.5), ("book", 1.0)])
def test_discriminator_loss_is_halved_for_the_paper_only(preset, scale):
    cfg = _smoke(preset, pool_size=0)
    model = cyclegan.CycleGAN(cfg)
    model.compile(run_eagerly=True)
    a, b, fa, fb = (_images(2, seed=s) for s in range(4))
    out = lambda net, x: np.asarray(net(x, training=True))  # noqa: E731
    want = sum(np.mean((out(d, real) - 1) ** 2) + np.mean(out(d, fake) ** 2)
               for d, real, fake in ((model.d_a, a, fa), (model.d_b, b, fb)))
    np.testing.assert_allclose(model.discriminator_step(a, b, fa, fb), scale * want, rtol=1e-5)


def _weights(model):
    return {k: [v.numpy().copy() for v in net.trainable_variables] for k, net in model.networks.items()}


def _changed(before, model):
    return {k: any(not np.array_equal(w, v.numpy()) for w, v in zip(before[k], net.trainable_variables))
            for k, net in model.networks.items()}


@pytest.mark.parametrize("preset", ["book", "paper"])
def test_each_update_changes_only_its_groups_networks(preset):
    model = cyclegan.CycleGAN(_smoke(preset))
    model.compile(run_eagerly=True)
    a, b = _images(2, seed=1), _images(2, seed=2)
    before = _weights(model)
    *_, fake_b, fake_a = model.generator_step(a, b)
    assert _changed(before, model) == {"g_ab": True, "g_ba": True, "d_a": False, "d_b": False}
    before = _weights(model)
    model.discriminator_step(a, b, fake_a, fake_b)
    assert _changed(before, model) == {"g_ab": False, "g_ba": False, "d_a": True, "d_b": True}
    before = _weights(model)
    model.train_step((a, b))
    assert all(_changed(before, model).values())


def test_ablations_train_and_skip_their_terms():
    a, b = _images(2, seed=1), _images(2, seed=2)
    for changes in ({"lambda_cycle": 0.0}, {"identity_weight": 0.0}, {"pool_size": 0}):
        model = cyclegan.CycleGAN(_smoke(**changes))
        model.compile(run_eagerly=True)
        total, adv, cycle, identity, *_ = model.generator_step(a, b)
        assert float(cycle) > 0  # tracked even without its weight
        weight_id = changes.get("identity_weight", 5.0)
        assert float(identity) == 0.0 if not weight_id else float(identity) > 0
        np.testing.assert_allclose(total, adv + changes.get("lambda_cycle", 10.0) * cycle + weight_id * identity,
                                   rtol=1e-5)
        assert bool(model.pools) == ("pool_size" not in changes)


def test_fit_on_offline_unpaired_data_lowers_the_cycle_error():
    cfg = _smoke("book", epochs=2, steps_per_execution=4)
    model = cyclegan.CycleGAN(cfg)
    model.compile()
    data, (a, b) = cyclegan.training_data(cfg)
    history = model.fit(data, epochs=cfg.epochs, verbose=0).history
    assert set(history) == set(cyclegan.CycleGAN.METRICS)
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["cycle"][-1] < history["cycle"][0]
    assert model.preview((a, b)).shape == (6, 4, 32, 32, 3)


# ---------------------------------------------------------------------------
# the image pool
# ---------------------------------------------------------------------------
def test_pool_returns_new_images_until_full_then_only_given_ones():
    pool = ImagePool(6, (1,), seed=3)
    first = np.arange(6, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(pool(first[:4]).numpy(), first[:4])  # filling: the new image comes back
    np.testing.assert_array_equal(pool(first[4:]).numpy(), first[4:])
    given = set(first.ravel())
    swapped = 0
    for step in range(50):
        batch = np.arange(100 + 4 * step, 104 + 4 * step, dtype=np.float32)[:, None]
        given |= set(batch.ravel())
        out = pool(batch).numpy().ravel()
        assert set(out) <= given  # never an image it was not given
        swapped += int(np.sum(out != batch.ravel()))
    # once full, each query returns a stored image with p = 1/2: 200 draws, a 4-sigma band around 100
    assert abs(swapped - 100) < 4 * np.sqrt(200 * 0.25)


def test_pool_is_checkpointed_with_the_model(tmp_path):
    cfg = _smoke(pool_size=5)
    model = cyclegan.CycleGAN(cfg)
    model.compile(run_eagerly=True)
    for seed in range(3):
        model.train_step((_images(2, seed=seed), _images(2, seed=seed + 10)))
    assert int(model.pools["pool_a"].count) == 5
    state = training.checkpoint_state(model)
    state.save(str(tmp_path / "ckpt"))
    fresh = cyclegan.CycleGAN(cfg.replace(seed=7))
    fresh.compile()
    training.restore(fresh, tmp_path)
    for key in ("pool_a", "pool_b"):
        np.testing.assert_array_equal(fresh.pools[key].buffer.numpy(), model.pools[key].buffer.numpy())
        assert int(fresh.pools[key].count) == int(model.pools[key].count)
        np.testing.assert_array_equal(np.asarray(fresh.pools[key].seed_state), np.asarray(model.pools[key].seed_state))
    assert "pool_a" in model.checkpoint_objects()
    assert cyclegan.CycleGAN(_smoke(pool_size=0)).extra_state() == {}


# ---------------------------------------------------------------------------
# the decay schedule
# ---------------------------------------------------------------------------
def test_paper_decay_at_epochs_0_100_150_200():
    cfg = cyclegan.config("paper", image_size=32, base_filters=8, d_filters=8, steps_per_epoch=7)
    model = cyclegan.CycleGAN(cfg)
    model.compile()
    for group, schedule in model.schedules.items():
        got = [float(schedule(epoch * 7)) for epoch in (0, 100, 150, 200)]
        np.testing.assert_allclose(got, [2e-4, 2e-4, 1e-4, 0.0], atol=1e-12)
    assert set(model.schedules) == {"generators", "discriminators"}
    assert cyclegan.CycleGAN(cyclegan.config("book", image_size=32)).cfg.decay_schedule("generators") is None


def test_decay_survives_a_resume(tmp_path):
    """Train 2 of 4 epochs (the last 2 decay), restore into a new model, finish: the rate continues where it
    stopped, and equals what one uninterrupted run has at every step."""
    a, b = _images(32, seed=1), _images(32, seed=2)
    cfg = _smoke(epochs=4, decay_epochs=2, pool_size=4, steps_per_execution=1)  # 32 // 8 = 4 steps an epoch
    first = cyclegan.CycleGAN(cfg)
    first.compile()
    training.fit(first, cyclegan.batches(cfg, (a, b)), cfg.replace(epochs=2), tmp_path, verbose=0,
                 preview_inputs=(a[:2], b[:2]))  # then killed
    assert {(s.start, s.steps) for s in first.schedules.values()} == {(8, 8)}
    assert first.learning_rates() == pytest.approx({"generators": 2e-4, "discriminators": 2e-4})
    resumed = cyclegan.CycleGAN(cfg)
    resumed.compile()
    assert training.restore(resumed, tmp_path / "checkpoints") == 2
    resumed.set_steps_per_epoch(4)
    assert int(resumed.optimizers["generators"].iterations) == 8
    assert resumed.learning_rates()["generators"] == pytest.approx(2e-4)
    seen = []

    class Rates(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(resumed.learning_rates()["generators"])

    training.fit(resumed, cyclegan.batches(cfg, (a, b)), cfg, tmp_path, verbose=0, extra_callbacks=[Rates()],
                 preview_inputs=(a[:2], b[:2]))
    np.testing.assert_allclose(seen, [2e-4 * (1 - k / 8) for k in range(8)], atol=1e-10)
    assert resumed.learning_rates()["generators"] == pytest.approx(0.0)


def test_fit_sets_the_epoch_length_from_the_data():
    cfg = _smoke(epochs=2, decay_epochs=1, pool_size=0)
    model = cyclegan.CycleGAN(cfg)
    model.compile()
    model.fit(cyclegan.batches(cfg, (_images(24), _images(16))), epochs=1, verbose=0)  # 24 // 8 = 3 steps
    assert {(s.start, s.steps) for s in model.schedules.values()} == {(3, 3)}
    with pytest.raises(ValueError, match="epoch length is unknown"):
        model.fit(cyclegan.batches(cfg, (_images(24), _images(16))).repeat(), epochs=1, verbose=0)


# ---------------------------------------------------------------------------
# data and bad input
# ---------------------------------------------------------------------------
def test_unaligned_batches_cover_the_longer_domain():
    cfg = _smoke("book", batch_size=4)  # no jitter: every image comes back whole, perhaps flipped
    a, b = _images(12, seed=1), _images(5, seed=2)
    ds = cyclegan.batches(cfg, (a, b))
    got = list(ds.as_numpy_iterator())
    assert len(got) == 3 and all(x.shape == y.shape == (4, 32, 32, 3) for x, y in got)
    seen_a = {x.tobytes() for batch, _ in got for x in batch}
    originals = {x.tobytes() for x in a} | {x[:, ::-1].tobytes() for x in a}
    assert seen_a <= originals and len(seen_a) == 12  # every image of the longer domain once, maybe flipped


def test_offline_data_has_held_out_truth():
    cfg = _smoke()
    a, b = cyclegan.dataset(cfg, "train")
    assert a.shape[1:] == b.shape[1:] == (32, 32, 3)
    held = cyclegan.dataset(cfg, "test")
    assert len(held) == 4 and held[0].shape == held[1].shape and held[2].shape == held[3].shape
    np.testing.assert_allclose(held[1], unpaired.paint(held[0]), atol=1e-6)  # the hidden truth of G(a)
    np.testing.assert_allclose(held[2], unpaired.paint(held[3]), atol=1e-6)
    preview = cyclegan.preview_pairs(cfg, 3)
    assert preview[0].shape == preview[1].shape == (3, 32, 32, 3)


def test_bad_input_gets_one_line_errors():
    model = cyclegan.CycleGAN(_smoke("book"))
    cases = [
        (lambda: model.translate(_images(2, size=16)),
         r"images must have shape \(n, 32, 32, 3\), got \(2, 16, 16, 3\)"),
        (lambda: model.translate(_images(2), direction="sideways"), "unknown direction 'sideways'; choose 'a2b'"),
        (lambda: model.translate(_images(2)[0]), "images must have shape"),
        (lambda: model.preview((_images(2), _images(3))), "as many images of A as of B"),
        (lambda: cyclegan.config("book", colour="red"), r"unknown CycleGANConfig key\(s\) 'colour'"),
        (lambda: cyclegan.config("paper", generator="vgg"), "CycleGANConfig.generator='vgg' is not allowed"),
        (lambda: cyclegan.config("paper", objective="bce"), "CycleGANConfig.objective='bce' is not allowed"),
        (lambda: cyclegan.config("paper", decay_epochs=300), "decay_epochs=300 must be <= epochs=200"),
        (lambda: cyclegan.CycleGAN(cyclegan.config("book", image_size=40)), "multiple of 16"),
        (lambda: cyclegan.batches(_smoke(), (_images(8), _images(8, size=16))), "same image shape"),
        (lambda: cyclegan.dataset(_smoke(), "val"), "split must be 'train' or 'test'"),
        (lambda: cyclegan.dataset(_smoke(), "test", data_dir="photos/"), "reads no folder"),
        (lambda: cyclegan.preview_pairs(_smoke(), 0), "ask for at least 1"),
        (lambda: model.set_steps_per_epoch(0), "steps per epoch must be >= 1"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    model.compile()
    with pytest.raises(ValueError, match="examples of shapes"):
        model.fit(cyclegan.batches(_smoke(image_size=16), (_images(8, size=16), _images(8, size=16))))
