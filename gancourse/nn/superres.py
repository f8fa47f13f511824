"""The super-resolution networks of chapter 05 and the VGG feature extractor of the content loss.

Generators map a low-resolution image ``(B, h, w, 3)`` in ``[-1, 1]`` to
``(B, scale*h, scale*w, 3)`` in ``[-1, 1]`` (a ``tanh`` output):

:func:`book_generator`
    The source book's network: a 9x9 conv, residual blocks ``conv -> ReLU ->
    BN -> conv -> BN`` (batch norm after the activation, momentum 0.8), a
    conv + BN joined to the first conv's output by the long skip, then nearest
    up-sampling + a 256-filter conv + ReLU per factor 2 and a 9x9 output conv.
    2,042,691 parameters at 64 -> 256.
:func:`srresnet_generator`
    SRResNet (Ledig et al.): the same trunk with ``conv -> BN -> PReLU``
    blocks (one PReLU slope per channel) and sub-pixel up-sampling (a conv to
    ``4 * 64`` channels, a pixel shuffle, PReLU) per factor 2.

Discriminators map an HR image ``(B, H, W, 3)`` to scores:

:func:`book_discriminator`
    Eight 3x3 convs (64 -> 512 filters, stride 2 every other one), then
    ``Dense(1024)`` and ``Dense(1)`` applied to the 4-D feature map *without a
    flatten*: Keras applies ``Dense`` to the last axis, so each of the
    ``H/16 x W/16`` positions gets its own score (a patch discriminator; at 256
    px a 16x16 map). 5,219,137 parameters with the book's sigmoid output.
:func:`paper_discriminator`
    The paper's: the same convs in the order ``conv -> BN -> LeakyReLU``,
    then a flatten, ``Dense(1024)``, LeakyReLU and ``Dense(1)`` (a logit).
    The flatten head's size grows with the crop: at the paper's 96 px crops it
    holds 6 * 6 * 512 * 1024 weights, most of the network.

:func:`feature_extractor` builds the content loss's feature network: VGG19
up to a named layer, applied to ``[-1, 1]`` images through the Caffe-style
preprocessing VGG19 was trained with (:class:`VGGPreprocess`).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from gancourse.nn.blocks import conv_block, residual_block, subpixel_block, upsample_block
from gancourse.nn.spatial import check_scale


@keras.saving.register_keras_serializable(package="gancourse")
class BicubicUpsample(layers.Layer):
    """Bicubic enlargement by an integer ``scale`` (``tf.image.resize``), for images of any size."""

    def __init__(self, scale: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_scale(scale, "BicubicUpsample")

    def call(self, x):
        import tensorflow as tf

        size = tf.shape(x)[1:3] * self.scale
        return tf.cast(tf.image.resize(x, size, method="bicubic"), x.dtype)

    def compute_output_shape(self, input_shape):
        spatial = [None if s is None else s * self.scale for s in input_shape[1:3]]
        return (input_shape[0], *spatial, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _output(x, inp, channels: int, scale: int, bicubic_skip: bool):
    """The 9x9 output conv with ``tanh``; with ``bicubic_skip`` its output (zero at the start: the kernel is
    initialised to 0) is added to the bicubic enlargement of the input and clipped to ``[-1, 1]``."""
    if not bicubic_skip:
        return conv_block(x, channels, 9, norm="none", activation="tanh", init="glorot", name="out")
    conv = layers.Conv2D(channels, 9, padding="same", activation="tanh", kernel_initializer="zeros", name="out_conv")
    x = layers.Add(name="bicubic_add")([BicubicUpsample(scale, name="bicubic")(inp), conv(x)])
    return layers.Activation(lambda t: keras.ops.clip(t, -1.0, 1.0), name="clip")(x)

#: VGG19's convolution layers in order (Keras names); the content loss taps one of them after its ReLU.
VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)
VGG_LAYERS = tuple(f"block{b + 1}_conv{c + 1}" for b, n in enumerate(VGG19_BLOCKS) for c in range(n))
#: Caffe's ImageNet channel means in BGR order (``keras.applications.vgg19.preprocess_input``).
VGG_MEAN_BGR = (103.939, 116.779, 123.68)
FEATURE_WEIGHTS = ("imagenet", "none", "random")
#: Ledig et al. scale the VGG54 feature maps by 1/12.75 before the MSE (the loss is then ~1/163 as large).
PAPER_FEATURE_SCALE = 1.0 / 12.75


def _stages(scale: int) -> int:
    stages = int(round(math.log2(scale))) if scale > 0 else -1
    if scale < 2 or 2 ** stages != scale:
        raise ValueError(f"scale={scale}: the up-sampling doubles the size per stage, so scale must be 2, 4, 8 ...")
    return stages


def _lr_input(channels: int):
    if channels < 1:
        raise ValueError(f"the low-resolution input needs at least one channel, got {channels}")
    return keras.Input((None, None, channels), name="lr")  # fully convolutional: any image size


def book_generator(channels: int = 3, filters: int = 64, res_blocks: int = 16,
                   up_filters: int = 256, scale: int = 4, bicubic_skip: bool = False,
                   name: str = "book_generator") -> keras.Model:
    """The source book's SR generator (see the module docstring): ``(h, w, C) -> (scale*h, scale*w, C)``.

    Fully convolutional, so it accepts any image size (the book trains it on 64 x 64 inputs).
    ``bicubic_skip`` (not in the book or the paper): the network learns a
    correction to the bicubic enlargement of its input, starting from exactly
    bicubic (the last conv's kernel starts at 0); a short run then begins at
    bicubic quality instead of noise (a global residual, as in VDSR).
    """
    stages = _stages(scale)
    inp = _lr_input(channels)
    bn = {"momentum": 0.8}
    first = conv_block(inp, filters, 9, norm="none", activation="relu", init="glorot", name="pre")
    x = first
    for i in range(res_blocks):
        x = residual_block(x, norm="batch", activation="relu", order="act_norm", norm_options=bn, init="glorot",
                           name=f"res{i + 1}")
    x = conv_block(x, filters, 3, norm="batch", activation=None, norm_options=bn, init="glorot", name="post")
    x = layers.Add(name="long_skip")([x, first])
    for i in range(stages):
        x = upsample_block(x, up_filters, 3, 2, norm="none", activation="relu", init="glorot", name=f"up{i + 1}")
    out = _output(x, inp, channels, scale, bicubic_skip)
    return keras.Model(inp, out, name=name)


def srresnet_generator(channels: int = 3, filters: int = 64, res_blocks: int = 16,
                       scale: int = 4, bicubic_skip: bool = False, name: str = "srresnet") -> keras.Model:
    """SRResNet (Ledig et al., Figure 4): ``(h, w, C) -> (scale*h, scale*w, C)``, any ``h, w``.

    ``k9n64`` conv + PReLU; ``res_blocks`` blocks of ``k3n64 conv -> BN ->
    PReLU -> k3n64 conv -> BN`` with an identity skip; ``k3n64`` conv + BN and
    the long skip; per factor 2 a ``k3n256`` conv, a pixel shuffle and PReLU;
    ``k9n3`` conv with ``tanh`` (HR images are in ``[-1, 1]``). ``bicubic_skip``:
    see :func:`book_generator`.
    """
    stages = _stages(scale)
    inp = _lr_input(channels)
    first = conv_block(inp, filters, 9, norm="none", activation="prelu", init="glorot", name="pre")
    x = first
    for i in range(res_blocks):
        x = residual_block(x, norm="batch", activation="prelu", init="glorot", name=f"res{i + 1}")
    x = conv_block(x, filters, 3, norm="batch", activation=None, init="glorot", name="post")
    x = layers.Add(name="long_skip")([x, first])
    for i in range(stages):
        x = subpixel_block(x, filters, 3, 2, activation="prelu", init="glorot", name=f"up{i + 1}")
    out = _output(x, inp, channels, scale, bicubic_skip)
    return keras.Model(inp, out, name=name)


#: ``(filters multiplier, stride)`` of the discriminator's convs 2..8 (conv 1: ``base`` filters, stride 1, no BN).
DISCRIMINATOR_CONVS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))


def _check_hr(hr_size: int) -> None:
    if hr_size < 16 or hr_size % 16:
        raise ValueError(f"the discriminator halves the image 4 times: hr_size must be a multiple of 16, got {hr_size}")


def book_discriminator(hr_size: int = 256, channels: int = 3, filters: int = 64, dense: int = 1024,
                       sigmoid: bool = True, name: str = "book_discriminator") -> keras.Model:
    """The source book's SR discriminator: ``(H, W, C) -> (H/16, W/16, 1)``, one score per position.

    ``conv -> LeakyReLU(0.2) -> BN(0.8)`` (activation before the norm, as the
    book), then ``Dense`` layers on the last axis (no flatten). ``sigmoid``:
    the book's probability output; ``False`` gives logits.
    """
    _check_hr(hr_size)
    inp = keras.Input((hr_size, hr_size, channels), name="hr")
    x = conv_block(inp, filters, 3, 1, norm="none", activation="lrelu", init="glorot", name="d1")
    for i, (mult, stride) in enumerate(DISCRIMINATOR_CONVS):
        x = conv_block(x, filters * mult, 3, stride, norm="batch", activation="lrelu", order="act_norm",
                       norm_options={"momentum": 0.8}, init="glorot", name=f"d{i + 2}")
    x = layers.Dense(dense, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_act")(x)
    out = layers.Dense(1, activation="sigmoid" if sigmoid else None, name="score")(x)
    return keras.Model(inp, out, name=name)


def paper_discriminator(hr_size: int = 96, channels: int = 3, filters: int = 64, dense: int = 1024,
                        name: str = "paper_discriminator") -> keras.Model:
    """The SRGAN paper's discriminator (Ledig et al., Figure 4): ``(H, W, C) -> (1,)`` logit.

    ``k3n64s1`` conv + LeakyReLU(0.2), seven ``conv -> BN -> LeakyReLU``
    blocks (64 s2, 128 s1, 128 s2, 256 s1, 256 s2, 512 s1, 512 s2), flatten,
    ``Dense(dense)``, LeakyReLU, ``Dense(1)``. The dense head has
    ``(H/16) * (W/16) * 8 * filters * dense`` weights.
    """
    _check_hr(hr_size)
    inp = keras.Input((hr_size, hr_size, channels), name="hr")
    x = conv_block(inp, filters, 3, 1, norm="none", activation="lrelu", init="glorot", name="d1")
    for i, (mult, stride) in enumerate(DISCRIMINATOR_CONVS):
        x = conv_block(x, filters * mult, 3, stride, norm="batch", activation="lrelu", init="glorot",
                       name=f"d{i + 2}")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_act")(x)
    out = layers.Dense(1, name="score")(x)
    return keras.Model(inp, out, name=name)


@keras.saving.register_keras_serializable(package="gancourse")
class VGGPreprocess(layers.Layer):
    """``[-1, 1]`` RGB -> VGG's input: ``0..255`` BGR minus the ImageNet channel means (Caffe style).

    The same numbers as ``keras.applications.vgg19.preprocess_input((x + 1) * 127.5)``, as a layer inside
    the feature model.
    """

    def call(self, x):
        x = (x + 1.0) * 127.5
        return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(VGG_MEAN_BGR, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def vgg19_trunk(layer: str, image_size: int, width_divisor: int = 1, seed: int = 0) -> keras.Model:
    """VGG19's convolutions and pools up to ``layer`` (Keras layer names), widths divided by
    ``width_divisor``, fixed random He-normal weights from ``seed``; input: preprocessed images."""
    if layer not in VGG_LAYERS:
        raise ValueError(f"unknown VGG19 layer {layer!r}; choose one of {', '.join(VGG_LAYERS)}")
    if width_divisor < 1:
        raise ValueError(f"width_divisor must be >= 1, got {width_divisor}")
    inp = keras.Input((image_size, image_size, 3), name="vgg_input")
    x = inp
    for b, (n, width) in enumerate(zip(VGG19_BLOCKS, VGG19_WIDTHS)):
        for c in range(n):
            conv = f"block{b + 1}_conv{c + 1}"
            init = keras.initializers.HeNormal(seed=seed + VGG_LAYERS.index(conv))
            x = layers.Conv2D(max(width // width_divisor, 1), 3, padding="same", activation="relu",
                              kernel_initializer=init, name=conv)(x)
            if conv == layer:
                return keras.Model(inp, x, name=f"vgg19_{layer}")
        x = layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
    raise AssertionError("unreachable: every VGG layer is in a block")


def feature_extractor(layer: str = "block3_conv3", image_size: int = 256, weights: str = "imagenet",
                      scale: float = 1.0, width_divisor: int = 1, seed: int = 0) -> keras.Model:
    """A frozen feature model for the content loss: ``[-1, 1]`` RGB ``(B, S, S, 3)`` -> VGG19 features at ``layer``.

    Args:
        layer: a VGG19 conv layer (:data:`VGG_LAYERS`); the output is after
            its ReLU. ``block3_conv3`` (the book): ``(S/4, S/4, 256)``;
            ``block5_conv4`` (the paper's VGG54): ``(S/16, S/16, 512)``.
        image_size: the input size ``S``.
        weights: ``"imagenet"`` (Keras downloads the trained VGG19
            convolution weights, 80 MB, on first use), ``"none"`` (Keras's VGG19 untrained: for
            shapes and tests) or ``"random"``: the VGG19 layout with fixed
            random weights (seeded, widths divided by ``width_divisor``), which
            needs no download. Random conv features respond to local edges and
            texture at several scales; they know nothing of objects.
        scale: multiplies the features (the paper: 1/12.75).
    """
    if weights not in FEATURE_WEIGHTS:
        raise ValueError(f"unknown feature weights {weights!r}; choose one of {', '.join(FEATURE_WEIGHTS)}")
    if weights == "random":
        trunk = vgg19_trunk(layer, image_size, width_divisor, seed)
    else:
        if layer not in VGG_LAYERS:
            raise ValueError(f"unknown VGG19 layer {layer!r}; choose one of {', '.join(VGG_LAYERS)}")
        if width_divisor != 1:
            raise ValueError("width_divisor needs weights='random' (Keras's VGG19 has the full widths)")
        try:
            base = keras.applications.VGG19(include_top=False, weights=None if weights == "none" else "imagenet",
                                            input_shape=(image_size, image_size, 3))
        except Exception as error:  # Keras raises a bare Exception when the download fails
            raise RuntimeError(f"could not get the ImageNet VGG19 weights (an 80 MB download on first use): "
                               f"{error}; connect to the network, or use weights='random' (feature_weights="
                               "'random': fixed random features, offline)") from error
        trunk = keras.Model(base.input, base.get_layer(layer).output, name=f"vgg19_{layer}")
    inp = keras.Input((image_size, image_size, 3), name="image")
    x = trunk(VGGPreprocess(name="vgg_preprocess")(inp))
    if scale != 1.0:
        x = layers.Rescaling(scale, name="feature_scale")(x)
    model = keras.Model(inp, x, name=f"features_{layer}_{weights}")
    model.trainable = False
    return model
