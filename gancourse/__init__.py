"""gancourse: the companion package of the gancourse book.

Importing the package is cheap; TensorFlow is loaded by the submodules that
need it (``gancourse.training``, ``gancourse.models``, ``gancourse.metrics``...).
"""

from __future__ import annotations

import os

from gancourse import _startup

from gancourse.config import PROFILE_CHOICES, PROFILES, gpu_available, profile, select_profile

__version__ = "0.1.0"
__all__ = ["PROFILES", "PROFILE_CHOICES", "__version__", "profile", "select_profile", "gpu_available", "set_seed",
           "describe_profile"]

# TensorFlow prints many start-up lines on import; keep the book's outputs readable. The log level silences
# TensorFlow's own logging; its C++ start-up lines ignore it and are filtered out of the import (_startup).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_startup.install()


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(int(seed))


def describe_profile(name: str | None = None) -> str:
    """Validate the profile, print one line that says what it means, return it."""
    selected = profile(name)
    meaning = {
        "smoke": "offline data, tiny widths and few steps (CI and laptops, ~1 min per chapter)",
        "standard": "real data, Colab-GPU sized runs (10-30 min per chapter)",
        "full": "the preset's full training length as its source describes it",
    }[selected]
    print(f"gancourse profile: {selected} - {meaning}")
    return selected
