"""IMDB-WIKI wiki_crop: MATLAB dates, ages, the cleaning rules, the split, the stream (on a wiki.mat written here)."""

import datetime
import tarfile
import types
import zlib

import numpy as np
import pytest
import scipy.io
from PIL import Image

from gancourse import data
from gancourse.data import DatasetError, cache, wiki
from gancourse.data.ages import one_hot
from gancourse.data.wiki import INVALID_AGE, age_at, datenum_to_date

D2000 = 730486  # MATLAB's datenum(2000, 1, 1)
D1900 = 693962  # MATLAB's datenum(1900, 1, 1)


def _datenum(year, month, day):
    """MATLAB datenum of a date, counted from the anchors above (not from the code under test)."""
    return D1900 + (datetime.date(year, month, day) - datetime.date(1900, 1, 1)).days


def _cfg(image_size=16, batch_size=2, seed=0, **extra):
    return types.SimpleNamespace(dataset="wiki", image_size=image_size, batch_size=batch_size, seed=seed, **extra)


# ---------------------------------------------------------------------------
# Dates and ages
# ---------------------------------------------------------------------------
def test_datenum_to_date_anchors_leap_years_and_invalid_values():
    assert datenum_to_date(D2000) == datetime.date(2000, 1, 1)
    assert datenum_to_date(D1900) == datetime.date(1900, 1, 1)
    assert datenum_to_date(367) == datetime.date(1, 1, 1)
    assert datenum_to_date(D2000 + 0.99) == datetime.date(2000, 1, 1)  # the fraction of a day is ignored
    assert datenum_to_date(D2000 + 31 + 28) == datetime.date(2000, 2, 29)  # 2000 is a leap year
    assert datenum_to_date(D1900 + 31 + 28) == datetime.date(1900, 3, 1)  # 1900 is not
    assert datenum_to_date(D1900 - 365 * 50 - 12) == datetime.date(1850, 1, 1)  # 12 leap years in 1850-1899
    assert datenum_to_date(D1900 - 1) == datetime.date(1899, 12, 31)
    for bad in (366, 366.9, 1, 0, -5, float("nan"), float("inf"), -float("inf"), 1e12):
        assert datenum_to_date(bad) is None, bad


def test_vectorised_dates_agree_with_the_scalar_conversion():
    rng = np.random.default_rng(0)
    dob = np.concatenate([rng.uniform(-10, 800_000, 2000), [366, 367, np.nan, D2000 + 59.5]])
    year, month, valid = wiki._birth_year_month(dob)
    for value, y, m, ok in zip(dob, year, month, valid):
        date = datenum_to_date(value)
        assert ok == (date is not None)
        if ok:
            assert (y, m) == (date.year, date.month)


def test_age_at_uses_the_mid_year_rule_and_marks_bad_dates():
    assert int(age_at(2009, _datenum(1981, 6, 30))) == 28
    assert int(age_at(2009, _datenum(1981, 7, 1))) == 27
    assert int(age_at(2009, _datenum(1981, 1, 1))) == 28
    assert int(age_at(2009, _datenum(1981, 12, 31))) == 27
    assert int(age_at(1990, _datenum(1880, 3, 1))) == 110
    ages = age_at(np.array([2009, 2009, 2000, 2000]), np.array([_datenum(1981, 5, 5), np.nan, 100.0,
                                                               _datenum(2001, 1, 1)]))
    assert ages.dtype == np.int32
    assert ages.tolist() == [28, INVALID_AGE, INVALID_AGE, -1]  # born after the photo: -1, kept for the filter
    assert age_at(2010, np.array([_datenum(1990, 2, 1), _datenum(1990, 8, 1)])).tolist() == [20, 19]  # broadcast


