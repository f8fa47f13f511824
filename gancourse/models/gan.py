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

from gancourse import data, losses, metrics, nn, set_seed
from gancourse.data import toy
from gancourse.config import Config, as_config, choice, non_negative, positive, unit_interval
from gancourse.training import GENERATOR_LOSSES, GAN, LABEL_SMOOTHING, make_optimizer

DATA = ("ring", "line", "digits", "mnist")


@dataclasses.dataclass(frozen=True)
class GANConfig(Config):
    """Configuration of a :class:`ToyGAN` (see the module docstring)."""

    data: str = choice("ring", DATA)
    latent_dim: int = positive(2)
    hidden: int = positive(128, "units of every hidden layer")
    depth: int = positive(2, "hidden layers per network")
    norm: str = choice("none", ("none", "batch", "layer"))
    generator_loss: str = choice("non_saturating", GENERATOR_LOSSES)
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

    @property
    def data_shape(self) -> tuple:
        """Shape of one sample."""
        return {"ring": (2,), "line": (1,), "digits": (28, 28, 1), "mnist": (28, 28, 1)}[self.data]

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            changes = {"epochs": min(self.epochs, 10)}
            if self.data == "ring":  # small nets and batches: the chapter repeats ring runs many times
                changes.update(epochs=min(self.epochs, 8), batch_size=min(self.batch_size, 64),
                               hidden=min(self.hidden, 64))
            if self.data == "mnist":
                changes.update(data="digits", steps_per_epoch=40)
            return changes
        return {}


_PRESETS = {
    "ring": dict(data="ring", epochs=30, batch_size=256),
    "line": dict(data="line", latent_dim=1, hidden=32, epochs=20, batch_size=256),
    "book": dict(data="mnist", latent_dim=100, hidden=500, learning_rate=2e-4, epochs=50, batch_size=128,
                 steps_per_epoch=468, n_train=60000),
}
PRESETS = tuple(_PRESETS)
RING_STD = 0.05


def config(name: str = "ring", **overrides) -> GANConfig:
    """The named preset as a validated :class:`GANConfig`."""
    if name not in _PRESETS:
        raise ValueError(f"unknown GAN preset {name!r}; choose one of {', '.join(PRESETS)}")
    return GANConfig(preset=name, **_PRESETS[name]).replace(**overrides)


def _hidden_stack(cfg: GANConfig, x, prefix: str):
    for i in range(cfg.depth):
        x = layers.Dense(cfg.hidden, name=f"{prefix}_dense{i}")(x)
        if cfg.norm != "none":
            x = nn.norm_layer(cfg.norm)(x)
        x = layers.LeakyReLU(0.2, name=f"{prefix}_act{i}")(x)
    return x


def build_generator(cfg: GANConfig) -> keras.Model:
    """Noise ``(batch, latent_dim)`` -> samples of shape ``cfg.data_shape``."""
    z = keras.Input((cfg.latent_dim,), name="z")
    x = _hidden_stack(cfg, z, "g")
    size = int(np.prod(cfg.data_shape))
    if len(cfg.data_shape) > 1:
        x = layers.Reshape(cfg.data_shape)(layers.Dense(size, activation="tanh")(x))
    else:
        x = layers.Dense(size)(x)
    return keras.Model(z, x, name=f"{cfg.preset}_generator")


def build_discriminator(cfg: GANConfig) -> keras.Model:
    """Samples -> one logit; the last hidden layer is named ``features``."""
    inputs = keras.Input(cfg.data_shape, name="x")
    x = layers.Flatten()(inputs) if len(cfg.data_shape) > 1 else inputs
    x = layers.Activation("linear", name="features")(_hidden_stack(cfg, x, "d"))
    if cfg.minibatch_kernels:
        x = nn.MinibatchDiscrimination(cfg.minibatch_kernels, cfg.minibatch_dim)(x)
    return keras.Model(inputs, layers.Dense(1)(x), name=f"{cfg.preset}_discriminator")


