"""Image-to-image building blocks: U-Net generators and PatchGAN discriminators.

Shared by the translation chapters (pix2pix, CycleGAN) and composed from the
block library (:mod:`gancourse.nn.blocks`). Every builder takes the image
size, so the same architecture runs at 256 px (the papers) and at 32 px (the
smoke profile): a U-Net has ``log2(image_size)`` down-sampling blocks, down
to a 1x1 bottleneck. Shape comments write ``S`` for ``image_size`` and
``F`` for ``base_filters``.

Variants of :func:`unet_generator`:

``"paper"``
    Isola et al.: ``Conv2D(k4, s2)`` encoder with BatchNorm except on the
    first block and on the 1x1 bottleneck (BatchNorm of a 1x1 map with batch 1
    outputs its offset whatever the input, so the bottleneck would carry
    nothing), LeakyReLU 0.2; ``Conv2DTranspose(k4, s2)`` decoder with
    BatchNorm, dropout 0.5 on the first three blocks, ReLU; skips by
    concatenation; ``tanh`` output.
``"book"``
    The source book's U-Net: the same encoder with biases, a decoder of
    nearest up-sampling + ``Conv2D(k4, s1)`` whose widths are the paper's
    post-concatenation widths (512, 1024, 1024, 1024, 1024, 512, 256), ReLU
    after the concatenation; the bottleneck BatchNorm bug fixed.
``"mastering_pytorch"``
    Instance norm (no affine parameters, as PyTorch's default), dropout 0.5 on
    the deep encoder blocks and the first four decoder blocks, biased
    convolutions, and a final nearest up-sampling + padded ``Conv2D(k4)``.

:func:`patchgan_discriminator` gives the conditional PatchGANs;
:func:`book_image_discriminator` keeps the source book's unconditional
whole-image discriminator as a historical exhibit only.
The two halves of a translation model's training step live in
:mod:`gancourse.training.steps`.

All kernels start from ``N(0, 0.02^2)`` (:func:`gancourse.nn.init.dcgan_normal`)
except the exhibit's dense layers (Keras's Glorot default, as the book).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

from gancourse.nn import MinibatchDiscrimination
from gancourse.nn.blocks import (conv_block, conv_layer, norm_act, residual_block, transposed_block,
                                 upsample_block)

UNET_VARIANTS = ("paper", "book", "mastering_pytorch")
PATCHGAN_VARIANTS = ("paper", "mastering_pytorch")


def _depth(image_size: int) -> int:
    depth = int(round(math.log2(image_size)))
    if image_size < 4 or 2 ** depth != image_size:
        raise ValueError(f"image_size must be a power of two >= 4 (the U-Net halves it down to 1x1), "
                         f"got {image_size}")
    return depth


def encoder_widths(image_size: int, base_filters: int = 64) -> list[int]:
    """Filters of the U-Net's down-sampling blocks: 64, 128, 256, 512, 512, ... (capped at 8x)."""
    return [base_filters * min(2 ** i, 8) for i in range(_depth(image_size))]


def _down(x, filters, *, norm: str, bias: bool, name: str, dropout: float = 0.0):
    """The pix2pix encoder block C_k: ``Conv(k4, s2) -> norm -> LeakyReLU 0.2 -> [dropout]``, halving H and W."""
    return conv_block(x, filters, 4, 2, norm=norm, activation="lrelu", bias=bias, dropout=dropout, name=name)


