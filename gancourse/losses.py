"""Adversarial losses as small pure functions.

Discriminators in gancourse output *logits* (no final sigmoid): the sigmoid is
applied inside the loss, which is the numerically stable form of binary
cross-entropy. ``D(x) = sigmoid(logit)`` is the probability that ``x`` is real.
"""

from __future__ import annotations

import tensorflow as tf


def bce_with_logits(targets, logits):
    """Mean binary cross-entropy between ``targets`` in [0, 1] and ``logits``.

    ``targets`` broadcasts against ``logits`` (a scalar target is allowed).
    """
    logits = tf.convert_to_tensor(logits)
    targets = tf.cast(tf.broadcast_to(targets, tf.shape(logits)), logits.dtype)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))


def discriminator_loss(real_logits, fake_logits, real_target=1.0, fake_target=0.0):
    """The discriminator's BCE: push real logits to ``real_target`` and fakes to
    ``fake_target``; the mean of the two halves (so its scale matches one BCE)."""
    return 0.5 * (bce_with_logits(real_target, real_logits) + bce_with_logits(fake_target, fake_logits))


def generator_loss(fake_logits, target=1.0):
    """The non-saturating generator loss ``-log D(G(z))`` (BCE against ``target``)."""
    return bce_with_logits(target, fake_logits)


def discriminator_accuracy(real_logits, fake_logits):
    """Fraction of real samples scored real (logit > 0) and fakes scored fake."""
    real_ok = tf.cast(real_logits > 0, tf.float32)
    fake_ok = tf.cast(fake_logits < 0, tf.float32)
    return 0.5 * (tf.reduce_mean(real_ok) + tf.reduce_mean(fake_ok))
