"""CUB-200-2011 birds with the StackGAN release's caption embeddings: the ``cub`` dataset (kind ``captions``).

**Two downloads.** The photos and bounding boxes are CUB-200-2011 (Wah et al.,
Caltech/UCSD, 2011: 11,788 photos of 200 species), the archive
``CUB_200_2011.tgz`` at :data:`CUB_URL` (about 1.15 GB, MD5 :data:`CUB_MD5`);
it is downloaded into the cache on first use, checked against the MD5 and
extracted safely (:func:`gancourse.data.cache.dataset_root`) unless the data
folder already holds ``CUB_200_2011/``. The text is StackGAN's data release
``birds.zip`` (:data:`EMBEDDINGS_URL`, a Google Drive file, downloaded by hand):
for each split the char-CNN-RNN embeddings of Reed et al. (10 captions per
image, 1,024 numbers each), the image keys and the class ids, as Python 2
pickles. They are read by :func:`gancourse.data.safe_pickle.safe_load`, which
refuses any pickle that asks for more than lists, numbers, strings and NumPy
arrays, so a tampered file cannot run code. Licence: :data:`LICENCE`.

**Layout** (``data_dir`` is the folder holding ``birds/`` or ``birds/`` itself;
without ``data_dir``, ``birds/`` is looked for in the cache folder ``cub/``)::

    birds/
      train/char-CNN-RNN-embeddings.pickle  filenames.pickle  class_info.pickle
      test/ char-CNN-RNN-embeddings.pickle  filenames.pickle  class_info.pickle
      CUB_200_2011/images.txt  bounding_boxes.txt  images/<class_dir>/<file>.jpg   (or from the cache)

``filenames.pickle`` lists keys ``"<class_dir>/<file>"`` (the ``images.txt``
path without ``.jpg``), ``class_info.pickle`` the class id of each, and the
embeddings pickle an ``(N, 10, 1024)`` array. :func:`read_split` asserts what
the release promises instead of trusting it: the three pickles aligned,
8,855 train / 2,933 test images (:data:`SPLIT_SIZES`) of 150 / 50 classes
(:data:`SPLIT_CLASSES`), and no class in both splits.

**Crop** (:func:`crop_box`): a square around the bird's bounding box, 1.5 times
its longer side, clipped to the photo; the rule of StackGAN's official code.
**Batches** (:func:`cub_dataset`): the crop resized to the Stage-II side
``4 * cfg.image_size`` (bilinear, antialiased), in ``[-1, 1]``, then the shared
format of :mod:`gancourse.data.captioned`: ``(lr, hr, embedding, class_id)``
with the embedding the mean of ``cfg.captions_per_step`` captions drawn anew
every time. The photos are streamed: decoded inside ``tf.data`` (and kept
decoded only when they fit :data:`gancourse.data.pipeline.CACHE_BUDGET_BYTES`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError, cache_dir, dataset_root
from gancourse.data.captioned import STAGE2_SCALE, check_embeddings, example_fn
from gancourse.data.files import check_images
from gancourse.data.pipeline import check_batch, decoded_examples, example_bytes, read_rgb, to_model_range
from gancourse.data.safe_pickle import safe_load

CUB_URL = "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz"
CUB_MD5 = "97eceeb196236b17998738112f37df78"  #: of CUB_200_2011.tgz as served by CaltechDATA
CUB_PAGE = "https://www.vision.caltech.edu/datasets/cub_200_2011/"
# The official StackGAN README's link; the book prints the ID with a lowercase x (...WZaxLT...), and Drive IDs are
# case-sensitive.
#: StackGAN's data release ``birds.zip`` (Google Drive; a manual download).
EMBEDDINGS_URL = "https://drive.google.com/open?id=0B3y_msrWZaXLT1BZdVdycDY5TEE"
LICENCE = ("CUB-200-2011 (Wah, Branson, Welinder, Perona and Belongie, Caltech/UCSD 2011): photos collected from "
           "Flickr, whose copyrights stay with their owners; the dataset pages publish no licence, so use it for "
           "non-commercial research and teaching and cite the technical report CNS-TR-2011-001. The embeddings "
           "(Reed et al. 2016, released with StackGAN) come without a stated licence either")
SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 8855, "test": 2933}  #: images per split of the StackGAN release
SPLIT_CLASSES = {"train": 150, "test": 50}  #: species per split; no species is in both
EMBEDDINGS_PICKLE = "char-CNN-RNN-embeddings.pickle"
FILENAMES_PICKLE = "filenames.pickle"
CLASSES_PICKLE = "class_info.pickle"
CACHE_SUBDIR = "cub"
CROP_SCALE = 0.75  #: half the crop side, as a fraction of the bounding box's longer side
JITTER_LOAD = 76 / 64  #: the official code resizes to 304 (76) and crops 256 (64) at random
_WHAT = "StackGAN data pickle"
_REFETCH = "download birds.zip again"


def _help(base) -> str:
    return (f"the StackGAN embeddings release is a manual download: get birds.zip from {EMBEDDINGS_URL} and unzip "
            f"it into {base} so that {Path(base) / 'birds'}/{{train,test}}/ hold {EMBEDDINGS_PICKLE}, "
            f"{FILENAMES_PICKLE} and {CLASSES_PICKLE}, then pass data_dir={base} (CLI: --data DIR); CUB_200_2011/ "
            "(images.txt, bounding_boxes.txt, images/) goes beside train/ or is downloaded into the cache")


# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------
def birds_root(data_dir=None) -> Path:
    """The ``birds`` folder (it holds ``train/`` and ``test/``): ``data_dir/birds`` or ``data_dir`` itself;
    without ``data_dir``, ``birds/`` in the cache folder ``cub/``.

    Raises:
        DatasetError: neither holds a split's ``filenames.pickle``; the message says where to get ``birds.zip``,
            where to unzip it and the layout expected.
    """
    base = Path(data_dir) if data_dir is not None else cache_dir(CACHE_SUBDIR)
    for candidate in (base / "birds", base):
        if any((candidate / split / FILENAMES_PICKLE).is_file() for split in SPLITS):
            return candidate
    raise DatasetError(f"no StackGAN birds data under {base}: {_help(base.parent if base.name == 'birds' else base)}")


def cub_root(birds=None) -> Path:
    """The ``CUB_200_2011`` folder: ``birds/CUB_200_2011`` when it holds ``images.txt``, otherwise the archive
    :data:`CUB_URL` downloaded into the cache once, checked against :data:`CUB_MD5` and extracted safely.

    Raises:
        DatasetError: a failed download, a wrong checksum, or a corrupt archive.
    """
    if birds is not None and (Path(birds) / "CUB_200_2011" / "images.txt").is_file():
        return Path(birds) / "CUB_200_2011"
    try:
        return dataset_root("CUB_200_2011", CUB_URL, marker="images", subdir=CACHE_SUBDIR,
                            known_hash=f"md5:{CUB_MD5}")
    except DatasetError as exc:
        where = f" or extract it beside train/ in {birds}" if birds is not None else ""
        raise DatasetError(f"{exc} (CUB-200-2011 is at {CUB_PAGE}; download {CUB_URL} by hand into "
                           f"{cache_dir(CACHE_SUBDIR)}{where})") from exc


# ---------------------------------------------------------------------------
# Bounding boxes and the crop
# ---------------------------------------------------------------------------
def _rows(path: Path, columns: int) -> dict[str, list[str]]:
    """``{id: [fields]}`` of a whitespace-separated CUB list file with ``columns`` fields per line."""
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; the CUB_200_2011 folder is incomplete: extract "
                           f"CUB_200_2011.tgz ({CUB_URL}) again")
    rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != columns:
            raise DatasetError(f"{path} line {number} has {len(fields)} fields, expected {columns}: {line!r}; "
                               f"the file is damaged: extract CUB_200_2011.tgz again")
        rows[fields[0]] = fields[1:]
    return rows


def read_bounding_boxes(cub_root) -> dict[str, tuple[int, int, int, int]]:
    """``{key: (x, y, w, h)}`` from ``images.txt`` (``id path``) and ``bounding_boxes.txt`` (``id x y w h``).

    The key is the image's path without ``.jpg`` (as in ``filenames.pickle``); the rows are matched by image
    id. The file stores the numbers as floats (``60.0``); they are truncated to ints as StackGAN's code does
    (``pandas.read_csv(...).astype(int)``).

    Raises:
        DatasetError: a missing or damaged file, an image without a box, or a box without area.
    """
    cub_root = Path(cub_root)
    images = _rows(cub_root / "images.txt", 2)
    boxes = _rows(cub_root / "bounding_boxes.txt", 5)
    result = {}
    for image_id, (relpath,) in images.items():
        if image_id not in boxes:
            raise DatasetError(f"image {image_id} ({relpath}) of {cub_root / 'images.txt'} has no row in "
                               "bounding_boxes.txt; extract CUB_200_2011.tgz again")
        try:
            x, y, w, h = (int(float(v)) for v in boxes[image_id])
        except ValueError:
            raise DatasetError(f"bounding_boxes.txt row {image_id} is not four numbers: {boxes[image_id]}; "
                               "extract CUB_200_2011.tgz again") from None
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise DatasetError(f"bounding_boxes.txt row {image_id} ({relpath}) is no box: x={x} y={y} w={w} h={h}; "
                               "extract CUB_200_2011.tgz again")
        result[relpath[:-4] if relpath.endswith(".jpg") else relpath] = (x, y, w, h)
    return result


def crop_box(bbox, width: int, height: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the square crop around ``bbox = (x, y, w, h)`` in a ``width`` x
    ``height`` photo (right and bottom exclusive).

    The rule of StackGAN's official code, read in hanzhanggit/StackGAN ``misc/utils.py`` (``custom_crop``) and
    hanzhanggit/StackGAN-Pytorch ``code/miscc/datasets.py`` (``get_img``), which agree:
    ``R = int(max(w, h) * 0.75)``, centre ``(int((2x + w) / 2), int((2y + h) / 2))``, crop
    ``[cx - R, cx + R) x [cy - R, cy + R)`` with the left/top clipped at 0 and the right/bottom at the photo's
    width/height, so a box near a border gives a rectangle, not a square. Both then resize the crop to a
    square (StackGAN-Pytorch: PIL bilinear; StackGAN: ``scipy.misc.imresize`` bicubic), stretching it.
    """
    x, y, w, h = (int(v) for v in bbox)
    r = int(max(w, h) * CROP_SCALE)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(int(width), cx + r), min(int(height), cy + r)


