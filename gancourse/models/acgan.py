"""AC-GAN: a class-conditional GAN whose discriminator also classifies (Odena, Olah and Shlens, ICML 2017).

The generator draws an image of a *requested* class, ``G(z, c)``; the
discriminator sees only the image and has two heads: the source logit
(real or fake) and ``num_classes`` class logits. With ``S`` the source and
``C`` the class, the paper's two log-likelihoods are

    L_S = E[log P(S=real | x_real)] + E[log P(S=fake | x_fake)]
    L_C = E[log P(C=c | x_real)]    + E[log P(C=c | x_fake)]

D maximises ``L_S + L_C`` and G maximises ``L_C - L_S``. Here, as losses to
minimise (each expectation a batch mean, the real and fake halves averaged as
in :func:`gancourse.losses.discriminator_loss`)::

    d_loss = 1/2 [bce(1, s_real) + bce(0, s_fake)] + w * 1/2 [ce(y, k_real) + ce(c, k_fake)]
    g_loss = bce(1, s_fake) + w * ce(c, k_fake)

``s`` are source logits, ``k`` class logits, ``y`` the real images' labels,
``c`` the classes requested from G (uniform over the classes, fresh every
step) and ``w`` is ``class_weight`` (1 in the paper). G's adversarial term is
the non-saturating ``-log D(G(z, c))`` rather than the saturating ``log(1 - D)``
that ``-L_S`` literally gives, as for every GAN of the course; ``objective``
swaps the source terms for ``lsgan`` or ``hinge``.

Presets (``config(name)``):

``modern`` (default)
    DCGAN-style networks for 28x28 greyscale MNIST. G: the one-hot class is
    concatenated with the noise, ``[z, one_hot(c)]`` (``conditioning="concat"``);
    G's first linear layer then computes ``W z + E[c]``, that is, it adds a
    learned embedding of the class (one row of ``E`` per class, as wide as that
    layer) to the projected noise. Then batch norm, ReLU, a 7x7x128 map and two
    4x4 stride-2 transposed convolutions (64 with batch norm and ReLU, then 1
    with tanh). ``conditioning="multiply"`` is the Keras team's MNIST AC-GAN
    example's choice instead, ``z * E[c]`` with ``E`` a learned embedding of
    size ``latent_dim``; in our smoke runs it learned the classes more
    slowly. D: 4x4 stride-2 convolutions with 64 and 128 maps (batch norm on
    the second), LeakyReLU(0.2), then the two linear heads on the flattened
    features. N(0, 0.02^2) kernels, Adam(2e-4, beta_1 0.5), batch 128.
``paper``
    The paper's CIFAR-10 networks (its appendix table of the CIFAR-10 model):
    G takes a 110-d input, a linear layer (384 feature maps, ReLU, no batch
    norm), then 5x5 stride-2 transposed convolutions to 192 and 96 maps (batch
    norm, ReLU) and to 3 (tanh). D: six 3x3 convolutions with 16, 32, 64, 128,
    256, 512 maps and strides 2, 1, 2, 1, 2, 1, batch norm on all but the first,
    LeakyReLU(0.2) and dropout 0.5 after each, then one linear layer of 11
    outputs (source + 10 classes; here two heads, 1 + 10, the same weights).
    Adam(2e-4, beta_1 0.5, beta_2 0.999), batch 100, 50,000 iterations (100
    epochs of CIFAR-10's 50,000 images), weights N(0, 0.02^2), biases 0.
    *Filled in* where the table is silent: the 110-d input is the one-hot
    class concatenated with 100-d N(0, 1) noise (``conditioning="concat"``;
    the table gives only the size); the linear layer outputs 384 maps of
    4x4 (three stride-2 layers must reach 32 px; a common PyTorch port instead
    reshapes to 1x1 and adds a fourth, 4x4 transposed convolution); layers
    followed by batch norm have no bias (batch norm's shift replaces it); the
    paper's "soft-sigmoid" output is read as a sigmoid on the source logit and
    a softmax on the class logits, both inside the losses.

On the ``smoke`` profile every preset trains on scikit-learn's digits at their
native 8x8 (1,497 labelled training images) with the same layers.
"""

from __future__ import annotations

import dataclasses
import functools
import typing

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive, unit_interval
from gancourse.nn.init import KERNEL_INITS, kernel_initializer
from gancourse.training import GAN, LABEL_SMOOTHING

