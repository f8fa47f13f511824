"""Super-resolution data: ``(lr, hr)`` pairs where the low-resolution image is made from the high-resolution one.

**The degradation** (:func:`degrade`) is the one every dataset here uses: a
bicubic, antialiased downscaling by :data:`SCALE` (4) of the HR image,
``tf.image.resize(..., method="bicubic", antialias=True)``, clipped to
``[-1, 1]``, the setting of Ledig et al. (MATLAB's ``imresize`` is also
bicubic and antialiased). The LR image is always derived from the final HR
image (after its crop, resize and flip), inside the pipeline, so the two are
consistent: the source book instead resizes the original photo twice, to 256
and to 64 px, independently.

**CelebA** (``celeba``): the aligned faces, ``img_align_celeba.zip`` (202,599
JPEGs of 178x218, width x height), are behind a manual download from the
project page (:data:`CELEBA_PAGE`; non-commercial research licence). Pass the
zip or its extracted folder as ``data_dir`` (CLI: ``--data``); a zip is
extracted next to itself with :func:`gancourse.data.cache.safe_extract` once.
Each face is cut to its central 178x178 square (:func:`celeba_square`), then
either resized to the HR size (bicubic, antialiased, rounded to whole grey
levels) or, with ``cfg.random_crop`` (the ``paper`` preset), cropped at a
random ``cfg.image_size`` square at native resolution. The splits are CelebA's
official partition by file number (:data:`CELEBA_PARTITION`).

**Any folder of images** (``sr_folder``): DIV2K's ``DIV2K_train_HR``, your
photos. Every image must be at least the HR size on its short side (an HR image
made by upscaling would be interpolated, not real detail). One image in ten,
chosen by a hash of its file name (so adding images moves no other image
between splits), forms the ``val`` split. Without ``random_crop`` the central
square is resized to the HR size; with it, random HR crops come from the whole
image at native resolution.

**Offline** (``offline_sr``, :func:`offline_sr`): HR crops of real photos that
scikit-image, scikit-learn and Matplotlib ship. Each photo is first shrunk by a
few random factors (so that a crop can hold whole objects, not only texture at
the camera's resolution; the HR image is never enlarged), crops are cut at
random positions, and crops with little detail (low grey-level variance, or
little of the detail a x4 box average loses) are rejected. The ``test`` crops
come only from photos never used for ``train`` (:data:`OFFLINE_TRAIN`,
:data:`OFFLINE_TEST`).

**Standard test sets** (:func:`benchmark_images`, :func:`benchmark_pairs`):
Set5, Set14, BSD100 read from a folder, either plain images or the common
``image_SRF_4/*_HR.png`` layout; each HR image is cropped to a multiple of the
scale ("modcrop"), and its LR image is made by :func:`degrade`.

Training pipelines yield ``(lr_batch, hr_batch)`` float32 in ``[-1, 1]``; a
random left-right flip (``cfg.flip``, train split only) flips HR and LR
together, because the LR image is computed from the flipped HR image.
"""

from __future__ import annotations

import functools
import os
import zlib
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError, safe_extract
from gancourse.data.files import check_images, list_images, unreadable
from gancourse.data.pipeline import GREY_WEIGHTS, check_batch, decoded_examples, read_rgb, to_unit_range
from gancourse.data.unpaired import _augment, _photo

SCALE = 4

CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
CELEBA_ZIP = "img_align_celeba.zip"
CELEBA_FOLDER = "img_align_celeba"
CELEBA_SIZE = (178, 218)  # width, height of an aligned face
CELEBA_TOP = 20  # first row of the central 178x178 square
CELEBA_SIDE = 178
#: CelebA's official partition (list_eval_partition.txt): first and last file number of each split.
CELEBA_PARTITION = {"train": (1, 162770), "val": (162771, 182637), "test": (182638, 202599)}
CELEBA_SPLITS = tuple(CELEBA_PARTITION)
CELEBA_COUNT = 202_599
CELEBA_HELP = (f"CelebA is not downloaded automatically: download {CELEBA_ZIP} by hand from {CELEBA_PAGE} "
               "(Align&Cropped Images; non-commercial research use) and pass the zip or its extracted folder as "
               "data_dir=... (CLI: --data PATH)")
