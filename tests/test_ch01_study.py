"""Chapter 01: the vectorised GAN ensemble against ToyGAN, the theory additions, the exercise and the FID trace."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from gancourse import exercises, metrics, nn, theory
from gancourse.models import gan
from gancourse.models.gan_ensemble import GANEnsemble

BASE = gan.config("ring").replace(hidden=8, batch_size=6)
VARIANTS = {
    "baseline": {}, "minimax": dict(generator_loss="minimax"), "feature matching": dict(feature_matching=True),
    "minibatch": dict(minibatch_kernels=3, minibatch_dim=2), "historical": dict(historical_weight=1e-2),
    "one-sided": dict(label_smoothing="one_sided"), "two-sided": dict(label_smoothing="two_sided"),
    "batch norm": dict(norm="batch"), "layer norm": dict(norm="layer"),
}


def _dense(model):
    return [layer for layer in model.layers if isinstance(layer, layers.Dense)]


def _copy_into(ensemble, slot, model):
    """Put a ToyGAN's weights into one slot of an ensemble (same architecture)."""
    w = ensemble.weights
    for net, keras_net in (("g", model.generator), ("d", model.discriminator)):
        dense = _dense(keras_net)
        norms = [layer for layer in keras_net.layers if isinstance(layer, layers.BatchNormalization)]
        for i, layer in enumerate(dense[:-1]):
            w[f"{net}_w{i}"][slot].assign(layer.kernel)
            w[f"{net}_b{i}"][slot].assign(layer.bias)
        for i, layer in enumerate(norms):
            w[f"{net}_gamma{i}"][slot].assign(layer.gamma)
            w[f"{net}_beta{i}"][slot].assign(layer.beta)
        head = np.zeros(w[f"{net}_wout"].shape[1:], np.float32)
        head[:dense[-1].kernel.shape[0]] = dense[-1].kernel  # minibatch features follow D's hidden ones
        w[f"{net}_wout"][slot].assign(head)
        w[f"{net}_bout"][slot].assign(dense[-1].bias)
    for layer in model.discriminator.layers:
        if isinstance(layer, nn.MinibatchDiscrimination):
            w["d_T"][slot].assign(layer.T)
    for net in "gd":  # historical averages start at the copied weights
        for v, m in zip(ensemble.networks[net], ensemble.history[net]):
            m.assign(v)


def _weights_of(ensemble, slot, net):
    return {k: v[slot].numpy() for k, v in ensemble.weights.items() if k.startswith(net + "_")}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_one_ensemble_step_equals_one_toygan_step(name):
    cfg = BASE.replace(**VARIANTS[name])
    model = gan.ToyGAN(cfg)
    model.compile()
    ensemble = GANEnsemble({name: cfg}, seeds=[0])
    _copy_into(ensemble, 0, model)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(cfg.batch_size, 2)).astype(np.float32)
    z_d, z_g = (rng.normal(size=(cfg.batch_size, cfg.latent_dim)).astype(np.float32) for _ in range(2))
    # the same forward pass
    g_keras = model.generator(z_d, training=False).numpy()
    assert np.allclose(ensemble.generate(tf.constant(z_d[None]), training=False)[0], g_keras, atol=1e-5)
    noises = iter([z_d, z_g])
    model.sample_noise = lambda n: tf.constant(next(noises))
    model.train_step(tf.constant(real))
    ensemble._step(tf.constant(real[None]), tf.constant(z_d[None]), tf.constant(z_g[None]))
    # the same update: every weight of both networks after one D and one G step
    for net, keras_net in (("g", model.generator), ("d", model.discriminator)):
        after = _weights_of(ensemble, 0, net)
        dense = _dense(keras_net)
        for i, layer in enumerate(dense[:-1]):
            assert np.allclose(after[f"{net}_w{i}"], layer.kernel.numpy(), atol=1e-4), (name, net, i, np.abs(after[f"{net}_w{i}"] - layer.kernel.numpy()).max())
        assert np.allclose(after[f"{net}_wout"][:dense[-1].kernel.shape[0]], dense[-1].kernel.numpy(), atol=1e-4)
    assert np.allclose(ensemble.generate(tf.constant(z_g[None]), training=True)[0],
                       model.generator(z_g, training=True).numpy(), atol=1e-4)


