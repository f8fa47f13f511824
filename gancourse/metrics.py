"""Sample-quality metrics: FID and KID from features, and the feature extractors.

FID and KID compare two sets of feature vectors. What the features are decides
what the number means:

* :class:`InceptionFeatures` - the 2048-d pool features of ImageNet InceptionV3,
  the standard for natural images (weights are downloaded on first use).
* :class:`ClassifierFeatures` - the penultimate layer of a small CNN trained
  (once, then cached) on a labelled offline or MNIST-style dataset. Its
  "classifier-FID" works offline and measures what matters for digits or
  clothes; its values are on a different scale from Inception-FID, so compare
  them only with each other, at the same sample count.

The distances themselves are NumPy/SciPy functions tested against closed forms.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of ``(n, d)`` features (n >= 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (n, d) with n >= 2, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("features contain NaN or inf (did the generator diverge?)")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (round-off negatives set to 0)."""
    values, vectors = np.linalg.eigh((sigma + sigma.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1, sigma2) -> float:
    """``Tr((sigma1 sigma2)^(1/2))`` for two covariance matrices, exactly, singular or not.

    ``sigma1 sigma2`` is similar to the symmetric PSD matrix
    ``A = sigma1^(1/2) sigma2 sigma1^(1/2)``, so the trace of its square root is
    the sum of the square roots of ``A``'s eigenvalues. Symmetric
    eigendecompositions need no inverse, so a rank-deficient covariance (fewer
    samples than features, or a generator that repeats a few images) gives
    the exact value without the warnings and the ``eps`` fudge of a general
    matrix square root.
    """
    root = _psd_sqrt(np.asarray(sigma1, np.float64))
    inner = root @ np.asarray(sigma2, np.float64) @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, with the
    trace of the square root from :func:`trace_sqrt_product` (exact for
    singular covariances too). A singular covariance is still a warning sign:
    with fewer samples than feature dimensions the estimate is dominated by
    its bias, so compare FIDs only at one sample count well above the feature
    dimension.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two ``(n, d)`` feature sets."""
    return frechet_distance(*feature_stats(features1), *feature_stats(features2))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's cubic kernel ``(x . y / d + 1)^3``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD with :func:`polynomial_kernel` (one subset)."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kid_from_features(features1: np.ndarray, features2: np.ndarray, subsets: int = 10,
                      subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of the unbiased MMD^2 over random subsets.

    ``subset_size`` is capped at the smaller set's size.
    """
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {x.shape} and {y.shape}")
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# ---------------------------------------------------------------------------
# Feature extractors
# ---------------------------------------------------------------------------
def _batched(fn, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(images[i:i + batch_size])) for i in range(0, len(images), batch_size)])