ARCHITECTURES = ("modern", "paper")
#: Stride-2 layers of each architecture's G (and D).
STAGES = {"modern": 2, "paper": 3}
#: Labelled image datasets: the package's (``gancourse.data``) and CIFAR-10 (``keras.datasets``).
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
CONDITIONING = ("multiply", "concat")


@dataclasses.dataclass(frozen=True)
class ACGANConfig(TrainingConfig):
    """Configuration of an :class:`ACGAN` (see the module docstring for presets)."""

    dataset: str = choice("mnist", DATASETS)
    num_classes: int = dataclasses.field(default=10, metadata={"min": 2, "doc": "classes of the data's labels"})
    image_size: int = positive(28)
    channels: int = choice(1, (1, 3))
    architecture: str = choice("modern", ARCHITECTURES)
    latent_dim: int = positive(100)
    conditioning: str = choice("concat", CONDITIONING, "how G takes the class: concat: [z, one_hot(c)] (G's first "
                               "linear layer then adds a learned embedding of c); multiply: z * E[c] (E a learned "
                               "embedding of size latent_dim)")
    width: float = positive(1.0, "multiplier of every hidden layer's width")
    g_filters: int = positive(64, "G's channels before its output layer (doubled towards its first map)")
    d_filters: int = positive(64, "D's first convolution's channels (doubled by each later convolution)")
    d_dropout: float = unit_interval(0.0, "dropout after each of D's convolutions (paper: 0.5)")
    class_weight: float = non_negative(1.0, "weight w of the class cross-entropy terms in both losses")
    init: str = choice("dcgan", KERNEL_INITS, "dcgan: N(0, 0.02^2) kernels")
    label_smoothing: str = choice("none", LABEL_SMOOTHING)
    smoothing: float = dataclasses.field(default=0.1, metadata={"min": 0, "max": 0.49})
    steps_per_execution: int = positive(8, "train steps per tf.function call")

    KIND = "acgan"
    BCE_ONLY = {"label_smoothing": "none"}
    PRESETS = {
        "modern": dict(epochs=20, batch_size=128),
        "paper": dict(architecture="paper", dataset="cifar10", image_size=32, channels=3, g_filters=96, d_filters=16, d_dropout=0.5, batch_size=100, epochs=100),
    }
    PROFILE_OVERRIDES = {"modern": {"standard": {"epochs": 10}}, "paper": {"standard": {"epochs": 30}}}

    def check(self) -> None:
        if self.objective not in ("bce", "lsgan", "hinge"):
            raise ValueError(f"ACGANConfig.objective={self.objective!r} is not supported: the two-headed "
                             "discriminator has no gradient penalty here; choose bce, lsgan or hinge")
        step = 2 ** STAGES[self.architecture]
        if self.image_size % step or self.image_size < 8:
            raise ValueError(f"image_size={self.image_size} does not fit the {self.architecture} architecture: it "
                             f"must be a multiple of {step} and at least 8")

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            return dict(SMOKE, width=self.width * SMOKE_WIDTH[self.architecture])
        return {}


# The smoke profile: the digits at their native 8x8, larger steps than the full run's; tuned by measurement
# on 2 CPU cores: 3 epochs of batch 32 (138 steps, 7-9 s) give digits that the offline classifier assigns to the
# requested class 97-99% of the time over seeds 0-2 (chance: 10%), where batch 64 needed several times longer.
SMOKE = dict(dataset="digits", image_size=8, channels=1, batch_size=32, learning_rate=1e-3, epochs=3)
# The paper's networks keep their six dropout-0.5 convolutions at a quarter width here: a check that they build and
# train, not a result (in 3 epochs they stay near chance on the requested class).
SMOKE_WIDTH = {"modern": 1.0, "paper": 0.25}
PRESETS = ACGANConfig.preset_names()
config = ACGANConfig.preset


def _width(cfg: ACGANConfig, units: int) -> int:
    return max(1, int(round(units * cfg.width)))


# ---------------------------------------------------------------------------
# Networks. Shapes: B batch, S image size, C channels, K classes, w(n) the width-scaled n.
# ---------------------------------------------------------------------------
def _conditioned_noise(cfg, z, y, init):
    """``(B, latent_dim)`` noise and ``(B, K)`` one-hot classes -> G's input vector."""
    if cfg.conditioning == "concat":
        return layers.Concatenate()([z, y])  # (B, latent_dim + K)
    embedding = layers.Dense(cfg.latent_dim, use_bias=False, kernel_initializer=init(), name="class_embedding")(y)
    return layers.Multiply()([z, embedding])  # (B, latent_dim)


