"""IMDB-WIKI's Wikipedia faces (``wiki_crop``): ages from MATLAB dates, cleaned labels, streamed batches.

**The data.** ``wiki_crop.tar`` (:data:`WIKI_URL`, about 0.8 GB; Rothe, Timofte
and Van Gool's IMDB-WIKI, the Wikipedia part) holds 62,328 face crops in
``wiki_crop/00`` ... ``wiki_crop/99`` and the labels file ``wiki_crop/wiki.mat``.
It is downloaded into the cache on first use (:func:`gancourse.data.cache.dataset_root`:
one download, extracted safely) unless ``data_dir`` holds ``wiki_crop/`` or is
it. Licence: :data:`LICENCE`.

**The labels** (:func:`read_index`). ``scipy.io.loadmat(path)["wiki"][0, 0]``
is a MATLAB struct whose fields are ``(1, N)`` arrays: ``dob`` (the date of
birth as a MATLAB serial date number, float), ``photo_taken`` (the year of
the photo), ``full_path`` (each element a one-element string array, the path
below ``wiki_crop/``), ``gender``, ``name``, ``face_location``, ``face_score``
(the face detector's score, ``-inf`` when no face was found: the crop is
then the whole picture) and ``second_face_score`` (the score of the second
strongest face, ``NaN`` when there is none).

**Ages.** A MATLAB date number counts days from the fictitious date
``0000-01-00`` of the proleptic Gregorian calendar, in which year 0 is a leap
year of 366 days; Python's ordinal counts from ``0001-01-01`` = 1, so the
ordinal is ``floor(datenum) - 366`` (:func:`datenum_to_date`; the fraction of
a day is ignored). The year of the photo has no day, so the photo is taken
to be from the middle of the year, as the IMDB-WIKI page says: the age
(:func:`age_at`) is the year of the photo minus the year of birth, minus one
for anyone born in July or later (the source book's rule; the page's MATLAB
line subtracts the dates from 1 July, which differs only for a birthday on
1 July itself).

**Cleaning** (every rule counted in :attr:`WikiIndex.dropped`; an image is
counted once, under the first rule it breaks, in this order):

* ``no_face``: ``face_score`` is not finite (``-inf``: no face found);
* ``second_face``: ``second_face_score`` is not ``NaN`` (a second face: whose age is it?);
* ``bad_dob``: the date of birth is no date (:func:`datenum_to_date` gives ``None``);
* ``age<=0``: the age is 0 or less (born after the photo; the source book's
  bucket function silently reuses the previous image's group for these);
* ``age>100``: older than 100 (dates of birth mistyped on Wikipedia);
* ``low_face_score``: ``face_score`` below ``min_face_score`` (only when one is
  given; default ``None``). The IMDB-WIKI authors publish no such threshold
  for their crops (their paper drops images whose *second* strongest face
  scores above a threshold); third-party loaders commonly keep scores of 1.0 or more.

**Splits** (:func:`split_of`): an image is in ``test`` when the CRC-32 of its
``full_path`` is a multiple of :data:`TEST_EVERY` (20: about 5%), else in
``train``. The rule depends only on the path, so a photo never moves between
splits when the filters or the data change.

**Images** (:func:`wiki_dataset`) are decoded inside ``tf.data`` with three
channels (greyscale photos become RGB), the whole crop is resized to
``cfg.image_size`` squared with bilinear, antialiased interpolation
(:func:`gancourse.data.pipeline.to_model_range`; the source book's
``load_img(..., target_size=(64, 64))`` uses nearest-neighbour, which aliases)
and mapped to ``[-1, 1]`` by ``x / 127.5 - 1``. Labels are the six age groups
of :mod:`gancourse.data.ages` as ``float32`` one-hot rows, always six wide.
Every listed file is checked before the dataset is returned: that it exists,
then its header (:func:`gancourse.data.files.check_images`).
"""

from __future__ import annotations

import dataclasses
import datetime
import zlib
from pathlib import Path

import numpy as np

