"""Offline smoke dataset: scikit-learn's handwritten digits, upsampled.

``sklearn.datasets.load_digits`` ships 1,797 greyscale 8x8 digits (values 0-16)
inside the scikit-learn package, so this dataset needs no network. The images
are upsampled (bilinear, antialiased) to the model's resolution and scaled to
``[-1, 1]``. A fixed permutation splits them into 1,497 training and 300 test
images; the class labels come along for the offline classifier used by the
classifier-FID.
"""

from __future__ import annotations

import numpy as np

from gancourse.data.pipeline import image_dataset, resize, with_channels

SPLITS = ("train", "test", "all")
N_TEST = 300


def arrays(split: str = "train", image_size: int = 28, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, image_size, image_size, channels)`` in ``[-1, 1]`` and labels ``(N,)``."""
    from sklearn.datasets import load_digits

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for digits; choose one of {', '.join(SPLITS)}")
    if image_size < 8:
        raise ValueError(f"digits are 8x8; image_size must be >= 8, got {image_size}")
    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0 * 2.0 - 1.0
    labels = bunch.target.astype(np.int32)
    order = np.random.default_rng(1234).permutation(len(images))
    if split == "train":
        order = order[N_TEST:]
    elif split == "test":
        order = order[:N_TEST]
    images = resize(with_channels(images[order], 1), image_size)
    images = np.clip(images, -1.0, 1.0)
    return with_channels(images, channels).astype(np.float32), labels[order]


def load(split: str = "train", cfg=None, *, image_size: int = 28, channels: int = 1,
         batch_size: int = 64, seed: int = 0, shuffle: bool = True):
    """A ``tf.data.Dataset`` of digit images; ``cfg`` (any config with
    ``image_size``, ``channels``, ``batch_size``, ``seed``) overrides the keywords."""
    if cfg is not None:
        image_size, channels, batch_size, seed = cfg.image_size, cfg.channels, cfg.batch_size, cfg.seed
    images, _ = arrays(split, image_size, channels)
    return image_dataset(images, batch_size, shuffle=shuffle, seed=seed)