def unet_generator(variant: str = "paper", image_size: int = 256, in_channels: int = 3, out_channels: int = 3,
                   base_filters: int = 64, bottleneck_norm: bool = False, skips: bool = True,
                   name: str | None = None, *, norm: str = "batch") -> keras.Model:
    """A U-Net mapping ``(image_size, image_size, in_channels)`` images to ``out_channels`` in ``[-1, 1]``.

    Args:
        variant: ``"paper"``, ``"book"`` or ``"mastering_pytorch"`` (module docstring).
        image_size: a power of two; the encoder has ``log2(image_size)`` blocks.
        base_filters: width of the first block (64 in every source).
        bottleneck_norm: put BatchNorm on the 1x1 bottleneck as the book and
            the TensorFlow tutorial do (``"paper"`` and ``"book"`` only). Off by
            default: with batch 1 it erases the bottleneck's signal.
        skips: ``False`` drops the skip connections: the same blocks and
            widths as a plain encoder-decoder, the "encoder-decoder" of Isola
            et al.'s generator comparison. Everything then passes through the
            1x1 bottleneck.
        norm: ``"batch"`` or, for ``"paper"`` only, ``"instance"`` (with a
            learned per-channel scale and offset): the TensorFlow tutorial's
            CycleGAN generator. As with batch norm, the 1x1 bottleneck gets no
            norm unless ``bottleneck_norm`` (instance norm of a 1x1 map outputs
            its offset whatever the input, at any batch size).
    """
    if variant not in UNET_VARIANTS:
        raise ValueError(f"unknown U-Net variant {variant!r}; choose one of {', '.join(UNET_VARIANTS)}")
    if norm not in ("batch", "instance") or (norm == "instance" and variant != "paper"):
        raise ValueError(f"U-Net norm must be 'batch' (any variant) or 'instance' (variant 'paper'), got "
                         f"norm={norm!r} for variant {variant!r}")
    norm_options = {"affine": True} if norm == "instance" else None
    widths = encoder_widths(image_size, base_filters)
    depth = len(widths)
    mastering = variant == "mastering_pytorch"
    inputs = keras.Input((image_size, image_size, in_channels), name="input_image")  # (B, S, S, in_channels)
    use_skips = skips
    x, skips = inputs, []
    for i, filters in enumerate(widths):
        innermost, first = i == depth - 1, i == 0
        if mastering:
            block_norm = "none" if first or innermost else "instance"
            x = _down(x, filters, norm=block_norm, bias=True, name=f"down{i + 1}", dropout=0.5 if i >= 3 else 0.0)
        else:
            block_norm = "none" if first or (innermost and not bottleneck_norm) else norm
            x = conv_block(x, filters, 4, 2, norm=block_norm, activation="lrelu", bias=variant == "book",
                           norm_options=norm_options if block_norm == "instance" else None, name=f"down{i + 1}")
        skips.append(x)  # (B, S/2^(i+1), S/2^(i+1), widths[i]); the last is (B, 1, 1, widths[-1])
    skips = skips[:-1][::-1]  # the decoder meets the encoder outputs in reverse, bottleneck excluded
    for i, skip in enumerate(skips):
        name = f"up{i + 1}"  # skip: (B, s, s, c) with s = 2^(i+1), c = widths[depth-2-i]
        if variant == "book":
            filters = 2 * skips[i - 1].shape[-1] if i else skip.shape[-1]  # the paper's concat widths
            x = upsample_block(x, filters, 4, norm="batch", activation=None, dropout=0.5 if i < 3 else 0.0,
                               name=name)  # (B, s, s, filters)
            if use_skips:
                x = layers.Concatenate(name=f"{name}_skip")([x, skip])  # (B, s, s, filters + c)
            x = layers.ReLU(name=f"{name}_act")(x)  # (B, s, s, filters + c), or filters without skips
            continue
        x = transposed_block(x, skip.shape[-1], 4, 2, norm="instance" if mastering else norm,
                             norm_options=None if mastering else norm_options,
                             activation="relu" if mastering else None, bias=mastering,
                             dropout=0.5 if i < (4 if mastering else 3) else 0.0, name=name)  # (B, s, s, c)
        if not mastering:  # the paper's block: deconv, BN, dropout, then ReLU
            x = layers.ReLU(name=f"{name}_act")(x)  # (B, s, s, c)
        if use_skips:
            x = layers.Concatenate(name=f"{name}_skip")([x, skip])  # (B, s, s, 2c); (B, s, s, c) without skips
    if variant == "paper":
        outputs = conv_layer(out_channels, 4, 2, transposed=True, activation="tanh",
                             name="output")(x)  # (B, S, S, out_channels)
    else:
        x = layers.UpSampling2D(2, name="output_upsample")(x)  # (B, S, S, 2F)
        if mastering:  # ZeroPad2d((1, 0, 1, 0)) then Conv2d(k4, padding=1)
            x = layers.ZeroPadding2D(((2, 1), (2, 1)), name="output_pad")(x)  # (B, S + 3, S + 3, 2F)
            outputs = conv_layer(out_channels, 4, padding="valid", activation="tanh",
                                 name="output")(x)  # (B, S, S, out_channels)
        else:
            outputs = conv_layer(out_channels, 4, activation="tanh", name="output")(x)  # (B, S, S, out_channels)
    return keras.Model(inputs, outputs, name=name or f"unet_{variant}" + ("" if use_skips else "_no_skips"))


