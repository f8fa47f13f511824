"""Rendered faces: identity and age features are separate, the images are reproducible, the offline sets."""

import dataclasses
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from gancourse import data
from gancourse.data import rendered_faces as rf
from gancourse.data.ages import N_AGES, one_hot

SIZE = 64


def _ages_of(ids, size=SIZE, seed=None):
    """Every identity at all six ages: ``(n, 6, S, S, 3)``."""
    n = len(ids)
    return rf.render_faces(ids.repeat(N_AGES), np.tile(np.arange(N_AGES), n), size, seed=seed).reshape(
        n, N_AGES, size, size, 3)


def _coords(size=SIZE):
    px = 2.0 / size
    c = (np.arange(size) + 0.5) * px - 1.0
    return c[None, :], c[:, None] - rf._CENTRE_Y  # u (1, S), v (S, 1) relative to an unshifted face


def _feature_boxes(ids, k, size=SIZE):
    """Pixels of identity ``k``'s eyes, nose and mouth (with a margin), as a boolean ``(S, S)`` mask."""
    u, v = _coords(size)
    au = np.abs(u)
    es, nl, nw = ids.eye_spacing[k], ids.nose_length[k], ids.nose_width[k]
    mw, lip = ids.mouth_width[k], ids.lip_thickness[k]
    eyes = (np.abs(au - es) < 0.095 + 0.02) & (np.abs(v - rf._EYE_Y) < 0.07)
    nose = (au < nw + 0.03) & (v > nl - 0.06) & (v < nl + 0.04)
    mouth = (au < mw + 0.02) & (np.abs(v - rf._MOUTH_Y) < lip + 0.02)
    return eyes, nose, mouth


# ---------------------------------------------------------------------------
# Identities and attributes
# ---------------------------------------------------------------------------
def test_identities_are_reproducible_indexable_and_checked():
    ids = rf.random_identities(7, seed=3)
    again = rf.random_identities(7, seed=3)
    other = rf.random_identities(7, seed=4)
    assert len(ids) == 7
    for field in dataclasses.fields(ids):
        a = getattr(ids, field.name)
        assert len(a) == 7
        np.testing.assert_array_equal(a, getattr(again, field.name))
    assert not np.array_equal(ids.face_width, other.face_width)
    assert len(ids[2]) == 1 and ids[2].eye_spacing[0] == ids.eye_spacing[2]
    assert len(ids[:3]) == 3 and len(ids[[0, 0, 1]]) == 3
    np.testing.assert_array_equal(ids.repeat(3).mouth_width, np.repeat(ids.mouth_width, 3))
    assert ids.skin.shape == ids.eye_colour.shape == ids.hair_colour.shape == (7, 3)
    assert ((ids.skin >= 0) & (ids.skin <= 1)).all() and set(np.unique(ids.hair_style)) <= {0, 1, 2}
    assert len(rf.random_identities(0)) == 0
    with pytest.raises(ValueError, match="n must be >= 0"):
        rf.random_identities(-1)
    # every field belongs to exactly one identity feature
    grouped = [name for fields in rf.IDENTITY_FEATURES.values() for name in fields]
    assert sorted(grouped) == sorted(f.name for f in dataclasses.fields(ids))
    assert set(rf.IDENTITY_FEATURES) == {"face shape", "skin tone", "eye spacing", "eye colour", "nose", "mouth",
                                         "hair colour", "hair style"}
    assert {"wrinkles", "grey hair", "hairline", "jaw"} <= set(rf.AGE_FEATURES)


def test_an_identity_never_changes_an_age_feature_and_an_age_never_an_identity_feature():
    ages = np.arange(N_AGES).repeat(2)
    a = rf.face_attributes(rf.random_identities(12, seed=1), ages)
    b = rf.face_attributes(rf.random_identities(12, seed=2), ages)
    for name in rf.AGE_FEATURES:  # same ages, other people: the age features are equal
        np.testing.assert_array_equal(a[name], b[name])
    ids = rf.random_identities(6, seed=5)
    young, old = rf.face_attributes(ids, 0), rf.face_attributes(ids, 5)
    for fields in rf.IDENTITY_FEATURES.values():  # same people, other ages: the identity features are equal
        for name in fields:
            np.testing.assert_array_equal(young[name], old[name])
    for name, values in rf.AGE_FEATURES.items():
        assert len(values) == N_AGES and not np.array_equal(young[name], old[name])
    assert (young["age"] == 0).all() and (old["age"] == 5).all()
    # the age features move one way with age
    for name in ("jaw", "hairline", "grey hair", "wrinkles"):
        assert np.all(np.diff(rf.AGE_FEATURES[name]) >= 0) and rf.AGE_FEATURES[name][5] > rf.AGE_FEATURES[name][1]


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------
def test_render_shapes_range_and_reproducibility():
    ids = rf.random_identities(5, seed=0)
    ages = np.array([0, 1, 2, 3, 5])
    faces = rf.render_faces(ids, ages)
    assert faces.shape == (5, 64, 64, 3) and faces.dtype == np.float32
    assert faces.min() >= -1 and faces.max() <= 1 and faces.std() > 0.2
    np.testing.assert_array_equal(faces, rf.render_faces(ids, ages))
    assert rf.render_faces(ids, ages, size=32).shape == (5, 32, 32, 3)
    assert rf.render_faces(ids, 3).shape == (5, 64, 64, 3)  # one age for all
    # the face is in the middle: a pixel between the eyes is skin, shaded by its distance from the centre line
    centre = (faces[:, 36, 31] + 1) / 2
    np.testing.assert_allclose(centre, ids.skin * (1 - 0.22 * (np.abs(1 / 64) / ids.face_width[:, None]) ** 3),
                               atol=1e-5)
    assert np.abs(faces[:, 0, 0] - faces[0, 0, 0]).max() < 1e-6  # no nuisance: one background


