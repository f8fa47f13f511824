"""Super-resolution data: the degradation, offline crops, CelebA / image-folder / Set5 loaders on fixtures with
the real layouts (made here in tmp_path), and the errors."""

import types
import zipfile
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gancourse import data
from gancourse.data import superres as sr
from gancourse.data.cache import DatasetError

CELEBA_NUMBERS = {"train": (1, 2, 162770), "val": (162771, 182637), "test": (182638, 202599)}


def _cfg(dataset, image_size=32, batch_size=2, seed=3, **extra):
    return types.SimpleNamespace(dataset=dataset, image_size=image_size, batch_size=batch_size, seed=seed, **extra)


def _smooth(rng, height, width):
    """A smooth random RGB image (JPEG keeps it close to the original)."""
    noise = rng.uniform(0, 255, (height // 8 + 2, width // 8 + 2, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(noise).resize((width, height), Image.BILINEAR))


def _stack(ds):
    batches = list(ds)
    return tuple(np.concatenate([np.asarray(b[k]) for b in batches]) for k in range(2))


def _read(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _unit(pixels):
    return (np.asarray(pixels, np.float32) - 127.5) / 127.5


def _bicubic(pixels, size):
    """The reference HR image: bicubic, antialiased resize of uint8 pixels, rounded to whole levels."""
    resized = tf.image.resize(np.asarray(pixels, np.float32), (size, size), method="bicubic", antialias=True)
    return _unit(np.clip(np.round(resized.numpy()), 0, 255))


def _is_window(patch, image):
    """Whether ``patch`` (or its mirror image) is a window of ``image`` at native resolution."""
    size = patch.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size, 3))[..., 0, :, :, :]
    return any(np.all(windows == p, axis=(-3, -2, -1)).any() for p in (patch, patch[:, ::-1]))


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    """``root/img_align_celeba/<number>.jpg``: 218x178 JPEGs with CelebA's numbers around the split borders."""
    root = tmp_path_factory.mktemp("celeba")
    folder = root / "img_align_celeba"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for numbers in CELEBA_NUMBERS.values():
        for number in numbers:
            Image.fromarray(_smooth(rng, 218, 178)).save(folder / f"{number:06d}.jpg", quality=90)
    return root


def _zip_of(folder, archive, inner="img_align_celeba"):
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{inner}/{path.name}")
    return archive


def _photo_folder(folder, sizes=((80, 64), (64, 64), (96, 120), (70, 90), (64, 100), (128, 72), (90, 90),
                                 (75, 80), (100, 64), (66, 66), (88, 77), (64, 96)), seed=1):
    """``n`` photos of several sizes (width, height), PNG and JPEG."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i, (width, height) in enumerate(sizes):
        pixels = _smooth(rng, height, width)
        if i % 2:
            Image.fromarray(pixels).save(folder / f"photo{i:02d}.jpg", quality=92)
        else:
            Image.fromarray(pixels).save(folder / f"photo{i:02d}.png")
    return folder


# ---------------------------------------------------------------------------
# The degradation, the CelebA square
# ---------------------------------------------------------------------------
def test_degrade_shapes_types_and_range():
    rng = np.random.default_rng(0)
    hr = rng.uniform(-1, 1, (3, 32, 48, 3)).astype(np.float32)
    lr = sr.degrade(hr)
    assert isinstance(lr, np.ndarray) and lr.shape == (3, 8, 12, 3) and lr.dtype == np.float32
    assert lr.min() >= -1.0 and lr.max() <= 1.0
    tensor = sr.degrade(tf.constant(hr))
    assert tf.is_tensor(tensor) and tensor.shape == (3, 8, 12, 3)
    np.testing.assert_array_equal(tensor.numpy(), lr)
    np.testing.assert_array_equal(sr.degrade(hr[1]), lr[1])  # one (H, W, 3) image
    assert sr.degrade(hr, 2).shape == (3, 16, 24, 3)
    np.testing.assert_array_equal(sr.degrade(np.full((1, 16, 16, 3), -1.0, np.float32)), -1.0)  # clipped
    checker = np.where((np.indices((16, 16)).sum(0) % 2)[None, ..., None], 1.0, -1.0) * np.ones((1, 1, 1, 3))
    assert np.abs(sr.degrade(checker)).max() <= 1.0  # bicubic overshoot would leave [-1, 1] without the clip
    for bad in ((1, 30, 32, 3), (1, 32, 30, 3)):
        with pytest.raises(ValueError, match=r"cannot be downscaled by 4: height and width must be multiples of 4"):
            sr.degrade(np.zeros(bad, np.float32))
    with pytest.raises(ValueError, match="degrade takes"):
        sr.degrade(np.zeros((32, 32), np.float32))
    for uint8 in (np.zeros((1, 8, 8, 3), np.uint8), tf.zeros((8, 8, 3), tf.uint8)):
        with pytest.raises(ValueError, match=r"degrade takes float HR images in \[-1, 1\], got uint8; convert"):
            sr.degrade(uint8)


def test_degrade_is_the_antialiased_block_filter_on_a_ramp():
    """For a linear ramp, any symmetric antialiasing filter gives the ramp's value at the block centre,
    which is the mean of the block: an independent check of the geometry (no half-pixel shift)."""
    x = np.arange(64, dtype=np.float32)
    ramp = np.broadcast_to(((x - 31.5) / 40.0)[None, None, :, None], (1, 64, 64, 3))
    lr = sr.degrade(ramp)
    block_means = ramp[0, 0, :, 0].reshape(16, 4).mean(axis=1)
    np.testing.assert_allclose(lr[0, 8, 2:-2, 0], block_means[2:-2], atol=1e-5)  # away from the borders
    np.testing.assert_allclose(lr[0, :, 5, 1], block_means[5], atol=1e-5)  # constant down the columns


def test_degrade_equals_pillows_bicubic_reduction():
    """Pillow's BICUBIC (Keys, a = -0.5, the kernel widened by the scale when shrinking: antialiased) on float
    images is an independent implementation of the same filter; it agrees to float precision, borders included."""
    rng = np.random.default_rng(1)
    hr = rng.uniform(-0.6, 0.6, (1, 48, 64, 3)).astype(np.float32)
    for scale in (4, 2):
        lr = sr.degrade(hr, scale)
        for c in range(3):
            want = Image.fromarray(hr[0, ..., c], mode="F").resize((64 // scale, 48 // scale), Image.BICUBIC)
            np.testing.assert_allclose(lr[0, ..., c], np.asarray(want), atol=1e-6)


def test_flipping_the_hr_image_flips_its_lr_image():
    _, hr = sr.offline_sr("test", 32, n=8)
    flipped_lr = sr.degrade(hr[:, :, ::-1])
    np.testing.assert_allclose(flipped_lr, sr.degrade(hr)[:, :, ::-1], atol=2e-6)  # the resize is symmetric


def test_celeba_square_is_rows_20_to_197():
    image = np.arange(218 * 178 * 3).reshape(218, 178, 3)
    square = sr.celeba_square(image)
    assert square.shape == (178, 178, 3)
    np.testing.assert_array_equal(square, image[20:198])
    assert sr.celeba_square(tf.constant(image[None])).shape == (1, 178, 178, 3)
    with pytest.raises(ValueError, match=r"aligned CelebA images are 218x178 \(height x width\), got shape"):
        sr.celeba_square(np.zeros((178, 218, 3)))


# ---------------------------------------------------------------------------
# Offline crops
# ---------------------------------------------------------------------------
def test_offline_crops_shapes_ranges_and_lr_is_degrade_of_hr():
    lr, hr = sr.offline_sr("train", 64)
    assert hr.shape == (2048, 64, 64, 3) and lr.shape == (2048, 16, 16, 3)
    assert hr.dtype == lr.dtype == np.float32
    assert hr.min() >= -1 and hr.max() <= 1 and lr.min() >= -1 and lr.max() <= 1
    np.testing.assert_array_equal(hr * 127.5 + 127.5, np.round(hr * 127.5 + 127.5))  # whole grey levels
    np.testing.assert_array_equal(lr, sr.degrade(hr))
    assert not hr.flags.writeable and sr.offline_sr("train", 64)[1] is hr  # cached, shared, read-only
    test_lr, test_hr = sr.offline_sr("test")
    assert test_hr.shape == (128, 64, 64, 3) and test_lr.shape == (128, 16, 16, 3)
    for size in (32, 36, 100, 128):  # any multiple of 4 the photos allow
        lr, hr = sr.offline_sr("train", size, n=16)
        assert hr.shape == (16, size, size, 3) and lr.shape == (16, size // 4, size // 4, 3)
        np.testing.assert_array_equal(lr, sr.degrade(hr))


def test_offline_crops_are_deterministic_and_detailed():
    _, a = sr.offline_sr("train", 32, n=40, seed=5)
    _, b = sr._offline.__wrapped__("train", 32, 40, 5)  # rebuilt without the cache
    np.testing.assert_array_equal(a, b)
    _, c = sr.offline_sr("train", 32, n=40, seed=6)
    assert not np.array_equal(a, c)
    std, lost = sr.detail(np.round(a * 127.5 + 127.5).astype(np.uint8))
    assert std.min() >= sr.MIN_STD and lost.min() >= sr.MIN_DETAIL
    assert len({tuple(np.round(x.mean(axis=(0, 1)), 3)) for x in a}) == 40  # 40 different crops
    flat = np.full((2, 32, 32, 3), 120, np.uint8)
    np.testing.assert_array_equal(sr.detail(flat)[0], 0.0)
    stripes = np.zeros((1, 32, 32, 3), np.uint8)
    stripes[:, :, ::2] = 255  # detail finer than the 4x4 boxes: all of it is lost
    np.testing.assert_allclose(sr.detail(stripes)[1], 255 / 2 / 127.5, rtol=1e-5)
    np.testing.assert_allclose(sr.detail(np.repeat(stripes, 4, axis=2)[:, :, :32])[1], 0.0, atol=1e-6)


def test_offline_train_and_test_photos_are_disjoint(monkeypatch):
    assert not set(sr.OFFLINE_TRAIN) & set(sr.OFFLINE_TEST)
    photos = {name: sr._photo(name) for name in sr.OFFLINE_TRAIN + sr.OFFLINE_TEST}
    for test_name in sr.OFFLINE_TEST:  # different photos, not the same photo under two names
        for train_name in sr.OFFLINE_TRAIN:
            a, b = photos[test_name], photos[train_name]
            assert a.shape != b.shape or not np.array_equal(a, b), (test_name, train_name)
    used = []
    real = sr._photo_crops
    monkeypatch.setattr(sr, "_photo_crops", lambda name, *args: used.append(name) or real(name, *args))
    sr._offline.__wrapped__("train", 32, 20, 0)
    assert used == list(sr.OFFLINE_TRAIN)
    used.clear()
    sr._offline.__wrapped__("test", 32, 20, 0)
    assert used == list(sr.OFFLINE_TEST)


def test_offline_crop_i_comes_from_photo_i_mod_p(monkeypatch):
    """Replace the photos by one grey level each plus noise: crop i must carry photo i % P's level."""
    levels = 60 + 20 * np.arange(len(sr.OFFLINE_TRAIN))
    rng = np.random.default_rng(0)

    def fake_photo(level):
        fine = rng.integers(-20, 21, (304, 400, 1))
        coarse = np.repeat(np.repeat(rng.integers(-20, 21, (38, 50, 1)), 8, axis=0), 8, axis=1)
        return np.repeat(level + fine + coarse, 3, axis=2)[:300].astype(np.uint8)

    fakes = {name: fake_photo(level) for name, level in zip(sr.OFFLINE_TRAIN, levels)}
    monkeypatch.setattr(sr, "_photo", fakes.__getitem__)
    monkeypatch.setattr(sr, "_shrunk", sr._shrunk.__wrapped__)  # no cached shrinks of the real photos
    _, hr = sr._offline.__wrapped__("train", 32, 24, 0)
    means = hr.mean(axis=(1, 2, 3)) * 127.5 + 127.5
    nearest = np.abs(means[:, None] - levels[None]).argmin(axis=1)
    np.testing.assert_array_equal(nearest, np.arange(24) % len(levels))


def test_offline_errors_and_registry():
    with pytest.raises(ValueError, match="unknown split 'val' for offline_sr; choose one of train, test"):
        sr.offline_sr("val")
    for size in (30, 4, 300):
        with pytest.raises(ValueError, match=r"hr_size must be a multiple of 4 from 8 to \d+ .*got " + str(size)):
            sr.offline_sr("train", size)
    with pytest.raises(ValueError, match="n must be at least 1"):
        sr.offline_sr("train", 32, n=0)
    with pytest.raises(ValueError, match="the offline_sr dataset reads no folder .*do not pass data_dir"):
        data.load(_cfg("offline_sr"), data_dir="/somewhere")
    with pytest.raises(ValueError, match="unknown split 'val' for offline_sr"):
        data.load(_cfg("offline_sr"), "val")
    with pytest.raises(ValueError, match="offline_sr is a super-resolution dataset; .*load_pairs"):
        data.arrays("offline_sr", image_size=32, channels=3)
    with pytest.raises(ValueError, match="image_size .* must be a multiple of scale=4, got 30"):
        data.load(_cfg("offline_sr", 30))
    with pytest.raises(ValueError, match="super-resolution data is RGB; set channels=3"):
        data.load(_cfg("offline_sr", channels=1))


# ---------------------------------------------------------------------------
# The pipeline: one flip per pair, LR made from the flipped HR
# ---------------------------------------------------------------------------
def test_offline_pipeline_flips_pairs_and_derives_lr_from_hr():
    cfg = _cfg("offline_sr", 32, batch_size=8, seed=2)
    lr_all, hr_all = sr.offline_sr("train", 32)
    lr, hr = next(iter(data.load(cfg, shuffle=False)))
    lr, hr = lr.numpy(), hr.numpy()
    assert lr.shape == (8, 8, 8, 3) and hr.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(lr, sr.degrade(hr))
    flipped = [not np.array_equal(hr[i], hr_all[i]) for i in range(8)]
    for i in range(8):
        np.testing.assert_array_equal(hr[i], hr_all[i][:, ::-1] if flipped[i] else hr_all[i])
        np.testing.assert_allclose(lr[i], lr_all[i][:, ::-1] if flipped[i] else lr_all[i], atol=2e-6)
    assert 0 < sum(flipped) < 8
    test_lr, test_hr = _stack(data.load(_cfg("offline_sr", 32, batch_size=16), "test", shuffle=False))
    np.testing.assert_array_equal(test_hr, sr.offline_sr("test", 32)[1])  # no flips on the test split
    np.testing.assert_array_equal(test_lr, sr.offline_sr("test", 32)[0])
    unflipped = next(iter(data.load(_cfg("offline_sr", 32, batch_size=8, flip=False), shuffle=False)))[1]
    np.testing.assert_array_equal(unflipped, hr_all[:8])


def test_pipeline_is_reproducible_and_reshuffles_each_epoch():
    cfg = _cfg("offline_sr", 32, batch_size=64, seed=4)
    ds = data.load(cfg)
    first, second = _stack(ds), _stack(ds)
    again = _stack(data.load(cfg))
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], second[1])
    assert first[1].shape == (2048, 32, 32, 3)
    np.testing.assert_array_equal(first[0], sr.degrade(first[1]))


