"""Chapter 06's studies, defect exhibits and exercises (gancourse.experiments.ch06, exercises.ch06), small sizes."""

from typing import NamedTuple

import numpy as np
import pytest

from gancourse import exercises
from gancourse.exercises import ch06 as ex06
from gancourse.experiments import ch06
from gancourse.models import stackgan


class Set(NamedTuple):
    images: np.ndarray
    captions: list
    embeddings: np.ndarray
    class_ids: np.ndarray


def small_set(n=32, size=16, seed=0):
    from gancourse.data.rendered_birds import COLOURS

    rng = np.random.default_rng(seed)
    class_ids = np.repeat(np.arange(4), n // 4).astype(np.int32)
    captions = [[f"a {COLOURS[c % 6]} bird with {COLOURS[(c + 1) % 6]} wings"] * 10 for c in class_ids]
    embeddings = rng.normal(size=(n, 10, 1024)).astype(np.float32) + class_ids[:, None, None]
    images = np.clip(rng.normal(0, 0.5, (n, size, size, 3)), -1, 1).astype(np.float32)
    return Set(images, captions, embeddings, class_ids)


class FakeClassifier:
    """Reads attributes from mean brightness; features are the first pixels; 36 uniform-ish class posteriors."""

    def predict(self, images):
        m = np.asarray(images).mean(axis=(1, 2, 3))
        v = (np.clip((m + 1) / 2, 0, 0.999) * 6).astype(np.int32)
        return {"body": v, "wing": v, "size": v % 2, "pose": v % 2, "background": v % 3}

    def features(self, images):
        return np.asarray(images, np.float64).reshape(len(images), -1)[:, :8]

    def class_probabilities(self, images):
        f = np.abs(self.features(images)).repeat(5, axis=1)[:, :36] + 1e-3
        return f / f.sum(axis=1, keepdims=True)


def tiny_cfg(**kw):
    cfg = stackgan.config("book").scaled("smoke").replace(
        dataset="offline_birds", image_size=16, g1_filters=16, d1_filters=4, g2_filters=4, d2_filters=2,
        text_units=8, batch_size=8, epochs=1, stage2_epochs=1, residual_blocks=1)
    return cfg.replace(**kw)


@pytest.fixture(scope="module")
def trained():
    cfg = tiny_cfg()
    data = small_set(size=64)
    inputs = (data.embeddings[:2, 0], np.zeros((2, cfg.latent_dim), np.float32))
    first = ch06.train_chapter_model(cfg, data, inputs, every=1, cache=True)
    second = ch06.train_chapter_model(cfg, data, inputs, every=1, cache=True)
    return cfg, data, first, second


def test_chapter_config_sizes_the_smoke_run_and_refuses_unknown_profiles():
    cfg, settings = ch06.chapter_config("smoke")
    assert (cfg.dataset, cfg.image_size, cfg.stage2_size) == ("offline_birds", 16, 64)
    assert cfg.epochs == stackgan.SMOKE["epochs"] and cfg.stage2_epochs == stackgan.SMOKE["stage2_epochs"]
    assert settings["samples_per_caption"] >= 2 and cfg.learning_rate == 1e-3
    assert settings["ablation_seeds"][0] == cfg.seed  # the chapter model is the first seed's with-CA arm
    rows = {r["stage"]: r for r in ch06.epochs_rows(cfg)}
    assert rows["Stage-I"]["epochs here"] == cfg.epochs and rows["Stage-II"]["StackGAN's epochs"] == 600
    standard, _ = ch06.chapter_config("standard")
    assert standard.learning_rate == 2e-4 and standard.image_size == 64
    with pytest.raises(ValueError, match="unknown profile"):
        ch06.chapter_config("huge")


def test_counts_and_shapes_read_from_built_networks():
    cfg = tiny_cfg()
    nets = stackgan.build_networks(cfg)
    rows = {r["network"]: r for r in ch06.book_counts(nets)}
    compressor = 1024 * cfg.text_units + cfg.text_units
    assert rows["discriminator"]["text compressor"] == compressor
    assert rows["discriminator"]["without compressor"] == nets["discriminator"].count_params() - compressor
    assert rows["generator"]["text compressor"] == 0 and not rows["generator"]["match"]
    assert rows["generator"]["spec"] == 10_270_400
    shapes = ch06.joint_shapes(nets["generator"], nets["stage2_generator"])
    assert shapes["Stage-I [c, z]"] == (None, cfg.c_dim + cfg.latent_dim)
    assert shapes["Stage-II c"] == (None, cfg.c_dim)
    assert shapes["Stage-II joint [c, x]"] == (None, 4, 4, 4 * cfg.g2_filters + cfg.c_dim)


def test_grid_inputs_take_one_caption_per_class_first():
    data = small_set()
    e, z, captions = ch06.grid_inputs(data, rows=5, noise=3, seed=1, latent_dim=7)
    assert e.shape == (5, 1024) and z.shape == (3, 7) and len(captions) == 5
    firsts = [int(np.argmin(np.abs(data.embeddings[:, 0] - row).sum(axis=1))) for row in e]
    assert sorted(data.class_ids[firsts[:4]].tolist()) == [0, 1, 2, 3]


def test_train_chapter_model_records_grids_and_caches(trained):
    cfg, data, first, second = trained
    assert not first["cached"] and second["cached"]
    assert sorted(first["grids"]) == [0, 1, 2] and sorted(second["grids"]) == [0, 1, 2]
    assert first["grids"][2].shape == (2, 4, 64, 64, 3)
    np.testing.assert_allclose(first["grids"][2], second["grids"][2])
    assert len(first["history"]["d_loss"]) == 2 and np.isfinite(first["history"]["d2_loss"][1])
    for name in ("discriminator", "stage2_discriminator"):
        np.testing.assert_allclose(first["compressor_start"][name], second["compressor_start"][name])
        a = np.asarray(getattr(first["model"], name).get_layer("text_compressor").kernel)
        b = np.asarray(getattr(second["model"], name).get_layer("text_compressor").kernel)
        np.testing.assert_allclose(a, b)
    rows = ch06.compressor_exhibit(data.embeddings[:8, 0], first["compressor_start"], first["model"])
    assert rows[0]["relative change"] > 0.1 and not rows[0]["trained"]
    assert all(r["relative change"] > 0 for r in rows[1:])
    same = {k: np.asarray(getattr(first["model"], k).get_layer("text_compressor").kernel)
            for k in ("discriminator", "stage2_discriminator")}
    assert all(r["relative change"] == 0 for r in ch06.compressor_exhibit(data.embeddings[:8, 0], same,
                                                                           first["model"])[1:])


def test_upsample_and_caption_sample():
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    up = ch06.upsample(x, 64)
    assert up.shape == (3, 64, 64, 3) and up.min() >= -1 and up.max() <= 1
    data = small_set()
    idx, e, captions = ch06.caption_sample(data, 40, seed=0)
    assert len(idx) == 40 and e.shape == (40, 1024) and len(captions) == 40
    assert sorted(idx[:32].tolist()) == list(range(32))  # every image once before any twice
    assert any(np.allclose(e[0], data.embeddings[idx[0], j]) for j in range(10))


def test_consistency_rows_count_only_named_attributes():
    predicted = {"body": np.array([0, 1, 2, 3]), "wing": np.array([0, 0, 0, 0]), "size": np.zeros(4, int),
                 "pose": np.zeros(4, int), "background": np.zeros(4, int)}
    wanted = {"body": np.array([0, 1, 0, 0]), "wing": np.array([0, 0, 0, 1]), "size": np.array([-1, -1, 1, -1]),
              "pose": np.full(4, -1), "background": np.full(4, -1)}
    rows = {r["attribute"]: r for r in ch06.consistency_rows(predicted, wanted, "x")}
    assert rows["body"]["accuracy"] == 0.5 and rows["wing"]["accuracy"] == 0.75
    assert rows["size"]["n"] == 1 and rows["size"]["accuracy"] == 0.0 and "pose" not in rows
    assert rows["all"]["accuracy"] == 0.5  # birds 0 and 1 have every named attribute right
    assert rows["body"]["low"] < 0.5 < rows["body"]["high"] and rows["body"]["chance"] == pytest.approx(1 / 6)
    above = ch06.beyond_chance(list(rows.values()))
    assert set(above) == {"body", "wing", "size"} and not above["size"]


def test_fid_is_rows_give_zero_fid_for_the_reference_itself():
    x = np.random.default_rng(1).uniform(-1, 1, (40, 8, 8, 3)).astype(np.float32)
    rows, parts = ch06.fid_is_rows(FakeClassifier(), {"same": x, "other": x * 0.2}, x, parts=2)
    assert rows[0]["FID"] == pytest.approx(0, abs=1e-6) and rows[1]["FID"] > 0.1
    assert 1 <= rows[0]["IS"] <= 36 and rows[0]["n"] == 40
    assert len(parts["same"]) == 2 and rows[0]["FID of 20"] == pytest.approx(np.mean(parts["same"]))
    assert rows[0]["low"] <= rows[0]["FID of 20"] <= rows[0]["high"]
    assert min(parts["same"]) > rows[0]["FID"]  # a part is a smaller sample: its FID is larger


def test_pairwise_diversity_values_and_errors():
    assert np.allclose(ch06.pairwise_diversity(np.zeros((2, 3, 4))), 0)
    x = np.array([[[0.0, 0.0], [3.0, 4.0]]])
    assert ch06.pairwise_diversity(x)[0] == pytest.approx(5.0)
    x = np.array([[[0.0], [1.0], [3.0]]])  # distances 1, 3, 2
    assert ch06.pairwise_diversity(x)[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="k >= 2"):
        ch06.pairwise_diversity(np.zeros((2, 1, 3)))


def test_ca_ablation_is_paired_per_caption_and_cached(trained):
    cfg, data, first, _ = trained
    settings = dict(samples_per_caption=3, ablation_seeds=(cfg.seed,))
    wanted = {"body": np.array([0, 1, 2, -1, 0]), "wing": np.array([0, 0, -1, -1, 5])}
    out = ch06.ca_ablation(cfg, data, data.embeddings[:5, 0], FakeClassifier(), settings, wanted=wanted, cache=True,
                           with_ca=first["model"])
    again = ch06.ca_ablation(cfg, data, data.embeddings[:5, 0], FakeClassifier(), settings, wanted=wanted,
                             cache=True, with_ca=first["model"])
    right = out["diversity"]["colours right"]["with CA"]
    assert right.shape == (5,) and np.all((right >= 0) & (right <= 1)) and right[3] == 1.0  # names no colour
    assert not out["cached"] and again["cached"] and again["pairs read"] == out["pairs read"]
    assert all(1 <= n <= 15 for v in out["pairs read"].values() for n in v)
    for metric in ("features", "pixels", "colours right"):
        for variant in ("with CA", "without CA"):
            assert out["diversity"][metric][variant].shape == (5,)
            np.testing.assert_allclose(out["diversity"][metric][variant], again["diversity"][metric][variant])
    assert np.all(out["diversity"]["pixels"]["without CA"] > 0)  # z still varies without CA
    # the with-CA arm is the given model's Stage-I
    own = ch06._stage1_samples(first["model"], data.embeddings[:5, 0], 3, seed=100 + cfg.seed)
    np.testing.assert_allclose(out["diversity"]["pixels"]["with CA"], ch06.pairwise_diversity(own), rtol=1e-5)
    with pytest.raises(ValueError, match="put it first"):
        ch06.ca_ablation(cfg, data, data.embeddings[:5, 0], FakeClassifier(), dict(settings, ablation_seeds=(5,)),
                         with_ca=first["model"])
    arms = {r["arm"]: r for r in ch06.ablation_arm_rows(out)}
    assert set(arms) == {"with CA", "without CA"} and arms["with CA"]["collapsed"]  # fewer than 6 pairs read


def test_ablation_arm_flags():
    good = {"diversity": {"colours right": {"with CA": np.full(40, 0.3), "without CA": np.zeros(40)}},
            "pairs read": {"with CA": [20], "without CA": [3]}}
    rows = {r["arm"]: r for r in ch06.ablation_arm_rows(good)}
    assert rows["with CA"]["above chance"] and not rows["with CA"]["collapsed"]
    assert not rows["without CA"]["above chance"] and rows["without CA"]["collapsed"]


def test_mcnemar_and_stage_comparison():
    a = np.array([True] * 30 + [False] * 70)
    b = np.array([False] * 30 + [False] * 70)
    t = ch06.mcnemar(a, b)
    assert (t["a only"], t["b only"]) == (30, 0) and t["p"] == pytest.approx(2 * 0.5 ** 30)
    assert ch06.mcnemar(a, a)["p"] == 1.0
    with pytest.raises(ValueError, match="one shape"):
        ch06.mcnemar(a, a[:5])
    rows = {r["captions"]: r for r in ch06.stage_comparison_rows({"x": (a, b), "y": (a, a)})}
    assert rows["x"]["Stage-II is"] == "worse" and rows["x"]["p (Holm)"] == pytest.approx(2 * t["p"])
    assert rows["y"]["Stage-II is"] == "no difference detected" and rows["y"]["p (Holm)"] == 1.0
    real = [{"attribute": "all", "accuracy": 0.9, "low": 0.85, "high": 0.95, "chance": float("nan")}]
    stage = [{"attribute": "body", "low": 0.3, "chance": 1 / 6}, {"attribute": "wing", "low": 0.1, "chance": 1 / 6},
             {"attribute": "all", "accuracy": 0.2, "low": 0.15, "high": 0.25, "chance": float("nan")}]
    f = ch06.stage_flags(stage, real)
    assert f["body above chance"] and not f["wing above chance"] and not f["converged"]


def test_all_right_ignores_unnamed_attributes():
    from gancourse.data.rendered_birds import ATTRIBUTES

    wanted = {a: np.array([0, -1, 1]) for a in ATTRIBUTES}
    predicted = {a: np.array([0, 5, 0]) for a in ATTRIBUTES}
    assert ch06.all_right(predicted, wanted).tolist() == [True, True, False]


def test_ablation_rows_holm_correct_both_metrics():
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 2, 60)
    diversity = {"features": {"with CA": base, "without CA": base - 0.5 + rng.normal(0, 0.01, 60)},
                 "pixels": {"with CA": base, "without CA": base + rng.normal(0, 0.01, 60)}}
    diversity["colours right"] = {"with CA": np.full(60, 0.5), "without CA": np.full(60, 0.5) + rng.normal(0, .3, 60)}
    rows = {r["metric"]: r for r in ch06.ablation_rows(diversity)}
    by_seed = {r["metric"]: r for r in ch06.ablation_rows(diversity, seeds=3)}
    assert by_seed["features"]["n"] == 3 and rows["features"]["n"] == 60
    assert rows["colours right"]["without CA is"] in ("no difference detected", "more faithful", "less faithful")
    assert rows["features"]["without CA is"] == "less diverse"
    assert rows["pixels"]["without CA is"] == "no difference detected"
    assert rows["features"]["difference"] == pytest.approx(-0.5, abs=0.01)
    assert rows["features"]["p (Holm)"] >= rows["features"]["p"]


