"""3D-GAN's voxel networks: a transposed 3-D convolution stack and its mirror.

Both networks have one block per halving of the cube (``blocks_for(64) == 5``:
1 -> 4 -> 8 -> 16 -> 32 -> 64), built from :mod:`gancourse.nn.blocks` with
``rank=3``. A smaller cube drops blocks from the high-resolution end and keeps
the pattern: 4x4x4 kernels, a stride-1 ``valid`` first (or last) layer and
stride-2 ``same`` layers in between.

Batch norm is placed by *layer number* (1 is the generator's first block and
the discriminator's first convolution), so the source's three discriminator
versions are one option (:data:`D_BATCH_NORM`):

==================  =============================  ===========================
``d_batch_norm``    layers with batch norm (64^3)  where it comes from
==================  =============================  ===========================
``"canonical"``     2-4                            DCGAN's rule: not on D's input
``"description"``   1-4                            the source's architecture text
``"text"``          1-5                            the source's code listing
``"repo"``          2-5                            the source's repository
==================  =============================  ===========================

and for the generator (:data:`G_BATCH_NORM`) ``"canonical"`` (every block but
the output) or ``"text"`` (every block, the output included).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from gancourse.nn.blocks import conv_block, transposed_block

G_BATCH_NORM = ("canonical", "text")
D_BATCH_NORM = ("canonical", "description", "text", "repo")
CUBE_SIZES = (16, 32, 64)
KERNEL = 4


def blocks_for(cube_len: int) -> int:
    """Layers of either network for a ``cube_len``-voxel cube: 5 for 64, 4 for 32, 3 for 16."""
    if cube_len not in CUBE_SIZES:
        raise ValueError(f"cube_len={cube_len!r} is not supported; choose one of {', '.join(map(str, CUBE_SIZES))}")
    return int(math.log2(cube_len)) - 1


def _g_norm_layers(batch_norm: str, n: int) -> set[int]:
    if batch_norm not in G_BATCH_NORM:
        raise ValueError(f"g_batch_norm={batch_norm!r} is not allowed; choose one of {', '.join(G_BATCH_NORM)}")
    return set(range(1, n + 1 if batch_norm == "text" else n))


def _d_norm_layers(batch_norm: str, n: int) -> set[int]:
    """Layer numbers (1 = input convolution, ``n`` = the output convolution) with batch norm."""
    if batch_norm not in D_BATCH_NORM:
        raise ValueError(f"d_batch_norm={batch_norm!r} is not allowed; choose one of {', '.join(D_BATCH_NORM)}")
    first = 1 if batch_norm in ("description", "text") else 2
    last = n if batch_norm in ("text", "repo") else n - 1
    return set(range(first, last + 1))


def generator_widths(cube_len: int, filters: int = 512) -> list[int]:
    """Output channels of the generator's layers: ``filters`` halved per block, then 1 (64: 512-256-128-64-1)."""
    n = blocks_for(cube_len)
    return [max(1, filters // 2 ** i) for i in range(n - 1)] + [1]


def discriminator_widths(cube_len: int, filters: int = 512) -> list[int]:
    """Output channels of the discriminator's layers, ending at ``filters`` then 1 (64: 64-128-256-512-1)."""
    n = blocks_for(cube_len)
    return [max(1, filters // 2 ** (n - 2 - i)) for i in range(n - 1)] + [1]


def voxel_generator(cube_len: int = 64, latent_dim: int = 200, filters: int = 512, batch_norm: str = "canonical",
                    init: str = "glorot", name: str = "generator") -> keras.Model:
    """Noise ``(B, latent_dim)`` -> occupancy ``(B, L, L, L, 1)`` in ``[0, 1]`` (sigmoid).

    Layer 1 is a stride-1 ``valid`` transposed conv from the noise seen as a
    ``1 x 1 x 1`` grid to ``4^3``; every further layer doubles the side with
    stride 2 and ``same`` padding. Hidden layers use ReLU; layers in
    :data:`G_BATCH_NORM`'s set get batch norm. 64^3 with 512 filters:
    17,572,545 parameters (``"text"``: 17,572,549).
    """
    widths = generator_widths(cube_len, filters)
    with_bn = _g_norm_layers(batch_norm, len(widths))
    z = keras.Input((latent_dim,), name="z")
    x = layers.Reshape((1, 1, 1, latent_dim), name="z_grid")(z)  # (B, 1, 1, 1, latent)
    for i, width in enumerate(widths, start=1):  # (B, 4, 4, 4, w1), then the side doubles per layer
        last = i == len(widths)
        x = transposed_block(x, width, KERNEL, 1 if i == 1 else 2, rank=3,
                             norm="batch" if i in with_bn else "none", activation="sigmoid" if last else "relu",
                             padding="valid" if i == 1 else "same", init=init, name=f"g{i}")
    return keras.Model(z, x, name=name)


def voxel_discriminator(cube_len: int = 64, filters: int = 512, batch_norm: str = "canonical",
                        sigmoid_output: bool = False, init: str = "glorot",
                        name: str = "discriminator") -> keras.Model:
    """Occupancy ``(B, L, L, L, 1)`` -> one score ``(B, 1)``: a logit, or a probability with ``sigmoid_output``.

    Stride-2 ``same`` 3-D convolutions with LeakyReLU(0.2) halve the side down
    to ``4^3``; a stride-1 ``valid`` 4x4x4 convolution gives one value, reshaped
    to ``(B, 1)`` (the source keeps ``(B, 1, 1, 1, 1)`` and reshapes its labels
    instead). 64^3 with 512 filters: 11,051,457 parameters with the canonical
    batch norm (see the module table for the other placements).
    """
    widths = discriminator_widths(cube_len, filters)
    with_bn = _d_norm_layers(batch_norm, len(widths))
    volume = keras.Input((cube_len, cube_len, cube_len, 1), name="volume")
    x = volume
    for i, width in enumerate(widths[:-1], start=1):  # (B, L/2^i, ..., w_i)
        x = conv_block(x, width, KERNEL, 2, rank=3, norm="batch" if i in with_bn else "none", activation="lrelu",
                       init=init, name=f"d{i}")
    n = len(widths)
    x = conv_block(x, 1, KERNEL, 1, rank=3, norm="batch" if n in with_bn else "none",
                   activation="sigmoid" if sigmoid_output else None, padding="valid", init=init,
                   name=f"d{n}")  # (B, 1, 1, 1, 1)
    return keras.Model(volume, layers.Reshape((1,), name="score")(x), name=name)


def feature_layers(discriminator: keras.Model) -> list[str]:
    """The discriminator layers whose outputs form the paper's shape descriptor: the activations of its
    last three strided convolutions (layers 2-4 at 64^3), or of all of them on a smaller cube."""
    names = {layer.name for layer in discriminator.layers}
    convs = [i for i in range(1, 10) if f"d{i}_conv" in names]
    if not convs:
        raise ValueError(f"{discriminator.name} has no d<i>_conv layers; build it with voxel_discriminator")
    return [f"d{i}_act" for i in convs[:-1]][-3:]  # the last convolution is the output


def feature_model(discriminator: keras.Model, grid: int = 2) -> keras.Model:
    """``volume -> (B, F)``: :func:`feature_layers`' outputs, each max-pooled to ``grid^3`` cells and
    flattened, concatenated (Wu et al. pool the 64^3 discriminator's layers 2-4 with kernels 8, 4, 2: a
    2x2x2 grid each, 7,168 features)."""
    outputs = []
    for name in feature_layers(discriminator):
        x = discriminator.get_layer(name).output
        side = int(x.shape[1])
        if side % grid:
            raise ValueError(f"layer {name} is {side}^3, not a multiple of grid={grid}")
        x = layers.MaxPooling3D(side // grid, name=f"{name}_pool")(x) if side > grid else x
        outputs.append(layers.Flatten(name=f"{name}_flat")(x))
    merged = outputs[0] if len(outputs) == 1 else layers.Concatenate(name="features")(outputs)
    return keras.Model(discriminator.input, merged, name=f"{discriminator.name}_features")