def unet_layout(generator: keras.Model) -> list[dict]:
    """The blocks of a :func:`unet_generator`, read from the built model, for drawing it.

    Returns one dict per block in data-flow order: ``name`` (``down1`` ...,
    ``up1`` ..., ``output``), ``side`` (height = width of its output),
    ``channels`` (its output channels, after the skip concatenation for a
    decoder block) and ``skip_from`` (the encoder block concatenated into a
    decoder block, else ``None``).
    """
    last = {}  # block name -> its last layer (layers are listed in data-flow order)
    for layer in generator.layers:
        block = layer.name.split("_")[0]
        if block[:2] in ("do", "up") and block.rstrip("0123456789") in ("down", "up"):
            last[block] = layer
    depth = sum(b.startswith("down") for b in last)
    blocks = []
    for block, layer in last.items():
        out = layer.output
        joined = block.startswith("up") and f"{block}_skip" in {layer.name for layer in generator.layers}
        skip = f"down{depth - int(block[2:])}" if joined else None
        blocks.append({"name": block, "side": out.shape[1], "channels": out.shape[-1], "skip_from": skip})
    out = generator.outputs[0]
    blocks.append({"name": "output", "side": out.shape[1], "channels": out.shape[-1], "skip_from": None})
    return blocks


PAPER_PATCH_LAYERS = {1: 0, 16: 1, 70: 3, 286: 5}
"""The paper's discriminator comparison: receptive field (px) -> stride-2 layers (0: the 1x1 PixelGAN)."""


