"""An attribute classifier for rendered birds: does a generated bird obey its caption?

A text-to-image model should draw what its caption says. On the rendered birds
of :mod:`gancourse.data.rendered_birds` this can be measured, because every
caption names attributes the renderer knows (body colour, wing colour, size,
pose, background):

* :func:`attribute_classifier` - a small multi-head CNN that reads all five
  attributes of a bird image (:meth:`AttributeClassifier.predict`). It is
  trained on rendered birds of **all 36 colour pairs**, the six pairs held out
  of the ``offline_birds`` training split included: it is an evaluator, and it
  must judge the held-out combinations a generator is asked to draw. Its
  accuracy on fresh renders (new nuisance draws of every colour pair, size,
  pose and background) is :attr:`AttributeClassifier.test_accuracy`.
* :func:`caption_consistency` - the fraction of images whose attributes, as the
  classifier reads them, are the ones their captions name (per attribute, and
  with every named attribute right).
* :meth:`AttributeClassifier.features` (the 64-unit layer below the heads)
  and :meth:`AttributeClassifier.class_probabilities` (``(n, 36)`` colour-pair
  posteriors, the product of the body and wing heads) give a classifier FID
  (:func:`gancourse.metrics.fid_from_features`) and Inception Score
  (:func:`gancourse.metrics.inception_score`) for rendered birds, where
  ImageNet's Inception network would see mostly background.

The classifier is trained once and cached like :mod:`gancourse.faceid`: every
random choice is seeded inside the builder (the training birds and their
nuisance, the initialisers, the input noise, the order of the examples),
independently of the global seeds, so two fresh caches hold the same weights;
the cache file names everything that determines them (image size, number of
training birds, epochs, :data:`VERSION` and the renderer's
:data:`~gancourse.data.rendered_birds.RENDERER_VERSION`). It lives in
``$GANCOURSE_DATA/classifiers`` and takes a few seconds to train on a CPU.

Two networks exist, for 16 px (StackGAN's Stage-I size on the smoke profile)
and for 32 px; images of any multiple of 32 (64, 128, 256) are averaged down
to 32 px first (the renderer's anti-aliasing is an area average, so this is
close to the 32 px rendering). Each is trained on two kinds of images at its
size: rendered directly, and made from 64 px renders by
:func:`gancourse.data.captioned.lr_from_hr` (as the Stage-I images of the
``offline_birds`` dataset are). These are evaluators for rendered birds only:
they know nothing about photographs of birds.
"""

from __future__ import annotations

import functools

import numpy as np

from gancourse.data.rendered_birds import (ATTRIBUTES, N_CLASSES, PER_CLASS, POSES, RENDERER_VERSION, SIZES,
                                           BACKGROUNDS, Birds, make_birds, render_birds)
from gancourse.metrics import _batched, cached_weights

#: Bumped whenever the architecture or a training setting changes (the cache key includes it).
VERSION = 1
EPOCHS = 4
#: Training birds: every colour pair with every size x pose x background this many times.
REPEATS = 8
#: Standard deviation of the Gaussian noise added to training images (generated images are never clean).
TRAIN_NOISE = 0.08
FEATURE_DIM = 64
#: Widths of the three convolutions.
WIDTHS = (16, 32, 64)
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
_TRAIN_SEED, _TEST_SEED = 40, 41


def _combinations(repeats: int) -> Birds:
    """Every colour pair x size x pose x background, ``repeats`` times (class-major)."""
    combos = len(SIZES) * len(POSES) * len(BACKGROUNDS)
    k = np.tile(np.arange(combos * repeats) % combos, N_CLASSES)
    c = np.repeat(np.arange(N_CLASSES), combos * repeats)
    return make_birds(c // 6, c % 6, k // (len(POSES) * len(BACKGROUNDS)), (k // len(BACKGROUNDS)) % len(POSES),
                      k % len(BACKGROUNDS))


def _base_size(size: int) -> int:
    """The network a size is read with: 16 px, or 32 px for every multiple of 32 (averaged down first)."""
    size = int(size)
    if size == 16 or (size >= 32 and size % 32 == 0):
        return min(size, 32)
    raise ValueError(f"size must be 16 or a multiple of 32 (32, 64, 128, 256...), got {size}")


def _pool(images: np.ndarray, base: int) -> np.ndarray:
    k = images.shape[1] // base
    if k == 1:
        return images
    n = len(images)
    return images.reshape(n, base, k, base, k, 3).mean(axis=(2, 4), dtype=np.float32)


