"""CUB-200-2011 + StackGAN's embeddings release: crop rule, checks, streamed caption batches (on a fixture with the
release's layout written here; no network)."""

import hashlib
import http.server
import io
import itertools
import pickle
import tarfile
import threading
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gancourse import data
from gancourse.data import DatasetError, cub
from gancourse.data.cub import crop_box, crop_tensor, read_bounding_boxes

CLASSES = {"train": ["001.Black_footed_Albatross", "002.Laysan_Albatross"],
           "test": ["003.Sooty_Albatross", "004.Groove_billed_Ani"]}
PER_CLASS = {"train": 3, "test": 2}
# (width, height, (x, y, w, h) as bounding_boxes.txt writes it) of each photo, in images.txt order
PHOTOS = [(40, 30, ("10.0", "5.0", "12.0", "8.0")),   # crop (7, 0, 25, 18): top clipped
          (40, 30, ("0.0", "20.0", "9.0", "9.0")),    # crop (0, 18, 10, 30): touches the left and bottom border
          (36, 44, ("3.0", "3.0", "7.0", "5.0")),     # crop (1, 0, 11, 10)
          (50, 40, ("12.0", "10.0", "20.0", "16.0")),  # greyscale photo
          (48, 48, ("8.0", "8.0", "30.0", "30.0")),
          (40, 32, ("5.0", "6.0", "25.0", "20.0")),
          (44, 36, ("9.0", "7.0", "20.0", "18.0")),
          (38, 40, ("4.0", "12.0", "18.0", "14.0")),
          (42, 30, ("11.0", "3.0", "15.0", "21.0")),
          (36, 36, ("6.0", "6.0", "24.0", "24.0"))]
GREY = 3


def _cfg(image_size=16, batch_size=2, seed=0, **extra):
    return types.SimpleNamespace(dataset="cub", image_size=image_size, batch_size=batch_size, seed=seed, **extra)


def _keys():
    keys = {}
    for split in ("train", "test"):
        keys[split] = [f"{c}/{c.split('.')[1]}_{i:04d}_{100 + i}" for c in CLASSES[split]
                       for i in range(PER_CLASS[split])]
    return keys


def _dump(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def write_release(root, *, embeddings_dim=1024):
    """``root/birds`` with the StackGAN release's layout: pickles (protocol 2) and a small CUB_200_2011."""
    birds = root / "birds"
    cub_dir = birds / "CUB_200_2011"
    keys = _keys()
    rng = np.random.default_rng(0)
    lines, boxes = [], []
    all_keys = keys["train"] + keys["test"]
    for number, (key, (width, height, box)) in enumerate(zip(all_keys, PHOTOS), 1):
        path = cub_dir / "images" / f"{key}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        (image.convert("L") if number - 1 == GREY else image).save(path, quality=95)
        lines.append(f"{number} {key}.jpg")
        boxes.append(f"{number} {' '.join(box)}")
    (cub_dir / "images.txt").write_text("\n".join(lines) + "\n")
    (cub_dir / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")
    release = {}
    for split in ("train", "test"):
        n = len(keys[split])
        class_ids = [int(key[:3]) for key in keys[split]]
        embeddings = rng.standard_normal((n, 10, embeddings_dim)).astype(np.float32)
        _dump(birds / split / "filenames.pickle", keys[split])
        _dump(birds / split / "class_info.pickle", class_ids)
        _dump(birds / split / "char-CNN-RNN-embeddings.pickle", embeddings)
        release[split] = (keys[split], class_ids, embeddings)
    return birds, release


@pytest.fixture
def release(tmp_path, monkeypatch):
    monkeypatch.setattr(cub, "SPLIT_SIZES", {"train": 6, "test": 4})
    monkeypatch.setattr(cub, "SPLIT_CLASSES", {"train": 2, "test": 2})
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "cache"))
    birds, content = write_release(tmp_path)
    return tmp_path, birds, content


