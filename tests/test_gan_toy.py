import numpy as np
import pytest
import tensorflow as tf

from gancourse import losses, training
from gancourse.experiments import ch01
from gancourse.models import gan


def test_book_mlp_parameter_counts():
    cfg = gan.config("book")
    g, d = gan.build_generator(cfg), gan.build_discriminator(cfg)
    # G: 100->500->500->784; D: 784->500->500->1 (the book's illustration network)
    assert g.count_params() == (100 * 500 + 500) + (500 * 500 + 500) + (500 * 784 + 784) == 693_784
    assert d.count_params() == (784 * 500 + 500) + (500 * 500 + 500) + 501 == 643_501
    assert g.output_shape == (None, 28, 28, 1)
    smoke = cfg.scaled("smoke")
    assert smoke.data == "digits" and smoke.epochs * smoke.steps_per_epoch == 150 and smoke.batch_size == 32
    assert cfg.scaled("standard").data == "mnist" and cfg.scaled("standard").epochs == 10


def test_switches_change_the_networks():
    base = gan.config("ring")
    d = gan.build_discriminator(base)
    assert d.output_shape == (None, 1) and gan.build_generator(base).output_shape == (None, 2)
    mbd = gan.build_discriminator(base.replace(minibatch_kernels=4, minibatch_dim=3))
    assert mbd.count_params() == d.count_params() + 128 * 4 * 3 + 4  # T, and 4 more inputs to the last Dense
    kinds = [type(layer).__name__ for layer in gan.build_generator(base.replace(norm="batch")).layers]
    assert kinds.count("BatchNormalization") == base.depth
    with pytest.raises(ValueError, match="unknown gan preset"):
        gan.config("circle")
    with pytest.raises(ValueError, match="norm='instance'"):
        gan.config("ring", norm="instance")
    with pytest.raises(ValueError, match="ToyGAN needs a GANConfig"):
        gan.ToyGAN(3)


def _compiled(**changes):
    model = gan.ToyGAN(gan.config("ring").replace(**changes))
    model.compile()
    return model


def _moved(before, model):
    return [not np.array_equal(a, b.numpy()) for a, b in zip(before, model.trainable_variables)]


@pytest.mark.parametrize("changes", [{}, {"feature_matching": True}, {"historical_weight": 0.1},
                                     {"generator_loss": "minimax"}, {"minibatch_kernels": 4}])
def test_each_update_touches_only_its_network(changes):
    model = _compiled(**changes)
    real = tf.constant(np.random.default_rng(0).normal(size=(16, 2)), tf.float32)
    g0 = [v.numpy().copy() for v in model.generator.trainable_variables]
    d0 = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    model.discriminator_step(real)
    assert all(_moved(d0, model.discriminator)) and not any(_moved(g0, model.generator))
    d1 = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    model.generator_step(16, real)
    assert all(_moved(g0, model.generator)) and not any(_moved(d1, model.discriminator))


def test_feature_matching_objective_and_historical_penalty():
    model = _compiled(feature_matching=True, historical_weight=0.5)
    real = tf.constant(np.random.default_rng(1).normal(size=(32, 2)), tf.float32)
    fakes = model.generator(model.fixed_noise(32))
    want = losses.feature_matching_loss(model.features(real, training=True), model.features(fakes, training=True))
    assert float(model.generator_objective(fakes, real)) == pytest.approx(float(want), rel=1e-5)
    assert float(model.regularizer("generator")) == 0.0  # weights equal their own history
    model.generator_step(32, real)
    assert float(model.regularizer("generator")) > 0.0
    assert float(_compiled().regularizer("generator")) == 0.0


def test_short_training_reports_finite_metrics_and_coverage():
    cfg = gan.config("ring").replace(epochs=2, steps_per_epoch=10, n_train=2000, steps_per_execution=5)
    model, history, _ = training.train(cfg)
    assert len(history.history["d_loss"]) == 2 and np.isfinite(history.history["g_loss"]).all()
    assert int(model.g_optimizer.iterations) == 20
    scores = ch01.ring_scores(model, n=500)
    assert 0 <= scores["modes_covered"] <= 8 and 0 <= scores["high_quality"] <= 1


def test_reset_reproduces_a_fresh_model_and_reuses_it():
    cfg = gan.config("ring").replace(epochs=1, steps_per_epoch=15, n_train=1000, steps_per_execution=5,
                                     historical_weight=1e-3, seed=3)
    fresh = training.train(cfg).model
    first = fresh.sample(64)
    reused = training.train(cfg.replace(seed=4)).model  # a model trained elsewhere ...
    reused.reset(3)  # ... reset to seed 3 and trained again
    reused.fit(gan.dataset(cfg), epochs=cfg.epochs, verbose=0)
    again = reused
    np.testing.assert_allclose(again.sample(64), first, rtol=1e-5, atol=1e-5)
    assert int(again.g_optimizer.iterations) == 15  # counters restarted, not continued
    with pytest.raises(ValueError, match="compile the GAN before resetting"):
        gan.ToyGAN(cfg).reset(0)


