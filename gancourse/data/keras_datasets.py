"""MNIST-style datasets that Keras downloads itself (``keras.datasets``).

Keras caches the files in ``~/.keras/datasets``. Without network access the
first call fails; :func:`arrays` turns that failure into a
:class:`~gancourse.data.cache.DatasetError` that says so and names the smoke
profile's offline alternative.
"""

from __future__ import annotations

import numpy as np

from gancourse.data.cache import DatasetError
from gancourse.data.pipeline import image_dataset, resize, to_unit_range, with_channels

SPLITS = ("train", "test", "all")


def arrays(name: str, split: str = "train", image_size: int = 28, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images in ``[-1, 1]`` (resized and channel-converted as asked) and labels.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (70,000,
            train then test, as the PyImageSearch tutorial uses).
    """
    import keras

    loaders = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}
    if name not in loaders:
        raise ValueError(f"unknown Keras dataset {name!r}; choose one of {', '.join(loaders)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    try:
        (x_train, y_train), (x_test, y_test) = loaders[name].load_data()
    except Exception as exc:
        raise DatasetError(
            f"could not load {name} through keras.datasets ({type(exc).__name__}: {exc}). "
            "It is downloaded on first use into ~/.keras/datasets and needs network access; "
            "offline, use the smoke profile (GANCOURSE_PROFILE=smoke), which trains on digits."
        ) from exc
    if split == "train":
        x, y = x_train, y_train
    elif split == "test":
        x, y = x_test, y_test
    else:
        x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    images = resize(to_unit_range(x)[..., None], image_size)
    return with_channels(images, channels).astype(np.float32), y.astype(np.int32)


def load(name: str, split: str = "train", cfg=None, *, image_size: int = 28, channels: int = 1,
         batch_size: int = 128, seed: int = 0, shuffle: bool = True):
    """A shuffled, batched ``tf.data.Dataset`` of ``name`` images."""
    if cfg is not None:
        image_size, channels, batch_size, seed = cfg.image_size, cfg.channels, cfg.batch_size, cfg.seed
    images, _ = arrays(name, split, image_size, channels)
    return image_dataset(images, batch_size, shuffle=shuffle, seed=seed)