def _g_body(cfg, h, init):
    stages = STAGES[cfg.architecture]
    start = cfg.image_size // 2 ** stages
    filters = _width(cfg, cfg.g_filters * 2 ** (stages - 1))  # modern: w(128); paper: w(384)
    modern = cfg.architecture == "modern"
    kernel = 4 if modern else 5
    x = layers.Dense(start * start * filters, use_bias=not modern, kernel_initializer=init())(h)
    x = layers.ReLU()(layers.BatchNormalization()(x) if modern else x)  # the paper's linear layer: no batch norm
    x = layers.Reshape((start, start, filters))(x)  # (B, S/2^stages, S/2^stages, filters)
    for _ in range(stages - 1):  # each: (B, 2h, 2h, filters/2)
        filters = max(1, filters // 2)
        x = layers.Conv2DTranspose(filters, kernel, 2, padding="same", use_bias=False, kernel_initializer=init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    return layers.Conv2DTranspose(cfg.channels, kernel, 2, padding="same", activation="tanh",
                                  kernel_initializer=init())(x)  # (B, S, S, C)


def _d_body(cfg, x, init):
    if cfg.architecture == "modern":
        plan = [(cfg.d_filters * 2 ** i, 4, 2) for i in range(STAGES["modern"])]  # 64, 128 (stride 2)
    else:
        plan = [(cfg.d_filters * 2 ** i, 3, 2 - i % 2) for i in range(6)]  # 16 ... 512, strides 2, 1, 2, 1, 2, 1
    for i, (units, kernel, stride) in enumerate(plan):
        bn = i > 0
        x = layers.Conv2D(_width(cfg, units), kernel, stride, padding="same", use_bias=not bn,
                          kernel_initializer=init())(x)
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x) if bn else x)
        if cfg.d_dropout:
            x = layers.Dropout(cfg.d_dropout)(x)
    return layers.Flatten()(x)  # (B, S/2^stages * S/2^stages * w(last))


def build_generator(cfg: ACGANConfig) -> keras.Model:
    """``[z (B, latent_dim), one-hot class (B, K)]`` -> images ``(B, S, S, C)`` in [-1, 1]."""
    init = functools.partial(kernel_initializer, cfg.init)
    z, y = keras.Input((cfg.latent_dim,), name="z"), keras.Input((cfg.num_classes,), name="class")
    return keras.Model([z, y], _g_body(cfg, _conditioned_noise(cfg, z, y, init), init),
                       name=f"acgan_{cfg.preset}_generator")


def build_discriminator(cfg: ACGANConfig) -> keras.Model:
    """Images ``(B, S, S, C)`` -> ``[source logit (B, 1), class logits (B, K)]``."""
    init = functools.partial(kernel_initializer, cfg.init)
    x = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="image")
    features = _d_body(cfg, x, init)
    source = layers.Dense(1, kernel_initializer=init(), name="source")(features)
    classes = layers.Dense(cfg.num_classes, kernel_initializer=init(), name="classes")(features)
    return keras.Model(x, [source, classes], name=f"acgan_{cfg.preset}_discriminator")