def test_typed_caption_rows_flag_held_out_pairs(trained):
    cfg, _, first, _ = trained
    rows, images = ch06.typed_caption_rows(first["model"], {"Stage-I": FakeClassifier(), "Stage-II": FakeClassifier()},
                                           ["a red bird with green wings", "a red bird with blue wings"], n=3)
    assert images.shape == (2, 3, 64, 64, 3)
    assert [r["stage"] for r in rows] == ["Stage-I", "Stage-II"] * 2
    assert rows[0]["held-out pair"] and rows[1]["held-out pair"] and not rows[2]["held-out pair"]
    assert all(0 <= r["body"] <= 1 and 0 <= r["all named"] <= 1 for r in rows)


def test_kl_slice_book_value_ignores_sigma(trained):
    _, data, first, _ = trained
    x = ch06.ca_outputs(first["model"].generator, data.embeddings[:6, 0])
    assert x.shape == (6, 256)
    rows = ch06.kl_slice_rows(x, scales=(0.5, 1.0, 3.0))
    assert len({round(r["book KL"], 9) for r in rows}) == 1
    assert rows[0]["correct KL"] != pytest.approx(rows[1]["correct KL"]) and rows[2]["correct KL"] > rows[1][
        "correct KL"]
    zero = np.zeros((2, 8))
    assert ch06.kl_slice_rows(zero, scales=(1.0,))[0]["correct KL"] == pytest.approx(0.0, abs=1e-7)