def patchgan_stack(n_layers: int = 3) -> list[tuple[int, int]]:
    """``(kernel, stride)`` of the paper's PatchGAN with ``n_layers`` stride-2 convolutions, first layer first.

    ``n_layers`` 4x4 convolutions of stride 2, one 4x4 convolution of stride 1
    and the 4x4 output convolution: receptive fields of 16, 34, 70, 142 and
    286 px for 1 to 5 layers. ``n_layers=0`` is the PixelGAN: three 1x1
    convolutions, a 1x1 field.
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0 (0 is the 1x1 PixelGAN), got {n_layers}")
    if n_layers == 0:
        return [(1, 1)] * 3
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def patchgan_discriminator(variant: str = "paper", image_size: int = 256, in_channels: int = 3,
                           target_channels: int = 3, base_filters: int = 64, n_layers: int = 3,
                           name: str | None = None, *, norm: str = "batch", conditional: bool = True) -> keras.Model:
    """A conditional PatchGAN: ``[input image, target or generated image]`` -> a map of logits.

    Each output logit judges one patch of the pair; the patch size is the
    network's receptive field (:func:`receptive_field`).

    ``conditional=False`` gives the unconditional PatchGAN of CycleGAN: one
    ``(S, S, in_channels)`` image in (``target_channels`` is ignored).
    ``norm`` (``"paper"`` only): ``"batch"`` (pix2pix) or ``"instance"``
    (CycleGAN: instance norm without affine parameters, as PyTorch's
    ``InstanceNorm2d``). As in the reference implementation the convolutions
    followed by a norm have a bias exactly when the norm is not batch norm
    (batch norm's mean subtraction cancels a bias; instance norm does too, but
    the reference keeps it): 2,770,433 parameters for pix2pix's conditional
    BatchNorm PatchGAN at 256 px, 2,764,737 for CycleGAN's.

    ``"paper"``: ``n_layers`` stride-2 blocks C64 (no norm) - C128 - C256 -
    C512 - C512 ..., then C(min(2^n_layers, 8) * 64) and a 1-channel conv with
    stride 1 and one pixel of padding each, BatchNorm, LeakyReLU 0.2. The
    default ``n_layers=3`` is the 70x70 PatchGAN (30x30 logits at 256 px);
    1 gives the 16x16 and 5 the 286x286 discriminator of the paper's
    comparison (:data:`PAPER_PATCH_LAYERS`), and 0 the 1x1 PixelGAN
    (C64 - C128 - 1 channel, all 1x1 convolutions).
    ``"mastering_pytorch"``: four stride-2 blocks (instance norm from the
    second), then padding and a 1-channel ``Conv2D(k4)``; 94x94 receptive
    field, 16x16 logits at 256 px (``n_layers`` must stay 3).
    """
    if variant not in PATCHGAN_VARIANTS:
        raise ValueError(f"unknown PatchGAN variant {variant!r}; choose one of {', '.join(PATCHGAN_VARIANTS)}")
    if norm not in ("batch", "instance"):
        raise ValueError(f"PatchGAN norm must be 'batch' or 'instance', got {norm!r}")
    if variant != "paper" and (n_layers != 3 or norm != "batch" or not conditional):
        raise ValueError(f"n_layers, norm and conditional apply to the 'paper' PatchGAN only (got n_layers="
                         f"{n_layers}, norm={norm!r}, conditional={conditional} for {variant!r})")
    if variant != "paper" and n_layers != 3:
        raise ValueError(f"n_layers applies to the 'paper' PatchGAN only, got n_layers={n_layers} for {variant!r}")
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0 (0 is the 1x1 PixelGAN), got {n_layers}")
    smallest = 4 * 2 ** n_layers if n_layers else 1
    if image_size < max(32, smallest):
        raise ValueError(f"a PatchGAN with {n_layers} stride-2 layers needs images of at least "
                         f"{max(32, smallest)} px, got {image_size}")
    if conditional:
        source = keras.Input((image_size, image_size, in_channels), name="input_image")  # (B, S, S, in_channels)
        target = keras.Input((image_size, image_size, target_channels), name="target_image")  # (B, S, S, target)
        inputs = [source, target]
        x = layers.Concatenate(name="pair")(inputs)  # (B, S, S, in_channels + target_channels)
    else:
        inputs = keras.Input((image_size, image_size, in_channels), name="image")  # (B, S, S, in_channels)
        x = inputs
    bias = norm != "batch"
    if variant == "paper" and n_layers == 0:  # PixelGAN: every convolution is 1x1
        x = conv_block(x, base_filters, 1, 1, norm="none", activation="lrelu", bias=True,
                       name="down1")  # (B, S, S, F)
        x = conv_block(x, 2 * base_filters, 1, 1, norm=norm, activation="lrelu", bias=bias,
                       name="down2")  # (B, S, S, 2F)
        logits = conv_layer(1, 1, bias=bias, name="logits")(x)  # (B, S, S, 1)
        return keras.Model(inputs, logits, name=name or "pixelgan")
    if variant == "paper":
        for i in range(n_layers):
            x = _down(x, base_filters * min(2 ** i, 8), norm="none" if i == 0 else norm, bias=bias,
                      name=f"down{i + 1}")  # (B, S/2^(i+1), S/2^(i+1), F * min(2^i, 8))
        x = layers.ZeroPadding2D(1, name="pad1")(x)  # (B, S/2^n + 2, S/2^n + 2, .)
        x = conv_layer(base_filters * min(2 ** n_layers, 8), 4, padding="valid", bias=bias,
                       name=f"conv{n_layers + 1}")(x)  # (B, S/2^n - 1, S/2^n - 1, F * min(2^n, 8))
        x = norm_act(x, norm=norm, activation="lrelu", name=f"conv{n_layers + 1}")
        x = layers.ZeroPadding2D(1, name="pad2")(x)  # (B, S/2^n + 1, S/2^n + 1, .)
    else:
        for i, filters in enumerate((base_filters, 2 * base_filters, 4 * base_filters, 8 * base_filters)):
            x = _down(x, filters, norm="none" if i == 0 else "instance", bias=True,
                      name=f"down{i + 1}")  # (B, S/2^(i+1), S/2^(i+1), F * 2^i)
        x = layers.ZeroPadding2D(((2, 1), (2, 1)), name="pad")(x)  # (B, S/16 + 3, S/16 + 3, 8F)
    # paper: (B, S/2^n - 2, S/2^n - 2, 1), 30x30 at 256 px for n = 3; mastering: (B, S/16, S/16, 1)
    logits = conv_layer(1, 4, padding="valid", name="logits")(x)
    return keras.Model(inputs, logits, name=name or f"patchgan_{variant}")


def book_image_discriminator(image_size: int = 256, channels: int = 1, base_filters: int = 64,
                             num_kernels: int = 100, kernel_dim: int = 5, name: str | None = None) -> keras.Model:
    """Historical exhibit: the source book's pix2pix discriminator. Do not train with it.

    The book calls it a PatchGAN, but its "patch" is the whole image and it
    never sees the input label map, so it is neither patch-based nor
    conditional. ``log2(image_size)`` blocks of ``Conv2D(k4, s2)`` (64, 128,
    256, 512, 512, ...; BatchNorm from the second; LeakyReLU 0.2) reach a 1x1
    map; a 2-way softmax on the flattened features is concatenated with
    minibatch-discrimination features of the same vector and a last
    ``Dense(2, softmax)`` gives P(fake), P(real). With batch 1 (the book's
    batch size) the BatchNorm of the 1x1 map outputs its offset whatever the
    image, and minibatch discrimination over one sample is ``exp(0) = 1``:
    in training mode the output does not depend on the input
    (:func:`gancourse.models.pix2pix.batch_one_exhibit` measures it).
    At 256 px, 1 channel: 19,546,562 parameters in the per-patch network
    (the book's table) and 19,802,768 in all.
    """
    image = keras.Input((image_size, image_size, channels), name="image")  # (B, S, S, channels)
    x = image
    for i, filters in enumerate(encoder_widths(image_size, base_filters)):
        x = _down(x, filters, norm="none" if i == 0 else "batch", bias=True,
                  name=f"conv{i + 1}")  # (B, S/2^(i+1), S/2^(i+1), filters); the last (B, 1, 1, 8F)
    features = layers.Flatten(name="features")(x)  # (B, 8F)
    per_patch = layers.Dense(2, activation="softmax", name="patch_softmax")(features)  # (B, 2)
    mbd = MinibatchDiscrimination(num_kernels, kernel_dim, concat_input=False,
                                  name="minibatch_disc")(features)  # (B, num_kernels)
    x = layers.Concatenate(name="softmax_and_mbd")([per_patch, mbd])  # (B, 2 + num_kernels)
    outputs = layers.Dense(2, activation="softmax", name="fake_real")(x)  # (B, 2): P(fake), P(real)
    return keras.Model(image, outputs, name=name or "book_image_discriminator")


RESNET_PADDINGS = ("zero", "reflect")
RESNET_NORMS = ("batch", "instance")
BOOK_RESIDUAL_BATCHNORM = {"momentum": 0.9, "epsilon": 1e-5}  # the source book's residual BatchNorm


def resnet_blocks_for(image_size: int) -> int:
    """Residual blocks of CycleGAN's ResNet generator at ``image_size``: 9 from 256 px, 6 at 128 (Zhu et al.),
    and, for the course's small sizes, 3 at 64 px and 2 below."""
    if image_size >= 256:
        return 9
    if image_size >= 128:
        return 6
    return 3 if image_size >= 64 else 2


def resnet_generator(image_size: int = 256, channels: int = 3, base_filters: int = 64, res_blocks: int | None = None,
                     *, padding: str = "reflect", res_norm: str = "instance", affine: bool = False,
                     name: str | None = None) -> keras.Model:
    """CycleGAN's encoder - residual blocks - decoder generator, ``(B, S, S, C)`` -> ``(B, S, S, C)`` in ``[-1, 1]``.

    ``c7s1-F, d2F, d4F, R4F x res_blocks, u2F, uF, c7s1-C``: a 7x7
    convolution, two stride-2 3x3 convolutions, residual blocks of two 3x3
    convolutions at ``S/4``, two stride-2 3x3 transposed convolutions and a
    7x7 convolution with ``tanh``. Instance norm and ReLU after every
    convolution but the last.

    ``padding="reflect"`` is the reference implementation
    (junyanz/pytorch-CycleGAN-and-pix2pix ``ResnetGenerator``): reflection
    padding before the 7x7 and the residual 3x3 convolutions, zero padding of
    1 for the stride-2 convolutions and the transposed convolutions cropped as
    PyTorch's ``padding=1, output_padding=1`` crops them (the first row and
    column), so the pixel grid lines up with the reference; every
    convolution has a bias. ``padding="zero"`` is the source book's Keras
    code: ``"same"`` padding everywhere and transposed convolutions without a
    bias. ``res_norm`` is the residual blocks' norm: ``"instance"`` (paper)
    or ``"batch"`` (the book, momentum 0.9, epsilon 1e-5); ``affine`` gives
    the instance norms a learned scale and offset (the book's keras-contrib
    layer; the reference has none). 11,378,179 parameters for the reference
    at 256 px (9 blocks, F = 64); 1,971,747 for the book at 128 px (6 blocks,
    F = 32).

    Args:
        res_blocks: ``None`` follows the image size (:func:`resnet_blocks_for`).
    """
    if padding not in RESNET_PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(RESNET_PADDINGS)}")
    if res_norm not in RESNET_NORMS:
        raise ValueError(f"unknown residual-block norm {res_norm!r}; choose one of {', '.join(RESNET_NORMS)}")
    if image_size < 8 or image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 and >= 8 (the generator halves it twice), got "
                         f"{image_size}")
    res_blocks = resnet_blocks_for(image_size) if res_blocks is None else int(res_blocks)
    if res_blocks < 0:
        raise ValueError(f"res_blocks must be >= 0, got {res_blocks}")
    reference = padding == "reflect"
    pad7 = pad3 = "reflect" if reference else "same"
    down_pad = 1 if reference else "same"  # PyTorch's Conv2d(k3, s2, padding=1)
    inorm = {"affine": affine}
    rnorm = inorm if res_norm == "instance" else BOOK_RESIDUAL_BATCHNORM
    image = keras.Input((image_size, image_size, channels), name="image")  # (B, S, S, C)
    x = conv_block(image, base_filters, 7, 1, norm="instance", activation="relu", padding=pad7,
                   norm_options=inorm, name="c7")  # (B, S, S, F)
    for i, mult in enumerate((2, 4)):
        x = conv_block(x, base_filters * mult, 3, 2, norm="instance", activation="relu", padding=down_pad,
                       norm_options=inorm, name=f"down{i + 1}")  # (B, S/2, S/2, 2F), then (B, S/4, S/4, 4F)
    for i in range(res_blocks):
        x = residual_block(x, 3, norm=res_norm, padding=pad3, norm_options=rnorm,
                           name=f"res{i + 1}")  # (B, S/4, S/4, 4F)
    for i, mult in enumerate((2, 1)):
        block = f"up{i + 1}"
        if reference:  # ConvTranspose2d(k3, s2, padding=1, output_padding=1): the full 2s + 1 map minus row/col 0
            x = conv_layer(base_filters * mult, 3, 2, transposed=True, padding="valid",
                           name=f"{block}_deconv")(x)  # (B, 2s + 1, 2s + 1, mult * F)
            x = layers.Cropping2D(((1, 0), (1, 0)), name=f"{block}_crop")(x)  # (B, 2s, 2s, mult * F)
            x = norm_act(x, norm="instance", activation="relu", norm_options=inorm, name=block)
        else:
            x = transposed_block(x, base_filters * mult, 3, 2, norm="instance", activation="relu", bias=False,
                                 norm_options=inorm, name=block)  # (B, 2s, 2s, mult * F)
    x = conv_block(x, channels, 7, 1, norm="none", activation="tanh", padding=pad7, name="output")  # (B, S, S, C)
    return keras.Model(image, x, name=name or f"resnet_generator_{res_blocks}blocks")


