"""StackGAN's four networks: the Stage-I and Stage-II generators and discriminators.

At the book's sizes (Stage-I 64 px, Stage-II 256 px, the default widths) the
counts are the source book's: Stage-I G 10,270,400 and D 3,097,601, Stage-II
G 28,649,536 and D 48,486,401 parameters, where each D's count leaves out its
text compressor (a ``Dense(128)``, 131,200 parameters), which the book builds
as a separate, untrained model and which here is part of D and trained with
it, as in StackGAN's code. The widths are arguments so that a smaller profile
keeps every layer and only narrows them.

* :func:`stage1_generator` - ``[embedding (1024), z]``: conditioning
  augmentation (``Dense(256)`` + LeakyReLU giving ``mu`` and ``logvar``, a
  sample ``c`` of 128), ``[c, z]`` -> ``Dense(4 * 4 * 1024)`` without bias
  (batch norm in StackGAN's code, none in the book) + ReLU, then nearest
  up-sampling and 3x3 convolutions with batch norm (512-256-128-64) to the
  image side, and a 3x3 convolution with ``tanh``.
* :func:`stage1_discriminator` - 4x4 stride-2 convolutions (64-128-256-512,
  batch norm from the second, LeakyReLU 0.2) down to 4x4; the compressed text
  (``Dense(128)``) tiled over the 4x4 map and concatenated; a 1x1
  convolution of 512; one logit.
* :func:`stage2_generator` - ``[embedding, Stage-I image]``: its own
  conditioning augmentation; an encoder (3x3 conv 128, 4x4 stride-2 convs
  256 and 512) to ``(s/4, s/4, 512)``; ``c`` tiled and concatenated *first*;
  a 3x3 conv of 512, four residual blocks, four up-sampling blocks
  (512-256-128-64) to 4x the input side, and a 3x3 ``tanh`` convolution.
* :func:`stage2_discriminator` - 4x4 stride-2 convolutions
  (64, 128, ..., 2048 at 256 px) down to 4x4, 1x1 convolutions to 1024 and
  512, a residual branch (1x1 128, 3x3 128, 3x3 512) added to it, the tiled
  compressed text, a 1x1 conv of 512 and one logit.

The generators return ``(image, mu, logvar)`` so that a model can add the KL
term of :func:`~gancourse.nn.conditioning.kl_to_standard_normal`; the
discriminators return a logit (the book's sigmoid lives in the loss).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from gancourse.nn.blocks import activation_layer, conv_block, norm_act, residual_block, upsample_block
from gancourse.nn.conditioning import ConditionTiling, ConditioningAugmentation
from gancourse.nn.init import kernel_initializer
from gancourse.nn.spatial import supported_size

#: Stage-I image sides (Stage-II is 4x): from a 4x4 map, two to five doublings.
STAGE1_SIZES = (16, 32, 64, 128)
#: The side of the map at which each discriminator meets the text (StackGAN's ``M_d``).
TEXT_MAP = 4
#: The Stage-II encoder's output is ``s / 4`` for a Stage-I side ``s`` (StackGAN's ``M_g = 16`` at 64 px).
STAGE2_SCALE = 4
EMBEDDING_DIM = 1024


def check_stage1_size(image_size: int) -> int:
    """``image_size`` (the Stage-I side), or ``ValueError`` listing :data:`STAGE1_SIZES`."""
    return supported_size(image_size, STAGE1_SIZES, "the Stage-I side; Stage-II is 4x")


def _halvings(side: int) -> int:
    return int(math.log2(side // TEXT_MAP))


def _embedding_input():
    return keras.Input((EMBEDDING_DIM,), name="embedding")


def text_compressor(embedding, units: int = 128, activation: str = "lrelu", init: str = "glorot"):
    """The discriminator's text branch: ``Dense(units)`` + activation on the embedding (trained with D)."""
    h = layers.Dense(units, kernel_initializer=kernel_initializer(init), name="text_compressor")(embedding)
    return activation_layer(activation, name="text_compressor_act")(h)