def test_nuisance_is_small_reproducible_and_neither_identity_nor_age():
    ids = rf.random_identities(20, seed=1)
    ages = np.arange(20) % N_AGES
    clean = rf.render_faces(ids, ages)
    noisy = rf.render_faces(ids, ages, seed=7)
    np.testing.assert_array_equal(noisy, rf.render_faces(ids, ages, seed=7))
    assert not np.array_equal(noisy, rf.render_faces(ids, ages, seed=8))
    assert 0 < np.abs(noisy - clean).mean() < 0.1
    # a shift of at most 1.5 px: the best integer re-alignment of each face is within 2 px
    for k in range(5):
        errors = {(dy, dx): np.abs(np.roll(noisy[k], (dy, dx), (0, 1)) - clean[k])[4:-4, 4:-4].mean()
                  for dy in range(-2, 3) for dx in range(-2, 3)}
        assert min(errors.values()) < np.abs(noisy[k] - clean[k])[4:-4, 4:-4].mean() + 1e-6
        assert min(errors.values()) < 0.08


def test_an_age_changes_only_the_age_features_pixels():
    ids = rf.random_identities(16, seed=11)
    faces = _ages_of(ids)
    for k in range(len(ids)):
        for box in _feature_boxes(ids, k):
            assert box.sum() > 10
            region = faces[k][:, box]  # (6, pixels, 3)
            np.testing.assert_array_equal(region, np.broadcast_to(region[0], region.shape))
        for age in range(N_AGES - 1):  # every age looks different from the next
            assert np.abs(faces[k, age + 1] - faces[k, age]).mean() > 0.005
    # the jaw: the chin of a child ends above an adult's; the pixels below a child's chin are not skin
    u, v = _coords()
    chin_rows = (v[:, 0] > 0.55) & (v[:, 0] < 0.6)
    child, adult = faces[:, 0][:, chin_rows, 31:33], faces[:, 3][:, chin_rows, 31:33]
    skin = (ids.skin * 2 - 1)[:, None, None, :]
    assert np.abs(adult - skin).max(axis=-1).mean() < np.abs(child - skin).max(axis=-1).mean() - 0.1


def test_hair_turns_grey_with_age():
    ids = rf.random_identities(8, seed=2)
    red = dataclasses.replace(ids, hair_colour=np.tile(np.float32([[0.7, 0.2, 0.1]]), (8, 1)))
    blue = dataclasses.replace(ids, hair_colour=np.tile(np.float32([[0.1, 0.3, 0.8]]), (8, 1)))
    a, b = _ages_of(red), _ages_of(blue)
    change = np.float32([0.6, -0.1, -0.7]) * 2  # red - blue in [-1, 1]
    saturation = np.zeros((8, N_AGES))
    for k in range(8):
        for age in range(N_AGES):
            diff = a[k, age] - b[k, age]
            full = np.all(np.abs(diff - (1 - rf.AGE_FEATURES["grey hair"][age]) * change) < 1e-4, axis=-1)
            assert full.sum() > 30  # pixels painted with the hair colour alone
            colour = (a[k, age][full] + 1) / 2
            np.testing.assert_allclose(colour, np.broadcast_to(rf.hair_colour(red[k], age), colour.shape), atol=1e-3)
            saturation[k, age] = np.ptp(colour.mean(axis=0))
    assert (np.diff(saturation[:, 1:], axis=1) < 0).all()  # greyer with every age from 19-29 on
    np.testing.assert_allclose(saturation[:, 0], saturation[:, 1], rtol=1e-4)
    np.testing.assert_allclose(rf.hair_colour(red, np.full(8, 5)), 0.1 * red.hair_colour + 0.9 * rf._SILVER)


