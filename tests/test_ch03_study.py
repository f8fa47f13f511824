"""Chapter 03's studies and defect exhibits (gancourse.experiments.ch03), on small sizes."""

from typing import NamedTuple

import keras
import numpy as np
import pytest

from gancourse.data.ages import N_AGES
from gancourse.experiments import ch03
from gancourse.nn import faces as face_nets


class Faces(NamedTuple):
    images: np.ndarray
    ages: np.ndarray
    identity: np.ndarray


def small_faces(people=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(people), N_AGES)
    ages = np.tile(np.arange(N_AGES), people).astype(np.int32)
    base = rng.uniform(-0.9, 0.9, (people, size, size, 3))
    images = (base[person] + 0.02 * ages[:, None, None, None] * rng.uniform(-1, 1, (len(person), size, size, 3)))
    images = images.astype(np.float32)  # a person's faces are close at every age
    return Faces(images, ages, (100 + person).astype(np.int32))


class FakeClassifier:
    """Reads the age group as the image's mean brightness bucket (deterministic)."""

    def predict_ages(self, images):
        images = np.asarray(images)
        return (np.clip((images.mean(axis=(1, 2, 3)) + 1) / 2, 0, 0.999) * N_AGES).astype(np.int32)


def fake_embed(images):
    flat = np.asarray(images, np.float64).reshape(len(images), -1)[:, :16]
    return flat / np.linalg.norm(flat, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tiny_model():
    from gancourse.models import agecgan

    cfg = agecgan.config("book").scaled("smoke").replace(image_size=32, g_dense=16, g_filters=8, d_filters=4,
                                                         e_filters=4, e_dense=16, batch_size=8, epochs=1,
                                                         encoder_epochs=1, encoder_steps_per_epoch=2,
                                                         latent_steps=2)
    model = agecgan.AgeCGAN(cfg)
    model.compile()
    model._fr = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(4),
                                  keras.layers.UnitNormalization()])  # a tiny FR: no evaluator training here
    return model


def test_chapter_config_sizes_the_smoke_run_and_refuses_unknown_profiles():
    cfg, settings = ch03.chapter_config("smoke")
    assert (cfg.image_size, cfg.epochs, cfg.dataset, cfg.face_net) == (32, 12, "offline_faces", "rendered")
    assert settings["faces"] >= 24 and settings["encoder_samples"] == 1000
    standard, _ = ch03.chapter_config("standard")
    assert (standard.image_size, standard.dataset, standard.g_filters) == (64, "offline_faces", 256)
    with pytest.raises(ValueError, match="unknown profile"):
        ch03.chapter_config("huge")


def test_book_counts_match_the_spec():
    rows = ch03.book_counts()
    assert [r["network"] for r in rows] == ["encoder", "generator", "discriminator"]
    assert all(r["match"] for r in rows)
    assert [r["parameters"] for r in rows] == [18_287_268, 34_885_251, 1_569_665]


def test_tiled_shapes_read_the_built_discriminator():
    shapes = ch03.tiled_shapes(face_nets.conditional_discriminator(32, filters=8))
    assert shapes == {"feature map": (None, 16, 16, 8), "label": (None, 6), "tiled label": (None, 16, 16, 6),
                      "concatenated": (None, 16, 16, 14)}


def test_tile_labels_copies_each_label_everywhere_after_the_features():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(2, 3, 4, 5)), np.eye(6)[[1, 4]]
    out = ch03.tile_labels(features, labels)
    assert out.shape == (2, 3, 4, 11)
    assert np.array_equal(out[..., :5], features)
    assert np.array_equal(out[1, 2, 3, 5:], labels[1]) and np.array_equal(out[0, 0, 0, 5:], labels[0])
    with pytest.raises(ValueError, match="same B"):
        ch03.tile_labels(features, labels[:1])


def test_wilson_interval_known_values_and_errors():
    low, high = ch03.wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    low, high = ch03.wilson(100, 100)
    assert high == 1.0 and 0.95 < low < 0.97
    with pytest.raises(ValueError):
        ch03.wilson(3, 0)
    with pytest.raises(ValueError):
        ch03.wilson(5, 4)


def test_accuracy_rows_per_age_and_overall():
    requested = np.repeat(np.arange(N_AGES), 10)
    predicted = requested.copy()
    predicted[:5] = 1  # half of group 0 read wrong
    rows = ch03.accuracy_rows(predicted, requested)
    assert [r["age"] for r in rows][-1] == "all" and len(rows) == 7
    assert rows[0]["accuracy"] == 0.5 and rows[1]["accuracy"] == 1.0
    assert rows[-1]["accuracy"] == pytest.approx(55 / 60)
    assert all(r["low"] <= r["accuracy"] <= r["high"] for r in rows)


