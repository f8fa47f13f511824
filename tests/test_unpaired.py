"""Unpaired data: the unaligned loader, the CycleGAN datasets on a fixture zip, the painting and the offline data."""

import types
import zipfile

import numpy as np
import pytest
from PIL import Image

from gancourse import data
from gancourse.data import cache, unpaired
from gancourse.data.cache import DatasetError


def _cfg(dataset, image_size=16, batch_size=2, seed=3, channels=3, **extra):
    return types.SimpleNamespace(dataset=dataset, image_size=image_size, channels=channels, batch_size=batch_size,
                                 seed=seed, **extra)


def _labelled(n, size=8, offset=0):
    """Images whose constant value says their index (flips leave them unchanged)."""
    values = (np.arange(n, dtype=np.float32) + offset) / 100.0
    return np.broadcast_to(values[:, None, None, None], (n, size, size, 3)).copy()


def _index(batch, offset=0):
    return np.rint(np.asarray(batch)[:, 0, 0, 0] * 100.0 - offset).astype(int)


def _epoch(ds):
    """The indices of A and B drawn in one epoch (labelled images), in order."""
    a, b = [], []
    for batch_a, batch_b in ds:
        a.extend(_index(batch_a))
        b.extend(_index(batch_b, 50))
    return np.array(a), np.array(b)


# ---------------------------------------------------------------------------
# The unaligned loader on arrays
# ---------------------------------------------------------------------------
def test_epoch_has_max_size_batches_and_draws_every_image_of_the_longer_domain():
    a, b = _labelled(6), _labelled(12, offset=50)
    ds = unpaired.unaligned_dataset(a, b, 3, seed=1)
    for _ in range(3):
        drawn_a, drawn_b = _epoch(ds)
        assert len(drawn_b) == 12 and len(drawn_a) == 12  # 12 // 3 = 4 batches of 3
        assert sorted(drawn_b) == list(range(12))  # the book's index-aligned loader only ever drew 6 of them
        assert np.bincount(drawn_a, minlength=6).tolist() == [2] * 6  # the shorter domain: two reshuffled passes
    drawn_a, drawn_b = _epoch(unpaired.unaligned_dataset(b, a, 3, seed=1))  # the other way round
    assert sorted(drawn_a) == list(range(50, 62))
    assert np.bincount(drawn_b + 50, minlength=6).tolist() == [2] * 6


def test_domains_are_shuffled_independently_and_anew_every_epoch():
    a, b = _labelled(8), _labelled(8, offset=50)
    ds = unpaired.unaligned_dataset(a, b, 2, seed=0, flip=False)
    epochs = [_epoch(ds) for _ in range(3)]
    for drawn_a, drawn_b in epochs:
        assert sorted(drawn_a) == sorted(drawn_b) == list(range(8))
        assert not np.array_equal(drawn_a, drawn_b)  # not the book's A[i] with B[i]
    pairings = {tuple(zip(drawn_a, drawn_b)) for drawn_a, drawn_b in epochs}
    assert len(pairings) == 3  # a new pairing every epoch
    again = _epoch(unpaired.unaligned_dataset(a, b, 2, seed=0, flip=False))
    np.testing.assert_array_equal(again[0], epochs[0][0])  # reproducible with the seed
    np.testing.assert_array_equal(again[1], epochs[0][1])
    fixed = _epoch(unpaired.unaligned_dataset(a, b, 2, shuffle=False, flip=False))
    np.testing.assert_array_equal(fixed[0], np.arange(8))


def test_flips_are_drawn_per_image_at_every_draw():
    ramp = np.linspace(-1, 1, 8, dtype=np.float32)
    a = np.broadcast_to(ramp[None, None, :, None], (4, 8, 8, 3)).copy()  # increasing left to right
    ds = unpaired.unaligned_dataset(a, a.copy(), 2, seed=5)
    flipped = []
    for _ in range(12):
        for batch_a, batch_b in ds:
            for batch in (batch_a, batch_b):
                rows = np.asarray(batch)[:, 0, :, 0]
                assert all(np.array_equal(r, ramp) or np.array_equal(r, ramp[::-1]) for r in rows)
                flipped.extend(rows[:, 0] > 0)
    assert 0.35 < np.mean(flipped) < 0.65  # 96 draws, about half flipped, so not frozen at load time
    plain = unpaired.unaligned_dataset(a, a.copy(), 2, seed=5, flip=False)
    assert all(np.all(np.asarray(x)[:, 0, 0, 0] < 0) for batch in plain for x in batch)