class AttributeClassifier:
    """A small CNN with one softmax head per attribute of a rendered bird (body, wing, size, pose, background).

    Images (16 px, or 32 px: larger ones are averaged down to 32 px) pass
    Gaussian input noise (training only), three 3x3 convolutions
    (:data:`WIDTHS` channels, ReLU; strided so that 4x4 remain), a 64-unit
    layer (the features) and the five heads. It is trained for ``epochs``
    passes, in batches of 64, with Adam (learning rate 0.005, cosine decay to
    0) on the sum of the heads' cross-entropies over ``36 x 12 x REPEATS``
    rendered birds with nuisance (half rendered at the network's size, half
    made from 64 px renders by :func:`~gancourse.data.captioned.lr_from_hr`),
    **every colour pair included** (the held-out test pairs of
    ``offline_birds`` too: an evaluator must read them).

    Args:
        size: the image size it reads: 16 or a multiple of 32 (32, 64, 128, 256).
        epochs: training passes over the birds.

    Attributes:
        model: the ``keras.Model`` (images ``(B, s, s, 3)`` in ``[-1, 1]``, ``s`` = 16 or 32 ->
            ``{attribute: (B, values) probabilities}``); differentiable.
        test_accuracy: ``{attribute: accuracy, "all": every attribute right}`` on 432 fresh renders (every
            colour pair x size x pose x background once, with new nuisance).
        cache_path: the weights file.
        cached: whether the weights were loaded from the cache.
    """

    def __init__(self, size: int = 64, epochs: int = EPOCHS):
        import keras
        from keras import layers

        self.base = _base_size(size)
        self.size, self.epochs = int(size), int(epochs)
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        init = keras.initializers.GlorotUniform
        inputs = keras.Input((self.base, self.base, 3))
        x = layers.GaussianNoise(TRAIN_NOISE, seed=50)(inputs)
        for k, (width, stride) in enumerate(zip(WIDTHS, (1 if self.base == 16 else 2, 2, 2))):
            x = layers.Conv2D(width, 3, strides=stride, padding="same", activation="relu",
                              kernel_initializer=init(51 + k))(x)
        x = layers.Flatten()(x)
        features = layers.Dense(FEATURE_DIM, activation="relu", kernel_initializer=init(55), name="features")(x)
        outputs = {name: layers.Dense(len(values), activation="softmax", kernel_initializer=init(60 + k),
                                      name=name)(features)
                   for k, (name, values) in enumerate(ATTRIBUTES.items())}
        self.model = keras.Model(inputs, outputs, name=f"bird_attributes_{self.base}px")
        self._features = keras.Model(inputs, features)
        from gancourse.data.cache import cache_dir

        n_train = N_CLASSES * len(SIZES) * len(POSES) * len(BACKGROUNDS) * REPEATS
        self.cache_path = cache_dir("classifiers") / (f"birds_attributes_{self.base}px_{n_train}n_{self.epochs}ep"
                                                      f"_r{RENDERER_VERSION}_v{VERSION}.weights.h5")
        self.cached = cached_weights(self.model, self.cache_path, self._train)
        fresh = _combinations(1)
        images = render_birds(fresh, self.base, seed=(RENDERER_VERSION, _TEST_SEED))
        self.test_accuracy = _consistency(_argmax(self._probabilities(images)), _check_wanted(fresh, len(images)))

    def _train(self) -> None:
        import keras
        import tensorflow as tf

        from gancourse.data.captioned import lr_from_hr

        birds = _combinations(REPEATS)
        half = len(birds) // 2
        order = np.random.default_rng(_TRAIN_SEED).permutation(len(birds))  # its own stream, not the global one
        direct, resized = birds[np.sort(order[:half])], birds[np.sort(order[half:])]
        large = render_birds(resized, 64, seed=(RENDERER_VERSION, _TRAIN_SEED + 1))
        images = np.concatenate([render_birds(direct, self.base, seed=(RENDERER_VERSION, _TRAIN_SEED)),
                                 np.asarray(lr_from_hr(large, self.base))])
        labels = {name: np.concatenate([direct.as_dict()[name], resized.as_dict()[name]]) for name in ATTRIBUTES}
        rng = np.random.default_rng(_TRAIN_SEED + 2)
        order = np.concatenate([rng.permutation(len(images)) for _ in range(self.epochs)])
        targets = np.stack([labels[name] for name in ATTRIBUTES], axis=1).astype(np.int32)
        steps = len(order) // BATCH_SIZE
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps))
        model, names = self.model, list(ATTRIBUTES)

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                loss = tf.add_n([tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y[:, k], out[name]))
                                 for k, name in enumerate(names)])
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

        for step in range(steps):
            batch = order[step * BATCH_SIZE:(step + 1) * BATCH_SIZE]
            train_step(tf.constant(images[batch]), tf.constant(targets[batch]))

    def _check(self, images) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"images must be (n, {self.size}, {self.size}, 3) in [-1, 1], got shape {images.shape}")
        return _pool(images, self.base)

    def probabilities(self, images, batch_size: int = 512) -> dict[str, np.ndarray]:
        """``{attribute: (n, values)}`` probabilities of images ``(n, size, size, 3)`` in ``[-1, 1]``."""
        return self._probabilities(self._check(images), batch_size)

    def _probabilities(self, images: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
        names = list(ATTRIBUTES)

        def run(batch):
            out = self.model(batch, training=False)
            return np.concatenate([np.asarray(out[name]) for name in names], axis=1)

        joined = _batched(run, images, batch_size) if len(images) else np.zeros(
            (0, sum(len(v) for v in ATTRIBUTES.values())), np.float32)
        splits = np.cumsum([len(ATTRIBUTES[name]) for name in names])[:-1]
        return dict(zip(names, np.split(joined, splits, axis=1)))

    def predict(self, images, batch_size: int = 512) -> dict[str, np.ndarray]:
        """``{attribute: int32 (n,)}``: the value of each attribute the classifier reads in each image."""
        return _argmax(self.probabilities(images, batch_size))

    def class_probabilities(self, images, batch_size: int = 512) -> np.ndarray:
        """``(n, 36)`` colour-pair posteriors (``class_id = body * 6 + wing``): the body head's probabilities
        times the wing head's (for :func:`gancourse.metrics.inception_score`)."""
        p = self.probabilities(images, batch_size)
        return (p["body"][:, :, None] * p["wing"][:, None, :]).reshape(len(p["body"]), N_CLASSES)

    def features(self, images, batch_size: int = 512) -> np.ndarray:
        """``(n, 64)`` features (the layer below the heads) of images ``(n, size, size, 3)``, for a classifier FID."""
        images = self._check(images)
        return _batched(lambda b: self._features(b, training=False), images, batch_size)

    def accuracy(self, images, wanted) -> dict[str, float]:
        """:func:`caption_consistency` with this classifier: ``{attribute: accuracy, "all": ...}``."""
        return _consistency(self.predict(images), _check_wanted(wanted, len(images)))


@functools.lru_cache(maxsize=4)
def _classifier(size: int) -> AttributeClassifier:
    return AttributeClassifier(size)


def attribute_classifier(size: int = 64) -> AttributeClassifier:
    """The cached :class:`AttributeClassifier` for ``size`` px birds (built once per process, trained once per
    cache; 32, 64, 128 and 256 px share the 32 px network)."""
    base = _base_size(size)
    if int(size) == base:
        return _classifier(base)
    classifier = _classifier(base)
    view = object.__new__(AttributeClassifier)
    view.__dict__.update(classifier.__dict__)
    view.size = int(size)
    return view


def _argmax(probabilities: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: p.argmax(axis=1).astype(np.int32) for name, p in probabilities.items()}


def _check_wanted(wanted, n: int) -> dict[str, np.ndarray]:
    if isinstance(wanted, Birds):
        wanted = wanted.as_dict()
    unknown = sorted(set(wanted) - set(ATTRIBUTES))
    if unknown:
        raise ValueError(f"unknown attributes {', '.join(unknown)}; the attributes are {', '.join(ATTRIBUTES)}")
    out = {}
    for name, value in wanted.items():
        value = np.asarray(value)
        if value.ndim == 0:
            value = np.full(n, value)
        if value.shape != (n,) or (value.size and (value.dtype.kind not in "iu" or value.min() < -1
                                                   or value.max() >= len(ATTRIBUTES[name]))):
            raise ValueError(f"wanted[{name!r}] must be {n} integers in -1..{len(ATTRIBUTES[name]) - 1} "
                             f"(-1: not named), got {value!r}")
        out[name] = value.astype(np.int64)
    return out


def _consistency(predicted: dict[str, np.ndarray], wanted: dict[str, np.ndarray]) -> dict[str, float]:
    result = {}
    n = len(next(iter(predicted.values())))
    every = np.ones(n, bool)
    for name, value in wanted.items():
        named = value >= 0
        right = predicted[name] == value
        every &= right | ~named
        if named.any():
            result[name] = float(np.mean(right[named]))
    result["all"] = float(np.mean(every)) if n else float("nan")
    return result


def caption_consistency(images, wanted, size: int | None = None) -> dict[str, float]:
    """How often generated birds show what their captions name.

    Args:
        images: ``(n, S, S, 3)`` in ``[-1, 1]``.
        wanted: ``{attribute: int array (n,)}`` of value indices, ``-1`` where a caption does not name that
            attribute (:func:`gancourse.data.rendered_birds.wanted_attributes` of the captions), or a
            :class:`~gancourse.data.rendered_birds.Birds`.
        size: the classifier's size; images of another size are resized to it first
            (:func:`gancourse.data.captioned.lr_from_hr`, bicubic with antialiasing). Default: ``S``.

    Returns:
        A dict: for each attribute that some caption names, the accuracy over the images whose caption names
        it, and under ``"all"`` the fraction of images with every named attribute right (an attribute no
        caption names is left out).

    Raises:
        ValueError: images that are not ``(n, S, S, 3)``, a size larger than ``S`` or one without a classifier,
            or ``wanted`` with unknown attributes, other lengths or values out of range.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be (n, S, S, 3) in [-1, 1], got shape {images.shape}")
    size = images.shape[1] if size is None else int(size)
    if size > images.shape[1]:
        raise ValueError(f"size {size} is larger than the images ({images.shape[1]} px); judge them at their size")
    classifier = attribute_classifier(size)
    wanted = _check_wanted(wanted, len(images))
    if size != images.shape[1]:
        from gancourse.data.captioned import lr_from_hr

        images = np.asarray(lr_from_hr(images, size))
    return _consistency(classifier.predict(images), wanted)