def test_held_out_faces_one_per_person_and_cross_age_pairs():
    faces = small_faces(people=4)
    chosen = ch03.held_out_faces(faces, 8, seed=1)
    assert len(set(faces.identity[chosen[:4]])) == 4  # the first round covers every person once
    assert len(set(chosen.tolist())) == 8
    query, partner, same = ch03.cross_age_pairs(faces, chosen, seed=2)
    assert len(query) == 16 and same.sum() == 8
    for q, p, s in zip(query, partner, same):
        i = chosen[q]
        assert faces.ages[p] != faces.ages[i]
        assert (faces.identity[p] == faces.identity[i]) == s


def test_compare_methods_verdicts_follow_the_paired_tests():
    rng = np.random.default_rng(3)
    base = rng.uniform(1.0, 1.5, 30)
    per_face = {"E(x)": {"embedding distance": base, "pixel RMSE": base * 0.2},
                "pixel-wise": {"embedding distance": base + rng.normal(0, 0.01, 30), "pixel RMSE": base * 0.1},
                "identity-preserving": {"embedding distance": base - 0.5, "pixel RMSE": base * 0.3}}
    tests = ch03.compare_methods(per_face)
    assert len(tests) == 6 and all(r["family"] == 6 for r in tests)
    assert ch03.verdict(tests, "identity-preserving", "embedding distance") == "closer"
    assert ch03.verdict(tests, "identity-preserving", "pixel RMSE") == "further"
    assert ch03.verdict(tests, "pixel-wise", "pixel RMSE") == "closer"
    assert ch03.verdict(tests, "pixel-wise", "embedding distance") == "no difference detected"
    assert ch03.verdict(tests, "identity vs pixel", "embedding distance") == "closer"
    assert ch03.verdict(tests, "identity vs pixel", "pixel RMSE") == "further"
    with pytest.raises(ValueError, match="no test"):
        ch03.verdict(tests, "E(x)", "pixel RMSE")


def test_still_improving():
    assert ch03.still_improving({e: 0.1 * e for e in range(1, 10)})
    assert not ch03.still_improving({e: 0.5 for e in range(1, 10)})


def test_book_age_category_reuses_the_previous_group_or_raises():
    assert ch03.book_age_category([25, -3, 70, 0, 18, 19]) == [1, 1, 5, 5, 0, 1]
    with pytest.raises(NameError):
        ch03.book_age_category([-3, 25])


def test_book_one_hot_shrinks_or_refuses():
    assert ch03.book_one_hot(np.arange(6)).shape == (6, 6)
    assert ch03.book_one_hot(np.array([0, 1, 1, 2])).shape == (4, 3)
    with pytest.raises(Exception):
        ch03.book_one_hot(np.array([0, 1, 2, 4, 5, 5]))  # label 5 with 5 classes


def test_phase3_labels_pair_faces_with_random_ages():
    true = np.repeat(np.arange(N_AGES), 1000)  # 6,000 faces: more than phase 2's 5,000 rows
    mixed = ch03.phase3_labels(true, batch_size=128, phase2_samples=5000, seed=0)
    assert mixed["batches"] == 46
    assert mixed["short batches"] == 46 - 39  # batches from 39 on start at or past row 5,000 (one is partial)
    assert mixed["empty batches"] == 46 - 40  # batch 39 holds rows 4,992-4,999 only
    assert 0.12 < mixed["matched"] < 0.22


def test_book_labels_fake_side_is_zero():
    assert ch03.book_labels() == {"real": pytest.approx(0.9), "fake": 0.0}


def test_resize_exhibit_nearest_is_further_from_the_area_average():
    x = np.zeros((1, 64, 64, 3), np.float32)
    x[:, :, ::2] = 1.0  # one-pixel stripes: nearest keeps one phase of them
    result = ch03.resize_exhibit(x, 16)
    nearest, bilinear = (r["RMSE to the area average"] for r in result["rows"])
    assert result["nearest"].shape == (1, 16, 16, 3)
    assert nearest > 0.3 and bilinear < nearest / 2


def test_range_exhibit_reports_ranges_and_distances():
    rng = np.random.default_rng(4)
    images = rng.uniform(-1, 1, (5, 8, 8, 3)).astype(np.float32)
    out = ch03.range_exhibit(images, np.tanh(rng.normal(size=(5, 8, 8, 3))), fake_embed)
    book = out["rows"][2]
    assert book["min"] >= 0 and book["max"] <= 1
    assert out["distance"].shape == (5,) and np.all(out["distance"] > 0)