def test_train_steps_runs_one_update_per_batch_and_checks_shapes():
    model = _compiled()
    before = [w.copy() for w in model.generator.get_weights()]
    batches = np.random.default_rng(0).normal(size=(7, 16, 2)).astype(np.float32)
    logs = model.train_steps(batches)
    assert int(model.g_optimizer.iterations) == 7 and int(model.d_optimizer.iterations) == 7
    assert set(logs) == {"d_loss", "g_loss", "d_acc", "d_real", "d_fake"} and np.isfinite(list(logs.values())).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, model.generator.get_weights()))
    with pytest.raises(ValueError, match=r"batches must have shape \(steps, batch, 2\)"):
        model.train_steps(np.zeros((3, 16, 3)))


def test_stabilisation_study_rows_have_mean_spread_and_curves():
    base = gan.config("ring").replace(batch_size=16, hidden=16)
    seen = []
    rows = ch01.stabilisation_study(base, {"plain": {}, "one-sided": {"label_smoothing": "one_sided"}}, seeds=(0, 1),
                                   steps=12, checkpoints=3, samples=200, progress=seen.append)
    assert seen == [4, 8, 12]
    assert [r["variant"] for r in rows] == ["plain", "one-sided"]
    for row in rows:
        covered = [r["modes_covered"] for r in row["runs"]]
        assert row["modes_covered"] == pytest.approx(np.mean(covered))
        assert row["modes_covered_std"] == pytest.approx(np.std(covered, ddof=1))
        assert list(row["curve"]["steps"]) == [4, 8, 12] and row["curve"]["high_quality"].shape == (3, 2)
        assert list(row["curve"]["modes_covered"][-1]) == covered  # the last checkpoint is the result
    table = ch01.study_table(rows)
    assert table.count("\n") == 3 and "| one-sided |" in table and "[" in table
    assert set(ch01.STABILISERS) >= {"feature matching", "minibatch discrimination", "historical averaging",
                                    "one-sided smoothing", "two-sided smoothing", "batch norm", "minimax G loss"}
    with pytest.raises(ValueError, match="scores mode coverage on the ring"):
        ch01.stabilisation_study(gan.config("line"))
    with pytest.raises(ValueError, match="at least one seed"):
        ch01.stabilisation_study(base, seeds=())
    with pytest.raises(ValueError, match="multiple of checkpoints"):
        ch01.stabilisation_study(base, seeds=(0, 1), steps=10, checkpoints=3)


def test_study_setup_sizes_the_study_per_profile():
    base, steps, seeds = ch01.study_setup("smoke")
    assert base.data == "ring" and len(seeds) >= 8 and steps % 5 == 0
    standard = ch01.study_setup("standard")
    assert standard[1] > steps and len(standard[2]) >= len(seeds)


def test_smoke_profile_shrinks_the_ring():
    cfg = gan.config("ring").scaled("smoke")
    assert (cfg.hidden, cfg.batch_size, cfg.epochs) == (64, 64, 8)
    assert gan.config("ring").scaled("standard").hidden == 128


def test_study_findings_use_welch_and_holm():
    def row(name, covered):
        return {"variant": name, "runs": [{"modes_covered": c, "high_quality": 0.5, "kl_to_uniform": 0.1}
                                          for c in covered]}

    base = [6, 6, 7, 6, 7, 6, 6, 7]
    rows = [row("base", base), row("better", [8] * 7 + [7]), row("noisy", [2, 8, 8, 8, 3, 8, 8, 6]),
            row("worse", [0, 0, 1, 0, 1, 0, 0, 1])]
    found = {f["variant"]: f for f in ch01.study_findings(rows)}
    assert set(found) == {"better", "noisy", "worse"}
    assert found["better"]["verdict"] == "helped" and found["better"]["difference"] == pytest.approx(7.875 - 6.375)
    assert found["noisy"]["verdict"] == "no difference detected"  # mean 6.375 vs 6.375 with a wide spread
    assert found["worse"]["verdict"] == "hurt"
    assert found["better"]["low"] < found["better"]["difference"] < found["better"]["high"]
    assert all(f["p_holm"] >= f["p"] for f in found.values())  # the correction only ever raises p
    # three seeds whose difference beats twice the standard error, but not Welch + Holm over several comparisons
    few = [row("base", [6, 6, 7]), row("a", [7, 7, 8]), row("b", [6, 7, 6]), row("c", [6, 6, 7])]
    assert ch01.study_findings(few)[0]["verdict"] == "no difference detected"
    # for KL lower is better
    kl = ch01.study_findings([{"variant": "a", "runs": [{"kl_to_uniform": v} for v in (1.0, 1.1, 0.9)]},
                             {"variant": "b", "runs": [{"kl_to_uniform": v} for v in (0.1, 0.12, 0.08)]}],
                            key="kl_to_uniform")
    assert kl[0]["verdict"] == "helped"
    table = ch01.findings_table(list(found.values()))
    assert table.count("\n") == 4 and "| better | +1.50 [" in table
    with pytest.raises(ValueError, match="unknown key 'fid'"):
        ch01.study_findings(rows, key="fid")
    with pytest.raises(ValueError, match="no row named 'x'"):
        ch01.study_findings(rows, baseline="x")
