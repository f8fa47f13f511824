"""StackGAN: text to image in two stages (Zhang et al., 2017), with the source book's version of it.

Four networks (:mod:`gancourse.nn.stackgan`): the Stage-I generator G1
``(embedding, z) -> s x s`` image and discriminator D1, the Stage-II generator
G2 ``(embedding, Stage-I image) -> 4s x 4s`` image and discriminator D2. Each
generator has its own conditioning augmentation (CA): the caption embedding
gives ``mu`` and ``logvar`` and the condition is a sample
``c ~ N(mu, exp(logvar))``; the generator's loss adds ``kl_weight`` times the
KL divergence of that Gaussian from ``N(0, I)``
(:func:`gancourse.nn.conditioning.kl_to_standard_normal`). Each
discriminator compresses the embedding itself (a trained ``Dense(128)``) and
is *matching-aware* (Reed et al., 2016): in one update it learns

* a real image with its own caption: real (target 1, or 0.9 with one-sided
  smoothing);
* a real image of *another class* with that caption: fake (target 0);
* a generated image with the caption it was made from: fake (target 0);

with the loss ``real + (wrong + fake) / 2`` of StackGAN's code.

Training (``fit``): Stage-I for ``epochs`` epochs, then Stage-II up to
``cfg.total_epochs`` with Stage-I frozen (its images, drawn in inference mode,
are G2's input). ``fit(data, epochs=cfg.total_epochs)`` runs both; a
checkpointed ``stage1_epochs`` counter makes a resume land in the right stage.
The batches are the ``captions`` kind of :mod:`gancourse.data.captioned`:
``(lr, hr, embedding, class_id)``.

Presets (``config(name)``):

``book`` (default)
    CUB-200-2011 with the StackGAN release's embeddings, Stage-I 64 px and
    Stage-II 256 px; the source book's networks (Stage-I G 10,270,400, D
    3,097,601; Stage-II G 28,649,536, D 48,486,401 parameters, each D without
    its text compressor), Adam(2e-4, beta_1 0.5), batch 64, 1,000 + 1,000
    epochs (its repository's; its text says 10 epochs at batch 8 for Stage-II),
    one-sided label smoothing (real 0.9), KL weight 2, no batch norm after G1's
    first dense layer, a ReLU text compressor, no learning-rate decay (the book
    declares one and never applies it). Its bugs are fixed: the KL term reads
    ``logvar`` from the second half of CA's output (the book reads ``mu``
    twice); ``eps`` is drawn per sample (the book shares one vector across the
    batch); the text compressor is part of D and trained (the book's is a
    separate, untrained, re-randomised model); "wrong" pairs come from a
    different class (the book shifts its class-ordered batch by one); G asks
    for target 1 (the book 0.9); one caption is drawn at random per image
    every step (the book picks one per image once).
``paper``
    StackGAN's code and paper: batch norm after G1's first dense layer, a
    LeakyReLU text compressor, no label smoothing, the mean of 4 random caption
    embeddings per image resampled every step, random crops and horizontal
    flips, 600 + 600 epochs, the learning rate halved every 100 epochs (the
    paper; the official Stage-I birds configuration halves it every 50). KL weight 2.0
    as in the official configuration files; the paper's text writes the
    regulariser with lambda = 1.

On the ``smoke`` profile every preset trains on the package's rendered birds
(:mod:`gancourse.data.rendered_birds`, whose captions are generated from known
attributes) at Stage-I 16 px and Stage-II 64 px, with narrowed layers.
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse import losses
from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive
from gancourse.data.captioned import CAPTIONS_PER_IMAGE, EMBEDDING_DIM, STAGE2_SCALE
from gancourse.nn.conditioning import ConditioningAugmentation, kl_to_standard_normal
from gancourse.nn.stackgan import (STAGE1_SIZES, stage1_discriminator, stage1_generator, stage2_discriminator,
                                   stage2_generator)
from gancourse.training import GAN
from gancourse.training.optim import StepDecay, epoch_length
from gancourse.training.phases import fit_in_phases

#: The datasets of kind ``captions``.
DATASETS = ("cub", "offline_birds")
STAGES = (1, 2)
CONDITIONING = ("augmented", "fixed")
#: Sample-grid size: captions (rows) and noise draws per caption.
PREVIEW_CAPTIONS, PREVIEW_NOISE = 8, 4


@dataclasses.dataclass(frozen=True)
class StackGANConfig(TrainingConfig):
    """Configuration of a :class:`StackGAN` (see the module docstring for presets)."""

    dataset: str = choice("cub", DATASETS, "cub: CUB-200-2011 + the StackGAN embeddings (--data); offline_birds: "
                          "the package's rendered birds with generated captions")
    image_size: int = choice(64, STAGE1_SIZES, "the Stage-I side; Stage-II is 4x")
    latent_dim: int = positive(100)
    c_dim: int = positive(128, "size of the conditioning-augmentation sample c (N_g)")
    text_units: int = positive(128, "size of each discriminator's compressed text (N_d)")
    g1_filters: int = positive(1024, "channels of Stage-I G's 4x4 map (halved by each up-sampling)")
    d1_filters: int = positive(64, "channels of Stage-I D's first convolution (doubled by each next one)")
    g2_filters: int = positive(128, "channels of Stage-II G's first convolution (joint map: 4x)")
    d2_filters: int = positive(64, "channels of Stage-II D's first convolution (doubled by each next one)")
    residual_blocks: int = positive(4, "Stage-II G's residual blocks (StackGAN: 4 at 256 px, 2 at 128 px)")
    g_bn_momentum: float = dataclasses.field(default=0.99, metadata={
        "min": 0, "max": 0.999, "doc": "momentum of the generators' batch-norm moving averages (Keras' default, "
        "the book's)"})
    dense_norm: str = choice("none", ("none", "batch"), "after Stage-I G's first dense layer: none (the book), "
                             "batch (StackGAN's code)")
    text_activation: str = choice("relu", ("relu", "lrelu"), "the text compressor's: relu (the book), lrelu "
                                  "(StackGAN's code)")
    conditioning: str = choice("augmented", CONDITIONING, "augmented: c ~ N(mu, sigma) with the KL term; fixed: "
                               "c = mu and no KL (the paper's ablation without CA)")
    kl_weight: float = non_negative(2.0, "weight of the KL term in each generator's loss")
    captions_per_step: int = dataclasses.field(default=1, metadata={
        "min": 1, "max": CAPTIONS_PER_IMAGE, "doc": "caption embeddings averaged per image, drawn every step"})
    flip: bool = False
    jitter: bool = dataclasses.field(default=False, metadata={
        "doc": "cub train split: resize to 76/64 of the side and crop at random, as StackGAN's code"})
    label_smoothing: str = choice("one_sided", ("none", "one_sided"), "one_sided: real target 1 - smoothing")
    smoothing: float = dataclasses.field(default=0.1, metadata={"min": 0, "max": 0.49})
    lr_decay_epochs: int = non_negative(0, "halve the learning rate every n epochs of a stage (0: never)")
    steps_per_epoch: int = non_negative(0, "optimizer steps per epoch for the decay; 0: from the data")
    stage2_epochs: int = non_negative(1000, "epochs of Stage-II after Stage-I's `epochs`")

    KIND = "stackgan"
    PRESETS = {
        "book": dict(learning_rate=2e-4, beta_1=0.5, batch_size=64, epochs=1000, stage2_epochs=1000),
        "paper": dict(learning_rate=2e-4, beta_1=0.5, batch_size=64, epochs=600, stage2_epochs=600,
                      dense_norm="batch", text_activation="lrelu", label_smoothing="none", captions_per_step=4,
                      flip=True, jitter=True, lr_decay_epochs=100),
    }
    PROFILE_OVERRIDES = {"book": {"standard": {"epochs": 60, "stage2_epochs": 30}},
                         "paper": {"standard": {"epochs": 60, "stage2_epochs": 30, "lr_decay_epochs": 10}}}
    BCE_ONLY = {"label_smoothing": "none"}

    def check(self) -> None:
        if self.objective != "bce":
            raise ValueError(f"StackGANConfig.objective={self.objective!r} is not supported: the matching-aware "
                             "discriminator is trained with binary cross-entropy; use objective='bce'")

    @property
    def total_epochs(self) -> int:
        """Epochs of both stages: Stage-I's ``epochs`` then ``stage2_epochs``."""
        return self.epochs + self.stage2_epochs

    @property
    def stage2_size(self) -> int:
        """The Stage-II image side (4x ``image_size``)."""
        return STAGE2_SCALE * self.image_size

    def decay_schedule(self, group: str, steps_per_epoch: int | None = None) -> StepDecay | None:
        """The rate halved every ``lr_decay_epochs`` epochs of ``steps_per_epoch`` steps (default: the config's,
        or 1 until :meth:`StackGAN.set_steps_per_epoch` sets it); ``None`` without decay."""
        if not self.lr_decay_epochs:
            return None
        steps = steps_per_epoch or self.steps_per_epoch or 1
        return StepDecay(self.learning_rate_for(group), self.lr_decay_epochs * steps, 0.5)

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            return dict(SMOKE, lr_decay_epochs=min(self.lr_decay_epochs, SMOKE["epochs"] // 2))
        return {}


# The smoke profile: the rendered birds at Stage-I 16 px and Stage-II 64 px, every layer kept, the widths narrowed.
# Measured on 2 CPU cores (20 + 10 epochs of 45 steps): with Adam at 2e-4, Stage-I's samples had not begun to follow
# the colours of their captions; at 1e-3 the attribute classifier read the body colour of 94% of the samples for
# training captions. With the moving averages of Keras' default 0.99, Stage-II's samples in inference mode were one
# picture for every caption while its training-mode samples differed (the averages lag the fast-moving weights);
# 0.9 lets them catch up within the short run.
SMOKE = dict(dataset="offline_birds", image_size=16, g1_filters=128, d1_filters=16, g2_filters=32, d2_filters=8,
             text_units=32, batch_size=32, learning_rate=1e-3, g_bn_momentum=0.9, epochs=20, stage2_epochs=8)
PRESETS = StackGANConfig.preset_names()
config = StackGANConfig.preset

_STAGE1_METRICS = ("d_loss", "g_loss", "kl", "d_real", "d_wrong", "d_fake")
_STAGE2_METRICS = tuple(k.replace("d_", "d2_").replace("g_", "g2_").replace("kl", "kl2") for k in _STAGE1_METRICS)


def build_networks(cfg: StackGANConfig) -> dict:
    """``{generator, discriminator, stage2_generator, stage2_discriminator}`` for ``cfg``."""
    augment = cfg.conditioning == "augmented"
    return {
        "generator": stage1_generator(cfg.image_size, cfg.latent_dim, cfg.c_dim, cfg.g1_filters, cfg.dense_norm,
                                      augment, cfg.g_bn_momentum, name=f"{cfg.preset}_stage1_generator"),
        "discriminator": stage1_discriminator(cfg.image_size, cfg.d1_filters, cfg.text_units, cfg.text_activation,
                                              name=f"{cfg.preset}_stage1_discriminator"),
        "stage2_generator": stage2_generator(cfg.image_size, cfg.c_dim, cfg.g2_filters, cfg.residual_blocks,
                                             augment, cfg.g_bn_momentum, name=f"{cfg.preset}_stage2_generator"),
        "stage2_discriminator": stage2_discriminator(cfg.stage2_size, cfg.d2_filters, cfg.text_units,
                                                     cfg.text_activation, name=f"{cfg.preset}_stage2_discriminator"),
    }


def wrong_indices(class_ids, seed=None):
    """For each row ``i``, a row ``j`` of another class, uniformly among them: ``(indices, has_other)``.

    ``has_other[i]`` is false when every row of the batch has ``i``'s class (``indices[i]`` is then
    meaningless and the matching-aware loss leaves the row out of its "wrong" term). ``seed``: a
    ``keras.random.SeedGenerator`` or an int.
    """
    c = tf.convert_to_tensor(class_ids)
    if c.shape.rank != 1:
        raise ValueError(f"class_ids must be a vector (batch,), got shape {c.shape}")
    other = tf.not_equal(c[:, None], c[None, :])
    scores = keras.random.uniform(tf.shape(other), seed=seed) + tf.cast(other, tf.float32)
    return tf.cast(tf.argmax(scores, axis=1), tf.int32), tf.reduce_any(other, axis=1)


def matching_aware_loss(real_logits, wrong_logits, fake_logits, real_target=1.0, has_wrong=None):
    """StackGAN's discriminator loss ``BCE(real, target) + (BCE(wrong, 0) + BCE(fake, 0)) / 2``.

    ``has_wrong`` ``(B,)`` masks the rows that have no mismatched pair (see :func:`wrong_indices`); the wrong
    term averages over the others (0 when there are none).
    """
    real = losses.bce_with_logits(real_target, real_logits)
    fake = losses.bce_with_logits(0.0, fake_logits)
    per_row = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.zeros_like(wrong_logits), logits=wrong_logits), axis=list(range(1, len(wrong_logits.shape))))
    weights = tf.ones_like(per_row) if has_wrong is None else tf.cast(has_wrong, per_row.dtype)
    wrong = tf.math.divide_no_nan(tf.reduce_sum(per_row * weights), tf.reduce_sum(weights))
    return real + 0.5 * (wrong + fake)