def test_jitter_crops_anew_and_resizes_arrays():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    ds = unpaired.unaligned_dataset(a, a.copy(), 4, seed=2, jitter=True, flip=False, shuffle=False)
    first, second = (next(iter(ds))[0] for _ in range(2))
    assert first.shape == (4, 16, 16, 3)
    assert not np.allclose(first, second)  # a new crop of the 18-pixel resize every epoch
    small = unpaired.unaligned_dataset(a, a.copy(), 2, image_size=8, flip=False)
    assert next(iter(small))[1].shape == (2, 8, 8, 3)


def test_book_loader_uses_only_the_first_A_images_of_B_with_frozen_pair_flips():
    ramp = np.linspace(-1, 1, 8, dtype=np.float32)[None, None, :, None]
    a = np.broadcast_to(ramp, (6, 8, 8, 3)) + _labelled(6)
    b = np.broadcast_to(ramp, (12, 8, 8, 3)) + _labelled(12, offset=50)
    book_a, book_b = unpaired.book_aligned(a, b, seed=1)
    assert book_a.shape == book_b.shape == (6, 8, 8, 3)
    flipped_a, flipped_b = book_a[:, 0, 0, 0] > book_a[:, 0, -1, 0], book_b[:, 0, 0, 0] > book_b[:, 0, -1, 0]
    np.testing.assert_array_equal(flipped_a, flipped_b)  # both images of a pair flipped together
    assert 0 < flipped_a.sum() < 6
    np.testing.assert_allclose(np.where(flipped_b[:, None, None, None], book_b[:, :, ::-1], book_b), b[:6])
    again = unpaired.book_aligned(a, b, seed=1)
    np.testing.assert_array_equal(again[1], book_b)  # frozen: every epoch sees the same flips
    with pytest.raises(ValueError, match="B needs at least"):
        unpaired.book_aligned(b, a)


def test_loader_refuses_bad_input():
    with pytest.raises(ValueError, match="only 3 images for batch_size=4"):
        unpaired.unaligned_dataset(_labelled(2), _labelled(3), 4)
    with pytest.raises(ValueError, match="domain B must be a non-empty"):
        unpaired.unaligned_dataset(_labelled(4), np.zeros((0, 8, 8, 3), np.float32), 2)
    with pytest.raises(ValueError, match="image_size is needed"):
        unpaired.unaligned_dataset(["x.jpg"] * 2, ["y.jpg"] * 2, 2)


# ---------------------------------------------------------------------------
# The CycleGAN datasets on a fixture zip with the real layout
# ---------------------------------------------------------------------------
COLOURS = 10  # distinct grey levels, 24 apart: each file is recognisable after JPEG compression


def _fixture_zip(path, name="tinyset", counts=(("trainA", 3), ("trainB", 8), ("testA", 2), ("testB", 2))):
    """``path`` (a zip) holding ``<name>/<folder>/<i>.jpg`` flat grey 20x20 JPEGs; file ``i`` of a
    folder has grey level ``24 * i + 12`` (A) or ``24 * (9 - i) + 12`` (B)."""
    with zipfile.ZipFile(path, "w") as zf:
        for folder, n in counts:
            for i in range(n):
                level = 24 * (i if folder.endswith("A") else COLOURS - 1 - i) + 12
                image = Image.fromarray(np.full((20, 20, 3), level, np.uint8))
                with zf.open(f"{name}/{folder}/{i:04d}.jpg", "w") as handle:
                    image.save(handle, format="JPEG", quality=95)
    return path


def _levels(batch):
    return np.rint((np.asarray(batch)[:, 0, 0, 0] * 127.5 + 127.5 - 12) / 24).astype(int)