from gancourse.data.ages import N_AGES, age_category, one_hot
from gancourse.data.cache import DatasetError, dataset_root
from gancourse.data.files import check_images
from gancourse.data.pipeline import decoded_examples, example_bytes, read_rgb, to_model_range
from gancourse.data.unpaired import read_images

WIKI_URL = "https://data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki/static/wiki_crop.tar"
WIKI_PAGE = "https://data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki/"
WIKI_COUNT = 62_328  # images in wiki_crop.tar (and entries of wiki.mat)
LICENCE = ("IMDB-WIKI (Rothe, Timofte and Van Gool, ETH Zurich): for academic research purposes only; commercial "
           "use needs the authors' permission (rrothe@vision.ee.ethz.ch)")
HELP = (f"get {WIKI_URL} (about 0.8 GB, {WIKI_COUNT:,} faces; {LICENCE}) and extract it, then pass the folder "
        "holding wiki_crop/ (or wiki_crop/ itself) as data_dir=... (CLI: --data DIR)")
SPLITS = ("train", "test")
TEST_EVERY = 20  # an image is in test when the CRC-32 of its full_path is a multiple of this (about 5%)
MAX_AGE = 100
MATLAB_OFFSET = 366  # MATLAB datenum of 0000-12-31: datenum - 366 is Python's proleptic Gregorian ordinal
#: The age :func:`age_at` gives for a date of birth that is no date: the smallest int32, so it is <= 0 and
#: :func:`gancourse.data.ages.age_category` refuses it.
INVALID_AGE = int(np.iinfo(np.int32).min)
DROP_REASONS = ("no_face", "second_face", "bad_dob", "age<=0", "age>100", "low_face_score")
FIELDS = ("dob", "photo_taken", "full_path", "face_score", "second_face_score")
FIX_ADVICE = "delete the wiki_crop folder and extract wiki_crop.tar again"
_EPOCH = np.datetime64("1970-01-01", "D")
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_MAX_ORDINAL = datetime.date.max.toordinal()


# ---------------------------------------------------------------------------
# MATLAB dates and ages
# ---------------------------------------------------------------------------
def datenum_to_date(datenum) -> datetime.date | None:
    """The calendar date of a MATLAB serial date number (``datenum``), or ``None`` when it names no date.

    The ordinal is ``floor(datenum) - 366`` (the fraction of a day is
    ignored): 367 is 0001-01-01, 693962 is 1900-01-01, 730486 is 2000-01-01.
    ``NaN``, infinities and values below 367 (year 0 or earlier, which Python's
    dates cannot hold) give ``None``.
    """
    value = float(datenum)
    if not np.isfinite(value):
        return None
    ordinal = int(np.floor(value)) - MATLAB_OFFSET
    if ordinal < 1 or ordinal > _MAX_ORDINAL:
        return None
    return datetime.date.fromordinal(ordinal)


