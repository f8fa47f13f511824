"""The rendered birds' attribute classifier: accurate on fresh renders, deterministic, and a fair judge of captions."""

import numpy as np
import pytest

from gancourse import birdattr, metrics
from gancourse.data import rendered_birds as rb
from gancourse.data.captioned import lr_from_hr


@pytest.mark.parametrize("size", [16, 64])
def test_reads_every_attribute_of_fresh_renders(size):
    classifier = birdattr.attribute_classifier(size)
    assert set(classifier.test_accuracy) == set(rb.ATTRIBUTES) | {"all"}
    assert min(classifier.test_accuracy.values()) >= 0.95, classifier.test_accuracy
    birds = rb.random_birds(400, seed=11)  # new birds, new nuisance, all 36 colour pairs
    images = rb.render_birds(birds, size, seed=12)
    accuracy = classifier.accuracy(images, birds)
    assert min(accuracy[name] for name in rb.ATTRIBUTES) >= 0.95, accuracy
    held_out = rb.random_birds(200, seed=13, classes=rb.TEST_CLASSES)  # colour pairs absent from offline_birds train
    assert classifier.accuracy(rb.render_birds(held_out, size, seed=14), held_out)["all"] >= 0.9
    predicted = classifier.predict(images)
    assert set(predicted) == set(rb.ATTRIBUTES) and all(p.shape == (400,) and p.dtype == np.int32
                                                        for p in predicted.values())
    if size == 16:  # Stage-I images are made from 64 px ones
        small = np.asarray(lr_from_hr(rb.render_birds(birds, 64, seed=12), 16))
        accuracy = birdattr.caption_consistency(small, birds)
        assert min(accuracy[name] for name in rb.ATTRIBUTES) >= 0.95, accuracy


def test_caption_consistency_of_real_and_shuffled_attributes():
    test = rb.offline_birds("test", 64)
    own = birdattr.caption_consistency(test.images, test.birds)
    assert own["all"] >= 0.9 and min(own[name] for name in rb.ATTRIBUTES) >= 0.95, own
    assert birdattr.caption_consistency(test.images, test.birds, size=16)["all"] >= 0.85
    shuffled = test.birds[np.random.default_rng(0).permutation(len(test.birds))]
    chance = birdattr.caption_consistency(test.images, shuffled)
    assert chance["body"] < 0.35 and chance["wing"] < 0.35 and chance["all"] < 0.1, chance
    # captions name only some attributes: -1 is "not named", and attributes nobody names are left out
    wanted = rb.wanted_attributes(["a red bird with green wings"] * len(test.images))
    named = birdattr.caption_consistency(test.images, wanted)
    assert set(named) == {"body", "wing", "all"}
    assert named["body"] == pytest.approx(np.mean(test.birds.body == 0), abs=0.03)
    half = {"body": np.where(np.arange(len(test.images)) % 2 == 0, test.birds.body, -1)}
    assert birdattr.caption_consistency(test.images, half) == {"body": pytest.approx(own["body"], abs=0.02),
                                                               "all": pytest.approx(own["body"], abs=0.02)}


def test_features_and_class_probabilities_for_fid_and_inception_score():
    classifier = birdattr.attribute_classifier(64)
    train, test = rb.offline_birds("train", 64), rb.offline_birds("test", 64)
    features = classifier.features(test.images)
    assert features.shape == (288, 64) and features.dtype == np.float32
    p = classifier.class_probabilities(test.images)
    assert p.shape == (288, 36)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert np.mean(p.argmax(axis=1) == test.class_ids) >= 0.95
    mixed = np.random.default_rng(0).permutation(288)  # the splits are class-major: mix them before splitting
    score, _ = metrics.inception_score(p[mixed], splits=4)
    assert 4.5 < score < 6.5  # six colour pairs (about 6), read confidently
    mixed = np.random.default_rng(0).permutation(len(train.images))[:480]
    assert metrics.inception_score(classifier.class_probabilities(train.images[mixed]), splits=4)[0] > 15
    # a classifier FID: the test split is nearer to itself re-rendered than to the training colour pairs
    again = classifier.features(rb.render_birds(test.birds, 64, seed=5))
    other = classifier.features(train.images[:288])
    assert metrics.fid_from_features(features, again) < 0.5 * metrics.fid_from_features(features, other)


def test_larger_images_share_the_32_px_network():
    c128 = birdattr.attribute_classifier(128)
    assert c128.size == 128 and c128.model is birdattr.attribute_classifier(64).model
    birds = rb.random_birds(100, seed=21)
    assert c128.accuracy(rb.render_birds(birds, 128, seed=22), birds)["all"] >= 0.9
    with pytest.raises(ValueError, match=r"images must be \(n, 128, 128, 3\)"):
        c128.predict(np.zeros((2, 64, 64, 3), np.float32))
    direct = birdattr.AttributeClassifier(64)  # built for 64 px: the 32 px network's cached weights
    assert direct.cached and direct.size == 64 and direct.base == 32
    assert direct.test_accuracy == birdattr.attribute_classifier(32).test_accuracy
    assert c128.features(rb.render_birds(birds[:5], 128)).shape == direct.features(
        rb.render_birds(birds[:5], 64)).shape == (5, 64)


def test_two_fresh_caches_hold_identical_weights(tmp_path, monkeypatch):
    """The classifier depends on nothing that ran before it, and leaves the caller's random state alone."""
    import keras

    weights = []
    for i in range(2):
        monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / f"cache{i}"))
        keras.utils.set_random_seed(100 + i)
        for _ in range(3 * i):
            keras.layers.Dense(4)(np.zeros((1, 3), np.float32))
        state = np.random.get_state()[1].copy()
        classifier = birdattr.AttributeClassifier(16, epochs=1)
        np.testing.assert_array_equal(np.random.get_state()[1], state)
        assert not classifier.cached and classifier.cache_path.exists()
        assert f"16px_3456n_1ep_r{rb.RENDERER_VERSION}_v{birdattr.VERSION}" in classifier.cache_path.name
        weights.append(classifier.model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    again = birdattr.AttributeClassifier(16, epochs=1)
    assert again.cached
    for a, b in zip(again.model.get_weights(), weights[1]):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_refused_with_a_clear_message():
    images = rb.offline_birds("test", 16).images[:4]
    with pytest.raises(ValueError, match="size must be 16 or a multiple of 32"):
        birdattr.attribute_classifier(48)
    with pytest.raises(ValueError, match="unknown attributes colour"):
        birdattr.caption_consistency(images, {"colour": [0, 0, 0, 0]})
    with pytest.raises(ValueError, match=r"wanted\['wing'\] must be 4 integers in -1..5"):
        birdattr.caption_consistency(images, {"wing": [0, 6, 0, 0]})
    with pytest.raises(ValueError, match=r"wanted\['body'\] must be 4 integers"):
        birdattr.caption_consistency(images, {"body": [0, 1]})
    with pytest.raises(ValueError, match="larger than the images"):
        birdattr.caption_consistency(images, {"body": 0}, size=32)
    with pytest.raises(ValueError, match=r"images must be \(n, S, S, 3\)"):
        birdattr.caption_consistency(images[0], {"body": 0})
