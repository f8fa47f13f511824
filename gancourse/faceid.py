"""Face evaluators trained on rendered faces: an age classifier, an identity embedding, LFW-style verification.

A face-aging model should do two things: show the requested age, and keep the
person. On the rendered faces of :mod:`gancourse.data.rendered_faces` both can
be measured, because the renderer knows every face's age group and identity:

* :func:`age_classifier` - a small CNN trained on the rendered training faces
  (all identities, all ages); :func:`predict_ages` gives the age group it sees
  in any image. Its accuracy on the held-out identities
  (:attr:`AgeClassifier.test_accuracy`) says how well it reads ages it has not
  seen on those faces.
* :func:`identity_network` - a CNN that maps a face to an L2-normalised
  embedding, trained as a softmax classifier of the training identities at
  every age (the embedding is the normalised layer before the classifier), so
  that the distance between two embeddings says whether two faces show one
  person across ages. It is differentiable: a face-aging model can use it as
  its face-recognition network. :func:`verification_accuracy` scores it with
  the protocol of Labeled Faces in the Wild on pairs from
  :func:`verification_pairs`: same person at two different ages, or two
  different people at two different ages (so the age difference alone tells
  nothing).

Both networks are trained once and cached like
:class:`gancourse.metrics.ClassifierFeatures`: every random choice is seeded
inside the builder (initialisers, dropout, noise, the order of the examples),
independently of the global seeds, so two fresh caches hold the same weights,
and the cache file names everything that determines them (image size, width, epochs, :data:`VERSION` and the renderer's
:data:`~gancourse.data.rendered_faces.RENDERER_VERSION`). They live in
``$GANCOURSE_DATA/classifiers``.

These are evaluators for rendered faces only: they know nothing about real
photographs (``gancourse.dlib_faces`` wraps a real face-recognition network).
"""

from __future__ import annotations

import functools

import numpy as np

from gancourse.data.ages import N_AGES
from gancourse.data.rendered_faces import RENDERER_VERSION, FaceSet, offline_faces
from gancourse.metrics import _batched, cached_weights

#: Bumped whenever an architecture or a training setting changes (the cache key includes it).
VERSION = 1
AGE_EPOCHS = 6
IDENTITY_EPOCHS = 8
#: Standard deviation of the Gaussian noise added to training images (the evaluators see generated
#: images, which are never as clean as rendered ones).
TRAIN_NOISE = 0.08


def _check_images(images, size: int) -> np.ndarray:
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(f"images must be (n, {size}, {size}, 3) in [-1, 1], got shape {images.shape}")
    return images


def _conv_trunk(inputs, size: int, widths, first_seed: int):
    """Average-pooled to 32 px, then strided 3x3 convolutions (ReLU) halving the size at each width; flattened."""
    import keras
    from keras import layers

    x = layers.GaussianNoise(TRAIN_NOISE, seed=first_seed)(inputs)  # active in training only
    if size > 32:
        x = layers.AveragePooling2D(size // 32)(x)
    for k, width in enumerate(widths):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu",
                          kernel_initializer=keras.initializers.GlorotUniform(first_seed + 1 + k))(x)
    return layers.Flatten()(x)


def _fit(model, images, labels, epochs: int, learning_rate: float) -> None:
    """Adam on the sparse cross-entropy, batches of 128, a new order every epoch from a NumPy generator of its
    own (``tf.data``'s shuffle would also depend on TensorFlow's global seed, which the caller owns)."""
    import keras
    import tensorflow as tf

    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(images))
        batches = tf.data.Dataset.from_tensor_slices((images[order], labels[order])).batch(128)
        model.fit(batches, verbose=0, epochs=1, shuffle=False)


def _cache_path(name: str, size: int, epochs: int, extra: str = ""):
    from gancourse.data.cache import cache_dir

    return cache_dir("classifiers") / (f"faces_{name}_{size}px{extra}_{epochs}ep_r{RENDERER_VERSION}_v{VERSION}"
                                       ".weights.h5")


def _check_size(size: int) -> int:
    if int(size) < 32 or int(size) % 32:
        raise ValueError(f"size must be a multiple of 32 (32, 64, 128...): the networks pool faces to 32 px, "
                         f"got {size}")
    return int(size)


