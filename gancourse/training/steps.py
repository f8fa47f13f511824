"""The update primitive and the two halves of a translation model's training step.

:func:`apply` is the only place where gradients are applied: every
``train_step`` in the package reaches it through
:meth:`gancourse.training.base.AdversarialModel.update` (or, for code that
holds bare networks, directly). :func:`discriminator_update` and
:func:`generator_update` are pix2pix's (and CycleGAN's) D and G updates,
conditional or not, with any adversarial objective of
:mod:`gancourse.losses`.
"""

from __future__ import annotations

import tensorflow as tf

from gancourse import losses


def _gradients(variables, loss_fn):
    """``(loss_fn()'s output, gradients of its loss for variables)``; a variable without a gradient is an error."""
    with tf.GradientTape() as tape:
        out = loss_fn()
    loss = out[0] if isinstance(out, tuple) else out
    grads = tape.gradient(loss, variables)
    missing = [v.path if hasattr(v, "path") else v.name for v, g in zip(variables, grads) if g is None]
    if missing:
        raise ValueError(f"the loss does not depend on {len(missing)} variable(s) of the updated group "
                         f"(first: {missing[0]}); update only the networks the loss uses")
    return out, grads


def _empty_group(variables) -> None:
    if not variables:
        raise ValueError("the update has no trainable variables: its networks have trainable=False. Keras 3 reads "
                         "the flag when the weights are collected, so a network frozen the Keras 2 way (before "
                         "compiling a stacked model) has nothing left to update; set trainable back to True (the "
                         "update groups already keep each network's step to its own weights)")


def _record_norm(norm, grads) -> None:
    if norm is not None:
        norm.assign(tf.cast(tf.linalg.global_norm([g for g in grads if g is not None]), norm.dtype))


def apply(optimizer, variables, loss_fn, norm=None):
    """One optimizer step: record ``loss_fn()`` on a tape, differentiate, apply to ``variables`` only.

    Args:
        optimizer: a Keras optimizer that owns (or will own) ``variables``' state.
        variables: the trainable variables this update may change.
        loss_fn: a function of no arguments returning the loss, or
            ``(loss, *aux)`` (aux values are passed back, not differentiated).
        norm: a scalar ``tf.Variable`` that receives the gradients' global norm
            (read by :class:`gancourse.training.health.HealthMonitor`), or ``None``.

    Returns:
        What ``loss_fn`` returned.

    Raises:
        ValueError: a variable gets no gradient (it does not influence the
            loss, which means the update group and the loss disagree), or there
            are no variables (the networks were set ``trainable = False``).
    """
    variables = list(variables)
    _empty_group(variables)
    out, grads = _gradients(variables, loss_fn)
    _record_norm(norm, grads)
    optimizer.apply_gradients(zip(grads, variables))
    return out


def apply_if(optimizer, variables, loss_fn, condition, norm=None):
    """:func:`apply`, but the step is taken only where ``condition(loss_fn's output)`` is true.

    A skipped step leaves the variables *and* the optimizer's state (moments,
    step counter) untouched; a zero gradient would not, since Adam keeps moving
    on its momentum. The optimizer must be built beforehand
    (:meth:`~gancourse.training.base.AdversarialModel.build_optimizers`): a
    conditional branch cannot create its state.

    Returns:
        ``(what loss_fn returned, 1.0 if the step was taken else 0.0)``.
    """
    variables = list(variables)
    _empty_group(variables)
    if not optimizer.built:
        raise ValueError("a conditional update needs a built optimizer; call build_optimizers() after compile()")
    out, grads = _gradients(variables, loss_fn)
    _record_norm(norm, grads)
    take = tf.convert_to_tensor(condition(out), dtype=tf.bool)

    def step():
        optimizer.apply_gradients(zip(grads, variables))
        return tf.constant(1.0)

    taken = tf.cond(take, step, lambda: tf.constant(0.0))
    return out, taken


def judge(discriminator, source, image, training=True):
    """D's outputs for ``image``; a conditional D (``source`` given) sees the pair ``[source, image]``."""
    return discriminator(image if source is None else [source, image], training=training)


def mean_score(outputs, objective: losses.Objective):
    """The tracked mean of D's outputs: a probability where the objective has logits, else the raw score."""
    return tf.reduce_mean(tf.sigmoid(outputs) if objective.logits else outputs)


def discriminator_update(discriminator, optimizer, real, fake, source=None, objective="bce", seed=None, norm=None):
    """One optimizer step of ``discriminator`` on ``real`` and ``fake`` images (``fake`` is not differentiated).

    With ``source`` the discriminator is conditional and judges the pairs
    ``(source, real)`` and ``(source, fake)``; without, it judges images alone
    (CycleGAN). ``objective`` is a name of :data:`gancourse.losses.OBJECTIVES`
    (or an :class:`~gancourse.losses.Objective`); WGAN-GP adds its gradient
    penalty on interpolates drawn with ``seed``. Only the discriminator's
    trainable weights change. ``norm``: as in :func:`apply`.

    Returns:
        ``(loss, mean D(real), mean D(fake))``; D as a sigmoid probability when
        the objective has logits, else the mean raw score.
    """
    objective = losses.objective(objective) if isinstance(objective, str) else objective
    fake = tf.stop_gradient(fake)

    def loss_fn():
        real_out = judge(discriminator, source, real)
        fake_out = judge(discriminator, source, fake)
        value = objective.discriminator(real_out, fake_out)
        if objective.penalty_weight:
            value = value + losses.gradient_penalty(discriminator, real, fake, objective.penalty_weight, seed=seed,
                                                    condition=source)
        return value, real_out, fake_out

    value, real_out, fake_out = apply(optimizer, discriminator.trainable_variables, loss_fn, norm)
    return value, mean_score(real_out, objective), mean_score(fake_out, objective)


def generator_update(generator, discriminator, optimizer, source, target, *, l1_weight: float = 100.0,
                     gan_weight: float = 1.0, conditional: bool = True, objective="bce", norm=None):
    """One optimizer step of ``generator`` on ``gan_weight * adversarial + l1_weight * mean|target - G(source)|``.

    The adversarial term asks ``discriminator`` (conditional: it sees
    ``[source, G(source)]``) to score the output as real; with
    ``gan_weight=0`` the discriminator is not called at all (the L1-only
    model). Only the generator's trainable weights change. ``norm``: as in :func:`apply`.

    Returns:
        ``(total, adversarial term, L1 term, G(source))``.
    """
    objective = losses.objective(objective) if isinstance(objective, str) else objective

    def loss_fn():
        fake = generator(source, training=True)
        l1 = tf.reduce_mean(tf.abs(target - fake))
        total = l1_weight * l1
        gan_term = tf.constant(0.0)
        if gan_weight:
            gan_term = objective.generator(judge(discriminator, source if conditional else None, fake))
            total = total + gan_weight * gan_term
        return total, gan_term, l1, fake

    return apply(optimizer, generator.trainable_variables, loss_fn, norm)
