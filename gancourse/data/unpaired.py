"""Unpaired image-to-image data: the CycleGAN datasets and an offline stand-in with a hidden ground truth.

**CycleGAN datasets** (monet2photo, horse2zebra, summer2winter_yosemite,
apple2orange, ...) are published by the CycleGAN authors as ``<name>.zip`` at
``http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/`` (the address printed
in the source books, on ``people.eecs.berkeley.edu/~taesung_park``, is
retired). Each archive holds ``<name>/{trainA,trainB,testA,testB}/*.jpg``: two
collections of 256x256 JPEGs with no correspondence between them. Folder sizes
that could be checked against published split sizes are asserted when a split
is opened (:data:`FOLDER_SIZES`: monet2photo's 1,072 / 6,287 / 121 / 751).

**The unaligned loader** (:func:`unaligned_dataset`) draws the two domains as
two independently shuffled streams: an epoch has ``max(|A|, |B|) // batch``
batches, the shorter domain is repeated (reshuffled at every pass), and every
draw of an image gets its own random horizontal flip (and, with ``jitter``,
the paper's resize to ``286/256`` of the size and random crop back to it). The
source book instead pairs ``A[i]`` with ``B[i]`` in a fixed order, so only the
first ``|A|`` images of B are ever loaded, and decides each flip once at load
time. Real datasets are streamed from their files
(:func:`gancourse.data.pipeline.decoded_examples`); arrays are kept in memory.

**Offline unpaired data with a hidden ground truth** (:func:`offline_unpaired`):
domain A is crops of photos that the dependencies ship (scikit-image,
scikit-learn, Matplotlib), domain B is crops of the same kind rendered through
:func:`paint`, a fixed, local "painting" transformation (median smoothing,
a warmer, more saturated palette, soft posterisation, dark edges). Training
crops of A come from one half of each training photo and crops of B from the
other half, so the two domains show the same kind of scenes but no training
pixel is ever seen both as a photo and as a painting. Test crops come from
photos held out of training, and keep both versions: the painting of each
test photo and the photo behind each test painting, so a translation can be
scored against the truth (L1, PSNR, SSIM), which the real datasets cannot do.
:func:`offline_paired` gives the same crops with their true partners, for a
paired model (pix2pix) as the upper bound.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError, dataset_root
from gancourse.data.files import check_images, list_images
from gancourse.data.pipeline import (check_batch, decoded_examples, example_bytes, read_rgb, resize, to_model_range,
                                     to_unit_range)

CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
CYCLEGAN_DATASETS = ("monet2photo", "horse2zebra", "summer2winter_yosemite", "apple2orange", "vangogh2photo",
                     "cezanne2photo", "ukiyoe2photo")
# Folder sizes checked against published split sizes: monet2photo from TensorFlow Datasets' cycle_gan
# (spec 4.1), horse2zebra's horses from the Hugging Face copy of the archive (its zebra count is not confirmed).
FOLDER_SIZES = {"monet2photo": {"trainA": 1072, "trainB": 6287, "testA": 121, "testB": 751},
                "horse2zebra": {"trainA": 1067, "testA": 120}}
SPLITS = ("train", "test")
FIX_ADVICE = "delete the dataset folder and download it again"
JITTER_SCALE = 286 / 256  # the paper's load size over its crop size


# ---------------------------------------------------------------------------
# The CycleGAN datasets
# ---------------------------------------------------------------------------
def cyclegan_root(name: str = "monet2photo", data_dir: str | Path | None = None) -> Path:
    """The folder holding ``trainA/trainB/testA/testB`` of a CycleGAN dataset, downloaded and extracted
    (:func:`gancourse.data.cache.safe_extract`) on first use.

    With ``data_dir`` the dataset is expected at ``data_dir/<name>`` (or ``data_dir``
    itself) and nothing is downloaded.

    Raises:
        DatasetError: the dataset is not under ``data_dir``, or cannot be
            downloaded, or the archive is corrupt or lacks ``<name>/trainA``.
    """
    # The authors publish no checksums; the folder sizes are checked instead when a split is opened.
    return dataset_root(name, CYCLEGAN_URL.format(name=name), marker="trainA", data_dir=data_dir, subdir="cyclegan",
                        advice=f"(unzip {CYCLEGAN_URL.format(name=name)} there)")


def domain_files(root: str | Path, split: str = "train", *, name: str | None = None) -> tuple[list, list]:
    """The sorted image files of ``root/<split>A`` and ``root/<split>B``, every header checked.

    ``name`` (default: the folder's name) picks the expected folder sizes of
    :data:`FOLDER_SIZES`; a folder of another size is an error, not a smaller dataset.

    Raises:
        ValueError: unknown split.
        DatasetError: a folder is missing or empty, has the wrong number of
            images, or holds a file that is not a readable image.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    expected = FOLDER_SIZES.get(name or root.name, {})
    found = []
    for domain in ("A", "B"):
        folder = root / f"{split}{domain}"
        files = list_images(folder, "CycleGAN folder", f"the dataset must hold <root>/{split}{domain}/*.jpg "
                            "(delete the folder to download it again)")
        want = expected.get(folder.name)
        if want is not None and len(files) != want:
            raise DatasetError(f"{folder} holds {len(files)} images, {name or root.name}'s {folder.name} has "
                               f"{want}; the download is incomplete or modified: {FIX_ADVICE}")
        check_images(files, FIX_ADVICE)
        found.append(files)
    return found[0], found[1]


def read_images(files, image_size: int, channels: int = 3) -> np.ndarray:
    """Image ``files`` as one float32 ``(N, image_size, image_size, channels)`` array in ``[-1, 1]``,
    decoded and resized as the streaming loader does (for evaluation and previews)."""
    import tensorflow as tf

    files = [str(path) for path in files]
    ds = tf.data.Dataset.from_tensor_slices(files).map(lambda p: to_model_range(read_rgb(p), image_size, channels))
    return np.stack([image.numpy() for image in ds]) if files else np.zeros((0, image_size, image_size, channels),
                                                                               np.float32)


def load_unpaired(name: str = "monet2photo", split: str = "test", *, image_size: int = 128, channels: int = 3,
                  n: int | None = None, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` arrays of a CycleGAN dataset split (the first ``n`` sorted files of each domain when
    ``n`` is given), float32 in ``[-1, 1]``; for evaluation and previews, not for training."""
    files_a, files_b = domain_files(cyclegan_root(name, data_dir), split, name=name)
    return read_images(files_a[:n], image_size, channels), read_images(files_b[:n], image_size, channels)


def unpaired_dataset(name: str, split: str, cfg, data_dir: str | Path | None = None, *, shuffle: bool = True,
                     cache_budget: int | None = None):
    """A CycleGAN dataset split streamed as ``(a_batch, b_batch)`` by :func:`unaligned_dataset`.

    ``cfg`` is any object with ``image_size``, ``channels``, ``batch_size``,
    ``seed`` and optionally ``jitter`` (the ``paper`` preset) and ``flip``
    (default ``True``). Flips and jitter apply to the ``train`` split only.

    Raises:
        DatasetError: the dataset is missing (and cannot be downloaded), a file
            is broken, or a folder of known size has the wrong count.
    """
    files_a, files_b = domain_files(cyclegan_root(name, data_dir), split, name=name)
    train = split == "train"
    return unaligned_dataset(files_a, files_b, cfg.batch_size, seed=cfg.seed, shuffle=shuffle,
                             flip=train and getattr(cfg, "flip", True), jitter=train and getattr(cfg, "jitter", False),
                             image_size=cfg.image_size, channels=cfg.channels, cache_budget=cache_budget)


# ---------------------------------------------------------------------------
# The unaligned loader
# ---------------------------------------------------------------------------
def _is_arrays(source) -> bool:
    return isinstance(source, np.ndarray) or hasattr(source, "numpy")


def _domain(source, what: str, *, image_size, channels, load_size, shuffle, repeat, seed, cache_budget):
    """One domain's unbatched, shuffled (and repeated) stream of images at ``load_size``."""
    import tensorflow as tf

    if _is_arrays(source):
        images = np.asarray(source, dtype=np.float32)
        if images.ndim != 4 or not len(images):
            raise ValueError(f"domain {what} must be a non-empty (N, H, W, C) array, got shape {images.shape}")
        images = resize(images, load_size) if load_size else images
        n = len(images)
        ds = tf.data.Dataset.from_tensor_slices(images)
        if shuffle:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    else:
        files = [str(path) for path in source]
        if not files:
            raise ValueError(f"domain {what} has no files")
        if image_size is None:
            raise ValueError("image_size is needed to stream image files")
        n = len(files)
        ds = decoded_examples(files, lambda path: to_model_range(read_rgb(path), load_size, channels),
                              bytes_per_example=example_bytes(load_size, channels), shuffle=shuffle, seed=seed,
                              cache_budget=cache_budget)
    return (ds.repeat() if repeat else ds), n


def _augment(image, seed, image_size: int, flip: bool, crop: bool):
    """One image's random crop to ``image_size`` (when ``crop``) and horizontal flip (when ``flip``),
    stateless with the ``(2,)`` seed."""
    import tensorflow as tf

    if crop:
        image = tf.image.stateless_random_crop(image, tf.stack([image_size, image_size, tf.shape(image)[-1]]),
                                               seed=seed)
    if flip:
        image = tf.cond(tf.random.stateless_uniform((), seed=seed[::-1]) > 0.5,
                        lambda: tf.reverse(image, axis=[1]), lambda: image)
    return image


def unaligned_dataset(a, b, batch_size: int, *, seed: int = 0, flip: bool = True, jitter: bool = False,
                      image_size: int | None = None, channels: int = 3, shuffle: bool = True,
                      cache_budget: int | None = None):
    """A ``tf.data.Dataset`` of ``(a_batch, b_batch)`` from two unrelated collections.

    Args:
        a, b: each a float32 ``(N, H, W, C)`` array in ``[-1, 1]`` (kept in
            memory) or a list of image file paths (streamed: decoded inside
            ``tf.data``, cached decoded when small, see
            :func:`gancourse.data.pipeline.decoded_examples`).
        batch_size: images per domain per batch; the last incomplete batch is dropped.
        seed: makes the shuffles, flips and crops reproducible.
        flip: a random horizontal flip for every image at every draw.
        jitter: resize to ``round(image_size * 286 / 256)`` (bilinear; the
            reference code uses bicubic) and crop a random
            ``image_size`` square (the paper's 286 -> 256 at 256 px), anew at every draw.
        image_size: the output size (arrays: default their own size, resized
            when it differs; files: required).
        channels: channels of decoded files (1 or 3).
        shuffle: shuffle both domains, independently, every epoch.
        cache_budget: bytes a streamed domain may keep decoded (default
            :data:`gancourse.data.pipeline.CACHE_BUDGET_BYTES`).

    An epoch has ``max(|A|, |B|) // batch_size`` batches: the longer domain is
    drawn once (all of it when its size is a multiple of ``batch_size``) and
    the shorter one is repeated, reshuffled at every pass. Each domain has its
    own shuffle seed, so the order of A says nothing about the order of B.

    Raises:
        ValueError: an empty domain, the longer domain smaller than one batch,
            or files without ``image_size``.
    """
    import tensorflow as tf

    if image_size is None and _is_arrays(a):
        image_size = int(np.asarray(a).shape[1])
    load_size = int(round(image_size * JITTER_SCALE)) if jitter else image_size
    sizes = [len(a), len(b)]
    longest = max(sizes)
    check_batch(longest, batch_size)
    streams = []
    for k, (source, what) in enumerate(((a, "A"), (b, "B"))):
        ds, _ = _domain(source, what, image_size=image_size, channels=channels, load_size=load_size,
                        shuffle=shuffle, repeat=sizes[k] < longest, seed=seed * 2 + k, cache_budget=cache_budget)
        streams.append(ds)
    pairs = tf.data.Dataset.zip(tuple(streams))  # ends with the longer (finite) domain
    if flip or jitter:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)

        def augment(images, s):
            return (_augment(images[0], s[:2], image_size, flip, jitter),
                    _augment(images[1], s[2:], image_size, flip, jitter))

        pairs = tf.data.Dataset.zip((pairs, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return pairs.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def book_aligned(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The source book's loader, for showing its defects: ``(a, b)`` arrays as the book loads them.

    The book walks the list of A images and pairs ``A[i]`` with ``B[i]``, so
    only the first ``|A|`` images of B are ever used and the pairing never
    changes; each pair is flipped (both images together) with probability 0.5,
    decided once here and then frozen for the whole training. Use
    :func:`unaligned_dataset` to train.

    Raises:
        ValueError: B has fewer images than A (the book's loop would fail with an IndexError).
    """
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if len(b) < len(a):
        raise ValueError(f"the book's loader pairs A[i] with B[i]: B needs at least |A| = {len(a)} images, "
                         f"it has {len(b)}")
    b = b[:len(a)]
    flip = np.random.default_rng(seed).random(len(a)) < 0.5
    return np.where(flip[:, None, None, None], a[:, :, ::-1], a), np.where(flip[:, None, None, None], b[:, :, ::-1], b)


# ---------------------------------------------------------------------------
# The painting transformation
# ---------------------------------------------------------------------------
PAINT_LEVELS = 5  # posterisation levels per channel
PAINT_SATURATION = 1.5  # colour distance from the grey of each pixel, multiplied
PAINT_WARMTH = np.array([0.06, 0.02, -0.06], np.float32)  # added to R, G, B in [0, 1]
PAINT_EDGE = (0.08, 0.25, 0.65)  # Sobel magnitude where darkening starts, where it is full, and how dark
PAINT_RADIUS = 2  # pixels of context one output pixel depends on (3x3 median, then 3x3 Sobel)


def paint(images) -> np.ndarray:
    """The fixed "painting" of photos: float32 ``(N, H, W, 3)`` in ``[-1, 1]`` in and out.

    Per image, vectorised over the batch (NumPy and SciPy), with no parameter
    fitted to any data:

    1. a 3x3 median filter per channel (flattens texture into strokes);
    2. a warmer, more saturated palette: each pixel's distance from its grey
       level times :data:`PAINT_SATURATION`, plus :data:`PAINT_WARMTH`;
    3. soft posterisation to :data:`PAINT_LEVELS` levels per channel (a
       continuous staircase: flat bands joined by short ramps);
    4. dark outlines: the Sobel gradient magnitude of the smoothed image's grey
       level darkens the pixel, by up to 65 % (:data:`PAINT_EDGE`).

    Every output pixel depends only on the input pixels within
    :data:`PAINT_RADIUS` (2) of it, the same way everywhere (borders are
    reflected), so painting a crop equals cropping the painted image away from
    the crop's border, and a small convolutional network can learn the map.
    The map is many-to-one (posterisation), so the photo cannot be recovered
    exactly from its painting.
    """
    from scipy import ndimage

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"paint takes RGB images (N, H, W, 3) in [-1, 1], got shape {images.shape}")
    x = (images + 1.0) / 2.0
    x = ndimage.median_filter(x, size=(1, 3, 3, 1), mode="reflect")
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = ndimage.sobel(grey, axis=2, mode="reflect")
    gy = ndimage.sobel(grey, axis=1, mode="reflect")
    edges = np.sqrt(gx * gx + gy * gy) / 8.0  # Sobel's weights sum to 8 per side: a unit step gives 0.5
    x = np.clip(grey[..., None] + PAINT_SATURATION * (x - grey[..., None]) + PAINT_WARMTH, 0.0, 1.0)
    steps = x * (PAINT_LEVELS - 1)
    base = np.floor(steps)
    ramp = np.clip((steps - base - 0.5) * 3.0 + 0.5, 0.0, 1.0)  # a ramp over the middle third of each step
    x = (base + ramp * ramp * (3.0 - 2.0 * ramp)) / (PAINT_LEVELS - 1)
    start, full, depth = PAINT_EDGE
    x = x * (1.0 - depth * np.clip((edges - start) / (full - start), 0.0, 1.0))[..., None]
    return (np.clip(x, 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


# ---------------------------------------------------------------------------
# Offline unpaired data from the photos the dependencies ship
# ---------------------------------------------------------------------------
OFFLINE_TRAIN = ("astronaut", "coffee", "rocket", "motorcycle", "china", "flower")
OFFLINE_TEST = ("chelsea", "grace_hopper")
OFFLINE_N = {"train": 400, "test": 100}
CROP_FRACTION = (0.25, 0.5)  # crop side, as a fraction of the photo's short side


@functools.lru_cache(maxsize=16)
def _photo(name: str) -> np.ndarray:
    """A colour photo shipped by scikit-image, scikit-learn or Matplotlib, uint8 ``(H, W, 3)``."""
    if name == "motorcycle":
        import skimage.data

        return skimage.data.stereo_motorcycle()[0]
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"))
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    import skimage.data

    return getattr(skimage.data, name)()[..., :3]


def offline_crops(split: str = "train", n: int | None = None, seed: int = 0) -> dict[str, list[tuple]]:
    """Where the offline crops come from: ``{"a": boxes, "b": boxes}``, each box ``(photo, top, left, side)``.

    ``train``: domain A boxes lie in one half of each training photo
    (:data:`OFFLINE_TRAIN`) and domain B boxes in the other half (left and
    right halves alternate between photos), so no training pixel is in both
    domains. ``test``: boxes anywhere in the held-out photos
    (:data:`OFFLINE_TEST`). Box sides are uniform in :data:`CROP_FRACTION` of
    the photo's short side (capped by the half's width); positions are
    uniform. Reproducible with ``seed``; ``n`` boxes per domain (default
    :data:`OFFLINE_N`).
    """
    if split not in SPLITS:
        raise ValueError(f"offline unpaired data has 'train' and 'test' splits, got {split!r}")
    n = OFFLINE_N[split] if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    names = OFFLINE_TRAIN if split == "train" else OFFLINE_TEST
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    boxes: dict[str, list[tuple]] = {"a": [], "b": []}
    for d, domain in enumerate(("a", "b")):
        for i in range(n):
            k = i % len(names)
            height, width = _photo(names[k]).shape[:2]
            x0, x1 = 0, width
            if split == "train":  # photo k: A from its left half when k is even, from its right half when odd
                x0, x1 = (0, width // 2) if (k + d) % 2 == 0 else (width // 2, width)
            low, high = (int(f * min(height, width)) for f in CROP_FRACTION)
            side = int(rng.integers(low, min(high, x1 - x0) + 1))
            top = int(rng.integers(0, height - side + 1))
            left = int(rng.integers(x0, x1 - side + 1))
            boxes[domain].append((names[k], top, left, side))
    return boxes


def _cut(boxes, image_size: int) -> np.ndarray:
    from PIL import Image

    crops = [np.asarray(Image.fromarray(_photo(name)[top:top + side, left:left + side]).resize(
        (image_size, image_size), Image.BILINEAR)) for name, top, left, side in boxes]
    return to_unit_range(np.stack(crops))


def offline_unpaired(split: str = "train", image_size: int = 32, n: int | None = None, seed: int = 0):
    """Offline unpaired photos (domain A) and paintings (domain B), float32 ``(n, S, S, 3)`` in ``[-1, 1]``.

    ``train`` returns ``(a, b)``: ``a`` photo crops and ``b`` = :func:`paint` of
    photo crops from the other halves of the same photos (see
    :func:`offline_crops`): no training photo is ever seen painted. ``test``
    returns ``(a, a_true_b, b, b_true_a)`` from held-out photos: photo crops
    with their true paintings (``a_true_b == paint(a)``) and paintings with
    the photo crops they were painted from (``b == paint(b_true_a)``). Crops are
    resized to ``image_size`` (bilinear) before painting. ``n`` images per
    domain (default :data:`OFFLINE_N`: 400 train, 100 test), reproducible with ``seed``.
    """
    boxes = offline_crops(split, n, seed)
    a, b_source = _cut(boxes["a"], image_size), _cut(boxes["b"], image_size)
    b = paint(b_source)
    if split == "train":
        return a, b
    return a, paint(a), b, b_source


def offline_paired(split: str = "train", image_size: int = 32, n: int | None = None, seed: int = 0,
                   direction: str = "a2b") -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` true pairs of the offline data, for a paired model (pix2pix) as the upper bound.

    ``a2b``: domain A's crops of :func:`offline_unpaired` (same ``split``,
    ``image_size``, ``n``, ``seed``) and their paintings; ``b2a``: domain B's
    paintings and the photo crops they were painted from. The paired model
    thus sees exactly the photos (or paintings) the unpaired one sees, with
    their partners revealed.
    """
    if direction not in ("a2b", "b2a"):
        raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
    boxes = offline_crops(split, n, seed)["a" if direction == "a2b" else "b"]
    photos = _cut(boxes, image_size)
    return (photos, paint(photos)) if direction == "a2b" else (paint(photos), photos)


def offline_dataset(split: str, cfg, *, shuffle: bool = True):
    """:func:`offline_unpaired` at ``cfg.image_size`` as an :func:`unaligned_dataset` of ``(a, b)``
    batches (in memory; test: the held-out photos and paintings), flipped (and jittered when
    ``getattr(cfg, "jitter", False)``) on the train split only."""
    if getattr(cfg, "channels", 3) != 3:
        raise ValueError(f"the offline unpaired data is RGB; set channels=3 (got {cfg.channels})")
    data = offline_unpaired(split, cfg.image_size, seed=0)
    a, b = (data[0], data[2]) if split == "test" else data
    train = split == "train"
    return unaligned_dataset(a, b, cfg.batch_size, seed=cfg.seed, shuffle=shuffle,
                             flip=train and getattr(cfg, "flip", True), jitter=train and getattr(cfg, "jitter", False))