class AgeClassifier:
    """A small CNN that reads the age group (0-5) of a rendered face.

    Faces average-pooled to 32 px, three strided convolutions (16-32-64), a
    64-unit layer and a softmax over the six groups, trained for ``epochs`` on
    ``offline_faces("train", size)`` with Gaussian noise on the inputs, then cached.

    Attributes:
        model: the ``keras.Model`` (images in ``[-1, 1]`` -> ``(n, 6)`` probabilities).
        test_accuracy: accuracy on the held-out identities (``offline_faces("test", size)``).
        cache_path: the weights file.
        cached: whether the weights were loaded from the cache.
    """

    def __init__(self, size: int = 64, epochs: int = AGE_EPOCHS):
        import keras
        from keras import layers

        self.size, self.epochs = _check_size(size), int(epochs)
        inputs = keras.Input((self.size, self.size, 3))
        x = _conv_trunk(inputs, self.size, (16, 32, 64), first_seed=10)
        x = layers.Dense(64, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(20))(x)
        x = layers.Dropout(0.2, seed=21)(x)
        outputs = layers.Dense(N_AGES, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(22))(x)
        self.model = keras.Model(inputs, outputs, name="rendered_age_classifier")
        self.cache_path = _cache_path("age", self.size, self.epochs)
        train = offline_faces("train", self.size)
        self.cached = cached_weights(self.model, self.cache_path,
                                     lambda: _fit(self.model, train.images, train.ages, self.epochs, 3e-3))
        test = offline_faces("test", self.size)
        self.test_accuracy = float(np.mean(self.predict_ages(test.images) == test.ages))

    def predict(self, images, batch_size: int = 512) -> np.ndarray:
        """``(n, 6)`` age-group probabilities of images ``(n, size, size, 3)`` in ``[-1, 1]``."""
        images = _check_images(images, self.size)
        return _batched(lambda b: self.model(b, training=False), images, batch_size)

    def predict_ages(self, images, batch_size: int = 512) -> np.ndarray:
        """The most probable age group of each image, ``int32`` ``(n,)``."""
        return self.predict(images, batch_size).argmax(axis=1).astype(np.int32)


@functools.lru_cache(maxsize=4)
def age_classifier(size: int = 64) -> AgeClassifier:
    """The cached :class:`AgeClassifier` for ``size`` px faces (built once per process, trained once per cache)."""
    return AgeClassifier(size)


def predict_ages(images) -> np.ndarray:
    """Age groups (``int32`` ``(n,)``) that :func:`age_classifier` reads in images ``(n, S, S, 3)`` in ``[-1, 1]``."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (n, S, S, 3) in [-1, 1], got shape {images.shape}")
    return age_classifier(images.shape[1]).predict_ages(images)


class IdentityNetwork:
    """An identity embedding for rendered faces, trained to tell the training identities apart at every age.

    Faces average-pooled to 32 px, three strided convolutions (32-64-128), a 256-unit layer, a ``dim``-unit
    linear layer and an L2 normalisation give the embedding (:attr:`model`).
    For training, a softmax over the 240 training identities sits on the
    embedding times 16 (a cosine-style classifier, which makes distances
    between normalised embeddings meaningful); only the embedding is kept.

    Attributes:
        model: ``keras.Model``, images ``(B, size, size, 3)`` in ``[-1, 1]`` ->
            ``(B, dim)`` unit vectors; differentiable.
        test_verification: ``(mean, std)`` verification accuracy over 10 folds
            on 1,000 cross-age pairs of the held-out identities
            (:func:`verification_pairs` of ``offline_faces("test", size)``, seed 0).
        cache_path: the weights file.
        cached: whether the weights were loaded from the cache.
    """

    SCALE = 16.0

    def __init__(self, size: int = 64, dim: int = 128, epochs: int = IDENTITY_EPOCHS):
        import keras
        from keras import layers

        if int(dim) < 2:
            raise ValueError(f"dim must be >= 2, got {dim}")
        self.size, self.dim, self.epochs = _check_size(size), int(dim), int(epochs)
        train = offline_faces("train", self.size)
        classes = int(train.identity.max()) + 1
        inputs = keras.Input((self.size, self.size, 3))
        x = _conv_trunk(inputs, self.size, (32, 64, 128), first_seed=30)
        x = layers.Dense(256, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(40))(x)
        x = layers.Dense(self.dim, kernel_initializer=keras.initializers.GlorotUniform(41))(x)
        embedding = layers.UnitNormalization(name="embedding")(x)
        self.model = keras.Model(inputs, embedding, name="rendered_identity_net")
        logits = layers.Dense(classes, use_bias=False, activation="softmax",
                              kernel_initializer=keras.initializers.GlorotUniform(42))(
            layers.Rescaling(self.SCALE)(embedding))
        classifier = keras.Model(inputs, logits)
        self.cache_path = _cache_path("identity", self.size, self.epochs, f"_{self.dim}d")
        self.cached = cached_weights(self.model, self.cache_path,
                                     lambda: _fit(classifier, train.images, train.identity, self.epochs, 2e-3))
        test = offline_faces("test", self.size)
        a, b, same = verification_pairs(test, 1000, seed=0)
        emb = self.embed(test.images)
        self.test_verification = verification_accuracy(emb[a], emb[b], same)

    def embed(self, images, batch_size: int = 512) -> np.ndarray:
        """``(n, dim)`` embeddings (unit vectors) of images ``(n, size, size, 3)`` in ``[-1, 1]``."""
        images = _check_images(images, self.size)
        return _batched(lambda b: self.model(b, training=False), images, batch_size)


@functools.lru_cache(maxsize=4)
def identity_evaluator(size: int = 64, dim: int = 128) -> IdentityNetwork:
    """The cached :class:`IdentityNetwork` (built once per process, trained once per cache)."""
    return IdentityNetwork(size, dim)


def identity_network(size: int = 64, dim: int = 128):
    """The identity embedding ``keras.Model``: ``(B, size, size, 3)`` in ``[-1, 1]`` -> ``(B, dim)``
    L2-normalised, differentiable (see :class:`IdentityNetwork`; cached)."""
    return identity_evaluator(size, dim).model


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------
def verification_pairs(faceset: FaceSet, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` pairs of faces across ages: ``(idx_a, idx_b, same)``, half of them the same person.

    A *same* pair is one identity at two different age groups; a *different*
    pair is two identities, also at two different age groups, so neither the
    age nor an identical picture can give the answer away. ``n // 2`` pairs
    are same (the first ones), the rest different; indices point into
    ``faceset``'s arrays.

    Raises:
        ValueError: ``n < 2``, or a face set with no identity at two ages or fewer than two identities.
    """
    if int(n) < 2:
        raise ValueError(f"n must be >= 2 (one same and one different pair at least), got {n}")
    ages, identity = np.asarray(faceset.ages), np.asarray(faceset.identity)
    rng = np.random.default_rng(seed)
    cross_age = (identity[:, None] == identity[None, :]) & (ages[:, None] != ages[None, :])
    other = (identity[:, None] != identity[None, :]) & (ages[:, None] != ages[None, :])
    same_pairs, other_pairs = np.argwhere(cross_age), np.argwhere(other)
    if not len(same_pairs) or not len(other_pairs):
        raise ValueError("the face set needs an identity at two different ages and two identities "
                         f"(it has {len(np.unique(identity))} identities and {len(np.unique(ages))} ages)")
    n_same = int(n) // 2
    chosen = np.concatenate([same_pairs[rng.integers(len(same_pairs), size=n_same)],
                             other_pairs[rng.integers(len(other_pairs), size=int(n) - n_same)]])
    same = np.arange(int(n)) < n_same
    return chosen[:, 0].astype(np.int64), chosen[:, 1].astype(np.int64), same


