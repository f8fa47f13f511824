"""The training-health monitor: each failure mode on a scripted metric stream, no false alarm on a healthy
stream, and on short real runs (a healthy one stays quiet; broken ones are named)."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from gancourse import data, legacy, training
from gancourse.models.dcgan import DCGAN, build_discriminator, build_generator, config
from gancourse.training.health import FAILURES, Finding, HealthMonitor, HealthRecord, Thresholds, diagnose, fingerprint


def _stream(n_chunks: int, epochs_of: int = 3, **series) -> HealthRecord:
    """A record with ``n_chunks`` chunks of the given per-chunk functions (or constants) of the chunk index."""
    record = HealthRecord()
    for i in range(n_chunks):
        record.add_chunk(i // epochs_of + 1, {k: (f(i) if callable(f) else f) for k, f in series.items()})
    return record


def _healthy(i: int) -> dict:
    rng = np.random.default_rng(i)
    return {"d_loss": 1.2 + 0.1 * rng.standard_normal(), "g_loss": 0.9 + 0.1 * rng.standard_normal(),
            "d_acc": 0.72 + 0.05 * rng.standard_normal(), "d_real": 0.6, "d_fake": 0.4,
            "grad_norm/generator": 5 + rng.random(), "grad_norm/discriminator": 3 + rng.random()}


def _healthy_record(n_chunks: int = 60) -> HealthRecord:
    record = HealthRecord()
    for i in range(n_chunks):
        record.add_chunk(i // 3 + 1, _healthy(i))
        if i % 3 == 2:
            record.add_epoch(i // 3 + 1, {"generator": True, "discriminator": True},
                             {"generator": True, "discriminator": True}, diversity=0.05 * min(i, 14) + 0.02,
                             duplicates=1.0 if i < 9 else 0.0)
    return record


def kinds(findings) -> list[str]:
    return sorted(f.kind for f in findings)


def test_healthy_stream_raises_no_alarm_at_any_point():
    record = HealthRecord()
    for i in range(60):
        record.add_chunk(i // 3 + 1, _healthy(i))
        assert diagnose(record) == [], f"false alarm after chunk {i}"
        if i % 3 == 2:
            # an untrained generator's samples start alike (duplicates 100%) and spread out
            record.add_epoch(i // 3 + 1, {"generator": True, "discriminator": True},
                             {"generator": True, "discriminator": True}, diversity=0.05 * min(i, 14) + 0.02,
                             duplicates=1.0 if i < 9 else 0.0)
            assert diagnose(record) == [], f"false alarm at epoch {i // 3 + 1}"


def test_nan_is_divergence_at_once():
    record = _healthy_record(12)
    record.add_chunk(5, dict(_healthy(12), g_loss=math.nan))
    found = diagnose(record)
    assert kinds(found) == ["divergence"] and "g_loss became nan" in found[0].evidence


def test_inf_gradient_is_divergence():
    record = _healthy_record(12)
    record.add_chunk(5, dict(_healthy(12), **{"grad_norm/discriminator": math.inf}))
    assert kinds(diagnose(record)) == ["divergence"]


def test_blown_up_loss_is_divergence_but_a_doubled_one_is_not():
    grow = _stream(30, d_loss=lambda i: 1.0 if i < 10 else 1.0 * 3 ** (i - 9), g_loss=1.0)
    found = diagnose(grow)
    assert kinds(found) == ["divergence"] and "d_loss" in found[0].evidence
    doubled = _stream(30, d_loss=lambda i: 1.0 if i < 10 else 2.0, g_loss=1.0)
    assert diagnose(doubled) == []


def test_d_overpowering_g_with_probabilities():
    record = _stream(20, d_acc=lambda i: 0.7 if i < 8 else 0.995, d_real=0.99, d_fake=lambda i: 0.4 if i < 8 else 0.01,
                     **{"grad_norm/generator": lambda i: 5.0 if i < 8 else 0.05})
    found = diagnose(record)
    assert kinds(found) == ["d_overpowers_g"]
    assert "0.995" in found[0].evidence and "0.01 times" in found[0].evidence


def test_a_confident_but_not_certain_d_is_not_overpowering():
    # accurate, but its fakes still get probability 0.2: G still receives a useful signal
    assert diagnose(_stream(20, d_acc=0.98, d_real=0.9, d_fake=0.2)) == []
    # a high accuracy for only part of the window is not enough
    assert diagnose(_stream(20, d_acc=lambda i: 0.99 if i % 2 else 0.8, d_real=0.9, d_fake=0.01)) == []


def test_d_overpowering_for_a_raw_score_objective_uses_the_margin():
    record = _stream(20, d_real=lambda i: 1.0 if i < 8 else 40.0, d_fake=lambda i: -1.0 if i < 8 else -40.0)
    record.probabilities = False
    record.chunks["margin"] = list(np.subtract(record.chunks["d_real"], record.chunks["d_fake"]))
    assert kinds(diagnose(record)) == ["d_overpowers_g"]


def test_oscillation_is_band_to_band_swings_not_noise():
    swinging = _stream(20, d_acc=lambda i: 0.95 if (i // 2) % 2 else 0.2, d_fake=0.3, d_real=0.6)
    found = diagnose(swinging)
    assert kinds(found) == ["oscillation"] and "crossed" in found[0].evidence
    noisy = _stream(20, d_acc=lambda i: 0.6 + 0.2 * np.sin(i), d_fake=0.3, d_real=0.6)
    assert diagnose(noisy) == []
    once = _stream(20, d_acc=lambda i: 0.2 if i < 10 else 0.95, d_fake=0.3, d_real=0.6)
    assert diagnose(once) == []  # one transition is a change, not an oscillation


def _epochs(diversity, duplicates):
    record = HealthRecord()
    for e, (d, u) in enumerate(zip(diversity, duplicates), start=1):
        record.add_epoch(e, diversity=d, duplicates=u)
    return record


def test_mode_collapse_by_falling_diversity_and_by_duplicates():
    falling = _epochs([0.1, 0.5, 0.6, 0.55, 0.1], [0.9, 0.1, 0, 0, 0.2])
    found = diagnose(falling)
    assert kinds(found) == ["mode_collapse"] and "17% of its highest" in found[0].evidence
    stuck = _epochs([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert kinds(diagnose(stuck)) == ["mode_collapse"]


def test_no_collapse_alarm_while_an_untrained_generator_spreads_out():
    for n in range(1, 7):
        growing = _epochs([0.02 * 2 ** e for e in range(n)], [1.0] * n)
        assert diagnose(growing) == [], n
    assert diagnose(_epochs([0.0, 0.0], [1.0, 1.0])) == []  # within the warm-up


def test_frozen_network_only_when_its_optimizer_stepped():
    record = HealthRecord()
    record.add_epoch(1, changed={"generator": True, "discriminator": False},
                     updated={"generator": True, "discriminator": True})
    found = diagnose(record)
    assert kinds(found) == ["frozen"] and found[0].network == "discriminator"
    phase = HealthRecord()  # a network left alone on purpose (a finished first phase) is not frozen
    phase.add_epoch(1, changed={"generator": True, "stage1": False}, updated={"generator": True, "stage1": False})
    assert diagnose(phase) == []


def test_findings_say_what_to_try():
    f = Finding("frozen", 3, "evidence", "discriminator", FAILURES["frozen"][1])
    text = str(f)
    assert text.startswith("[frozen (discriminator)] epoch 3: a frozen network") and "Try: check its trainable" in text


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match="swing_low < swing_high"):
        Thresholds(swing_low=0.9, swing_high=0.5)
    with pytest.raises(ValueError, match="window must be >= 1"):
        Thresholds(window=0)


def test_chunk_means_are_recovered_from_running_means():
    """Keras reports the epoch's running mean after each call of the training function (here 4 steps each);
    the monitor records each chunk's own mean."""
    monitor = HealthMonitor(samples=0, verbose=False)
    values = np.arange(1.0, 13.0)  # 12 steps
    for end in (3, 7, 11):
        monitor.on_train_batch_end(end, {"d_loss": values[:end + 1].mean()})
    np.testing.assert_allclose(monitor.record.series("d_loss"), [2.5, 6.5, 10.5])


