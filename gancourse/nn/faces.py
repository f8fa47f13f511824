"""Age-cGAN's networks: the encoder E, the conditional generator G(z, y), the conditional discriminator D(x, y),
and the source book's face network FR.

At the book's size (64 px, the default widths) the counts are the spec's:
E 18,287,268, G 34,885,251 and D 1,569,665 parameters. The widths are
arguments so that a smaller profile keeps every layer and only narrows them.

* :func:`age_encoder` - four stride-2 5x5 convolutions (32-64-128-256, batch
  norm from the second), a ``Dense(4096)`` with batch norm, then a linear
  ``Dense(latent_dim)``: image -> ``z``. It does not see the age.
* :func:`conditional_generator` - ``[z, y]`` concatenated, ``Dense(2048)``,
  ``Dense(256 * 8 * 8)`` with batch norm, both with LeakyReLU(0.2) and
  dropout 0.2, then three nearest up-samplings, each followed by a 5x5
  convolution (batch norm with momentum 0.8 on the first two; ``tanh`` out).
* :func:`conditional_discriminator` - a stride-2 3x3 convolution on the image,
  then the age one-hot tiled over its 32x32 map and concatenated
  (:class:`~gancourse.nn.conditioning.ConditionTiling`, a serialisable layer
  where the book uses a ``Lambda`` that closes over the wrong tensor), three
  more stride-2 convolutions with batch norm, and one linear unit: the sigmoid
  of the book's output lives in the loss (``from_logits``).
* :func:`imagenet_face_embedder` - the book's FR: the 64 px image up-sampled
  x3 to 192 px, InceptionResNetV2's ImageNet features (1,536, average pooled),
  an untrained ``Dense(128)`` and an L2 normalisation. ImageNet features are
  not trained to tell people apart, and the dense layer is a fixed random
  projection, so the distance it gives is a generic *feature* distance, not a
  face-identity distance.
"""

from __future__ import annotations

import keras
from keras import layers

from gancourse.nn.blocks import conv_block, norm_act, upsample_block
from gancourse.nn.conditioning import ConditionTiling
from gancourse.nn.init import kernel_initializer
from gancourse.nn.spatial import supported_size

#: Image sides the networks take: four halvings for E and D, three doublings from ``side / 8`` for G.
IMAGE_SIZES = (32, 64, 128)
#: The book's face-network input side (a choice: Keras' InceptionResNetV2 takes 75 px and up).
FR_INPUT_SIZE = 192
#: Keras' ``BatchNormalization(momentum=0.8)`` of the book's generator (PyTorch's ``momentum=0.2``).
G_BN_MOMENTUM = 0.8


def check_image_size(image_size: int) -> int:
    """``image_size``, or ``ValueError`` listing :data:`IMAGE_SIZES`."""
    return supported_size(image_size, IMAGE_SIZES)


def age_encoder(image_size: int = 64, latent_dim: int = 100, filters: int = 32, dense: int = 4096,
                bn_momentum: float = 0.99, init: str = "glorot", name: str = "encoder") -> keras.Model:
    """Image ``(B, S, S, 3)`` in ``[-1, 1]`` -> latent ``(B, latent_dim)`` (linear).

    Widths ``filters * (1, 2, 4, 8)`` (the book: 32-64-128-256), 5x5 kernels,
    stride 2, LeakyReLU(0.2), batch norm on all but the first convolution and
    on the ``dense`` layer. ``bn_momentum`` 0.99 is Keras' default, the book's;
    its moving averages (what inference uses) need several hundred steps to
    forget their initial values, so a short run wants a lower one.
    """
    s = check_image_size(image_size)
    x = inputs = keras.Input((s, s, 3), name="image")
    h = x
    bn = {"momentum": bn_momentum}
    for i in range(4):
        h = conv_block(h, filters * 2 ** i, 5, 2, norm="none" if i == 0 else "batch", norm_options=bn, init=init,
                       name=f"e{i + 1}")
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(dense, kernel_initializer=kernel_initializer(init), name="dense")(h)
    h = norm_act(h, norm="batch", activation="lrelu", norm_options=bn, name="dense")
    z = layers.Dense(latent_dim, kernel_initializer=kernel_initializer(init), name="z")(h)
    return keras.Model(inputs, z, name=name)


