"""Fully connected GANs: the toy problems of the theory chapter and the book's MLP.

Presets (``config(name)``):

``ring``
    2-D ring of 8 Gaussians (the standard mode-collapse test bed). Small MLPs,
    Adam(1e-3, beta_1=0.5).
``line``
    1-D mixture of two Gaussians, for watching a generator's density move.
``book``
    The source book's illustration network for 28x28 MNIST digits: generator
    100 -> 500 -> 500 -> 784, discriminator 784 -> 500 -> 500 -> 1. The book
    gives no activations; we use LeakyReLU(0.2) and a ``tanh`` output, with the
    DCGAN optimiser.

Stabilisation switches (all off by default, each from Salimans et al. 2016
unless noted), so they can be compared on the same problem:
``feature_matching`` (G matches the mean of D's last hidden layer on real and
fake batches instead of fooling D), ``minibatch_kernels`` (a
:class:`~gancourse.nn.MinibatchDiscrimination` layer before D's output),
``historical_weight`` (historical averaging on both networks),
``label_smoothing``, and ``norm`` (``batch`` or per-sample ``layer``
normalisation in the hidden layers, the vector analogue of instance norm).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gancourse import data, losses, nn, set_seed
from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive, unit_interval
from gancourse.data import toy
from gancourse.training import GAN, LABEL_SMOOTHING

DATA = ("ring", "line", "digits", "mnist")
GENERATOR_LOSSES = ("non_saturating", "minimax")
RING_STD = 0.05


@dataclasses.dataclass(frozen=True)
class GANConfig(TrainingConfig):
    """Configuration of a :class:`ToyGAN` (see the module docstring)."""

    data: str = choice("ring", DATA)
    latent_dim: int = positive(2)
    hidden: int = positive(128, "units of every hidden layer")
    depth: int = positive(2, "hidden layers per network")
    norm: str = choice("none", ("none", "batch", "layer"))
    generator_loss: str = choice("non_saturating", GENERATOR_LOSSES, "bce only: minimax is the saturating loss")
    feature_matching: bool = False
    minibatch_kernels: int = non_negative(0, "0 turns minibatch discrimination off")
    minibatch_dim: int = positive(5)
    historical_weight: float = non_negative(0.0)
    label_smoothing: str = choice("none", LABEL_SMOOTHING)
    smoothing: float = dataclasses.field(default=0.1, metadata={"min": 0, "max": 0.49})
    learning_rate: float = positive(1e-3)
    beta_1: float = unit_interval(0.5)
    steps_per_epoch: int = positive(100)
    n_train: int = positive(20000)
    steps_per_execution: int = positive(25)

    KIND = "gan"
    BCE_ONLY = {"label_smoothing": "none", "generator_loss": "non_saturating"}
    PRESETS = {
        "ring": dict(data="ring", epochs=30, batch_size=256),
        "line": dict(data="line", latent_dim=1, hidden=32, epochs=20, batch_size=256),
        "book": dict(data="mnist", latent_dim=100, hidden=500, learning_rate=2e-4, epochs=50, batch_size=128,
                     steps_per_epoch=468, n_train=60000),
    }

    @property
    def data_shape(self) -> tuple:
        """Shape of one sample."""
        return {"ring": (2,), "line": (1,), "digits": (28, 28, 1), "mnist": (28, 28, 1)}[self.data]

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            changes = {"epochs": min(self.epochs, 10)}
            if self.data == "ring":  # small nets and batches: a quick demonstration run
                changes.update(epochs=min(self.epochs, 8), batch_size=min(self.batch_size, 64),
                               hidden=min(self.hidden, 64))
            if self.data == "mnist":  # the book's 1.3M-parameter MLP: a short run on the offline digits
                changes.update(data="digits", epochs=min(self.epochs, 3), steps_per_epoch=50,
                               batch_size=min(self.batch_size, 32))
            return changes
        if profile_name == "standard" and self.data == "mnist":
            return {"epochs": min(self.epochs, 10)}  # the book's MLP on MNIST: 4,680 steps, minutes on a GPU
        return {}


PRESETS = GANConfig.preset_names()
config = GANConfig.preset


def _hidden_stack(cfg: GANConfig, x, prefix: str):
    for i in range(cfg.depth):  # each: (B, hidden)
        x = layers.Dense(cfg.hidden, name=f"{prefix}_dense{i}")(x)
        if cfg.norm != "none":
            x = nn.norm_layer(cfg.norm)(x)
        x = layers.LeakyReLU(0.2, name=f"{prefix}_act{i}")(x)
    return x


def build_generator(cfg: GANConfig) -> keras.Model:
    """Noise ``(batch, latent_dim)`` -> samples of shape ``cfg.data_shape``."""
    z = keras.Input((cfg.latent_dim,), name="z")  # (B, latent_dim)
    x = _hidden_stack(cfg, z, "g")  # (B, hidden)
    size = int(np.prod(cfg.data_shape))
    if len(cfg.data_shape) > 1:
        x = layers.Reshape(cfg.data_shape)(layers.Dense(size, activation="tanh")(x))  # (B, 28, 28, 1) in [-1, 1]
    else:
        x = layers.Dense(size)(x)  # (B, 2) ring points or (B, 1) line samples
    return keras.Model(z, x, name=f"{cfg.preset}_generator")


def build_discriminator(cfg: GANConfig) -> keras.Model:
    """Samples -> one logit; the last hidden layer is named ``features``."""
    inputs = keras.Input(cfg.data_shape, name="x")  # (B, *data_shape)
    x = layers.Flatten()(inputs) if len(cfg.data_shape) > 1 else inputs  # (B, prod(data_shape))
    x = layers.Activation("linear", name="features")(_hidden_stack(cfg, x, "d"))  # (B, hidden)
    if cfg.minibatch_kernels:
        x = nn.MinibatchDiscrimination(cfg.minibatch_kernels, cfg.minibatch_dim)(x)  # (B, hidden + kernels)
    return keras.Model(inputs, layers.Dense(1)(x), name=f"{cfg.preset}_discriminator")  # (B, 1) logits


class ToyGAN(GAN):
    """A fully connected GAN with the stabilisation switches of :class:`GANConfig`."""

    def __init__(self, cfg: GANConfig | str = "ring"):
        cfg = as_config(cfg, GANConfig, "ToyGAN")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         objective=cfg.objective, label_smoothing=cfg.label_smoothing, smoothing=cfg.smoothing,
                         seed=cfg.seed, name=f"gan_{cfg.preset}")
        self.cfg = cfg
        self.features = keras.Model(self.discriminator.inputs, self.discriminator.get_layer("features").output)
        self.history_averages = {}
        if cfg.historical_weight:
            self.history_averages = {
                "generator": nn.HistoricalAverage(self.generator.trainable_variables),
                "discriminator": nn.HistoricalAverage(self.discriminator.trainable_variables)}

    def extra_state(self) -> dict:
        """The historical averages' running means and counts (when historical averaging is on)."""
        return {f"historical_{network}": tf.train.Checkpoint(means=average.means, count=average.count)
                for network, average in self.history_averages.items()}

    def generator_objective(self, fakes, real=None):
        if self.cfg.feature_matching and real is not None:
            return losses.feature_matching_loss(self.features(real, training=True), self.features(fakes, training=True))
        if self.cfg.generator_loss == "minimax":
            return losses.minimax_generator_loss(self.discriminator(fakes, training=True))
        return super().generator_objective(fakes, real)

    def regularizer(self, network: str):
        if network in self.history_averages:
            return self.cfg.historical_weight * self.history_averages[network].penalty()
        return 0.0

    def after_update(self, network: str) -> None:
        if network in self.history_averages:
            self.history_averages[network].update()

    def reset(self, seed: int) -> None:
        """Start again from the state a fresh ``ToyGAN`` built with ``seed`` would have.

        New initial weights (drawn exactly as the constructor draws them),
        zeroed optimizer moments and step counters, the noise generator and the
        historical averages restarted. The traced training function is kept,
        so repeating a run over seeds does not pay for tracing again. Call it
        after :meth:`compile`.
        """
        if not self.optimizers:
            raise ValueError("compile the GAN before resetting it")
        set_seed(seed)
        self.generator.set_weights(build_generator(self.cfg).get_weights())
        self.discriminator.set_weights(build_discriminator(self.cfg).get_weights())
        self.build_optimizers()
        for opt in self.optimizers.values():
            for v in opt.variables:
                if v.name != "learning_rate":
                    v.assign(tf.zeros_like(v))
        self.seed_generator.state.assign(np.array([seed, 0], dtype=self.seed_generator.state.dtype))
        for average in self.history_averages.values():
            average.reset()

    def train_steps(self, batches) -> dict:
        """One training step per batch of ``batches`` (``(steps, batch, *data_shape)``)
        in a single compiled loop, without ``fit()``'s per-epoch machinery.

        For quick repeated experiments on toy data; returns the last step's
        metrics as floats. The loop is traced once per batch shape.
        """
        batches = tf.convert_to_tensor(np.asarray(batches, np.float32))
        if tuple(batches.shape[2:]) != self.cfg.data_shape:
            raise ValueError(f"batches must have shape (steps, batch, {', '.join(map(str, self.cfg.data_shape))}), "
                             f"got {tuple(batches.shape)}")
        if not self.optimizers:
            raise ValueError("compile the GAN before training it")
        if getattr(self, "_steps_loop", None) is None:
            @tf.function
            def loop(x):
                logs = {k: tf.constant(0.0) for k in self._trackers}
                for i in tf.range(tf.shape(x)[0]):
                    logs = self.train_step(x[i])
                return logs

            self._steps_loop = loop
        for tracker in self._trackers.values():
            tracker.reset_state()
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # one trace per model is by design; TF would warn about "retracing"
        try:
            return {k: float(v) for k, v in self._steps_loop(batches).items()}
        finally:
            logger.setLevel(level)