def _birth_year_month(dob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`datenum_to_date`: ``(year, month, valid)`` arrays (year and month 0 where not valid)."""
    dob = np.asarray(dob, dtype=np.float64)
    finite = np.isfinite(dob)
    ordinal = np.where(finite, np.floor(np.where(finite, dob, 0.0)), 0.0) - MATLAB_OFFSET
    valid = finite & (ordinal >= 1) & (ordinal <= _MAX_ORDINAL)
    days = _EPOCH + (np.where(valid, ordinal, _EPOCH_ORDINAL) - _EPOCH_ORDINAL).astype("timedelta64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return np.where(valid, year, 0), np.where(valid, month, 0), valid


def age_at(photo_taken, dob) -> np.ndarray:
    """Whole years of age on 1 July of the year ``photo_taken`` of a person born on the MATLAB date ``dob``.

    ``photo_taken - birth year`` when the birth month is before July, one less
    otherwise. Vectorised over arrays (broadcast); a scalar pair gives a 0-d
    array. A date of birth that is no date (``NaN``, below 367) gives
    :data:`INVALID_AGE`. Ages of 0 or less are returned as they are (a birth
    after the photo): filter them before grouping.
    """
    year, month, valid = _birth_year_month(dob)
    taken = np.asarray(photo_taken, dtype=np.int64)
    age = taken - year - (month >= 7)
    return np.where(valid, age, INVALID_AGE).astype(np.int32)


# ---------------------------------------------------------------------------
# The index: wiki.mat, filtered
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class WikiIndex:
    """The images kept from ``wiki.mat`` after cleaning, aligned arrays of equal length.

    Attributes:
        paths: the image files (``root / full_path``), ``Path`` objects.
        ages: whole years, ``int32``, in ``[1, 100]``.
        categories: age groups 0-5 (:func:`gancourse.data.ages.age_category`), ``int32``.
        face_score: the detector's score of the face, ``float64``.
        second_face_score: all ``NaN`` (images with a second face are dropped), ``float64``.
        full_paths: ``full_path`` as stored in ``wiki.mat`` (``"17/10000217_1981-05-05_2009.jpg"``).
        dropped: images dropped per rule of :data:`DROP_REASONS` (each image counted once).
        total: entries in ``wiki.mat`` before cleaning.
    """

    paths: tuple
    ages: np.ndarray
    categories: np.ndarray
    face_score: np.ndarray
    second_face_score: np.ndarray
    full_paths: tuple
    dropped: dict
    total: int

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, keep) -> "WikiIndex":
        """The entries where the boolean mask ``keep`` is true (``dropped`` and ``total`` unchanged)."""
        keep = np.asarray(keep, dtype=bool)
        pick = np.flatnonzero(keep)
        return dataclasses.replace(self, paths=tuple(self.paths[i] for i in pick), ages=self.ages[keep],
                                   categories=self.categories[keep], face_score=self.face_score[keep],
                                   second_face_score=self.second_face_score[keep],
                                   full_paths=tuple(self.full_paths[i] for i in pick))

    def split(self, split: str) -> "WikiIndex":
        """The entries of ``split`` (:func:`split_of`)."""
        return self.subset([split_of(path, split) for path in self.full_paths])


def _field(struct, name: str, path) -> np.ndarray:
    try:
        return np.asarray(struct[name]).reshape(-1)
    except (ValueError, KeyError, IndexError):
        fields = ", ".join(struct.dtype.names or ()) or "none"
        raise DatasetError(f"{path} has no field {name!r} in its 'wiki' struct (fields: {fields}); it is not "
                           f"IMDB-WIKI's wiki.mat: {FIX_ADVICE}") from None


def _text(item) -> str:
    """One ``full_path`` element: a one-element string array (or a plain string)."""
    value = np.asarray(item).reshape(-1)
    return str(value[0]) if value.size else ""


def read_index(mat_path, root=None, *, min_face_score: float | None = None) -> WikiIndex:
    """The cleaned images and ages of ``wiki.mat`` (see the module docstring for the rules).

    Args:
        mat_path: the ``wiki.mat`` file.
        root: the folder the ``full_path`` entries are relative to (default:
            the folder of ``mat_path``, which is ``wiki_crop/``).
        min_face_score: also drop faces the detector scored below this
            (``None``: keep every detected face).

    Raises:
        DatasetError: the file is missing or unreadable, or is not laid out as
            IMDB-WIKI's ``wiki.mat`` (no ``wiki`` struct, a missing field,
            fields of different lengths).
    """
    import scipy.io

    mat_path = Path(mat_path)
    root = mat_path.parent if root is None else Path(root)
    if not mat_path.is_file():
        raise DatasetError(f"{mat_path} does not exist; {HELP}")
    try:
        content = scipy.io.loadmat(mat_path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError... on broken files
        raise DatasetError(f"{mat_path} is not a readable .mat file ({type(exc).__name__}: {exc}); "
                           f"{FIX_ADVICE}") from None
    if "wiki" not in content:
        keys = ", ".join(k for k in content if not k.startswith("__")) or "none"
        raise DatasetError(f"{mat_path} has no 'wiki' variable (variables: {keys}); it is not IMDB-WIKI's "
                           f"wiki.mat: {FIX_ADVICE}")
    try:
        struct = content["wiki"][0, 0]
    except (IndexError, TypeError):
        raise DatasetError(f"{mat_path}'s 'wiki' variable is not a MATLAB struct; {FIX_ADVICE}") from None
    dob, taken, full_path, face, second = (_field(struct, name, mat_path) for name in FIELDS)
    total = len(dob)
    if {len(taken), len(full_path), len(face), len(second)} != {total}:
        raise DatasetError(f"{mat_path}'s fields have different lengths ({len(dob)}, {len(taken)}, "
                           f"{len(full_path)}, {len(face)}, {len(second)} for {', '.join(FIELDS)}); {FIX_ADVICE}")
    face, second = face.astype(np.float64), second.astype(np.float64)
    ages = age_at(taken.astype(np.int64), dob)
    rules = {"no_face": ~np.isfinite(face),
             "second_face": ~np.isnan(second),
             "bad_dob": ages == INVALID_AGE,
             "age<=0": ages <= 0,
             "age>100": ages > MAX_AGE,
             "low_face_score": (np.zeros(total, bool) if min_face_score is None
                                else ~(face >= float(min_face_score)))}
    keep = np.ones(total, bool)
    dropped = {}
    for reason in DROP_REASONS:
        hit = keep & rules[reason]
        dropped[reason] = int(hit.sum())
        keep &= ~hit
    names = [_text(full_path[i]) for i in np.flatnonzero(keep)]
    kept = ages[keep]
    return WikiIndex(paths=tuple(root / name for name in names), ages=kept,
                     categories=age_category(kept).reshape(-1).astype(np.int32), face_score=face[keep],
                     second_face_score=second[keep], full_paths=tuple(names), dropped=dropped, total=total)


def split_of(full_path: str, split: str) -> bool:
    """Whether the image ``full_path`` (as stored in ``wiki.mat``) belongs to ``split``: ``test`` when the
    CRC-32 of the path is a multiple of :data:`TEST_EVERY`, ``train`` otherwise.

    Raises:
        ValueError: unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for wiki; choose one of {', '.join(SPLITS)}")
    in_test = zlib.crc32(str(full_path).replace("\\", "/").encode()) % TEST_EVERY == 0
    return in_test == (split == "test")


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------
def wiki_root(data_dir=None) -> Path:
    """The ``wiki_crop`` folder (it holds ``00/`` ... ``99/`` and ``wiki.mat``).

    With ``data_dir``: ``data_dir/wiki_crop`` or ``data_dir`` itself, nothing
    downloaded. Otherwise :data:`WIKI_URL` is downloaded into the cache once
    and extracted safely (:func:`gancourse.data.cache.dataset_root`).

    Raises:
        DatasetError: no ``wiki_crop`` under ``data_dir``, a failed download or
            a corrupt archive; the message says where to get the data.
    """
    try:
        # The authors publish no checksum; the entries of wiki.mat are checked against the files instead.
        return dataset_root("wiki_crop", WIKI_URL, marker="00", data_dir=data_dir, subdir="imdb_wiki", advice=HELP)
    except DatasetError as exc:
        if data_dir is not None:
            raise
        raise DatasetError(f"{exc} ({HELP})") from exc