def _image_to_text_map(side: int, filters: int, init: str):
    """Both discriminators' starts: the two inputs, and 4x4 stride-2 convolutions without bias (``filters``,
    doubled each time; batch norm from the second; LeakyReLU 0.2) from ``side`` down to the 4x4 map.
    Returns ``(image input, embedding input, map)``."""
    image = keras.Input((side, side, 3), name="image")
    embedding = _embedding_input()
    h = image
    for i in range(_halvings(side)):
        h = conv_block(h, filters * 2 ** i, 4, 2, norm="none" if i == 0 else "batch", bias=False, init=init,
                       name=f"down{i + 1}")
    return image, embedding, h


def _to_image(h, widths, init: str, bn: dict):
    """Both generators' ends: an up-sampling block (nearest x2, 3x3 conv without bias, BN, ReLU) per width, then
    a 3x3 convolution to RGB with ``tanh``."""
    for i, width in enumerate(widths):
        h = upsample_block(h, width, 3, bias=False, norm_options=bn, init=init, name=f"up{i + 1}")
    return conv_block(h, 3, 3, norm="none", activation="tanh", bias=False, init=init, name="out")


def _logit_head(h, compressed, filters: int, init: str):
    """Tile the compressed text over the 4x4 map, 1x1 conv (with bias) + BN + LeakyReLU, flatten, one logit."""
    h = ConditionTiling(name="tile_text")([h, compressed])
    h = conv_block(h, filters, 1, init=init, name="joint")
    h = layers.Flatten(name="flatten")(h)
    return layers.Dense(1, kernel_initializer=kernel_initializer(init), name="logit")(h)