def test_each_finding_is_reported_once_and_written(tmp_path, capsys):
    monitor = HealthMonitor(samples=0, path=tmp_path / "health.json")
    for i in range(20):
        monitor.observe_step({"d_acc": 0.999, "d_real": 0.99, "d_fake": 0.001})
    monitor.observe_epoch({"generator": True}, {"generator": True})
    assert kinds(monitor.findings) == ["d_overpowers_g"]
    assert capsys.readouterr().out.count("training health: [d_overpowers_g]") == 1
    saved = json.loads((tmp_path / "health.json").read_text())
    assert saved["findings"][0]["kind"] == "d_overpowers_g" and len(saved["record"]["chunks"]["d_acc"]) == 20
    assert "d_overpowers_g" in monitor.report()


def test_fingerprint_ignores_moving_statistics():
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    before = fingerprint(net)
    net(np.random.default_rng(0).standard_normal((8, 4)).astype("float32"), training=True)
    assert fingerprint(net) == before  # only the moving averages moved
    net.layers[0].kernel.assign(net.layers[0].kernel + 1e-3)
    assert fingerprint(net) != before


# -- real short runs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_cfg():
    return config("modern").scaled("smoke")


def test_a_healthy_short_run_is_quiet_and_train_keeps_the_monitor(smoke_cfg, tmp_path):
    model, history, _ = training.train(smoke_cfg.replace(epochs=6), out_dir=tmp_path / "run", n_samples=4)
    assert model.health.findings == [], model.health.report()
    record = model.health.record
    assert len(record.epochs) == 6 and len(record.series("grad_norm/generator")) == len(record.chunk_epochs)
    assert np.all(record.series("grad_norm/discriminator") > 0)
    assert all(e["changed"] == {"generator": True, "discriminator": True} for e in record.epochs)
    assert (tmp_path / "run" / "health.json").exists()