def book_cycle_discriminator(image_size: int = 128, channels: int = 3, base_filters: int = 64,
                             name: str | None = None) -> keras.Model:
    """The source book's CycleGAN discriminator: ``(B, S, S, C)`` -> ``(B, S/16 - 1, S/16 - 1, 1)`` probabilities.

    Four blocks of zero padding 1 + ``Conv2D(k4, s2)`` (64, 128, 256, 512
    filters; affine instance norm from the second; LeakyReLU 0.2), then zero
    padding 1 + a 1-filter ``Conv2D(k4, s1)`` and a sigmoid: 7x7 outputs at
    128 px, each judging a 94x94 patch. It is trained with a squared error on
    the sigmoid's output (LSGAN's loss on probabilities, not on scores).
    2,766,529 parameters at 128 px.
    """
    if image_size < 32 or image_size % 16:
        raise ValueError(f"image_size must be a multiple of 16 and >= 32 (four stride-2 layers and a 4x4 "
                         f"output layer), got {image_size}")
    image = keras.Input((image_size, image_size, channels), name="image")  # (B, S, S, C)
    x = image
    for i in range(4):
        x = conv_block(x, base_filters * 2 ** i, 4, 2, norm="none" if i == 0 else "instance", activation="lrelu",
                       padding=1, norm_options=None if i == 0 else {"affine": True},
                       name=f"down{i + 1}")  # (B, S/2^(i+1), S/2^(i+1), F * 2^i)
    x = conv_block(x, 1, 4, 1, norm="none", activation="sigmoid", padding=1,
                   name="output")  # (B, S/16 - 1, S/16 - 1, 1)
    return keras.Model(image, x, name=name or "book_cycle_discriminator")