class ToyGAN(GAN):
    """A fully connected GAN with the stabilisation switches of :class:`GANConfig`."""

    def __init__(self, cfg: GANConfig | str = "ring"):
        cfg = as_config(cfg, GANConfig, config, "ToyGAN")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         label_smoothing=cfg.label_smoothing, smoothing=cfg.smoothing,
                         generator_loss=cfg.generator_loss, seed=cfg.seed, name=f"gan_{cfg.preset}")
        self.cfg = cfg
        self.features = keras.Model(self.discriminator.inputs, self.discriminator.get_layer("features").output)
        self.history_averages = {}
        if cfg.historical_weight:
            self.history_averages = {
                "generator": nn.HistoricalAverage(self.generator.trainable_variables),
                "discriminator": nn.HistoricalAverage(self.discriminator.trainable_variables)}

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        cfg = self.cfg
        kwargs.setdefault("steps_per_execution", cfg.steps_per_execution)
        super().compile(d_optimizer or make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1),
                        g_optimizer or make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1), **kwargs)

    def generator_objective(self, fakes, real=None):
        if self.cfg.feature_matching and real is not None:
            return losses.feature_matching_loss(self.features(real, training=True), self.features(fakes, training=True))
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
        if self.d_optimizer is None:
            raise ValueError("compile the GAN before resetting it")
        set_seed(seed)
        self.generator.set_weights(build_generator(self.cfg).get_weights())
        self.discriminator.set_weights(build_discriminator(self.cfg).get_weights())
        self.build_optimizers()
        for opt in (self.d_optimizer, self.g_optimizer):
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
        if self.d_optimizer is None:
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
    ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).repeat()
    return ds.batch(cfg.batch_size, drop_remainder=True).take(cfg.steps_per_epoch).prefetch(tf.data.AUTOTUNE)


def train(cfg: GANConfig, callbacks=None, verbose: int = 0):
    """Build, compile and train a :class:`ToyGAN`; returns ``(gan, history)``."""
    set_seed(cfg.seed)
    gan = ToyGAN(cfg)
    gan.compile()
    history = gan.fit(dataset(cfg), epochs=cfg.epochs, callbacks=callbacks or [], verbose=verbose)
    return gan, history


def ring_scores(gan: ToyGAN, n: int = 2000) -> dict:
    """Mode coverage of ``n`` samples of a ring-preset GAN (see :func:`gancourse.metrics.mode_coverage`)."""
    if gan.cfg.data != "ring":
        raise ValueError(f"ring_scores needs a GAN trained on the ring, this one has data={gan.cfg.data!r}")
    return metrics.mode_coverage(gan.sample(n, seed=1), toy.ring_centers(), std=RING_STD)


#: The stabilisation variants compared in the theory chapter: overrides of the ring preset.
STABILISERS = {
    "baseline (non-saturating)": {},
    "minimax G loss": dict(generator_loss="minimax"),
    "feature matching": dict(feature_matching=True),
    "minibatch discrimination": dict(minibatch_kernels=8, minibatch_dim=4),
    "historical averaging": dict(historical_weight=1e-3),
    "one-sided smoothing": dict(label_smoothing="one_sided"),
    "two-sided smoothing": dict(label_smoothing="two_sided"),
    "batch norm": dict(norm="batch"),
    "layer norm": dict(norm="layer"),
}

STUDY_COLUMNS = ("modes_covered", "high_quality", "kl_to_uniform")