class _ZeroNoiseDCGAN(DCGAN):
    """A DCGAN whose training noise is all zeros (a noise scale of 0): every fake is the same image."""

    def sample_noise(self, n):
        return keras.ops.zeros((n, self.latent_dim))

    def fixed_noise(self, n, seed=0):
        return np.zeros((n, self.latent_dim), np.float32)


def test_a_collapsed_generator_is_named(smoke_cfg):
    cfg = smoke_cfg.replace(epochs=4)
    model = _ZeroNoiseDCGAN(cfg)
    model.compile()
    monitor = HealthMonitor(verbose=False)
    x, _ = data.arrays("digits", "train", image_size=cfg.image_size, channels=1)
    model.fit(x[:512], batch_size=cfg.batch_size, epochs=4, verbose=0, callbacks=[monitor])
    assert "mode_collapse" in kinds(monitor.findings)


def test_a_too_strong_discriminator_is_named(smoke_cfg):
    cfg = smoke_cfg.replace(epochs=5, g_learning_rate=smoke_cfg.learning_rate / 10)
    model, _, _ = training.train(cfg)
    assert "d_overpowers_g" in kinds(model.health.findings)


def test_the_keras3_trainable_trap_is_a_frozen_discriminator(smoke_cfg):
    """The Keras 2 recipe without toggling (D frozen before the stacked model is compiled) never updates D."""
    x, _ = data.arrays("digits", "train", image_size=smoke_cfg.image_size, channels=1)
    g, d = build_generator(smoke_cfg), build_discriminator(smoke_cfg)
    loop = legacy.LegacyLoop(g, d, smoke_cfg.latent_dim, keras.optimizers.Adam(1e-3, beta_1=0.5),
                             keras.optimizers.Adam(1e-3, beta_1=0.5), toggle=False)
    monitor = HealthMonitor(verbose=False)

    def step(batch):
        d_loss, g_loss = loop.step(batch)
        return {"d_loss": d_loss, "g_loss": g_loss}

    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        monitor.watch_loop(step, lambda: [x[i:i + 64] for i in range(0, 256, 64)], 1, {"generator": g,
                                                                                         "discriminator": d})
    assert [(f.kind, f.network) for f in monitor.findings] == [("frozen", "discriminator")]


def test_a_network_set_untrainable_is_a_clear_error(smoke_cfg):
    model = DCGAN(smoke_cfg)
    model.discriminator.trainable = False
    model.compile()
    x, _ = data.arrays("digits", "train", image_size=smoke_cfg.image_size, channels=1)
    with pytest.raises(ValueError, match="no trainable variables: its networks have trainable=False"):
        model.fit(x[:128], batch_size=64, epochs=1, verbose=0)