def test_book_shared_noise_has_one_noise_row():
    x = np.random.default_rng(2).normal(0, 0.3, (10, 16)).astype(np.float32)
    c = ch06.book_shared_noise(x, seed=3)
    eps = ch06.recovered_noise(c, x)
    assert c.shape == (10, 8) and ch06.distinct_rows(eps) == 1
    per_sample = x[:, :8] + np.exp(x[:, 8:]) * np.random.default_rng(0).normal(size=(10, 8))
    assert ch06.distinct_rows(ch06.recovered_noise(per_sample, x)) == 10


def test_book_compressor_is_a_fresh_random_projection():
    e = np.random.default_rng(3).normal(size=(4, 1024)).astype(np.float32)
    a, b = ch06.book_compressor(seed=1), ch06.book_compressor(seed=2)
    assert a.count_params() == 131_200
    assert not np.allclose(np.asarray(a(e)), np.asarray(b(e)))
    assert np.all(np.asarray(a(e)) >= 0)  # ReLU


def test_wrong_pair_fractions():
    ordered = np.repeat(np.arange(4), 8)
    assert ch06.shift_by_one_same_class(ordered, 8) == 1.0
    assert ch06.shift_by_one_same_class(np.tile([0, 1], 16), 8) == 0.0
    assert ch06.shift_by_one_same_class(np.repeat(np.arange(2), 6), 12) == pytest.approx(10 / 11)
    assert ch06.ours_same_class(ordered, 8) == 0.0
    ids = ch06.equal_class_ids(8855, 150)
    counts = np.bincount(ids)
    assert len(ids) == 8855 and counts.max() == 60 and counts.min() == 59 and np.all(np.diff(ids) >= 0)
    assert 0.95 < ch06.shift_by_one_same_class(ids, 64) < 1.0
    with pytest.raises(ValueError, match="one image per class"):
        ch06.equal_class_ids(3, 5)
    with pytest.raises(ValueError, match="no batch"):
        ch06.shift_by_one_same_class(ordered, 64)