def test_pair_dataset_over_arrays():
    _, hr = sr.offline_sr("test", 64)
    cfg = _cfg("offline_sr", 64, batch_size=16, seed=2)
    got = _stack(sr.pair_dataset(hr, cfg))
    assert got[1].shape == (128, 64, 64, 3) and got[0].shape == (128, 16, 16, 3)
    registry = _stack(data.load(cfg, "test"))  # the registry's test split: the same arrays, shuffled, no flips
    unflipped = _stack(sr.pair_dataset(hr, cfg, flip=False))
    for a, b in zip(registry, unflipped):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(got[1], unflipped[1])  # the flips
    np.testing.assert_array_equal(got[0], sr.degrade(got[1]))
    order = np.argsort([float(x.sum()) for x in hr])
    np.testing.assert_allclose(np.sort([float(x.sum()) for x in got[1]]), [float(hr[i].sum()) for i in order],
                               rtol=1e-5)  # the same images, shuffled (a flip keeps each sum)
    crops = next(iter(sr.pair_dataset(hr, _cfg("sr", 32, batch_size=4, random_crop=True), shuffle=False)))
    assert crops[1].shape == (4, 32, 32, 3) and crops[0].shape == (4, 8, 8, 3)
    assert _is_window(crops[1][0].numpy(), hr[0])
    x2 = next(iter(sr.pair_dataset(hr, _cfg("sr", 64, batch_size=4, scale=2), shuffle=False)))
    assert x2[0].shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match=r"HR images must be \(n, 32, 32, 3\) in \[-1, 1\] \(or larger with random"):
        sr.pair_dataset(hr, _cfg("sr", 32))
    with pytest.raises(ValueError, match="only 128 images for batch_size=200"):
        sr.pair_dataset(hr, _cfg("sr", 64, batch_size=200))