def test_lambda_exhibit_refuses_the_lambda_and_reloads_our_layer(tmp_path):
    out = ch03.lambda_exhibit(face_nets.conditional_discriminator(32, filters=4), tmp_path)
    assert "Lambda" in out["lambda_error"] or "safe_mode" in out["lambda_error"]
    assert out["reload_difference"] < 1e-6


def test_identity_study_shapes_and_rows(tiny_model):
    faces = small_faces(people=4, size=32)
    study = ch03.identity_study(tiny_model, faces, fake_embed, FakeClassifier(), n=8, steps=2, folds=2)
    names = [r["reconstruction"] for r in study["rows"]]
    assert names == ["real", "E(x)", "pixel-wise", "identity-preserving"]
    assert study["rows"][0]["pixel RMSE"] == 0 and study["rows"][0]["verification"] > 0.9
    assert study["reconstructions"]["pixel-wise"].shape == (8, 32, 32, 3)
    assert study["losses"]["pixel-wise"].shape == (3, 8)
    # the pixel objective after two Adam steps is no higher than at E(x) on average
    assert study["losses"]["pixel-wise"][-1].mean() <= study["losses"]["pixel-wise"][0].mean() + 1e-6
    assert len(study["tests"]) == 6
    judged = ch03.identity_study(tiny_model, faces, fake_embed, FakeClassifier(), n=8, steps=1, folds=2,
                                 judge=lambda images: fake_embed(images[:, ::-1]))
    assert "judge verification" in judged["rows"][0] and "judge embedding distance" in judged["rows"][1]
    assert "colour verification" not in judged["rows"][0]
    assert all(r["judge verification low"] <= r["judge verification high"] for r in judged["rows"])
    coloured = ch03.identity_study(tiny_model, faces, fake_embed, FakeClassifier(), n=8, steps=1, folds=2,
                                   colour=True)
    assert all(0 <= r["colour verification"] <= 1 for r in coloured["rows"]) and len(coloured["tests"]) == 6
    assert coloured["rows"][0]["latent norm"] == "-" and coloured["rows"][1]["latent norm"] > 0
    assert coloured["latents"]["identity-preserving"].shape == (8, tiny_model.latent_dim)
    assert len(judged["tests"]) == 9 and {t["metric"] for t in judged["tests"]} == {
        "embedding distance", "judge embedding distance", "pixel RMSE"}


def test_optimiser_comparison_and_finetune_and_encoder(tiny_model):
    faces = small_faces(people=2, size=32)
    opt = ch03.optimiser_comparison(tiny_model, faces.images[:2], faces.ages[:2], steps=2)
    assert [r["latent"] for r in opt["rows"]] == ["E(x), the start", "Adam", "L-BFGS-B"]
    assert opt["tests"][0]["variant"] == "L-BFGS-B"
    tuned = ch03.finetune_study(tiny_model, faces, FakeClassifier(), steps=1, per_age=2)
    assert len(tuned["rows"]) == 2 and {t["metric"] for t in tuned["tests"]} == {"age accuracy", "D(real)"}
    assert [p.shape for p in tuned["pictures"].values()] == [(N_AGES, 32, 32, 3)] * 2
    before = [w.copy() for w in tiny_model.generator.get_weights()]
    enc = ch03.encoder_overfitting(tiny_model, samples=16, epochs=1, n=8)
    assert len(enc["rows"]) == 2 and enc["fixed_model"].cfg.encoder_samples == 16
    assert enc["tests"][0]["variant"] == "fixed 16 (the book)" and enc["tests"][0]["n"] == 8
    assert enc["zero_baseline"] > 0 and all(r["fixed low"] <= r["error on the fixed set"] <= r["fixed high"]
                                            for r in enc["rows"])
    assert enc["ratio"]["fresh every step"] == pytest.approx(enc["rows"][1]["error on new latents"]
                                                             / enc["zero_baseline"])
    assert all(np.array_equal(a, b) for a, b in zip(before, tiny_model.generator.get_weights()))