def test_an_identity_feature_changes_only_its_own_pixels():
    ids = rf.random_identities(6, seed=4)
    ages = np.arange(6)
    base = rf.render_faces(ids, ages)
    eyes = rf.render_faces(dataclasses.replace(ids, eye_colour=1 - ids.eye_colour), ages)
    changed = np.any(eyes != base, axis=-1)
    for k in range(6):
        box = _feature_boxes(ids, k)[0]
        assert changed[k].sum() > 4 and not changed[k][~box].any()
    wider = rf.render_faces(dataclasses.replace(ids, face_width=ids.face_width + 0.05), ages)
    assert (np.abs(wider - base).mean(axis=(1, 2, 3)) > 0.01).all()


def test_render_errors():
    ids = rf.random_identities(3)
    with pytest.raises(ValueError, match="integer age groups 0-5"):
        rf.render_faces(ids, [0, 1, 6])
    with pytest.raises(ValueError, match="integer age groups 0-5"):
        rf.render_faces(ids, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"one age group per identity \(3\), got shape \(2,\)"):
        rf.render_faces(ids, [0, 1])
    with pytest.raises(ValueError, match="size must be >= 16"):
        rf.render_faces(ids, 0, size=8)


def test_rendering_is_fast():
    ids = rf.random_identities(2000, seed=0)
    ages = np.arange(2000) % N_AGES
    start = time.process_time()
    rf.render_faces(ids, ages, seed=0)
    assert time.process_time() - start < 4.0  # about 1 s on one loaded core; generous for CI


# ---------------------------------------------------------------------------
# Offline sets and the registry
# ---------------------------------------------------------------------------
def test_offline_faces_are_fixed_disjoint_and_balanced():
    train, test = rf.offline_faces("train"), rf.offline_faces("test")
    assert train.images.shape == (240 * 6 * 2, 64, 64, 3) and test.images.shape == (60 * 6, 64, 64, 3)
    assert train.ages.dtype == test.ages.dtype == train.identity.dtype == np.int32
    assert set(train.identity) == set(range(240)) and set(test.identity) == set(range(240, 300))
    assert np.bincount(train.ages).tolist() == [480] * 6 and np.bincount(test.ages).tolist() == [60] * 6
    for faces in (train, test):  # every identity at every age
        assert len(set(zip(faces.identity, faces.ages))) == len(np.unique(faces.identity)) * 6
    assert rf.offline_faces("train") is train  # cached
    assert not train.images.flags.writeable
    # the two nuisance draws of one face differ a little; the test people are new
    assert 0 < np.abs(train.images[0] - train.images[1]).mean() < 0.2
    train_ids, _ = rf.split_identities("train")
    test_ids, numbers = rf.split_identities("test")
    assert numbers.tolist() == list(range(240, 300))
    assert not np.isin(test_ids.face_width, train_ids.face_width).any()
    assert rf.offline_faces("test", 32).images.shape == (360, 32, 32, 3)
    with pytest.raises(ValueError, match="unknown split 'val' for offline_faces; choose one of train, test"):
        rf.offline_faces("val")


def test_registry_entry_yields_images_and_one_hot_ages():
    spec = data.get("offline_faces")
    assert spec.kind == "ages" and spec.offline and not spec.streamed and spec.splits == ("train", "test")
    assert data.AGE_DATASETS[-1:] == ("offline_faces",) or "offline_faces" in data.AGE_DATASETS
    cfg = types.SimpleNamespace(dataset="offline_faces", image_size=64, batch_size=12, seed=3)
    images, ages = next(iter(data.load(cfg, "test", shuffle=False)))
    faces = rf.offline_faces("test")
    assert images.shape == (12, 64, 64, 3) and images.dtype == tf.float32
    assert ages.shape == (12, 6) and ages.dtype == tf.float32
    np.testing.assert_array_equal(images.numpy(), faces.images[:12])
    np.testing.assert_array_equal(ages.numpy(), one_hot(faces.ages[:12]))
    first = [a.numpy() for _, a in data.load(cfg, "train").take(2)]
    again = [a.numpy() for _, a in data.load(cfg, "train").take(2)]
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], one_hot(rf.offline_faces("train").ages[:12]))  # shuffled
    assert len(list(data.load(cfg, "test"))) == 360 // 12
    with pytest.raises(ValueError, match="reads no folder"):
        spec.load("train", cfg, "/tmp")
    with pytest.raises(ValueError, match="offline_faces is an age dataset"):
        data.arrays("offline_faces", image_size=64, channels=3)