def cached_weights(model, path: Path, train) -> bool:
    """Load ``model``'s weights from ``path`` if it exists, else call ``train()`` and save them there.

    The file is written under a temporary name and renamed, so a concurrent
    reader never sees half a file. Returns whether the weights came from the
    cache. The file name must end in ``.weights.h5`` and should name
    everything that determines the weights (data, sizes, epochs, a version).
    """
    path = Path(path)
    if path.exists():
        model.load_weights(path)
        return True
    train()
    tmp = path.with_name(f"{path.name[:-len('.weights.h5')]}.{os.getpid()}.tmp.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return False


class ClassifierFeatures:
    """Features from a small CNN classifier trained on a labelled dataset.

    The classifier (two conv blocks, a 64-unit feature layer, softmax over the
    classes) is trained once per ``(dataset, image_size)`` and cached in
    ``$GANCOURSE_DATA/classifiers``. Input images may have any size and 1 or 3
    channels; they are converted to the classifier's greyscale input.

    Args:
        dataset: ``"digits"`` (offline), ``"mnist"`` or ``"fashion_mnist"``.
        image_size: the classifier's input size.
        epochs: training epochs when no cached weights exist.

    Attributes:
        test_accuracy: accuracy on the dataset's test split, so a reader can see
            that the features mean something.
    """

    VERSION = 2
    FEATURES = 64

    def __init__(self, dataset: str = "digits", image_size: int = 28, epochs: int | None = None):
        import keras
        import tensorflow as tf
        from keras import layers

        from gancourse import data
        from gancourse.data.cache import cache_dir

        self.dataset, self.image_size = dataset, int(image_size)
        epochs = int(epochs or (15 if dataset == "digits" else 3))
        x_train, y_train = data.arrays(dataset, "train", image_size=self.image_size, channels=1)
        x_test, y_test = data.arrays(dataset, "test", image_size=self.image_size, channels=1)
        classes = int(max(y_train.max(), y_test.max())) + 1
        # Every random choice is seeded here (initialisers, dropout, the shuffle), so the classifier does not
        # depend on what ran before it, and building it leaves the caller's global random state alone.
        seeded = keras.initializers.GlorotUniform
        inputs = keras.Input((self.image_size, self.image_size, 1))
        x = layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=seeded(1))(inputs)
        x = layers.MaxPooling2D()(x)
        x = layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer=seeded(2))(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Flatten()(x)
        feats = layers.Dense(self.FEATURES, activation="relu", name="features", kernel_initializer=seeded(3))(x)
        outputs = layers.Dense(classes, activation="softmax", kernel_initializer=seeded(4))(
            layers.Dropout(0.3, seed=5)(feats))
        self.classifier = keras.Model(inputs, outputs, name=f"{dataset}_classifier")
        self.extractor = keras.Model(inputs, feats)
        # The cache key names everything that determines the weights.
        path = cache_dir("classifiers") / f"{dataset}_{self.image_size}px_{epochs}ep_v{self.VERSION}.weights.h5"
        self.cache_path = path

        def train():
            batches = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(
                len(x_train), seed=0, reshuffle_each_iteration=True).batch(64)
            self.classifier.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy", metrics=["accuracy"])
            self.classifier.fit(batches, verbose=0, epochs=epochs, shuffle=False)  # the dataset shuffles itself

        cached_weights(self.classifier, path, train)
        predictions = _batched(lambda b: self.classifier(b, training=False), x_test, 512)
        self.test_accuracy = float(np.mean(predictions.argmax(axis=1) == y_test))

    def _prepare(self, images: np.ndarray) -> np.ndarray:
        from gancourse.data.pipeline import resize, with_channels

        images = np.asarray(images, np.float32)
        if images.ndim != 4:
            raise ValueError(f"images must be (n, H, W, C), got shape {images.shape}")
        return resize(with_channels(images, 1), self.image_size)

    def features(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """``(n, 64)`` features of images in ``[-1, 1]``."""
        return _batched(lambda b: self.extractor(b, training=False), self._prepare(images), batch_size)

    def predict(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """``(n, classes)`` class probabilities of images in ``[-1, 1]``."""
        return _batched(lambda b: self.classifier(b, training=False), self._prepare(images), batch_size)


class InceptionFeatures:
    """2048-d average-pool features of InceptionV3 for FID/KID on natural images.

    Images in ``[-1, 1]`` (any size, 1 or 3 channels) are resized to 299x299
    bilinearly; ``[-1, 1]`` is exactly InceptionV3's expected input range, so no
    further scaling is applied.

    Args:
        weights: ``"imagenet"`` (downloaded by Keras on first use) or ``None``
            (random weights, for tests only: the numbers are meaningless).
    """

    SIZE = 299

    def __init__(self, weights: str | Path | None = "imagenet"):
        import keras

        self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                                    input_shape=(self.SIZE, self.SIZE, 3))

    def features(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """``(n, 2048)`` features of images in ``[-1, 1]``."""
        from gancourse.data.pipeline import resize, with_channels

        images = np.asarray(images, np.float32)
        if images.ndim != 4:
            raise ValueError(f"images must be (n, H, W, C), got shape {images.shape}")
        images = with_channels(images, 3)
        return _batched(lambda b: self.model(resize(b, self.SIZE), training=False), images, batch_size)


def feature_extractor(dataset: str, image_size: int = 28):
    """The extractor that suits ``dataset``: a cached classifier for labelled
    greyscale datasets, InceptionV3 for everything else."""
    if dataset in ("digits", "mnist", "fashion_mnist"):
        return ClassifierFeatures(dataset, image_size)
    return InceptionFeatures()


# ---------------------------------------------------------------------------
# Inception Score
# ---------------------------------------------------------------------------
def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score from class posteriors ``p(y|x)`` of *generated* images only.

    ``IS = exp(E_x KL(p(y|x) || p(y)))`` with the marginal ``p(y)`` estimated
    as the mean posterior of each split (Salimans et al. 2016). Returns the mean
    and standard deviation over ``splits`` equal splits. It ranges from 1 (every
    image gets the same posterior) to the number of classes (confident and
    balanced predictions).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"probabilities must be (n, classes) with n >= splits={splits}, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probabilities must be a distribution (non-negative, summing to 1)")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionClassifier:
    """ImageNet InceptionV3 class posteriors (1000-way softmax) for the Inception Score.

    Args:
        weights: ``"imagenet"`` (downloaded on first use) or ``None`` (tests only).
    """

    SIZE = 299

    def __init__(self, weights: str | Path | None = "imagenet"):
        import keras

        self.model = keras.applications.InceptionV3(include_top=True, weights=weights)

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """``(n, 1000)`` posteriors of images in ``[-1, 1]`` (any size, 1 or 3 channels)."""
        from gancourse.data.pipeline import resize, with_channels

        images = with_channels(np.asarray(images, np.float32), 3)
        return _batched(lambda b: self.model(resize(b, self.SIZE), training=False), images, batch_size)


# ---------------------------------------------------------------------------
# Mode coverage on toy mixtures
# ---------------------------------------------------------------------------
def mode_coverage(samples: np.ndarray, centers: np.ndarray, std: float, k: float = 3.0,
                  min_share: float = 0.1) -> dict:
    """How well samples cover the modes of a Gaussian mixture with known centres.

    A sample is *high quality* when it lies within ``k * std`` of its nearest
    centre. A mode is *covered* when it received at least ``min_share`` of its
    fair share (``n / modes``) of high-quality samples, so a few stray points do
    not count as covering it.

    Returns:
        ``{"modes_covered", "high_quality", "counts", "kl_to_uniform"}``:
        the number of covered modes, the fraction of high-quality samples, the
        high-quality count per mode, and the KL divergence from the uniform
        distribution over all modes of the normalised high-quality counts
        (every mode included, covered or not: 0 when the modes are equally
        populated, ``log(modes)`` when all samples sit on one mode or none is
        high quality).
    """
    x, c = np.asarray(samples, np.float64), np.asarray(centers, np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples (n, d) and centers (modes, d) must share d, got {x.shape} and {c.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or inf")
    distances = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)
    nearest, dist = distances.argmin(axis=1), distances.min(axis=1)
    good = dist < k * std
    counts = np.bincount(nearest[good], minlength=len(c))
    covered = counts >= min_share * len(x) / len(c)
    if counts.sum() == 0:  # nothing lands on any mode: score it like a total collapse
        kl = float(np.log(len(c)))
    else:
        hist = counts / counts.sum()
        nonzero = hist > 0
        kl = max(float(np.sum(hist[nonzero] * np.log(hist[nonzero] * len(c)))), 0.0)
    return {"modes_covered": int(covered.sum()), "high_quality": float(good.mean()), "counts": counts,
            "kl_to_uniform": kl}


# ---------------------------------------------------------------------------
# Paired translation quality
# ---------------------------------------------------------------------------
def _laplacian_variance(images: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    grey = images.mean(axis=-1)
    return np.array([ndimage.laplace(g).var() for g in grey])


def paired_scores(predictions: np.ndarray, targets: np.ndarray) -> dict:
    """How close translated images are to their targets (both ``(n, H, W, C)`` in ``[-1, 1]``).

    Returns the means over images of ``l1`` (mean absolute error), ``psnr``
    (dB, peak-to-peak range 2) and ``ssim`` (structural similarity, 11x11
    Gaussian window), and ``sharpness``: the variance of the Laplacian of the
    predictions divided by that of the targets (below 1 means blurrier than
    the targets, the typical failure of an L1-only generator).
    """
    import tensorflow as tf

    p, t = np.asarray(predictions, np.float32), np.asarray(targets, np.float32)
    if p.shape != t.shape or p.ndim != 4:
        raise ValueError(f"predictions and targets must both be (n, H, W, C) of one shape, got {p.shape} and {t.shape}")
    if min(p.shape[1:3]) < 11:
        raise ValueError(f"SSIM needs images of at least 11 px, got {p.shape[1:3]}")
    return {"l1": float(np.mean(np.abs(p - t))),
            "psnr": float(np.mean(tf.image.psnr(p, t, max_val=2.0))),
            "ssim": float(np.mean(tf.image.ssim(p, t, max_val=2.0))),
            "sharpness": float(_laplacian_variance(p).mean() / max(_laplacian_variance(t).mean(), 1e-12))}


# ---------------------------------------------------------------------------
# Recognisability, diversity and memorisation of generated images
# ---------------------------------------------------------------------------
def recognisability(probabilities: np.ndarray, threshold: float = 0.9, min_share: float = 0.02) -> dict:
    """How recognisable a set of images is to a classifier, from its class posteriors.

    Args:
        probabilities: ``(n, classes)`` softmax outputs (each row a distribution).
        threshold: a prediction is *confident* when its largest probability is at
            least this.
        min_share: a class counts as *covered* when at least this fraction of the
            confident predictions fall in it (so one stray image does not count).

    Returns:
        A dict with ``"confident"``, the fraction of confident predictions;
        ``"classes"``, the number of covered classes; ``"entropy"``, the
        entropy (nats) of the confident predictions' class histogram divided
        by log(classes), 1 when balanced over all classes and 0 for one class
        or none confident; and ``"counts"``, confident predictions per class.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) < 1 or p.shape[1] < 2:
        raise ValueError(f"probabilities must be (n, classes) with n >= 1 and classes >= 2, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probabilities must be a distribution (non-negative, summing to 1)")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not 0 <= min_share < 1:
        raise ValueError(f"min_share must be in [0, 1), got {min_share}")
    confident = p.max(axis=1) >= threshold
    counts = np.bincount(p.argmax(axis=1)[confident], minlength=p.shape[1])
    total = counts.sum()
    if total == 0:
        return {"confident": 0.0, "classes": 0, "entropy": 0.0, "counts": counts}
    hist = counts[counts > 0] / total
    entropy = float(-np.sum(hist * np.log(hist)) / np.log(p.shape[1]))
    return {"confident": float(confident.mean()), "classes": int(np.sum(counts >= max(min_share * total, 1))),
            "entropy": max(entropy, 0.0), "counts": counts}


def _flat(images: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(images, dtype=np.float64)
    if x.ndim < 2 or len(x) < 1:
        raise ValueError(f"{what} must be (n, ...) with n >= 1, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contain NaN or inf")
    return x.reshape(len(x), -1)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` between flattened rows."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def diversity(images: np.ndarray, duplicate_distance: float = 0.1) -> dict:
    """Mode-collapse signs in a set of images: how far apart the samples are.

    Args:
        images: ``(n, ...)`` images (n >= 2), any value range; distances are
            root-mean-square per pixel, so they do not grow with image size.
        duplicate_distance: two images closer than this (RMS per pixel) count as
            duplicates.

    Returns:
        A dict with ``"mean_distance"``, the mean RMS distance over all pairs,
        and ``"duplicate_rate"``, the fraction of images that have a duplicate
        among the others. A collapsed generator has a mean distance near 0 and
        a duplicate rate near 1.
    """
    x = _flat(images, "images")
    if len(x) < 2:
        raise ValueError("diversity needs at least two images")
    d = _pairwise(x, x) / np.sqrt(x.shape[1])
    upper = d[np.triu_indices(len(x), 1)]
    np.fill_diagonal(d, np.inf)
    return {"mean_distance": float(upper.mean()), "duplicate_rate": float(np.mean(d.min(axis=1) < duplicate_distance))}


def nearest_distances(queries: np.ndarray, references: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``(n,)``: the RMS per-pixel distance of each query image to its nearest reference image.

    Used for a memorisation check: generated samples that sit much closer to
    their nearest training image than held-out real images do are copies.
    """
    q, r = _flat(queries, "queries"), _flat(references, "references")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and references must have the same image size, got {q.shape[1]} and "
                         f"{r.shape[1]} values per image")
    out = [_pairwise(q[i:i + batch_size], r).min(axis=1) for i in range(0, len(q), batch_size)]
    return np.concatenate(out) / np.sqrt(q.shape[1])


# ---------------------------------------------------------------------------
# Super-resolution: the evaluation protocol of Ledig et al.
# ---------------------------------------------------------------------------
#: ITU-R BT.601 luma of RGB in [0, 1], in [16, 235] (MATLAB's ``rgb2ycbcr``, used by SR benchmarks).
BT601_Y = (65.481, 128.553, 24.966)
SR_BORDER = 4  # pixels cropped from every side before scoring 4x super-resolution (Ledig et al.)


def _sr_images(images: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(images, np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"{what} must be RGB images (n, H, W, 3) or (H, W, 3) in [-1, 1], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def rgb_to_y(images: np.ndarray, quantize: bool = True) -> np.ndarray:
    """The BT.601 luma ``Y`` in ``[16, 235]`` of RGB images in ``[-1, 1]``: ``(n, H, W, 3) -> (n, H, W)``.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)`` with ``R, G, B`` in
    ``[0, 1]``, as MATLAB's ``rgb2ycbcr``, which the SR benchmarks use. With
    ``quantize`` the RGB values are first clipped and rounded to the 256 levels
    of a saved 8-bit image, the form in which SR results are scored.
    """
    x = (_sr_images(images, "images") + 1.0) * 127.5
    if quantize:
        x = np.round(np.clip(x, 0.0, 255.0))
    r, g, b = (x[..., i] / 255.0 for i in range(3))
    return 16.0 + BT601_Y[0] * r + BT601_Y[1] * g + BT601_Y[2] * b


def _crop_border(y: np.ndarray, border: int) -> np.ndarray:
    if border < 0 or 2 * border >= min(y.shape[1:3]):
        raise ValueError(f"border={border} leaves nothing of {y.shape[1]}x{y.shape[2]} images; use 0 <= border < "
                         f"{min(y.shape[1:3]) // 2}")
    return y[:, border:y.shape[1] - border, border:y.shape[2] - border] if border else y


def psnr_y(predictions: np.ndarray, targets: np.ndarray, border: int = SR_BORDER) -> np.ndarray:
    """Per-image PSNR (dB) of the Y channel, ``border`` pixels cropped from every side; peak 255."""
    p, t = _sr_pair(predictions, targets, border)
    mse = np.mean((p - t) ** 2, axis=(1, 2))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)


def ssim_y(predictions: np.ndarray, targets: np.ndarray, border: int = SR_BORDER) -> np.ndarray:
    """Per-image SSIM of the Y channel (Wang et al.: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
    data range 255), ``border`` pixels cropped from every side."""
    import tensorflow as tf

    p, t = _sr_pair(predictions, targets, border)
    if min(p.shape[1:3]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after the border crop, got {p.shape[1]}x{p.shape[2]}")
    return np.asarray(tf.image.ssim(tf.constant(p[..., None], tf.float64), tf.constant(t[..., None], tf.float64),
                                    max_val=255.0), np.float64)


def _sr_pair(predictions, targets, border: int) -> tuple[np.ndarray, np.ndarray]:
    p, t = _sr_images(predictions, "predictions"), _sr_images(targets, "targets")
    if p.shape != t.shape:
        raise ValueError(f"predictions {p.shape} and targets {t.shape} must have one shape")
    return _crop_border(rgb_to_y(p), border), _crop_border(rgb_to_y(t), border)


def sharpness_y(predictions: np.ndarray, targets: np.ndarray, border: int = SR_BORDER) -> np.ndarray:
    """Per-image ratio of the Laplacian variance of the prediction's Y channel to the target's.

    1 means as much fine detail (edges, texture) as the target; an image
    smoothed by an MSE-trained network scores well below 1; noise or
    invented texture can push it above 1.
    """
    from scipy import ndimage

    p, t = _sr_pair(predictions, targets, border)
    ratio = [ndimage.laplace(a).var() / max(ndimage.laplace(b).var(), 1e-12) for a, b in zip(p, t)]
    return np.asarray(ratio, np.float64)


def sr_scores(predictions: np.ndarray, targets: np.ndarray, border: int = SR_BORDER,
              features=None) -> dict[str, np.ndarray]:
    """Per-image scores of super-resolved images against the high-resolution originals.

    Both ``(n, H, W, 3)`` RGB in ``[-1, 1]``. Returns arrays of length ``n``:
    ``psnr_y`` and ``ssim_y`` (Y channel, ``border`` pixels cropped, as Ledig
    et al. score 4x SR), ``sharpness`` (:func:`sharpness_y`) and, when
    ``features`` (a callable from images to feature maps) is given,
    ``feature_mse``: the mean squared difference of the two images' features
    (the content loss, a distance in the extractor's feature space).
    """
    scores = {"psnr_y": psnr_y(predictions, targets, border), "ssim_y": ssim_y(predictions, targets, border),
              "sharpness": sharpness_y(predictions, targets, border)}
    if features is not None:
        fp = np.asarray(features(np.asarray(predictions, np.float32)), np.float64)
        ft = np.asarray(features(np.asarray(targets, np.float32)), np.float64)
        scores["feature_mse"] = ((fp - ft) ** 2).reshape(len(fp), -1).mean(axis=1)
    return scores


# ---------------------------------------------------------------------------
# Voxel grids (3D-GAN)
# ---------------------------------------------------------------------------
def _occupancy(volumes, threshold: float, what: str) -> np.ndarray:
    """``(n, V)`` booleans: ``volumes`` (``(n, L, L, L)`` or ``(n, L, L, L, 1)``) above ``threshold``."""
    v = np.asarray(volumes)
    if v.ndim == 5 and v.shape[-1] == 1:
        v = v[..., 0]
    if v.ndim != 4 or len(set(v.shape[1:])) != 1:
        raise ValueError(f"{what} must be cubes (n, L, L, L) or (n, L, L, L, 1), got shape {np.shape(volumes)}")
    if v.dtype != bool and not np.all(np.isfinite(v)):
        raise ValueError(f"{what} contain NaN or inf")
    return (v > threshold).reshape(len(v), -1)


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(len(a), len(b))`` of boolean rows; two empty grids have IoU 1."""
    inter = a.astype(np.float32) @ b.astype(np.float32).T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def voxel_iou(a, b, threshold: float = 0.5) -> np.ndarray:
    """``(n,)``: intersection over union of the occupied voxels (value > ``threshold``) of each pair ``a[i]``,
    ``b[i]``; two empty grids have IoU 1. A single ``(L, L, L)`` grid on either side is compared with every grid of the
    other."""
    a, b = np.asarray(a), np.asarray(b)
    a, b = (a[None] if a.ndim == 3 else a), (b[None] if b.ndim == 3 else b)
    x, y = _occupancy(a, threshold, "a"), _occupancy(b, threshold, "b")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"a and b must be cubes of the same size, got {x.shape[1]} and {y.shape[1]} voxels")
    if len(x) != len(y) and 1 not in (len(x), len(y)):
        raise ValueError(f"a and b must hold as many grids (or one of them a single grid), got {len(x)} and {len(y)}")
    inter = np.logical_and(x, y).sum(1)
    union = np.logical_or(x, y).sum(1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def nearest_iou(samples, references, threshold: float = 0.5, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, the reference grid it overlaps most: ``(best IoU (n,), reference index (n,))``.

    The memorisation check of a voxel GAN: a sample whose nearest training
    shape has IoU near 1 is a copy. Compare with the same number for held-out
    real shapes, which the model never saw.
    """
    q, r = _occupancy(samples, threshold, "samples"), _occupancy(references, threshold, "references")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"samples and references must be cubes of the same size, got {q.shape[1]} and "
                         f"{r.shape[1]} voxels")
    best, index = [], []
    for i in range(0, len(q), batch_size):
        iou = _iou_matrix(q[i:i + batch_size], r)
        index.append(iou.argmax(1))
        best.append(iou.max(1))
    return np.concatenate(best), np.concatenate(index)
