import numpy as np
import pytest
import tensorflow as tf

from gancourse.data.pipeline import image_dataset
from gancourse.models import dcgan

# Keras count_params(), BN moving statistics included (shared/spec §6.3).
COUNTS = {
    "book": (34_872_195, 20_361_473),
    "pyimagesearch": (1_727_233, 1_658_753),
    "gans_in_action": (1_637_121, 95_489),
    "mastering_pytorch": (2_353_153, 100_097),
    # Radford et al. networks: 28x28x1 (modern) and 64x64x3 with 1024..128 filters (paper).
    "modern": (784_641, 138_945),
    "paper": (18_920_323, 4_317_441),
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_full_preset_parameter_counts_and_shapes(name):
    cfg = dcgan.config(name)
    g, d = dcgan.build_generator(cfg), dcgan.build_discriminator(cfg)
    assert (g.count_params(), d.count_params()) == COUNTS[name]
    assert g.output_shape == (None, cfg.image_size, cfg.image_size, cfg.channels)
    assert d.output_shape == (None, 1)


@pytest.mark.parametrize("name", dcgan.PRESETS)
def test_smoke_preset_keeps_structure(name):
    full, small = dcgan.config(name), dcgan.config(name).scaled("smoke")
    assert small.dataset == "digits" and small.channels == 1 and small.profile == "smoke"
    g_full, g_small = dcgan.build_generator(full), dcgan.build_generator(small)
    kinds = lambda m: [type(layer).__name__ for layer in m.layers]  # noqa: E731
    assert kinds(g_full) == kinds(g_small)
    assert kinds(dcgan.build_discriminator(full)) == kinds(dcgan.build_discriminator(small))
    assert g_small.count_params() < g_full.count_params()
    z = np.zeros((2, small.latent_dim), np.float32)
    out = g_small(z)
    assert out.shape == (2, small.image_size, small.image_size, 1)
    assert np.all(np.abs(out) <= 1.0)


def test_book_geometry_and_errata():
    cfg = dcgan.config("book")
    d = dcgan.build_discriminator(cfg)
    flatten = next(layer for layer in d.layers if type(layer).__name__ == "Flatten")
    assert flatten.output.shape[-1] == 6 * 6 * 512 == 18432
    g = dcgan.build_generator(cfg)
    assert g.layers[-1].activation.__name__ == "tanh"  # not the LeakyReLU of one listing
    gia = dcgan.build_discriminator(dcgan.config("gans_in_action"))
    flatten = next(layer for layer in gia.layers if type(layer).__name__ == "Flatten")
    assert flatten.output.shape[-1] == 2048  # 4x4x128, not the 1152 of the text


def test_mastering_pytorch_epsilon_choice_is_a_config_field():
    cfg = dcgan.config("mastering_pytorch")
    eps = sorted({layer.epsilon for layer in dcgan.build_generator(cfg).layers
                  if type(layer).__name__ == "BatchNormalization"})
    assert eps == [1e-5, 0.8]
    intended = dcgan.build_generator(cfg.replace(bn_epsilon=1e-5))
    assert {layer.epsilon for layer in intended.layers if type(layer).__name__ == "BatchNormalization"} == {1e-5}
    assert intended.count_params() == 2_353_153


def test_config_errors():
    with pytest.raises(ValueError, match="unknown dcgan preset 'anime'; choose one of modern"):
        dcgan.config("anime")
    with pytest.raises(ValueError, match="does not fit the book architecture"):
        dcgan.config("book", image_size=28)
    with pytest.raises(ValueError, match="multiple of 4"):
        dcgan.config("pyimagesearch", image_size=30)
    with pytest.raises(ValueError, match="learning_rate=-0.1 must be > 0"):
        dcgan.config("modern", learning_rate=-0.1)
    with pytest.raises(ValueError, match="label_smoothing='sometimes'"):
        dcgan.config("modern", label_smoothing="sometimes")
    with pytest.raises(ValueError, match="unknown DCGANConfig key"):
        dcgan.config("modern", lr=0.1)
    with pytest.raises(ValueError, match="DCGAN needs a DCGANConfig"):
        dcgan.DCGAN(42)


def _smoke_gan(name="modern", **changes):
    cfg = dcgan.config(name).scaled("smoke").replace(batch_size=8, **changes)
    gan = dcgan.DCGAN(cfg)
    gan.compile()
    return cfg, gan


def _snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def _changed(before, model):
    return [not np.array_equal(a, b.numpy()) for a, b in zip(before, model.trainable_variables)]


def test_discriminator_step_changes_only_discriminator():
    cfg, gan = _smoke_gan()
    real = tf.random.uniform((8, cfg.image_size, cfg.image_size, 1), -1, 1)
    g0, d0 = _snapshot(gan.generator), _snapshot(gan.discriminator)
    gan.discriminator_step(real)
    assert all(_changed(d0, gan.discriminator))
    assert not any(_changed(g0, gan.generator))


def test_generator_step_changes_only_generator():
    _, gan = _smoke_gan()
    g0, d0 = _snapshot(gan.generator), _snapshot(gan.discriminator)
    gan.generator_step(8)
    assert all(_changed(g0, gan.generator))
    assert not any(_changed(d0, gan.discriminator))


@pytest.mark.parametrize("name,changes", [
    ("modern", {}),
    ("pyimagesearch", {}),                      # mixed batches, uniform noise, lr decay
    ("mastering_pytorch", {}),                  # G first
    ("book", {}),                               # noisy labels, SGD
    ("modern", {"d_steps": 2, "label_smoothing": "two_sided"}),
])
def test_fit_runs_and_reports_metrics(name, changes):
    cfg, gan = _smoke_gan(name, **changes)
    images = np.random.default_rng(0).uniform(-1, 1, (32, cfg.image_size, cfg.image_size, 1)).astype(np.float32)
    history = gan.fit(image_dataset(images, 8), epochs=1, verbose=0)
    logs = history.history
    assert set(logs) >= {"d_loss", "g_loss", "d_acc", "d_real", "d_fake"}
    assert all(np.isfinite(v[0]) for v in logs.values())
    assert 0.0 <= logs["d_acc"][0] <= 1.0
    expected_iterations = 4 * (cfg.d_steps if name != "mastering_pytorch" else 1)
    assert int(gan.d_optimizer.iterations) == expected_iterations
    assert int(gan.g_optimizer.iterations) == 4


def test_pyimagesearch_optimizer_decays():
    _, gan = _smoke_gan("pyimagesearch")
    gan.build_optimizers()
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(2e-4)
    gan.d_optimizer.iterations.assign(50 * 546)  # the tutorial's 50 epochs of 546 steps
    # Keras 2 decay=2e-4/50 per step: lr0 / (1 + 4e-6 * 27300) = lr0 / 1.1092
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(2e-4 / (1 + 2e-4 / 50 * 27300), rel=1e-4)


def test_sample_is_reproducible_and_in_range():
    cfg, gan = _smoke_gan()
    a, b = gan.sample(6, seed=3), gan.sample(6, seed=3)
    assert a.shape == (6, cfg.image_size, cfg.image_size, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1.0
    with pytest.raises(ValueError, match=r"noise must have shape \(n, 100\)"):
        gan.generate(np.zeros((2, 7)))


def test_wrong_data_shape_is_a_clear_error():
    _, gan = _smoke_gan(image_size=28)
    bad = image_dataset(np.zeros((16, 32, 32, 1), np.float32), 8)
    with pytest.raises(ValueError, match=r"images of shape \(32, 32, 1\) but the discriminator takes \(28, 28, 1\)"):
        gan.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="discriminator takes"):
        gan.fit(np.zeros((16, 28, 28, 3), np.float32), epochs=1, verbose=0)


def test_compile_errors():
    cfg = dcgan.config("modern").scaled("smoke")
    gan = dcgan.DCGAN(cfg)
    with pytest.raises(ValueError, match="call compile"):
        gan.fit(np.zeros((8, 28, 28, 1), np.float32))
    import keras

    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="share one optimizer object"):
        gan.compile({"generator": shared, "discriminator": shared})


def test_every_layer_draws_its_own_initial_kernel():
    """One shared unseeded initialiser would give every layer the same random stream (the same first values)."""
    for name in ("modern", "paper"):
        cfg = dcgan.config(name).scaled("smoke")
        for net in (dcgan.build_generator(cfg), dcgan.build_discriminator(cfg)):
            firsts = [w.numpy().ravel()[:8] for w in net.weights if "kernel" in w.path]
            assert len(firsts) >= 3
            assert len({tuple(np.round(f, 6)) for f in firsts}) == len(firsts), f"{name}: kernels share a stream"
            assert all(abs(float(np.std(f)) - 0.02) < 0.02 for f in firsts)  # still N(0, 0.02)