def dataset(cfg: GANConfig, seed: int | None = None):
    """The training ``tf.data.Dataset`` of a preset (repeated, ``steps_per_epoch`` batches per epoch)."""
    seed = cfg.seed if seed is None else seed
    if cfg.data == "ring":
        x = toy.ring(cfg.n_train, std=RING_STD, seed=seed)
    elif cfg.data == "line":
        x = toy.gaussian_mixture_1d(cfg.n_train, seed=seed)
    else:
        x, _ = data.arrays(cfg.data, "train", image_size=28, channels=1)
    return batches(cfg, x, seed)


MODEL = ToyGAN
CONFIG = GANConfig


def batches(cfg: GANConfig, samples, seed: int | None = None):
    """The training pipeline over ``samples`` (``(N, *data_shape)``): shuffled with ``seed`` (default
    ``cfg.seed``), repeated, ``steps_per_epoch`` batches per epoch."""
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(samples, np.float32))
    ds = ds.shuffle(len(samples), seed=cfg.seed if seed is None else seed).repeat()
    return ds.batch(cfg.batch_size, drop_remainder=True).take(cfg.steps_per_epoch).prefetch(tf.data.AUTOTUNE)


def training_data(cfg: GANConfig, data_dir=None):
    """The preset's training batches (:func:`dataset`) and no preview inputs (the model draws fixed noise).

    The toy problems are generated and ``digits`` ships with scikit-learn; ``mnist`` is
    downloaded by Keras, so ``data_dir`` is not used.
    """
    if data_dir is not None:
        raise ValueError(f"the {cfg.data!r} data of the gan model is generated or downloaded by Keras; "
                         "it reads no folder, so do not pass --data")
    return dataset(cfg), None