def test_slots_are_independent_of_the_other_variants():
    batches = np.random.default_rng(1).normal(size=(5, 2, BASE.batch_size, 2)).astype(np.float32)
    alone = GANEnsemble({"baseline": BASE}, seeds=[3, 4])
    mixed = GANEnsemble({"baseline": BASE, "batch norm": BASE.replace(norm="batch"),
                         "minibatch": BASE.replace(minibatch_kernels=3, minibatch_dim=2)}, seeds=[3, 4])
    alone.train(batches)
    mixed.train(batches)
    for seed in (3, 4):
        a, m = alone.slot("baseline", seed), mixed.slot("baseline", seed)
        for key in ("g_w0", "g_w1", "d_w0", "d_wout"):
            rows = alone.weights[key].shape[1]  # the mixed ensemble's logit layer has rows for minibatch features
            assert np.allclose(alone.weights[key][a], mixed.weights[key][m][:rows], atol=1e-5)
        assert np.all(mixed.weights["d_wout"][m][BASE.hidden:] == 0)  # and they stay unused in a plain slot
    same_start = GANEnsemble({"a": BASE, "b": BASE.replace(norm="layer")}, seeds=[7])
    assert np.array_equal(same_start.weights["g_w0"][0], same_start.weights["g_w0"][1])  # seed fixes the start
    samples = mixed.sample(50)
    assert samples.shape == (6, 50, 2) and np.all(np.isfinite(samples))


def test_ensemble_rejects_what_it_cannot_train():
    with pytest.raises(ValueError, match="differs from 'a' in hidden"):
        GANEnsemble({"a": BASE, "b": BASE.replace(hidden=16)}, seeds=[0])
    with pytest.raises(ValueError, match="label_smoothing none, one_sided or two_sided"):
        GANEnsemble({"a": BASE.replace(label_smoothing="noisy")}, seeds=[0])
    with pytest.raises(ValueError, match="vector data"):
        GANEnsemble({"a": gan.config("book").replace(hidden=8)}, seeds=[0])
    with pytest.raises(ValueError, match="batches must have shape"):
        GANEnsemble({"a": BASE}, seeds=[0, 1]).train(np.zeros((3, 1, BASE.batch_size, 2)))


def test_wasserstein_keeps_growing_where_js_saturates():
    x = np.linspace(-12, 12, 4801)
    dx = x[1] - x[0]
    p = theory.gaussian_pdf(x, 0, 0.5)
    for shift in (1.0, 4.0, 8.0):
        q = theory.gaussian_pdf(x, shift, 0.5)
        assert theory.wasserstein1_1d(p, q, dx) == pytest.approx(shift, rel=1e-3)
        assert theory.wasserstein1_1d(q, p, dx) == pytest.approx(shift, rel=1e-3)
    far = theory.gaussian_pdf(x, 8, 0.5)
    assert theory.js_divergence(p, far, dx) == pytest.approx(np.log(2), abs=1e-6)
    assert theory.wasserstein1_1d(p, p, dx) == pytest.approx(0.0, abs=1e-9)


