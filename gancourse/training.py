"""The adversarial base classes and the training callbacks.

:class:`AdversarialModel` holds what every model shares: a generator, a
discriminator, one optimizer each, metric trackers, a data check and the
preview protocol that :class:`SampleGrid` uses (fixed noise for a GAN, fixed
validation pairs for a translation model such as
:class:`gancourse.models.pix2pix.Pix2Pix`). Checkpoints and ``fit`` work on
any of them.

:class:`GAN` is the noise-driven subclass whose ``train_step`` trains the discriminator
and the generator with two ``tf.GradientTape`` s and two optimizers. Each update
is applied only to its own network's ``trainable_variables``; nothing toggles
``trainable`` (the Keras 2 idiom that silently stops the discriminator from
learning under Keras 3). Everything runs through ``fit()``, so progress bars,
``History``, TensorBoard and checkpoints come with it.

Noise-driven chapter models subclass :class:`GAN` and override only what differs.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gancourse import losses, metrics

LABEL_SMOOTHING = ("none", "one_sided", "two_sided", "noisy")
NOISE = ("normal", "uniform")
D_BATCH = ("separate", "mixed")
STEP_ORDER = ("d_first", "g_first")
GENERATOR_LOSSES = ("non_saturating", "minimax")


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


def _check_option(name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, options))}")


def make_optimizer(kind: str, learning_rate: float, *, beta_1: float = 0.9, beta_2: float = 0.999,
                   momentum: float = 0.0, nesterov: bool = False, decay: float = 0.0):
    """A new Adam or SGD optimizer.

    ``decay`` > 0 reproduces the Keras 2 ``decay=`` argument with an
    inverse-time schedule ``lr / (1 + decay * step)``.
    """
    _check_option("optimizer", kind, ("adam", "sgd"))
    if learning_rate <= 0:
        raise ValueError(f"learning_rate={learning_rate!r} must be > 0")
    lr = learning_rate
    if decay:
        lr = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    if kind == "sgd":
        return keras.optimizers.SGD(lr, momentum=momentum, nesterov=nesterov)
    return keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=beta_2)


class AdversarialModel(keras.Model):
    """What every adversarial model in the course shares, whatever it is conditioned on.

    A ``generator`` and a ``discriminator``, one optimizer each (attached by
    :meth:`compile`), ``keras.metrics.Mean`` trackers named in ``METRICS``, a
    seed generator for in-graph randomness and a data check run by
    :meth:`fit`. Checkpoints (:func:`checkpoint_state`) hold exactly this state.

    Subclasses set ``METRICS``, define ``train_step`` and, for
    :class:`SampleGrid`, the *preview protocol*: ``preview_inputs(n, seed)``
    (fixed inputs, drawn once: noise, or held-out examples) and
    ``preview(inputs)`` (images in ``[-1, 1]``: ``(n, H, W, C)``, or
    ``(rows, n, H, W, C)`` for a labelled layout such as input / output /
    target).
    """

    METRICS: tuple = ()

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, seed: int = 0, name: str = "gan"):
        super().__init__(name=name)
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_optimizer = None
        self.g_optimizer = None
        self._trackers = {k: keras.metrics.Mean(name=k) for k in self.METRICS}

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        """Attach one optimizer per network. ``kwargs`` go to ``keras.Model.compile``
        (``jit_compile``, ``steps_per_execution``, ``run_eagerly``)."""
        if d_optimizer is None or g_optimizer is None:
            raise ValueError(f"{type(self).__name__}.compile needs both d_optimizer and g_optimizer")
        if d_optimizer is g_optimizer:
            raise ValueError(
                "d_optimizer and g_optimizer are the same object; each network needs its own "
                "optimizer (its state belongs to one set of weights). Create two instances."
            )
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_optimizers(self) -> None:
        """Create the optimizers' state variables now (needed before restoring a checkpoint)."""
        if self.d_optimizer is None:
            raise ValueError("compile the model before building its optimizers")
        for opt, net in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if not opt.built:
                opt.build(net.trainable_variables)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def record(self, **values) -> dict:
        """Update the trackers with this step's values; returns the running means for ``fit()``."""
        for key, value in values.items():
            self._trackers[key].update_state(value)
        return {k: m.result() for k, m in self._trackers.items()}

    def call(self, x, training=False):
        return self.generator(x, training=training)

    # -- data checks ------------------------------------------------------------
    def expected_data_shapes(self) -> tuple:
        """Per-example shapes of the leading elements of a training batch: the discriminator's inputs
        (an image for a GAN; the input and the target image for a conditional discriminator)."""
        return tuple(tuple(t.shape[1:]) for t in self.discriminator.inputs)

    def check_data(self, data) -> None:
        """Raise ``ValueError`` when ``data`` (a dataset, an array or a tuple of arrays) does not fit the networks."""
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            shapes = [tuple(s.shape[1:]) for s in (spec if isinstance(spec, tuple) else (spec,))]
        elif isinstance(data, np.ndarray):
            shapes = [data.shape[1:]]
        elif isinstance(data, (tuple, list)) and all(isinstance(a, np.ndarray) for a in data):
            shapes = [a.shape[1:] for a in data]
        else:
            return
        want = self.expected_data_shapes()
        got = tuple(tuple(s) for s in shapes[:len(want)])
        if got != want:
            raise ValueError(self._shape_message(got, want))

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has examples of shapes {got} but {self.name} takes {want}; set the config's "
                "image_size/channels to match the data, or resize the data")

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit`` after checking that the data fits the networks."""
        if self.d_optimizer is None:
            raise ValueError("call compile() before fit(): the model has no optimizers yet")
        self.check_data(x)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
        return super().fit(x, *args, **kwargs)


class GAN(AdversarialModel):
    """An unconditional GAN trained with ``fit()``.

    Args:
        generator: maps ``(batch, latent_dim)`` noise to images in ``[-1, 1]``.
        discriminator: maps images to real/fake *logits* (any shape with a
            leading batch axis, e.g. ``(batch, 1)`` or a patch map).
        latent_dim: size of the noise vector.
        noise: ``"normal"`` (N(0, 1)) or ``"uniform"`` (U(-1, 1)) noise.
        label_smoothing: discriminator targets. ``"none"``: real 1, fake 0.
            ``"one_sided"``: real ``1 - smoothing``, fake 0 (Salimans et al.).
            ``"two_sided"``: real ``1 - smoothing``, fake ``smoothing``.
            ``"noisy"``: real ~ U(1 - 2 smoothing, 1), fake ~ U(0, 2 smoothing),
            drawn per sample (the source book's scheme).
        smoothing: the amount used by ``label_smoothing``.
        d_steps: discriminator updates per generator update (each with fresh
            noise, on the same real batch).
        d_batch: ``"separate"`` calls D on a real and a fake batch (so batch
            norm sees each on its own); ``"mixed"`` concatenates and shuffles them
            into one batch, as the PyImageSearch tutorial does.
        step_order: ``"d_first"`` (D then G, most sources) or ``"g_first"`` (G
            then D on the same fakes, as the Mastering PyTorch loop does).
        g_target: the label the generator asks D to give its fakes.
        generator_loss: ``"non_saturating"`` (``-log D(G(z))``, the default) or
            ``"minimax"`` (the saturating ``log(1 - D(G(z)))`` of the original game).
        seed: seed of the noise and label-noise generator.

    Subclasses change the objective through three hooks: :meth:`generator_objective`,
    :meth:`regularizer` (added to a network's loss) and :meth:`after_update`.

    The metrics ``fit()`` reports: ``d_loss``, ``g_loss``, ``d_acc`` (fraction
    of real and fake samples D classifies correctly), ``d_real`` and ``d_fake``
    (mean ``D(x)`` probability on real and on fake images).
    """

    METRICS = ("d_loss", "g_loss", "d_acc", "d_real", "d_fake")

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, latent_dim: int,
                 noise: str = "normal", label_smoothing: str = "none", smoothing: float = 0.1,
                 d_steps: int = 1, d_batch: str = "separate", step_order: str = "d_first",
                 g_target: float = 1.0, generator_loss: str = "non_saturating", seed: int = 0,
                 name: str = "gan"):
        super().__init__(generator, discriminator, seed=seed, name=name)
        _check_option("noise", noise, NOISE)
        _check_option("label_smoothing", label_smoothing, LABEL_SMOOTHING)
        _check_option("d_batch", d_batch, D_BATCH)
        _check_option("step_order", step_order, STEP_ORDER)
        _check_option("generator_loss", generator_loss, GENERATOR_LOSSES)
        if not 0 <= smoothing < 0.5:
            raise ValueError(f"smoothing={smoothing!r} must be in [0, 0.5)")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps={d_steps!r} must be >= 1")
        self.latent_dim = int(latent_dim)
        self.noise = noise
        self.label_smoothing = label_smoothing
        self.smoothing = float(smoothing)
        self.d_steps = int(d_steps)
        self.d_batch = d_batch
        self.step_order = step_order
        self.g_target = float(g_target)
        self.generator_loss = generator_loss

    # -- noise and labels ------------------------------------------------------
    def sample_noise(self, n):
        """``(n, latent_dim)`` noise from the model's seed generator (inside training)."""
        shape = (n, self.latent_dim)
        if self.noise == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)
        return keras.random.normal(shape, seed=self.seed_generator)

    def fixed_noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Reproducible ``(n, latent_dim)`` noise (NumPy) for sample grids and metrics."""
        rng = np.random.default_rng(seed)
        if self.noise == "uniform":
            return rng.uniform(-1.0, 1.0, (n, self.latent_dim)).astype(np.float32)
        return rng.standard_normal((n, self.latent_dim)).astype(np.float32)

    def label_targets(self, logits, real: bool):
        """Discriminator targets shaped like ``logits`` for real or fake samples."""
        s = self.smoothing
        if self.label_smoothing == "noisy":
            noise = keras.random.uniform(tf.shape(logits), 0.0, 2 * s, seed=self.seed_generator)
            return 1.0 - noise if real else noise
        if real:
            value = 1.0 if self.label_smoothing == "none" else 1.0 - s
        else:
            value = s if self.label_smoothing == "two_sided" else 0.0
        return tf.fill(tf.shape(logits), tf.constant(value, logits.dtype))

    # -- the two updates --------------------------------------------------------
    def discriminator_step(self, real, fakes=None):
        """One D update on ``real`` and ``fakes`` (fresh fakes when ``None``).

        Returns:
            ``(loss, accuracy, mean D(real), mean D(fake))``.
        """
        batch = tf.shape(real)[0]
        if fakes is None:
            fakes = self.generator(self.sample_noise(batch), training=True)
        fakes = tf.stop_gradient(fakes)
        with tf.GradientTape() as tape:
            if self.d_batch == "mixed":
                order = keras.random.shuffle(tf.range(2 * batch), seed=self.seed_generator)
                logits = self.discriminator(tf.gather(tf.concat([real, fakes], 0), order), training=True)
                is_real = tf.gather(tf.concat([tf.ones([batch]), tf.zeros([batch])], 0), order)
                is_real = tf.reshape(is_real, [-1] + [1] * (len(logits.shape) - 1)) * tf.ones_like(logits)
                targets = tf.where(is_real > 0.5, self.label_targets(logits, True), self.label_targets(logits, False))
                loss = losses.bce_with_logits(targets, logits)
                real_logits = tf.boolean_mask(logits, is_real > 0.5)
                fake_logits = tf.boolean_mask(logits, is_real < 0.5)
            else:
                real_logits = self.discriminator(real, training=True)
                fake_logits = self.discriminator(fakes, training=True)
                loss = losses.discriminator_loss(real_logits, fake_logits,
                                                 self.label_targets(real_logits, True),
                                                 self.label_targets(fake_logits, False))
            loss = loss + self.regularizer("discriminator")
        weights = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        self.after_update("discriminator")
        acc = losses.discriminator_accuracy(real_logits, fake_logits)
        return loss, acc, tf.reduce_mean(tf.sigmoid(real_logits)), tf.reduce_mean(tf.sigmoid(fake_logits))

    def generator_objective(self, fakes, real=None):
        """The generator's adversarial loss for ``fakes`` (``real`` is the current real batch)."""
        logits = self.discriminator(fakes, training=True)
        if self.generator_loss == "minimax":
            return losses.minimax_generator_loss(logits)
        return losses.generator_loss(logits, self.g_target)

    def regularizer(self, network: str):
        """An extra term added to ``network``'s loss (``"generator"`` or ``"discriminator"``); 0 here."""
        return 0.0

    def after_update(self, network: str) -> None:
        """Called after each optimizer step of ``network``; nothing here."""

    def generator_step(self, batch, real=None):
        """One G update. Returns ``(loss, fakes)``."""
        with tf.GradientTape() as tape:
            fakes = self.generator(self.sample_noise(batch), training=True)
            loss = self.generator_objective(fakes, real) + self.regularizer("generator")
        weights = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        self.after_update("generator")
        return loss, fakes

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(real)[0]
        if self.step_order == "g_first":
            g_loss, fakes = self.generator_step(batch, real)
            d_out = self.discriminator_step(real, fakes)
            for _ in range(self.d_steps - 1):
                d_out = self.discriminator_step(real)
        else:
            for _ in range(self.d_steps):
                d_out = self.discriminator_step(real)
            g_loss, _ = self.generator_step(batch, real)
        d_loss, d_acc, d_real, d_fake = d_out
        return self.record(d_loss=d_loss, g_loss=g_loss, d_acc=d_acc, d_real=d_real, d_fake=d_fake)

    # -- data checks and inference ---------------------------------------------
    def expected_image_shape(self) -> tuple:
        """The image shape (without batch) the discriminator takes."""
        return tuple(self.discriminator.inputs[0].shape[1:])

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has images of shape {got[0]} but the discriminator takes {want[0]}; "
                "set the config's image_size/channels to match the data, or resize the data")

    def generate(self, z, batch_size: int = 256) -> np.ndarray:
        """Images for the noise ``z`` (inference mode), float32 in ``[-1, 1]``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"noise must have shape (n, {self.latent_dim}), got {z.shape}")
        out = [self.generator(z[i:i + batch_size], training=False) for i in range(0, len(z), batch_size)]
        return np.concatenate([np.asarray(o) for o in out]).astype(np.float32)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images from reproducible noise, float32 in ``[-1, 1]``, ``(n, H, W, C)``."""
        return self.generate(self.fixed_noise(n, seed))

    def preview_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed noise (:meth:`fixed_noise`)."""
        return self.fixed_noise(n, seed)

    def preview(self, inputs) -> np.ndarray:
        """Images for fixed noise (:meth:`generate`)."""
        return self.generate(inputs)


# ---------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------
class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training with :class:`NonFiniteLossError` when a logged loss is NaN or inf.

    The message names the quantity, the epoch and the step, and what to try.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # Losses first: when a loss is NaN the other metrics usually are too.
        for key in sorted(logs, key=lambda k: ("loss" not in k, k)):
            value = float(logs[key])
            if not math.isfinite(value):
                self.model.stop_training = True
                raise NonFiniteLossError(
                    f"{key} became {value} at epoch {self._epoch + 1} (first seen after step {batch + 1}). "
                    "Training stopped; the last checkpoint holds the last good epoch. Try a lower "
                    "learning rate, check that the data is scaled to [-1, 1], or add label smoothing."
                )


class SampleGrid(keras.callbacks.Callback):
    """Keep the model's pictures of fixed inputs after every ``every`` epochs.

    The inputs come from the model's preview protocol
    (:meth:`GAN.preview_inputs`: fixed noise; :meth:`~gancourse.models.pix2pix.Pix2Pix.preview_inputs`: held-out
    input/target pairs for a translation model) and are drawn once when
    training begins, unless given as ``inputs``; so successive grids show the
    same latent points or the same validation examples. The pictures
    (``model.preview``) are kept in :attr:`images`
    (``{epoch: float array in [-1, 1]}``) and, when ``directory`` is given,
    written as ``epoch_0001.png``... With ``at_start=True`` the untrained
    model's output is kept as epoch 0. Works for any generator output
    (images, or points of a toy problem).
    """

    def __init__(self, n: int = 64, directory: str | Path | None = None, every: int = 1, seed: int = 0,
                 at_start: bool = False, inputs=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every={every!r} must be >= 1")
        self.n, self.seed, self.every, self.at_start = int(n), int(seed), int(every), bool(at_start)
        self.directory = Path(directory) if directory else None
        self.inputs = inputs
        self.images: dict[int, np.ndarray] = {}

    @property
    def noise(self):
        """The fixed inputs (the noise, for a GAN)."""
        return self.inputs

    def on_train_begin(self, logs=None):
        if not (hasattr(self.model, "preview_inputs") and hasattr(self.model, "preview")):
            raise TypeError(f"SampleGrid needs a model with preview_inputs(n, seed) and preview(inputs) "
                            f"(a gancourse GAN or Pix2Pix); {type(self.model).__name__} lacks them")
        if self.inputs is None:
            self.inputs = self.model.preview_inputs(self.n, self.seed)
        if self.at_start and not self.images:
            self.images[0] = self.model.preview(self.inputs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.model.preview(self.inputs)
        self.images[epoch + 1] = images
        if self.directory is not None:
            from gancourse import viz

            self.directory.mkdir(parents=True, exist_ok=True)
            viz.save_grid(images, self.directory / f"epoch_{epoch + 1:04d}.png")


class FIDMonitor(keras.callbacks.Callback):
    """Compute a Fréchet distance of generated samples to real features every epoch.

    Args:
        extractor: an object with ``features(images) -> (n, d) array`` (see
            :mod:`gancourse.metrics`).
        real_features: features of held-out real images.
        n: number of generated images per evaluation (fixed noise, seed 1).
        key: the name under which the value is added to the epoch logs (and so
            to ``History``).
    """

    def __init__(self, extractor, real_features: np.ndarray, n: int = 500, key: str = "fid"):
        super().__init__()
        self.extractor = extractor
        self.real_stats = metrics.feature_stats(real_features)
        self.n = int(n)
        self.key = key
        self.values: dict[int, float] = {}

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.model.fixed_noise(self.n, seed=1))
        value = metrics.frechet_distance(*metrics.feature_stats(self.extractor.features(images)), *self.real_stats)
        self.values[epoch + 1] = value
        if logs is not None:
            logs[self.key] = value


class Checkpoint(keras.callbacks.Callback):
    """Save weights, optimizer state, the noise generator and the epoch counter
    at the end of every epoch (``tf.train.CheckpointManager``, last ``keep``)."""

    def __init__(self, directory: str | Path, keep: int = 3):
        super().__init__()
        self.directory, self.keep = str(directory), int(keep)
        self.state = self.manager = None

    def on_train_begin(self, logs=None):
        if self.manager is None:
            self.state = checkpoint_state(self.model)
            self.manager = tf.train.CheckpointManager(self.state, self.directory, max_to_keep=self.keep)

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


def checkpoint_state(gan: AdversarialModel) -> tf.train.Checkpoint:
    """The ``tf.train.Checkpoint`` that holds everything needed to resume ``gan``."""
    gan.build_optimizers()
    return tf.train.Checkpoint(generator=gan.generator, discriminator=gan.discriminator,
                               g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer,
                               rng=gan.seed_generator.state, epoch=tf.Variable(0, dtype=tf.int64))


def restore(gan: AdversarialModel, directory: str | Path) -> int:
    """Restore the latest checkpoint in ``directory`` into ``gan``.

    Returns:
        The number of epochs the checkpoint had completed (0 when there is none).

    Raises:
        ValueError: the checkpoint does not match the model (another preset or size).
    """
    latest = tf.train.latest_checkpoint(str(directory))
    if latest is None:
        return 0
    state = checkpoint_state(gan)
    try:
        state.restore(latest).assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {latest} does not match this model ({exc}); it was written by another "
            "preset or size. Use a new output folder, or the config that wrote it."
        ) from exc
    return int(state.epoch.numpy())


def callbacks(cfg=None, out_dir: str | Path | None = None, *, n_samples: int = 64,
              tensorboard: bool = True, checkpoints: bool = True, preview_inputs=None) -> list:
    """The standard callbacks: NaN stop, sample grid of fixed inputs, checkpoints, TensorBoard.

    Args:
        cfg: the model config; its ``sample_every`` (default 1) sets how often
            the sample grid is drawn.
        out_dir: where samples (``samples/``), checkpoints (``checkpoints/``) and
            TensorBoard logs (``logs/``) go. With ``None`` only the NaN stop and an
            in-memory sample grid are made.
        preview_inputs: the sample grid's fixed inputs; by default the model's
            own (``model.preview_inputs``).
    """
    out = Path(out_dir) if out_dir else None
    every = int(getattr(cfg, "sample_every", 1))
    cbs = [StopOnNonFinite(), SampleGrid(n_samples, out / "samples" if out else None, every, inputs=preview_inputs)]
    if out is not None:
        if checkpoints:
            cbs.append(Checkpoint(out / "checkpoints"))
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs")))
    return cbs


def fit(gan: AdversarialModel, data, cfg, out_dir: str | Path | None = None, *, resume: bool = True,
        extra_callbacks: list | None = None, verbose="auto", **callback_options):
    """Train ``gan`` for ``cfg.epochs`` epochs with the standard callbacks.

    With ``out_dir`` and ``resume=True`` training continues from the last
    checkpoint there (same weights, optimizer state, noise state and epoch).

    Returns:
        ``(history, callbacks)``; ``history`` is ``None`` when the checkpoint
        had already reached ``cfg.epochs``.
    """
    start = restore(gan, Path(out_dir) / "checkpoints") if (out_dir and resume) else 0
    cbs = callbacks(cfg, out_dir, **callback_options) + list(extra_callbacks or [])
    if start >= cfg.epochs:
        print(f"the checkpoint in {out_dir} already completed {start} of {cfg.epochs} epochs; nothing to train")
        return None, cbs
    if start:
        print(f"resuming from the checkpoint of epoch {start}")
    history = gan.fit(data, epochs=cfg.epochs, initial_epoch=start, callbacks=cbs, verbose=verbose)
    return history, cbs