def stage1_generator(image_size: int = 64, latent_dim: int = 100, c_dim: int = 128, filters: int = 1024,
                     dense_norm: str = "none", augment: bool = True, bn_momentum: float = 0.99, init: str = "glorot",
                     name: str = "stage1_generator") -> keras.Model:
    """``[embedding (B, 1024), z (B, latent_dim)]`` -> ``(image (B, s, s, 3), mu, logvar)``.

    ``filters``: channels of the 4x4 map (halved by each up-sampling block);
    ``dense_norm``: ``"none"`` (the book) or ``"batch"`` (StackGAN's code) after the first dense layer;
    ``augment=False``: the condition is ``mu`` itself (no conditioning augmentation; same weights);
    ``bn_momentum``: of every batch norm's moving averages (Keras' default 0.99, the book's).
    """
    s = check_stage1_size(image_size)
    embedding = _embedding_input()
    z = keras.Input((latent_dim,), name="z")
    c, mu, logvar = ConditioningAugmentation(c_dim, "lrelu", init=init, sample=augment, name="ca")(embedding)
    h = layers.Concatenate(name="condition")([c, z])
    h = layers.Dense(TEXT_MAP * TEXT_MAP * filters, use_bias=False, kernel_initializer=kernel_initializer(init),
                     name="dense")(h)
    bn = {"momentum": bn_momentum}
    h = norm_act(h, norm=dense_norm, activation="relu", norm_options=bn if dense_norm == "batch" else None,
                 name="dense")
    h = layers.Reshape((TEXT_MAP, TEXT_MAP, filters), name="reshape")(h)
    image = _to_image(h, [filters // 2 ** (i + 1) for i in range(_halvings(s))], init, bn)
    return keras.Model([embedding, z], [image, mu, logvar], name=name)


def stage1_discriminator(image_size: int = 64, filters: int = 64, text_units: int = 128,
                         text_activation: str = "lrelu", init: str = "glorot",
                         name: str = "stage1_discriminator") -> keras.Model:
    """``[image (B, s, s, 3), embedding (B, 1024)]`` -> a match logit ``(B, 1)`` (real *and* matching the text)."""
    image, embedding, h = _image_to_text_map(check_stage1_size(image_size), filters, init)
    compressed = text_compressor(embedding, text_units, text_activation, init)
    return keras.Model([image, embedding], _logit_head(h, compressed, filters * 8, init), name=name)


def stage2_generator(image_size: int = 64, c_dim: int = 128, filters: int = 128, residual_blocks: int = 4,
                     augment: bool = True, bn_momentum: float = 0.99, init: str = "glorot",
                     name: str = "stage2_generator") -> keras.Model:
    """``[embedding (B, 1024), Stage-I image (B, s, s, 3)]`` -> ``(image (B, 4s, 4s, 3), mu, logvar)``.

    ``filters``: channels of the encoder's first convolution (the book: 128; then 256, 512; the joint and
    residual maps have ``4 * filters``); ``residual_blocks``: StackGAN uses 4 at 256 px (2 at 128 px).
    """
    s = check_stage1_size(image_size)
    embedding = _embedding_input()
    low = keras.Input((s, s, 3), name="stage1_image")
    c, mu, logvar = ConditioningAugmentation(c_dim, "lrelu", init=init, sample=augment, name="ca")(embedding)
    h = conv_block(low, filters, 3, padding=1, norm="none", activation="relu", bias=False, init=init, name="enc1")
    bn = {"momentum": bn_momentum}
    h = conv_block(h, filters * 2, 4, 2, padding=1, activation="relu", bias=False, norm_options=bn, init=init,
                   name="enc2")
    h = conv_block(h, filters * 4, 4, 2, padding=1, activation="relu", bias=False, norm_options=bn, init=init,
                   name="enc3")
    h = ConditionTiling(condition_first=True, name="tile_condition")([h, c])
    h = conv_block(h, filters * 4, 3, padding=1, activation="relu", bias=False, norm_options=bn, init=init,
                   name="joint")
    for i in range(residual_blocks):
        h = residual_block(h, post_activation="relu", norm_options=bn, init=init, name=f"res{i + 1}")
    image = _to_image(h, (filters * 4, filters * 2, filters, filters // 2), init, bn)
    return keras.Model([embedding, low], [image, mu, logvar], name=name)


def stage2_discriminator(image_size: int = 256, filters: int = 64, text_units: int = 128,
                         text_activation: str = "lrelu", init: str = "glorot",
                         name: str = "stage2_discriminator") -> keras.Model:
    """``[image (B, S, S, 3), embedding (B, 1024)]`` -> a match logit ``(B, 1)``; ``S`` is the Stage-II side."""
    side = int(image_size)
    if side // STAGE2_SCALE not in STAGE1_SIZES or side % STAGE2_SCALE:
        raise ValueError(f"Stage-II image_size={image_size!r} must be 4x a Stage-I size "
                         f"({', '.join(str(STAGE2_SCALE * s) for s in STAGE1_SIZES)})")
    image, embedding, h = _image_to_text_map(side, filters, init)
    h = conv_block(h, filters * 16, 1, bias=False, init=init, name="squeeze1")
    x = conv_block(h, filters * 8, 1, activation=None, bias=False, init=init, name="squeeze2")
    b = conv_block(x, filters * 2, 1, bias=False, init=init, name="branch1")
    b = conv_block(b, filters * 2, 3, bias=False, init=init, name="branch2")
    b = conv_block(b, filters * 8, 3, activation=None, bias=False, init=init, name="branch3")
    h = layers.Add(name="branch_add")([x, b])
    h = activation_layer("lrelu", name="branch_act")(h)
    compressed = text_compressor(embedding, text_units, text_activation, init)
    return keras.Model([image, embedding], _logit_head(h, compressed, filters * 8, init), name=name)


def without_text_compressor(discriminator: keras.Model) -> int:
    """A discriminator's parameter count without its text compressor: the number the source book prints, where
    the compressor is a separate model."""
    return discriminator.count_params() - discriminator.get_layer("text_compressor").count_params()