# ---------------------------------------------------------------------------
# CelebA: the zip or its folder, the official partition, 178 px squares
# ---------------------------------------------------------------------------
def test_celeba_partition_by_file_number(celeba):
    for split, numbers in CELEBA_NUMBERS.items():
        assert [int(p.stem) for p in sr.celeba_files(celeba, split)] == list(numbers)
    assert sr.CELEBA_PARTITION == {"train": (1, 162770), "val": (162771, 182637), "test": (182638, 202599)}
    assert data.get("celeba").splits == ("train", "val", "test") and data.get("celeba").reads_folder
    with pytest.raises(ValueError, match="unknown split 'valid' for celeba; choose one of train, val, test"):
        data.load(_cfg("celeba"), "valid", data_dir=celeba)


def test_celeba_folder_inputs_all_work(celeba):
    folder = celeba / "img_align_celeba"
    assert sr.celeba_folder(celeba) == folder  # the folder holding img_align_celeba/
    assert sr.celeba_folder(folder) == folder  # img_align_celeba/ itself
    want = _read(folder / "182638.jpg")[20:198]
    lr, hr = sr.load_pairs("celeba", "test", image_size=64, data_dir=celeba)
    assert hr.shape == (2, 64, 64, 3) and lr.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(hr[0], _bicubic(want, 64))  # same JPEG decoder; bicubic from the square
    np.testing.assert_array_equal(lr, sr.degrade(hr))
    _, native = sr.load_pairs("celeba", "test", image_size=176, data_dir=folder, random_crop=True)
    np.testing.assert_array_equal(native[0], _unit(want[1:177, 1:177]))  # central crop, native resolution