def wiki_index(data_dir=None, *, min_face_score: float | None = None) -> WikiIndex:
    """:func:`read_index` of the ``wiki.mat`` of :func:`wiki_root` (downloaded when needed)."""
    root = wiki_root(data_dir)
    return read_index(root / "wiki.mat", root, min_face_score=min_face_score)


def check_files(paths) -> None:
    """Check that every file exists, then every header (:func:`gancourse.data.files.check_images`).

    Raises:
        DatasetError: a missing file (the message names the first and counts
            them all) or a broken one.
    """
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        raise DatasetError(f"{missing[0]} is listed in wiki.mat but does not exist ({len(missing)} of {len(paths)} "
                           f"listed images are missing); the extraction is incomplete: {FIX_ADVICE}")
    check_images(paths, FIX_ADVICE)


def split_index(split: str, data_dir=None, *, min_face_score: float | None = None) -> WikiIndex:
    """The cleaned entries of ``split``, every file checked (:func:`check_files`).

    Raises:
        ValueError: unknown split.
        DatasetError: missing data, a missing or broken file, or an empty split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for wiki; choose one of {', '.join(SPLITS)}")
    index = wiki_index(data_dir, min_face_score=min_face_score).split(split)
    if not len(index):
        raise DatasetError(f"the {split} split of wiki is empty after cleaning; {FIX_ADVICE}")
    check_files(index.paths)
    return index


# ---------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------
def _decoder(index: WikiIndex, image_size: int):
    """A ``tf`` function from a path to ``(image in [-1, 1], one-hot age group)``; the label is looked up
    by path, so the file list can be shuffled alone."""
    import tensorflow as tf

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant([str(p) for p in index.paths]),
                                            tf.constant(index.categories, tf.int32)), default_value=-1)

    def decode(path):
        image = to_model_range(read_rgb(path), image_size, 3)
        return image, tf.one_hot(table.lookup(path), N_AGES, dtype=tf.float32)

    return decode


def age_batches(index: WikiIndex, *, image_size: int, batch_size: int, seed: int = 0, shuffle: bool = True,
                cache_budget: int | None = None):
    """Batches ``(images, ages)`` of the images of ``index``: ``float32`` ``(B, S, S, 3)`` in ``[-1, 1]`` and
    ``float32`` one-hot ``(B, 6)``, streamed (:func:`gancourse.data.pipeline.decoded_examples`), the last
    incomplete batch dropped.

    Raises:
        ValueError: fewer images than one batch.
    """
    import tensorflow as tf

    if len(index) < batch_size:
        raise ValueError(f"only {len(index)} wiki images for batch_size={batch_size}; lower batch_size")
    ds = decoded_examples(index.paths, _decoder(index, image_size),
                          bytes_per_example=example_bytes(image_size, 3) + 4 * N_AGES, shuffle=shuffle, seed=seed,
                          cache_budget=cache_budget)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def wiki_dataset(split: str, cfg, data_dir=None, *, shuffle: bool = True, cache_budget: int | None = None):
    """The ``wiki`` registry entry: batches ``(images, ages)`` of a split (see :func:`age_batches`).

    ``cfg`` is any object with ``image_size``, ``batch_size``, ``seed`` and
    optionally ``min_face_score`` (default ``None``). Reshuffled every epoch
    with ``cfg.seed`` when ``shuffle``.

    Raises:
        ValueError: unknown split or a batch larger than the split.
        DatasetError: the data is missing (and cannot be downloaded), or a
            listed file is missing or broken (checked before the dataset is returned).
    """
    index = split_index(split, data_dir, min_face_score=getattr(cfg, "min_face_score", None))
    return age_batches(index, image_size=cfg.image_size, batch_size=cfg.batch_size, seed=cfg.seed,
                       shuffle=shuffle, cache_budget=cache_budget)


def wiki_arrays(split: str = "test", *, image_size: int = 64, n: int | None = None, data_dir=None,
                min_face_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images, ages)`` of the first ``n`` cleaned images of a split (in ``wiki.mat`` order) as arrays:
    ``float32`` ``(n, S, S, 3)`` in ``[-1, 1]``, decoded as :func:`wiki_dataset` does, and ``float32``
    one-hot ``(n, 6)``. For evaluation and figures, not for training."""
    index = split_index(split, data_dir, min_face_score=min_face_score)
    index = index.subset(np.arange(len(index)) < (len(index) if n is None else n))
    if not len(index):  # read_images cannot build a dataset of no paths
        return np.zeros((0, image_size, image_size, 3), np.float32), one_hot(index.categories)
    return read_images(index.paths, image_size, 3), one_hot(index.categories)