def test_lr_rows_and_logging_crash():
    rows = {r["epoch"]: r for r in ch06.lr_decay_rows((0, 99, 100, 250))}
    assert all(r["book"] == pytest.approx(2e-4) for r in rows.values())
    assert rows[99]["paper preset"] == pytest.approx(2e-4) and rows[100]["paper preset"] == pytest.approx(1e-4)
    assert rows[250]["paper preset"] == pytest.approx(5e-5)
    assert ch06.book_stage2_logging([1.0, 2.0, 3.0]).startswith("IndexError")
    losses = ch06.book_gen_losses([3.0, 5.0], [0.5, 1.0], 2.0)
    assert losses == [[3.0, 2.0, 0.5], [5.0, 3.0, 1.0]]
    rows = ch06.book_logging_rows(losses)
    assert rows[0]["result"].startswith(f"{np.mean([3.0, 2.0, 0.5]):.3f}")
    assert rows[1]["result"].startswith("4.000")
    assert rows[2]["result"].startswith("IndexError") and rows[3]["result"].startswith("IndexError")


# -- exercises -----------------------------------------------------------------------------------
def test_exercises_are_registered_and_references_pass():
    assert exercises.list_exercises("06") == ["06.ca_sample", "06.kl_term", "06.wrong_pairs"]
    for ex_id in exercises.list_exercises("06"):
        assert exercises.check(ex_id, exercises.get(ex_id).reference)