def conditional_generator(image_size: int = 64, latent_dim: int = 100, n_classes: int = 6, dense: int = 2048,
                          filters: int = 256, dropout: float = 0.2, init: str = "glorot",
                          name: str = "generator") -> keras.Model:
    """``[z (B, latent_dim), y (B, n_classes)]`` -> image ``(B, S, S, 3)`` in ``[-1, 1]``.

    The condition is concatenated to ``z`` at the input (106 values in the
    book). The first feature map is ``(S/8, S/8, filters)``; the up-sampling
    convolutions have ``filters / 2`` and ``filters / 4`` channels, then 3.
    """
    s = check_image_size(image_size)
    base = s // 8
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((n_classes,), name="age")
    h = layers.Concatenate(name="condition")([z, y])
    h = layers.Dense(dense, kernel_initializer=kernel_initializer(init), name="dense1")(h)
    h = norm_act(h, norm="none", activation="lrelu", dropout=dropout, name="dense1")
    h = layers.Dense(filters * base * base, kernel_initializer=kernel_initializer(init), name="dense2")(h)
    h = norm_act(h, norm="batch", activation="lrelu", dropout=dropout, name="dense2")
    h = layers.Reshape((base, base, filters), name="reshape")(h)
    bn = {"momentum": G_BN_MOMENTUM}
    h = upsample_block(h, filters // 2, 5, activation="lrelu", norm_options=bn, init=init, name="up1")
    h = upsample_block(h, filters // 4, 5, activation="lrelu", norm_options=bn, init=init, name="up2")
    h = upsample_block(h, 3, 5, norm="none", activation="tanh", init=init, name="up3")
    return keras.Model([z, y], h, name=name)


def conditional_discriminator(image_size: int = 64, n_classes: int = 6, filters: int = 64, init: str = "glorot",
                              name: str = "discriminator") -> keras.Model:
    """``[image (B, S, S, 3), y (B, n_classes)]`` -> a real/fake logit ``(B, 1)``.

    3x3 stride-2 convolutions of ``filters * (1, 2, 4, 8)`` channels (the
    book: 64-128-256-512) with LeakyReLU(0.2); the age one-hot is tiled over
    the first convolution's ``(S/2, S/2)`` map and concatenated to its
    channels (64 + 6 = 70 in the book); batch norm on the last three.
    """
    s = check_image_size(image_size)
    image = keras.Input((s, s, 3), name="image")
    y = keras.Input((n_classes,), name="age")
    h = conv_block(image, filters, 3, 2, norm="none", init=init, name="d1")
    h = ConditionTiling(name="tile_age")([h, y])
    for i in range(1, 4):
        h = conv_block(h, filters * 2 ** i, 3, 2, init=init, name=f"d{i + 1}")
    h = layers.Flatten(name="flatten")(h)
    out = layers.Dense(1, kernel_initializer=kernel_initializer(init), name="logit")(h)
    return keras.Model([image, y], out, name=name)


def imagenet_face_embedder(image_size: int = 64, weights: str | None = "imagenet", dim: int = 128,
                           input_size: int = FR_INPUT_SIZE, name: str = "imagenet_fr") -> keras.Model:
    """The book's FR: image ``(B, S, S, 3)`` in ``[-1, 1]`` -> unit-norm ``(B, dim)``.

    Nearest up-sampling by ``input_size / S`` (64 -> 192, as the book's phase 3
    does; an unused helper of its repository resizes x2 to 128 px, which the
    192 px backbone would refuse),
    ``InceptionResNetV2(include_top=False, pooling="avg")`` (inputs in
    ``[-1, 1]``, which is what its ``preprocess_input`` produces and what G
    outputs, so no rescaling: the book's phase 3 divides by 255 instead),
    ``Dense(dim)`` left at its random initialisation as in the book, and
    ``UnitNormalization``. Every weight is frozen. ``weights="imagenet"``
    downloads about 220 MB on first use; ``None`` builds it untrained (for
    shapes and counts).
    """
    s = check_image_size(image_size)
    if input_size % s:
        raise ValueError(f"input_size={input_size} must be a multiple of image_size={s} (nearest up-sampling)")
    if input_size < 75:
        raise ValueError(f"input_size={input_size} is below InceptionResNetV2's smallest input, 75 px")
    backbone = keras.applications.InceptionResNetV2(include_top=False, weights=weights,
                                                    input_shape=(input_size, input_size, 3), pooling="avg")
    image = keras.Input((s, s, 3), name="image")
    h = layers.UpSampling2D(input_size // s, interpolation="nearest", name="resize")(image)
    h = backbone(h)
    h = layers.Dense(dim, kernel_initializer=kernel_initializer("glorot"), name="projection")(h)
    out = layers.UnitNormalization(name="l2_normalize")(h)
    model = keras.Model(image, out, name=name)
    model.trainable = False
    return model
