"""DCGAN and the DCGAN variants of the course's sources.

Presets (``config(name)``):

``modern`` (default)
    The Radford et al. recipe sized for 28x28 Fashion-MNIST: strided
    (transposed) 4x4 convolutions, batch norm, ReLU/LeakyReLU(0.2), N(0, 0.02^2)
    initialisation, Adam(2e-4, beta_1=0.5), one-sided label smoothing 0.9.
``paper``
    Radford et al.'s 64x64 RGB networks (1024-512-256-128 generator, 5x5
    kernels, uniform noise), for a folder of face images.
``book``
    The source book's anime-face networks: two dense layers, then three
    UpSampling2D + Conv2D blocks; max-pooling discriminator with a 1024-unit
    dense head. SGD(5e-4, momentum 0.9, Nesterov) and noisy labels on both sides.
    Fixed: a ``tanh`` output (one listing ends in LeakyReLU, unbounded while the
    data is in [-1, 1]) and per-epoch shuffling.
``pyimagesearch``
    The Fashion-MNIST tutorial: transposed convs with ReLU *before* BN, uniform
    noise, Adam(2e-4, 0.5) with inverse-time decay, mixed real/fake D batches.
    Fixed: one optimizer per network (the tutorial shares one object).
``gans_in_action``
    The MNIST chapter: LeakyReLU(0.01), Adam defaults. Fixed: the discriminator's
    flatten has 4x4x128 = 2048 features, not the 1152 the text claims.
``mastering_pytorch``
    The PyTorch chapter translated to Keras: 64x64 greyscale, 64-d noise,
    UpSampling + 3x3 conv generator, SpatialDropout discriminator, G step
    before D step. ``BatchNorm2d(c, 0.8)`` in the source sets the *epsilon* to
    0.8 (the second positional argument), almost certainly meant as momentum;
    the preset keeps epsilon 0.8 to reproduce the published behaviour
    (``bn_epsilon``), and ``replace(bn_epsilon=1e-5)`` gives the intended layer.

Post-DCGAN options (chapter 09's modern-GAN lab), all off by default so that every preset above builds and
trains exactly as without them:

``spectral_norm``
    Every Conv2D and Dense layer of the discriminator computes with its kernel divided by its largest
    singular value (Miyato et al. 2018; one power-iteration step each time D runs in training,
    :class:`gancourse.nn.modern.SpectralNorm`). ``dcgan`` architecture only.
``r1_weight``
    Mescheder et al. (2018)'s R1 penalty ``r1_weight / 2 * E ||grad_x D(x)||^2`` on the real images D sees,
    added in :meth:`DCGAN.discriminator_loss` (so after any augmentation, and for every objective).
``self_attention``
    A SAGAN block (Zhang et al. 2019; :class:`gancourse.nn.SelfAttention`: C/8-channel queries and keys,
    C-channel values, ``gamma`` starting at 0) in both networks at half the image size: in G after its last
    hidden up-sampling (4x4 for 8x8 digits, 14x14 at 28, 32x32 at 64), in D after its first convolution
    (the same sizes). ``dcgan`` architecture only; both maps need at least 8 channels.
``ema``
    Decay of an exponential moving average of the generator's weights (Yazici et al. 2019; Karras et al.
    use 0.999), updated after every generator step; ``generate``, ``sample``, ``metric_samples`` and
    ``preview`` then use the average, and checkpoints hold it. 0 turns it off.
``augment``
    ``"diffaugment"``: Zhao et al. (2020)'s DiffAugment (color, translation, cutout;
    :func:`gancourse.nn.modern.diff_augment`) on the real and the fake images of D's step and on the fakes
    of G's step, drawn from the model's seed generator. ``"none"``: no augmentation.
``train_size``
    Train on a fixed subset of this many training images (:func:`training_images`), the same for every
    run seed, stratified by class.

Every discriminator ends in a linear unit; the sigmoid lives inside the loss
(``from_logits``), which is the numerically stable way to write the same model.

Harmonisations, besides the fixes above: every preset shuffles its training
images once per epoch (:func:`batches`; the book and PyImageSearch take
sequential slices, GANs in Action draws every batch with replacement), and
``mastering_pytorch`` uses Keras' default Glorot initialiser (``init="glorot"``)
where the source keeps PyTorch's default layer initialisation.
"""