def crop_tensor(image, bbox):
    """:func:`crop_box` inside ``tf.data``: the crop of an ``(H, W, C)`` image tensor, clipped with the decoded
    image's own shape; ``bbox`` is an int ``(4,)`` tensor ``(x, y, w, h)`` (non-negative, as checked by
    :func:`read_bounding_boxes`)."""
    import tensorflow as tf

    x, y, w, h = tf.unstack(tf.cast(bbox, tf.int32))
    r = (3 * tf.maximum(w, h)) // 4  # int(m * 0.75) for m >= 0, exactly
    cx, cy = (2 * x + w) // 2, (2 * y + h) // 2
    shape = tf.shape(image)
    return image[tf.maximum(0, cy - r):tf.minimum(shape[0], cy + r), tf.maximum(0, cx - r):tf.minimum(shape[1], cx + r)]


# ---------------------------------------------------------------------------
# One split of the release
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CubSplit:
    """One split of the StackGAN release, aligned arrays of equal length.

    Attributes:
        split: ``"train"`` or ``"test"``.
        filenames: the keys ``"<class_dir>/<file>"`` (``filenames.pickle``).
        class_ids: ``int32`` ``(N,)`` (``class_info.pickle``, the CUB class numbers).
        embeddings: ``float32`` ``(N, 10, 1024)`` caption embeddings.
        boxes: ``int32`` ``(N, 4)`` bounding boxes ``(x, y, w, h)`` from ``bounding_boxes.txt``.
        image_dir: the ``CUB_200_2011/images`` folder.
    """

    split: str
    filenames: tuple
    class_ids: np.ndarray
    embeddings: np.ndarray
    boxes: np.ndarray
    image_dir: Path

    def __len__(self) -> int:
        return len(self.filenames)

    @property
    def paths(self) -> tuple:
        """The photos, ``image_dir / (key + ".jpg")``."""
        return tuple(self.image_dir / f"{key}.jpg" for key in self.filenames)


