"""The block library shared by the chapter models, 2-D (images) and 3-D (voxel grids).

Normalisation and initialisation (:mod:`gancourse.nn.norm`, :mod:`gancourse.nn.init`):

* :data:`NORMS`, :func:`norm_layer`, :func:`instance_norm`, :func:`weight_layer` -
  the norm switch: batch, instance, layer, spectral (wraps the weight layer), none.
* :func:`dcgan_normal`, :func:`kernel_initializer` - ``N(0, 0.02^2)`` (standard deviation 0.02) or Glorot, a fresh one per layer.

Blocks (:mod:`gancourse.nn.blocks`), each ``rank=2`` or ``3`` with deterministic layer names:

* :func:`conv_block`, :func:`transposed_block`, :func:`upsample_block` - conv, norm, activation, dropout.
* :func:`residual_block` - two convolutions and an identity skip (CycleGAN, SRGAN, StackGAN styles).
* :func:`subpixel_block` - SRGAN's conv + pixel-shuffle up-sampling.
* :func:`conv_layer`, :func:`norm_act`, :func:`activation_layer` - the pieces the blocks are made of.

Layers (:mod:`gancourse.nn.spatial`, :mod:`gancourse.nn.conditioning`):

* :class:`ReflectionPadding`, :class:`PixelShuffle` - mirror padding, sub-pixel up-sampling.
* :class:`SelfAttention` - SAGAN's attention over all positions, identity at initialisation.
* :class:`ConditionTiling` - a condition vector copied to every position and concatenated.
* :class:`ConditioningAugmentation`, :func:`kl_to_standard_normal` - StackGAN's stochastic condition and its KL term.
* :class:`MinibatchDiscrimination` - Salimans et al.'s minibatch features.

Training helpers:

* :class:`ImagePool` (:mod:`gancourse.nn.pool`) - CycleGAN's history of generated images, checkpointable.
* :class:`HistoricalAverage` - the historical-averaging regulariser.

Networks: :mod:`gancourse.nn.translation` composes the U-Net and PatchGAN from these blocks.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from gancourse.nn.blocks import (ACTIVATIONS, activation_layer, conv_block, conv_layer, norm_act, residual_block,
                                 subpixel_block, transposed_block, upsample_block)
from gancourse.nn.conditioning import ConditioningAugmentation, ConditionTiling, kl_to_standard_normal
from gancourse.nn.init import KERNEL_INITS, dcgan_normal, kernel_initializer
from gancourse.nn.spatial import PixelShuffle, ReflectionPadding, SelfAttention, pixel_shuffle
from gancourse.nn.norm import NORMS, instance_norm, norm_layer, weight_layer
from gancourse.nn.pool import ImagePool

__all__ = ["ACTIVATIONS", "KERNEL_INITS", "NORMS", "ConditionTiling", "ConditioningAugmentation",
           "HistoricalAverage", "ImagePool", "MinibatchDiscrimination", "PixelShuffle", "ReflectionPadding",
           "SelfAttention", "activation_layer", "conv_block", "conv_layer", "dcgan_normal", "instance_norm",
           "kernel_initializer", "kl_to_standard_normal", "norm_act", "norm_layer", "pixel_shuffle",
           "residual_block", "subpixel_block", "transposed_block", "upsample_block", "weight_layer"]


@keras.saving.register_keras_serializable(package="gancourse")
class MinibatchDiscrimination(layers.Layer):
    """Minibatch discrimination (Salimans et al. 2016).

    For features ``f(x_i)`` of size ``A`` and a learned tensor ``T`` of shape
    ``(A, B, C)``, each sample gets ``M_i = f(x_i) T`` of shape ``(B, C)`` (the
    source book misprints it as ``A x B``). For every kernel ``b``,
    ``c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)`` and
    ``o(x_i)_b = sum_j c_b(x_i, x_j)`` (``j`` runs over the whole batch, ``i``
    included). The layer returns ``[f(x_i), o(x_i)]``: ``(batch, A + B)``. A
    discriminator that sees ``o`` can tell a batch of near-identical samples
    (large ``o``) from a varied one, which penalises mode collapse.

    Args:
        num_kernels: ``B``.
        kernel_dim: ``C``.
        concat_input: return ``[f(x_i), o(x_i)]`` (default) or ``o(x_i)`` alone.
    """

    def __init__(self, num_kernels: int = 50, kernel_dim: int = 5, concat_input: bool = True, **kwargs):
        super().__init__(**kwargs)
        if num_kernels < 1 or kernel_dim < 1:
            raise ValueError(f"num_kernels and kernel_dim must be >= 1, got {num_kernels} and {kernel_dim}")
        self.num_kernels, self.kernel_dim = int(num_kernels), int(kernel_dim)
        self.concat_input = bool(concat_input)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"MinibatchDiscrimination takes (batch, features) inputs, got shape {input_shape}; "
                             "flatten first")
        self.T = self.add_weight(name="T", shape=(input_shape[-1], self.num_kernels * self.kernel_dim),
                                 initializer=keras.initializers.RandomNormal(0.0, 0.05))

    def call(self, x):
        m = tf.reshape(tf.matmul(x, self.T), [-1, self.num_kernels, self.kernel_dim])
        l1 = tf.reduce_sum(tf.abs(m[:, None] - m[None, :]), axis=-1)  # (n, n, B)
        o = tf.reduce_sum(tf.exp(-l1), axis=1)
        return tf.concat([x, o], axis=-1) if self.concat_input else o

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * self.concat_input + self.num_kernels)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels, "kernel_dim": self.kernel_dim,
                "concat_input": self.concat_input}


class HistoricalAverage:
    """Historical averaging (Salimans et al.): penalise ``||theta - (1/t) sum_i theta[i]||^2``.

    Keeps a running mean of ``variables``. Call :meth:`penalty` inside the loss
    (it is differentiable in the current weights) and :meth:`update` after each
    optimizer step. Create it outside ``tf.function`` (it owns variables).
    """

    def __init__(self, variables):
        self.variables = list(variables)
        if not self.variables:
            raise ValueError("HistoricalAverage needs at least one variable")
        self.means = [tf.Variable(tf.identity(v), trainable=False) for v in self.variables]
        self.count = tf.Variable(1.0, trainable=False)

    def penalty(self):
        """Squared distance of the current weights to their historical mean."""
        return tf.add_n([tf.reduce_sum(tf.square(v - m)) for v, m in zip(self.variables, self.means)])

    def reset(self) -> None:
        """Start a new history at the current weights."""
        self.count.assign(1.0)
        for v, m in zip(self.variables, self.means):
            m.assign(v)

    def update(self) -> None:
        """Fold the current weights into the running mean."""
        self.count.assign_add(1.0)
        for v, m in zip(self.variables, self.means):
            m.assign_add((v - m) / self.count)