_EXTRACTED = ".gancourse_extracted"  # written into the extracted folder once safe_extract has finished

FOLDER_SPLITS = ("train", "val")
VAL_EVERY = 10  # sr_folder: an image is in val when the CRC-32 of its file name is a multiple of this
FIX_ADVICE = "remove or replace it"

OFFLINE_SPLITS = ("train", "test")
#: Photos the offline training crops come from (scikit-image, scikit-learn's china.jpg).
OFFLINE_TRAIN = ("astronaut", "coffee", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry",
                 "china", "chelsea")
#: Held-out photos of the offline test crops, never used for training: a flower (scikit-learn) and a portrait
#: (Matplotlib's Grace Hopper).
OFFLINE_TEST = ("flower", "grace_hopper")
OFFLINE_N = {"train": 2048, "test": 128}
OFFLINE_LEVELS = 6  # random shrink factors per photo
OFFLINE_VIEW = 0.75  # the largest crop spans this fraction of the photo's short side
MIN_STD = 0.08  # a crop's grey levels must vary at least this much ([-1, 1] units: about 10 levels of 255)
MIN_DETAIL = 0.025  # RMS of grey minus its SCALE x SCALE box average, at least ([-1, 1] units)


# ---------------------------------------------------------------------------
# The degradation and the CelebA square
# ---------------------------------------------------------------------------
def degrade(hr, scale: int = SCALE):
    """LR images of ``hr``: bicubic, antialiased downscaling by ``scale``, clipped to ``[-1, 1]``.

    Args:
        hr: float images in ``[-1, 1]``, ``(n, H, W, C)`` or one ``(H, W, C)``
            image; a NumPy array (the result is NumPy) or a ``tf`` tensor (the
            result is a tensor; usable inside ``tf.data``).
        scale: the integer downscaling factor.

    Returns:
        float32 ``(n, H / scale, W / scale, C)`` (or ``(H / scale, W / scale, C)``).

    Raises:
        ValueError: ``hr`` is ``uint8`` or not 3- or 4-D, or ``H`` or ``W`` is
            not a multiple of ``scale``.
    """
    import tensorflow as tf

    if (hr.dtype == tf.uint8) if tf.is_tensor(hr) else np.asarray(hr).dtype == np.uint8:
        raise ValueError("degrade takes float HR images in [-1, 1], got uint8; convert them first "
                         "(gancourse.data.pipeline.to_unit_range)")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    scale = int(scale)
    tensor = tf.is_tensor(hr)
    images = tf.cast(hr, tf.float32) if tensor else np.asarray(hr, dtype=np.float32)
    shape = tuple(images.shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"degrade takes (n, H, W, C) or (H, W, C) images, got shape {shape}")
    height, width = shape[-3], shape[-2]
    if height is None or width is None:
        raise ValueError("degrade needs images of known height and width (use tf.ensure_shape inside tf.data)")
    if height % scale or width % scale:
        raise ValueError(f"HR images of {height}x{width} cannot be downscaled by {scale}: height and width must be "
                         f"multiples of {scale}; crop them first (see benchmark_images' modcrop)")
    lr = tf.clip_by_value(tf.image.resize(images, (height // scale, width // scale), method="bicubic",
                                          antialias=True), -1.0, 1.0)
    return lr if tensor else lr.numpy()


def celeba_square(image):
    """The central 178x178 square of a 218x178 (height x width) aligned CelebA image: rows 20 to 197.

    ``image`` is ``(218, 178, C)`` or a batch ``(n, 218, 178, C)``, NumPy or ``tf``.

    Raises:
        ValueError: the image is not 218x178.
    """
    shape = tuple(image.shape)
    width, height = CELEBA_SIZE
    if len(shape) not in (3, 4) or shape[-3:-1] != (height, width):
        raise ValueError(f"aligned CelebA images are {height}x{width} (height x width), got shape {shape}")
    return image[..., CELEBA_TOP:CELEBA_TOP + CELEBA_SIDE, :CELEBA_SIDE, :]


# ---------------------------------------------------------------------------
# Files: CelebA and any folder
# ---------------------------------------------------------------------------
def _extracted(archive: Path) -> Path:
    """The ``img_align_celeba`` folder extracted from ``archive`` next to it (once)."""
    folder = archive.parent / CELEBA_FOLDER
    if (folder / _EXTRACTED).is_file():
        return folder
    if not os.access(archive.parent, os.W_OK):
        raise DatasetError(f"cannot extract {archive} into {archive.parent}: the folder is not writable; unzip it "
                           f"somewhere writable and pass the extracted {CELEBA_FOLDER} folder as --data")
    safe_extract(archive, archive.parent)
    if not folder.is_dir():
        raise DatasetError(f"{archive} holds no {CELEBA_FOLDER}/ folder, so it is not CelebA's {CELEBA_ZIP}; "
                           f"download it again from {CELEBA_PAGE}")
    (folder / _EXTRACTED).write_text(f"extracted from {archive.name} by gancourse\n")
    return folder


def _complete(folder: Path) -> bool:
    """Whether ``folder`` holds all of CelebA's JPEGs (counted by name, nothing opened)."""
    with os.scandir(folder) as entries:
        return sum(entry.name.endswith(".jpg") for entry in entries) >= CELEBA_COUNT


def celeba_folder(data_dir) -> Path:
    """The folder of aligned CelebA JPEGs given by ``data_dir``, extracting the zip when needed.

    ``data_dir`` may be ``img_align_celeba.zip`` itself, a folder holding it
    or its extracted ``img_align_celeba/`` folder, or that folder itself. The
    zip is extracted next to itself once (safely: no member may leave the
    folder); a folder next to a zip is used when its extraction by gancourse
    finished or when it holds all 202,599 images (you unzipped it), and is
    extracted again otherwise.

    Raises:
        DatasetError: ``data_dir`` is ``None`` or holds no CelebA (the message
            says where to get it), or the archive is corrupt or not CelebA's.
    """
    if data_dir is None:
        raise DatasetError(CELEBA_HELP)
    path = Path(data_dir)
    if path.is_file():
        return _extracted(path)
    if not path.is_dir():
        raise DatasetError(f"{path} does not exist; {CELEBA_HELP}")
    folder, archive = path / CELEBA_FOLDER, path / CELEBA_ZIP
    if folder.is_dir() and (not archive.is_file() or (folder / _EXTRACTED).is_file() or _complete(folder)):
        return folder
    if archive.is_file():
        return _extracted(archive)
    if any(p.suffix.lower() == ".jpg" and p.stem.isdigit() for p in path.iterdir()):
        return path
    raise DatasetError(f"no CelebA in {path}: expected {archive}, {folder}/ or 000001.jpg ... 202599.jpg in it; "
                       f"{CELEBA_HELP}")


def celeba_files(data_dir, split: str = "train") -> list[Path]:
    """The sorted JPEGs of a CelebA split (:data:`CELEBA_PARTITION`, by file number), every header checked.

    Raises:
        ValueError: unknown split.
        DatasetError: no CelebA (see :func:`celeba_folder`), a file name that is
            not a CelebA number, no file of the split, a broken file, or an
            image that is not 178x218.
    """
    if split not in CELEBA_PARTITION:
        raise ValueError(f"unknown split {split!r} for celeba; choose one of {', '.join(CELEBA_SPLITS)}")
    folder = celeba_folder(data_dir)
    first, last = CELEBA_PARTITION[split]
    files = []
    for path in list_images(folder, "CelebA folder", CELEBA_HELP):
        if not path.stem.isdigit():
            raise DatasetError(f"{path} is not a CelebA file (000001.jpg ... 202599.jpg), and CelebA's splits go by "
                               "file number; remove it, or use the sr_folder dataset for other images")
        if first <= int(path.stem) <= last:
            files.append(path)
    if not files:
        raise DatasetError(f"{folder} holds no image of CelebA's {split} split ({first:06d}.jpg ... {last:06d}.jpg); "
                           f"the folder is incomplete: extract {CELEBA_ZIP} again")
    for path, size in zip(files, check_images(files, f"extract {CELEBA_ZIP} again")):
        if size != CELEBA_SIZE:
            raise DatasetError(f"{path} is {size[0]}x{size[1]} (width x height); aligned CelebA images are "
                               f"{CELEBA_SIZE[0]}x{CELEBA_SIZE[1]} (img_align_celeba); use the sr_folder dataset "
                               "for other images")
    return files


def folder_split(files, split: str) -> list[Path]:
    """The files of ``split`` of an ``sr_folder``: ``val`` holds the files whose name's CRC-32 is a
    multiple of :data:`VAL_EVERY` (about one in ten), ``train`` the others."""
    if split not in FOLDER_SPLITS:
        raise ValueError(f"unknown split {split!r} for sr_folder; choose one of {', '.join(FOLDER_SPLITS)}")
    in_val = [zlib.crc32(Path(path).name.encode()) % VAL_EVERY == 0 for path in files]
    return [path for path, val in zip(files, in_val) if val == (split == "val")]


def folder_files(folder, split: str, image_size: int) -> tuple[list[Path], list[tuple[int, int]]]:
    """The sorted image files of ``split`` in ``folder`` (:func:`folder_split`) and their ``(width, height)``,
    every header checked.

    Raises:
        ValueError: unknown split.
        DatasetError: the folder is missing or holds no images, the split is
            empty, a file is broken, or an image is smaller than ``image_size``
            on its short side.
    """
    if folder is None:
        raise DatasetError("the sr_folder dataset is a folder of photos you provide (e.g. DIV2K_train_HR); "
                           "pass data_dir=... (CLI: --data DIR)")
    files = list_images(folder, "SR image folder", "put PNG or JPEG photos in it (e.g. DIV2K_train_HR)")
    chosen = folder_split(files, split)
    if not chosen:
        raise DatasetError(f"the {split} split of {folder} is empty: {len(files)} images, of which about one in "
                           f"{VAL_EVERY} (by a hash of the file name) is held out for val; add images")
    sizes = check_images(chosen, FIX_ADVICE)
    small = [(path, size) for path, size in zip(chosen, sizes) if min(size) < image_size]
    if small:
        (path, (width, height)), more = small[0], len(small) - 1
        raise DatasetError(f"{path} is {width}x{height}, smaller than the HR size {image_size} on its short side"
                           f"{f' (and {more} more images)' if more else ''}; remove such images or lower image_size "
                           "(an HR image made by enlarging would hold no real detail)")
    return chosen, sizes


def _resized(image, image_size: int):
    """One ``uint8`` image resized to ``image_size`` squared (bicubic, antialiased), rounded, ``uint8``."""
    import tensorflow as tf

    shape = tf.shape(image)
    same = tf.logical_and(shape[0] == image_size, shape[1] == image_size)
    image = tf.cond(same, lambda: image, lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
        tf.cast(image, tf.float32), (image_size, image_size), method="bicubic", antialias=True)), 0, 255), tf.uint8))
    return tf.ensure_shape(image, (image_size, image_size, 3))


