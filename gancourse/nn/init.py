"""Kernel initialisers of the chapter models.

Every call returns a *fresh* initialiser. An unseeded Keras initialiser draws
its seed once, when it is constructed, and then returns the same values on
every call: one instance shared by two layers of the same shape gives them
identical starting kernels. Ask for a new one per layer.
"""

from __future__ import annotations

import keras

KERNEL_INITS = ("dcgan", "glorot")


def dcgan_normal() -> keras.initializers.Initializer:
    """``N(0, 0.02^2)`` (mean 0, standard deviation 0.02): the kernel initialiser of DCGAN (Radford et al.), pix2pix and CycleGAN."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def kernel_initializer(name: str) -> keras.initializers.Initializer:
    """A fresh kernel initialiser by name.

    ``"dcgan"``: :func:`dcgan_normal`, weights ``~ N(0, 0.02^2)``.
    ``"glorot"``: Keras's default ``GlorotUniform``, weights
    ``~ U(-l, l)`` with ``l = sqrt(6 / (fan_in + fan_out))`` (the source
    book's models, which never set an initialiser).
    """
    if name == "dcgan":
        return dcgan_normal()
    if name == "glorot":
        return keras.initializers.GlorotUniform()
    raise ValueError(f"unknown kernel initializer {name!r}; choose one of {', '.join(KERNEL_INITS)}")