def test_kl_term_checker_fails_the_book_slice_and_a_sum():
    def book(x):
        k = x.shape[1] // 2
        return np.mean(-x[:, :k] + 0.5 * (np.exp(2 * x[:, :k]) + x[:, :k] ** 2 - 1))

    def summed(x):
        return ex06.kl_term(x) * (x.shape[1] // 2)

    result = exercises.check("06.kl_term", book)
    assert not result and "second half" in result.message
    result = exercises.check("06.kl_term", summed)
    assert not result and "mean" in result.message


def test_ca_sample_checker_fails_shared_noise_and_variance():
    def shared(x, rng):
        k = x.shape[1] // 2
        return x[:, :k] + np.exp(x[:, k:]) * rng.standard_normal(k)

    def variance(x, rng):
        k = x.shape[1] // 2
        return x[:, :k] + np.exp(2 * x[:, k:]) * rng.standard_normal((len(x), k))

    result = exercises.check("06.ca_sample", shared)
    assert not result and "one vector per sample" in result.message
    result = exercises.check("06.ca_sample", variance)
    assert not result and "sigma" in result.message


def _ca(eps_of, sigma_of=lambda x, k: np.exp(x[:, k:])):
    def answer(x, rng):
        k = x.shape[1] // 2
        return x[:, :k] + sigma_of(x, k) * eps_of(x, k, rng)
    return answer


@pytest.mark.parametrize("answer, words", [
    (_ca(lambda x, k, rng: rng.standard_normal((len(x), 1))), "correlated"),  # one number per row
    (_ca(lambda x, k, rng: rng.standard_normal((len(x), k)), lambda x, k: np.exp(x[0, -1])), "own sigma"),
    (_ca(lambda x, k, rng: rng.standard_normal((len(x), k)), lambda x, k: np.exp(x[::-1, k:])), "own sigma"),
    (_ca(lambda x, k, rng: np.random.standard_normal((len(x), k))), "rng"),
])
def test_ca_sample_checker_fails_the_reviewed_wrong_answers(answer, words):
    result = exercises.check("06.ca_sample", answer)
    assert not result and words in result.message


def test_wrong_pairs_checker_fails_shift_by_one_and_fixed_picks():
    result = exercises.check("06.wrong_pairs", lambda c, rng: (np.arange(len(c)) + 1) % len(c))
    assert not result and "Shifting the batch by one" in result.message

    def first_other(c, rng):
        return np.array([np.flatnonzero(c != ci)[0] for ci in c])

    result = exercises.check("06.wrong_pairs", first_other)
    assert not result and "rng" in result.message
