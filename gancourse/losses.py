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


# ---------------------------------------------------------------------------
# Generator objectives of the original game
# ---------------------------------------------------------------------------
def minimax_generator_loss(fake_logits):
    """The saturating generator loss of the original minimax game, ``E[log(1 - D(G(z)))]``.

    The generator *minimises* it. ``log(1 - sigmoid(l)) = -softplus(l)``, so its
    gradient with respect to the logit is ``-D(G(z))``: it vanishes exactly when
    the discriminator confidently rejects the fakes.
    """
    return tf.reduce_mean(-tf.nn.softplus(tf.convert_to_tensor(fake_logits)))


def non_saturating_generator_loss(fake_logits):
    """``-E[log D(G(z))]``; its logit gradient ``D(G(z)) - 1`` stays near -1 when D wins."""
    return generator_loss(fake_logits, 1.0)


# ---------------------------------------------------------------------------
# Least-squares, hinge and Wasserstein objectives (raw discriminator outputs)
# ---------------------------------------------------------------------------
def least_squares_discriminator_loss(real_out, fake_out, real_target=1.0, fake_target=0.0):
    """LSGAN: ``0.5 E[(D(x) - b)^2] + 0.5 E[(D(G(z)) - a)^2]`` with ``a = fake_target``, ``b = real_target``."""
    return 0.5 * (tf.reduce_mean(tf.square(real_out - real_target)) + tf.reduce_mean(tf.square(fake_out - fake_target)))


def least_squares_generator_loss(fake_out, target=1.0):
    """LSGAN generator: ``0.5 E[(D(G(z)) - c)^2]``."""
    return 0.5 * tf.reduce_mean(tf.square(fake_out - target))


def hinge_discriminator_loss(real_out, fake_out):
    """Hinge loss: ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_out)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_out))


def hinge_generator_loss(fake_out):
    """Hinge generator loss: ``-E[D(G(z))]``."""
    return -tf.reduce_mean(fake_out)


def wasserstein_critic_loss(real_out, fake_out):
    """WGAN critic: ``E[C(G(z))] - E[C(x)]`` (the negative Wasserstein estimate)."""
    return tf.reduce_mean(fake_out) - tf.reduce_mean(real_out)


def wasserstein_generator_loss(fake_out):
    """WGAN generator: ``-E[C(G(z))]``."""
    return -tf.reduce_mean(fake_out)


def gradient_penalty(critic, real, fake, weight: float = 10.0, seed=None):
    """WGAN-GP: ``weight * E[(||grad C(x_hat)||_2 - 1)^2]`` on random interpolates
    ``x_hat = e x + (1 - e) G(z)``, ``e ~ U(0, 1)`` per sample (Gulrajani et al.)."""
    real = tf.convert_to_tensor(real)
    shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
    eps = tf.random.uniform(shape, 0.0, 1.0, seed=seed, dtype=real.dtype)
    interpolates = eps * real + (1.0 - eps) * tf.convert_to_tensor(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        out = critic(interpolates, training=True)
    grads = tape.gradient(out, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(real)[0], -1])), axis=1) + 1e-12)
    return weight * tf.reduce_mean(tf.square(norms - 1.0))


def feature_matching_loss(real_features, fake_features):
    """Feature matching (Salimans et al.): ``||E f(x) - E f(G(z))||_2^2`` over the
    batch means of an intermediate discriminator activation."""
    real_mean = tf.reduce_mean(tf.reshape(real_features, [tf.shape(real_features)[0], -1]), axis=0)
    fake_mean = tf.reduce_mean(tf.reshape(fake_features, [tf.shape(fake_features)[0], -1]), axis=0)
    return tf.reduce_sum(tf.square(real_mean - fake_mean))