# ---------------------------------------------------------------------------
# Boxes and the crop
# ---------------------------------------------------------------------------
def test_crop_box_follows_the_official_rule():
    # R = int(max(w, h) * 0.75), centre (int((2x + w) / 2), int((2y + h) / 2)), clipped to the photo
    assert crop_box((10, 5, 12, 8), 40, 30) == (7, 0, 25, 18)  # R 9, centre (16, 9)
    assert crop_box((0, 20, 9, 9), 40, 30) == (0, 18, 10, 30)  # R 6, centre (4, 24): left and bottom clipped
    assert crop_box((3, 3, 7, 5), 36, 44) == (1, 0, 11, 10)  # R 5, centre (6, 5)
    assert crop_box((100, 50, 200, 100), 500, 400) == (50, 0, 350, 250)  # R 150, centre (200, 100)
    assert crop_box((60, 27, 325, 304), 500, 335) == (0, 0, 465, 335)  # R 243, centre (int(222.5), 179)
    assert crop_box((1, 1, 3, 3), 10, 10) == (0, 0, 4, 4)  # R int(2.25) = 2, centre (int(2.5), int(2.5))


def test_crop_tensor_matches_crop_box_and_clips_with_the_decoded_shape():
    rng = np.random.default_rng(3)
    for _ in range(200):
        height, width = rng.integers(5, 60, 2)
        x, y = rng.integers(0, width - 1), rng.integers(0, height - 1)
        w, h = rng.integers(1, width - x + 1), rng.integers(1, height - y + 1)
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        left, top, right, bottom = crop_box((x, y, w, h), width, height)
        got = crop_tensor(tf.constant(image), tf.constant([x, y, w, h])).numpy()
        assert np.array_equal(got, image[top:bottom, left:right])


def test_read_bounding_boxes_truncates_floats_and_keys_by_path(release):
    _, birds, content = release
    boxes = read_bounding_boxes(birds / "CUB_200_2011")
    keys = content["train"][0] + content["test"][0]
    assert list(boxes) == keys
    assert boxes[keys[0]] == (10, 5, 12, 8) and boxes[keys[1]] == (0, 20, 9, 9)
    assert all(isinstance(v, int) for box in boxes.values() for v in box)
    (birds / "CUB_200_2011" / "bounding_boxes.txt").write_text("1 10.0 5.0 12.0\n")
    with pytest.raises(DatasetError, match="bounding_boxes.txt line 1 has 4 fields, expected 5"):
        read_bounding_boxes(birds / "CUB_200_2011")
    (birds / "CUB_200_2011" / "bounding_boxes.txt").write_text("1 10.0 5.0 0.0 8.0\n")
    with pytest.raises(DatasetError, match="is no box: x=10 y=5 w=0 h=8"):
        read_bounding_boxes(birds / "CUB_200_2011")


# ---------------------------------------------------------------------------
# A split: what is asserted
# ---------------------------------------------------------------------------
def test_read_split_gives_aligned_checked_arrays(release):
    root, birds, content = release
    for base in (root, birds):  # the folder holding birds/ or birds/ itself
        split = cub.read_split(base, "train")
        keys, class_ids, embeddings = content["train"]
        assert split.filenames == tuple(keys) and len(split) == 6
        assert split.class_ids.dtype == np.int32 and split.class_ids.tolist() == [1, 1, 1, 2, 2, 2]
        assert split.embeddings.dtype == np.float32 and split.embeddings.shape == (6, 10, 1024)
        assert np.array_equal(split.embeddings, embeddings)
        assert split.boxes.dtype == np.int32 and split.boxes[1].tolist() == [0, 20, 9, 9]
        assert split.paths[0] == birds / "CUB_200_2011" / "images" / f"{keys[0]}.jpg"
    assert cub.read_split(root, "test").class_ids.tolist() == [3, 3, 4, 4]
    with pytest.raises(ValueError, match="unknown split 'val' for cub"):
        cub.read_split(root, "val")


def test_counts_classes_and_disjointness_are_asserted(release, monkeypatch):
    root, birds, content = release
    monkeypatch.setattr(cub, "SPLIT_SIZES", {"train": 8855, "test": 4})
    with pytest.raises(DatasetError, match=r"train lists 6 images; the StackGAN release's train split has 8855: "
                                           r"download birds.zip again$"):
        cub.read_split(root, "train")
    monkeypatch.setattr(cub, "SPLIT_SIZES", {"train": 6, "test": 4})
    monkeypatch.setattr(cub, "SPLIT_CLASSES", {"train": 150, "test": 2})
    with pytest.raises(DatasetError, match="class_info.pickle holds 2 classes; the StackGAN release's train split "
                                           "has 150"):
        cub.read_split(root, "train")
    monkeypatch.setattr(cub, "SPLIT_CLASSES", {"train": 2, "test": 2})
    _dump(birds / "test" / "class_info.pickle", [2, 2, 4, 4])  # class 2 is also in train
    for split in ("train", "test"):
        with pytest.raises(DatasetError, match=r"train and test share 1 classes \(2\); the release splits by class"):
            cub.read_split(root, split)
    (birds / "test" / "class_info.pickle").unlink()  # no other split to compare with: train alone loads
    assert len(cub.read_split(root, "train")) == 6


