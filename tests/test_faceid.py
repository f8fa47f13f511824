"""Face evaluators on rendered faces: age classifier, identity embedding, verification protocol, caching."""

import numpy as np
import pytest
import tensorflow as tf

from gancourse import faceid
from gancourse.data import rendered_faces as rf


# ---------------------------------------------------------------------------
# Verification protocol (no network needed)
# ---------------------------------------------------------------------------
def test_verification_pairs_are_balanced_and_across_ages():
    faces = rf.offline_faces("test", 32)
    a, b, same = faceid.verification_pairs(faces, 301, seed=1)
    assert a.shape == b.shape == same.shape == (301,) and same.dtype == bool
    assert same.sum() == 150 and same[:150].all() and not same[150:].any()
    assert (faces.ages[a] != faces.ages[b]).all()  # every pair spans two ages
    np.testing.assert_array_equal(faces.identity[a] == faces.identity[b], same)
    again = faceid.verification_pairs(faces, 301, seed=1)
    for x, y in zip((a, b, same), again):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a, faceid.verification_pairs(faces, 301, seed=2)[0])
    one_person = rf.FaceSet(faces.images[:6], faces.ages[:6], faces.identity[:6])
    with pytest.raises(ValueError, match="needs an identity at two different ages and two identities"):
        faceid.verification_pairs(one_person, 10)
    with pytest.raises(ValueError, match="n must be >= 2"):
        faceid.verification_pairs(faces, 1)


def test_verification_accuracy_follows_the_lfw_protocol():
    rng = np.random.default_rng(0)
    n = 200
    same = np.arange(n) < n // 2
    a = rng.normal(size=(n, 8))
    # separable: same pairs at distance 0.5, different pairs at distance 2
    direction = rng.normal(size=(n, 8))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    b = a + direction * np.where(same, 0.5, 2.0)[:, None]
    assert faceid.verification_accuracy(a, b, same) == (1.0, 0.0)
    # inverted distances: a threshold rule cannot do better than always saying "different" (or "same")
    b_inv = a + direction * np.where(same, 2.0, 0.5)[:, None]
    mean, _ = faceid.verification_accuracy(a, b_inv, same)
    assert mean <= 0.55
    # one wrong pair of 200: held out in exactly one fold of 20 pairs
    b_one = b.copy()
    b_one[0] = a[0] + direction[0] * 3.0
    mean, std = faceid.verification_accuracy(a, b_one, same, folds=10, seed=3)
    assert mean == pytest.approx(1 - 1 / 200) and std == pytest.approx(np.std([0.95] + [1.0] * 9))
    # random embeddings: chance
    mean, _ = faceid.verification_accuracy(rng.normal(size=(n, 8)), rng.normal(size=(n, 8)), same)
    assert 0.3 < mean < 0.7
    with pytest.raises(ValueError, match="both same-person and different-person"):
        faceid.verification_accuracy(a, b, np.ones(n, bool))
    with pytest.raises(ValueError, match="one same flag per pair"):
        faceid.verification_accuracy(a, b[:5], same)
    with pytest.raises(ValueError, match="folds >= 2"):
        faceid.verification_accuracy(a[:5], b[:5], same[:5], folds=10)


# ---------------------------------------------------------------------------
# The trained evaluators (built once per test session, cached)
# ---------------------------------------------------------------------------
def test_age_classifier_reads_ages_of_unseen_people():
    clf = faceid.age_classifier(64)
    assert clf is faceid.age_classifier(64)  # one per process
    assert clf.test_accuracy > 0.95
    test = rf.offline_faces("test")
    predicted = faceid.predict_ages(test.images[:60])
    assert predicted.shape == (60,) and predicted.dtype == np.int32
    np.testing.assert_array_equal(predicted, clf.predict_ages(test.images[:60]))
    probabilities = clf.predict(test.images[:5])
    assert probabilities.shape == (5, 6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # fresh faces of new people, rendered without nuisance, at every age
    ids = rf.random_identities(20, seed=99)
    ages = np.arange(20) % 6
    assert np.mean(faceid.predict_ages(rf.render_faces(ids, ages)) == ages) >= 0.9
    assert clf.cache_path.exists() and f"r{rf.RENDERER_VERSION}_v{faceid.VERSION}" in clf.cache_path.name
    with pytest.raises(ValueError, match=r"images must be \(n, 64, 64, 3\)"):
        clf.predict(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="size must be a multiple of 32"):
        faceid.AgeClassifier(48)


def test_identity_network_is_normalised_differentiable_and_verifies_unseen_people():
    net = faceid.identity_evaluator(64, 128)
    model = faceid.identity_network()
    assert model is net.model
    mean, std = net.test_verification
    assert mean > 0.9 and 0 <= std < 0.1
    test = rf.offline_faces("test")
    emb = net.embed(test.images[:12])
    assert emb.shape == (12, 128)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    # same person at two ages is closer than two people at those ages (on average)
    a, b, same = faceid.verification_pairs(test, 400, seed=5)
    full = net.embed(test.images)
    distance = np.linalg.norm(full[a] - full[b], axis=1)
    assert distance[same].mean() < distance[~same].mean() - 0.2
    # differentiable with respect to the image
    x = tf.Variable(test.images[:2])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) * tf.constant(emb[5:7]))
    grad = tape.gradient(loss, x)
    assert grad is not None and grad.shape == (2, 64, 64, 3) and float(tf.reduce_max(tf.abs(grad))) > 0
    with pytest.raises(ValueError, match="dim must be >= 2"):
        faceid.IdentityNetwork(64, dim=1)


def test_two_fresh_caches_hold_identical_weights(tmp_path, monkeypatch):
    """The evaluators depend on nothing that ran before them, and leave the global random state alone."""
    import keras

    weights = []
    for i in range(2):
        monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / f"cache{i}"))
        keras.utils.set_random_seed(100 + i)  # a different global random state before each build
        for _ in range(3 * i):
            keras.layers.Dense(4)(np.zeros((1, 3), np.float32))
        state = np.random.get_state()[1].copy()
        age = faceid.AgeClassifier(32, epochs=1)
        identity = faceid.IdentityNetwork(32, dim=16, epochs=1)
        np.testing.assert_array_equal(np.random.get_state()[1], state)  # the caller's NumPy stream is untouched
        assert not age.cached and not identity.cached
        assert age.cache_path.exists() and "32px_1ep" in age.cache_path.name
        assert identity.cache_path.exists() and "32px_16d_1ep" in identity.cache_path.name
        weights.append(age.model.get_weights() + identity.model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    again = faceid.IdentityNetwork(32, dim=16, epochs=1)  # the second cache: loaded, not trained
    assert again.cached
    for a, b in zip(again.model.get_weights(), weights[1][len(age.model.get_weights()):]):
        np.testing.assert_array_equal(a, b)
