"""The normalisation switch: batch, instance, layer, spectral or none.

Batch, instance and layer norm normalise *activations* and are layers placed
after a convolution; spectral norm (Miyato et al. 2018) normalises a layer's
*weights* and wraps the convolution itself. So a block asks two questions:
:func:`norm_layer` gives the activation norm (identity for ``"spectral"`` and
``"none"``) and :func:`weight_layer` wraps the weight layer when the norm is
``"spectral"``.
"""

from __future__ import annotations

from keras import layers

NORMS = ("batch", "instance", "layer", "spectral", "none")
# suffix of the activation-norm layer in a block: {name}_bn, {name}_in, {name}_ln
NORM_SUFFIX = {"batch": "bn", "instance": "in", "layer": "ln"}


def check_norm(kind: str) -> str:
    """Return ``kind`` if it is one of :data:`NORMS`, else raise ``ValueError``."""
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")
    return kind


def instance_norm(epsilon: float = 1e-5, affine: bool = False, name: str | None = None) -> layers.Layer:
    """Instance normalisation of channels-last feature maps of any rank.

    ``y[b, ..., c] = (x[b, ..., c] - mean) / sqrt(var + epsilon)`` with the
    mean and variance of sample ``b``, channel ``c`` over all its positions
    (``H x W`` or ``D x H x W``). ``GroupNormalization(groups=-1)`` is exactly
    this (Ulyanov et al.); with ``affine=False`` it matches PyTorch's
    ``InstanceNorm2d`` default, with ``affine=True`` it learns a per-channel
    scale and offset (keras-contrib's ``InstanceNormalization`` default).
    """
    return layers.GroupNormalization(groups=-1, epsilon=epsilon, center=affine, scale=affine, name=name)


def norm_layer(kind: str, **kwargs) -> layers.Layer:
    """The activation-norm layer of ``kind``.

    ``"batch"``: ``BatchNormalization(**kwargs)``. ``"instance"``:
    :func:`instance_norm` (feature maps). ``"layer"``: per-sample
    normalisation over ``axis`` (default the last; no learned scale or offset
    unless ``center``/``scale`` are passed), the vector analogue of instance
    norm. ``"spectral"`` and ``"none"``: an ``Identity`` (spectral norm acts
    on weights, see :func:`weight_layer`).
    """
    check_norm(kind)
    if kind == "batch":
        return layers.BatchNormalization(**kwargs)
    if kind == "instance":
        return instance_norm(**kwargs)
    if kind == "layer":
        return layers.LayerNormalization(**{"center": False, "scale": False, **kwargs})
    return layers.Identity(**kwargs)


def weight_layer(layer: layers.Layer, norm: str, power_iterations: int = 1, name: str | None = None) -> layers.Layer:
    """``layer`` wrapped in :class:`gancourse.nn.modern.SpectralNorm` when ``norm == "spectral"``, else ``layer``.

    The wrapper computes with the kernel divided by its largest singular value, estimated
    with ``power_iterations`` power-iteration steps per training call, so the
    layer is 1-Lipschitz; the gradient flows through the estimate, and the
    kernel itself is left alone (Keras' own ``SpectralNormalization`` writes the
    normalised kernel back into the trainable weights on every training call, so a
    generator step that runs D in training mode would change D's weights).
    ``layer`` must have a ``kernel`` (``Conv*``, ``Dense``). ``name`` names the wrapper.
    """
    from gancourse.nn.modern import SpectralNorm

    check_norm(norm)
    if norm != "spectral":
        return layer
    return SpectralNorm(layer, power_iterations=power_iterations, name=name)