def test_celeba_zip_is_extracted_once_next_to_itself(celeba, tmp_path, monkeypatch):
    archive = _zip_of(celeba / "img_align_celeba", tmp_path / "img_align_celeba.zip")
    folder = sr.celeba_folder(archive)  # the zip itself
    assert folder == tmp_path / "img_align_celeba" and (folder / sr._EXTRACTED).is_file()
    names = sorted(p.name for p in (celeba / "img_align_celeba").iterdir())
    assert sorted(p.name for p in folder.glob("*.jpg")) == names
    stamp = (folder / "000001.jpg").stat().st_mtime_ns
    assert sr.celeba_folder(tmp_path) == folder  # the folder holding the zip: not extracted again
    assert (folder / "000001.jpg").stat().st_mtime_ns == stamp
    lr, hr = _stack(data.load(_cfg("celeba", 32, batch_size=1), "val", data_dir=archive, shuffle=False))
    lr_folder, hr_folder = sr.load_pairs("celeba", "val", image_size=32, data_dir=celeba)
    np.testing.assert_array_equal(hr, hr_folder)
    np.testing.assert_array_equal(lr, lr_folder)
    other = tmp_path / "partial"
    other.mkdir()
    _zip_of(celeba / "img_align_celeba", other / "img_align_celeba.zip")
    (other / "img_align_celeba").mkdir()  # an interrupted extraction: no marker, so extract again
    assert len(sr.celeba_files(other, "train")) == 3
    (other / "img_align_celeba" / sr._EXTRACTED).unlink()
    (other / "img_align_celeba" / "000001.jpg").unlink()
    monkeypatch.setattr(sr, "CELEBA_COUNT", 6)  # unzipped by hand, all there: used as it is
    assert sr.celeba_folder(other) == other / "img_align_celeba"
    assert not (other / "img_align_celeba" / "000001.jpg").exists()
    monkeypatch.setattr(sr, "CELEBA_COUNT", 7)
    assert sr.celeba_folder(other) == other / "img_align_celeba"
    assert (other / "img_align_celeba" / "000001.jpg").exists()  # one missing: extracted again


