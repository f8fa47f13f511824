"""Paired image-to-image data: the pix2pix datasets and an offline stand-in.

**pix2pix datasets** (facades, maps, edges2shoes, cityscapes, night2day, ...)
are published by the pix2pix authors as ``<name>.tar.gz`` archives at
``http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/`` (the source book
prints the host as ``efrogans``, which does not exist). Each archive holds
``<name>/{train,val,test}/*.jpg``; every JPEG is two images side by side.
For facades (400 / 100 / 106 images of 512x256) the left half is the photo
and the right half the label map, so translating labels to photos takes the
right half as input (``input_side="right"``). For edges2shoes the edges are
on the left (``input_side="left"``).

:func:`pix2pix_dataset` streams a split for training: the files' headers are
checked first (a broken or odd-width file, or a wrong file count for a split
of known size, is an error before training starts), then every pair is
decoded, split into its halves, resized and jittered inside ``tf.data``
(cached decoded when the split fits the memory budget of
:mod:`gancourse.data.pipeline`: facades at 256 px, 629 MB for the training
split, does; edges2handbags, about 137,000 pairs or 215 GB, does not). :func:`read_pairs` and
:func:`load_pix2pix` read a split into arrays with Pillow, for evaluation.

**Offline pairs** (:func:`offline_pairs`) come from photos that scikit-image
ships: each photo is segmented into superpixels, each superpixel joins the
nearest of a few colour classes (fitted on the training photos only), and
every class is painted with a fixed palette colour. The result looks like a
facade label map (flat regions of arbitrary colours), a class means the same
thing in every photo, and the task, label map -> photo patch, is checkable
on held-out scenes: the photo is known for every map.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError, dataset_root
from gancourse.data.files import check_images, list_images, unreadable
from gancourse.data.pipeline import (batches, check_batch, example_bytes, read_rgb, stream_files, to_model_range,
                                     to_unit_range, with_channels)

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
SPLIT_SIZES = {"facades": {"train": 400, "val": 100, "test": 106}}
INPUT_SIDE = {"facades": "right", "maps": "right", "edges2shoes": "left", "edges2handbags": "left",
              "cityscapes": "right", "night2day": "left"}
SPLITS = ("train", "val", "test")
FIX_ADVICE = "delete the dataset folder and download it again"


def split_pair(image: np.ndarray, input_side: str = "right") -> tuple[np.ndarray, np.ndarray]:
    """Cut a side-by-side ``(H, 2W, C)`` image into ``(input, target)``."""
    if input_side not in ("left", "right"):
        raise ValueError(f"input_side must be 'left' or 'right', got {input_side!r}")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[1] % 2:
        raise ValueError(f"a pix2pix pair image is (H, 2W, C) with an even width, got shape {image.shape}")
    half = image.shape[1] // 2
    left, right = image[:, :half], image[:, half:]
    return (right, left) if input_side == "right" else (left, right)


def pair_files(root: str | Path, split: str, *, expected: int | None = None) -> list[Path]:
    """The sorted pair images of ``root/<split>``, each file's header checked.

    ``expected`` checks the number of files (a truncated download is an
    error, not a smaller dataset).

    Raises:
        ValueError: unknown split.
        DatasetError: the folder is missing or empty, holds the wrong number
            of files, or holds a file that is not a readable image of even width.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = Path(root) / split
    files = list_images(folder, "pix2pix split folder", f"the dataset must hold <root>/{split}/*.jpg "
                        "(delete the folder to download it again)")
    if expected is not None and len(files) != expected:
        raise DatasetError(f"{folder} holds {len(files)} images, the dataset has {expected}; the download is "
                           "incomplete or modified: delete the folder and download it again")
    check_images(files, FIX_ADVICE, even_width=True)
    return files


