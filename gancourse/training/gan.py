"""The noise-driven GAN: a generator from noise, a discriminator, a pluggable objective.

``train_step`` makes ``d_steps`` discriminator updates (fresh noise each, on
the same real batch) and then one generator update, each through
:meth:`~gancourse.training.base.AdversarialModel.update`. The objective
(``bce``, ``lsgan``, ``hinge``, ``wgan``, ``wgan-gp``) is a pair of pure
functions from :mod:`gancourse.losses`; label smoothing belongs to ``bce``.
Chapter models subclass :class:`GAN` and override the hooks
(:meth:`GAN.generator_objective`, :meth:`GAN.regularizer`,
:meth:`GAN.after_update`) or the two steps.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gancourse import losses
from gancourse.training import steps
from gancourse.training.base import AdversarialModel, check_option

LABEL_SMOOTHING = ("none", "one_sided", "two_sided", "noisy")
NOISE = ("normal", "uniform")


class GAN(AdversarialModel):
    """An unconditional GAN trained with ``fit()``.

    Args:
        generator: maps ``(batch, latent_dim)`` noise to images in ``[-1, 1]``.
        discriminator: maps images to real/fake scores (logits for ``bce``; any
            shape with a leading batch axis, e.g. ``(batch, 1)`` or a patch map).
        latent_dim: size of the noise vector.
        noise: ``"normal"`` (N(0, 1)) or ``"uniform"`` (U(-1, 1)) noise.
        objective: a name in :data:`gancourse.losses.OBJECTIVES`.
        label_smoothing: ``bce`` targets. ``"none"``: real 1, fake 0.
            ``"one_sided"``: real ``1 - smoothing``, fake 0 (Salimans et al.).
            ``"two_sided"``: real ``1 - smoothing``, fake ``smoothing``.
            ``"noisy"``: real ~ U(1 - 2 smoothing, 1), fake ~ U(0, 2 smoothing),
            drawn per sample (the source book's scheme).
        smoothing: the amount used by ``label_smoothing``.
        d_steps: discriminator updates per generator update (each with fresh
            noise, on the same real batch; WGAN's ``n_critic``).
        g_target: the ``bce`` label the generator asks D to give its fakes.
        seed: seed of the noise and label-noise generator.
        extra_networks: ``{name: network}`` beyond the two, for a subclass that declares them in
            ``NETWORKS`` and ``GROUPS`` (Age-cGAN's encoder).

    The metrics ``fit()`` reports: ``d_loss``, ``g_loss``, ``d_acc`` (fraction
    of real and fake samples D classifies correctly; not for a Wasserstein
    critic, whose scores have no threshold), ``d_real`` and ``d_fake`` (mean
    ``D(x)`` probability on real and on fake images for ``bce``; the mean raw
    score otherwise).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, latent_dim: int,
                 noise: str = "normal", objective: str = "bce", label_smoothing: str = "none",
                 smoothing: float = 0.1, d_steps: int = 1, g_target: float = 1.0, seed: int = 0,
                 extra_networks: dict | None = None, name: str = "gan"):
        chosen = losses.objective(objective)
        check_option("noise", noise, NOISE)
        check_option("label_smoothing", label_smoothing, LABEL_SMOOTHING)
        if label_smoothing != "none" and objective != "bce":
            raise ValueError(f"label_smoothing={label_smoothing!r} needs objective 'bce' (got {objective!r}); "
                             "set label_smoothing='none'")
        if not 0 <= smoothing < 0.5:
            raise ValueError(f"smoothing={smoothing!r} must be in [0, 0.5)")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps={d_steps!r} must be >= 1")
        names = ("d_loss", "g_loss") + (("d_acc",) if chosen.threshold is not None else ()) + ("d_real",
                                                                                                      "d_fake")
        super().__init__({"generator": generator, "discriminator": discriminator, **(extra_networks or {})},
                         seed=seed, metric_names=names, name=name)
        self.objective = chosen
        self.latent_dim = int(latent_dim)
        self.noise = noise
        self.label_smoothing = label_smoothing
        self.smoothing = float(smoothing)
        self.d_steps = int(d_steps)
        self.g_target = float(g_target)

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
        """``bce`` targets shaped like ``logits`` for real or fake samples."""
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
    def discriminator_loss(self, real, fakes, real_out, fake_out):
        """The objective's discriminator loss (with ``bce`` targets and, for WGAN-GP, the penalty)."""
        loss = self.objective.discriminator(real_out, fake_out, self.label_targets(real_out, True),
                                            self.label_targets(fake_out, False))
        if self.objective.penalty_weight:
            loss = loss + losses.gradient_penalty(self.discriminator, real, fakes, self.objective.penalty_weight,
                                                  seed=self.seed_generator)
        return loss

    def discriminator_step(self, real, fakes=None):
        """One D update on ``real`` and ``fakes`` (fresh fakes when ``None``).

        Returns:
            ``(loss, accuracy or None, mean D(real), mean D(fake))``.
        """
        if fakes is None:
            fakes = self.generator(self.sample_noise(tf.shape(real)[0]), training=True)
        fakes = tf.stop_gradient(fakes)

        def loss_fn():
            real_out = self.discriminator(real, training=True)
            fake_out = self.discriminator(fakes, training=True)
            loss = self.discriminator_loss(real, fakes, real_out, fake_out) + self.regularizer("discriminator")
            return loss, real_out, fake_out

        loss, real_out, fake_out = self.discriminator_update(loss_fn)
        self.after_update("discriminator")
        return (loss, self.accuracy(real_out, fake_out), self.mean_score(real_out), self.mean_score(fake_out))

    def discriminator_update(self, loss_fn):
        """The optimizer step of :meth:`discriminator_step` (``loss_fn`` returns ``(loss, D(real), D(fake))``);
        a model that updates D only sometimes overrides it (3D-GAN's accuracy rule)."""
        return self.update("discriminator", loss_fn)

    def accuracy(self, real_out, fake_out):
        """D's accuracy at the objective's threshold, or ``None`` for a critic without one."""
        if self.objective.threshold is None:
            return None
        return losses.discriminator_accuracy_at(real_out, fake_out, self.objective.threshold)

    def mean_score(self, outputs):
        """Mean D probability (``bce``) or mean raw score (other objectives)."""
        return steps.mean_score(outputs, self.objective)

    def generator_objective(self, fakes, real=None):
        """The generator's adversarial loss for ``fakes`` (``real`` is the current real batch)."""
        return self.objective.generator(self.discriminator(fakes, training=True), self.g_target)

    def regularizer(self, network: str):
        """An extra term added to ``network``'s loss (``"generator"`` or ``"discriminator"``); 0 here."""
        return 0.0

    def after_update(self, network: str) -> None:
        """Called after each optimizer step of ``network``; nothing here."""

    def generator_step(self, batch, real=None):
        """One G update. Returns ``(loss, fakes)``."""
        def loss_fn():
            fakes = self.generator(self.sample_noise(batch), training=True)
            return self.generator_objective(fakes, real) + self.regularizer("generator"), fakes

        loss, fakes = self.update("generator", loss_fn)
        self.after_update("generator")
        return loss, fakes

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        for _ in range(self.d_steps):
            d_out = self.discriminator_step(real)
        g_loss, _ = self.generator_step(tf.shape(real)[0], real)
        return self.record_step(d_out, g_loss)

    def record_step(self, d_out, g_loss) -> dict:
        """Record a discriminator step's outputs and the generator loss in the trackers."""
        d_loss, d_acc, d_real, d_fake = d_out
        values = dict(d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)
        if d_acc is not None:
            values["d_acc"] = d_acc
        return self.record(**values)

    # -- data checks and inference ---------------------------------------------
    def expected_image_shape(self) -> tuple:
        """The image shape (without batch) the discriminator takes."""
        return tuple(self.discriminator.inputs[0].shape[1:])

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has images of shape {got[0]} but the discriminator takes {want[0]}; "
                "set the config's image_size/channels to match the data, or resize the data")

    @property
    def sampling_generator(self) -> keras.Model:
        """The network :meth:`generate` draws with: the generator (a subclass may keep an average of it)."""
        return self.generator

    def generate(self, z, batch_size: int = 256) -> np.ndarray:
        """Images for the noise ``z`` (inference mode) from :attr:`sampling_generator`, float32 in ``[-1, 1]``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"noise must have shape (n, {self.latent_dim}), got {z.shape}")
        net = self.sampling_generator
        out = [net(z[i:i + batch_size], training=False) for i in range(0, len(z), batch_size)]
        return np.concatenate([np.asarray(o) for o in out]).astype(np.float32)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images from reproducible noise, float32 in ``[-1, 1]``, ``(n, H, W, C)``."""
        return self.generate(self.fixed_noise(n, seed))

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """``n`` samples from the fixed noise of ``seed`` (``inputs`` is not used)."""
        return self.sample(n, seed)

    def preview_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed noise (:meth:`fixed_noise`)."""
        return self.fixed_noise(n, seed)

    def preview(self, inputs) -> np.ndarray:
        """Images for fixed noise (:meth:`generate`)."""
        return self.generate(inputs)