def test_celeba_training_batches_flip_and_crop(celeba):
    cfg = _cfg("celeba", 64, batch_size=3, seed=1)
    lr, hr = _stack(data.load(cfg, "train", data_dir=celeba, shuffle=False))
    squares = [_read(p)[20:198] for p in sr.celeba_files(celeba, "train")]
    for i in range(3):
        want = _bicubic(squares[i], 64)
        assert np.array_equal(hr[i], want) or np.array_equal(hr[i], want[:, ::-1])
    np.testing.assert_array_equal(lr, sr.degrade(hr))
    crop_cfg = _cfg("celeba", 32, batch_size=1, seed=1, random_crop=True)
    for lr, hr in data.load(crop_cfg, "train", data_dir=celeba, shuffle=False).take(3):
        np.testing.assert_array_equal(lr.numpy(), sr.degrade(hr.numpy()))
    first = next(iter(data.load(crop_cfg, "train", data_dir=celeba, shuffle=False)))[1][0].numpy()
    assert _is_window(first, _unit(squares[0]))  # a 32 px window of the square at native resolution (maybe flipped)
    with pytest.raises(ValueError, match="random_crop takes 192 px crops of CelebA's 178 px squares"):
        data.load(_cfg("celeba", 192, random_crop=True), data_dir=celeba)


