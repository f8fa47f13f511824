"""Convolution blocks of rank 2 (images) or 3 (voxel grids), composed from the norm switch.

Every block takes a channels-last tensor ``x`` of shape ``(B, *S, C)``
(``S = (H, W)`` for ``rank=2``, ``(D, H, W)`` for ``rank=3``) and a
``name``, and names its layers from it so that a model can look them up:

======================  ================================================
``{name}_pad``          zero or reflection padding before a ``"valid"`` conv
``{name}_upsample``     nearest-neighbour up-sampling
``{name}_conv``         the convolution (``{name}_deconv``: transposed)
``{name}_bn``           batch norm (``_in`` instance norm, ``_ln`` layer norm)
``{name}_act``          the activation
``{name}_drop``         dropout
``{name}_shuffle``      pixel shuffle
======================  ================================================

Layers that a block does not use are not created (no identity layers), and
layers are created in the order the data flows through them, so a fixed seed
gives fixed weights.
With ``norm="spectral"`` the layer named ``{name}_conv`` is a
``SpectralNormalization`` wrapper and the convolution is its ``.layer``
(named ``{name}_conv_raw``).

Common arguments: ``norm`` one of :data:`~gancourse.nn.norm.NORMS`
(``"layer"`` normalises each sample over all its positions and channels);
``norm_options`` keyword arguments of the norm layer (``{"momentum": 0.8}``,
``{"affine": True}``); ``activation`` one of :data:`ACTIVATIONS`;
``order`` ``"norm_act"`` (conv, norm, activation: the usual order) or
``"act_norm"`` (conv, activation, norm: the source book's SRGAN);
``init`` a name for :func:`~gancourse.nn.init.kernel_initializer`.
"""

from __future__ import annotations

from keras import layers

from gancourse.nn.init import kernel_initializer
from gancourse.nn.spatial import PixelShuffle, ReflectionPadding
from gancourse.nn.norm import NORM_SUFFIX, check_norm, norm_layer, weight_layer

ACTIVATIONS = ("relu", "lrelu", "prelu", "tanh", "sigmoid", None)
ORDERS = ("norm_act", "act_norm")
LEAKY_SLOPE = 0.2  # LeakyReLU slope of every GAN discriminator in the course
_CONV = {(2, False): layers.Conv2D, (3, False): layers.Conv3D,
         (2, True): layers.Conv2DTranspose, (3, True): layers.Conv3DTranspose}
_ZERO_PAD = {2: layers.ZeroPadding2D, 3: layers.ZeroPadding3D}
_UPSAMPLE = {2: layers.UpSampling2D, 3: layers.UpSampling3D}


def _check_rank(rank: int) -> int:
    if rank not in (2, 3):
        raise ValueError(f"rank must be 2 (images) or 3 (voxel grids), got {rank}")
    return rank


def activation_layer(kind: str | None, *, rank: int = 2, name: str | None = None) -> layers.Layer | None:
    """The activation layer of ``kind`` (``None`` for ``kind=None``).

    ``"lrelu"`` is ``LeakyReLU(0.2)``; ``"prelu"`` is ``PReLU`` with one
    learned slope per channel (shared over positions, as SRGAN).
    """
    if kind not in ACTIVATIONS:
        raise ValueError(f"unknown activation {kind!r}; choose one of {', '.join(map(str, ACTIVATIONS))}")
    if kind is None:
        return None
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "lrelu":
        return layers.LeakyReLU(LEAKY_SLOPE, name=name)
    if kind == "prelu":
        return layers.PReLU(shared_axes=list(range(1, _check_rank(rank) + 1)), name=name)
    return layers.Activation(kind, name=name)


