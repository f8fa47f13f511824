"""Chapter 09's modern-GAN lab: arms at equal compute, the lab run over sizes and seeds, and its table."""

import numpy as np
import pytest

from gancourse.experiments import ch04, ch09


def test_lab_configs_arms_differ_only_by_their_technique_at_equal_steps():
    small, full = ch09.lab_configs("smoke", 150), ch09.lab_configs("smoke")
    assert tuple(small) == ch09.LAB_ARMS == ("baseline", "sngan", "wgan-gp", "r1", "sagan", "ema", "diffaugment")
    base = small["baseline"]
    assert base == ch04.study_config("modern", "smoke").replace(epochs=23, train_size=150, width=ch09.LAB_SMOKE_WIDTH)
    assert base.width == 0.25 and ch04.study_config("modern", "smoke").width == 0.5  # the lab is narrower
    assert full["baseline"].train_size is None and full["baseline"].epochs == 2
    for arms, size in ((small, 150), (full, 1497)):
        for cfg in arms.values():  # 46 steps of one D and one G update each, for every arm and size
            assert cfg.epochs * (size // cfg.batch_size) == ch09.LAB_STEPS["smoke"] == 46 and cfg.d_steps == 1
            assert (cfg.batch_size, cfg.learning_rate, cfg.beta_1, cfg.width) == (64, base.learning_rate,
                                                                                  base.beta_1, base.width)
    sn, gp = small["sngan"], small["wgan-gp"]
    assert (sn.objective, sn.label_smoothing, sn.spectral_norm, sn.batch_norm) == ("hinge", "none", True, "generator")
    assert (gp.objective, gp.label_smoothing, gp.spectral_norm, gp.batch_norm) == ("wgan-gp", "none", False,
                                                                                   "generator")
    assert small["r1"] == base.replace(r1_weight=ch09.LAB_R1)
    assert small["sagan"] == base.replace(self_attention=True)
    assert small["diffaugment"] == base.replace(augment="diffaugment")
    assert small["ema"].ema == pytest.approx(0.5 ** (1 / 4.6))  # half-life a tenth of the 46 steps
    assert ch09.lab_configs("smoke", 150, steps=4680)["ema"].ema == pytest.approx(0.99852, abs=1e-5)
    standard = ch09.lab_configs("standard", 2000)["baseline"]
    assert (standard.dataset, standard.image_size, standard.batch_size) == ("fashion_mnist", 28, 128)
    assert standard.epochs * (2000 // 128) == ch09.LAB_STEPS["standard"]
    with pytest.raises(ValueError, match="steps=45 is not a positive multiple of the 2 steps per epoch"):
        ch09.lab_configs("smoke", 150, steps=45)
    with pytest.raises(ValueError, match="smaller than one batch of 64"):
        ch09.lab_configs("smoke", 50)


def _onehot(labels, classes=10, p=0.95):
    out = np.full((len(labels), classes), (1 - p) / (classes - 1))
    out[np.arange(len(labels)), labels] = p
    return out


class _Extractor:
    """A stand-in for the classifier: features are pixel statistics, classes are brightness bins."""

    def features(self, images):
        x = np.asarray(images).reshape(len(images), -1)
        return np.stack([x.mean(1), x.std(1), x[:, :8].mean(1)], 1)

    def predict(self, images):
        return _onehot(np.clip(((np.asarray(images).mean(axis=(1, 2, 3)) + 1) * 5).astype(int), 0, 9))


def test_run_lab_trains_every_size_and_seed_and_shares_traced_models():
    real = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    results = ch09.run_lab((128, 256), (0, 1), _Extractor(), real, profile_name="smoke", steps=4,
                           arms=("baseline", "ema"))
    assert list(results) == [128, 256] and all(list(r) == ["baseline", "ema"] for r in results.values())
    for size, arms in results.items():
        for result in arms.values():
            assert result["steps"] == 4 and result["config"].train_size == size
            assert all(len(v) == 2 for v in result["scores"].values())
    # the same seed at another size reuses the traced model but not its weights: the scores differ
    assert results[128]["baseline"]["scores"]["fid"] != results[256]["baseline"]["scores"]["fid"]
    rows, comparisons = ch09.lab_table(results, reference_distance=0.6)
    assert [(r["arm"], r["size"]) for r in rows] == [("baseline", 128), ("ema", 128), ("baseline", 256),
                                                     ("ema", 256)]
    assert len(comparisons) == 4 and all(c["family"] == 4 for c in comparisons)
    with pytest.raises(ValueError, match="unknown lab arm"):
        ch09.run_lab((128,), (0, 1), _Extractor(), real, arms=("stylegan",))


def _result(fid, confident, steps=46):
    n = len(fid)
    return {"steps": steps, "seconds": 3.0 * n, "scores": {"fid": list(fid), "confident": list(confident),
                                                          "classes": [10] * n, "distance": [0.6] * n,
                                                          "duplicates": [0.0] * n}}


def test_lab_table_corrects_all_comparisons_together_and_flags_unconverged_rows():
    results = {
        150: {"baseline": _result([50, 52, 51], [0.2, 0.25, 0.22]),
              "sngan": _result([30, 31, 29], [0.3, 0.28, 0.31]),   # clearly better FID
              "r1": _result([50, 53, 50], [0.21, 0.24, 0.2])},
        1497: {"baseline": _result([20, 21, 20.5], [0.8, 0.82, 0.81]),
               "sngan": _result([20.2, 20.9, 20.4], [0.81, 0.8, 0.83]),
               "r1": _result([40, 41, 42], [0.6, 0.58, 0.61])},   # clearly worse
    }
    rows, comparisons = ch09.lab_table(results, reference_distance=0.6)
    assert len(comparisons) == 2 * 2 * 2 and {c["family"] for c in comparisons} == {8}
    row = {(r["arm"], r["size"]): r for r in rows}
    assert row[("sngan", 150)]["s per run"] == "3.0"  # the arm's seconds over its seeds
    assert row[("sngan", 150)]["FID vs baseline"] == "better"
    assert row[("r1", 1497)]["FID vs baseline"] == "worse"
    assert row[("r1", 1497)]["confident vs baseline"] == "worse"
    assert row[("sngan", 1497)]["FID vs baseline"] == "no difference detected"
    assert row[("baseline", 150)]["FID vs baseline"] == "baseline"
    assert [row[(a, 150)]["note"] for a in ("baseline", "sngan", "r1")] == ["not converged"] * 3
    assert row[("baseline", 1497)]["note"] == "" and row[("r1", 1497)]["note"] == ""
    assert row[("sngan", 150)]["classifier-FID [95% CI]"].startswith("30.0 [")
    assert row[("sngan", 150)]["collapsed seeds"] == "0/3"
    # the one family's Holm correction is stricter than the per-size one: p_holm >= the raw p
    assert all(c["p_holm"] >= c["p"] for c in comparisons)
    with pytest.raises(ValueError, match="needs the baseline"):
        ch09.lab_table({150: {"sngan": results[150]["sngan"], "r1": results[150]["r1"]}}, 0.6)