def test_forward_kl_covers_modes_and_reverse_kl_seeks_one():
    x = np.linspace(-10, 10, 2001)
    mixture = 0.5 * theory.gaussian_pdf(x, -2, 0.6) + 0.5 * theory.gaussian_pdf(x, 2, 0.6)
    mu, sigma, value = theory.fit_gaussian_kl(x, mixture, "forward")
    assert mu == pytest.approx(0.0, abs=1e-3) and sigma == pytest.approx(np.sqrt(4 + 0.36), rel=1e-3)  # moments
    assert value == pytest.approx(theory.kl_divergence(mixture, theory.gaussian_pdf(x, mu, sigma), x[1] - x[0]),
                                  rel=1e-6)
    mu_r, sigma_r, _ = theory.fit_gaussian_kl(x, mixture, "reverse")
    assert abs(abs(mu_r) - 2) < 0.05 and sigma_r == pytest.approx(0.6, rel=0.05)  # on one mode, about its width
    with pytest.raises(ValueError, match="unknown direction"):
        theory.fit_gaussian_kl(x, mixture, "sideways")


def test_generator_costs_and_their_gradients():
    d = np.array([1e-3, 0.25, 0.5, 0.9])
    costs = theory.generator_costs(d)
    assert np.allclose(costs["minimax"], np.log(1 - d), atol=1e-6)
    assert np.allclose(costs["non_saturating"], -np.log(d), atol=1e-6)
    assert np.allclose(costs["maximum_likelihood"], -d / (1 - d), atol=1e-6)
    grads = theory.generator_loss_gradients(d)
    assert np.allclose(grads["maximum_likelihood"], -d / (1 - d), rtol=1e-4)
    assert np.allclose(grads["minimax"], -d, atol=1e-6) and np.allclose(grads["non_saturating"], d - 1, atol=1e-6)
    # both the minimax and the maximum-likelihood cost vanish where D rejects the fakes; the non-saturating does not
    assert abs(grads["maximum_likelihood"][0]) < 2e-3 and abs(grads["non_saturating"][0]) > 0.99


def test_trace_sqrt_product_is_exact_for_singular_covariances_without_warnings():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = np.cov(rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)), rowvar=False)
    b = np.cov(rng.normal(size=(300, 5)), rowvar=False)
    assert metrics.trace_sqrt_product(a, b) == pytest.approx(np.trace(np.real(linalg.sqrtm(a @ b))), rel=1e-8)
    repeated = np.tile(rng.normal(size=(3, 5)), (40, 1))  # rank 2 covariance, like a generator repeating 3 images
    s = np.cov(repeated, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metrics.fid_from_features(rng.normal(size=(300, 5)), repeated)
        assert metrics.trace_sqrt_product(s, s) == pytest.approx(np.trace(s), rel=1e-6)  # sqrt(S S) = S
    assert np.isfinite(value) and value > 0


def test_value_at_optimum_exercise_passes_the_reference_and_fails_mistakes():
    assert exercises.check("01.value_at_optimum", exercises.get("01.value_at_optimum").reference)

    def naive(p, g, dx):  # 0 * log 0 at the points where a density vanishes
        d = p / (p + g)
        return float(np.sum(p * np.log(d) + g * np.log(1 - d)) * dx)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker turns NumPy's warnings into feedback
        result = exercises.check("01.value_at_optimum", naive)
    assert not result and "NumPy warned: divide by zero" in result.message
    forgot_log4 = exercises.check("01.value_at_optimum", lambda p, g, dx: 2 * theory.js_divergence(p, g, dx))
    assert not forgot_log4 and "expected -1.386294" in forgot_log4.message
    js_only = exercises.check("01.value_at_optimum", lambda p, g, dx: theory.js_divergence(p, g, dx) - np.log(4))
    assert not js_only and "partial overlap" in js_only.message


def test_first_attempts_in_the_chapter_get_feedback_instead_of_warnings():
    def js(p, q):
        m = (p + q) / 2
        return 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))

    def ns(logits):
        return np.mean(-np.log(1 / (1 + np.exp(-logits))))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for exercise_id, attempt in (("01.js_divergence", js), ("01.non_saturating_loss", ns),
                                     ("01.optimal_discriminator", lambda p, q: p / (p + q))):
            result = exercises.check(exercise_id, attempt)
            assert not result and "NumPy warned" in result.message


