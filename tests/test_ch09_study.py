"""Chapter 09's study helpers: the monitor's broken runs, the lab's cache and summaries, AC-GAN's scores."""

from __future__ import annotations

import numpy as np
import pytest

from gancourse.experiments import ch09
from gancourse.models import acgan
from gancourse.stats import NO_DIFFERENCE
from gancourse.training.health import FAILURES, Finding, HealthMonitor


def test_health_configs_break_one_thing_each():
    healthy = ch09.health_config("healthy", "smoke")
    assert ch09.health_config("learning rate too high", "smoke").learning_rate == 0.3
    strong = ch09.health_config("D ten times too strong", "smoke")
    assert strong.learning_rate_for("discriminator") == pytest.approx(10 * strong.learning_rate_for("generator"))
    assert strong.learning_rate == healthy.learning_rate
    assert ch09.health_config("collapsed generator", "smoke", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="unknown health run 'slow'"):
        ch09.health_config("slow")


def test_the_zero_noise_generator_draws_one_image():
    model = ch09.ZeroNoiseDCGAN(ch09.health_config("collapsed generator", "smoke"))
    images = model.sample(5, seed=3)
    assert np.allclose(images, images[0]) and not np.allclose(model.fixed_noise(2, 0) * 0 + 1, 0)
    assert np.all(np.asarray(model.sample_noise(4)) == 0)


def test_health_rows_name_findings_and_quiet_runs():
    quiet, loud = HealthMonitor(samples=0, verbose=False), HealthMonitor(samples=0, verbose=False)
    for m in (quiet, loud):
        m.observe_epoch({"generator": True}, {"generator": True})
    loud.findings.append(Finding("frozen", 2, "evidence", "discriminator", FAILURES["frozen"][1]))
    rows = ch09.health_rows({"healthy": {"monitor": quiet}, "collapsed generator": {"monitor": loud}},
                            trap={"monitor": loud})
    assert [r["run"] for r in rows] == ["healthy", "collapsed generator", "Keras 3 trainable trap"]
    assert rows[0]["the monitor named"] == "nothing (quiet)" and rows[0]["epochs"] == 1
    assert rows[1]["the monitor named"] == "frozen (discriminator) at epoch 2"


def test_lab_description_is_computed_from_the_configs():
    rows = {r["arm"]: r["changes to the baseline config"] for r in ch09.lab_description(ch09.lab_configs("smoke"))}
    assert rows["baseline"].startswith("none")
    assert "spectral_norm=True" in rows["sngan"] and "objective='hinge'" in rows["sngan"]
    assert rows["r1"] == f"r1_weight={ch09.LAB_R1!r}"
    assert rows["diffaugment"] == "augment='diffaugment'"


def _fake_lab():
    cfg = ch09.lab_configs("smoke", 150)
    rng = np.random.default_rng(0)
    return {150: {arm: {"config": c, "scores": {"fid": list(rng.uniform(50, 60, 3)),
                                                "confident": list(rng.uniform(0.6, 0.7, 3)),
                                                "classes": [10, 10, 10], "distance": [0.5] * 3,
                                                "duplicates": [0.0] * 3},
                        "samples": rng.uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32), "d_real": [0.6] * 3,
                        "d_fake": [0.4] * 3, "steps": 46, "seconds": 1.5} for arm, c in cfg.items()}}


def test_cached_lab_round_trips_and_retrains_only_on_a_new_setting(monkeypatch):
    calls = []

    def fake_run_lab(sizes, seeds, extractor, real_features, steps=None, **kwargs):
        calls.append((tuple(sizes), tuple(seeds), steps))
        return _fake_lab()

    monkeypatch.setattr(ch09, "run_lab", fake_run_lab)
    settings = {"sizes": (150,), "seeds": (0, 1, 2), "steps": 46}
    features = np.ones((5, 3), np.float32)
    first = ch09.cached_lab(settings, None, features)
    again = ch09.cached_lab(settings, None, features)
    assert len(calls) == 1 and not first[150]["r1"]["cached"] and again[150]["r1"]["cached"]
    assert again[150]["r1"]["config"] == first[150]["r1"]["config"]
    assert again[150]["r1"]["scores"]["fid"] == pytest.approx(first[150]["r1"]["scores"]["fid"])
    np.testing.assert_array_equal(again[150]["sagan"]["samples"], first[150]["sagan"]["samples"])
    ch09.cached_lab(settings, None, features + 1)  # other reference features: another key
    ch09.cached_lab({**settings, "seeds": (0, 1)}, None, features)
    assert len(calls) == 3


def test_lab_summary_states_the_surviving_verdicts_and_unfinished_rows():
    lab = _fake_lab()
    lab[150]["r1"]["scores"]["fid"] = [20.0, 20.5, 21.0]
    lab[150]["baseline"]["scores"]["confident"] = [0.1, 0.12, 0.11]
    rows, comparisons = ch09.lab_table(lab, reference_distance=0.5)
    text = ch09.lab_summary(rows, comparisons)
    assert f"{len(comparisons)} comparisons with the baseline" in text
    assert "- r1 at 150 images: better on classifier-FID" in text
    assert "not converged (mean confident rate below 50%): baseline @ 150" in text
    none = [dict(c, verdict=NO_DIFFERENCE) for c in comparisons]
    assert "no arm differs detectably" in ch09.lab_summary([], none)


def test_acgan_rows_and_summary_test_against_chance():
    k = 10
    good = {s: acgan.ClassAccuracy(a, np.full(k, a), 0.99) for s, a in zip((0, 1, 2), (0.95, 0.97, 0.96))}
    rows = ch09.acgan_rows(good, k)
    assert rows[0]["judged by"].startswith("digit classifier") and rows[0]["chance"] == "10%"
    assert rows[0]["requested class recognised [95% CI]"].startswith("96% [")
    text = ch09.acgan_summary(good, k)
    assert "96% of samples over 3 seeds, above chance" in text
    bad = {s: acgan.ClassAccuracy(a, np.full(k, a), 0.1) for s, a in zip((0, 1, 2), (0.05, 0.15, 0.10))}
    assert "not shown to be above chance" in ch09.acgan_summary(bad, k)


class _Constant:
    """A stand-in AC-GAN that draws one image per class (or noise when ``varied``)."""

    num_classes = 2

    def __init__(self, varied):
        self.varied = varied

    def fixed_noise(self, n, seed=0):
        return np.random.default_rng(seed).standard_normal((n, 3)).astype(np.float32)

    def generate(self, z, labels):
        base = np.asarray(labels, np.float32).reshape(-1, 1, 1, 1) * np.ones((1, 4, 4, 1), np.float32)
        return base + (z[:, :1, None, None] if self.varied else 0)


def test_acgan_diversity_is_zero_for_one_image_per_class_and_positive_otherwise():
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((40, 4, 4, 1)).astype(np.float32), np.repeat([0, 1], 20)
    assert ch09.acgan_diversity(_Constant(False), images, labels, n_per_class=10)["mean"] == 0
    varied = ch09.acgan_diversity(_Constant(True), images, labels, n_per_class=10)
    assert varied["per_class"].shape == (2,) and np.all(varied["per_class"] > 0)
    with pytest.raises(ValueError, match="class 1 has 1 real images"):
        ch09.acgan_diversity(_Constant(True), images[:21], labels[:21], n_per_class=10)