from __future__ import annotations

import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gancourse import losses
from gancourse.config import TrainingConfig, as_config, choice, positive
from gancourse.data import DATASETS
from gancourse.nn import SelfAttention
from gancourse.nn.init import KERNEL_INITS, kernel_initializer
from gancourse.nn.modern import SpectralNorm, diff_augment
from gancourse.training import GAN, LABEL_SMOOTHING, NOISE

ARCHITECTURES = ("dcgan", "book", "pyimagesearch", "gans_in_action", "mastering_pytorch")
D_BATCH = ("separate", "mixed")
STEP_ORDER = ("d_first", "g_first")
BATCH_NORM = ("both", "generator", "discriminator", "none")
D_ACTIVATIONS = ("leaky_relu", "relu")
AUGMENTS = ("none", "diffaugment")
#: Seed of the fixed training subsets (``train_size``): independent of the run seed, so that every run at a
#: size sees the same images.
SUBSET_SEED = 1234


@dataclasses.dataclass(frozen=True)
class DCGANConfig(TrainingConfig):
    """Configuration of a :class:`DCGAN` (see the module docstring for presets)."""

    architecture: str = choice("dcgan", ARCHITECTURES)
    dataset: str = choice("fashion_mnist", DATASETS)
    split: str = choice("train", ("train", "all"), "'all' adds the test split (PyImageSearch)")
    image_size: int = positive(28)
    channels: int = choice(1, (1, 3))
    latent_dim: int = positive(100)
    width: float = positive(1.0, "multiplier of every hidden layer's width")
    g_filters: int = positive(64, "dcgan architecture: generator filters at the last hidden layer")
    d_filters: int = positive(64, "dcgan architecture: discriminator filters at the first layer")
    kernel_size: int = positive(4, "dcgan architecture: kernel size")
    stages: int | None = dataclasses.field(default=None, metadata={
        "min": 2, "doc": "dcgan architecture: stride-2 stages (None: as many as the image size allows)"})
    batch_norm: str = choice("both", BATCH_NORM, "dcgan architecture: where batch norm is used (guideline 2)")
    d_activation: str = choice("leaky_relu", D_ACTIVATIONS, "dcgan architecture: D's hidden activation "
                               "(guideline 5: LeakyReLU with slope 0.2)")
    init: str = choice("dcgan", KERNEL_INITS, "dcgan: N(0, 0.02^2) kernels (standard deviation 0.02)")
    bn_epsilon: float = positive(0.8, "mastering_pytorch: epsilon of the BatchNorm2d(c, 0.8) layers")
    noise: str = choice("normal", NOISE)
    g_learning_rate: float | None = dataclasses.field(default=None, metadata={"min": 0, "min_exclusive": True})
    label_smoothing: str = choice("one_sided", LABEL_SMOOTHING)
    smoothing: float = dataclasses.field(default=0.1, metadata={"min": 0, "max": 0.49})
    d_steps: int = positive(1)
    d_batch: str = choice("separate", D_BATCH, "'mixed': real and fake images shuffled into one D batch")
    step_order: str = choice("d_first", STEP_ORDER, "'g_first': G then D on the same fakes")
    steps_per_execution: int = positive(8, "train steps per tf.function call (measured by the bench)")
    sample_every: int = positive(1)
    fid_samples: int = positive(1000)
    spectral_norm: bool = dataclasses.field(default=False, metadata={
        "doc": "dcgan architecture: spectral norm on every layer of the discriminator (Miyato et al.)"})
    r1_weight: float = dataclasses.field(default=0.0, metadata={
        "min": 0, "doc": "gamma of the R1 penalty gamma/2 E||grad D(x_real)||^2 (Mescheder et al.); 0: off"})
    self_attention: bool = dataclasses.field(default=False, metadata={
        "doc": "dcgan architecture: a SAGAN self-attention block in G and D at half the image size"})
    ema: float = dataclasses.field(default=0.0, metadata={
        "min": 0, "max": 1,
        "doc": "decay of the generator's exponential moving average used for sampling (e.g. 0.999); 0: off"})
    augment: str = choice("none", AUGMENTS, "'diffaugment': DiffAugment (color, translation, cutout) in D and G")
    train_size: int | None = dataclasses.field(default=None, metadata={
        "min": 1, "doc": "train on a fixed class-stratified subset of this many training images (None: all)"})

    KIND = "dcgan"
    # The smoke profile's modern run, tuned by measurement (chapter 04): the digits' native 8x8 resolution,
    # where a full-width network costs no more per step than a quarter-width one at 28x28, larger batches and
    # a larger learning rate, so that about 460 steps give digits the offline classifier recognises.
    SMOKE_MODERN = dict(image_size=8, width=1.0, batch_size=64, learning_rate=1e-3, epochs=20)
    BCE_ONLY = {"label_smoothing": "none", "d_batch": "separate"}
    PRESETS = {
        "modern": dict(epochs=30, batch_size=128),
        "paper": dict(dataset="faces", image_size=64, channels=3, g_filters=128, d_filters=64, kernel_size=5,
                      noise="uniform", label_smoothing="none", epochs=25, batch_size=128),
        "book": dict(architecture="book", dataset="faces", image_size=64, channels=3, init="glorot",
                     optimizer="sgd", learning_rate=5e-4, momentum=0.9, nesterov=True,
                     label_smoothing="noisy", smoothing=0.1, epochs=10000, batch_size=128),
        "pyimagesearch": dict(architecture="pyimagesearch", split="all", init="glorot", noise="uniform",
                              lr_decay=2e-4 / 50, label_smoothing="none", d_batch="mixed", epochs=50,
                              batch_size=128),
        "gans_in_action": dict(architecture="gans_in_action", dataset="mnist", init="glorot", learning_rate=1e-3,
                               beta_1=0.9, label_smoothing="none", epochs=43, batch_size=128),
        "mastering_pytorch": dict(architecture="mastering_pytorch", dataset="mnist", image_size=64, latent_dim=64,
                                  init="glorot", learning_rate=1e-3, beta_1=0.9, label_smoothing="none",
                                  step_order="g_first", epochs=10, batch_size=32),
    }
    # The standard profile's training length per preset (a Colab GPU session).
    PROFILE_OVERRIDES = {"modern": {"standard": {"epochs": 15}, "smoke": SMOKE_MODERN},
                         "paper": {"standard": {"epochs": 10}}, "book": {"standard": {"epochs": 25}}, "pyimagesearch": {"standard": {"epochs": 15}},
                         "gans_in_action": {"standard": {"epochs": 15}},
                         "mastering_pytorch": {"standard": {"epochs": 3}}}

    def check(self) -> None:
        size = self.image_size
        if self.architecture != "dcgan":
            for name in ("spectral_norm", "self_attention"):
                if getattr(self, name):
                    raise ValueError(f"{name}=True needs architecture 'dcgan', got {self.architecture!r}")
        if self.ema >= 1:
            raise ValueError(f"ema={self.ema!r} must be below 1 (a decay of 1 never moves the average); 0 turns it off")
        if self.d_batch == "mixed" and (self.r1_weight or self.augment != "none"):
            raise ValueError("r1_weight and augment need d_batch='separate' (they act on the real batch alone)")
        if self.architecture == "dcgan":
            start, k = dcgan_geometry(size, self.stages)
            if k < 2 or start < 2 or start * 2 ** k != size:
                raise ValueError(f"image_size={size} does not fit the dcgan architecture with stages={self.stages}: "
                                 "the size must be start x 2^stages with start >= 2 and at least two stages")
            if self.self_attention and min(attention_channels(self)) < 8:
                raise ValueError(f"self_attention needs at least 8 channels at half the image size, got "
                                 f"{attention_channels(self)} (G, D); raise width, g_filters or d_filters")
        elif self.architecture == "book":
            if size % 8 or book_feature_size(size) < 1:
                raise ValueError(f"image_size={size} does not fit the book architecture: it must be a "
                                 "multiple of 8 and at least 24 (three upsamplings; valid convs in D)")
        elif size % 4 or size < 8:
            raise ValueError(f"image_size={size} does not fit the {self.architecture} architecture: "
                             "it must be a multiple of 4 and at least 8")

    def learning_rate_for(self, group: str) -> float:
        """``g_learning_rate`` for the generator when set (two time-scale rates), else ``learning_rate``."""
        return (self.g_learning_rate or self.learning_rate) if group == "generator" else self.learning_rate

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            size = 28 if self.image_size == 28 else 32  # modern: SMOKE_MODERN replaces it
            stages = dcgan_geometry(self.image_size, self.stages)[1] if self.architecture == "dcgan" else None
            return dict(dataset="digits", stages=stages, split="train", channels=1, image_size=size,
                        width=self.width * SMOKE_WIDTH[self.architecture], epochs=SMOKE_EPOCHS,
                        batch_size=min(self.batch_size, 32), fid_samples=300)
        if profile_name == "standard":
            return dict(fid_samples=2000)
        return {}