def _rows(scores):
    """Study rows as stabilisation_study returns them, from {variant: (modes per seed, high-quality per seed)}."""
    return [{"variant": name, "runs": [{"modes_covered": m, "high_quality": h, "kl_to_uniform": 0.0}
                                       for m, h in zip(modes, quality)]}
            for name, (modes, quality) in scores.items()]


def test_study_family_corrects_both_scores_and_the_smoothing_pair_together():
    from gancourse import stats
    from gancourse.experiments import ch01

    rng = np.random.default_rng(0)
    base_q = 0.5 + 0.01 * rng.standard_normal(6)
    rows = _rows({
        "baseline (non-saturating)": ([8, 8, 7, 8, 8, 7], base_q),
        "minimax G loss": ([3, 2, 3, 2, 3, 2], base_q + 0.002 * rng.standard_normal(6)),  # far fewer modes
        "one-sided smoothing": ([8, 7, 8, 8, 7, 8], base_q + 0.01 * rng.standard_normal(6)),
        "two-sided smoothing": ([8, 8, 8, 7, 7, 8], base_q + 0.2 + 0.01 * rng.standard_normal(6)),  # better quality
    })
    groups = ch01.study_family(rows)
    assert list(groups) == ["modes_covered", "high_quality", "two-sided smoothing vs one-sided smoothing"]
    flat = [row for group in groups.values() for row in group]
    assert len(flat) == 3 + 3 + 1 and all(row["family"] == 7 for row in flat)
    assert np.allclose([row["p_holm"] for row in flat], stats.holm([row["p"] for row in flat]))
    verdicts = {(label, row["variant"]): row["verdict"] for label, group in groups.items() for row in group}
    assert verdicts[("modes_covered", "minimax G loss")] == "hurt"
    assert verdicts[("high_quality", "two-sided smoothing")] == "helped"
    assert verdicts[("two-sided smoothing vs one-sided smoothing", "two-sided smoothing")] == "better"
    assert verdicts[("modes_covered", "one-sided smoothing")] == stats.NO_DIFFERENCE
    sentence = ch01.describe_family(groups)
    assert "all 7 comparisons" in sentence and "minimax G loss (hurt, modes covered)" in sentence


def test_study_family_is_stricter_than_one_correction_per_table():
    from gancourse import stats
    from gancourse.experiments import ch01

    # a difference that survives Holm over the three rows of its own table but not over all seven comparisons
    rng = np.random.default_rng(3)
    noise = [rng.standard_normal(8) for _ in range(4)]
    for shift in np.linspace(0.3, 3.0, 200):
        rows = _rows({"baseline (non-saturating)": ([8] * 8, 0.5 + 0.1 * noise[0]),
                      "minimax G loss": ([8] * 8, 0.5 + 0.1 * noise[1] + 0.1 * shift),
                      "one-sided smoothing": ([8] * 8, 0.5 + 0.1 * noise[2]),
                      "two-sided smoothing": ([8] * 8, 0.5 + 0.1 * noise[3])})
        alone = ch01.study_findings(rows, "high_quality")[0]
        pooled = ch01.study_family(rows)["high_quality"][0]
        if alone["verdict"] != stats.NO_DIFFERENCE:
            break
    assert alone["verdict"] == "helped" and pooled["verdict"] == stats.NO_DIFFERENCE
    assert pooled["p_holm"] > alone["p_holm"]


def test_study_family_rejects_unknown_rows_and_scores():
    from gancourse.experiments import ch01

    rows = _rows({"baseline (non-saturating)": ([8, 7], [0.5, 0.6]), "one-sided smoothing": ([8, 8], [0.4, 0.5])})
    with pytest.raises(ValueError, match="no row named 'two-sided smoothing'"):
        ch01.study_family(rows)
    with pytest.raises(ValueError, match="unknown key 'fid'"):
        ch01.study_family(rows, pairs=(("one-sided smoothing", "baseline (non-saturating)", "fid"),))
