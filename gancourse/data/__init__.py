"""Datasets: real loaders (downloaded on demand), offline smoke data, caching.

* :mod:`gancourse.data.digits` - offline digits shipped by scikit-learn (smoke profile).
* :mod:`gancourse.data.keras_datasets` - MNIST and Fashion-MNIST through ``keras.datasets``.
* :mod:`gancourse.data.faces` - folders of face images and cascade face cropping.
* :mod:`gancourse.data.cache` - the download/cache helper and safe archive extraction.

:func:`load` picks a dataset by the name a config carries.
"""

from __future__ import annotations

from gancourse.data.cache import DatasetError

DATASETS = ("digits", "mnist", "fashion_mnist", "faces")
__all__ = ["DATASETS", "DatasetError", "load", "arrays"]


def arrays(name: str, split: str = "train", *, image_size: int, channels: int, data_dir=None):
    """Images in ``[-1, 1]`` (and labels where the dataset has them) by dataset name."""
    from gancourse.data import digits, faces, keras_datasets

    if name == "digits":
        return digits.arrays(split, image_size, channels)
    if name in ("mnist", "fashion_mnist"):
        return keras_datasets.arrays(name, split, image_size, channels)
    if name == "faces":
        if data_dir is None:
            raise DatasetError(
                "the faces dataset is a folder you provide (see gancourse.data.faces for sources "
                "and licences); pass data_dir=... (CLI: --data DIR)"
            )
        return faces.arrays(data_dir, image_size, channels), None
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def load(cfg, split: str = "train", *, data_dir=None, shuffle: bool = True):
    """The training ``tf.data.Dataset`` a model config asks for (``cfg.dataset``)."""
    from gancourse.data.pipeline import image_dataset

    images, _ = arrays(cfg.dataset, split, image_size=cfg.image_size, channels=cfg.channels, data_dir=data_dir)
    return image_dataset(images, cfg.batch_size, shuffle=shuffle, seed=cfg.seed)