def _central(image, side=None):
    """The central square of one image (side: its short side, or ``side``)."""
    import tensorflow as tf

    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1]) if side is None else side
    return tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)


def decode(path, image_size: int, *, celeba: bool, crop: str | None = None):
    """``tf`` decoding of one HR source file into a ``uint8`` image.

    ``celeba``: cut the central 178x178 square (:func:`celeba_square`),
    otherwise the image's central square. ``crop``: ``None`` resizes the
    square to ``image_size`` (bicubic, antialiased); ``"random"`` keeps the
    square (CelebA) or the whole image (a folder) at native resolution for a
    random crop later; ``"centre"`` cuts its central ``image_size`` square.
    """
    image = read_rgb(path)
    if celeba:
        image = image[CELEBA_TOP:CELEBA_TOP + CELEBA_SIDE, :CELEBA_SIDE]
    if crop == "random":
        return image
    if crop == "centre":
        return _central(image, image_size)
    return _resized(image if celeba else _central(image), image_size)


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------
def pair_batches(hr, *, image_size: int, batch_size: int, scale: int = SCALE, seed: int = 0, random_crop=False,
                 flip: bool = False):
    """Batched ``(lr, hr)`` pairs from an unbatched ``tf.data.Dataset`` ``hr`` of HR sources.

    ``hr`` yields ``uint8`` images or float32 images in ``[-1, 1]`` (already
    shuffled as wanted). Each example gets, with stateless randomness drawn
    anew every epoch from ``seed``, a random ``image_size`` crop (when
    ``random_crop``) and a random left-right flip (when ``flip``); batches are
    formed and the LR batch is :func:`degrade` of the (cropped, flipped) HR
    batch, so one flip serves the pair.
    """
    import tensorflow as tf

    if random_crop or flip:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        hr = tf.data.Dataset.zip((hr, seeds)).map(lambda x, s: _augment(x, s, image_size, flip, random_crop),
                                                  num_parallel_calls=tf.data.AUTOTUNE)

    def unit(x):
        x = tf.ensure_shape(x, (image_size, image_size, 3))
        return (tf.cast(x, tf.float32) - 127.5) / 127.5 if x.dtype == tf.uint8 else tf.cast(x, tf.float32)

    hr = hr.map(unit, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=True)
    return hr.map(lambda x: (degrade(x, scale), x), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _settings(cfg, split: str) -> dict:
    """The cfg fields the loaders read, checked: image_size, scale, random_crop, flip, batch_size, seed."""
    if getattr(cfg, "channels", 3) != 3:
        raise ValueError(f"super-resolution data is RGB; set channels=3 (got {cfg.channels})")
    image_size, scale = int(cfg.image_size), int(getattr(cfg, "scale", SCALE))
    if scale < 1 or image_size % scale:
        raise ValueError(f"image_size (the HR size) must be a multiple of scale={scale}, got {image_size}")
    train = split == "train"
    return dict(image_size=image_size, scale=scale, batch_size=int(cfg.batch_size), seed=int(cfg.seed),
                random_crop=bool(getattr(cfg, "random_crop", False)), flip=train and getattr(cfg, "flip", True),
                train=train)


def _file_examples(name: str, split: str, settings: dict, data_dir, *, shuffle: bool, cache_budget=None):
    """The unbatched dataset of decoded HR sources of a file dataset, and whether they still need a random crop."""
    image_size = settings["image_size"]
    if name == "celeba" and settings["random_crop"] and image_size > CELEBA_SIDE:
        raise ValueError(f"random_crop takes {image_size} px crops of CelebA's {CELEBA_SIDE} px squares; "
                         f"use image_size <= {CELEBA_SIDE} or random_crop=False")
    crop = ("random" if settings["train"] else "centre") if settings["random_crop"] else None
    if name == "celeba":
        files, areas = celeba_files(data_dir, split), [CELEBA_SIDE * CELEBA_SIDE]
    else:
        files, sizes = folder_files(data_dir, split, image_size)
        areas = [width * height for width, height in sizes]
    per_example = 3 * (int(np.ceil(np.mean(areas))) if crop == "random" else image_size * image_size)  # uint8
    check_batch(len(files), settings["batch_size"])
    ds = decoded_examples(files, lambda path: decode(path, image_size, celeba=name == "celeba", crop=crop),
                          bytes_per_example=per_example, shuffle=shuffle, seed=settings["seed"],
                          cache_budget=cache_budget)
    return ds, crop == "random"


def superres_dataset(name: str, split: str, cfg, data_dir=None, *, shuffle: bool = True, cache_budget=None):
    """The batched ``(lr, hr)`` dataset of ``celeba``, ``sr_folder`` or ``offline_sr`` (see the module docstring).

    ``cfg``: any object with ``image_size`` (the HR size), ``batch_size``,
    ``seed`` and optionally ``scale`` (default :data:`SCALE`), ``random_crop``
    (default ``False``) and ``flip`` (default ``True``; train split only).
    Files are streamed (decoded inside ``tf.data``; cached decoded, as
    ``uint8``, when they fit :data:`gancourse.data.pipeline.CACHE_BUDGET_BYTES`).
    ``offline_sr`` is held in memory; its crops are already random, so it
    ignores ``random_crop``.

    Raises:
        ValueError: unknown dataset or split, an HR size that is not a multiple
            of the scale, or fewer examples than one batch.
        DatasetError: missing data (the message says where to get it), a
            broken file, or images of the wrong size.
    """
    settings = _settings(cfg, split)
    if name == "offline_sr":
        return pair_dataset(offline_sr(split, settings["image_size"])[1], cfg, shuffle=shuffle,
                            flip=settings["flip"])
    if name not in ("celeba", "sr_folder"):
        raise ValueError(f"unknown super-resolution dataset {name!r}; choose one of celeba, sr_folder, offline_sr")
    ds, crop = _file_examples(name, split, settings, data_dir, shuffle=shuffle, cache_budget=cache_budget)
    return pair_batches(ds, image_size=settings["image_size"], batch_size=settings["batch_size"],
                        scale=settings["scale"], seed=settings["seed"], random_crop=crop, flip=settings["flip"])


def pair_dataset(hr, cfg, *, shuffle: bool = True, flip: bool | None = None):
    """Batched ``(lr, hr)`` pairs from HR images in memory: float32 ``(n, S, S, 3)`` in ``[-1, 1]``.

    Shuffled every epoch with ``cfg.seed`` (when ``shuffle``), flipped as a
    pair (``flip``, default ``cfg.flip`` or ``True``), cut to random
    ``cfg.image_size`` crops when ``cfg.random_crop`` and ``S`` is larger,
    batched by ``cfg.batch_size`` (the last incomplete batch dropped), and the
    LR batch made by :func:`degrade` with ``cfg.scale`` (see :func:`pair_batches`).

    Raises:
        ValueError: ``hr`` is not ``(n, S, S, 3)`` with ``S`` equal to
            ``cfg.image_size`` (or larger, with ``random_crop``), or is smaller
            than one batch.
    """
    import tensorflow as tf

    settings = _settings(cfg, "train")
    hr = np.asarray(hr, dtype=np.float32)
    size = settings["image_size"]
    crop = settings["random_crop"] and hr.ndim == 4 and hr.shape[1] > size and hr.shape[2] > size
    if hr.ndim != 4 or hr.shape[-1] != 3 or (not crop and hr.shape[1:3] != (size, size)):
        raise ValueError(f"HR images must be (n, {size}, {size}, 3) in [-1, 1] (or larger with random_crop), "
                         f"got shape {hr.shape}")
    check_batch(len(hr), settings["batch_size"])
    ds = tf.data.Dataset.from_tensor_slices(hr)
    if shuffle:
        ds = ds.shuffle(len(hr), seed=settings["seed"], reshuffle_each_iteration=True)
    return pair_batches(ds, image_size=size, batch_size=settings["batch_size"], scale=settings["scale"],
                        seed=settings["seed"], random_crop=crop, flip=settings["flip"] if flip is None else flip)


def load_pairs(name: str, split: str, *, image_size: int, scale: int = SCALE, n: int | None = None, data_dir=None,
               random_crop: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, hr)`` arrays of the first ``n`` (default: all) examples of a split, float32 in ``[-1, 1]``,
    without flips and in file order (for evaluation and previews). ``random_crop`` takes each
    image's central ``image_size`` square at native resolution instead of resizing it."""
    import types

    cfg = types.SimpleNamespace(image_size=image_size, scale=scale, batch_size=1, seed=0, random_crop=random_crop,
                                flip=False)
    if name == "offline_sr":
        lr, hr = offline_sr(split, image_size)
        return lr[:n], hr[:n]
    batches = superres_dataset(name, split, cfg, data_dir, shuffle=False).unbatch()
    pairs = list(batches.take(n) if n is not None else batches)
    return np.stack([p[0].numpy() for p in pairs]), np.stack([p[1].numpy() for p in pairs])


# ---------------------------------------------------------------------------
# Offline: crops of photos the dependencies ship
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=128)
def _shrunk(name: str, factor: float) -> np.ndarray:
    """Photo ``name`` shrunk by ``factor`` (Pillow's bicubic, which is antialiased when shrinking), ``uint8``."""
    from PIL import Image

    photo = _photo(name)
    if factor >= 1.0:
        return photo
    size = (max(1, round(photo.shape[1] * factor)), max(1, round(photo.shape[0] * factor)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC))


