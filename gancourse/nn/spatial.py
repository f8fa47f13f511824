"""Layers on the spatial axes of feature maps: reflection padding, pixel shuffle, self-attention.

Each works on channels-last feature maps of rank 2 ``(B, H, W, C)`` or rank 3
``(B, D, H, W, C)``; the rank is read from the input when the layer is built.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from gancourse.nn.init import kernel_initializer
from gancourse.nn.norm import weight_layer


def supported_size(image_size: int, sizes, what: str = "") -> int:
    """``image_size`` when it is one of ``sizes``, or ``ValueError`` listing them (``what``: a note after the
    list, such as which stage the size is for)."""
    if image_size not in sizes:
        raise ValueError(f"image_size={image_size!r} is not supported; choose one of {', '.join(map(str, sizes))}"
                         + (f" ({what})" if what else ""))
    return image_size


def spatial_rank(shape, what: str) -> int:
    """2 for ``(B, H, W, C)``, 3 for ``(B, D, H, W, C)``; anything else is a ``ValueError``."""
    if len(shape) not in (4, 5):
        raise ValueError(f"{what} takes channels-last feature maps (B, H, W, C) or (B, D, H, W, C), "
                         f"got shape {tuple(shape)}")
    return len(shape) - 2


def _padding_pairs(padding, rank: int) -> list[tuple[int, int]]:
    if isinstance(padding, int):
        pairs = [(padding, padding)] * rank
    else:
        if len(padding) != rank:
            raise ValueError(f"padding {padding!r} gives {len(padding)} axes for a rank-{rank} feature map; "
                             f"give an int or {rank} entries")
        pairs = [(p, p) if isinstance(p, int) else tuple(p) for p in padding]
    if any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"padding {padding!r}: each axis takes an int or a (before, after) pair of ints >= 0")
    return [(int(a), int(b)) for a, b in pairs]


@keras.saving.register_keras_serializable(package="gancourse")
class ReflectionPadding(layers.Layer):
    """Pads the spatial axes by mirroring the map at its border (the border itself not repeated).

    ``[1, 2, 3]`` padded by 2 becomes ``[3, 2, 1, 2, 3, 2, 1]``, as
    ``np.pad(mode="reflect")`` and PyTorch's ``ReflectionPad2d``. CycleGAN's
    ResNet generator uses it before its 7x7 and 3x3 convolutions, so the
    border of a translated image continues the image instead of fading into
    zeros.

    Args:
        padding: an int (every spatial side), one int per spatial axis
            (both sides), or one ``(before, after)`` pair per spatial axis.
            Each amount must be smaller than its axis.

    Input ``(B, *S, C)`` -> output ``(B, *(S + before + after), C)``.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding
        if isinstance(padding, int):
            _padding_pairs(padding, 1)  # validates the sign now; the rank is known at build

    def build(self, input_shape):
        rank = spatial_rank(input_shape, "ReflectionPadding")
        self.pairs = _padding_pairs(self.padding, rank)
        for size, (before, after) in zip(input_shape[1:-1], self.pairs):
            if size is not None and max(before, after) >= size:
                raise ValueError(f"reflection padding of {max(before, after)} needs an axis longer than that, "
                                 f"got an axis of {size}; pad less or use zero padding")

    def call(self, x):
        return tf.pad(x, [(0, 0), *self.pairs, (0, 0)], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        pairs = _padding_pairs(self.padding, spatial_rank(input_shape, "ReflectionPadding"))
        spatial = [None if s is None else s + a + b for s, (a, b) in zip(input_shape[1:-1], pairs)]
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def check_scale(scale, layer: str) -> int:
    """``scale`` as an int, or ``ValueError`` unless it is an integer >= 2 (``layer`` names the caller)."""
    if int(scale) != scale or scale < 2:
        raise ValueError(f"{layer} scale must be an integer >= 2, got {scale}")
    return int(scale)


def pixel_shuffle(x, scale: int):
    """Moves channel blocks into space: ``(B, *S, C * scale**rank)`` -> ``(B, *(S * scale), C)``.

    Output position ``(s_1 * scale + i_1, ..., s_r * scale + i_r)``, channel
    ``c`` reads input position ``s``, channel
    ``((i_1 * scale + i_2) * scale + ...) * C + c`` (TensorFlow's
    ``depth_to_space`` order, which is what rank 2 calls).
    """
    rank = len(x.shape) - 2
    if rank == 2:
        return tf.nn.depth_to_space(x, scale)
    shape = tf.shape(x)
    channels = x.shape[-1] // scale ** 3
    d, h, w = shape[1], shape[2], shape[3]
    x = tf.reshape(x, [shape[0], d, h, w, scale, scale, scale, channels])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3, 6, 7])  # (B, D, s, H, s, W, s, C)
    return tf.reshape(x, [shape[0], d * scale, h * scale, w * scale, channels])


