"""Conditioning a network on a vector: condition tiling and conditioning augmentation.

:class:`ConditionTiling` copies a condition vector to every position of a
feature map and concatenates it to the channels (Age-cGAN's age one-hot,
StackGAN's compressed text embedding). :class:`ConditioningAugmentation` is
StackGAN's stochastic text condition and :func:`kl_to_standard_normal` its
regulariser (the KL term a StackGAN generator adds to its loss).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from gancourse.nn.init import kernel_initializer
from gancourse.nn.spatial import spatial_rank

CA_ACTIVATIONS = ("lrelu", "relu", "none")


@keras.saving.register_keras_serializable(package="gancourse")
class ConditionTiling(layers.Layer):
    """``[features (B, *S, C), condition (B, k)]`` -> ``(B, *S, C + k)``.

    Every position of the map gets a copy of its sample's condition:
    ``y[b, s] = concat(features[b, s], condition[b])`` (rank 2 or 3 maps).
    ``condition_first=True`` puts the condition's channels first, as
    StackGAN's Stage-II generator does (``[c, x]``).
    """

    def __init__(self, condition_first: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.condition_first = bool(condition_first)

    def build(self, input_shape):
        features, condition = input_shape
        spatial_rank(features, "ConditionTiling's feature map")
        if len(condition) != 2:
            raise ValueError(f"ConditionTiling takes a (batch, k) condition vector, got shape {tuple(condition)}; "
                             "flatten it first")

    def call(self, inputs):
        features, condition = inputs
        condition = tf.cast(condition, features.dtype)
        rank = len(features.shape) - 2
        k = tf.shape(condition)[-1]
        tiled = tf.broadcast_to(tf.reshape(condition, [tf.shape(condition)[0]] + [1] * rank + [k]),
                                tf.concat([tf.shape(features)[:-1], [k]], axis=0))
        return tf.concat([tiled, features] if self.condition_first else [features, tiled], axis=-1)

    def compute_output_shape(self, input_shape):
        features, condition = input_shape
        return (*features[:-1], features[-1] + condition[-1])

    def get_config(self):
        return {**super().get_config(), "condition_first": self.condition_first}


@keras.saving.register_keras_serializable(package="gancourse")
class ConditioningAugmentation(layers.Layer):
    """StackGAN's conditioning augmentation: ``embedding (B, e)`` -> ``(c, mu, logvar)``, each ``(B, c_dim)``.

    A ``Dense(2 * c_dim)`` (then ``activation``) gives ``[mu, logvar]`` and
    ``c = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` drawn per
    sample from the layer's ``SeedGenerator``: near-identical embeddings give
    different conditions, which smooths the conditioning manifold. A model
    adds ``lambda * kl_to_standard_normal(mu, logvar)`` to the generator loss
    (StackGAN: ``lambda = 2``) so the distribution stays close to ``N(0, I)``.

    StackGAN's code calls the second half ``log sigma``; ``log sigma =
    logvar / 2``, so its layer is this one with that half of the Dense scaled
    by 2. The source book samples one ``eps`` for the whole batch; here each
    sample gets its own.

    Args:
        c_dim: size of ``c`` (StackGAN: 128).
        activation: ``"lrelu"`` (LeakyReLU 0.2, StackGAN's TensorFlow code and
            the book), ``"relu"`` (its PyTorch code) or ``"none"``.
        deterministic_inference: with ``training=False`` return ``c = mu``
            instead of a sample.
        seed: seed of the noise's ``SeedGenerator`` (``None``: from the
            global seed).
        sample: ``False`` gives ``c = mu`` always, in training too: no
            augmentation (StackGAN's ablation without CA; the same weights).
    """

    def __init__(self, c_dim: int = 128, activation: str = "lrelu", deterministic_inference: bool = False,
                 seed: int | None = None, init: str = "glorot", sample: bool = True, **kwargs):
        super().__init__(**kwargs)
        if c_dim < 1:
            raise ValueError(f"c_dim must be >= 1, got {c_dim}")
        if activation not in CA_ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(CA_ACTIVATIONS)}")
        self.c_dim, self.activation, self.init = int(c_dim), activation, init
        self.deterministic_inference, self.seed, self.sample = bool(deterministic_inference), seed, bool(sample)
        self.dense = layers.Dense(2 * self.c_dim, kernel_initializer=kernel_initializer(init), name="mu_logvar")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"ConditioningAugmentation takes (batch, embedding) inputs, got shape "
                             f"{tuple(input_shape)}")
        self.dense.build(input_shape)

    def call(self, embedding, training=None):
        h = self.dense(embedding)
        if self.activation == "lrelu":
            h = tf.nn.leaky_relu(h, 0.2)
        elif self.activation == "relu":
            h = tf.nn.relu(h)
        mu, logvar = h[:, :self.c_dim], h[:, self.c_dim:]
        if not self.sample or (training is False and self.deterministic_inference):
            return mu, mu, logvar
        eps = keras.random.normal(tf.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
        return mu + tf.exp(0.5 * logvar) * eps, mu, logvar

    def compute_output_shape(self, input_shape):
        return ((input_shape[0], self.c_dim),) * 3

    def get_config(self):
        return {**super().get_config(), "c_dim": self.c_dim, "activation": self.activation,
                "deterministic_inference": self.deterministic_inference, "seed": self.seed, "init": self.init,
                "sample": self.sample}


def kl_to_standard_normal(mu, logvar):
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per dimension, averaged over batch and dimensions.

    ``0.5 * mean(exp(logvar) + mu^2 - 1 - logvar)``: 0 exactly when
    ``mu = 0`` and ``logvar = 0``, positive otherwise. This is StackGAN's
    regulariser as its code computes it (a mean, not a sum, over the
    ``c_dim`` dimensions; multiply by ``c_dim`` for the KL of the whole
    vector). ``mu``, ``logvar``: ``(B, c_dim)``.
    """
    mu = tf.convert_to_tensor(mu)
    logvar = tf.convert_to_tensor(logvar, mu.dtype)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {mu.shape} and {logvar.shape}")
    return 0.5 * tf.reduce_mean(tf.exp(logvar) + tf.square(mu) - 1.0 - logvar)
