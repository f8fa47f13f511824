"""Chapter 03 (Age-cGAN) exercises: references and graders."""

from __future__ import annotations

import datetime

import numpy as np

from gancourse.experiments import ch03


def matlab_age(dob: float, photo_taken: int) -> int:
    """Reference: the book's age rule for a person born on the MATLAB serial date ``dob`` in a photograph of the
    year ``photo_taken`` (``floor(dob) - 366`` is Python's date ordinal; born before July: ``taken - year``, else
    one less). Note that someone born on 1 July itself gets one less here, while IMDB-WIKI's own MATLAB line
    (``datevec(datenum(taken, 7, 1) - dob)``) counts them as a year older."""
    birth = datetime.date.fromordinal(int(np.floor(dob)) - 366)
    return int(photo_taken - birth.year - (birth.month >= 7))


def _datenum(year: int, month: int, day: int, fraction: float = 0.0) -> float:
    return datetime.date(year, month, day).toordinal() + 366 + fraction


def _age_cases():
    yield "born 5 May 1981, photo 2009", _datenum(1981, 5, 5), 2009
    yield "born 1 July 1981 (the rule: July or later gives one less), photo 2009", _datenum(1981, 7, 1), 2009
    yield "born 30 June 1981 at 18:00 (a fractional datenum), photo 2009", _datenum(1981, 6, 30, 0.75), 2009
    yield "born 29 February 1960, photo 2000", _datenum(1960, 2, 29), 2000
    yield "born 31 December 1899, photo 1950", _datenum(1899, 12, 31), 1950
    yield "born 1 January 2001, photo 2001", _datenum(2001, 1, 1), 2001


def grade_matlab_age(answer) -> None:
    """Grade a reader's ``matlab_age``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, dob, taken in _age_cases():
        want = matlab_age(dob, taken)
        got = int(answer(dob, taken))
        birth_ordinal = int(np.floor(dob))
        hint = ""
        if got == taken - datetime.date.fromordinal(birth_ordinal - 366).year:
            hint = " Apply the book's rule: born in July or later gives one year less."
        elif 0 < birth_ordinal - 365 <= datetime.date.max.toordinal() and \
                got == matlab_age(dob + 1, taken) != want:
            hint = " The offset is 366 days (MATLAB counts from year 0, a leap year), not 365."
        assert got == want, f"{name}: expected {want}, got {got}.{hint}"


def tile_labels(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Reference: the discriminator's label tiling (:func:`gancourse.experiments.ch03.tile_labels`)."""
    return ch03.tile_labels(features, labels)