def test_fixture_zip_is_extracted_and_streamed_unaligned(tmp_path, monkeypatch):
    archive = _fixture_zip(tmp_path / "tinyset.zip")
    monkeypatch.setattr(cache, "fetch", lambda url, **kw: archive)  # no network: the "download" is the fixture
    root = unpaired.cyclegan_root("tinyset")
    assert root == tmp_path / "extracted" / "tinyset" and (root / "testB" / "0001.jpg").is_file()
    cfg = _cfg("tinyset", image_size=16, batch_size=2)
    ds = unpaired.unpaired_dataset("tinyset", "train", cfg, data_dir=tmp_path / "extracted")
    for _ in range(2):
        batches = list(ds)
        assert len(batches) == 4 and all(a.shape == b.shape == (2, 16, 16, 3) for a, b in batches)
        drawn_b = np.concatenate([_levels(b) for _, b in batches])
        drawn_a = np.concatenate([_levels(a) for a, _ in batches])
        assert sorted(drawn_b) == sorted(COLOURS - 1 - i for i in range(8))  # all 8 B files, each once
        assert set(drawn_a) == {0, 1, 2}
    uncached = unpaired.unpaired_dataset("tinyset", "train", cfg, data_dir=tmp_path / "extracted", cache_budget=0)
    for (a1, b1), (a2, b2) in zip(list(unpaired.unpaired_dataset("tinyset", "train", cfg,
                                                                  data_dir=tmp_path / "extracted")), list(uncached)):
        np.testing.assert_array_equal(a1, a2)  # streamed without the cache: the same batches
        np.testing.assert_array_equal(b1, b2)
    jittered = unpaired.unpaired_dataset("tinyset", "train", _cfg("tinyset", 16, jitter=True), data_dir=root)
    assert next(iter(jittered))[0].shape == (2, 16, 16, 3)
    a, b = unpaired.load_unpaired("tinyset", "test", image_size=8, data_dir=root)
    assert a.shape == b.shape == (2, 8, 8, 3) and a.dtype == np.float32


def test_folder_sizes_are_asserted(tmp_path, monkeypatch):
    archive = _fixture_zip(tmp_path / "monet2photo.zip", name="monet2photo")
    cache.safe_extract(archive, tmp_path / "data")
    with pytest.raises(DatasetError, match=r"trainA holds 3 images, monet2photo's trainA has 1072; the download is "
                                           r"incomplete or modified: delete"):
        data.load(_cfg("monet2photo"), "train", data_dir=tmp_path / "data")
    monkeypatch.setitem(unpaired.FOLDER_SIZES, "tinyset", {"trainA": 3, "trainB": 7})
    cache.safe_extract(_fixture_zip(tmp_path / "tiny.zip"), tmp_path / "data")
    with pytest.raises(DatasetError, match="trainB holds 8 images, tinyset's trainB has 7") as info:
        unpaired.domain_files(tmp_path / "data" / "tinyset", "train")
    assert "\n" not in str(info.value)