def book_kl_loss(mean_logsigma):
    """The source book's KL loss, bug included: it slices ``log sigma`` from the *first* half of CA's output,
    so it reads ``mu`` twice: ``mean(-mu + 0.5 * (exp(2 mu) + mu^2 - 1))``. For the chapter's comparison with
    :func:`correct_kl_loss`; never used in training."""
    x = tf.convert_to_tensor(mean_logsigma)
    half = x.shape[-1] // 2
    mu, logsigma = x[:, :half], x[:, :half]
    return tf.reduce_mean(-logsigma + 0.5 * (tf.exp(2.0 * logsigma) + tf.square(mu) - 1.0))


def correct_kl_loss(mean_logsigma):
    """The same loss with ``log sigma`` from the second half: ``KL(N(mu, sigma^2) || N(0, 1))`` averaged over
    batch and dimensions (equal to :func:`~gancourse.nn.conditioning.kl_to_standard_normal` with
    ``logvar = 2 log sigma``)."""
    x = tf.convert_to_tensor(mean_logsigma)
    half = x.shape[-1] // 2
    mu, logsigma = x[:, :half], x[:, half:]
    return tf.reduce_mean(-logsigma + 0.5 * (tf.exp(2.0 * logsigma) + tf.square(mu) - 1.0))


