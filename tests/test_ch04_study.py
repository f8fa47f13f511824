"""Chapter 04's measures and seeded study: recognisability, diversity, memorisation, slerp, run_study."""

import numpy as np
import pytest

from gancourse import exercises, metrics
from gancourse.experiments import ch04
from gancourse.models import dcgan


def _onehot(labels, classes=10, p=0.95):
    out = np.full((len(labels), classes), (1 - p) / (classes - 1))
    out[np.arange(len(labels)), labels] = p
    return out


def test_recognisability_counts_confident_predictions_and_classes():
    balanced = metrics.recognisability(_onehot(np.arange(100) % 10))
    assert balanced["confident"] == 1.0 and balanced["classes"] == 10
    assert balanced["entropy"] == pytest.approx(1.0)
    np.testing.assert_array_equal(balanced["counts"], np.full(10, 10))
    one_class = metrics.recognisability(_onehot(np.zeros(50, int)))
    assert one_class["classes"] == 1 and one_class["entropy"] == 0.0
    unsure = metrics.recognisability(_onehot(np.arange(20) % 10, p=0.5))
    assert unsure == {**unsure, "confident": 0.0, "classes": 0, "entropy": 0.0}
    half = metrics.recognisability(np.concatenate([_onehot(np.arange(10)), _onehot(np.arange(10), p=0.5)]))
    assert half["confident"] == 0.5