def test_celeba_errors(celeba, tmp_path):
    for where in (None, tmp_path / "nowhere"):
        with pytest.raises(DatasetError, match=r"download img_align_celeba\.zip by hand from "
                           r"https://mmlab\.ie\.cuhk\.edu\.hk/projects/CelebA\.html .*--data"):
            data.load(_cfg("celeba"), data_dir=where)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no CelebA in .*empty: expected .*img_align_celeba\.zip.*mmlab"):
        sr.celeba_files(tmp_path / "empty")
    bad = tmp_path / "bad" / "img_align_celeba"
    bad.mkdir(parents=True)
    for path in (celeba / "img_align_celeba").iterdir():
        (bad / path.name).write_bytes(path.read_bytes())
    (bad / "000002.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DatasetError, match=r"cannot read .*000002\.jpg: it is not a readable image"):
        data.load(_cfg("celeba"), data_dir=bad)
    Image.fromarray(np.zeros((200, 178, 3), np.uint8)).save(bad / "000002.jpg")
    with pytest.raises(DatasetError, match=r"000002\.jpg is 178x200 \(width x height\); aligned CelebA images are "
                                           r"178x218"):
        data.load(_cfg("celeba"), data_dir=bad)
    (bad / "000002.jpg").unlink()
    assert len(sr.celeba_files(bad.parent, "val")) == 2  # other splits do not read the train files
    Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(bad / "me.jpg")
    with pytest.raises(DatasetError, match=r"me\.jpg is not a CelebA file .*use the sr_folder dataset"):
        data.load(_cfg("celeba"), data_dir=bad)
    (bad / "me.jpg").unlink()
    for number in CELEBA_NUMBERS["test"]:
        (bad / f"{number:06d}.jpg").unlink()
    with pytest.raises(DatasetError, match=r"holds no image of CelebA's test split \(182638\.jpg \.\.\. 202599\.jpg\)"):
        data.load(_cfg("celeba"), "test", data_dir=bad)
    (tmp_path / "zips").mkdir()
    not_celeba = _zip_of(bad, tmp_path / "zips" / "img_align_celeba.zip", inner="faces")
    with pytest.raises(DatasetError, match="holds no img_align_celeba/ folder, so it is not CelebA's"):
        sr.celeba_folder(not_celeba)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "img_align_celeba.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="is neither a tar nor a zip archive|is corrupt"):
        sr.celeba_folder(broken)
    with pytest.raises(ValueError, match="only 2 images for batch_size=4"):
        data.load(_cfg("celeba", batch_size=4), "val", data_dir=celeba)


# ---------------------------------------------------------------------------
# Any folder of images
# ---------------------------------------------------------------------------
def test_folder_split_is_by_file_name_hash(tmp_path):
    folder = _photo_folder(tmp_path / "photos")
    files = sorted(folder.iterdir())
    train, val = sr.folder_split(files, "train"), sr.folder_split(files, "val")
    assert sorted(train + val) == files and not set(train) & set(val)
    assert val == [p for p in files if zlib.crc32(p.name.encode()) % 10 == 0] and 0 < len(val) < len(files)
    subset = files[::2]
    assert sr.folder_split(subset, "val") == [p for p in val if p in subset]  # other files move no image
    with pytest.raises(ValueError, match="unknown split 'test' for sr_folder; choose one of train, val"):
        data.load(_cfg("sr_folder"), "test", data_dir=folder)


def test_folder_pairs_take_the_central_square(tmp_path):
    folder = _photo_folder(tmp_path / "photos")
    train = sr.folder_split(sorted(folder.iterdir()), "train")
    lr, hr = sr.load_pairs("sr_folder", "train", image_size=64, data_dir=folder)
    assert hr.shape == (len(train), 64, 64, 3) and lr.shape == (len(train), 16, 16, 3)
    np.testing.assert_array_equal(lr, sr.degrade(hr))
    for path, image in zip(train, hr):
        pixels = _read(path)
        height, width = pixels.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = pixels[top:top + side, left:left + side]
        want = _unit(square) if side == 64 else _bicubic(square, 64)
        np.testing.assert_array_equal(image, want, err_msg=path.name)
    cfg = _cfg("sr_folder", 32, batch_size=2, seed=0, random_crop=True)
    batches = list(data.load(cfg, data_dir=folder))
    assert len(batches) == len(train) // 2
    for lr, hr in batches:
        assert hr.shape == (2, 32, 32, 3) and lr.shape == (2, 8, 8, 3)
        np.testing.assert_array_equal(lr.numpy(), sr.degrade(hr.numpy()))


def test_streamed_and_cached_folders_give_the_same_batches(tmp_path):
    folder = _photo_folder(tmp_path / "photos")
    for extra in ({}, {"random_crop": True}):
        cfg = _cfg("sr_folder", 32, batch_size=2, seed=7, **extra)
        cached = sr.superres_dataset("sr_folder", "train", cfg, folder)
        streamed = sr.superres_dataset("sr_folder", "train", cfg, folder, cache_budget=0)
        for _ in range(2):  # two epochs: new order, crops and flips, the same in both
            for a, b in zip(_stack(cached), _stack(streamed)):
                np.testing.assert_array_equal(a, b)


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"sr_folder dataset is a folder of photos you provide .*--data DIR"):
        data.load(_cfg("sr_folder"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(DatasetError, match=r"SR image folder .*empty holds no images .*put PNG or JPEG photos in it"):
        data.load(_cfg("sr_folder"), data_dir=tmp_path / "empty")
    folder = _photo_folder(tmp_path / "photos")
    with pytest.raises(DatasetError, match=r"photo\d\d\.\w+ is \d+x\d+, smaller than the HR size 96 on its short "
                                           r"side \(and \d+ more images\); remove such images or lower image_size"):
        data.load(_cfg("sr_folder", 96), data_dir=folder)
    small = _photo_folder(tmp_path / "few", sizes=((64, 64),) * 2)
    assert sr.folder_split(sorted(small.iterdir()), "val") == []
    with pytest.raises(DatasetError, match=r"the val split of .*few is empty: 2 images, .*one in 10"):
        data.load(_cfg("sr_folder"), "val", data_dir=small)
    assert folder / "photo00.png" in sr.folder_split(sorted(folder.iterdir()), "train")
    (folder / "photo00.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match=r"cannot read .*photo00\.png: it is not a readable image"):
        data.load(_cfg("sr_folder"), data_dir=folder)


# ---------------------------------------------------------------------------
# Set5 / Set14 / BSD100 folders
# ---------------------------------------------------------------------------
def test_benchmark_folders_in_both_layouts(tmp_path):
    rng = np.random.default_rng(2)
    srf = tmp_path / "Set5" / "image_SRF_4"
    srf.mkdir(parents=True)
    sizes = {"img_001": (90, 67), "img_002": (64, 64), "img_003": (51, 80)}  # (width, height)
    for stem, (width, height) in sizes.items():
        Image.fromarray(_smooth(rng, height, width)).save(srf / f"{stem}_SRF_4_HR.png")
        Image.fromarray(_smooth(rng, height // 4, width // 4)).save(srf / f"{stem}_SRF_4_LR.png")
        Image.fromarray(_smooth(rng, height, width)).save(srf / f"{stem}_SRF_4_bicubic.png")
    Image.fromarray(_smooth(rng, 40, 40)[..., 0]).save(srf / "img_004_SRF_4_HR.png")  # a grey image
    images = sr.benchmark_images(tmp_path / "Set5")
    assert [im.shape for im in images] == [(64, 88, 3), (64, 64, 3), (80, 48, 3), (40, 40, 3)]
    assert all(im.dtype == np.uint8 for im in images)
    np.testing.assert_array_equal(images[0], _read(srf / "img_001_SRF_4_HR.png")[:64, :88])  # modcrop: top-left
    np.testing.assert_array_equal(images[3][..., 0], images[3][..., 2])
    assert [im.shape for im in sr.benchmark_images(srf)] == [im.shape for im in images]  # the SRF folder itself
    plain = tmp_path / "Set14"
    plain.mkdir()
    for name, image in zip(("baboon.png", "comic.jpg"), images[:2]):
        Image.fromarray(image).save(plain / name)
    assert [im.shape for im in sr.benchmark_images(plain)] == [(64, 88, 3), (64, 64, 3)]
    pairs = sr.benchmark_pairs(tmp_path / "Set5")
    for (lr, hr), image in zip(pairs, images):
        np.testing.assert_array_equal(hr, _unit(image))
        np.testing.assert_array_equal(lr, sr.degrade(hr))
        assert lr.shape == (image.shape[0] // 4, image.shape[1] // 4, 3) and lr.dtype == np.float32
    with pytest.raises(DatasetError, match=r"SR benchmark folder .*missing does not exist"):
        sr.benchmark_images(tmp_path / "missing")
    (plain / "baboon.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match=r"cannot read .*baboon\.png"):
        sr.benchmark_images(plain)