@keras.saving.register_keras_serializable(package="gancourse")
class PixelShuffle(layers.Layer):
    """Sub-pixel up-sampling (Shi et al. 2016): :func:`pixel_shuffle` as a layer.

    A convolution to ``C * scale**rank`` channels followed by this layer
    up-samples by ``scale`` with learned filters and no checkerboard from
    overlapping transposed kernels; SRGAN (paper) up-samples this way.
    Input ``(B, *S, C * scale**rank)`` -> output ``(B, *(S * scale), C)``.
    """

    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_scale(scale, "PixelShuffle")

    def build(self, input_shape):
        rank = spatial_rank(input_shape, "PixelShuffle")
        if input_shape[-1] % self.scale ** rank:
            raise ValueError(f"PixelShuffle(scale={self.scale}) on rank {rank} needs channels divisible by "
                             f"{self.scale ** rank}, got {input_shape[-1]}")

    def call(self, x):
        return pixel_shuffle(x, self.scale)

    def compute_output_shape(self, input_shape):
        rank = spatial_rank(input_shape, "PixelShuffle")
        spatial = [None if s is None else s * self.scale for s in input_shape[1:-1]]
        return (input_shape[0], *spatial, input_shape[-1] // self.scale ** rank)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="gancourse")
class SelfAttention(layers.Layer):
    """Self-attention over all positions of a feature map (SAGAN, Zhang et al. 2019).

    With ``x_i`` the ``C`` features of position ``i`` (``N = H * W`` or
    ``D * H * W`` positions) and 1x1 convolutions (``Dense`` on the channel
    axis) ``f, g`` to ``C / key_ratio`` channels and ``h`` to
    ``C / value_ratio``:

    ``beta[j, i] = softmax_i( g(x_j) . f(x_i) )``,
    ``o_j = v( sum_i beta[j, i] h(x_i) )``,
    ``y_j = gamma * o_j + x_j``.

    ``gamma`` is a learned scalar that starts at 0, so at initialisation the
    layer is the identity and the network learns local features before it
    leans on distant ones. ``key_ratio=8`` is the paper's ``C / 8``. With
    ``value_ratio=1`` (default) ``h`` keeps all ``C`` channels and ``v`` is
    the identity (the SAGAN paper's first version); ``value_ratio=2`` gives
    BigGAN's ``C / 2`` values with ``v`` a learned 1x1 convolution back to
    ``C`` (the SAGAN code's version, without its max-pooling of keys and
    values). ``spectral=True`` puts spectral norm on every projection, as
    SAGAN does in both networks. The ``N x N`` attention map costs
    ``O(N^2)`` memory: use it on maps of 64x64 or smaller.

    Input and output ``(B, *S, C)``; :meth:`attention_map` gives ``beta``,
    ``(B, N, N)``, rows summing to 1.

    Args:
        key_ratio: ``C / key_ratio`` channels for queries and keys.
        value_ratio: ``C / value_ratio`` channels for values.
        spectral: spectral norm on the projections.
        init: kernel initialiser name (:func:`~gancourse.nn.init.kernel_initializer`).
    """

    def __init__(self, key_ratio: int = 8, value_ratio: int = 1, spectral: bool = False, init: str = "glorot",
                 **kwargs):
        super().__init__(**kwargs)
        if key_ratio < 1 or value_ratio < 1:
            raise ValueError(f"key_ratio and value_ratio must be >= 1, got {key_ratio} and {value_ratio}")
        self.key_ratio, self.value_ratio = int(key_ratio), int(value_ratio)
        self.spectral, self.init = bool(spectral), init
        kernel_initializer(init)  # validates the name now

    def _projection(self, units: int, name: str) -> layers.Layer:
        dense = layers.Dense(units, kernel_initializer=kernel_initializer(self.init), name=name)
        return weight_layer(dense, "spectral" if self.spectral else "none", name=f"{name}_sn")

    def build(self, input_shape):
        spatial_rank(input_shape, "SelfAttention")
        channels = input_shape[-1]
        if channels < self.key_ratio or channels < self.value_ratio:
            raise ValueError(f"SelfAttention needs at least key_ratio={self.key_ratio} and value_ratio="
                             f"{self.value_ratio} channels, got {channels}")
        flat = (input_shape[0], None, channels)
        self.query = self._projection(channels // self.key_ratio, "query")  # g
        self.key = self._projection(channels // self.key_ratio, "key")  # f
        self.value = self._projection(channels // self.value_ratio, "value")  # h
        for projection in (self.query, self.key, self.value):
            projection.build(flat)
        self.out = None
        if self.value_ratio > 1:
            self.out = self._projection(channels, "out")  # v
            self.out.build((input_shape[0], None, channels // self.value_ratio))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def _flat(self, x):
        return tf.reshape(x, [tf.shape(x)[0], -1, x.shape[-1]])

    def attention_map(self, x, training=None):
        """``beta``: ``(B, N, N)``, row ``j`` the weights position ``j`` gives to every position ``i``."""
        flat = self._flat(x)
        logits = tf.matmul(self.query(flat, training=training), self.key(flat, training=training), transpose_b=True)
        return tf.nn.softmax(logits, axis=-1)

    def call(self, x, training=None):
        o = tf.matmul(self.attention_map(x, training), self.value(self._flat(x), training=training))
        if self.out is not None:
            o = self.out(o, training=training)
        return x + self.gamma * tf.reshape(o, tf.shape(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "key_ratio": self.key_ratio, "value_ratio": self.value_ratio,
                "spectral": self.spectral, "init": self.init}