def _best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold (``same`` when below) with the highest accuracy on these pairs."""
    order = np.argsort(distances)
    d, s = distances[order], same[order]
    # Cut k puts the k smallest distances on the "same" side: correct = same among them + different after them.
    correct = np.concatenate([[0], np.cumsum(s)]) + (np.sum(~s) - np.concatenate([[0], np.cumsum(~s)]))
    k = int(np.argmax(correct))
    if k == 0:
        return float(d[0]) - 1.0
    if k == len(d):
        return float(d[-1]) + 1.0
    return float((d[k - 1] + d[k]) / 2)


def verification_accuracy(emb_a, emb_b, same, folds: int = 10, seed: int = 0) -> tuple[float, float]:
    """Pair verification accuracy with the protocol of Labeled Faces in the Wild: ``(mean, std)`` over folds.

    The pairs are split into ``folds`` random folds (``seed``); for each fold,
    the threshold on the L2 distance between the embeddings that classifies
    the other folds' pairs best is chosen, and the accuracy on the held-out
    fold is recorded. A pair counts as "same person" when its distance is
    below the threshold.

    Raises:
        ValueError: mismatched shapes, fewer pairs than folds, fewer than 2
            folds, or pairs of only one kind.
    """
    a, b = np.asarray(emb_a, np.float64), np.asarray(emb_b, np.float64)
    same = np.asarray(same, bool)
    if a.ndim != 2 or a.shape != b.shape or same.shape != (len(a),):
        raise ValueError(f"emb_a and emb_b must be (n, d) with one same flag per pair, got {a.shape}, {b.shape} "
                         f"and {same.shape}")
    if int(folds) < 2 or len(a) < int(folds):
        raise ValueError(f"need folds >= 2 and at least one pair per fold, got {folds} folds for {len(a)} pairs")
    if same.all() or not same.any():
        raise ValueError("the pairs must include both same-person and different-person pairs")
    distances = np.linalg.norm(a - b, axis=1)
    parts = np.array_split(np.random.default_rng(seed).permutation(len(a)), int(folds))
    scores = []
    for k, held_out in enumerate(parts):
        fit = np.concatenate([p for j, p in enumerate(parts) if j != k])
        threshold = _best_threshold(distances[fit], same[fit])
        scores.append(np.mean((distances[held_out] < threshold) == same[held_out]))
    return float(np.mean(scores)), float(np.std(scores))