class StackGAN(GAN):
    """A StackGAN built from a :class:`StackGANConfig` (or a preset name).

    ``fit(data, epochs=cfg.total_epochs)`` trains Stage-I for ``cfg.epochs``
    epochs, then Stage-II. Stage-I reports ``d_loss``, ``g_loss`` (adversarial
    + weighted KL), ``kl``, ``d_real``, ``d_wrong`` and ``d_fake`` (mean D
    probabilities of real/matching, real/mismatching and fake/matching pairs);
    Stage-II the same with ``d2_``, ``g2_``, ``kl2``.
    """

    NETWORKS = ("generator", "discriminator", "stage2_generator", "stage2_discriminator")
    GROUPS = {name: (name,) for name in NETWORKS}

    def __init__(self, cfg: StackGANConfig | str = "book"):
        cfg = as_config(cfg, StackGANConfig, "StackGAN")
        nets = build_networks(cfg)
        super().__init__(nets.pop("generator"), nets.pop("discriminator"), latent_dim=cfg.latent_dim,
                         noise="normal", objective="bce", label_smoothing=cfg.label_smoothing,
                         smoothing=cfg.smoothing, seed=cfg.seed, extra_networks=nets, name=f"stackgan_{cfg.preset}")
        self.cfg = cfg
        self._trackers = {k: keras.metrics.Mean(name=k) for k in _STAGE1_METRICS + _STAGE2_METRICS}
        self.stage = 1
        self._network_calls: dict = {}
        #: Call the networks through kept ``tf.function`` s (:meth:`call_network`); ``False``: call them inline
        #: (the same arithmetic; the bench counts FLOPs that way, since a nested function's gradient is traced
        #: without static shapes).
        self.nested_calls = True
        #: Stage-I epochs trained so far (checkpointed): a resume can tell the two stages apart.
        self.stage1_epochs = tf.Variable(0, dtype=tf.int64, trainable=False, name="stage1_epochs")

    def extra_state(self) -> dict:
        return {"stage1_epochs": self.stage1_epochs}

    # -- optimizers and the decay ---------------------------------------------------------
    def set_steps_per_epoch(self, steps: int) -> None:
        """Measure the decay in epochs of ``steps`` optimizer steps (``fit`` calls it with the data's length).

        Each stage's optimizers count their own steps, so Stage-II's rate starts at the full value."""
        if int(steps) < 1:
            raise ValueError(f"steps per epoch must be >= 1, got {steps}")
        length = self.cfg.lr_decay_epochs * int(steps)
        if any(s.steps != length for s in self.schedules.values()):
            for schedule in self.schedules.values():
                schedule.steps = length
            self.train_function = None  # retrace with the new constant

    # -- stages -----------------------------------------------------------------------------
    @property
    def metrics(self):
        names = _STAGE1_METRICS if self.stage == 1 else _STAGE2_METRICS
        return [self._trackers[k] for k in names]

    def set_stage(self, stage: int) -> None:
        """Switch ``train_step`` between Stage-I (1) and Stage-II (2)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose 1 or 2")
        if stage != self.stage:
            self.stage = stage
            self.train_function = None  # rebuilt for the new step by the next fit()

    def fit(self, x=None, epochs: int = 1, initial_epoch: int = 0, **kwargs):
        """Stage-I up to epoch ``cfg.epochs``, then Stage-II (Stage-I frozen) up to ``epochs``.

        ``x`` holds ``(lr, hr, embedding, class_id)`` batches. Returns one ``History`` over all epochs trained
        (NaN where a stage does not log a key).
        """
        if self.schedules and not self.cfg.steps_per_epoch:
            self.set_steps_per_epoch(epoch_length(x, kwargs.get("steps_per_epoch")))

        def stage(number):
            def run(end, start, kw):
                self.set_stage(number)
                return super(StackGAN, self).fit(x, epochs=end, initial_epoch=start, **kw)
            return run

        return fit_in_phases(self, self.stage1_epochs, self.cfg.epochs, epochs, initial_epoch, stage(1), stage(2),
                             kwargs, names=("Stage-I", "Stage-II", "generator"))

    def stage_networks(self, stage: int) -> tuple[keras.Model, keras.Model]:
        """``(generator, discriminator)`` of ``stage``."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose 1 or 2")
        if stage == 1:
            return self.generator, self.discriminator
        return self.stage2_generator, self.stage2_discriminator

    def call_network(self, name: str, inputs, training: bool):
        """``network(inputs, training=training)`` through a ``tf.function`` kept per network and mode.

        Inside a training step each network is called several times (Stage-II's D three times in D's update
        and once in G's); Keras traces every call of a functional model layer by layer, while a ``tf.function``
        is traced once per input signature and then reused. Measured on Stage-II's smoke step (2 CPU cores):
        building the training function took 22.7 s with direct calls and 12.7 s with these, the step itself
        the same (0.22 s)."""
        if not self.nested_calls:
            return getattr(self, name)(inputs, training=training)
        key = (name, bool(training))
        if key not in self._network_calls:
            net = getattr(self, name)
            self._network_calls[key] = tf.function(lambda x, net=net, t=bool(training): net(x, training=t))
        return self._network_calls[key](inputs)

    def fake_images(self, stage: int, embeddings, z, training: bool = True):
        """``(images, mu, logvar)`` of ``stage``'s generator. Stage-II's input is Stage-I's image, made in
        inference mode and cut from the gradient: Stage-I stays as it is while Stage-II trains."""
        low, mu, logvar = self.call_network("generator", [embeddings, z], training if stage == 1 else False)
        if stage == 1:
            return low, mu, logvar
        return self.call_network("stage2_generator", [embeddings, tf.stop_gradient(low)], training)

    def train_step(self, data):
        low, high, embeddings, class_ids = data[0], data[1], data[2], data[3]
        stage = self.stage
        images = low if stage == 1 else high
        d_out = self.stage_discriminator_step(stage, images, embeddings, class_ids)
        g_loss, kl = self.stage_generator_step(stage, embeddings)
        names = _STAGE1_METRICS if stage == 1 else _STAGE2_METRICS
        values = dict(zip(names, (d_out[0], g_loss, kl) + tuple(d_out[1:])))
        self.record(**values)
        return {k: self._trackers[k].result() for k in names}

    def stage_discriminator_step(self, stage: int, images, embeddings, class_ids):
        """One matching-aware D update of ``stage``: real/matching vs real-of-another-class/matching and
        fake/matching. Returns ``(loss, mean D(real), mean D(wrong), mean D(fake))``; only that D changes."""
        d = "discriminator" if stage == 1 else "stage2_discriminator"
        fakes = tf.stop_gradient(self.fake_images(stage, embeddings, self.sample_noise(tf.shape(images)[0]))[0])
        idx, has_wrong = wrong_indices(class_ids, self.seed_generator)
        wrong = tf.gather(images, idx)

        def loss_fn():
            real_out = self.call_network(d, [images, embeddings], True)
            wrong_out = self.call_network(d, [wrong, embeddings], True)
            fake_out = self.call_network(d, [fakes, embeddings], True)
            loss = matching_aware_loss(real_out, wrong_out, fake_out, self.label_targets(real_out, True), has_wrong)
            return loss, real_out, wrong_out, fake_out

        loss, real_out, wrong_out, fake_out = self.update(d, loss_fn)
        return loss, self.mean_score(real_out), self.mean_score(wrong_out), self.mean_score(fake_out)

    def stage_generator_step(self, stage: int, embeddings):
        """One G update of ``stage`` on fresh noise: ``BCE(D(G(e, z), e), 1) + kl_weight * KL``. Returns
        ``(loss, KL)``; only that G changes."""
        d = "discriminator" if stage == 1 else "stage2_discriminator"
        batch = tf.shape(embeddings)[0]
        augmented = self.cfg.conditioning == "augmented"

        def loss_fn():
            fakes, mu, logvar = self.fake_images(stage, embeddings, self.sample_noise(batch))
            kl = kl_to_standard_normal(mu, logvar) if augmented else tf.constant(0.0)
            adversarial = losses.generator_loss(self.call_network(d, [fakes, embeddings], True), self.g_target)
            return adversarial + self.cfg.kl_weight * kl, kl

        group = "generator" if stage == 1 else "stage2_generator"
        return self.update(group, loss_fn)

    # -- generation ---------------------------------------------------------------------------
    def _check_embeddings(self, embeddings) -> np.ndarray:
        e = np.asarray(embeddings, np.float32)
        if e.ndim == 1:
            e = e[None]
        if e.ndim != 2 or e.shape[1] != EMBEDDING_DIM:
            raise ValueError(f"caption embeddings must be (n, {EMBEDDING_DIM}), got shape {e.shape}")
        if not np.all(np.isfinite(e)):
            raise ValueError("caption embeddings hold NaN or inf values")
        return e

    @contextlib.contextmanager
    def conditioning_noise(self, seed: int | None = 0, mean: bool = False):
        """Within the block, the generators' CA draws its noise from ``seed`` (reproducible samples), or gives
        ``c = mu`` with ``mean=True``; the layers' own random state and setting are restored afterwards."""
        layers_ = [layer for net in (self.generator, self.stage2_generator) for layer in net.layers
                   if isinstance(layer, ConditioningAugmentation)]
        saved = [(layer.sample, layer.seed_generator.state.numpy().copy()) for layer in layers_]
        try:
            for i, layer in enumerate(layers_):
                layer.sample = layer.sample and not mean
                if seed is not None:
                    layer.seed_generator.state.assign(
                        tf.constant([int(seed), 7919 * (i + 1)], dtype=layer.seed_generator.state.dtype))
            yield
        finally:
            for layer, (sample, state) in zip(layers_, saved):
                layer.sample = sample
                layer.seed_generator.state.assign(state)

    def generate(self, embeddings, z=None, *, seed: int = 0, mean: bool = False,
                 batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """``(stage1, stage2)`` images for caption ``embeddings`` ``(n, 1024)`` (inference mode), float32 in
        [-1, 1]: ``(n, s, s, 3)`` and ``(n, 4s, 4s, 3)``.

        ``z``: ``(n, latent_dim)`` noise (default: reproducible from ``seed``); the conditioning noise comes
        from ``seed`` too, or ``mean=True`` uses ``c = mu``.
        """
        e = self._check_embeddings(embeddings)
        z = self.fixed_noise(len(e), seed) if z is None else np.asarray(z, np.float32)
        if z.shape != (len(e), self.latent_dim):
            raise ValueError(f"z must have shape ({len(e)}, {self.latent_dim}), got {z.shape}")
        lows, highs = [], []
        with self.conditioning_noise(seed, mean):
            for i in range(0, len(e), batch_size):
                chunk = tf.constant(e[i:i + batch_size])
                low, _, _ = self.generator([chunk, tf.constant(z[i:i + batch_size])], training=False)
                high, _, _ = self.stage2_generator([chunk, low], training=False)
                lows.append(np.asarray(low))
                highs.append(np.asarray(high))
        return np.concatenate(lows).astype(np.float32), np.concatenate(highs).astype(np.float32)

    def condition(self, embeddings, n: int = 1, stage: int = 1, seed: int = 0) -> np.ndarray:
        """``(len(embeddings), n, c_dim)``: ``n`` conditioning-augmentation samples ``c`` per embedding from
        ``stage``'s CA (``mu`` repeated when the config's conditioning is ``fixed``)."""
        e = self._check_embeddings(embeddings)
        g, _ = self.stage_networks(stage)
        ca = g.get_layer("ca")
        rep = np.repeat(e, int(n), axis=0)
        with self.conditioning_noise(seed):
            c, _, _ = ca(tf.constant(rep), training=False)
        return np.asarray(c).reshape(len(e), int(n), -1)

    def caption_grid(self, embeddings, z) -> np.ndarray:
        """``(captions, 2 * noise, 4s, 4s, 3)``: for each caption (rows) and noise vector, the Stage-I image
        (enlarged by nearest neighbours) followed by the Stage-II image."""
        e = self._check_embeddings(embeddings)
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (noise, {self.latent_dim}), got {z.shape}")
        rows, cols = len(e), len(z)
        low, high = self.generate(np.repeat(e, cols, axis=0), np.tile(z, (rows, 1)))
        low = np.repeat(np.repeat(low, STAGE2_SCALE, axis=1), STAGE2_SCALE, axis=2)
        pairs = np.stack([low, high], axis=1).reshape(rows, 2 * cols, *high.shape[1:])
        return pairs

    def embed_captions(self, captions) -> np.ndarray:
        """Typed captions -> ``(n, 1024)`` embeddings with the package's text encoder (:mod:`gancourse.text`).

        Only a model trained on ``offline_birds`` understands them: the CUB embeddings come from Reed et al.'s
        char-CNN-RNN, a Torch network the package does not ship, so typed captions cannot be turned into
        embeddings a CUB model has seen."""
        if isinstance(captions, str):
            captions = [captions]
        if self.cfg.dataset != "offline_birds":
            raise ValueError("typed captions need the text encoder the training embeddings came from; the CUB "
                             "embeddings come from Reed et al.'s char-CNN-RNN (Torch), which the package cannot "
                             "run. Sample a CUB model from its test embeddings, or train on offline_birds")
        from gancourse.text import encode_captions

        return encode_captions(list(captions))

    def caption_inputs(self, captions, n: int = PREVIEW_NOISE, seed: int = 0):
        """The :meth:`preview` inputs for typed captions: ``(embeddings, z)`` with ``n`` noise draws each."""
        if int(n) < 1:
            raise ValueError(f"n={n} must be >= 1")
        return self.embed_captions(captions), self.fixed_noise(int(n), seed)

    def preview_inputs(self, n: int, seed: int = 0):
        """Fixed inputs of the sample grid: the first caption of ``min(n, 8)`` held-out rendered birds and
        ``4`` noise vectors (``offline_birds``; a CUB model's come from :func:`preview_pairs`)."""
        if self.cfg.dataset != "offline_birds":
            raise ValueError("a CUB model's sample grid uses the test split's caption embeddings; use "
                             "gancourse.models.stackgan.preview_pairs(cfg, n, seed, data_dir) (CLI: --data)")
        return preview_pairs(self.cfg, n, seed)

    def preview(self, inputs) -> np.ndarray:
        """The caption grid (:meth:`caption_grid`) of ``(embeddings, z)``."""
        embeddings, z = inputs
        return self.caption_grid(embeddings, z)

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """Stage-II images for the first ``n`` caption embeddings of ``inputs`` (``(N, 1024)``, or a
        ``(embeddings, ...)`` tuple), noise from ``seed``."""
        if inputs is None:
            raise ValueError("StackGAN generates from captions: pass caption embeddings (inputs=...)")
        e = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        return self.generate(np.asarray(e)[:n], seed=seed)[1]

    def expected_data_shapes(self) -> tuple:
        s = self.cfg.image_size
        return ((s, s, 3), (STAGE2_SCALE * s, STAGE2_SCALE * s, 3), (EMBEDDING_DIM,), ())

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has examples of shapes {got} but this StackGAN takes (Stage-I image, Stage-II image, "
                f"embedding, class id) = {want}; give captions batches (gancourse.data.captioned) with the config's "
                "image_size as the Stage-I side")


MODEL = StackGAN
CONFIG = StackGANConfig


def batches(cfg: StackGANConfig, data):
    """The training pipeline over ``(images, embeddings, class_ids)`` arrays a caller supplies: Stage-II images
    ``(N, 4s, 4s, 3)`` in [-1, 1] (or uint8), caption embeddings ``(N, 10, 1024)``, class ids ``(N,)``."""
    from gancourse.data import captioned

    if not (isinstance(data, (tuple, list)) and len(data) == 3):
        raise ValueError("StackGAN trains on (images, embeddings, class_ids); pass a tuple of the three arrays")
    images, embeddings, class_ids = data
    x = np.asarray(images)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 127.5 - 1.0
    return captioned.from_arrays(x, embeddings, class_ids, cfg)


def training_data(cfg: StackGANConfig, data_dir=None):
    """The training ``tf.data.Dataset`` of ``cfg.dataset`` (``data_dir``: where the CUB data lives) and the
    sample grid's inputs (:func:`preview_pairs`)."""
    from gancourse import data

    return data.load(cfg, split="train", data_dir=data_dir), preview_pairs(cfg, PREVIEW_CAPTIONS, cfg.seed, data_dir)


def preview_pairs(cfg: StackGANConfig, n: int, seed: int = 0, data_dir=None):
    """``(embeddings (min(n, 8), 1024), z (4, latent_dim))``: the first caption of ``min(n, 8)`` test images
    picked with ``seed``, and 4 noise vectors, for the sample grid."""
    rng = np.random.default_rng(seed)
    if cfg.dataset == "offline_birds":
        from gancourse.data.rendered_birds import offline_birds

        embeddings = offline_birds("test", STAGE2_SCALE * cfg.image_size).embeddings
    else:
        from gancourse.data import cub

        embeddings = cub.read_split(data_dir, "test").embeddings
    rows = min(max(int(n), 1), PREVIEW_CAPTIONS)
    picked = np.sort(rng.choice(len(embeddings), size=min(rows, len(embeddings)), replace=False))
    z = rng.standard_normal((PREVIEW_NOISE, cfg.latent_dim)).astype(np.float32)
    return embeddings[picked, 0].astype(np.float32), z