# ---------------------------------------------------------------------------
# The fixture: wiki.mat in the real nested layout, and the images
# ---------------------------------------------------------------------------
def _noise(seed, size=(24, 20), mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def _names(n):
    """``n`` file names, the first two of which fall in the test split."""
    test, train = [], []
    i = 0
    while len(test) < 2 or len(train) < n - 2:
        name = f"{i % 100:02d}/{10000000 + i}_1981-05-05_2009.{'png' if i % 3 else 'jpg'}"
        (test if zlib.crc32(name.encode()) % wiki.TEST_EVERY == 0 else train).append(name)
        i += 1
    return test[:2] + train[:n - 2]


#: (dob, photo_taken, face_score, second_face_score, why) of each fixture row.
ROWS = [
    (_datenum(1981, 5, 5), 2009, 3.1, np.nan, None),  # 28: group 1 (test split)
    (_datenum(1950, 8, 1), 2012, 2.0, np.nan, None),  # 61: group 5 (test split)
    (_datenum(1990, 1, 1), 2000, 0.5, np.nan, None),  # 10: group 0, a low face score
    (_datenum(1990, 1, 1), 2009, 4.0, np.nan, None),  # 19: group 1
    (_datenum(1960, 1, 1), 2000, 1.5, np.nan, None),  # 40: group 3
    (_datenum(1980, 1, 1), 2009, 2.5, np.nan, None),  # 29: group 1
    (_datenum(1980, 1, 1), 2009, -np.inf, np.nan, "no_face"),
    (np.nan, 2009, -np.inf, 1.0, "no_face"),  # breaks three rules, counted once
    (_datenum(1980, 1, 1), 2009, 3.0, 1.2, "second_face"),
    (np.nan, 2009, 3.0, np.nan, "bad_dob"),
    (200.0, 2009, 3.0, np.nan, "bad_dob"),
    (_datenum(2010, 1, 1), 2009, 3.0, np.nan, "age<=0"),
    (_datenum(2009, 8, 1), 2009, 3.0, np.nan, "age<=0"),  # age 0
    (_datenum(1880, 1, 1), 2009, 3.0, np.nan, "age>100"),
]
KEPT_AGES = [28, 61, 10, 19, 40, 29]


def _write_wiki(folder, rows=ROWS, greyscale=(1,), sizes=None):
    """``folder/wiki_crop`` with ``wiki.mat`` and one image per row; returns ``(root, names)``."""
    root = folder / "wiki_crop"
    names = _names(len(rows))
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = _noise(i, (sizes or {}).get(i, (24 + i, 20)), "L" if i in greyscale else "RGB")
        image.save(path, quality=95) if path.suffix == ".jpg" else image.save(path)
    (root / "00").mkdir(exist_ok=True)
    n = len(rows)
    full_path = np.empty((1, n), dtype=object)
    for i, name in enumerate(names):
        full_path[0, i] = np.array([name])
    struct = {"dob": np.array([[r[0] for r in rows]], dtype=np.float64),
              "photo_taken": np.array([[r[1] for r in rows]], dtype=np.uint16),
              "full_path": full_path,
              "gender": np.ones((1, n)),
              "name": full_path.copy(),
              "face_location": np.empty((1, n), dtype=object),
              "face_score": np.array([[r[2] for r in rows]], dtype=np.float64),
              "second_face_score": np.array([[r[3] for r in rows]], dtype=np.float64)}
    for i in range(n):
        struct["face_location"][0, i] = np.array([[1.0, 1.0, 20.0, 20.0]])
    scipy.io.savemat(root / "wiki.mat", {"wiki": struct})
    return root, names


def test_the_fixture_has_the_real_layout(tmp_path):
    root, names = _write_wiki(tmp_path)
    struct = scipy.io.loadmat(root / "wiki.mat")["wiki"][0, 0]
    assert struct["dob"].shape == struct["face_score"].shape == (1, len(ROWS))
    assert struct["full_path"][0][0][0] == names[0] and struct["full_path"][0][0].shape == (1,)


# ---------------------------------------------------------------------------
# The index: every rule counted
# ---------------------------------------------------------------------------
def test_read_index_applies_and_counts_every_rule(tmp_path):
    root, names = _write_wiki(tmp_path)
    index = wiki.read_index(root / "wiki.mat")
    assert index.total == len(ROWS)
    assert index.dropped == {"no_face": 2, "second_face": 1, "bad_dob": 2, "age<=0": 2, "age>100": 1,
                             "low_face_score": 0}
    assert len(index) + sum(index.dropped.values()) == index.total
    assert index.ages.tolist() == KEPT_AGES
    assert index.categories.tolist() == [1, 5, 0, 1, 3, 1]
    assert index.full_paths == tuple(names[:6])
    assert index.paths == tuple(root / name for name in names[:6])
    assert np.isnan(index.second_face_score).all() and np.isfinite(index.face_score).all()

    strict = wiki.read_index(root / "wiki.mat", root, min_face_score=1.0)
    assert strict.dropped["low_face_score"] == 1 and strict.ages.tolist() == [28, 61, 19, 40, 29]
    assert {k: v for k, v in strict.dropped.items() if k != "low_face_score"} == {
        k: v for k, v in index.dropped.items() if k != "low_face_score"}


def test_read_index_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"wiki\.mat does not exist; get https://data\.vision.*0\.8 GB"):
        wiki.read_index(tmp_path / "wiki.mat")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 10)
    with pytest.raises(DatasetError, match="broken.mat is not a readable .mat file"):
        wiki.read_index(tmp_path / "broken.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"imdb": np.zeros((1, 2))})
    with pytest.raises(DatasetError, match="has no 'wiki' variable \\(variables: imdb\\)"):
        wiki.read_index(tmp_path / "other.mat")
    scipy.io.savemat(tmp_path / "partial.mat", {"wiki": {"dob": np.zeros((1, 2))}})
    with pytest.raises(DatasetError, match="has no field 'photo_taken' in its 'wiki' struct \\(fields: dob\\)"):
        wiki.read_index(tmp_path / "partial.mat")
    fields = {name: np.zeros((1, 3)) for name in wiki.FIELDS}
    fields["face_score"] = np.zeros((1, 2))
    scipy.io.savemat(tmp_path / "ragged.mat", {"wiki": fields})
    with pytest.raises(DatasetError, match="fields have different lengths"):
        wiki.read_index(tmp_path / "ragged.mat")


def test_the_split_rule_is_a_fixed_hash_of_the_path(tmp_path):
    root, names = _write_wiki(tmp_path)
    index = wiki.read_index(root / "wiki.mat")
    train, test = index.split("train"), index.split("test")
    assert test.full_paths == tuple(names[:2]) and train.full_paths == tuple(names[2:6])
    assert test.ages.tolist() == [28, 61] and train.categories.tolist() == [0, 1, 3, 1]
    many = [f"{i % 100:02d}/{i}_x.jpg" for i in range(4000)]
    in_test = [wiki.split_of(p, "test") for p in many]
    assert all(wiki.split_of(p, "train") != t for p, t in zip(many, in_test))
    assert 0.035 < np.mean(in_test) < 0.065  # about 1 in 20
    assert in_test == [zlib.crc32(p.encode()) % 20 == 0 for p in many]  # documented rule, independent of the rest
    with pytest.raises(ValueError, match="unknown split 'val' for wiki; choose one of train, test"):
        wiki.split_of(many[0], "val")


# ---------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------
def _stack(ds):
    images, ages = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
    return np.concatenate(images), np.concatenate(ages)


def test_the_registry_entry_streams_images_and_six_wide_one_hot_ages(tmp_path):
    root, names = _write_wiki(tmp_path)
    assert data.AGE_DATASETS[:1] == ("wiki",) and "AGE_DATASETS" in data.__all__
    spec = data.get("wiki")
    assert spec.kind == "ages" and spec.streamed and not spec.offline and spec.splits == ("train", "test")
    images, ages = _stack(data.load(_cfg(batch_size=2), "train", data_dir=tmp_path, shuffle=False))
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.float32
    assert -1.0 <= images.min() and images.max() <= 1.0
    assert ages.dtype == np.float32 and ages.shape == (4, 6)
    np.testing.assert_array_equal(ages, one_hot([0, 1, 3, 1]))  # groups 2, 4 and 5 absent: still 6 wide
    test_images, test_ages = _stack(data.load(_cfg(batch_size=2), "test", data_dir=root, shuffle=False))
    np.testing.assert_array_equal(test_ages, one_hot([1, 5]))
    grey = test_images[1]  # names[1] was written as a greyscale image
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    assert not np.array_equal(test_images[0][..., 0], test_images[0][..., 1])


def test_the_resize_is_bilinear_not_nearest(tmp_path):
    rows = ROWS[:6]
    root, names = _write_wiki(tmp_path, rows, greyscale=(), sizes={i: (32, 32) for i in range(6)})
    images, _ = _stack(wiki.wiki_dataset("train", _cfg(image_size=16, batch_size=4), tmp_path, shuffle=False))
    for image, name in zip(images, names[2:6]):
        source = Image.open(root / name).convert("RGB")
        pixels = (image + 1.0) * 127.5
        bilinear = np.asarray(source.resize((16, 16), Image.BILINEAR), np.float32)
        nearest = np.asarray(source.resize((16, 16), Image.NEAREST), np.float32)
        assert np.abs(pixels - bilinear).max() <= 1.01  # within one level of Pillow's bilinear
        assert np.abs(pixels - nearest).mean() > 20  # noise: nearest-neighbour keeps single pixels
    arrays, ages = wiki.wiki_arrays("train", image_size=16, n=3, data_dir=tmp_path)
    np.testing.assert_array_equal(arrays, images[:3])
    np.testing.assert_array_equal(ages, one_hot([0, 1, 3]))
    none, no_ages = wiki.wiki_arrays("train", image_size=16, n=0, data_dir=tmp_path)
    assert none.shape == (0, 16, 16, 3) and no_ages.shape == (0, 6)


def test_shuffling_is_per_epoch_and_seeded(tmp_path):
    rows = [(_datenum(1980 - i, 1, 1), 2009, 3.0, np.nan, None) for i in range(40)]
    _write_wiki(tmp_path, rows, greyscale=())
    ds = wiki.wiki_dataset("train", _cfg(batch_size=4, seed=5), tmp_path)
    first, second = _stack(ds)[0], _stack(ds)[0]
    assert len(first) == 4 * (38 // 4)
    assert not np.array_equal(first, second)  # a new order every epoch
    unshuffled = _stack(wiki.wiki_dataset("train", _cfg(batch_size=4, seed=5), tmp_path, shuffle=False))[0]
    assert not np.array_equal(first, unshuffled)
    again = _stack(wiki.wiki_dataset("train", _cfg(batch_size=4, seed=5), tmp_path))[0]
    np.testing.assert_array_equal(first, again)  # same seed, same first epoch
    other = _stack(wiki.wiki_dataset("train", _cfg(batch_size=4, seed=6), tmp_path))[0]
    assert not np.array_equal(first, other)


def test_missing_and_broken_files_are_named_before_streaming(tmp_path):
    root, names = _write_wiki(tmp_path)
    (root / names[3]).unlink()
    (root / names[5]).unlink()
    with pytest.raises(DatasetError, match=rf"{names[3]} is listed in wiki.mat but does not exist \(2 of 4 listed"):
        data.load(_cfg(), "train", data_dir=tmp_path)
    root, names = _write_wiki(tmp_path / "again")
    jpg = next(root / n for n in names[2:6] if n.endswith(".jpg"))
    jpg.write_bytes(jpg.read_bytes()[:-200])
    with pytest.raises(DatasetError, match=rf"cannot read {jpg}: it is not a readable image .*truncated"):
        wiki.wiki_dataset("train", _cfg(), root)
    with pytest.raises(ValueError, match="only 4 wiki images for batch_size=5"):
        wiki.age_batches(wiki.read_index(root / "wiki.mat").split("train"), image_size=8, batch_size=5)
    with pytest.raises(ValueError, match="wiki is an age dataset"):
        data.arrays("wiki", image_size=16, channels=3)


def test_missing_data_says_how_to_get_it_and_downloads_go_through_the_cache(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match=r"no wiki_crop dataset under .*https://data\.vision\.ee\.ethz\.ch/.*"
                                           r"wiki_crop\.tar \(about 0\.8 GB, 62,328 faces; IMDB-WIKI .*academic"):
        data.load(_cfg(), "train", data_dir=tmp_path / "empty")

    def offline(url, **kwargs):
        raise DatasetError(f"could not download {url}")

    monkeypatch.setattr(cache, "fetch", offline)
    with pytest.raises(DatasetError, match=r"could not download .*wiki_crop\.tar \(get .*0\.8 GB.*research"):
        data.load(_cfg(), "train")

    source, _ = _write_wiki(tmp_path / "src")
    archive = tmp_path / "wiki_crop.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="wiki_crop")
    calls = []

    def fetched(url, **kwargs):
        calls.append((url, kwargs))
        return archive

    monkeypatch.setattr(cache, "fetch", fetched)
    images, ages = _stack(data.load(_cfg(), "train", shuffle=False))
    assert images.shape == (4, 16, 16, 3) and calls[0][0] == wiki.WIKI_URL and calls[0][1]["subdir"] == "imdb_wiki"
    assert (tmp_path / "extracted" / "wiki_crop" / "wiki.mat").is_file()  # extracted next to the archive
    assert "academic research" in wiki.LICENCE