def test_missing_or_corrupt_datasets_give_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="no horse2zebra dataset under .*: expected .*horse2zebra/trainA") as info:
        data.load(_cfg("horse2zebra"), "train", data_dir=tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / "tinyset" / "trainA").mkdir(parents=True)
    with pytest.raises(DatasetError, match="CycleGAN folder .*trainA holds no images"):
        unpaired.domain_files(tmp_path / "tinyset", "train")
    corrupt = tmp_path / "broken.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setattr(cache, "fetch", lambda url, **kw: corrupt)
    with pytest.raises(DatasetError, match="neither a tar nor a zip archive|corrupt") as info:
        unpaired.cyclegan_root("apple2orange")
    assert "\n" not in str(info.value)
    cache.safe_extract(_fixture_zip(tmp_path / "t.zip"), tmp_path / "ok")
    (tmp_path / "ok" / "tinyset" / "trainB" / "0003.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DatasetError, match="0003.jpg: it is not a readable image"):
        unpaired.domain_files(tmp_path / "ok" / "tinyset", "train")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        unpaired.domain_files(tmp_path / "ok" / "tinyset", "val")


def test_registry_has_the_unpaired_datasets():
    assert data.UNPAIRED_DATASETS == unpaired.CYCLEGAN_DATASETS + ("offline_unpaired",)
    assert data.get("offline_unpaired").offline and not data.get("monet2photo").offline
    assert all(data.get(name).reads_folder for name in unpaired.CYCLEGAN_DATASETS)
    with pytest.raises(ValueError, match="the offline_unpaired dataset reads no folder"):
        data.load(_cfg("offline_unpaired"), data_dir="somewhere")
    with pytest.raises(ValueError, match="monet2photo is an unpaired dataset"):
        data.arrays("monet2photo", image_size=32, channels=3)
    a, b = next(iter(data.load(_cfg("offline_unpaired", image_size=32, batch_size=5))))
    assert a.shape == b.shape == (5, 32, 32, 3)
    assert len(list(data.load(_cfg("offline_unpaired", image_size=32, batch_size=8), "test"))) == 100 // 8


# ---------------------------------------------------------------------------
# The painting and the offline data
# ---------------------------------------------------------------------------
def test_paint_is_deterministic_in_range_and_not_the_identity():
    photos = unpaired.offline_unpaired("test", 32, n=12)[0]
    painted = unpaired.paint(photos)
    assert painted.shape == photos.shape and painted.dtype == np.float32
    assert painted.min() >= -1.0 and painted.max() <= 1.0
    np.testing.assert_array_equal(painted, unpaired.paint(photos.copy()))
    assert np.abs(painted - photos).mean() > 0.1
    greys = np.linspace(-1, 1, 201, dtype=np.float32)
    flat = unpaired.paint(np.broadcast_to(greys[:, None, None, None], (201, 4, 4, 3)).copy())[:, 2, 2]
    steps = np.abs(np.diff(flat, axis=0)) < 1e-6
    assert steps.mean() > 0.5  # posterised: flat bands over more than half of the grey range
    assert np.all(np.diff(flat, axis=0) >= -1e-6)  # and monotonic: brighter stays brighter
    with pytest.raises(ValueError, match=r"paint takes RGB images \(N, H, W, 3\)"):
        unpaired.paint(photos[..., :1])


def test_paint_is_local():
    big = unpaired.offline_unpaired("train", 64, n=2, seed=4)[0]
    r = unpaired.PAINT_RADIUS
    crop = big[:, 10:50, 7:45]
    whole, part = unpaired.paint(big)[:, 10:50, 7:45], unpaired.paint(crop)
    np.testing.assert_allclose(part[:, r:-r, r:-r], whole[:, r:-r, r:-r], atol=1e-6)
    assert not np.allclose(part[:, 0], whole[:, 0], atol=1e-3)  # the border does differ (reflected context)


def test_offline_unpaired_shapes_and_determinism():
    a, b = unpaired.offline_unpaired("train", 24, n=30, seed=1)
    assert a.shape == b.shape == (30, 24, 24, 3) and a.dtype == b.dtype == np.float32
    assert -1.0 <= min(a.min(), b.min()) and max(a.max(), b.max()) <= 1.0
    again = unpaired.offline_unpaired("train", 24, n=30, seed=1)
    np.testing.assert_array_equal(a, again[0])
    np.testing.assert_array_equal(b, again[1])
    assert not np.array_equal(a, unpaired.offline_unpaired("train", 24, n=30, seed=2)[0])
    assert unpaired.offline_unpaired("train", 32)[0].shape == (unpaired.OFFLINE_N["train"], 32, 32, 3)


def _overlap(p, q):
    (_, t1, l1, s1), (_, t2, l2, s2) = p, q
    return t1 < t2 + s2 and t2 < t1 + s1 and l1 < l2 + s2 and l2 < l1 + s1


def test_training_never_sees_a_pair_and_test_photos_are_held_out():
    train = unpaired.offline_crops("train", n=200, seed=0)
    for box_a in train["a"]:
        assert not any(box_a[0] == box_b[0] and _overlap(box_a, box_b) for box_b in train["b"])
    assert {box[0] for box in train["a"]} == {box[0] for box in train["b"]} == set(unpaired.OFFLINE_TRAIN)
    test = unpaired.offline_crops("test", n=20)
    assert {box[0] for box in test["a"] + test["b"]} == set(unpaired.OFFLINE_TEST)
    assert not set(unpaired.OFFLINE_TEST) & set(unpaired.OFFLINE_TRAIN)
    with pytest.raises(ValueError, match="'train' and 'test' splits, got 'val'"):
        unpaired.offline_unpaired("val")
    with pytest.raises(ValueError, match="n must be at least 1"):
        unpaired.offline_crops("train", n=0)


def test_test_split_keeps_the_truth_and_paired_data_reveals_it():
    a, a_true_b, b, b_true_a = unpaired.offline_unpaired("test", 32, n=10)
    assert a.shape == a_true_b.shape == b.shape == b_true_a.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(a_true_b, unpaired.paint(a))
    np.testing.assert_array_equal(b, unpaired.paint(b_true_a))
    train_a, train_b = unpaired.offline_unpaired("train", 32, n=10)
    inputs, targets = unpaired.offline_paired("train", 32, n=10)
    np.testing.assert_array_equal(inputs, train_a)
    np.testing.assert_array_equal(targets, unpaired.paint(train_a))
    paintings, photos = unpaired.offline_paired("train", 32, n=10, direction="b2a")
    np.testing.assert_array_equal(paintings, train_b)
    np.testing.assert_array_equal(unpaired.paint(photos), train_b)
    test_inputs, test_targets = unpaired.offline_paired("test", 32, n=10)
    np.testing.assert_array_equal(test_inputs, a)
    np.testing.assert_array_equal(test_targets, a_true_b)
    with pytest.raises(ValueError, match="direction must be 'a2b' or 'b2a'"):
        unpaired.offline_paired(direction="ab")
