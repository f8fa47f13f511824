"""Chapter 02 (3D-GAN): the exercises' checkers, the cost and count helpers, the classifier comparison and the
exhibits of the book's defects."""

import keras
import numpy as np
import pytest
from scipy import ndimage

from gancourse import exercises
from gancourse.exercises import ch02 as ex
from gancourse.experiments import ch02


def _refused(exercise_id: str, answer, phrase: str) -> None:
    """The checker fails ``answer`` with a message containing ``phrase``."""
    result = exercises.check(exercise_id, answer)
    assert not result and phrase in result.message, result.message


# -- exercises -----------------------------------------------------------------------------------------------------

def test_all_chapter_02_exercises_are_registered_and_their_references_pass():
    assert exercises.list_exercises("02") == ["02.conv3d_params", "02.transposed_sizes", "02.upsample_volume",
                                              "02.voxel_iou"]
    for name in exercises.list_exercises("02"):
        assert exercises.check(name, exercises.get(name).reference), name


@pytest.mark.parametrize("side,stack", [(1, [(4, 1, "valid"), (4, 2, "same"), (4, 2, "same")]),
                                        (3, [(3, 2, "valid"), (5, 3, "same"), (2, 1, "valid")]),
                                        (2, [(2, 3, "valid"), (1, 2, "valid"), (3, 4, "same")])])
def test_transposed_sizes_agree_with_keras(side, stack):
    x = keras.Input((side, side, side, 1))
    y, got = x, []
    for kernel, stride, padding in stack:
        y = keras.layers.Conv3DTranspose(1, kernel, stride, padding=padding)(y)
        got.append(int(y.shape[1]))
    assert ex.transposed_sizes(side, stack) == got


