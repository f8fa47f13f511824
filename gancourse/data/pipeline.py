"""Turning image arrays into ``tf.data`` pipelines.

All image tensors in gancourse are channels-last ``float32`` in ``[-1, 1]``
(the range of a ``tanh`` generator) unless a docstring says otherwise.
"""

from __future__ import annotations

import numpy as np


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
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
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
    if len(images) < batch_size and drop_remainder:
        raise ValueError(
            f"only {len(images)} images for batch_size={batch_size}; lower batch_size or add data"
        )
    data = images if labels is None else (images, np.asarray(labels))
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