def test_the_chapters_solutions_pass_and_its_starters_do_not():
    import datetime
    import re
    from pathlib import Path

    import tensorflow as tf

    from gancourse import exercises

    text = (Path(__file__).resolve().parents[1] / "book" / "03_age_cgan.md").read_text()
    solutions = re.findall(r"````\{admonition\} Solution.*?```python\n(.*?)```", text, re.S)
    starters = re.findall(r"```\{code-cell\} ipython3\n((?:(?!```).)*?exercises\.check\(\"03\.\w+\".*?)```", text, re.S)
    assert len(solutions) == 3 and len(starters) == 3
    for solution, starter in zip(solutions, starters):
        exercise = re.search(r'exercises\.check\("(03\.\w+)", (\w+)\)', starter)
        space = {"np": np, "tf": tf, "datetime": datetime}
        exec(solution, space)  # noqa: S102 - the book's own solution code
        assert exercises.check(exercise[1], space[exercise[2]]), exercise[1]
        space = {"np": np, "tf": tf, "datetime": datetime, "exercises": exercises}
        exec(starter.replace(f'exercises.check("{exercise[1]}", {exercise[2]})', ""), space)  # noqa: S102
        result = exercises.check(exercise[1], space[exercise[2]])
        assert not result and "raised" not in result.message, result.message


def test_closure_exhibit_resizes_the_captured_tensor_not_the_argument():
    out = ch03.closure_exhibit(size=4, factor=3)
    assert out["shape"] == (1, 12, 12, 3)
    assert out["from resize(x1)"] == 0.0 and out["from resize(x2)"] > 0.1


def test_colour_embedding_is_normalised_and_pools_to_a_grid():
    images = np.zeros((2, 8, 8, 3), np.float32)
    images[0, :4, :4] = 1.0  # one bright quadrant
    images[1] = 0.5
    emb = ch03.colour_embedding(images, grid=2)
    assert emb.shape == (2, 12)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-6)
    assert np.count_nonzero(emb[0]) == 3  # only the bright cell's three channels
    with pytest.raises(ValueError, match="multiple of grid"):
        ch03.colour_embedding(np.zeros((1, 6, 6, 3)), grid=4)


def test_strip_scores_per_target_age():
    faces = small_faces(people=3, size=32)
    outputs = [np.full((1, 32, 32, 3), -1 + (2 * a + 1) / N_AGES, np.float32) for a in range(N_AGES)]
    strips = np.stack([np.concatenate([faces.images[i:i + 1]] + outputs) for i in range(3)])
    assert strips.shape == (3, N_AGES + 1, 32, 32, 3)
    rows = ch03.strip_scores(strips, FakeClassifier(), fake_embed)
    assert [r["age accuracy"] for r in rows] == [1.0] * N_AGES  # each output's brightness is its target bucket
    assert all(r["n"] == 3 and r["distance low"] <= r["judge distance to the input"] <= r["distance high"]
               for r in rows)
    with pytest.raises(ValueError, match="the input, then the six ages"):
        ch03.strip_scores(strips[:, :3], FakeClassifier(), fake_embed)


def test_train_chapter_model_caches_by_configuration(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    cfg = tiny_model.cfg.replace(epochs=1, encoder_epochs=1, encoder_steps_per_epoch=1)
    faces = small_faces(people=2, size=32)
    first = ch03.train_chapter_model(cfg, faces, FakeClassifier(), grid_columns=2, cache=True)
    second = ch03.train_chapter_model(cfg, faces, FakeClassifier(), grid_columns=2, cache=True)
    assert (first["cached"], second["cached"]) == (False, True)
    for a, b in zip(first["model"].generator.get_weights() + first["model"].encoder.get_weights(),
                    second["model"].generator.get_weights() + second["model"].encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert second["accuracy"] == first["accuracy"] and second["history"].keys() == first["history"].keys()
    assert sorted(second["grids"]) == sorted(first["grids"]) == [0, 1]
    np.testing.assert_array_equal(second["grids"][1], first["grids"][1])
    other = ch03.train_chapter_model(cfg.replace(seed=cfg.seed + 5), faces, FakeClassifier(), grid_columns=2,
                                     cache=True)
    assert not other["cached"]  # another configuration, another cache entry


def test_bootstrap_verification_resamples_faces():
    rng = np.random.default_rng(0)
    face = np.repeat(np.arange(20), 2)
    same = np.tile([True, False], 20)
    a = rng.normal(size=(40, 8))
    perfect = np.where(same[:, None], a, -a)  # same pairs at distance 0, different ones far apart
    assert ch03.bootstrap_verification(a, perfect, same, face, folds=4) == (1.0, 1.0)
    noise = rng.normal(size=(40, 8))
    low, high = ch03.bootstrap_verification(a, noise, same, face, folds=4)
    assert 0 <= low < 0.75 and low <= high <= 1