def test_transposed_sizes_checker_catches_convolution_rules_and_the_wrong_padding_rule():
    def conv_sizes(side, stack):
        out = []
        for k, s, p in stack:
            side = -(-side // s) if p == "same" else (side - k) // s + 1
            out.append(side)
        return out

    _refused("02.transposed_sizes", conv_sizes, "ordinary (strided) convolutions")
    _refused("02.transposed_sizes", lambda side, stack: ex.transposed_sizes(side, [(k, s, "same") for k, s, _ in stack]),
             "(side - 1) * stride + max(kernel, stride)")

    def kernel_rule(side, stack):  # right whenever the kernel is at least the stride
        out = []
        for k, s, p in stack:
            side = side * s if p == "same" else (side - 1) * s + k
            out.append(side)
        return out

    _refused("02.transposed_sizes", kernel_rule, "kernel is smaller than the stride")


def test_voxel_iou_reference_by_hand_and_checker_hints():
    a = np.zeros((2, 3, 3, 3))
    b = np.zeros((2, 3, 3, 3))
    a[0, 0, 0, :2] = 1  # two voxels
    b[0, 0, 0, 1:] = 1  # two voxels, one shared
    np.testing.assert_allclose(ex.voxel_iou(a, b), [1 / 3, 1.0])
    _refused("02.voxel_iou", lambda a, b, t: float(ex.voxel_iou(a.reshape(1, -1, 1, 1), b.reshape(1, -1, 1, 1), t)[0]),
             "one IoU per pair")

    def dice(a, b, t):
        a, b = (a > t).reshape(len(a), -1), (b > t).reshape(len(b), -1)
        return np.where(a.sum(1) + b.sum(1) == 0, 1.0, 2 * (a & b).sum(1) / np.maximum(a.sum(1) + b.sum(1), 1))

    _refused("02.voxel_iou", dice, "Dice")

    def at_threshold(a, b, t):
        return ex.voxel_iou(a + 1e-9, b + 1e-9, t)

    _refused("02.voxel_iou", at_threshold, "above the threshold")

    def no_empty_case(a, b, t):
        a, b = (a > t).reshape(len(a), -1), (b > t).reshape(len(b), -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (a & b).sum(1) / (a | b).sum(1)

    _refused("02.voxel_iou", no_empty_case, "define their IoU as 1")
    _refused("02.voxel_iou", lambda a, b, t: ex.voxel_iou(a, b, 0.5), "threshold argument")

    def only_a_thresholded(a, b, t):
        return ex.voxel_iou(a, (np.asarray(b) > 0).astype(float), t)

    _refused("02.voxel_iou", only_a_thresholded, "Threshold both grids")


@pytest.mark.parametrize("c,f,k,bias", [(1, 64, 4, True), (5, 7, 3, False)])
def test_conv3d_params_agree_with_keras(c, f, k, bias):
    for layer in (keras.layers.Conv3D(f, k, use_bias=bias), keras.layers.Conv3DTranspose(f, k, use_bias=bias)):
        layer.build((None, 8, 8, 8, c))
        assert layer.count_params() == ex.conv3d_params(c, f, k, bias) == ch02.conv_params(c, f, k, 3, bias)


def test_conv3d_params_checker_hints():
    _refused("02.conv3d_params", lambda c, f, k, b: k * k * c * f + (f if b else 0), "2-D kernel")
    _refused("02.conv3d_params", lambda c, f, k, b: k ** 3 * c * f, "one bias per filter")
    _refused("02.conv3d_params", lambda c, f, k, b: k ** 3 * f + (f if b else 0), "multiply by in_channels")


def test_upsample_volume_matches_the_books_pad_and_zoom_at_factor_2():
    v = (np.random.default_rng(0).uniform(size=(30, 30, 30)) > 0.7).astype(np.uint8)
    out = ex.upsample_volume(v)
    assert out.shape == (64, 64, 64) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, ndimage.zoom(np.pad(v, 1), 2, order=0, mode="constant"))
    assert out.sum() == 8 * v.sum()


def test_upsample_volume_checker_hints():
    _refused("02.upsample_volume", lambda v, f: np.repeat(np.repeat(np.repeat(v, f, 0), f, 1), f, 2),
             "pad before zooming")
    _refused("02.upsample_volume", lambda v, f: ndimage.zoom(np.pad(v, 1).astype(float), f, order=1), "order=0")
    _refused("02.upsample_volume", lambda v, f: ndimage.zoom(np.pad(v, 1), f, order=0, mode="constant"), "np.repeat")


# -- costs and counts ----------------------------------------------------------------------------------------------

def test_conv_costs_by_hand_and_against_keras():
    assert ch02.conv_params(64, 128, 4, 3) == 4 ** 3 * 64 * 128 + 128 == ch02.keras_params(64, 128, 4, 3)
    assert ch02.keras_params(64, 128, 4, 2, transposed=True) == ch02.conv_params(64, 128, 4, 2)
    # a stride-2 3-D conv from 32^3 to 16^3: every output position computes k^3 * c_in products per filter
    assert ch02.conv_macs(64, 128, 4, 3, 32, 16) == 16 ** 3 * 4 ** 3 * 64 * 128
    # a transposed one scatters every input position into k^3 * filters outputs
    assert ch02.conv_macs(64, 1, 4, 3, 32, 64, transposed=True) == 32 ** 3 * 4 ** 3 * 64
    with pytest.raises(ValueError, match="rank must be"):
        ch02.conv_params(1, 1, 3, 4)


def test_cost_rows_ratios():
    rows = ch02.cost_rows()
    assert [r["MACs ratio"] for r in rows[:-1]] == [4.0, 16.0, 32.0, 64.0, 128.0]  # kernel 4 times the side
    assert all(abs(r["params ratio"] - 4) < 0.01 for r in rows)
    assert rows[-1]["3-D params"] == sum(r["3-D params"] for r in rows[:-1])


def test_model_costs_on_a_small_3d_network():
    x = keras.Input((8, 8, 8, 1))
    y = keras.layers.Conv3D(4, 3, strides=2, padding="same")(x)
    y = keras.layers.Conv3DTranspose(2, 4, strides=2, padding="same")(y)
    cost = ch02.model_costs(keras.Model(x, y))
    assert cost["params"] == (27 * 4 + 4) + (64 * 4 * 2 + 2)
    assert cost["macs"] == 4 ** 3 * 27 * 4 + 4 ** 3 * 64 * 4 * 2
    assert cost["activations_mib"] == pytest.approx((4 ** 3 * 4 + 8 ** 3 * 2) * 4 / 2 ** 20)


def test_voxel_memory():
    assert ch02.voxel_memory(64) == {"uint8": 64 ** 3, "float32": 4 * 64 ** 3}
    assert ch02.voxel_memory(64)["float32"] == 2 ** 20  # one 64^3 float sample is 1 MiB


# -- statistics ----------------------------------------------------------------------------------------------------

def test_mcnemar_counts_discordant_pairs_and_matches_the_binomial_test():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 1], bool)
    b = np.array([0, 0, 0, 0, 0, 0, 1, 0, 1, 1], bool)
    found = ch02.mcnemar(a, b)
    assert (found["a_only"], found["b_only"]) == (6, 0)
    assert found["p"] == pytest.approx(2 * 0.5 ** 6)
    assert ch02.mcnemar(a, a)["p"] == 1.0
    with pytest.raises(ValueError, match="same items"):
        ch02.mcnemar(a, a[:5])


