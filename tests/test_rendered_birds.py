"""Rendered birds: attributes, held-out colour pairs, captions that name them, the offline_birds dataset."""

import types

import numpy as np
import pytest

from gancourse import data
from gancourse.data import captioned
from gancourse.data import rendered_birds as rb


def test_classes_and_held_out_colour_pairs():
    assert len(rb.TEST_CLASSES) == 6 and len(rb.TRAIN_CLASSES) == 30
    assert set(rb.TEST_CLASSES).isdisjoint(rb.TRAIN_CLASSES) and set(rb.TEST_CLASSES) | set(rb.TRAIN_CLASSES) == set(
        range(36))
    train_pairs = {(c // 6, c % 6) for c in rb.TRAIN_CLASSES}
    assert {b for b, _ in train_pairs} == {w for _, w in train_pairs} == set(range(6))  # every colour in train twice
    train, test = rb.offline_birds("train", 16), rb.offline_birds("test", 16)
    assert len(train.images) == 30 * 48 and len(test.images) == 6 * 48
    assert set(np.unique(test.class_ids)) == set(rb.TEST_CLASSES)
    assert set(np.unique(train.class_ids)) == set(rb.TRAIN_CLASSES)
    np.testing.assert_array_equal(train.class_ids, train.birds.body * 6 + train.birds.wing)
    # every colour pair has every size x pose x background 4 times
    for split in (train, test):
        b = split.birds
        combo = ((b.class_ids * 2 + b.size) * 2 + b.pose) * 3 + b.background
        assert np.all(np.bincount(combo, minlength=36 * 12)[np.repeat(np.unique(b.class_ids), 12) * 12
                                                            + np.tile(np.arange(12), len(np.unique(b.class_ids)))]
                      == 4)


def test_shapes_ranges_determinism_and_read_only():
    birds = rb.random_birds(50, seed=3)
    a = rb.render_birds(birds, 32, seed=1)
    assert a.shape == (50, 32, 32, 3) and a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1
    np.testing.assert_array_equal(a, rb.render_birds(birds, 32, seed=1))
    assert np.abs(a - rb.render_birds(birds, 32, seed=2)).max() > 0.3  # the nuisance changes
    np.testing.assert_array_equal(rb.random_birds(50, seed=3).class_ids, birds.class_ids)
    assert len(birds[:7]) == 7 and len(birds[3]) == 1
    s = rb.offline_birds("test", 16)
    assert s.images.shape == (288, 16, 16, 3) and s.embeddings.shape == (288, 10, 1024)
    assert s is rb.offline_birds("test", 16)  # cached
    with pytest.raises(ValueError):
        s.images[0, 0, 0, 0] = 0
    captioned.check_embeddings(s.embeddings, len(s.images))
    np.testing.assert_allclose(np.linalg.norm(s.embeddings, axis=-1), 32.0, rtol=1e-5)
    only = rb.random_birds(100, seed=0, classes=rb.TEST_CLASSES)
    assert set(np.unique(only.class_ids)) <= set(rb.TEST_CLASSES)


def test_each_attribute_changes_only_its_own_pixels():
    base = rb.make_birds("red", "blue", "large", "perched", "sky")
    image = rb.render_birds(base, 64)[0]
    wing_mask = rb._templates(64)[1, 0].wing[4:68, 4:68] > 0  # the centred crop of the large perched bird
    other_wing = rb.render_birds(rb.make_birds("red", "yellow", "large", "perched", "sky"), 64)[0]
    changed = np.abs(other_wing - image).max(axis=-1) > 1e-6
    assert changed.sum() > 100 and not (changed & ~wing_mask).any()
    other_body = rb.render_birds(rb.make_birds("green", "blue", "large", "perched", "sky"), 64)[0]
    changed_body = np.abs(other_body - image).max(axis=-1) > 1e-6
    assert changed_body.sum() > changed.sum()  # body, head and tail
    other_background = rb.render_birds(rb.make_birds("red", "blue", "large", "perched", "sand"), 64)[0]
    unchanged = np.abs(other_background - image).max(axis=-1) < 1e-6
    assert unchanged.sum() > 200 and not (unchanged & (np.abs(changed_body) == 0) & ~wing_mask).all()
    for name, value in (("size", "small"), ("pose", "flying")):
        kwargs = dict(body="red", wing="blue", size="large", pose="perched", background="sky")
        kwargs[name] = value
        assert np.abs(rb.render_birds(rb.make_birds(**kwargs), 64)[0] - image).max() > 0.5
    # the flying pose shows more wing than the folded wing does
    t = rb._templates(64)
    assert t[1, 1].wing.sum() > 1.3 * t[1, 0].wing.sum() and t[1, 0].wing.sum() > 1.5 * t[0, 0].wing.sum()


def test_captions_name_what_the_bird_shows():
    birds = rb.random_birds(200, seed=4)
    captions = rb.captions_for(birds, 10, seed=0)
    assert len(captions) == 200 and all(len(c) == len(set(c)) == 10 for c in captions)
    named = {name: 0 for name in rb.ATTRIBUTES}
    for i, per_bird in enumerate(captions):
        for caption in per_bird:
            parsed = rb.parse_caption(caption)
            assert {"body", "wing"} <= parsed.keys()
            for name, value in parsed.items():
                assert getattr(birds, name)[i] == value, (caption, name)
                named[name] += 1
    assert named["body"] == named["wing"] == 2000
    for name in ("size", "pose", "background"):  # some captions only
        assert 200 < named[name] < 1500, named
    assert captions == rb.captions_for(birds, 10, seed=0) and captions != rb.captions_for(birds, 10, seed=1)
    assert not any("except for its red wings" in c for per_bird in rb.captions_for(
        rb.make_birds("red", "red", np.arange(20) % 2), 10) for c in per_bird)
    described = rb.describe(birds)
    assert described[0].startswith("a ") and len(described) == 200
    for i, caption in enumerate(described):
        assert rb.parse_caption(caption) == {name: int(v[i]) for name, v in birds.as_dict().items()}


def test_parse_caption_of_typed_text():
    assert rb.parse_caption("A little Yellow bird, blue-winged, soaring over the sand!") == {
        "body": 2, "wing": 1, "size": 0, "pose": 1, "background": 2}
    assert rb.parse_caption("its wings are black and its body is white") == {"body": 5, "wing": 4}
    assert rb.parse_caption("a green bird with a purple hat") == {"body": 3}
    wanted = rb.wanted_attributes(["a red bird with blue wings", "a big bird with black wings in the sky"])
    np.testing.assert_array_equal(wanted["body"], [0, -1])
    np.testing.assert_array_equal(wanted["size"], [-1, 1])
    np.testing.assert_array_equal(wanted["background"], [-1, 0])
    with pytest.raises(ValueError, match="names no colour.*colour: red, blue"):
        rb.parse_caption("a small bird in the sky")
    with pytest.raises(ValueError, match="names two body values \\(red, yellow\\)"):
        rb.parse_caption("a red bird with blue wings and a yellow body")


def test_make_birds_and_random_birds_refuse_bad_values():
    b = rb.make_birds("red", ["blue", "green"], pose="flying")
    np.testing.assert_array_equal(b.wing, [1, 3])
    np.testing.assert_array_equal(b.pose, [1, 1])
    with pytest.raises(ValueError, match="unknown body purple; choose from red"):
        rb.make_birds("purple", "red")
    with pytest.raises(ValueError, match="size must be integers 0-1"):
        rb.make_birds(0, 0, size=2)
    with pytest.raises(ValueError, match="one length"):
        rb.make_birds([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="class ids 0-35"):
        rb.random_birds(3, classes=[36])
    with pytest.raises(ValueError, match="size must be >= 8"):
        rb.render_birds(b, 4)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        rb.offline_birds("val")


def test_offline_birds_dataset_batches():
    assert "offline_birds" in data.CAPTION_DATASETS
    spec = data.get("offline_birds")
    assert spec.kind == "captions" and spec.offline and not spec.streamed
    cfg = types.SimpleNamespace(dataset="offline_birds", image_size=16, batch_size=16, seed=0, captions_per_step=4)
    lr, hr, embedding, class_id = next(iter(data.load(cfg, "test", shuffle=False)))
    assert lr.shape == (16, 16, 16, 3) and hr.shape == (16, 64, 64, 3) and embedding.shape == (16, 1024)
    test = rb.offline_birds("test", 64)
    np.testing.assert_allclose(hr.numpy(), test.images[:16])
    np.testing.assert_array_equal(class_id.numpy(), test.class_ids[:16])
    # the embedding is the mean of 4 of the image's 10 caption embeddings
    e = embedding.numpy()[0]
    gram = test.embeddings[0] @ e
    assert np.isclose(np.sort(np.linalg.lstsq(test.embeddings[0].T, e, rcond=None)[0])[-4:], 0.25, atol=1e-3).all()
    assert gram.shape == (10,)
    with pytest.raises(ValueError, match="offline_birds"):
        data.arrays("offline_birds", image_size=16, channels=3)