def test_misaligned_or_misshapen_pickles_are_refused(release):
    root, birds, content = release
    keys, class_ids, embeddings = content["train"]
    _dump(birds / "train" / "class_info.pickle", class_ids[:5])
    with pytest.raises(DatasetError, match=r"class_info.pickle must hold 6 ints .* got int64 \(5,\); the pickles "
                                           "of one split must be aligned"):
        cub.read_split(root, "train")
    _dump(birds / "train" / "class_info.pickle", class_ids)
    _dump(birds / "train" / "char-CNN-RNN-embeddings.pickle", embeddings[:5])
    with pytest.raises(DatasetError, match="embeddings.pickle: 5 rows for 6 images; the pickles of one split must "
                                           "be aligned"):
        cub.read_split(root, "train")
    for bad in (embeddings[:, :, :512], embeddings[:, :7], embeddings[:, 0], list(embeddings[:5]) + [np.zeros(3)]):
        _dump(birds / "train" / "char-CNN-RNN-embeddings.pickle", bad)
        with pytest.raises(DatasetError, match=r"must have shape \(images, 10, 1024\), got"):
            cub.read_split(root, "train")
    _dump(birds / "train" / "char-CNN-RNN-embeddings.pickle", embeddings)
    _dump(birds / "train" / "filenames.pickle", {"not": "a list"})
    with pytest.raises(DatasetError, match="filenames.pickle must hold a list of strings"):
        cub.read_split(root, "train")
    _dump(birds / "train" / "filenames.pickle", keys[:5] + ["999.Nobody/here_0001"])
    with pytest.raises(DatasetError, match=r"999.Nobody/here_0001 \(in .*filenames.pickle\) is not listed in "
                                           r".*images.txt \(1 of 6 keys are not\)"):
        cub.read_split(root, "train")


def test_missing_release_names_the_drive_url_and_the_layout(tmp_path, release):
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DatasetError) as info:
        cub.read_split(empty, "train")
    message = str(info.value)
    assert "\n" not in message and cub.EMBEDDINGS_URL in message
    assert f"unzip it into {empty} so that {empty / 'birds'}/{{train,test}}/ hold char-CNN-RNN-embeddings.pickle, " \
           "filenames.pickle and class_info.pickle" in message
    root, birds, _ = release
    (birds / "train" / "char-CNN-RNN-embeddings.pickle").unlink()
    with pytest.raises(DatasetError, match=r"char-CNN-RNN-embeddings.pickle does not exist; the StackGAN embeddings "
                                           r"release is a manual download: get birds.zip from https://drive"):
        cub.read_split(root, "train")


def test_a_hostile_pickle_in_place_of_filenames_is_refused(release):
    root, birds, _ = release
    marker = root / "pwned"
    path = birds / "train" / "filenames.pickle"
    path.write_bytes(b"\x80\x02cos\nsystem\nq\x00U\x0btouch pwnedq\x01\x85R.")
    with pytest.raises(DatasetError, match=f"refusing to unpickle {path}: it asks for os.system, which a StackGAN "
                                           "data pickle never holds"):
        cub.cub_dataset("train", _cfg(), root)
    assert not marker.exists() and not (birds / "train" / "pwned").exists()


# ---------------------------------------------------------------------------
# Files and the CUB archive
# ---------------------------------------------------------------------------
def test_missing_or_broken_photos_are_found_before_streaming(release):
    root, birds, content = release
    images = birds / "CUB_200_2011" / "images"
    keys = content["train"][0]
    (images / f"{keys[4]}.jpg").unlink()
    (images / f"{keys[5]}.jpg").unlink()
    with pytest.raises(DatasetError, match=rf"{keys[4]}.jpg is listed in train/filenames.pickle but does not exist "
                                           r"\(2 of 6 photos are missing\); extract CUB_200_2011.tgz again"):
        cub.cub_dataset("train", _cfg(), root)
    write_release(root)
    path = images / f"{keys[2]}.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=f"cannot read {path}"):
        cub.cub_dataset("train", _cfg(), root)
    write_release(root)
    (birds / "CUB_200_2011" / "bounding_boxes.txt").write_text(
        "\n".join(f"{i} {'100.0 100.0 5.0 5.0' if i == 1 else '1.0 1.0 5.0 5.0'}" for i in range(1, 11)) + "\n")
    with pytest.raises(DatasetError, match=r"the bounding box \(100, 100, 5, 5\) of .* lies outside the 40x30 photo"):
        cub.cub_dataset("train", _cfg(), root)