def test_compare_classifiers_verdicts_and_holm():
    rng = np.random.default_rng(1)
    strong = rng.uniform(size=200) < 0.95
    weak = strong & (rng.uniform(size=200) < 0.6)  # wrong wherever strong is, and on ~40% more
    same = strong.copy()
    rows, comparisons = ch02.compare_classifiers({"A": strong, "B": weak, "C": same}, "A")
    assert [r["features"] for r in rows] == ["A", "B", "C"]
    by = {c["comparison"]: c for c in comparisons}
    assert by["A vs B"]["verdict"] == "better" and by["A vs B"]["difference"] > 0
    assert by["A vs C"]["verdict"] == "no difference detected"
    assert by["A vs B"]["p_holm"] == pytest.approx(min(1.0, 2 * by["A vs B"]["p"]))
    rows2, comparisons2 = ch02.compare_classifiers({"B": weak, "A": strong}, "B")
    assert comparisons2[0]["verdict"] == "worse"
    assert "worse than the A" in ch02.svm_verdict({"comparisons": comparisons2})
    with pytest.raises(ValueError, match="no classifier named"):
        ch02.compare_classifiers({"A": strong}, "Z")


def test_wilson_interval_contains_the_proportion():
    low, high = ch02.wilson_interval(45, 50)
    assert low < 0.9 < high and 0 <= low and high <= 1


def test_svm_separates_separable_classes():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (40, 5)), rng.normal(2, 1, (40, 5))])
    y = np.repeat([0, 1], 40)
    assert np.mean(ch02.svm_predictions(x[::2], y[::2], x[1::2]) == y[1::2]) > 0.95


def test_still_moving_and_convergence_text():
    assert ch02.still_moving(np.linspace(2, 1, 40))
    assert not ch02.still_moving(np.ones(40) + 0.001 * np.sin(np.arange(40)))
    run = {"history": {"d_loss": list(np.ones(40)), "g_loss": list(np.ones(40))}, "steps": 40}
    assert "not converged" in ch02.convergence_text(run)
    run["steps"] = 5000
    flat = ch02.convergence_text(run)
    assert "no longer trend" in flat and "does not show" in flat
    assert "converged" not in flat.replace("not converged", "")  # flat losses are never called converged
    run["history"]["g_loss"] = list(np.linspace(2, 1, 40))
    assert "not converged" in ch02.convergence_text(run) and "g_loss still trends" in ch02.convergence_text(run)


def test_occupancy_text_follows_the_shares():
    full, empty = np.ones((2, 4, 4, 4)), np.zeros((2, 4, 4, 4))
    near = np.zeros((2, 4, 4, 4))
    near[:, :, :, :1] = 1  # 25% occupied
    assert "has learnt the first statistic" in ch02.occupancy_text({0: full, 10: near}, 0.22)
    assert "still learning" in ch02.occupancy_text({0: full, 10: empty + (np.arange(4) < 2)}, 0.1)
    assert "not learnt even" in ch02.occupancy_text({0: near, 10: full}, 0.2)


# -- the book's defects --------------------------------------------------------------------------------------------

def test_deconv3d_is_gone_and_conv3dtranspose_replaces_it():
    found = ch02.deconv3d_exhibit()
    assert found["error"].startswith("AttributeError") and "Deconv3D" in found["error"]
    assert found["replacement"] == "Conv3DTranspose"


def test_baked_training_flag_is_overridden_by_predict():
    found = ch02.baked_batch_norm_exhibit()
    mean, std = found["plain call"]
    assert abs(mean) < 1e-3 and abs(std - 1) < 1e-2  # batch statistics: normalised
    assert found["predict"] == pytest.approx(found["training=False"], abs=1e-5)
    assert found["predict"][0] > 2.5  # moving averages near their start: the input passes almost unchanged
    assert found["max difference"] > 1