def conv_layer(filters: int, kernel: int, stride: int = 1, *, rank: int = 2, transposed: bool = False,
               padding: str = "same", bias: bool = True, norm: str = "none", init: str = "dcgan",
               activation: str | None = None, name: str | None = None) -> layers.Layer:
    """One ``Conv{rank}D`` (``transposed``: ``Conv{rank}DTranspose``), spectrally normalised if ``norm == "spectral"``.

    ``padding`` is Keras's ``"same"`` or ``"valid"``; ``activation`` a Keras
    activation name applied inside the layer (e.g. ``"tanh"`` on an output).
    With spectral norm the returned wrapper is named ``name`` and the
    convolution ``{name}_raw``.
    """
    check_norm(norm)
    spectral = norm == "spectral"
    conv = _CONV[_check_rank(rank), bool(transposed)](
        filters, kernel, strides=stride, padding=padding, use_bias=bias, activation=activation,
        kernel_initializer=kernel_initializer(init), name=f"{name}_raw" if spectral and name else name)
    return weight_layer(conv, norm, name=name)


def norm_act(x, *, rank: int = 2, norm: str = "none", activation: str | None = None, dropout: float = 0.0,
             order: str = "norm_act", norm_options: dict | None = None, name: str):
    """Activation norm (``{name}_bn|_in|_ln``), activation (``{name}_act``) and dropout (``{name}_drop``).

    ``"spectral"`` and ``"none"`` add no norm layer. Shape unchanged.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    check_norm(norm)
    norm_fn = None
    if norm in NORM_SUFFIX:
        options = dict(norm_options or {})
        if norm == "layer":
            options.setdefault("axis", list(range(1, rank + 2)))
        norm_fn = norm_layer(norm, name=f"{name}_{NORM_SUFFIX[norm]}", **options)
    act_fn = activation_layer(activation, rank=rank, name=f"{name}_act")
    for fn in ((norm_fn, act_fn) if order == "norm_act" else (act_fn, norm_fn)):
        if fn is not None:
            x = fn(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    return x


def _pad(x, kernel: int, stride: int, padding, rank: int, name: str):
    """Explicit padding before a ``"valid"`` conv: ``"reflect"`` pads like ``"same"``, an int pads zeros."""
    if padding in ("same", "valid"):
        return x, padding
    if padding == "reflect":
        total = max(kernel - stride, 0)  # what "same" pads on a map divisible by the stride
        return ReflectionPadding([(total // 2, total - total // 2)] * rank, name=f"{name}_pad")(x), "valid"
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return _ZERO_PAD[rank](padding, name=f"{name}_pad")(x), "valid"
    raise ValueError(f"unknown padding {padding!r}; use 'same', 'valid', 'reflect' or an int of zero padding")


def conv_block(x, filters: int, kernel: int = 3, stride: int = 1, *, rank: int = 2, norm: str = "batch",
               activation: str | None = "lrelu", dropout: float = 0.0, bias: bool = True, padding="same",
               order: str = "norm_act", norm_options: dict | None = None, init: str = "dcgan", name: str):
    """``[pad] -> Conv -> norm -> activation -> [dropout]``: ``(B, *S, C)`` -> ``(B, *S', filters)``.

    ``padding``: ``"same"`` (``S' = ceil(S / stride)``), ``"valid"``,
    ``"reflect"`` (reflection padding as much as ``"same"`` pads, then a
    valid conv: CycleGAN's generator) or an int ``p`` (``p`` zeros on every
    side, then a valid conv: PyTorch's ``padding=p``).
    """
    x, conv_padding = _pad(x, kernel, stride, padding, _check_rank(rank), name)
    x = conv_layer(filters, kernel, stride, rank=rank, padding=conv_padding, bias=bias, norm=norm, init=init,
                   name=f"{name}_conv")(x)
    return norm_act(x, rank=rank, norm=norm, activation=activation, dropout=dropout, order=order,
                    norm_options=norm_options, name=name)


def transposed_block(x, filters: int, kernel: int = 4, stride: int = 2, *, rank: int = 2, norm: str = "batch",
                     activation: str | None = "relu", dropout: float = 0.0, bias: bool = True, padding: str = "same",
                     order: str = "norm_act", norm_options: dict | None = None, init: str = "dcgan", name: str):
    """``ConvTranspose ({name}_deconv) -> norm -> activation -> [dropout]``.

    ``(B, *S, C)`` -> ``(B, *(S * stride), filters)`` with ``"same"``
    padding; ``"valid"`` gives ``(S - 1) * stride + kernel`` (3D-GAN's first
    block: 1 -> 4 with kernel 4, stride 1).
    """
    if padding not in ("same", "valid"):
        raise ValueError(f"a transposed conv takes padding 'same' or 'valid', got {padding!r}")
    x = conv_layer(filters, kernel, stride, rank=rank, transposed=True, padding=padding, bias=bias, norm=norm,
                   init=init, name=f"{name}_deconv")(x)
    return norm_act(x, rank=rank, norm=norm, activation=activation, dropout=dropout, order=order,
                    norm_options=norm_options, name=name)


def upsample_block(x, filters: int, kernel: int = 3, scale: int = 2, *, rank: int = 2, norm: str = "batch",
                   activation: str | None = "relu", dropout: float = 0.0, bias: bool = True, padding="same",
                   order: str = "norm_act", norm_options: dict | None = None, init: str = "dcgan", name: str):
    """Nearest up-sampling by ``scale`` (``{name}_upsample``), then :func:`conv_block` with stride 1.

    ``(B, *S, C)`` -> ``(B, *(S * scale), filters)``. Resize-then-convolve
    avoids the checkerboard of overlapping transposed kernels (Odena et al.
    2016); the source book's SRGAN, StackGAN and pix2pix decoders use it.
    """
    x = _UPSAMPLE[_check_rank(rank)](scale, name=f"{name}_upsample")(x)
    return conv_block(x, filters, kernel, 1, rank=rank, norm=norm, activation=activation, dropout=dropout,
                      bias=bias, padding=padding, order=order, norm_options=norm_options, init=init, name=name)


def subpixel_block(x, filters: int, kernel: int = 3, scale: int = 2, *, rank: int = 2, norm: str = "none",
                   activation: str | None = "prelu", bias: bool = True, init: str = "dcgan", name: str):
    """SRGAN's up-sampling: ``Conv`` to ``filters * scale**rank`` channels -> pixel shuffle -> norm -> activation.

    ``(B, *S, C)`` -> ``(B, *(S * scale), filters)``. SRGAN: ``filters=64``,
    ``kernel=3``, ``scale=2``, PReLU, twice for 4x.
    """
    x = conv_layer(filters * scale ** _check_rank(rank), kernel, rank=rank, bias=bias, norm=norm, init=init,
                   name=f"{name}_conv")(x)
    x = PixelShuffle(scale, name=f"{name}_shuffle")(x)
    return norm_act(x, rank=rank, norm=norm, activation=activation, name=name)


def residual_block(x, kernel: int = 3, *, rank: int = 2, norm: str = "batch", activation: str = "relu",
                   padding="same", dropout: float = 0.0, bias: bool = True, order: str = "norm_act",
                   norm_options: dict | None = None, post_activation: str | None = None, init: str = "dcgan",
                   name: str):
    """``y = x + F(x)`` with ``F`` two stride-1 convolutions of ``C`` filters and an identity skip.

    ``F = conv -> norm -> activation -> [dropout] -> conv -> norm`` (layers
    ``{name}_a_*`` and ``{name}_b_*``), then the sum ``{name}_add`` and, with
    ``post_activation``, ``{name}_act`` (StackGAN's Stage-II ends its blocks
    with a ReLU; SRGAN and CycleGAN do not). ``(B, *S, C)`` -> ``(B, *S, C)``.

    CycleGAN (paper): ``padding="reflect", norm="instance"`` (with dropout
    0.5 when the model uses it). CycleGAN (book): ``norm_options={"momentum":
    0.9, "epsilon": 1e-5}``. SRGAN (paper): ``activation="prelu"``; SRGAN
    (book): ``order="act_norm", norm_options={"momentum": 0.8}``.
    """
    channels = x.shape[-1]
    common = dict(rank=rank, norm=norm, bias=bias, padding=padding, order=order, norm_options=norm_options,
                  init=init)
    y = conv_block(x, channels, kernel, 1, activation=activation, dropout=dropout, name=f"{name}_a", **common)
    y = conv_block(y, channels, kernel, 1, activation=None, name=f"{name}_b", **common)
    y = layers.Add(name=f"{name}_add")([x, y])
    act = activation_layer(post_activation, rank=rank, name=f"{name}_act")
    return y if act is None else act(y)