SMOKE_EPOCHS = 10
SMOKE_WIDTH = {"dcgan": 0.25, "book": 0.125, "pyimagesearch": 0.25, "gans_in_action": 0.25,
               "mastering_pytorch": 0.25}
PRESETS = DCGANConfig.preset_names()
config = DCGANConfig.preset


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------
def dcgan_geometry(image_size: int, stages: int | None = None) -> tuple[int, int]:
    """``(start, stages)``: the generator starts at ``start x start`` and doubles
    ``stages`` times. By default as many times as keeps ``start >= 4``
    (28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)); with ``stages`` given,
    ``start = image_size / 2**stages`` (32 with 4 stages -> (2, 4))."""
    if stages is not None:
        return image_size // 2 ** stages, stages
    start, stages = image_size, 0
    while start % 2 == 0 and start // 2 >= 4:
        start, stages = start // 2, stages + 1
    return start, stages


def attention_channels(cfg: DCGANConfig) -> tuple[int, int]:
    """Channels of the generator's and the discriminator's feature maps at half the image size (dcgan
    architecture), where ``self_attention`` puts its blocks."""
    _, stages = dcgan_geometry(cfg.image_size, cfg.stages)
    g = _width(cfg, cfg.g_filters * 2 ** (stages - 1))
    for _ in range(stages - 1):
        g = max(1, g // 2)
    return g, _width(cfg, cfg.d_filters)


def book_feature_size(image_size: int) -> int:
    """Side of the book discriminator's last feature map (64 -> 6)."""
    s = image_size // 2
    for _ in range(2):
        s = (s - 2) // 2
    return s


def _width(cfg: DCGANConfig, units: int) -> int:
    return max(1, int(round(units * cfg.width)))


def _kernel_init(cfg: DCGANConfig):
    """A factory of fresh kernel initialisers (one per layer: a shared unseeded initialiser would give
    every layer the same random stream)."""
    return functools.partial(kernel_initializer, cfg.init)


# ---------------------------------------------------------------------------
# Generators: (B, latent_dim) noise -> (B, S, S, C) images in [-1, 1]
# ---------------------------------------------------------------------------
# Shapes: B is the batch, S the image size, C the channels, w(n) the width-scaled n (``cfg.width``).
def _g_dcgan(cfg, z, init):
    start, stages = dcgan_geometry(cfg.image_size, cfg.stages)  # S = start * 2^stages
    filters = _width(cfg, cfg.g_filters * 2 ** (stages - 1))
    bn = cfg.batch_norm in ("both", "generator")
    x = layers.Dense(start * start * filters, use_bias=not bn, kernel_initializer=init())(z)  # (B, start^2 * f)
    x = layers.ReLU()(_maybe_bn(x, bn))
    x = layers.Reshape((start, start, filters))(x)  # (B, start, start, f), f = w(g_filters * 2^(stages-1))
    for _ in range(stages - 1):  # each: (B, 2h, 2h, f/2)
        filters = max(1, filters // 2)
        x = layers.Conv2DTranspose(filters, cfg.kernel_size, 2, padding="same", use_bias=not bn,
                                   kernel_initializer=init())(x)
        x = layers.ReLU()(_maybe_bn(x, bn))
    if cfg.self_attention:  # (B, S/2, S/2, f): SAGAN's block on G's last hidden map
        x = SelfAttention(init=cfg.init, name="g_attention")(x)
    return layers.Conv2DTranspose(cfg.channels, cfg.kernel_size, 2, padding="same", activation="tanh",
                                  kernel_initializer=init())(x)  # (B, S, S, C)


def _g_book(cfg, z, init):
    start = cfg.image_size // 8
    x = layers.Dense(_width(cfg, 2048), activation="relu", kernel_initializer=init())(z)  # (B, w(2048))
    filters = _width(cfg, 256)
    x = layers.Dense(start * start * filters, kernel_initializer=init())(x)  # (B, (S/8)^2 * w(256))
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Reshape((start, start, filters))(x)  # (B, S/8, S/8, w(256))
    for units in (128, 64):  # (B, S/4, S/4, w(128)), then (B, S/2, S/2, w(64))
        x = layers.UpSampling2D()(x)
        x = layers.Conv2D(_width(cfg, units), 5, padding="same", activation="relu", kernel_initializer=init())(x)
    x = layers.UpSampling2D()(x)  # (B, S, S, w(64))
    return layers.Conv2D(cfg.channels, 5, padding="same", activation="tanh", kernel_initializer=init())(x)  # (B, S, S, C)


def _g_pyimagesearch(cfg, z, init):
    start = cfg.image_size // 4
    # (B, w(512))
    x = layers.BatchNormalization()(layers.Dense(_width(cfg, 512), activation="relu", kernel_initializer=init())(z))
    filters = _width(cfg, 64)
    x = layers.Dense(start * start * filters, activation="relu", kernel_initializer=init())(x)  # (B, (S/4)^2 w(64))
    x = layers.Reshape((start, start, filters))(layers.BatchNormalization()(x))  # (B, S/4, S/4, w(64))
    x = layers.Conv2DTranspose(_width(cfg, 32), 5, 2, padding="same", activation="relu",
                               kernel_initializer=init())(x)  # (B, S/2, S/2, w(32))
    x = layers.BatchNormalization()(x)
    return layers.Conv2DTranspose(cfg.channels, 5, 2, padding="same", activation="tanh",
                                  kernel_initializer=init())(x)  # (B, S, S, C)


def _project(z, start: int, filters: int, init):
    """Noise to a ``(B, start, start, filters)`` map through one linear layer."""
    return layers.Reshape((start, start, filters))(layers.Dense(start * start * filters, kernel_initializer=init())(z))


def _g_gans_in_action(cfg, z, init):
    x = _project(z, cfg.image_size // 4, _width(cfg, 256), init)  # (B, S/4, S/4, w(256))
    for units, stride in ((128, 2), (64, 1)):  # (B, S/2, S/2, w(128)), then (B, S/2, S/2, w(64))
        x = layers.Conv2DTranspose(_width(cfg, units), 3, stride, padding="same", kernel_initializer=init())(x)
        x = layers.LeakyReLU(0.01)(layers.BatchNormalization()(x))
    return layers.Conv2DTranspose(cfg.channels, 3, 2, padding="same", activation="tanh",
                                  kernel_initializer=init())(x)  # (B, S, S, C)


def _g_mastering_pytorch(cfg, z, init):
    x = _project(z, cfg.image_size // 4, _width(cfg, 128), init)  # (B, S/4, S/4, w(128))
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    for units in (128, 64):  # (B, S/2, S/2, w(128)), then (B, S, S, w(64))
        x = layers.UpSampling2D()(x)
        x = layers.Conv2D(_width(cfg, units), 3, padding="same", kernel_initializer=init())(x)
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization(momentum=0.9, epsilon=cfg.bn_epsilon)(x))
    return layers.Conv2D(cfg.channels, 3, padding="same", activation="tanh", kernel_initializer=init())(x)  # (B, S, S, C)


# ---------------------------------------------------------------------------
# Discriminators (all take (B, S, S, C) and end in one logit, (B, 1))
# ---------------------------------------------------------------------------
def _maybe_bn(x, on: bool):
    return layers.BatchNormalization()(x) if on else x


def _d_dcgan(cfg, x, init):
    _, stages = dcgan_geometry(cfg.image_size, cfg.stages)
    bn = cfg.batch_norm in ("both", "discriminator")

    def act(y):
        return layers.LeakyReLU(0.2)(y) if cfg.d_activation == "leaky_relu" else layers.ReLU()(y)

    def sn(layer):  # spectral norm on every weight layer of D (Miyato et al.)
        return SpectralNorm(layer, name=f"{layer.name}_sn") if cfg.spectral_norm else layer

    x = act(sn(layers.Conv2D(_width(cfg, cfg.d_filters), cfg.kernel_size, 2, padding="same",
                             kernel_initializer=init()))(x))  # (B, S/2, S/2, w(d_filters))
    if cfg.self_attention:  # (B, S/2, S/2, w(d_filters))
        x = SelfAttention(init=cfg.init, name="d_attention")(x)
    for j in range(1, stages):  # (B, S/2^(j+1), S/2^(j+1), w(d_filters * 2^j))
        x = sn(layers.Conv2D(_width(cfg, cfg.d_filters * 2 ** j), cfg.kernel_size, 2, padding="same",
                             use_bias=not bn, kernel_initializer=init()))(x)
        x = act(_maybe_bn(x, bn))
    return sn(layers.Dense(1, kernel_initializer=init()))(layers.Flatten()(x))  # (B, 1)


def _d_book(cfg, x, init):
    # (B, S/2, S/2, w(128)) -> (B, (S/2-2)/2, ..., w(256)) -> (B, book_feature_size(S), ..., w(512))
    for units, kernel, padding in ((128, 5, "same"), (256, 3, "valid"), (512, 3, "valid")):
        x = layers.Conv2D(_width(cfg, units), kernel, padding=padding, kernel_initializer=init())(x)
        x = layers.MaxPooling2D()(layers.LeakyReLU(0.2)(x))
    # (B, w(1024))
    x = layers.LeakyReLU(0.2)(layers.Dense(_width(cfg, 1024), kernel_initializer=init())(layers.Flatten()(x)))
    return layers.Dense(1, kernel_initializer=init())(x)  # (B, 1)


def _d_pyimagesearch(cfg, x, init):
    for units in (32, 64):  # (B, S/2, S/2, w(32)), then (B, S/4, S/4, w(64))
        x = layers.LeakyReLU(0.2)(layers.Conv2D(_width(cfg, units), 5, 2, padding="same", kernel_initializer=init())(x))
    # (B, w(512))
    x = layers.LeakyReLU(0.2)(layers.Dense(_width(cfg, 512), kernel_initializer=init())(layers.Flatten()(x)))
    return layers.Dense(1, kernel_initializer=init())(x)  # (B, 1)


def _d_gans_in_action(cfg, x, init):
    for i, units in enumerate((32, 64, 128)):  # (B, S/2, S/2, w(32)) ... (B, S/8, S/8, w(128)), rounded up
        x = layers.Conv2D(_width(cfg, units), 3, 2, padding="same", kernel_initializer=init())(x)
        if i:
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.01)(x)
    return layers.Dense(1, kernel_initializer=init())(layers.Flatten()(x))  # (B, 1)


def _d_mastering_pytorch(cfg, x, init):
    for i, units in enumerate((16, 32, 64, 128)):  # (B, S/2, S/2, w(16)) ... (B, S/16, S/16, w(128))
        x = layers.Conv2D(_width(cfg, units), 3, 2, padding="same", kernel_initializer=init())(x)
        x = layers.SpatialDropout2D(0.25)(layers.LeakyReLU(0.2)(x))
        if i:
            x = layers.BatchNormalization(momentum=0.9, epsilon=cfg.bn_epsilon)(x)
    return layers.Dense(1, kernel_initializer=init())(layers.Flatten()(x))  # (B, 1)


_GENERATORS = {"dcgan": _g_dcgan, "book": _g_book, "pyimagesearch": _g_pyimagesearch,
               "gans_in_action": _g_gans_in_action, "mastering_pytorch": _g_mastering_pytorch}
_DISCRIMINATORS = {"dcgan": _d_dcgan, "book": _d_book, "pyimagesearch": _d_pyimagesearch,
                   "gans_in_action": _d_gans_in_action, "mastering_pytorch": _d_mastering_pytorch}


def build_generator(cfg: DCGANConfig) -> keras.Model:
    """Noise ``(batch, latent_dim)`` -> images ``(batch, size, size, channels)`` in [-1, 1]."""
    z = keras.Input((cfg.latent_dim,), name="z")
    return keras.Model(z, _GENERATORS[cfg.architecture](cfg, z, _kernel_init(cfg)), name=f"{cfg.preset}_generator")


def build_discriminator(cfg: DCGANConfig) -> keras.Model:
    """Images ``(batch, size, size, channels)`` -> real/fake logits ``(batch, 1)``."""
    x = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="image")
    return keras.Model(x, _DISCRIMINATORS[cfg.architecture](cfg, x, _kernel_init(cfg)),
                       name=f"{cfg.preset}_discriminator")


class DCGAN(GAN):
    """A DCGAN built from a :class:`DCGANConfig` (or a preset name).

    ``compile()`` without arguments makes the optimizers the config describes.
    Two options of the sources live here rather than in :class:`GAN`:
    ``d_batch="mixed"`` (real and fake images shuffled into one discriminator
    batch, as the PyImageSearch tutorial does, so batch norm sees them
    together) and ``step_order="g_first"`` (the generator's update first, then
    D's on the same fakes, as the Mastering PyTorch loop does).

    The post-DCGAN options of the config (module docstring) live here too:
    the R1 penalty in :meth:`discriminator_loss`, DiffAugment in
    :meth:`discriminator_step` and :meth:`generator_objective`, and the EMA
    generator (:attr:`ema_generator`, updated in :meth:`after_update`, used by
    :meth:`generate`, saved through :meth:`extra_state`).
    """

    def __init__(self, cfg: DCGANConfig | str = "modern"):
        cfg = as_config(cfg, DCGANConfig, "DCGAN")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         noise=cfg.noise, objective=cfg.objective, label_smoothing=cfg.label_smoothing,
                         smoothing=cfg.smoothing, d_steps=cfg.d_steps, seed=cfg.seed, name=f"dcgan_{cfg.preset}")
        self.cfg = cfg
        #: The exponential moving average of the generator (``cfg.ema > 0``), else ``None``.
        self.ema_generator = None
        if cfg.ema:
            self.ema_generator = build_generator(cfg)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.trainable = False

    # -- post-DCGAN options ------------------------------------------------------
    def augment(self, images):
        """``images`` through DiffAugment when ``cfg.augment == "diffaugment"``, else unchanged."""
        if self.cfg.augment == "none":
            return images
        return diff_augment(images, self.seed_generator)

    def r1_penalty(self, real):
        """``r1_weight / 2 * mean_i ||grad_x D(x_i)||^2`` over the real batch (Mescheder et al. 2018)."""
        with tf.GradientTape() as tape:
            tape.watch(real)
            out = self.discriminator(real, training=True)
        grads = tape.gradient(out, real)  # of the sum of scores: per-sample gradients, D scores each image alone
        return 0.5 * self.cfg.r1_weight * tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))

    def discriminator_loss(self, real, fakes, real_out, fake_out):
        """The objective's loss plus, when ``cfg.r1_weight > 0``, :meth:`r1_penalty` on ``real``."""
        loss = super().discriminator_loss(real, fakes, real_out, fake_out)
        if self.cfg.r1_weight:
            loss = loss + self.r1_penalty(real)
        return loss

    def generator_objective(self, fakes, real=None):
        """The adversarial loss of the (augmented, with ``augment``) fakes."""
        return super().generator_objective(self.augment(fakes), real)

    def after_update(self, network: str) -> None:
        """After a generator step with ``cfg.ema``: ``ema <- d * ema + (1 - d) * generator`` for the trainable
        weights; the non-trainable ones (batch-norm statistics) are copied."""
        super().after_update(network)
        if network != "generator" or self.ema_generator is None:
            return
        d = self.cfg.ema
        trainable = {id(w) for w in self.generator.trainable_weights}
        for avg, new in zip(self.ema_generator.weights, self.generator.weights):
            avg.assign(d * avg + (1.0 - d) * new if id(new) in trainable else new)

    def extra_state(self) -> dict:
        """The EMA generator, when there is one."""
        return {} if self.ema_generator is None else {"ema_generator": self.ema_generator}

    @property
    def sampling_generator(self) -> keras.Model:
        """The EMA generator when ``cfg.ema``, else the generator: what :meth:`generate` draws with."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def discriminator_step(self, real, fakes=None):
        if self.cfg.d_batch == "separate":
            if self.cfg.augment != "none":  # the same augmentation distribution for real and fake images
                if fakes is None:
                    fakes = self.generator(self.sample_noise(tf.shape(real)[0]), training=True)
                real, fakes = self.augment(real), self.augment(tf.stop_gradient(fakes))
            return super().discriminator_step(real, fakes)
        batch = tf.shape(real)[0]
        if fakes is None:
            fakes = self.generator(self.sample_noise(batch), training=True)
        fakes = tf.stop_gradient(fakes)

        def loss_fn():
            order = keras.random.shuffle(tf.range(2 * batch), seed=self.seed_generator)
            out = self.discriminator(tf.gather(tf.concat([real, fakes], 0), order), training=True)
            is_real = tf.gather(tf.concat([tf.ones([batch]), tf.zeros([batch])], 0), order)
            is_real = tf.reshape(is_real, [-1] + [1] * (len(out.shape) - 1)) * tf.ones_like(out)
            targets = tf.where(is_real > 0.5, self.label_targets(out, True), self.label_targets(out, False))
            loss = losses.bce_with_logits(targets, out) + self.regularizer("discriminator")
            return loss, tf.boolean_mask(out, is_real > 0.5), tf.boolean_mask(out, is_real < 0.5)

        loss, real_out, fake_out = self.update("discriminator", loss_fn)
        self.after_update("discriminator")
        return loss, self.accuracy(real_out, fake_out), self.mean_score(real_out), self.mean_score(fake_out)

    def train_step(self, data):
        if self.cfg.step_order == "d_first":
            return super().train_step(data)
        real = data[0] if isinstance(data, (tuple, list)) else data
        g_loss, fakes = self.generator_step(tf.shape(real)[0], real)
        d_out = self.discriminator_step(real, fakes)
        for _ in range(self.d_steps - 1):
            d_out = self.discriminator_step(real)
        return self.record_step(d_out, g_loss)


MODEL = DCGAN
CONFIG = DCGANConfig


def batches(cfg: DCGANConfig, images):
    """The training pipeline over ``images`` (``(N, H, W, C)`` in ``[-1, 1]``): shuffled per epoch, batched."""
    from gancourse.data.pipeline import image_dataset

    return image_dataset(images, cfg.batch_size, shuffle=True, seed=cfg.seed)


def subset_indices(labels, size: int, seed: int = SUBSET_SEED) -> np.ndarray:
    """Sorted indices of a fixed subset of ``size`` examples, stratified by ``labels`` (an ``(N,)`` array;
    an int ``N`` for unlabelled data: a plain random subset).

    Each class gets its share of ``size`` in proportion to its count (largest remainders round up), its
    members drawn with ``seed``, so the subset depends only on the labels, the size and the seed.
    """
    labels = np.zeros(int(labels), int) if np.ndim(labels) == 0 else np.asarray(labels)
    n = len(labels)
    if not 1 <= int(size) <= n:
        raise ValueError(f"train_size={size} must be between 1 and the {n} training images; lower it or use None")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * int(size) / n
    take = np.floor(exact).astype(int)
    extra = np.argsort(-(exact - take), kind="stable")[:int(size) - take.sum()]
    take[extra] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def training_images(cfg: DCGANConfig, data_dir=None) -> np.ndarray:
    """The training images of ``cfg`` as an array: the whole split, or with ``cfg.train_size`` its fixed
    class-stratified subset (:func:`subset_indices` with :data:`SUBSET_SEED`, whatever ``cfg.seed`` is, so that
    every run at one size sees the same images)."""
    from gancourse import data

    images, labels = data.arrays(cfg.dataset, cfg.split, image_size=cfg.image_size, channels=cfg.channels,
                                 data_dir=data_dir)
    if cfg.train_size is None:
        return images
    if cfg.train_size > len(images):
        raise ValueError(f"train_size={cfg.train_size} exceeds the {len(images)} images of the {cfg.dataset} "
                         f"{cfg.split} split; choose at most {len(images)} or None")
    return images[subset_indices(len(images) if labels is None else labels, cfg.train_size)]


def training_data(cfg: DCGANConfig, data_dir=None):
    """The training ``tf.data.Dataset`` of ``cfg.dataset`` (``data_dir``: where it lives; with
    ``cfg.train_size``, its fixed subset from :func:`training_images`) and the sample grid's inputs
    (``None``: the model's own fixed noise)."""
    from gancourse import data

    if cfg.train_size is not None:
        return batches(cfg, training_images(cfg, data_dir)), None
    return data.load(cfg, split=cfg.split, data_dir=data_dir), None
