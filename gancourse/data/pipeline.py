"""``tf.data`` pipelines over image arrays (small datasets) and over image files (streaming).

All image tensors in gancourse are channels-last ``float32`` in ``[-1, 1]``
(the range of a ``tanh`` generator) unless a docstring says otherwise.

Streaming (:func:`stream_files`): a dataset of file paths is decoded inside
``tf.data.Dataset.map``, so only the batches in flight are in memory. When the
decoded dataset is small, ``N * H * W * C * 4`` bytes (times 2 for pairs) at
most :data:`CACHE_BUDGET_BYTES` (1 GiB), it is decoded once and kept with
``cache()``, and the decoded examples are shuffled every epoch; otherwise the
file list is shuffled every epoch and every file is decoded again in each
epoch. Both orders give the same batches for the same seed. The shuffle
buffer after the cache shares the cached tensors (measured: caching 786 MB of
decoded images raised the process's memory by 0.95 GB, and later epochs by
nothing more).
"""

from __future__ import annotations

import numpy as np

CACHE_BUDGET_BYTES = 1 << 30  # decoded examples kept in memory by cache() at most; 1 GiB
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as Pillow's "L" mode


def to_unit_range(images_uint8: np.ndarray) -> np.ndarray:
    """``uint8`` images in ``[0, 255]`` -> ``float32`` in ``[-1, 1]``."""
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images in [0, 255], got dtype {images.dtype}")
    return (images.astype(np.float32) - 127.5) / 127.5