def test_recognisability_ignores_stray_classes_and_rejects_bad_input():
    labels = np.concatenate([np.zeros(99, int), [3]])
    assert metrics.recognisability(_onehot(labels), min_share=0.02)["classes"] == 1
    assert metrics.recognisability(_onehot(labels), min_share=0.0)["classes"] == 2
    with pytest.raises(ValueError, match="distribution"):
        metrics.recognisability(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\(n, classes\)"):
        metrics.recognisability(np.ones(4) / 4)
    with pytest.raises(ValueError, match="threshold"):
        metrics.recognisability(_onehot(np.arange(3)), threshold=0)


def test_diversity_detects_collapse():
    rng = np.random.default_rng(0)
    varied = rng.uniform(-1, 1, (50, 8, 8, 1))
    collapsed = np.repeat(varied[:1], 50, axis=0) + rng.normal(0, 0.01, (50, 8, 8, 1))
    d_varied, d_collapsed = metrics.diversity(varied), metrics.diversity(collapsed)
    assert d_varied["duplicate_rate"] == 0.0 and d_collapsed["duplicate_rate"] == 1.0
    assert d_collapsed["mean_distance"] < 0.05 < 0.5 < d_varied["mean_distance"]
    # RMS per pixel: uniform(-1, 1) pairs differ by sqrt(2/3) on average in quadrature
    assert d_varied["mean_distance"] == pytest.approx(np.sqrt(2 / 3), rel=0.05)
    with pytest.raises(ValueError, match="at least two"):
        metrics.diversity(varied[:1])
    scores = {"distance": [d_varied["mean_distance"], d_collapsed["mean_distance"]],
              "duplicates": [d_varied["duplicate_rate"], d_collapsed["duplicate_rate"]]}
    assert ch04.collapsed(scores, reference_distance=d_varied["mean_distance"]) == [False, True]
    one_digit = {**scores, "classes": [1, 10]}  # varied strokes, but only one digit: collapsed onto a mode
    assert ch04.collapsed(one_digit, reference_distance=d_varied["mean_distance"]) == [True, True]
    assert ch04.collapsed({**scores, "classes": [3, 3]}, d_varied["mean_distance"]) == [False, True]


def test_nearest_distances_find_copies():
    rng = np.random.default_rng(1)
    train = rng.uniform(-1, 1, (40, 4, 4, 1))
    copies = train[:5] + 0.001
    d = metrics.nearest_distances(copies, train)
    assert d.shape == (5,) and np.all(d < 0.01)
    q = rng.uniform(-1, 1, (3, 4, 4, 1))
    brute = [min(np.sqrt(np.mean((x - t) ** 2)) for t in train) for x in q]
    np.testing.assert_allclose(metrics.nearest_distances(q, train, batch_size=2), brute, atol=1e-9)
    with pytest.raises(ValueError, match="same image size"):
        metrics.nearest_distances(q, rng.uniform(-1, 1, (3, 5, 5, 1)))


def test_slerp_stays_on_the_arc():
    rng = np.random.default_rng(2)
    z0, z1 = rng.standard_normal(16), rng.standard_normal(16)
    path = ch04.slerp(z0, z1, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    # two vectors of equal norm: every point keeps the norm (linear interpolation would shrink it)
    a, b = z0 / np.linalg.norm(z0), z1 / np.linalg.norm(z1)
    np.testing.assert_allclose(np.linalg.norm(ch04.slerp(a, b, np.linspace(0, 1, 7)), axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="vectors of one length"):
        ch04.slerp(z0, z1[:3], [0.5])


def test_smoke_modern_is_the_tuned_run_and_ablations_change_layers():
    cfg = dcgan.config("modern").scaled("smoke")
    assert (cfg.image_size, cfg.width, cfg.batch_size, cfg.learning_rate) == (8, 1.0, 64, 1e-3)
    before = ch04.previous_smoke_config()
    assert (before.image_size, before.width, before.batch_size, before.learning_rate, before.epochs) == (
        28, 0.25, 32, 2e-4, 10)
    names = lambda m: [type(layer).__name__ for layer in m.layers]  # noqa: E731
    assert "BatchNormalization" not in names(dcgan.build_generator(cfg.replace(batch_norm="none")))
    assert "BatchNormalization" not in names(dcgan.build_discriminator(cfg.replace(batch_norm="none")))
    assert "BatchNormalization" in names(dcgan.build_generator(cfg.replace(batch_norm="generator")))
    relu_d = names(dcgan.build_discriminator(cfg.replace(d_activation="relu")))
    assert "ReLU" in relu_d and "LeakyReLU" not in relu_d
    with pytest.raises(ValueError, match="batch_norm"):
        cfg.replace(batch_norm="sometimes")


def test_study_config_sizes():
    assert ch04.study_config("gans_in_action", "smoke", epochs=2).image_size == 8
    book = ch04.study_config("book", "smoke", epochs=2)
    assert book.image_size == 24 and book.batch_size == 64 and book.epochs == 2
    assert ch04.study_config("modern", "smoke", d_activation="relu").d_activation == "relu"


@pytest.mark.parametrize("profile", ["smoke", "standard"])
def test_study_arms_share_data_split_and_width(profile):
    """Every arm trains on modern's dataset and training split at modern's width, whatever its preset says
    (gans_in_action and mastering_pytorch are MNIST presets; pyimagesearch trains on split="all")."""
    modern = ch04.study_config("modern", profile)
    names = [n for n in dcgan.PRESETS if n != "paper"]
    arms = {n: ch04.study_config(n, profile, epochs=1) for n in names}
    assert dcgan.config("gans_in_action").dataset == "mnist" and dcgan.config("pyimagesearch").split == "all"
    assert {(c.dataset, c.split, c.width) for c in arms.values()} == {(modern.dataset, "train", modern.width)}
    assert modern.dataset == ("digits" if profile == "smoke" else "fashion_mnist")
    assert modern.width == (0.5 if profile == "smoke" else 1.0)
    if profile == "smoke":
        assert {c.batch_size for c in arms.values()} == {64}
    else:  # each preset keeps its own batch size, hence its own number of steps per epoch
        assert arms["mastering_pytorch"].batch_size == 32 and arms["modern"].batch_size == 128


def test_score_samples_uses_as_many_samples_for_fid_as_the_reference():
    rng = np.random.default_rng(3)
    real = _Extractor().features(rng.uniform(-1, 1, (30, 8, 8, 1)))
    samples = rng.uniform(-1, 1, (90, 8, 8, 1))
    scores = ch04.score_samples(samples, _Extractor(), real)
    assert scores["fid"] == pytest.approx(metrics.fid_from_features(_Extractor().features(samples[:30]), real))
    assert scores["fid"] != pytest.approx(metrics.fid_from_features(_Extractor().features(samples), real))
    assert ch04.score_samples(samples, _Extractor(), real, fid_n=90)["fid"] == pytest.approx(
        metrics.fid_from_features(_Extractor().features(samples), real))
    with pytest.raises(ValueError, match="fid_n"):
        ch04.score_samples(samples[:20], _Extractor(), real)


class _Extractor:
    """A stand-in for the classifier: features are pixel means, classes are brightness bins."""

    def features(self, images):
        x = np.asarray(images).reshape(len(images), -1)
        return np.stack([x.mean(1), x.std(1), x[:, :8].mean(1)], 1)

    def predict(self, images):
        b = np.clip(((np.asarray(images).mean(axis=(1, 2, 3)) + 1) * 5).astype(int), 0, 9)
        return _onehot(b)


def test_run_study_reuses_one_model_and_reproduces_fresh_seeds():
    cfg = ch04.study_config("modern", "smoke", epochs=1).replace(batch_size=128)
    real = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    result = ch04.run_study({"a": cfg}, _Extractor(), real, seeds=(0, 1), n_samples=40, n_grid=4)["a"]
    assert set(result["scores"]) == {"fid", "confident", "classes", "entropy", "distance", "duplicates"}
    assert all(len(v) == 2 for v in result["scores"].values())
    assert result["samples"].shape == (4, 8, 8, 1) and result["steps"] == 1497 // 128
    # seed 1 trained on the reused (reset) model equals seed 1 trained alone
    alone = ch04.run_study({"a": cfg}, _Extractor(), real, seeds=(1, 2), n_samples=40)["a"]
    assert result["scores"]["fid"][1] == pytest.approx(alone["scores"]["fid"][0], rel=1e-4)
    assert result["scores"]["fid"][0] != pytest.approx(result["scores"]["fid"][1], rel=1e-4)
    rows, fid_rows, _ = ch04.study_table({"a": result, "b": alone}, reference_distance=0.6)
    assert [r["arm"] for r in rows] == ["a", "b"] and rows[0]["FID vs a"] == "baseline"
    assert fid_rows[0]["variant"] == "b"
    with pytest.raises(ValueError, match="two or more distinct seeds"):
        ch04.run_study({"a": cfg}, _Extractor(), real, seeds=(0,))


def test_run_study_scores_halfway_and_still_improving_reads_the_second_half():
    cfg = ch04.study_config("modern", "smoke", epochs=2).replace(batch_size=256)
    real = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    result = ch04.run_study({"a": cfg}, _Extractor(), real, seeds=(0, 1), n_samples=40)["a"]
    assert set(result["halfway"]) == set(result["scores"]) and len(result["halfway"]["fid"]) == 2
    assert result["halfway"]["fid"] != pytest.approx(result["scores"]["fid"])  # the second epoch trained on
    assert result["steps"] == 2 * (1497 // 256)
    assert isinstance(ch04.still_improving(result)[0], bool)
    fake = {"halfway": {"fid": [100.0, 100.0, 100.0]}, "scores": {"fid": [80.0, 95.0, 120.0]}}
    assert ch04.still_improving(fake) == [True, False, False]
    assert ch04.still_improving(fake, tolerance=0.01) == [True, True, False]
    rows, _, _ = ch04.study_table({"a": result, "b": result}, reference_distance=0.6)
    assert rows[0]["still improving"] == f"{sum(ch04.still_improving(result))}/2"
    one_epoch = ch04.run_study({"a": cfg.replace(epochs=1)}, _Extractor(), real, seeds=(0, 1), n_samples=40)["a"]
    # scoring halfway leaves the training alone: the first epoch of the two-epoch runs is the one-epoch run
    assert one_epoch["scores"]["fid"] == pytest.approx(result["halfway"]["fid"], rel=1e-4)
    no_half = ch04.run_study({"a": cfg}, _Extractor(), real, seeds=(0, 1), n_samples=40, halfway=False)["a"]
    assert no_half["halfway"] == {} and no_half["scores"]["fid"] == pytest.approx(result["scores"]["fid"], rel=1e-3)
    assert one_epoch["halfway"] == {} and "still improving" not in ch04.study_table(
        {"a": one_epoch, "b": one_epoch}, reference_distance=0.6)[0][0]
    with pytest.raises(ValueError, match="no halfway scores"):
        ch04.still_improving(one_epoch)


def test_convergence_cases_sort_the_arms():
    def arm(mid, end, distance):
        return {"halfway": {"fid": [mid, mid]}, "scores": {"fid": [end, end], "distance": [distance] * 2,
                                                            "duplicates": [0.0, 0.0], "classes": [10, 10]}}

    study = {"slow": arm(100, 50, 0.7), "done": arm(40, 39, 0.7), "wobbling collapse": arm(300, 200, 0.1),
             "dead": arm(300, 310, 0.1)}
    cases = ch04.convergence_cases(study, reference_distance=0.7)
    assert list(cases) == list(ch04.CONVERGENCE_CASES)
    assert [cases[c] for c in ch04.CONVERGENCE_CASES] == [["slow"], ["wobbling collapse"], ["dead"], ["done"]]
    assert ch04.convergence_cases(study, 0.7, tolerance=0.01)[ch04.CONVERGENCE_CASES[0]] == ["slow", "done"]


def test_optimal_discriminator_exercise_is_about_smoothing():
    assert exercises.check("04.optimal_discriminator", exercises.get("04.optimal_discriminator").reference)
    wrong = exercises.check("04.optimal_discriminator", lambda p, q, r=1.0, f=0.0: p / (p + q))
    assert not wrong and "real_target=0.9" in wrong.message and "real target" in wrong.message
    ignores_fake = exercises.check("04.optimal_discriminator", lambda p, q, r=1.0, f=0.0: r * p / (p + q))
    assert not ignores_fake and "fake_target=0.1" in ignores_fake.message
    assert "fake target" in ignores_fake.message


def test_frozen_batchnorm_runs_in_inference_mode_in_keras3():
    """The chapter's claim: with trainable=False, D's batch norm ignores training=True (moving averages)."""
    cfg = dcgan.config("modern").scaled("smoke")
    d = dcgan.build_discriminator(cfg)
    x = np.random.default_rng(0).uniform(-1, 1, (16, cfg.image_size, cfg.image_size, 1)).astype(np.float32)
    # trainable: training=True normalises with the batch's statistics (and updates the moving averages)
    batch_stats = np.asarray(d(x, training=True))
    assert not np.allclose(batch_stats, np.asarray(d(x, training=False)), atol=1e-4)
    d.trainable = False
    moving = [np.array(v) for v in d.non_trainable_weights]
    frozen = np.asarray(d(x, training=True))
    np.testing.assert_allclose(frozen, np.asarray(d(x, training=False)), atol=1e-6)  # frozen: moving averages
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(moving, d.non_trainable_weights))