_CONVS = (layers.Conv1D, layers.Conv2D, layers.Conv3D)
_POOLS = (layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
          layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)


def _kernel_stride(layer) -> tuple[int, int] | None:
    """``(kernel, stride)`` of a convolution or pooling layer (through a spectral-norm wrapper), else ``None``."""
    if isinstance(layer, layers.SpectralNormalization):
        layer = layer.layer
    if isinstance(layer, _TRANSPOSED):
        raise ValueError(f"receptive_field covers down-sampling stacks; {layer.name} is a transposed conv")
    if isinstance(layer, _CONVS):
        kernel, stride = layer.kernel_size, layer.strides
    elif isinstance(layer, _POOLS):
        kernel, stride = layer.pool_size, layer.strides
    else:
        return None
    if len(set(kernel)) > 1 or len(set(stride)) > 1:
        raise ValueError(f"{layer.name} has kernel {kernel} and stride {stride}; receptive_field needs the same "
                         "size along every axis")
    return kernel[0], stride[0]


def receptive_field(model_or_layers) -> int:
    """Receptive field (pixels, or voxels, on a side) of one output unit of a conv stack.

    Takes a Keras model (its chain of ``Conv1D/2D/3D`` layers and poolings
    is read in order; spectral-norm wrappers are looked through; transposed
    convolutions are an error) or a list of ``(kernel, stride)`` pairs.
    Working backwards from one output unit, each layer widens the field to
    ``(field - 1) * stride + kernel``.
    """
    if isinstance(model_or_layers, keras.Model):
        pairs = [pair for pair in map(_kernel_stride, model_or_layers.layers) if pair is not None]
    else:
        pairs = [(int(k), int(s)) for k, s in model_or_layers]
    if not pairs:
        raise ValueError("no convolution found")
    field = 1
    for kernel, stride in reversed(pairs):
        field = (field - 1) * stride + kernel
    return field