def with_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Add a channel axis to ``(N, H, W)`` and convert between 1 and 3 channels."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W) or (N, H, W, C), got {images.shape}")
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        weights = np.array(GREY_WEIGHTS, dtype=np.float32)
        return (images.astype(np.float32) @ weights)[..., None].astype(images.dtype)
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels")


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W, C)`` float images to ``size x size`` (bilinear, antialiased)."""
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.shape[1:3] == (size, size):
        return images
    return tf.image.resize(images, (size, size), method="bilinear", antialias=True).numpy()


def image_dataset(images: np.ndarray, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                  drop_remainder: bool = True, labels: np.ndarray | None = None):
    """A batched, per-epoch-shuffled, prefetching ``tf.data.Dataset``.

    Args:
        images: ``(N, H, W, C)`` float32 array in ``[-1, 1]``.
        batch_size: images per batch.
        shuffle: reshuffle every epoch (with ``seed`` for reproducibility).
        drop_remainder: drop the last incomplete batch, so every step sees a
            full batch (batch statistics and label shapes stay constant).
        labels: optional per-image labels; the dataset then yields pairs.

    Raises:
        ValueError: ``images`` is not 4-D, is empty, or is smaller than one batch.
    """
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}")
    if drop_remainder:
        check_batch(len(images), batch_size)
    data = images if labels is None else (images, np.asarray(labels))
    return batches(tf.data.Dataset.from_tensor_slices(data), len(images), batch_size, shuffle=shuffle, seed=seed,
                   drop_remainder=drop_remainder)


def check_batch(n: int, batch_size: int) -> None:
    """Raise ``ValueError`` when ``n`` examples cannot fill one batch."""
    if n < batch_size:
        raise ValueError(f"only {n} images for batch_size={batch_size}; lower batch_size or add data")


def batches(ds, n: int, batch_size: int, *, shuffle: bool, seed: int, then=None, drop_remainder: bool = True):
    """``ds`` (``n`` examples) shuffled every epoch with ``seed`` (when ``shuffle``),
    passed through ``then`` (a function of the dataset), batched and prefetched."""
    import tensorflow as tf

    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if then is not None:
        ds = then(ds)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------
# Streaming from files
# ---------------------------------------------------------------------------
def example_bytes(image_size: int, channels: int, images: int = 1) -> int:
    """Bytes of one decoded example: ``images`` float32 images of ``image_size`` squared by ``channels``."""
    return images * image_size * image_size * channels * 4


def fits_in_memory(n: int, bytes_per_example: int, budget: int | None = None) -> bool:
    """Whether ``n`` decoded examples fit ``budget`` bytes (default :data:`CACHE_BUDGET_BYTES`)."""
    return n * bytes_per_example <= (CACHE_BUDGET_BYTES if budget is None else budget)


def stream_files(files, decode, *, batch_size: int, bytes_per_example: int, shuffle: bool = True, seed: int = 0,
                 augment=None, cache_budget: int | None = None):
    """A batched ``tf.data.Dataset`` that decodes ``files`` inside ``map`` (see the module docstring).

    Args:
        files: paths of the examples' files, checked beforehand (see
            :func:`gancourse.data.files.check_images`).
        decode: ``tf`` function from a path (scalar string tensor) to one
            example (a tensor or a tuple of tensors of fixed shape).
        batch_size: examples per batch; the last incomplete batch is dropped.
        bytes_per_example: decoded size of one example (:func:`example_bytes`),
            which decides whether the decoded dataset is cached in memory.
        shuffle: reshuffle every epoch, reproducibly with ``seed``.
        augment: optional function of the decoded, shuffled dataset (random
            augmentation, applied anew every epoch, after the cache).
        cache_budget: bytes the cache may take (default :data:`CACHE_BUDGET_BYTES`).

    Raises:
        ValueError: fewer files than one batch.
    """
    import tensorflow as tf

    check_batch(len(files), batch_size)
    ds = decoded_examples(files, decode, bytes_per_example=bytes_per_example, shuffle=shuffle, seed=seed,
                          cache_budget=cache_budget)
    if augment is not None:
        ds = augment(ds)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def decoded_examples(files, decode, *, bytes_per_example: int, shuffle: bool = True, seed: int = 0,
                     cache_budget: int | None = None):
    """The unbatched ``tf.data.Dataset`` of ``files`` decoded by ``decode``, shuffled every epoch
    when ``shuffle``: decoded once and cached when the decoded examples fit the cache budget (then
    the cached examples are shuffled), otherwise the file list is shuffled and decoded again each
    epoch (see the module docstring). The streaming core of :func:`stream_files`."""
    import tensorflow as tf

    files = [str(path) for path in files]
    ds = tf.data.Dataset.from_tensor_slices(files)

    def decoded(d):
        return d.map(decode, num_parallel_calls=tf.data.AUTOTUNE)  # deterministic: the order is kept

    def shuffled(d):
        return d.shuffle(len(files), seed=seed, reshuffle_each_iteration=True) if shuffle else d

    if fits_in_memory(len(files), bytes_per_example, cache_budget):
        return shuffled(decoded(ds).cache())
    return decoded(shuffled(ds))


def read_rgb(path):
    """Decode an image file into a ``uint8`` ``(H, W, 3)`` tensor (first frame of a GIF).

    JPEGs are decoded with the accurate integer IDCT, which gives the same
    pixels as Pillow; ``tf.io.decode_image``'s default JPEG decoding differs
    from Pillow's by up to 9 levels.
    """
    import tensorflow as tf

    raw = tf.io.read_file(path)
    return tf.cond(tf.io.is_jpeg(raw),
                   lambda: tf.io.decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE"),
                   lambda: tf.io.decode_image(raw, channels=3, expand_animations=False))


def to_model_range(image, image_size: int, channels: int):
    """One ``uint8`` ``(H, W, 3)`` image -> ``float32`` ``(image_size, image_size, channels)`` in ``[-1, 1]``.

    Resizes when the size differs (bilinear, antialiased, rounded to whole
    levels: within one level of Pillow's ``BILINEAR``) and converts to grey
    with :data:`GREY_WEIGHTS` when ``channels`` is 1.
    """
    import tensorflow as tf

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    same_size = tf.logical_and(shape[0] == image_size, shape[1] == image_size)
    image = tf.cond(same_size, lambda: image, lambda: tf.round(
        tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)))
    image = (tf.ensure_shape(image, (image_size, image_size, 3)) - 127.5) / 127.5
    if channels == 1:
        image = tf.tensordot(image, tf.constant(GREY_WEIGHTS, tf.float32), axes=1)[..., None]
    return image
