"""Adversarial losses as small pure functions.

Discriminators in gancourse output *logits* (no final sigmoid): the sigmoid is
applied inside the loss, which is the numerically stable form of binary
cross-entropy. ``D(x) = sigmoid(logit)`` is the probability that ``x`` is real.
"""

from __future__ import annotations

import dataclasses
import typing

import tensorflow as tf

from gancourse.config import OBJECTIVE_NAMES


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
    return discriminator_accuracy_at(real_logits, fake_logits, 0.0)


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


def gradient_penalty(critic, real, fake, weight: float = 10.0, seed=None, condition=None):
    """WGAN-GP: ``weight * E[(||grad C(x_hat)||_2 - 1)^2]`` on random interpolates
    ``x_hat = e x + (1 - e) G(z)``, ``e ~ U(0, 1)`` per sample (Gulrajani et al.).

    Args:
        critic: maps images (or ``[condition, images]``) to scores.
        real, fake: batches of the same shape.
        seed: a ``keras.random.SeedGenerator`` (inside a compiled step, so each
            call draws new interpolation weights), an int, or ``None``.
        condition: for a conditional critic, its first input (held fixed: the
            gradient is taken with respect to the image only).
    """
    import keras

    real = tf.convert_to_tensor(real)
    shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
    eps = keras.random.uniform(shape, 0.0, 1.0, seed=seed, dtype=real.dtype)
    interpolates = eps * real + (1.0 - eps) * tf.convert_to_tensor(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        out = critic(interpolates if condition is None else [condition, interpolates], training=True)
    grads = tape.gradient(out, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(real)[0], -1])), axis=1) + 1e-12)
    return weight * tf.reduce_mean(tf.square(norms - 1.0))


def feature_matching_loss(real_features, fake_features):
    """Feature matching (Salimans et al.): ``||E f(x) - E f(G(z))||_2^2`` over the
    batch means of an intermediate discriminator activation."""
    real_mean = tf.reduce_mean(tf.reshape(real_features, [tf.shape(real_features)[0], -1]), axis=0)
    fake_mean = tf.reduce_mean(tf.reshape(fake_features, [tf.shape(fake_features)[0], -1]), axis=0)
    return tf.reduce_sum(tf.square(real_mean - fake_mean))


# ---------------------------------------------------------------------------
# Adversarial objectives selected by name
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Objective:
    """An adversarial objective: a pair of pure functions on the discriminator's raw outputs.

    Attributes:
        name: the config value that selects it (``cfg.objective``).
        discriminator: ``(real_out, fake_out, real_target, fake_target) -> loss``; the
            targets are used by ``bce`` (label smoothing) and ``lsgan`` and ignored by
            the others.
        generator: ``(fake_out, target) -> loss``.
        logits: the outputs are logits, so ``sigmoid(out)`` is D's probability that
            the input is real (only then do models track ``d_real``/``d_fake`` as
            probabilities; otherwise they track the mean raw score).
        threshold: the output value that separates "real" from "fake" for the
            discriminator's accuracy, or ``None`` where the scores have no such
            meaning (a Wasserstein critic).
        penalty_weight: weight of the gradient penalty on interpolates (WGAN-GP), 0 for none.
    """

    name: str
    discriminator: typing.Callable
    generator: typing.Callable
    logits: bool
    threshold: float | None
    penalty_weight: float = 0.0


def _ignore_targets(loss):
    def d_loss(real_out, fake_out, real_target=1.0, fake_target=0.0):
        return loss(real_out, fake_out)

    def g_loss(fake_out, target=1.0):
        return loss(fake_out)

    return d_loss, g_loss


OBJECTIVES = {
    "bce": Objective("bce", discriminator_loss, generator_loss, logits=True, threshold=0.0),
    "lsgan": Objective("lsgan", least_squares_discriminator_loss, least_squares_generator_loss, logits=False,
                       threshold=0.5),
    "hinge": Objective("hinge", _ignore_targets(hinge_discriminator_loss)[0],
                       _ignore_targets(hinge_generator_loss)[1], logits=False, threshold=0.0),
    "wgan": Objective("wgan", _ignore_targets(wasserstein_critic_loss)[0],
                      _ignore_targets(wasserstein_generator_loss)[1], logits=False, threshold=None),
    "wgan-gp": Objective("wgan-gp", _ignore_targets(wasserstein_critic_loss)[0],
                         _ignore_targets(wasserstein_generator_loss)[1], logits=False, threshold=None,
                         penalty_weight=10.0),
}
assert tuple(OBJECTIVES) == OBJECTIVE_NAMES, "gancourse.config.OBJECTIVE_NAMES must list every objective"


def objective(name: str) -> Objective:
    """The :class:`Objective` called ``name`` (``bce``, ``lsgan``, ``hinge``, ``wgan``, ``wgan-gp``)."""
    if name not in OBJECTIVES:
        raise ValueError(f"unknown adversarial objective {name!r}; choose one of {', '.join(OBJECTIVE_NAMES)}")
    return OBJECTIVES[name]


def discriminator_accuracy_at(real_out, fake_out, threshold: float = 0.0):
    """Fraction of real outputs above ``threshold`` and fake outputs below it (averaged)."""
    real_ok = tf.cast(real_out > threshold, tf.float32)
    fake_ok = tf.cast(fake_out < threshold, tf.float32)
    return 0.5 * (tf.reduce_mean(real_ok) + tf.reduce_mean(fake_ok))