def test_generator_modes_restore_the_weights():
    x = keras.Input((3,))
    y = keras.layers.BatchNormalization()(keras.layers.Dense(8)(x))
    g = keras.Model(x, keras.layers.Activation("sigmoid")(y))
    before = [w.copy() for w in g.get_weights()]
    found = ch02.generator_modes(g, np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32) * 5 + 3)
    assert found["mean abs difference"] > 0
    for a, b in zip(before, g.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_trainable_never_reset_moves_d_in_the_generator_step(batch_norm):
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6)])
    hidden = [keras.layers.Dense(5), keras.layers.BatchNormalization(), keras.layers.LeakyReLU(0.2)] if batch_norm \
        else []
    d = keras.Sequential([keras.Input((6,)), *hidden, keras.layers.Dense(1)])
    real = np.random.default_rng(0).normal(1, 1, (8, 6)).astype(np.float32)
    found = ch02.trainable_never_reset(g, d, 4, real, steps=2, learning_rate=1e-2)
    book, fixed = found["never reset (the book's text)"], found["reset before the G step (the repository)"]
    trained, every = "relative change of D's trainable weights in G steps", \
        "relative change of all D's weights (moving statistics included)"
    assert book[trained] > 0 and book[every] > 0
    assert book["D's rise on the same fakes"] > 0  # the G step also pushes D towards "real" on the fakes
    # with the flag reset nothing of D moves, batch norm's moving statistics included
    assert fixed[trained] == 0 and fixed[every] == 0 and fixed["D's rise on the same fakes"] == 0


def test_undefined_alphas_numpy_aliases_and_learning_rates():
    assert ch02.undefined_alphas_exhibit() == "NameError: name 'alphas' is not defined"
    found = ch02.numpy_aliases_exhibit()
    assert found["np.float"].startswith("AttributeError")
    assert found["np.bool"].startswith("works") == hasattr(np, "bool")

    class Cfg:
        learning_rate, g_learning_rate = 1e-5, 0.0025

    rates = ch02.learning_rate_exhibit(Cfg)
    assert rates["code"] == pytest.approx(1e-4) and rates["code / text"] == pytest.approx(10)
    assert rates["G / D"] == pytest.approx(250)


# -- hyper-parameter space -----------------------------------------------------------------------------------------

def test_search_space_draws_configs_in_range():
    class Cfg:
        g_learning_rate, learning_rate, batch_size, d_threshold = 0.0025, 1e-5, 32, 0.8

        def replace(self, **kw):
            return kw

    space = ch02.search_space(Cfg())
    assert {h.name for h in space.space} == {"g_learning_rate", "learning_rate", "batch_size", "d_threshold"}
    trials = ch02.draw_trials(Cfg(), 4, seed=1)
    assert len(trials) == 4
    for t in trials:
        assert 1e-4 <= t["g_learning_rate"] <= 1e-2 and 1e-6 <= t["learning_rate"] <= 1e-3
        assert t["batch_size"] in ch02.BATCH_SIZES and t["d_threshold"] in (0.8, 1.0)
    assert ch02.config_from(Cfg(), {"d_threshold": 1.0, "batch_size": 8}) == {"d_threshold": None, "batch_size": 8}


# -- the chapter's run, on the real model at the smoke size ------------------------------------------------------

def test_chapter_run_svm_study_and_memorisation_on_a_short_smoke_run():
    from gancourse.data import voxels

    cfg, settings = ch02.chapter_config("smoke")
    assert cfg.dataset == "offline_shapes" and cfg.d_threshold == 0.8 and settings["steps"] % settings["log_every"] == 0
    train_v, train_y = voxels.offline_shapes("train", cfg.cube_len, n=64)
    test_v, test_y = voxels.offline_shapes("test", cfg.cube_len, n=24)
    with pytest.raises(ValueError, match="multiple of the config's steps_per_execution"):
        ch02.train(cfg, train_v, 10, log_every=5)
    run = ch02.train(cfg, train_v, 16, log_every=8, snapshots=(0, 1.0), n_shown=2)
    assert sorted(run["samples"]) == [0, 16] and run["samples"][16].shape == (2,) + (cfg.cube_len,) * 3
    assert len(run["history"]["d_loss"]) == 2 and 0 <= run["history"]["d_updates"][-1] <= 1
    assert len(run["step_seconds"]) == 16 // cfg.steps_per_execution
    assert "not converged" in ch02.convergence_text(run)
    walk = ch02.interpolate(run["model"], steps=3)
    assert walk.shape == (3,) + (cfg.cube_len,) * 3 and walk.min() >= 0 and walk.max() <= 1
    check = ch02.memorisation(run["model"].sample_voxels(4, seed=1), train_v, test_v)
    assert check["samples"].shape == (4,) and check["test"].shape == (24,) and check["index"].max() < 64
    study = ch02.svm_study(run["model"], cfg, (train_v, train_y), (test_v, test_y), untrained_seeds=(0, 1))
    assert [r["features"] for r in study["rows"]] == ["trained D", "untrained D", "raw voxels"]
    assert study["dims"]["raw voxels"] == cfg.cube_len ** 3
    assert study["dims"]["untrained D"] == study["dims"]["trained D"]
    assert all(len(c) == 24 for c in study["correct"].values())
    assert len(study["comparisons"]) == 2 and all(0 <= c["p_holm"] <= 1 for c in study["comparisons"])
    assert set(study["c"].values()) <= set(ch02.C_GRID) and sorted(study["untrained"]) == [0, 1]
    # four balanced classes: chance is 0.25, and the raw voxels alone separate these shapes far better
    assert np.mean(study["correct"]["raw voxels"]) > 0.5
    assert study["position"] in ("above", "below", "within")
    assert "initialisations" in ch02.svm_spread_text(study) and ch02.svm_closing(study).startswith("Here")
    with pytest.raises(ValueError, match="at least one untrained seed"):
        ch02.svm_study(run["model"], cfg, (train_v, train_y), (test_v, test_y), untrained_seeds=())