def grade_tile_labels(answer) -> None:
    """Grade a reader's ``tile_labels``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(30)
    cases = [("a batch of 2, 4x4 maps of 3 channels, 6 ages", rng.normal(size=(2, 4, 4, 3)),
              np.eye(6)[[1, 4]]),
             ("a batch of 3, a 2x5 map, 2 channels", rng.normal(size=(3, 2, 5, 2)), np.eye(6)[[0, 5, 5]]),
             ("a batch of 1, 32x32x64 (the book's D)", rng.normal(size=(1, 32, 32, 64)), np.eye(6)[[2]])]
    for name, features, labels in cases:
        want = tile_labels(features, labels)
        got = np.asarray(answer(features.copy(), labels.copy()))
        hint = ""
        if got.shape == want.shape[:-1] + (labels.shape[1],):
            hint = " Concatenate the tiled labels to the features, not just return them."
        elif got.shape == (want.shape[0], want.shape[3]) + want.shape[1:3]:
            hint = " Keras maps are channels-last: (B, H, W, C)."
        assert got.shape == want.shape, f"{name}: expected shape {want.shape}, got {got.shape}.{hint}"
        if np.allclose(got[..., :labels.shape[1]], labels[:, None, None, :]) and not np.allclose(got, want):
            hint = " The features come first and the labels after them (the book's order)."
        assert np.allclose(got, want), f"{name}: the values differ from features + tiled labels.{hint}"


def identity_loss(z, images, ages, generator, embed):
    """Reference: the identity-preserving objective ``sum_i ||embed(x_i) - embed(G(z_i, y_i))||`` (a scalar
    tensor, differentiable with respect to ``z``), with G and the embedding in inference mode.
    :meth:`gancourse.models.agecgan.AgeCGAN.optimize_latent` descends it on ``z``."""
    import tensorflow as tf

    target = embed(images, training=False)
    rebuilt = embed(generator([z, ages], training=False), training=False)
    return tf.reduce_sum(tf.sqrt(tf.reduce_sum(tf.square(rebuilt - target), axis=-1) + 1e-12))


def _value_and_gradient(loss_fn, z, images, ages, generator, embed):
    """The loss and its gradient with respect to ``z`` (``None`` when the loss does not depend on ``z`` through
    TensorFlow operations)."""
    import tensorflow as tf

    z = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = loss_fn(z, tf.constant(images), tf.constant(ages), generator, embed)
    gradient = tape.gradient(loss, z)
    return np.asarray(loss, np.float64), None if gradient is None else np.asarray(gradient, np.float64)


def _latent_problem():
    """A tiny generator and embedding (seeded) for the identity-loss grader."""
    import keras

    z_in, y_in = keras.Input((4,)), keras.Input((6,))
    h = keras.layers.Concatenate()([z_in, y_in])
    h = keras.layers.Dense(8 * 8 * 3, activation="tanh", kernel_initializer=keras.initializers.GlorotUniform(1))(h)
    generator = keras.Model([z_in, y_in], keras.layers.Reshape((8, 8, 3))(h))
    x_in = keras.Input((8, 8, 3))
    e = keras.layers.Dense(5, kernel_initializer=keras.initializers.GlorotUniform(2))(keras.layers.Flatten()(x_in))
    embed = keras.Model(x_in, keras.layers.UnitNormalization()(e))
    rng = np.random.default_rng(31)
    z = rng.normal(size=(3, 4)).astype(np.float32)
    images = rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    ages = np.eye(6, dtype=np.float32)[[0, 3, 5]]
    return generator, embed, z, images, ages


def grade_identity_loss(answer) -> None:
    """Grade a reader's ``identity_loss``: raise ``AssertionError`` naming the first thing it gets wrong."""
    generator, embed, z, images, ages = _latent_problem()
    weights = [w.copy() for w in generator.get_weights() + embed.get_weights()]
    want, want_gradient = _value_and_gradient(identity_loss, z, images, ages, generator, embed)
    got, gradient = _value_and_gradient(answer, z.copy(), images.copy(), ages.copy(), generator, embed)
    assert got.shape == (), f"the loss must be one number (a scalar tensor), got shape {got.shape}"
    distances = np.linalg.norm(np.asarray(embed(generator([z, ages]))) - np.asarray(embed(images)), axis=-1)
    hint = ""
    if np.isclose(got, np.sum(distances ** 2), rtol=1e-4):
        hint = " That is the sum of SQUARED distances; take the Euclidean distance itself (its square root)."
    elif np.isclose(got, np.mean(distances), rtol=1e-4):
        hint = " That is the mean over faces; sum them, so that each face's gradient is its own."
    assert np.isclose(got, want, rtol=1e-4), (
        f"the loss is {float(got):.6g}, the reference {float(want):.6g}.{hint} The loss is the SUM over faces of "
        "the Euclidean distances between the embeddings of the real faces and of G(z, y)")
    assert gradient is not None, ("the loss does not depend on z through TensorFlow operations: compute it with "
                                  "tf ops on the networks' outputs (no .numpy()), so that it can be differentiated")
    assert np.allclose(gradient, want_gradient, atol=1e-5), (
        f"the gradient with respect to z differs from the reference by up to "
        f"{np.max(np.abs(gradient - want_gradient)):.3g}")
    after = generator.get_weights() + embed.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(weights, after)), (
        "the generator or the embedding changed: only z may move (G and FR are frozen)")


EXERCISES = {
    "03.matlab_age": ("an age in whole years from a MATLAB datenum and the year of the photo", matlab_age,
                      grade_matlab_age),
    "03.tile_labels": ("the discriminator's label tiling", tile_labels, grade_tile_labels),
    "03.identity_loss": ("the identity-preserving objective that latent optimisation descends", identity_loss,
                         grade_identity_loss),
}