def stabilisation_study(base: GANConfig | str = "ring", variants: dict | None = None, seeds=(0, 1, 2),
                        progress=None) -> list[dict]:
    """Train every variant on the ring with every seed and score mode coverage.

    Each variant is ``base`` with its overrides, trained for
    ``epochs * steps_per_epoch`` steps on fresh ring samples with
    :meth:`ToyGAN.train_steps`. It is built and traced once;
    :meth:`ToyGAN.reset` restarts it for each seed, and seed ``s`` fixes the
    initial weights, the data and the noise, so all variants see the same seeds.

    Args:
        base: the configuration every variant starts from (a ring config).
        variants: ``{name: overrides}``; :data:`STABILISERS` by default.
        seeds: the seeds of the repeated runs (two or more for a spread).
        progress: optional ``callable(name, seed, scores)`` called after each run.

    Returns:
        One row per variant: ``{"variant", "runs": [scores per seed], and for each
        of modes_covered, high_quality, kl_to_uniform its mean and sample
        standard deviation (``<key>_std``)}``.
    """
    base = as_config(base, GANConfig, config, "stabilisation_study")
    if base.data != "ring":
        raise ValueError(f"the stabilisation study scores mode coverage on the ring; got data={base.data!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    rows = []
    for name, overrides in (STABILISERS if variants is None else variants).items():
        cfg = base.replace(**overrides)
        gan, runs = ToyGAN(cfg), []
        gan.compile()
        steps = cfg.epochs * cfg.steps_per_epoch
        for seed in seeds:
            gan.reset(seed)
            batches = toy.ring(steps * cfg.batch_size, std=RING_STD, seed=seed)
            gan.train_steps(batches.reshape(steps, cfg.batch_size, 2))
            runs.append(ring_scores(gan))
            if progress is not None:
                progress(name, seed, runs[-1])
        row = {"variant": name, "runs": runs}
        for key in STUDY_COLUMNS:
            values = np.array([r[key] for r in runs], np.float64)
            row[key] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def study_findings(rows: list[dict], key: str = "modes_covered", baseline: str | None = None) -> list[dict]:
    """Compare each variant of a study with the baseline row on ``key``.

    The difference of the means is called a help or a hurt only when it
    exceeds twice its standard error (``sqrt(s1^2/n1 + s2^2/n2)`` from the
    per-seed values); otherwise the runs cannot tell the two apart.

    Returns:
        ``[{"variant", "difference", "stderr", "verdict"}]`` for every row but
        the baseline (the first row unless ``baseline`` names one); ``verdict``
        is ``"helped"``, ``"hurt"`` or ``"no clear difference"``.
    """
    if key not in STUDY_COLUMNS:
        raise ValueError(f"unknown key {key!r}; choose one of {', '.join(STUDY_COLUMNS)}")
    by_name = {r["variant"]: r for r in rows}
    base_name = rows[0]["variant"] if baseline is None else baseline
    if base_name not in by_name:
        raise ValueError(f"no row named {base_name!r}; rows: {', '.join(by_name)}")
    better_high = key != "kl_to_uniform"
    ref = np.array([r[key] for r in by_name[base_name]["runs"]], np.float64)
    out = []
    for row in rows:
        if row["variant"] == base_name:
            continue
        vals = np.array([r[key] for r in row["runs"]], np.float64)
        diff = float(vals.mean() - ref.mean())
        var = lambda v: v.var(ddof=1) / len(v) if len(v) > 1 else 0.0  # noqa: E731
        stderr = float(np.sqrt(var(vals) + var(ref)))
        if abs(diff) <= 2 * stderr or diff == 0:
            verdict = "no clear difference"
        else:
            verdict = "helped" if (diff > 0) == better_high else "hurt"
        out.append({"variant": row["variant"], "difference": diff, "stderr": stderr, "verdict": verdict})
    return out


def study_table(rows: list[dict]) -> str:
    """The rows of :func:`stabilisation_study` as a Markdown table (mean ± std over seeds)."""
    lines = ["| variant | modes covered (of 8) | high-quality fraction | KL to uniform |", "|---|---|---|---|"]
    for row in rows:
        cells = [f"{row[k]:.2f} ± {row[k + '_std']:.2f}" for k in STUDY_COLUMNS]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