def test_choose_c_uses_the_training_split_only_and_breaks_ties_low():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 1, (30, 4)), rng.normal(3, 1, (30, 4))])
    y = np.repeat([0, 1], 30)
    c, scores = ch02.choose_c(x, y, grid=(0.1, 1.0), folds=3)
    assert set(scores) == {0.1, 1.0} and all(0 <= v <= 1 for v in scores.values())
    assert c == 0.1 if scores[0.1] == scores[1.0] else c == max(scores, key=scores.get)


def test_svm_closing_and_spread_follow_the_verdicts():
    def study(verdict, position, untrained, raw):
        correct = {"trained D": np.ones(10, bool), "untrained D": np.arange(10) < 10 * untrained[0],
                   "raw voxels": np.arange(10) < 10 * raw}
        return {"comparisons": [{"comparison": "trained D vs untrained D", "verdict": verdict},
                                {"comparison": "trained D vs raw voxels", "verdict": "better"}],
                "correct": correct, "untrained": dict(enumerate(untrained)), "position": position,
                "untrained_interval": (float(np.mean(untrained)), min(untrained), max(untrained))}

    assert "added something detectable" in ch02.svm_closing(study("better", "above", [0.6, 0.7], 0.5))
    assert "not every one we drew" in ch02.svm_closing(study("better", "within", [0.6, 1.0], 0.5))
    assert "nothing we can detect" in ch02.svm_closing(study("no difference detected", "within", [0.9, 1.0], 0.5))
    assert "made the features worse" in ch02.svm_closing(study("worse", "below", [0.9, 1.0], 0.5))
    assert "architecture alone makes a useful" in ch02.svm_closing(study("better", "above", [0.6, 0.7], 0.5))
    assert "not shown to help" in ch02.svm_closing(study("better", "above", [0.6, 0.7], 0.6))
    assert "lies above that range" in ch02.svm_spread_text(study("better", "above", [0.6, 0.7], 0.5))
    with pytest.raises(ValueError, match="needs the comparisons"):
        ch02.svm_closing({"comparisons": [], "correct": {}, "untrained": {}, "position": "within"})


def test_layer_shapes_follow_the_size_rules():
    rows = {r["layer"].split("(")[0] + " " + r["layer"].split("padding=")[1]: r for r in ch02.layer_shapes(8, 3, 4, 2)}
    assert rows["Conv3D 'same')"]["output"] == "(1, 4, 4, 4, 3)"
    assert rows["Conv3D 'valid')"]["output"] == "(1, 3, 3, 3, 3)"  # floor((8 - 4) / 2) + 1
    assert rows["Conv3DTranspose 'same')"]["output"] == "(1, 16, 16, 16, 3)"
    assert rows["Conv3DTranspose 'valid')"]["output"] == f"(1, {ex.transposed_sizes(8, [(4, 2, 'valid')])[0]}, " \
        f"{ex.transposed_sizes(8, [(4, 2, 'valid')])[0]}, {ex.transposed_sizes(8, [(4, 2, 'valid')])[0]}, 3)"
    assert rows["Conv3D 'same')"]["kernel"] == "(4, 4, 4, 1, 3)" and rows["Conv3DTranspose 'same')"]["kernel"] \
        == "(4, 4, 4, 3, 1)"
    assert all(r["parameters"] == 4 ** 3 * 3 + 3 for r in rows.values())