def detail(crops_uint8: np.ndarray, scale: int = SCALE) -> tuple[np.ndarray, np.ndarray]:
    """``(std, detail)`` of the grey level of ``(n, S, S, 3)`` ``uint8`` crops, in ``[-1, 1]`` units:
    the standard deviation, and the RMS of what a ``scale`` x ``scale`` box average loses."""
    grey = crops_uint8.astype(np.float32) @ np.asarray(GREY_WEIGHTS, np.float32) / 127.5
    n, size = grey.shape[0], grey.shape[1]
    boxes = grey.reshape(n, size // scale, scale, size // scale, scale).mean(axis=(2, 4))
    lost = grey - np.repeat(np.repeat(boxes, scale, axis=1), scale, axis=2)
    return grey.std(axis=(1, 2)), np.sqrt((lost ** 2).mean(axis=(1, 2)))


def _photo_crops(name: str, count: int, hr_size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` detailed ``uint8`` crops of photo ``name`` at :data:`OFFLINE_LEVELS` random shrink factors."""
    short = min(_photo(name).shape[:2])
    smallest = hr_size / (OFFLINE_VIEW * short)
    factors = np.sort(np.round(np.exp(rng.uniform(np.log(smallest), 0.0, OFFLINE_LEVELS)), 3))[::-1]
    levels = [_shrunk(name, float(f)) for f in factors]
    kept: list[np.ndarray] = []
    for _ in range(50):
        tries = max(2 * (count - len(kept)), 16)
        pick = rng.integers(0, len(levels), tries)
        crops = []
        for k in pick:
            level = levels[k]
            top = rng.integers(0, level.shape[0] - hr_size + 1)
            left = rng.integers(0, level.shape[1] - hr_size + 1)
            crops.append(level[top:top + hr_size, left:left + hr_size])
        crops = np.stack(crops)
        std, lost = detail(crops)
        kept.extend(crops[(std >= MIN_STD) & (lost >= MIN_DETAIL)])
        if len(kept) >= count:
            return np.stack(kept[:count])
    raise RuntimeError(f"photo {name} gave only {len(kept)} of {count} crops with detail at {hr_size} px")


@functools.lru_cache(maxsize=8)
def _offline(split: str, hr_size: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    names = OFFLINE_TRAIN if split == "train" else OFFLINE_TEST
    rng = np.random.default_rng([seed, OFFLINE_SPLITS.index(split)])
    counts = [n // len(names) + (k < n % len(names)) for k in range(len(names))]
    per_photo = [_photo_crops(name, count, hr_size, rng) for name, count in zip(names, counts)]
    order = [per_photo[i % len(names)][i // len(names)] for i in range(n)]  # photo i % P: every photo early on
    hr = to_unit_range(np.arange(256, dtype=np.uint8))[np.stack(order)]  # a lookup: one pass over the crops
    lr = degrade(hr)
    for array in (lr, hr):
        array.flags.writeable = False  # shared by every caller (cached)
    return lr, hr


@functools.lru_cache(maxsize=1)
def offline_largest() -> int:
    """The largest HR size :func:`offline_sr` can cut (a multiple of 4): :data:`OFFLINE_VIEW` of the smallest
    photo's short side."""
    largest = int(OFFLINE_VIEW * min(min(_photo(name).shape[:2]) for name in OFFLINE_TRAIN + OFFLINE_TEST))
    return largest - largest % SCALE


def offline_sr(split: str = "train", hr_size: int = 64, n: int | None = None,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Offline ``(lr, hr)`` pairs: float32 ``(n, hr_size / 4, hr_size / 4, 3)`` and ``(n, hr_size, hr_size, 3)``
    in ``[-1, 1]``, with ``lr = degrade(hr)``.

    The HR images are crops of real photos (see the module docstring):
    ``train`` from :data:`OFFLINE_TRAIN`, ``test`` only from the held-out
    :data:`OFFLINE_TEST`. Crop ``i`` comes from photo ``i % P``; each photo is
    shrunk by :data:`OFFLINE_LEVELS` factors drawn log-uniformly between 1
    (native resolution) and the factor at which a crop spans
    :data:`OFFLINE_VIEW` of its short side; crops with a grey-level standard deviation under
    :data:`MIN_STD` or a x4 detail under :data:`MIN_DETAIL` (:func:`detail`)
    are rejected. Deterministic given ``seed``; ``n`` defaults to
    :data:`OFFLINE_N` (2,048 train, 128 test). The result is cached and
    read-only (copy it to change it).

    Raises:
        ValueError: unknown split, ``n < 1``, or an ``hr_size`` that is not a
            multiple of 4 or does not fit the photos.
    """
    if split not in OFFLINE_SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_sr; choose one of {', '.join(OFFLINE_SPLITS)}")
    n = OFFLINE_N[split] if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    largest = offline_largest()
    if hr_size % SCALE or not 2 * SCALE <= hr_size <= largest:
        raise ValueError(f"hr_size must be a multiple of {SCALE} from {2 * SCALE} to {largest} "
                         f"(the offline photos' size), got {hr_size}")
    return _offline(split, int(hr_size), n, int(seed))


# ---------------------------------------------------------------------------
# Standard test sets: Set5, Set14, BSD100
# ---------------------------------------------------------------------------
def benchmark_images(folder, scale: int = SCALE) -> list[np.ndarray]:
    """The HR images of a Set5 / Set14 / BSD100-style folder as ``uint8`` ``(H, W, 3)`` arrays, sorted by name.

    ``folder`` holds the images directly, or the common layout's
    ``image_SRF_<scale>/`` sub-folder, whose ``*_HR.png`` files are the HR
    images (its LR and method outputs are ignored). Each image is cropped
    to a multiple of ``scale`` from the top-left ("modcrop", as the MATLAB
    evaluation code does); grey images are repeated to RGB. Sizes differ per
    image.

    Raises:
        DatasetError: the folder is missing or empty, or a file is broken or
            smaller than ``scale``.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if (folder / f"image_SRF_{scale}").is_dir():
        folder = folder / f"image_SRF_{scale}"
    files = list_images(folder, "SR benchmark folder",
                        f"it should hold the test images (e.g. Set5's baby.png ...) or image_SRF_{scale}/*_HR.png")
    hr_files = [path for path in files if path.stem.endswith("_HR")]
    files = hr_files or files
    check_images(files, FIX_ADVICE)
    images = []
    for path in files:
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise unreadable(path, exc, FIX_ADVICE) from exc
        height, width = (side - side % scale for side in pixels.shape[:2])
        if not height or not width:
            raise DatasetError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, smaller than the scale {scale}; "
                               f"{FIX_ADVICE}")
        images.append(np.ascontiguousarray(pixels[:height, :width]))
    return images


def benchmark_pairs(folder, scale: int = SCALE) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(lr, hr)`` float32 pairs in ``[-1, 1]`` of a test set (:func:`benchmark_images`), ``lr = degrade(hr)``."""
    pairs = []
    for image in benchmark_images(folder, scale):
        hr = to_unit_range(image)
        pairs.append((degrade(hr, scale), hr))
    return pairs