def class_loss(labels, logits):
    """Mean softmax cross-entropy ``-log P(C = label | x)`` of integer ``labels`` ``(B,)`` under ``logits``
    ``(B, K)``."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32),
                                                                         logits=logits))


def class_hits(labels, logits):
    """Fraction of rows whose largest logit is at ``labels``."""
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32)),
                                  tf.float32))


class ACGAN(GAN):
    """An AC-GAN built from an :class:`ACGANConfig` (or a preset name).

    ``fit`` takes ``(images, labels)`` batches: images ``(B, S, S, C)`` in
    [-1, 1], labels integer classes ``(B,)``. Each step makes one D update
    (the real batch with its labels; fakes of uniformly drawn classes), then
    one G update on fresh noise and classes. Besides ``d_loss``, ``g_loss``,
    ``d_acc``, ``d_real`` and ``d_fake`` (of the source head) ``fit`` reports
    ``class_real`` and ``class_fake``: the fraction of real images the class
    head labels correctly and of fakes it assigns to their requested class.
    """

    def __init__(self, cfg: ACGANConfig | str = "modern"):
        cfg = as_config(cfg, ACGANConfig, "ACGAN")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         noise="normal", objective=cfg.objective, label_smoothing=cfg.label_smoothing,
                         smoothing=cfg.smoothing, seed=cfg.seed, name=f"acgan_{cfg.preset}")
        self.cfg = cfg
        self.num_classes = cfg.num_classes
        self.class_weight = float(cfg.class_weight)
        for key in ("class_real", "class_fake"):
            self._trackers[key] = keras.metrics.Mean(name=key)

    # -- losses ---------------------------------------------------------------------------
    def ac_discriminator_loss(self, real_source, fake_source, real_logits, fake_logits, labels, fake_labels):
        """``1/2 [adv(real) + adv(fake)] + w * 1/2 [ce(labels, real) + ce(fake_labels, fake)]`` (module docstring)."""
        adversarial = self.objective.discriminator(real_source, fake_source, self.label_targets(real_source, True),
                                                   self.label_targets(fake_source, False))
        return adversarial + self.class_weight * 0.5 * (class_loss(labels, real_logits)
                                                        + class_loss(fake_labels, fake_logits))

    def ac_generator_loss(self, fake_source, fake_logits, fake_labels):
        """``adv_G(fake) + w * ce(fake_labels, fake)``: fool the source head, and be classified as asked."""
        return (self.objective.generator(fake_source, self.g_target)
                + self.class_weight * class_loss(fake_labels, fake_logits))

    # -- training ---------------------------------------------------------------------------
    def sample_classes(self, n):
        """``(n,)`` classes drawn uniformly (inside training)."""
        return keras.random.randint((n,), 0, self.num_classes, seed=self.seed_generator, dtype="int32")

    def _fakes(self, batch, training=True):
        classes = self.sample_classes(batch)
        images = self.generator([self.sample_noise(batch), tf.one_hot(classes, self.num_classes)], training=training)
        return images, classes

    def train_step(self, data):
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("ACGAN trains on (images, labels) batches")
        real, labels = data[0], tf.cast(data[1], tf.int32)
        batch = tf.shape(real)[0]
        fakes, fake_labels = self._fakes(batch)
        fakes = tf.stop_gradient(fakes)

        def d_loss_fn():
            real_source, real_logits = self.discriminator(real, training=True)
            fake_source, fake_logits = self.discriminator(fakes, training=True)
            loss = self.ac_discriminator_loss(real_source, fake_source, real_logits, fake_logits, labels, fake_labels)
            return loss, real_source, fake_source, real_logits

        d_loss, real_source, fake_source, real_logits = self.update("discriminator", d_loss_fn)

        def g_loss_fn():
            images, classes = self._fakes(batch)
            source, logits = self.discriminator(images, training=True)
            return self.ac_generator_loss(source, logits, classes), logits, classes

        g_loss, g_logits, g_classes = self.update("generator", g_loss_fn)
        values = dict(d_loss=d_loss, g_loss=g_loss, d_real=self.mean_score(real_source),
                      d_fake=self.mean_score(fake_source), class_real=class_hits(labels, real_logits),
                      class_fake=class_hits(g_classes, g_logits))
        accuracy = self.accuracy(real_source, fake_source)
        if accuracy is not None:
            values["d_acc"] = accuracy
        return self.record(**values)

    # -- data checks ----------------------------------------------------------------------
    def check_data(self, data) -> None:
        """``ValueError`` unless ``data`` is ``(images, labels)`` batches that fit the networks."""
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise ValueError(_PAIRS)
            if not spec[1].dtype.is_integer or tuple(spec[1].shape[1:]) != ():
                raise ValueError(f"labels must be integer classes of shape (batch,), got {spec[1].dtype.name} "
                                 f"{tuple(spec[1].shape)}; {_PAIRS}")
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            check_labels(data[1], self.num_classes, len(data[0]))
        elif data is not None:
            raise ValueError(_PAIRS)
        super().check_data(data)

    def expected_data_shapes(self) -> tuple:
        """Per-example shapes of a training batch: the image the discriminator takes, and a scalar label."""
        return (self.expected_image_shape(), ())

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has images of shape {got[0]} but the discriminator takes {want[0]}; set the config's "
                "image_size/channels to match the data, or resize the data")

    # -- inference --------------------------------------------------------------------------
    def classes_for(self, n: int, labels=None) -> np.ndarray:
        """``(n,)`` int32 classes: ``labels`` (one class for all, or ``n`` of them), or the classes in turn."""
        if labels is None:
            return (np.arange(n) % self.num_classes).astype(np.int32)
        return check_labels(labels, self.num_classes, n)

    def generate(self, z, labels=None, batch_size: int = 256) -> np.ndarray:
        """Images of the classes ``labels`` for the noise ``z`` ``(n, latent_dim)`` (inference mode), float32
        ``(n, S, S, C)`` in [-1, 1]. ``labels``: ``n`` classes, one class for all, or ``None`` (classes in turn)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"noise must have shape (n, {self.latent_dim}), got {z.shape}")
        y = np.eye(self.num_classes, dtype=np.float32)[self.classes_for(len(z), labels)]
        out = [self.generator([z[i:i + batch_size], y[i:i + batch_size]], training=False)
               for i in range(0, len(z), batch_size)]
        return np.concatenate([np.asarray(o) for o in out]).astype(np.float32)

    def sample(self, n: int, seed: int = 0, labels=None) -> np.ndarray:
        """``n`` images from reproducible noise of the classes ``labels`` (default: the classes in turn)."""
        return self.generate(self.fixed_noise(n, seed), labels)

    def classify(self, images, batch_size: int = 256) -> np.ndarray:
        """``(n, K)`` class probabilities from D's auxiliary classifier (inference mode)."""
        x = np.asarray(images, dtype=np.float32)
        want = self.expected_image_shape()
        if x.ndim != 4 or x.shape[1:] != want:
            raise ValueError(f"images must be (n, {', '.join(map(str, want))}), got shape {x.shape}")
        out = [tf.nn.softmax(self.discriminator(x[i:i + batch_size], training=False)[1])
               for i in range(0, len(x), batch_size)]
        return np.concatenate([np.asarray(o) for o in out]).astype(np.float32)

    def class_grid(self, z) -> np.ndarray:
        """``(K, n, S, S, C)``: each noise vector of ``z`` (columns) drawn as each class (rows)."""
        z = np.asarray(z, np.float32)
        return np.stack([self.generate(z, c) for c in range(self.num_classes)])

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """``n`` samples from the fixed noise of ``seed``, the classes in turn (``inputs`` is not used)."""
        return self.sample(n, seed)

    def preview_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed noise for at most 8 columns of the class grid."""
        return self.fixed_noise(min(int(n), 8), seed)

    def preview(self, inputs) -> np.ndarray:
        """The class grid (:meth:`class_grid`) of the fixed noise: one row per class."""
        return self.class_grid(inputs)


_PAIRS = "AC-GAN trains on (images, labels) batches: images (n, S, S, C) in [-1, 1] and integer labels (n,)"


def check_labels(labels, num_classes: int, n: int | None = None) -> np.ndarray:
    """``labels`` as ``(n,)`` int32 classes in ``[0, num_classes)``; one class is repeated ``n`` times.

    Raises:
        ValueError: not integers, out of range, or not ``n`` of them.
    """
    a = np.asarray(labels)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer)
                               or (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)))):
        raise ValueError(f"labels must be integer classes 0-{num_classes - 1}, got {a.dtype} values")
    if a.ndim == 0:
        if n is None:
            raise ValueError("a single label needs the number of samples")
        a = np.full(n, a)
    if a.ndim != 1:
        raise ValueError(f"labels must be one class or a vector (n,) of classes, got shape {a.shape}")
    if n is not None and len(a) != n:
        raise ValueError(f"got {len(a)} labels for {n} samples; give one per sample, or one for all")
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        bad = a[(a < 0) | (a >= num_classes)][0]
        raise ValueError(f"label {bad:g} is out of range: this model has classes 0-{num_classes - 1}")
    return a.astype(np.int32)


# ---------------------------------------------------------------------------
# Scoring by a classifier
# ---------------------------------------------------------------------------
class ClassAccuracy(typing.NamedTuple):
    """What :func:`class_accuracy` returns."""

    accuracy: float  #: fraction of all samples the classifier assigns to their requested class
    per_class: np.ndarray  #: ``(K,)`` that fraction per requested class
    aux_accuracy: float  #: the same fraction by the model's own auxiliary classifier (D's class head)


def class_accuracy(model: ACGAN, classifier, n_per_class: int = 100, seed: int = 0) -> ClassAccuracy:
    """How often a separate classifier recognises the requested class in ``model``'s samples.

    ``n_per_class`` samples of each class from the fixed noise of ``seed``
    (the same noise for every class) are classified by ``classifier`` (any
    object with ``predict(images) -> (n, classes)`` probabilities, e.g.
    ``gancourse.metrics.ClassifierFeatures("digits", image_size=8)``) and by
    the model's own auxiliary classifier. Chance is ``1 / K``.
    """
    n = int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class={n_per_class} must be >= 1")
    if not callable(getattr(classifier, "predict", None)):
        raise ValueError(f"classifier must have predict(images) -> (n, classes) probabilities, got "
                         f"{type(classifier).__name__}")
    k = model.num_classes
    requested = np.repeat(np.arange(k, dtype=np.int32), n)
    z = np.tile(model.fixed_noise(n, seed), (k, 1))
    images = model.generate(z, requested)
    probabilities = np.asarray(classifier.predict(images))
    if probabilities.ndim != 2 or len(probabilities) != len(images) or probabilities.shape[1] < k:
        raise ValueError(f"the classifier gave probabilities of shape {probabilities.shape} for {len(images)} "
                         f"images of {k} classes; it must predict (n, classes >= {k})")
    hits = probabilities.argmax(axis=1) == requested
    aux = model.classify(images).argmax(axis=1) == requested
    return ClassAccuracy(float(hits.mean()), hits.reshape(k, n).mean(axis=1), float(aux.mean()))


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
MODEL = ACGAN
CONFIG = ACGANConfig


def labelled_arrays(cfg: ACGANConfig, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``cfg.dataset``'s images ``(N, S, S, C)`` in [-1, 1] at the config's size, and labels ``(N,)`` int32."""
    from gancourse import data
    from gancourse.data.pipeline import resize, to_unit_range, with_channels

    if cfg.dataset != "cifar10":
        images, labels = data.arrays(cfg.dataset, split, image_size=cfg.image_size, channels=cfg.channels)
    else:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for cifar10; choose one of train, test")
        try:
            train, test = keras.datasets.cifar10.load_data()
        except Exception as exc:
            raise data.DatasetError(f"could not load cifar10 through keras.datasets ({type(exc).__name__}: {exc}). "
                                    "It is downloaded on first use into ~/.keras/datasets and needs network "
                                    "access; offline, use the smoke profile, which trains on digits.") from exc
        x, labels = train if split == "train" else test
        images = with_channels(resize(to_unit_range(x), cfg.image_size), cfg.channels)
    labels = np.asarray(labels).reshape(-1).astype(np.int32)
    if labels.max() >= cfg.num_classes:
        raise ValueError(f"{cfg.dataset} has {labels.max() + 1} classes but num_classes={cfg.num_classes}; set "
                         f"num_classes={labels.max() + 1}")
    return images.astype(np.float32), labels