@pytest.fixture
def archive_server(tmp_path):
    """A local HTTP server offering a small CUB_200_2011.tgz (the real archive's top folder and marker files)."""
    www = tmp_path / "www"
    www.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in (("CUB_200_2011/images.txt", b"1 001.A/a.jpg\n"),
                              ("CUB_200_2011/bounding_boxes.txt", b"1 1.0 2.0 3.0 4.0\n"),
                              ("CUB_200_2011/images/001.A/a.jpg", b"x"), ("attributes.txt", b"1 has_bill\n")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (www / "CUB_200_2011.tgz").write_bytes(buffer.getvalue())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/CUB_200_2011.tgz", hashlib.md5(buffer.getvalue()).hexdigest()
    server.shutdown()


def test_the_cub_archive_is_md5_checked_and_extracted_into_the_cache(tmp_path, monkeypatch, archive_server):
    url, md5 = archive_server
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(cub, "CUB_URL", url)
    monkeypatch.setattr(cub, "CUB_MD5", "0" * 32)
    with pytest.raises(DatasetError, match=f"does not match its pinned checksum md5:{'0' * 32}.*CUB-200-2011 is at"):
        cub.cub_root(None)
    assert not (tmp_path / "cache" / "cub" / "CUB_200_2011.tgz").exists()
    monkeypatch.setattr(cub, "CUB_MD5", md5)
    root = cub.cub_root(tmp_path / "no_birds_here")
    assert root == tmp_path / "cache" / "cub" / "extracted" / "CUB_200_2011"
    assert read_bounding_boxes(root) == {"001.A/a": (1, 2, 3, 4)}
    assert cub.cub_root(None) == root  # second time: from the cache, nothing downloaded


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------
def _expected_hr(path, box, side):
    from gancourse.data.pipeline import to_model_range

    pixels = np.asarray(Image.open(path).convert("RGB"))
    left, top, right, bottom = crop_box(box, pixels.shape[1], pixels.shape[0])
    return to_model_range(tf.constant(pixels[top:bottom, left:right]), side, 3).numpy()


def test_batches_have_the_captions_format_and_the_cropped_photos(release):
    root, birds, content = release
    keys, class_ids, embeddings = content["train"]
    ds = data.load(_cfg(image_size=16, batch_size=2), "train", data_dir=root, shuffle=False)
    batches = list(ds)
    assert len(batches) == 3
    split = cub.read_split(root, "train")
    for b, (lr, hr, embedding, class_id) in enumerate(batches):
        assert hr.shape == (2, 64, 64, 3) and lr.shape == (2, 16, 16, 3) and hr.dtype == lr.dtype == tf.float32
        assert embedding.shape == (2, 1024) and embedding.dtype == tf.float32
        assert class_id.dtype == tf.int32 and class_id.numpy().tolist() == class_ids[2 * b:2 * b + 2]
        for images in (lr, hr):
            assert -1.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
        for i in range(2):
            n = 2 * b + i
            want = _expected_hr(split.paths[n], split.boxes[n], 64)
            assert np.max(np.abs(hr[i].numpy() - want)) <= 1.01 / 127.5  # same crop; JPEG decoders agree to a level
    grey = cub.cub_dataset("train", _cfg(image_size=8, batch_size=6), birds, shuffle=False)
    _, hr, _, _ = next(iter(grey))
    photo = hr[GREY].numpy()  # the greyscale photo, decoded as three equal channels
    assert Image.open(split.paths[GREY]).mode == "L" and not np.array_equal(hr[0, ..., 0], hr[0, ..., 1])
    assert photo.shape == (32, 32, 3) and np.array_equal(photo[..., 0], photo[..., 1])
    assert np.array_equal(photo[..., 1], photo[..., 2])


def test_one_caption_is_one_of_the_images_ten_and_changes_across_epochs(release):
    root, _, content = release
    embeddings = content["train"][2]
    ds = cub.cub_dataset("train", _cfg(), root, shuffle=False)
    epochs = [np.concatenate([e.numpy() for _, _, e, _ in ds]) for _ in range(2)]
    chosen = []
    for epoch in epochs:
        rows = []
        for n, drawn in enumerate(epoch):
            exact = [r for r in range(10) if np.array_equal(drawn, embeddings[n, r])]
            assert len(exact) == 1
            rows.append(exact[0])
        chosen.append(rows)
    assert chosen[0] != chosen[1]


def test_four_captions_average_four_distinct_rows(release):
    root, _, content = release
    embeddings = content["train"][2]
    subsets = np.array(list(itertools.combinations(range(10), 4)))  # 210 subsets of distinct rows
    ds = cub.cub_dataset("train", _cfg(captions_per_step=4), root, shuffle=False)
    picks = []
    for _ in range(2):
        drawn = np.concatenate([e.numpy() for _, _, e, _ in ds])
        for n in range(6):
            means = embeddings[n][subsets].mean(axis=1)  # (210, 1024)
            error = np.abs(means - drawn[n]).max(axis=1)
            best = int(np.argmin(error))
            assert error[best] < 1e-5 and np.sort(error)[1] > 1e-2  # exactly one subset fits
            picks.append(tuple(subsets[best]))
    assert picks[:6] != picks[6:]
    with pytest.raises(ValueError, match="captions_per_step=11 must be between 1 and 10"):
        cub.cub_dataset("train", _cfg(captions_per_step=11), root)


def test_shuffling_is_per_epoch_and_reproducible(release):
    root, _, content = release
    ds = cub.cub_dataset("train", _cfg(batch_size=3, seed=5), root)
    orders = [[int(c) for _, _, _, cls in ds for c in cls] for _ in range(4)]
    assert all(sorted(order) == [1, 1, 1, 2, 2, 2] for order in orders)
    again = cub.cub_dataset("train", _cfg(batch_size=3, seed=5), root)
    first = [hr.numpy() for _, hr, _, _ in again]
    second = [hr.numpy() for _, hr, _, _ in cub.cub_dataset("train", _cfg(batch_size=3, seed=5), root)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    epochs = [np.concatenate([hr.numpy() for _, hr, _, _ in again]) for _ in range(3)]
    assert any(not np.array_equal(epochs[0], e) for e in epochs[1:])  # 3 epochs of 6 photos: a new order
    with pytest.raises(ValueError, match="only 6 images for batch_size=7"):
        cub.cub_dataset("train", _cfg(batch_size=7), root)


def test_jitter_cuts_a_random_square_from_a_larger_resize(release):
    root, _, _ = release
    ds = cub.cub_dataset("train", _cfg(image_size=16, jitter=True), root, shuffle=False)
    epochs = [np.concatenate([hr.numpy() for _, hr, _, _ in ds]) for _ in range(2)]
    assert epochs[0].shape == (6, 64, 64, 3) and not np.array_equal(epochs[0], epochs[1])
    plain = np.concatenate([hr.numpy() for _, hr, _, _ in cub.cub_dataset("test", _cfg(jitter=True), root,
                                                                          shuffle=False)])
    plain2 = np.concatenate([hr.numpy() for _, hr, _, _ in cub.cub_dataset("test", _cfg(), root, shuffle=False)])
    assert np.array_equal(plain, plain2)  # the test split is never jittered


def test_registry_entry(release):
    spec = data.get("cub")
    assert spec.kind == "captions" and not spec.offline and spec.streamed and spec.splits == ("train", "test")
    assert "cub" in data.CAPTION_DATASETS and spec.reads_folder
    with pytest.raises(ValueError, match="cub is a caption dataset of"):
        data.arrays("cub", image_size=16, channels=3)
    root, birds, _ = release
    lr, hr, embedding, class_id = next(iter(spec.load("test", _cfg(image_size=8, batch_size=4), birds)))
    assert lr.shape == (4, 8, 8, 3) and hr.shape == (4, 32, 32, 3) and sorted(class_id.numpy()) == [3, 3, 4, 4]


def test_without_data_dir_the_release_is_looked_for_in_the_cache(release):
    root, _, _ = release
    with pytest.raises(DatasetError, match=f"no StackGAN birds data under {root / 'cache' / 'cub'}: .*birds.zip"):
        cub.read_split(None, "train")
    write_release(root / "cache" / "cub")
    assert cub.birds_root(None) == root / "cache" / "cub" / "birds"
    assert cub.read_split(None, "test").filenames == tuple(_keys()["test"])
