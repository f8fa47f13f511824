"""The dataset registry and the streaming pipelines, on tiny fixture folders with the real layouts."""

import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gancourse import data
from gancourse.data import faces, paired, pipeline, unpaired
from gancourse.data.cache import DatasetError

LEVEL = 1 / 127.5  # one grey level in [-1, 1]


def _cfg(dataset, image_size, channels=3, batch_size=2, seed=3, **extra):
    return types.SimpleNamespace(dataset=dataset, image_size=image_size, channels=channels, batch_size=batch_size,
                                 seed=seed, **extra)


def _smooth(rng, height, width):
    """A smooth random RGB image (JPEG keeps it close to the original)."""
    noise = rng.uniform(0, 255, (height // 4 + 1, width // 4 + 1, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(noise).resize((width, height), Image.BILINEAR))


def _face_folder(folder, n=5, seed=0):
    """PNG faces of 48x40 (portrait) and one JPEG of 40x60 (landscape)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(_smooth(rng, 48, 40)).save(folder / f"face{i}.png")
    Image.fromarray(_smooth(rng, 40, 60)).save(folder / "wide.jpg", quality=90)
    return folder


def _pix2pix_folder(root, name="cityscapes", counts=(("train", 6), ("val", 4), ("test", 2)), size=32):
    """``root/<name>/<split>/<i>.jpg``: photo on the left, a two-colour label map on the right."""
    rng = np.random.default_rng(1)
    for split, n in counts:
        (root / name / split).mkdir(parents=True)
        for i in range(n):
            label = np.zeros((size, size, 3), np.uint8)
            label[..., 2] = 200
            label[: size // 2] = (10, 200, 30)
            pair = np.concatenate([_smooth(rng, size, size), label], axis=1)
            Image.fromarray(pair).save(root / name / split / f"{i}.jpg", quality=90)
    return root / name


def _stack(ds):
    """All batches of one epoch, concatenated (a tuple for pairs)."""
    batches = list(ds)
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate([np.asarray(b[k]) for b in batches]) for k in range(len(batches[0])))
    return np.concatenate([np.asarray(b) for b in batches])


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------
def test_registry_entries_and_lookup():
    assert data.DATASETS == ("digits", "mnist", "fashion_mnist", "faces")
    assert data.PAIRED_DATASETS == ("facades", "maps", "edges2shoes", "edges2handbags", "cityscapes", "night2day",
                                    "offline")
    assert data.SUPERRES_DATASETS == ("celeba", "sr_folder", "offline_sr")
    assert data.VOXEL_DATASETS == ("shapenet", "offline_shapes")
    assert "offline_faces" in data.AGE_DATASETS
    assert set(data.REGISTRY) == set(data.DATASETS + data.PAIRED_DATASETS + data.UNPAIRED_DATASETS
                                     + data.SUPERRES_DATASETS + data.VOXEL_DATASETS + data.AGE_DATASETS
                                     + data.CAPTION_DATASETS)
    assert set(data.CAPTION_DATASETS) == {"cub", "offline_birds"}
    assert {n for n, s in data.REGISTRY.items() if s.offline} == {"digits", "offline", "offline_unpaired",
                                                                   "offline_sr", "offline_shapes", "offline_faces",
                                                                   "offline_birds"}
    assert {n for n, s in data.REGISTRY.items() if s.streamed} == ({"faces", "celeba", "sr_folder", "wiki", "cub"}
                                                                    | set(paired.INPUT_SIDE)
                                                                    | set(unpaired.CYCLEGAN_DATASETS))
    for name, spec in data.REGISTRY.items():
        assert spec.name == name and spec.kind in ("images", "pairs", "unpaired", "superres", "voxels", "ages",
                                                      "captions")
        assert "train" in spec.splits
        assert spec.description and "\n" not in spec.description
    assert data.get("facades").splits == ("train", "val", "test")
    assert data.get("mnist").kind == "images" and data.get("offline").kind == "pairs"
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; choose one of digits, mnist, .*, offline"):
        data.get("imagenet")
    with pytest.raises(ValueError, match="unknown split 'val' for digits; choose one of train, test, all"):
        data.get("digits").load("val", _cfg("digits", 28, 1))
    with pytest.raises(ValueError, match="facades is a paired dataset"):
        data.arrays("facades", image_size=32, channels=3)


def test_in_memory_entries_yield_batches_in_range():
    images = next(iter(data.get("digits").load("test", _cfg("digits", 16, 3, batch_size=5))))
    assert images.shape == (5, 16, 16, 3) and images.dtype == tf.float32
    assert -1.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    inputs, targets = next(iter(data.load(_cfg("offline", 32, 1, batch_size=4, jitter=True), "test")))
    assert inputs.shape == targets.shape == (4, 32, 32, 1)
    assert -1.0 <= float(tf.reduce_min(targets)) and float(tf.reduce_max(targets)) <= 1.0


# ---------------------------------------------------------------------------
# Faces: a folder streamed through tf.data
# ---------------------------------------------------------------------------
def test_faces_stream_matches_the_array_reader(tmp_path):
    folder = _face_folder(tmp_path / "faces")
    (folder / "notes.txt").write_text("not an image, not listed")
    cfg = _cfg("faces", 40, batch_size=3)
    streamed = _stack(data.load(cfg, data_dir=folder, shuffle=False))
    assert streamed.shape == (6, 40, 40, 3) and streamed.dtype == np.float32
    np.testing.assert_array_equal(streamed, faces.arrays(folder, 40, 3))  # central squares at their own size
    for size, channels, tol in ((24, 3, 1.01 * LEVEL), (64, 3, 1.01 * LEVEL), (24, 1, 1.5 * LEVEL)):
        streamed = _stack(faces.load(folder, image_size=size, channels=channels, batch_size=2, shuffle=False))
        assert streamed.shape == (6, size, size, channels)
        np.testing.assert_allclose(streamed, faces.arrays(folder, size, channels), atol=tol)


def test_faces_take_the_central_square(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255  # white centre square between black side strips
    Image.fromarray(wide).save(folder / "wide.png")
    Image.fromarray(np.ascontiguousarray(wide.transpose(1, 0, 2))).save(folder / "tall.png")
    np.testing.assert_array_equal(_stack(faces.load(folder, image_size=20, batch_size=2, shuffle=False)), 1.0)
    np.testing.assert_array_equal(faces.arrays(folder, 20), 1.0)


def test_faces_errors_come_when_the_pipeline_is_created(tmp_path):
    cfg = _cfg("faces", 16)
    with pytest.raises(DatasetError, match="pass data_dir=.*--data DIR"):
        data.load(cfg)
    with pytest.raises(DatasetError, match="face folder .*missing does not exist; create it"):
        data.load(cfg, data_dir=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="face folder .*empty holds no images with suffix .png"):
        data.load(cfg, data_dir=tmp_path / "empty")
    folder = _face_folder(tmp_path / "faces")
    (folder / "face9.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match=r"cannot read .*face9\.png: it is not a readable image .*remove or repl"):
        data.load(cfg, data_dir=folder)
    (folder / "face9.png").unlink()
    whole = (folder / "wide.jpg").read_bytes()
    (folder / "wide.jpg").write_bytes(whole[: len(whole) // 2])  # the header survives, the end marker does not
    with pytest.raises(DatasetError, match=r"cannot read .*wide\.jpg: .*JPEG end marker is missing \(truncated"):
        data.load(cfg, data_dir=folder)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "wide.jpg", format="TIFF")
    with pytest.raises(DatasetError, match=r"wide\.jpg: it is a TIFF image and tf.data decodes only JPEG"):
        data.load(cfg, data_dir=folder)


# ---------------------------------------------------------------------------
# pix2pix: <root>/<split>/*.jpg side-by-side pairs streamed through tf.data
# ---------------------------------------------------------------------------
def test_streamed_pairs_equal_the_array_readers_pairs(tmp_path):
    root = _pix2pix_folder(tmp_path / "data")
    cfg = _cfg("cityscapes", 32, batch_size=2)
    inputs, targets = _stack(data.load(cfg, "train", data_dir=tmp_path / "data", shuffle=False))
    want_inputs, want_targets = paired.read_pairs(root, "train", image_size=32, input_side="right")
    np.testing.assert_array_equal(inputs, want_inputs)  # same JPEG decoder, no resize: equal
    np.testing.assert_array_equal(targets, want_targets)
    np.testing.assert_allclose(inputs[:, 2:14, 2:-2, 1], 200 * LEVEL - 1, atol=3 * LEVEL)  # input: the label map
    small, small_targets = _stack(data.load(_cfg("cityscapes", 16), "val", data_dir=root, shuffle=False))
    want_small, want_small_targets = paired.read_pairs(root, "val", image_size=16)
    assert small.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(small, want_small, atol=1.01 * LEVEL)  # Pillow vs tf.image bilinear: one level
    np.testing.assert_allclose(small_targets, want_small_targets, atol=1.01 * LEVEL)
    grey, grey_targets = _stack(paired.stream_pairs(paired.pair_files(root, "test"), 2, image_size=32, channels=1,
                                                    shuffle=False))
    np.testing.assert_allclose(grey, pipeline.with_channels(paired.read_pairs(root, "test", image_size=32)[0], 1),
                               atol=1e-6)
    left_inputs, _ = _stack(paired.stream_pairs(paired.pair_files(root, "test"), 2, image_size=32,
                                                input_side="left", shuffle=False))
    np.testing.assert_array_equal(left_inputs, paired.read_pairs(root, "test", image_size=32, input_side="left")[0])


def test_streamed_jitter_is_reproducible_and_equals_the_array_pipeline(tmp_path):
    root = _pix2pix_folder(tmp_path / "data")
    cfg = _cfg("cityscapes", 32, batch_size=2, seed=5, jitter=True)

    def epochs(ds, n=2):
        return [_stack(ds) for _ in range(n)]

    first, second = epochs(data.load(cfg, data_dir=root))
    again, _ = epochs(data.load(cfg, data_dir=root))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # same seed, same shuffled and jittered batches
    assert not np.array_equal(first[1], second[1])  # a new order, crop and flip every epoch
    arrays = paired.read_pairs(root, "train", image_size=32)
    from_arrays = epochs(paired.paired_dataset(*arrays, 2, jitter=True, seed=5))
    for got, want in zip(first + second, from_arrays[0] + from_arrays[1]):
        np.testing.assert_array_equal(got, want)  # streaming changes where pixels come from, not the batches
    other, _ = epochs(data.load(_cfg("cityscapes", 32, batch_size=2, seed=6, jitter=True), data_dir=root))
    assert not np.array_equal(other[1], first[1])


def test_caching_is_chosen_by_size(tmp_path):
    assert pipeline.CACHE_BUDGET_BYTES == 2**30
    facades_train = 400 * pipeline.example_bytes(256, 3, images=2)
    assert facades_train == 400 * 2 * 256 * 256 * 3 * 4 and pipeline.fits_in_memory(400, facades_train // 400)
    assert not pipeline.fits_in_memory(202_599, pipeline.example_bytes(64, 3))  # CelebA at 64 px: 9.9 GB
    assert pipeline.fits_in_memory(10, 100, budget=1000) and not pipeline.fits_in_memory(11, 100, budget=1000)

    root = _pix2pix_folder(tmp_path / "data", counts=(("train", 4),))
    files = paired.pair_files(root, "train")
    one_pair = pipeline.example_bytes(32, 3, images=2)
    cached = paired.stream_pairs(files, 2, image_size=32, seed=1, cache_budget=4 * one_pair)
    streamed = paired.stream_pairs(files, 2, image_size=32, seed=1, cache_budget=4 * one_pair - 1)
    first = _stack(cached)
    np.testing.assert_array_equal(first[0], _stack(streamed)[0])  # the same batches either way
    for path in files:
        path.unlink()
    second = _stack(cached)  # decoded once, kept in memory: the files are not read again
    assert second[0].shape == (4, 32, 32, 3) and not np.array_equal(second[0], first[0])  # reshuffled
    assert {x.tobytes() for x in second[0]} == {x.tobytes() for x in first[0]}
    with pytest.raises(tf.errors.NotFoundError):
        _stack(streamed)  # too big for the budget: every epoch reads the files


def test_pix2pix_errors_come_when_the_pipeline_is_created(tmp_path):
    root = _pix2pix_folder(tmp_path / "data", name="facades", counts=(("train", 3), ("val", 2)))
    cfg = _cfg("facades", 16)
    with pytest.raises(DatasetError, match=r"facades/train holds 3 images, the dataset has 400; the download is"):
        data.load(cfg, "train", data_dir=tmp_path / "data")
    with pytest.raises(DatasetError, match="no facades dataset under"):
        data.load(cfg, data_dir=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"pix2pix split folder .*facades/test does not exist"):
        paired.pair_files(root, "test")
    Image.fromarray(np.zeros((8, 15, 3), np.uint8)).save(root / "val" / "odd.jpg")
    with pytest.raises(DatasetError, match=r"odd\.jpg is 15 pixels wide; .* its width must be even"):
        paired.pair_files(root, "val")
    (root / "val" / "odd.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(DatasetError, match=r"cannot read .*odd\.jpg: it is not a readable image .*download it again"):
        paired.pair_files(root, "val")
    with pytest.raises(ValueError, match="only 2 images for batch_size=4"):
        paired.stream_pairs(paired.pair_files(_pix2pix_folder(tmp_path / "b"), "test"), 4, image_size=16)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        paired.pair_files(root, "dev")
