import numpy as np
import pytest
import tensorflow as tf

from gancourse import losses

rng = np.random.default_rng(0)
REAL = rng.normal(size=(16, 1)).astype(np.float32)
FAKE = rng.normal(size=(16, 1)).astype(np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_bce_family_against_numpy():
    t = rng.uniform(size=(16, 1)).astype(np.float32)
    p = sigmoid(REAL)
    want = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert float(losses.bce_with_logits(t, REAL)) == pytest.approx(want, rel=1e-5)
    want_d = 0.5 * (-np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1 - sigmoid(FAKE))))
    assert float(losses.discriminator_loss(REAL, FAKE)) == pytest.approx(want_d, rel=1e-5)
    assert float(losses.minimax_generator_loss(FAKE)) == pytest.approx(np.mean(np.log(1 - sigmoid(FAKE))), rel=1e-5)
    assert float(losses.non_saturating_generator_loss(FAKE)) == pytest.approx(-np.mean(np.log(sigmoid(FAKE))), rel=1e-5)
    acc = 0.5 * (np.mean(REAL > 0) + np.mean(FAKE < 0))
    assert float(losses.discriminator_accuracy(REAL, FAKE)) == pytest.approx(acc)


def test_saturating_gradient_vanishes_when_d_wins():
    logits = tf.constant([[-8.0], [0.0]])  # D(G(z)) ~ 0.0003 and 0.5
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        sat = losses.minimax_generator_loss(logits)
        ns = losses.non_saturating_generator_loss(logits)
    g_sat, g_ns = tape.gradient(sat, logits).numpy().ravel(), tape.gradient(ns, logits).numpy().ravel()
    np.testing.assert_allclose(g_sat, -sigmoid(np.array([-8.0, 0.0])) / 2, rtol=1e-5)
    np.testing.assert_allclose(g_ns, (sigmoid(np.array([-8.0, 0.0])) - 1) / 2, rtol=1e-5)
    assert abs(g_sat[0]) < 1e-3 < abs(g_ns[0])


def test_least_squares_hinge_wasserstein_against_numpy():
    assert float(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(
        0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2), rel=1e-5)
    assert float(losses.least_squares_generator_loss(FAKE)) == pytest.approx(0.5 * np.mean((FAKE - 1) ** 2), rel=1e-5)
    assert float(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(
        np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)), rel=1e-5)
    assert float(losses.hinge_generator_loss(FAKE)) == pytest.approx(-FAKE.mean(), rel=1e-5)
    assert float(losses.wasserstein_critic_loss(REAL, FAKE)) == pytest.approx(FAKE.mean() - REAL.mean(), rel=1e-5)
    assert float(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(-FAKE.mean(), rel=1e-5)


def test_gradient_penalty_of_known_critics():
    x = tf.constant(rng.normal(size=(8, 3)), tf.float32)
    y = tf.constant(rng.normal(size=(8, 3)), tf.float32)

    def unit_slope(v, training=True):  # ||grad|| = 1 everywhere -> zero penalty
        return tf.reduce_sum(v * tf.constant([0.6, 0.8, 0.0]), axis=1)

    def steep(v, training=True):  # ||grad|| = 3 everywhere -> 10 * (3 - 1)^2 = 40
        return 3.0 * v[:, 0]

    assert float(losses.gradient_penalty(unit_slope, x, y)) == pytest.approx(0.0, abs=1e-4)
    assert float(losses.gradient_penalty(steep, x, y)) == pytest.approx(40.0, rel=1e-4)


def test_feature_matching_against_numpy():
    fr, ff = rng.normal(size=(10, 4, 2)), rng.normal(1.0, 1.0, size=(6, 4, 2))
    want = np.sum((fr.reshape(10, -1).mean(0) - ff.reshape(6, -1).mean(0)) ** 2)
    assert float(losses.feature_matching_loss(tf.constant(fr, tf.float32), tf.constant(ff, tf.float32))) == \
        pytest.approx(want, rel=1e-5)
    assert float(losses.feature_matching_loss(tf.constant(fr, tf.float32), tf.constant(fr, tf.float32))) == 0.0


def test_objectives_are_pairs_of_the_pure_functions():
    assert losses.OBJECTIVE_NAMES == ("bce", "lsgan", "hinge", "wgan", "wgan-gp")
    r, f = tf.constant(REAL), tf.constant(FAKE)
    pairs = {"bce": (losses.discriminator_loss(r, f), losses.generator_loss(f)),
             "lsgan": (losses.least_squares_discriminator_loss(r, f), losses.least_squares_generator_loss(f)),
             "hinge": (losses.hinge_discriminator_loss(r, f), losses.hinge_generator_loss(f)),
             "wgan": (losses.wasserstein_critic_loss(r, f), losses.wasserstein_generator_loss(f)),
             "wgan-gp": (losses.wasserstein_critic_loss(r, f), losses.wasserstein_generator_loss(f))}
    for name, (d_want, g_want) in pairs.items():
        obj = losses.objective(name)
        assert float(obj.discriminator(r, f)) == pytest.approx(float(d_want), rel=1e-6)
        assert float(obj.generator(f)) == pytest.approx(float(g_want), rel=1e-6)
    # bce and lsgan take the (smoothed) targets; hinge and Wasserstein have none
    smoothed = 0.5 * (-np.mean(0.9 * np.log(sigmoid(REAL)) + 0.1 * np.log(1 - sigmoid(REAL)))
                      - np.mean(np.log(1 - sigmoid(FAKE))))
    assert float(losses.objective("bce").discriminator(r, f, 0.9, 0.0)) == pytest.approx(smoothed, rel=1e-5)
    assert [losses.objective(n).logits for n in losses.OBJECTIVE_NAMES] == [True, False, False, False, False]
    assert losses.objective("wgan").threshold is None and losses.objective("wgan-gp").penalty_weight == 10.0
    with pytest.raises(ValueError, match="unknown adversarial objective 'ralsgan'; choose one of bce, lsgan"):
        losses.objective("ralsgan")


def test_gradient_penalty_with_condition_and_seed_generator():
    import keras

    x = tf.constant(rng.normal(size=(8, 3)), tf.float32)
    y = tf.constant(rng.normal(size=(8, 3)), tf.float32)
    cond = tf.constant(rng.normal(size=(8, 2)), tf.float32)

    def conditional(pair, training=True):  # slope 2 in the image whatever the condition: 10 * (2 - 1)^2
        c, v = pair
        return 2.0 * v[:, 0] + 100.0 * tf.reduce_sum(c, axis=1)

    seeds = keras.random.SeedGenerator(3)
    assert float(losses.gradient_penalty(conditional, x, y, seed=seeds, condition=cond)) == pytest.approx(10.0, 1e-4)
    before = np.asarray(seeds.state).copy()
    losses.gradient_penalty(conditional, x, y, seed=seeds, condition=cond)
    assert not np.array_equal(before, np.asarray(seeds.state))  # each call draws new interpolates