def _class_ids(path: Path, n: int | None, help_text: str) -> np.ndarray:
    raw = safe_load(path, _WHAT, advice=help_text)
    try:
        ids = np.asarray(raw)
    except ValueError:
        ids = np.zeros(0, np.float32)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or (n is not None and len(ids) != n):
        want = f"{n} ints" if n is not None else "a list of ints"
        raise DatasetError(f"{path} must hold {want} (a class id per image), got {ids.dtype} {ids.shape}; the "
                           f"pickles of one split must be aligned: {_REFETCH}")
    return ids.astype(np.int32)


def read_split(data_dir, split: str) -> CubSplit:
    """The keys, class ids, caption embeddings and bounding boxes of ``split``, checked.

    ``data_dir`` as in :func:`birds_root`. Asserted, each failure a one-line :class:`DatasetError`: the three
    pickles hold aligned lists (embeddings ``(N, 10, 1024)``); ``N == SPLIT_SIZES[split]``; the split has
    ``SPLIT_CLASSES[split]`` classes; no class is in both splits (when the other split's ``class_info.pickle``
    is there); every key has a bounding box.

    Raises:
        ValueError: unknown split.
        DatasetError: missing, tampered or inconsistent files (the message says which and what to do).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for cub; choose one of {', '.join(SPLITS)}")
    birds = birds_root(data_dir)
    help_text = _help(birds.parent)
    folder = birds / split
    names = safe_load(folder / FILENAMES_PICKLE, _WHAT, advice=help_text)
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise DatasetError(f"{folder / FILENAMES_PICKLE} must hold a list of strings (image keys), got "
                           f"{type(names).__name__}; {_REFETCH}")
    n = len(names)
    class_ids = _class_ids(folder / CLASSES_PICKLE, n, help_text)
    path = folder / EMBEDDINGS_PICKLE
    raw = safe_load(path, _WHAT, advice=help_text)
    try:
        raw = np.asarray(raw)
    except ValueError:  # a ragged list of arrays
        raw = np.zeros((0,), np.float32)
    embeddings = check_embeddings(raw, n, what=str(path))
    if n != SPLIT_SIZES[split]:
        raise DatasetError(f"{folder} lists {n} images; the StackGAN release's {split} split has "
                           f"{SPLIT_SIZES[split]}: {_REFETCH}")
    classes = np.unique(class_ids)
    if len(classes) != SPLIT_CLASSES[split]:
        raise DatasetError(f"{folder / CLASSES_PICKLE} holds {len(classes)} classes; the StackGAN release's "
                           f"{split} split has {SPLIT_CLASSES[split]}: {_REFETCH}")
    other = SPLITS[1 - SPLITS.index(split)]
    if (birds / other / CLASSES_PICKLE).is_file():
        shared = np.intersect1d(classes, _class_ids(birds / other / CLASSES_PICKLE, None, help_text))
        if len(shared):
            raise DatasetError(f"train and test share {len(shared)} classes ({', '.join(map(str, shared[:5]))}"
                               f"{', ...' if len(shared) > 5 else ''}); the release splits by class, so a test "
                               f"caption would describe a training species: {_REFETCH}")
    cub = cub_root(birds)
    bboxes = read_bounding_boxes(cub)
    missing = [key for key in names if key not in bboxes]
    if missing:
        raise DatasetError(f"{missing[0]} (in {folder / FILENAMES_PICKLE}) is not listed in {cub / 'images.txt'} "
                           f"({len(missing)} of {n} keys are not); the CUB_200_2011 folder does not match "
                           "the release: extract CUB_200_2011.tgz again")
    boxes = np.array([bboxes[key] for key in names], np.int32).reshape(n, 4)
    return CubSplit(split, tuple(names), class_ids, embeddings, boxes, cub / "images")


def check_files(data: CubSplit) -> list[tuple[int, int]]:
    """Check that every photo of ``data`` exists, then every header, and that no crop is empty.

    Returns:
        ``(width, height)`` of every photo.

    Raises:
        DatasetError: a missing photo (the message names the first and counts them), a broken one, or a
            bounding box outside its photo.
    """
    paths = data.paths
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise DatasetError(f"{missing[0]} is listed in {data.split}/{FILENAMES_PICKLE} but does not exist "
                           f"({len(missing)} of {len(paths)} photos are missing); extract CUB_200_2011.tgz again")
    sizes = check_images(paths, "extract CUB_200_2011.tgz again")
    for path, box, (width, height) in zip(paths, data.boxes, sizes):
        left, top, right, bottom = crop_box(box, width, height)
        if right <= left or bottom <= top:
            raise DatasetError(f"the bounding box {tuple(int(v) for v in box)} of {path} lies outside the "
                               f"{width}x{height} photo; extract CUB_200_2011.tgz again")
    return sizes


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------
def _decoder(data: CubSplit, side: int):
    """A ``tf`` function from a photo's path to ``(cropped image in [-1, 1] of side x side, index)``; the
    index (looked up by path) fetches the box now and the captions and class after shuffling."""
    import tensorflow as tf

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant([str(p) for p in data.paths]),
                                            tf.range(len(data), dtype=tf.int32)), default_value=-1)
    boxes = tf.constant(data.boxes, tf.int32)

    def decode(path):
        index = table.lookup(path)
        image = crop_tensor(read_rgb(path), tf.gather(boxes, index))
        return to_model_range(image, side, 3), index

    return decode


def cub_dataset(split: str, cfg, data_dir=None, *, shuffle: bool = True, cache_budget: int | None = None):
    """The ``cub`` registry entry: batches ``(lr, hr, embedding, class_id)`` of a split (see
    :mod:`gancourse.data.captioned`), streamed.

    Every photo is checked before the dataset is returned (:func:`check_files`). Inside ``tf.data`` each photo
    is decoded with three channels (greyscale photos become RGB), cropped by :func:`crop_tensor`, resized to the
    Stage-II side ``S = 4 * cfg.image_size`` (bilinear, antialiased) and mapped to ``[-1, 1]``; then
    :func:`gancourse.data.captioned.example_fn` draws the mean of ``cfg.captions_per_step`` captions (anew every
    epoch), flips when ``cfg.flip`` and makes the Stage-I copy. The official code also jitters: it resizes the
    crop to 304 (76) and cuts a random 256 (64) square every iteration; here the crop is resized to ``S``
    directly unless ``cfg.jitter`` is true, which (for ``train`` only) resizes to ``int(S * 76 / 64)`` and cuts a
    random ``S`` square, different every epoch.

    ``cfg`` reads ``image_size``, ``batch_size``, ``seed`` and optionally ``captions_per_step``, ``flip`` and
    ``jitter``. Reshuffled every epoch with ``cfg.seed`` when ``shuffle``; the last incomplete batch is dropped.

    Raises:
        ValueError: unknown split, a batch larger than the split, a bad ``captions_per_step``.
        DatasetError: missing, tampered or inconsistent data (see :func:`read_split`, :func:`check_files`).
    """
    import tensorflow as tf

    data = read_split(data_dir, split)
    check_batch(len(data), int(cfg.batch_size))
    check_files(data)
    side = STAGE2_SCALE * int(cfg.image_size)
    jitter = bool(getattr(cfg, "jitter", False)) and split == "train"
    load = int(side * JITTER_LOAD) if jitter else side
    per_example = example_fn(cfg)  # checks captions_per_step before anything is built
    ds = decoded_examples(data.paths, _decoder(data, load), bytes_per_example=example_bytes(load, 3) + 4,
                          shuffle=shuffle, seed=int(cfg.seed), cache_budget=cache_budget)
    embeddings = tf.constant(data.embeddings)
    class_ids = tf.constant(data.class_ids)

    def example(seed, decoded):
        hr, index = decoded
        if jitter:
            hr = tf.image.stateless_random_crop(hr, (side, side, 3), seed=tf.stack([seed, tf.constant(1, tf.int64)]))
        return per_example(seed, (hr, tf.gather(embeddings, index), tf.gather(class_ids, index)))

    seeds = tf.data.Dataset.random(seed=int(cfg.seed), rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((seeds, ds)).map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(int(cfg.batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)