def read_pairs(root: str | Path, split: str, *, image_size: int = 256, input_side: str = "right",
               expected: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read ``root/<split>/*.jpg`` pair images as ``(inputs, targets)``, float32 in ``[-1, 1]``.

    Files (:func:`pair_files`) are read in sorted order with Pillow, converted
    to RGB and resized to ``image_size`` (bilinear) when needed.
    """
    from PIL import Image, UnidentifiedImageError

    inputs, targets = [], []
    for path in pair_files(root, split, expected=expected):
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                img.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise unreadable(path, exc, FIX_ADVICE) from exc
        a, b = split_pair(np.asarray(img), input_side)
        if a.shape[0] != image_size or a.shape[1] != image_size:
            a = np.asarray(Image.fromarray(a).resize((image_size, image_size), Image.BILINEAR))
            b = np.asarray(Image.fromarray(b).resize((image_size, image_size), Image.BILINEAR))
        inputs.append(a)
        targets.append(b)
    return to_unit_range(np.stack(inputs)), to_unit_range(np.stack(targets))


def pix2pix_root(name: str = "facades", data_dir: str | Path | None = None) -> Path:
    """The folder holding ``train/val/test`` of a pix2pix dataset, downloaded and extracted on first use.

    With ``data_dir`` the dataset is expected at ``data_dir/<name>`` (or
    ``data_dir`` itself) and nothing is downloaded.
    """
    return dataset_root(name, PIX2PIX_URL.format(name=name), marker="train", data_dir=data_dir, subdir="pix2pix")


def load_pix2pix(name: str = "facades", split: str = "train", *, image_size: int = 256,
                 data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` of a pix2pix dataset split, float32 in ``[-1, 1]`` (see the module docstring)."""
    expected = SPLIT_SIZES.get(name, {}).get(split)
    return read_pairs(pix2pix_root(name, data_dir), split, image_size=image_size,
                      input_side=INPUT_SIDE.get(name, "right"), expected=expected)


def random_jitter(inputs, targets, image_size: int, seed=None):
    """pix2pix augmentation: resize to ``image_size * 286 / 256`` (nearest), the same random
    ``image_size`` crop and the same random horizontal flip for input and target.

    Works on one pair ``(H, W, C)`` inside ``tf.data`` (``seed`` is a stateless
    ``(2,)`` seed or ``None``).
    """
    import tensorflow as tf

    big = int(round(image_size * 286 / 256))
    stacked = tf.stack([inputs, targets])
    stacked = tf.image.resize(stacked, (big, big), method="nearest")
    channels = tf.shape(stacked)[-1]
    if seed is None:
        stacked = tf.image.random_crop(stacked, tf.stack([2, image_size, image_size, channels]))
        flip = tf.random.uniform(()) > 0.5
    else:
        stacked = tf.image.stateless_random_crop(stacked, tf.stack([2, image_size, image_size, channels]), seed=seed)
        flip = tf.random.stateless_uniform((), seed=seed[::-1]) > 0.5
    stacked = tf.cond(flip, lambda: tf.reverse(stacked, axis=[2]), lambda: stacked)
    return stacked[0], stacked[1]


def jitter_pairs(ds, image_size: int, seed: int):
    """``ds`` of ``(input, target)`` pairs with :func:`random_jitter` applied to each.

    The jitter is stateless with one seed pair per example, drawn from a
    ``seed``-ed random dataset that draws anew every epoch: the same seed gives
    the same batches, and every epoch gets new crops and flips.
    """
    import tensorflow as tf

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds)).map(lambda pair, s: random_jitter(pair[0], pair[1], image_size, seed=s),
                                                num_parallel_calls=tf.data.AUTOTUNE)


def paired_dataset(inputs: np.ndarray, targets: np.ndarray, batch_size: int, *, jitter: bool = False,
                   shuffle: bool = True, seed: int = 0):
    """A batched ``tf.data.Dataset`` of ``(input, target)`` arrays, jittered for training when asked."""
    import tensorflow as tf

    if len(inputs) != len(targets) or inputs.shape[1:3] != targets.shape[1:3]:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must be aligned pairs")
    check_batch(len(inputs), batch_size)
    ds = tf.data.Dataset.from_tensor_slices((inputs.astype(np.float32), targets.astype(np.float32)))
    then = (lambda d: jitter_pairs(d, inputs.shape[1], seed)) if jitter else None
    return batches(ds, len(inputs), batch_size, shuffle=shuffle, seed=seed, then=then)


def decode_pair(path, image_size: int, channels: int = 3, input_side: str = "right"):
    """``tf`` decoding of one side-by-side pair file into ``(input, target)``, each
    ``float32`` ``(image_size, image_size, channels)`` in ``[-1, 1]`` (bilinear
    resize, as :func:`read_pairs`)."""
    import tensorflow as tf

    if input_side not in ("left", "right"):
        raise ValueError(f"input_side must be 'left' or 'right', got {input_side!r}")
    image = read_rgb(path)
    half = tf.shape(image)[1] // 2
    left, right = image[:, :half], image[:, half:]
    first, second = (right, left) if input_side == "right" else (left, right)
    return to_model_range(first, image_size, channels), to_model_range(second, image_size, channels)


def stream_pairs(files, batch_size: int, *, image_size: int, channels: int = 3, input_side: str = "right",
                 jitter: bool = False, shuffle: bool = True, seed: int = 0, cache_budget: int | None = None):
    """A batched ``tf.data.Dataset`` of ``(input, target)`` pairs decoded from pair ``files``
    inside ``tf.data`` (:func:`gancourse.data.pipeline.stream_files`), jittered after the cache
    when asked (:func:`jitter_pairs`).

    With the same files, seed and settings it yields the same batches as
    :func:`paired_dataset` over :func:`read_pairs`' arrays.
    """
    return stream_files(files, lambda path: decode_pair(path, image_size, channels, input_side),
                        batch_size=batch_size, bytes_per_example=example_bytes(image_size, channels, images=2),
                        shuffle=shuffle, seed=seed, cache_budget=cache_budget,
                        augment=(lambda d: jitter_pairs(d, image_size, seed)) if jitter else None)


def pix2pix_dataset(name: str, split: str, cfg, data_dir: str | Path | None = None, *, shuffle: bool = True,
                    cache_budget: int | None = None):
    """A pix2pix dataset split streamed for training (see the module docstring).

    ``cfg`` is any object with ``image_size``, ``channels``, ``batch_size``,
    ``seed`` and optionally ``jitter``. Batches are ``(input, target)``, each
    ``float32`` ``(batch_size, image_size, image_size, channels)`` in ``[-1, 1]``.

    Raises:
        DatasetError: the dataset is missing (and cannot be downloaded), or a
            file is broken, or a split of known size has the wrong count.
    """
    files = pair_files(pix2pix_root(name, data_dir), split, expected=SPLIT_SIZES.get(name, {}).get(split))
    return stream_pairs(files, cfg.batch_size, image_size=cfg.image_size, channels=cfg.channels,
                        input_side=INPUT_SIDE.get(name, "right"), jitter=getattr(cfg, "jitter", False),
                        shuffle=shuffle, seed=cfg.seed, cache_budget=cache_budget)


def offline_dataset(split: str, cfg, *, shuffle: bool = True):
    """:func:`offline_pairs` at ``cfg.image_size`` as a batched dataset (in memory; it is small),
    converted to ``cfg.channels`` and jittered when ``getattr(cfg, "jitter", False)``."""
    inputs, targets = offline_pairs(split, cfg.image_size)
    inputs, targets = with_channels(inputs, cfg.channels), with_channels(targets, cfg.channels)
    return paired_dataset(inputs, targets, cfg.batch_size, jitter=getattr(cfg, "jitter", False),
                          shuffle=shuffle, seed=cfg.seed)


# ---------------------------------------------------------------------------
# Offline pairs from scikit-image's photos
# ---------------------------------------------------------------------------
OFFLINE_TRAIN = ("astronaut", "coffee", "rocket", "immunohistochemistry")
OFFLINE_TEST = ("chelsea",)
PALETTE = np.array([[0, 0, 170], [0, 85, 255], [0, 170, 255], [85, 255, 170], [170, 255, 85], [255, 170, 0],
                    [255, 85, 0], [170, 0, 0]], np.uint8)  # arbitrary class colours, as in facade label maps


@functools.lru_cache(maxsize=8)
def _superpixels(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A scikit-image photo at about 256 px on the short side, its SLIC superpixels and their mean colours."""
    import skimage.data
    from PIL import Image
    from skimage.segmentation import slic

    photo = getattr(skimage.data, name)()[..., :3]
    scale = 256 / min(photo.shape[:2])
    size = (int(photo.shape[1] * scale), int(photo.shape[0] * scale))
    photo = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
    segments = slic(photo, n_segments=300, compactness=10, start_label=0)
    means = np.stack([photo[segments == s].mean(axis=0) for s in range(segments.max() + 1)]) / 255.0
    return photo, segments, means


@functools.lru_cache(maxsize=4)
def _class_centres(classes: int, seed: int) -> np.ndarray:
    """k-means colour classes fitted on the training photos' superpixels only, darkest first."""
    from scipy.cluster.vq import kmeans2

    pooled = np.concatenate([_superpixels(name)[2] for name in OFFLINE_TRAIN])
    centres, _ = kmeans2(pooled, classes, seed=seed, minit="++")
    return centres[np.argsort(centres.sum(axis=1))]


def _label_map(name: str, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    photo, segments, means = _superpixels(name)
    centres = _class_centres(classes, seed)
    nearest = np.argmin(((means[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    return PALETTE[nearest[segments]], photo


def offline_pairs(split: str = "train", image_size: int = 32, n: int | None = None, classes: int = 6,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(label maps, photo patches)`` cut from scikit-image's photos, float32 in ``[-1, 1]``.

    Each photo is cut into SLIC superpixels, and each superpixel is labelled
    with the nearest of ``classes`` colour classes (k-means centres fitted on
    the training photos only) and painted in that class's palette colour, like
    the label maps of the facades dataset. A class means the same thing in
    every photo, so the label map says roughly what colour goes where and the
    model has to supply shading and texture. ``train`` crops come from four
    photos and ``test`` crops from a fifth one (held out), so test pairs are
    new scenes. Crops are random, reproducible
    with ``seed``; ``n`` defaults to 800 for train and 160 for test.
    """
    if split not in ("train", "test"):
        raise ValueError(f"offline pairs have 'train' and 'test' splits, got {split!r}")
    if classes > len(PALETTE):
        raise ValueError(f"classes must be <= {len(PALETTE)}, got {classes}")
    names = OFFLINE_TRAIN if split == "train" else OFFLINE_TEST
    n = n or (800 if split == "train" else 160)
    rng = np.random.default_rng(seed + (0 if split == "train" else 1000))
    maps = [_label_map(name, classes, 0) for name in names]
    inputs, targets = [], []
    for i in range(n):
        labels, photo = maps[i % len(maps)]
        top = rng.integers(0, photo.shape[0] - image_size + 1)
        left = rng.integers(0, photo.shape[1] - image_size + 1)
        inputs.append(labels[top:top + image_size, left:left + image_size])
        targets.append(photo[top:top + image_size, left:left + image_size])
    return to_unit_range(np.stack(inputs)), to_unit_range(np.stack(targets))