def batches(cfg: ACGANConfig, data):
    """The training pipeline over ``(images, labels)`` arrays a caller supplies: images ``(N, S, S, C)`` in
    [-1, 1] (or uint8), labels integer classes ``(N,)``; shuffled per epoch, batched."""
    from gancourse.data.pipeline import image_dataset, to_unit_range

    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(_PAIRS + "; pass a tuple (images, labels)")
    images = np.asarray(data[0])
    if images.dtype == np.uint8:
        images = to_unit_range(images)
    want = (cfg.image_size, cfg.image_size, cfg.channels)
    if images.ndim != 4 or images.shape[1:] != want:
        raise ValueError(f"images must be (n, {', '.join(map(str, want))}) for this config, got shape "
                         f"{images.shape}; resize them or set image_size/channels")
    labels = check_labels(data[1], cfg.num_classes, len(images))
    return image_dataset(images, cfg.batch_size, shuffle=True, seed=cfg.seed, labels=labels)


def training_data(cfg: ACGANConfig, data_dir=None):
    """The training ``tf.data.Dataset`` of ``(images, labels)`` batches of ``cfg.dataset`` and the sample grid's
    inputs (``None``: the model's own fixed noise). No dataset here reads a folder: ``data_dir`` is refused."""
    if data_dir is not None:
        raise ValueError(f"the {cfg.dataset} dataset reads no folder; do not pass data_dir (--data {data_dir})")
    return batches(cfg, labelled_arrays(cfg, "train")), None
