"""AC-GAN: networks, losses against a hand computation, class conditioning, class-accuracy scoring, data and CLI."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gancourse.cli import main
from gancourse.models import acgan

# Keras count_params() of the full-size presets (BatchNorm moving statistics included).
COUNTS = {"modern": (847_361, 201_675), "paper": (2_994_339, 1_665_867)}


def smoke(**changes):
    return acgan.config("modern").scaled("smoke").replace(**changes)


@pytest.mark.parametrize("preset", acgan.PRESETS)
def test_full_size_networks_shapes_and_parameter_counts(preset):
    cfg = acgan.config(preset)
    model = acgan.ACGAN(cfg)
    assert (model.generator.count_params(), model.discriminator.count_params()) == COUNTS[preset]
    size, channels = (28, 1) if preset == "modern" else (32, 3)
    assert model.generator.output_shape == (None, size, size, channels)
    assert [tuple(t.shape) for t in model.generator.inputs] == [(None, 100), (None, 10)]
    assert [tuple(o) for o in model.discriminator.output_shape] == [(None, 1), (None, 10)]


def test_paper_networks_follow_the_table():
    d = acgan.build_discriminator(acgan.config("paper"))
    convs = [layer for layer in d.layers if type(layer).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [16, 32, 64, 128, 256, 512]
    assert [c.strides for c in convs] == [(2, 2), (1, 1)] * 3 and {c.kernel_size for c in convs} == {(3, 3)}
    assert [type(layer).__name__ for layer in d.layers].count("Dropout") == 6
    g = acgan.build_generator(acgan.config("paper"))
    transposed = [layer for layer in g.layers if type(layer).__name__ == "Conv2DTranspose"]
    assert [(t.filters, t.kernel_size, t.strides) for t in transposed] == [(192, (5, 5), (2, 2)), (96, (5, 5), (2, 2)),
                                                                          (3, (5, 5), (2, 2))]
    dense = next(layer for layer in g.layers if type(layer).__name__ == "Dense")
    assert dense.kernel.shape == (110, 4 * 4 * 384)  # the 110-d input: 100 noise + 10 one-hot


def test_losses_match_a_hand_computation():
    model = acgan.ACGAN(smoke(class_weight=0.5))
    real_s, fake_s = np.array([[1.5], [-0.5]], np.float32), np.array([[0.2], [-2.0]], np.float32)
    real_k = np.array([[2.0, 0.0] + [0.0] * 8, [0.0, 1.0] + [0.0] * 8], np.float32)
    fake_k = np.array([[0.5] + [0.0] * 9, [0.0] * 9 + [3.0]], np.float32)
    labels, fake_labels = np.array([0, 1]), np.array([3, 9])

    def softplus(x):
        return np.log1p(np.exp(x))

    def ce(k, y):
        return np.mean(np.log(np.exp(k).sum(axis=1)) - k[np.arange(len(y)), y])

    adversarial = 0.5 * (np.mean(softplus(-real_s)) + np.mean(softplus(fake_s)))  # -log D(real), -log(1 - D(fake))
    want_d = adversarial + 0.5 * 0.5 * (ce(real_k, labels) + ce(fake_k, fake_labels))
    got_d = model.ac_discriminator_loss(real_s, fake_s, real_k, fake_k, labels, fake_labels)
    np.testing.assert_allclose(float(got_d), want_d, rtol=1e-5)
    want_g = np.mean(softplus(-fake_s)) + 0.5 * ce(fake_k, fake_labels)  # non-saturating + class term
    np.testing.assert_allclose(float(model.ac_generator_loss(fake_s, fake_k, fake_labels)), want_g, rtol=1e-5)
    np.testing.assert_allclose(float(acgan.class_hits(labels, real_k)), 1.0)
    np.testing.assert_allclose(float(acgan.class_hits(fake_labels, fake_k)), 0.5)


def test_one_train_step_changes_both_networks_and_reports_class_accuracies():
    cfg = smoke(batch_size=16)
    model = acgan.ACGAN(cfg)
    model.compile(run_eagerly=True)
    images, labels = acgan.labelled_arrays(cfg)
    before = {k: [w.copy() for w in net.get_weights()] for k, net in model.networks.items()}
    logs = model.train_step((tf.constant(images[:16]), tf.constant(labels[:16])))
    for key, net in model.networks.items():
        assert any(not np.array_equal(a, b) for a, b in zip(before[key], net.get_weights())), f"{key} unchanged"
    assert {"d_loss", "g_loss", "d_acc", "d_real", "d_fake", "class_real", "class_fake"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert 0.0 <= float(logs["class_real"]) <= 1.0


@pytest.mark.parametrize("conditioning", acgan.CONDITIONING)
def test_the_class_changes_the_image(conditioning):
    model = acgan.ACGAN(smoke(conditioning=conditioning))
    z = model.fixed_noise(4, seed=3)
    zeros, ones = model.generate(z, 0), model.generate(z, 1)
    assert zeros.shape == (4, 8, 8, 1) and np.all(np.abs(zeros) <= 1)
    assert np.abs(zeros - ones).mean() > 1e-4
    np.testing.assert_array_equal(model.generate(z, [0, 0, 0, 0]), zeros)  # one class for all == that class each
    # default: the classes in turn; the preview grid has one row per class
    np.testing.assert_array_equal(model.sample(12, seed=3, labels=None)[:4], model.generate(model.fixed_noise(12, 3),
                                                                                             np.arange(12) % 10)[:4])
    assert model.preview(model.preview_inputs(64)).shape == (10, 8, 8, 8, 1)
    assert model.metric_samples(5).shape == (5, 8, 8, 1)
    assert model.classify(zeros).shape == (4, 10)
    np.testing.assert_allclose(model.classify(zeros).sum(axis=1), 1.0, rtol=1e-5)


def test_bad_labels_and_inputs_get_one_line_errors():
    model = acgan.ACGAN(smoke())
    z = model.fixed_noise(3)
    with pytest.raises(ValueError, match="label 10 is out of range: this model has classes 0-9"):
        model.generate(z, 10)
    with pytest.raises(ValueError, match="label -1 is out of range"):
        model.sample(3, labels=[0, -1, 2])
    with pytest.raises(ValueError, match="got 2 labels for 3 samples"):
        model.generate(z, [1, 2])
    with pytest.raises(ValueError, match="labels must be integer classes 0-9"):
        model.generate(z, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"labels must be one class or a vector \(n,\)"):
        model.generate(z, np.zeros((3, 10), int))
    with pytest.raises(ValueError, match=r"noise must have shape \(n, 100\)"):
        model.generate(np.zeros((3, 5)), 0)
    with pytest.raises(ValueError, match=r"images must be \(n, 8, 8, 1\)"):
        model.classify(np.zeros((2, 28, 28, 1)))


def test_data_must_be_labelled_pairs():
    cfg = smoke()
    images, labels = acgan.labelled_arrays(cfg)
    assert images.shape == (1497, 8, 8, 1) and labels.dtype == np.int32 and set(labels) == set(range(10))
    data = acgan.batches(cfg, (images, labels))
    x, y = next(iter(data))
    assert x.shape == (32, 8, 8, 1) and y.shape == (32,)
    with pytest.raises(ValueError, match="AC-GAN trains on \\(images, labels\\) batches"):
        acgan.batches(cfg, images)
    with pytest.raises(ValueError, match="label 12 is out of range"):
        acgan.batches(cfg, (images[:40], np.full(40, 12)))
    with pytest.raises(ValueError, match=r"images must be \(n, 8, 8, 1\) for this config, got shape \(40, 28, 28, 1\)"):
        acgan.batches(cfg, (np.zeros((40, 28, 28, 1), np.float32), labels[:40]))
    model = acgan.ACGAN(cfg)
    model.compile()
    from gancourse.data.pipeline import image_dataset

    with pytest.raises(ValueError, match="AC-GAN trains on \\(images, labels\\) batches"):
        model.fit(image_dataset(images, 32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="labels must be integer classes of shape \\(batch,\\)"):
        model.fit(image_dataset(images, 32, labels=np.eye(10)[labels]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="reads no folder"):
        acgan.training_data(cfg, data_dir="somewhere")
    with pytest.raises(ValueError, match="digits has 10 classes but num_classes=5"):
        acgan.labelled_arrays(cfg.replace(num_classes=5))


def test_config_errors():
    with pytest.raises(ValueError, match="image_size=20 does not fit the paper architecture: it must be a multiple of 8"):
        acgan.config("paper", image_size=20)
    with pytest.raises(ValueError, match="objective='wgan-gp' is not supported"):
        acgan.config("modern", objective="wgan-gp")
    with pytest.raises(ValueError, match="conditioning='add' is not allowed"):
        acgan.config("modern", conditioning="add")
    with pytest.raises(ValueError, match="ACGAN needs an? ACGANConfig or a preset name, got int"):
        acgan.ACGAN(3)


class FixedClassifier:
    """Predicts the requested class of every sample except those requested as ``wrong_class`` (then ``instead``)."""

    def __init__(self, requested, wrong_class, instead):
        self.predicted = np.where(requested == wrong_class, instead, requested)
        self.shapes = []

    def predict(self, images):
        self.shapes.append(images.shape)
        return np.eye(10, dtype=np.float32)[self.predicted]


def test_class_accuracy_counts_the_requested_class():
    model = acgan.ACGAN(smoke())
    requested = np.repeat(np.arange(10), 3)
    classifier = FixedClassifier(requested, wrong_class=2, instead=5)
    model.classify = lambda images: np.eye(10, dtype=np.float32)[np.where(requested < 4, requested, 0)]
    result = acgan.class_accuracy(model, classifier, n_per_class=3, seed=1)
    assert classifier.shapes == [(30, 8, 8, 1)]
    assert result.accuracy == pytest.approx(0.9)
    np.testing.assert_array_equal(result.per_class, [1, 1, 0, 1, 1, 1, 1, 1, 1, 1])
    assert result.aux_accuracy == pytest.approx(0.4)  # classes 0-3 right; the rest all called 0
    with pytest.raises(ValueError, match="n_per_class=0 must be >= 1"):
        acgan.class_accuracy(model, classifier, 0)
    with pytest.raises(ValueError, match="classifier must have predict"):
        acgan.class_accuracy(model, object(), 3)

    class Narrow:
        def predict(self, images):
            return np.ones((len(images), 3)) / 3

    with pytest.raises(ValueError, match=r"gave probabilities of shape \(30, 3\) for 30 images of 10 classes"):
        acgan.class_accuracy(model, Narrow(), 3)


def test_class_accuracy_uses_the_same_noise_for_every_class():
    model = acgan.ACGAN(smoke())
    seen = []

    class Recorder:
        def predict(self, images):
            seen.append(images)
            return np.full((len(images), 10), 0.1)

    acgan.class_accuracy(model, Recorder(), n_per_class=2, seed=4)
    z = model.fixed_noise(2, 4)
    np.testing.assert_allclose(seen[0][2:4], model.generate(z, 1), atol=1e-6)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("acgan") / "run"
    assert main(["train", "acgan", "--profile", "smoke", "--out", str(out), "--epochs", "1"]) == 0
    return out


def test_cli_samples_one_class_or_the_class_grid(run, tmp_path, capsys):
    target = tmp_path / "three.png"
    assert main(["sample", "acgan", "--out", str(run), "--label", "3", "--n", "4", "--file", str(target)]) == 0
    assert "wrote 4 samples of class 3 of the epoch-1 model" in capsys.readouterr().out
    assert Image.open(target).size == (2 * 9 + 1, 2 * 9 + 1)  # four 8x8 digits, 1 px borders
    grid = tmp_path / "grid.png"
    assert main(["sample", "acgan", "--out", str(run), "--n", "4", "--file", str(grid)]) == 0
    assert Image.open(grid).size == (4 * 9 + 1, 10 * 9 + 1)  # four noise vectors (columns) x ten classes (rows)


@pytest.mark.parametrize("label", ["10", "-1"])
def test_cli_rejects_a_label_out_of_range(run, label, capsys):
    assert main(["sample", "acgan", "--out", str(run), f"--label={label}"]) == 2
    assert f"error: label {label} is out of range: this model has classes 0-9" in capsys.readouterr().err


def test_cli_rejects_a_label_for_an_unconditional_model(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["train", "gan", "--profile", "smoke", "--out", str(out), "--epochs", "1"]) == 0
    assert main(["sample", "gan", "--out", str(out), "--label", "1"]) == 2
    assert "gan is not class-conditional; --label is for acgan" in capsys.readouterr().err


def test_the_keras2_baseline_loop_trains_both_networks():
    from gancourse import bench, legacy

    cfg = bench._config("acgan", "smoke")
    loop = bench.legacy_loop("acgan", cfg)
    assert isinstance(loop, legacy.LegacyACGANLoop)
    images, labels = acgan.labelled_arrays(cfg)
    d_before, g_before = loop.discriminator.get_weights(), loop.generator.get_weights()
    d_loss, g_loss = loop.step(images[:8], labels[:8])
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, loop.discriminator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, loop.generator.get_weights()))
    run = bench._runner("acgan", cfg, bench.BASELINE)
    run(1)  # on the model's own (images, labels) batches
