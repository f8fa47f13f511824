"""SRGAN: 4x single-image super-resolution with a perceptual (content + adversarial) loss.

The generator maps a low-resolution image ``x`` (``h x w``) to ``G(x)``
(``4h x 4w``); the discriminator tells ``G(x)`` from real high-resolution
images. The generator minimises (Ledig et al.)

    ``content_weight * content(G(x), y) + adv_weight * adversarial(D(G(x)))``

where ``content`` is the mean squared error of VGG19 feature maps
(``content="vgg"``) or of the pixels (``"mse"``), and ``adv_weight`` is
``1e-3``. Training has two phases: the first ``pretrain_epochs`` epochs
train the generator alone on the pixel MSE (that network is *SRResNet*),
the rest train both networks adversarially starting from it.

Presets (``config(name)``):

``book``
    The source book's networks at 64 -> 256 px
    (:func:`gancourse.nn.superres.book_generator`, 2,042,691 parameters, and
    :func:`~gancourse.nn.superres.book_discriminator`, 5,219,137 with a 16x16
    map of sigmoid scores), content on ``block3_conv3`` features, Adam(2e-4,
    beta_1 0.5), batch 1, the book's 20,000 iterations (20 epochs of 1,000
    steps), no pre-training, and its mixed objective (``objective="book"``):
    the discriminator minimises the *squared error* of its sigmoid outputs
    while the generator minimises the *cross-entropy* of the same outputs.
    The mixture belongs to this preset only; every other configuration uses
    one objective for both sides.
``paper``
    SRResNet (:func:`~gancourse.nn.superres.srresnet_generator`: PReLU,
    sub-pixel up-sampling) and the paper's flattening discriminator, trained
    on random 96 px crops, batch 16, Adam(1e-4, beta_1 0.9), VGG54 content
    (``block5_conv4`` features times 1/12.75), the binary cross-entropy on
    logits for both sides; ``pretrain_epochs`` of MSE first, then the GAN
    phase whose second half runs at 1e-5. On CelebA's 162,770 training images
    an epoch is 10,173 steps of 16, so the 118 epochs are about the paper's
    10^6 SRResNet updates plus 2 x 10^5 GAN updates. LR inputs are in
    ``[-1, 1]`` as in the book (the paper scales them to ``[0, 1]``).

On the ``smoke`` profile every preset keeps its structure but trains on
:func:`gancourse.data.superres.offline_sr` (64 px crops of photos that
scikit-image, scikit-learn and matplotlib ship, LR 16 px), with narrow
networks (16 residual blocks of 16 filters) and the content loss on a VGG19-shaped network
with *fixed random* weights (no download; the smoke profile reads no network).
``standard`` keeps the real data and the full networks for 10 epochs of
500 steps.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse import losses
from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive
from gancourse.nn import superres
from gancourse.training import AdversarialModel

DATASETS = ("celeba", "sr_folder", "offline_sr")
OFFLINE = "offline_sr"
GENERATORS = ("book", "srresnet")
DISCRIMINATORS = ("book", "paper")
CONTENTS = ("vgg", "mse")
#: ``book``: the source book's mixture (D: squared error of sigmoid outputs; G: cross-entropy of them).
SR_OBJECTIVES = ("book", "bce", "lsgan")
PHASES = ("pretrain", "gan")
LR_DROP = 0.1  # the paper's 1e-4 -> 1e-5
SMOKE = dict(image_size=64, base_filters=16, up_filters=16, d_filters=16, d_dense=64,
             feature_weights="random", feature_width_divisor=8, batch_size=8)
SMOKE_EPOCHS = 4
STANDARD_EPOCHS, STANDARD_STEPS = 10, 500


@dataclasses.dataclass(frozen=True)
class SRGANConfig(TrainingConfig):
    """Configuration of an :class:`SRGAN` (see the module docstring).

    ``image_size`` is the high-resolution size; the generator's input is
    ``image_size // scale``. ``steps_per_epoch=0`` makes an epoch one pass
    over the data; a positive value repeats the data and cuts epochs of that
    many steps (the book counts iterations, not passes). ``lr_drop_epoch``:
    from that epoch on, the learning rate is ``learning_rate * 0.1`` (0: never).
    """

    dataset: str = choice("celeba", DATASETS)
    image_size: int = positive(256)
    scale: int = choice(4, (2, 4, 8))
    generator: str = choice("book", GENERATORS)
    discriminator: str = choice("book", DISCRIMINATORS)
    base_filters: int = positive(64)
    up_filters: int = positive(256, "the book generator's up-sampling conv width")
    res_blocks: int = non_negative(16)
    d_filters: int = positive(64)
    d_dense: int = positive(1024)
    objective: str = choice("book", SR_OBJECTIVES, "book: D squared error, G cross-entropy, on sigmoid outputs")
    content: str = choice("vgg", CONTENTS)
    content_layer: str = choice("block3_conv3", superres.VGG_LAYERS)
    feature_weights: str = choice("imagenet", superres.FEATURE_WEIGHTS)
    feature_scale: float = positive(1.0)
    feature_width_divisor: int = positive(1)
    content_weight: float = positive(1.0)
    adv_weight: float = non_negative(1e-3)
    pretrain_epochs: int = non_negative(0, "epochs of generator-only pixel MSE (SRResNet) before the GAN phase")
    lr_drop_epoch: int = non_negative(0)
    steps_per_epoch: int = non_negative(0)
    random_crop: bool = False
    flip: bool = True
    bicubic_skip: bool = False  # learn a correction to bicubic (not in the book or the paper; short runs)

    KIND = "srgan"
    PRESETS = {
        "book": dict(learning_rate=2e-4, beta_1=0.5, batch_size=1, epochs=20, steps_per_epoch=1000),
        "paper": dict(image_size=96, generator="srresnet", discriminator="paper", objective="bce",
                      content_layer="block5_conv4", feature_scale=superres.PAPER_FEATURE_SCALE, learning_rate=1e-4,
                      beta_1=0.9, batch_size=16, epochs=118, pretrain_epochs=98, lr_drop_epoch=108,
                      random_crop=True),
    }

    def check(self) -> None:
        if self.image_size % 16:  # then also a multiple of scale (2, 4 or 8)
            raise ValueError(f"SRGANConfig.image_size={self.image_size} must be a multiple of 16 (the "
                             "discriminator halves it 4 times)")
        if self.objective == "book" and self.discriminator != "book":
            raise ValueError("objective 'book' needs the book discriminator (its sigmoid scores); use objective "
                             "'bce' with the paper discriminator")
        if self.pretrain_epochs > self.epochs:
            raise ValueError(f"SRGANConfig.pretrain_epochs={self.pretrain_epochs} must be <= epochs={self.epochs}")
        if self.lr_drop_epoch > self.epochs:
            raise ValueError(f"SRGANConfig.lr_drop_epoch={self.lr_drop_epoch} must be <= epochs={self.epochs}")

    def scale_overrides(self, profile_name: str) -> dict:
        def scaled(epoch: int, epochs: int) -> int:
            return round(epoch * epochs / self.epochs)

        if profile_name == "smoke":
            epochs = min(self.epochs, SMOKE_EPOCHS)
            return {**SMOKE, "dataset": OFFLINE, "epochs": epochs, "steps_per_epoch": 0, "random_crop": False,
                    "pretrain_epochs": scaled(self.pretrain_epochs, epochs),
                    "lr_drop_epoch": scaled(self.lr_drop_epoch, epochs)}
        if profile_name == "standard":
            epochs = min(self.epochs, STANDARD_EPOCHS)
            return {"epochs": epochs, "steps_per_epoch": STANDARD_STEPS,
                    "pretrain_epochs": scaled(self.pretrain_epochs, epochs),
                    "lr_drop_epoch": scaled(self.lr_drop_epoch, epochs)}
        return {}

    @property
    def lr_size(self) -> int:
        """The generator's training input size, ``image_size // scale``."""
        return self.image_size // self.scale

    def phase_at(self, epoch: int) -> str:
        """``"pretrain"`` (generator only, pixel MSE) during the first ``pretrain_epochs`` epochs, then ``"gan"``."""
        return "pretrain" if epoch < self.pretrain_epochs else "gan"

    def learning_rate_at(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (0-based): dropped 10x from ``lr_drop_epoch`` on."""
        dropped = self.lr_drop_epoch and epoch >= self.lr_drop_epoch
        return self.learning_rate * (LR_DROP if dropped else 1.0)


PRESETS = SRGANConfig.preset_names()
config = SRGANConfig.preset


def build_generator(cfg: SRGANConfig) -> keras.Model:
    """The preset's generator (fully convolutional: any input size)."""
    if cfg.generator == "book":
        return superres.book_generator(3, cfg.base_filters, cfg.res_blocks, cfg.up_filters, cfg.scale,
                                       cfg.bicubic_skip, name=f"{cfg.preset}_generator")
    return superres.srresnet_generator(3, cfg.base_filters, cfg.res_blocks, cfg.scale, cfg.bicubic_skip,
                                       name=f"{cfg.preset}_generator")


def build_discriminator(cfg: SRGANConfig) -> keras.Model:
    """The preset's discriminator at ``cfg.image_size``; sigmoid scores only for the book's objective."""
    if cfg.discriminator == "book":
        return superres.book_discriminator(cfg.image_size, 3, cfg.d_filters, cfg.d_dense,
                                           sigmoid=cfg.objective == "book", name=f"{cfg.preset}_discriminator")
    return superres.paper_discriminator(cfg.image_size, 3, cfg.d_filters, cfg.d_dense,
                                        name=f"{cfg.preset}_discriminator")


def build_features(cfg: SRGANConfig, image_size: int | None = None) -> keras.Model | None:
    """The frozen feature network of the content loss (``None`` for ``content="mse"``)."""
    if cfg.content != "vgg":
        return None
    return superres.feature_extractor(cfg.content_layer, image_size or cfg.image_size, cfg.feature_weights,
                                      cfg.feature_scale, cfg.feature_width_divisor, seed=cfg.seed)


def _book_d_loss(real_out, fake_out, real_target=1.0, fake_target=0.0):
    # The book compiles D with loss="mse" and calls train_on_batch on reals and fakes: the mean of the two.
    return 0.5 * (tf.reduce_mean(tf.square(real_out - real_target)) + tf.reduce_mean(tf.square(fake_out - fake_target)))


def _book_g_loss(fake_out, target=1.0):
    # ... and the combined model's adversarial output with loss="binary_crossentropy" on the same sigmoid scores.
    p = tf.clip_by_value(fake_out, keras.config.epsilon(), 1.0 - keras.config.epsilon())
    return -tf.reduce_mean(target * tf.math.log(p) + (1.0 - target) * tf.math.log(1.0 - p))


#: The book's mixed objective on sigmoid outputs (see the module docstring).
BOOK_OBJECTIVE = losses.Objective("book", _book_d_loss, _book_g_loss, logits=False, threshold=0.5)


def objective_for(name: str) -> losses.Objective:
    """The :class:`~gancourse.losses.Objective` of an SR config's ``objective``."""
    return BOOK_OBJECTIVE if name == "book" else losses.objective(name)


class SRGAN(AdversarialModel):
    """Super-resolution GAN trained with ``fit()`` on ``(lr, hr)`` batches.

    Metrics: ``d_loss``, ``g_loss`` (the generator's total), ``g_content``,
    ``g_adv``, ``g_mse`` (pixel MSE, tracked in both phases), ``d_real`` and
    ``d_fake`` (mean D probability on real and generated images). In the
    pre-training phase the discriminator is not trained and its metrics read 0.

    Args:
        cfg: an :class:`SRGANConfig` or a preset name.
    """

    METRICS = ("d_loss", "g_loss", "g_content", "g_adv", "g_mse", "d_real", "d_fake")
    DATA_NETWORK = "discriminator"

    def __init__(self, cfg: SRGANConfig | str = "book"):
        cfg = as_config(cfg, SRGANConfig, "SRGAN")
        super().__init__({"generator": build_generator(cfg), "discriminator": build_discriminator(cfg)},
                         seed=cfg.seed, name=f"srgan_{cfg.preset}")
        self.cfg = cfg
        self.objective = objective_for(cfg.objective)
        self._features = None
        self.phase = cfg.phase_at(0)

    @property
    def features(self) -> keras.Model | None:
        """The frozen feature network of the content loss, built on first use (the ImageNet VGG19 weights are
        downloaded then, not when the model is built); ``None`` for the pixel content loss."""
        if self._features is None and self.cfg.content == "vgg":
            self._features = build_features(self.cfg)
        return self._features

    def compile(self, *args, **kwargs):
        """:meth:`AdversarialModel.compile`, then the feature network is built (outside any traced function)."""
        super().compile(*args, **kwargs)
        _ = self.features

    # -- phases and the learning rate ------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Set the phase and the learning rate of epoch ``epoch`` (0-based; ``fit`` calls it at every epoch's
        start, so a resumed run continues in the right phase at the right rate)."""
        phase = self.cfg.phase_at(int(epoch))
        if phase != self.phase:
            self.phase = phase
            self.train_function = None
            self.make_train_function(force=True)
        rate = self.cfg.learning_rate_at(int(epoch))
        for opt in self.optimizers.values():
            opt.learning_rate = rate

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit`` with the phase switch, and the config's ``steps_per_epoch`` when it sets one."""
        if self.cfg.steps_per_epoch and kwargs.get("steps_per_epoch") is None:
            kwargs["steps_per_epoch"] = self.cfg.steps_per_epoch
        callbacks = list(kwargs.pop("callbacks", None) or [])
        start = kwargs.get("initial_epoch", 0)
        if self.optimizers:
            self.set_epoch(start)
        return super().fit(x, *args, callbacks=[PhaseSwitch()] + callbacks, **kwargs)

    def expected_data_shapes(self) -> tuple:
        """``(lr, hr)`` image shapes of a training batch."""
        size, lr = self.cfg.image_size, self.cfg.lr_size
        return (lr, lr, 3), (size, size, 3)

    # -- training ----------------------------------------------------------------
    def content_loss(self, sr, hr):
        """``mean (phi(sr) - phi(hr))^2`` over the feature network ``phi`` (the pixels for ``content="mse"``)."""
        if self.features is None:
            return tf.reduce_mean(tf.square(sr - hr))
        return tf.reduce_mean(tf.square(self.features(sr, training=False) - self.features(hr, training=False)))

    def generator_step(self, lr, hr):
        """One generator update. Pre-training: pixel MSE only. GAN phase: ``content_weight * content +
        adv_weight * adversarial``. Returns ``(total, content, adversarial, mse, G(lr))``."""
        cfg = self.cfg
        pretraining = self.phase == "pretrain"

        def loss_fn():
            sr = self.generator(lr, training=True)
            mse = tf.reduce_mean(tf.square(sr - hr))
            if pretraining:
                return mse, mse, tf.constant(0.0), mse, sr
            content = self.content_loss(sr, hr)
            total = cfg.content_weight * content
            adversarial = tf.constant(0.0)
            if cfg.adv_weight:
                adversarial = self.objective.generator(self.discriminator(sr, training=True))
                total = total + cfg.adv_weight * adversarial
            return total, content, adversarial, mse, sr

        return self.update("generator", loss_fn)

    def discriminator_step(self, hr, sr):
        """One discriminator update on real HR images and generated ones. Returns ``(loss, D(real), D(fake))``."""
        sr = tf.stop_gradient(sr)

        def loss_fn():
            real_out = self.discriminator(hr, training=True)
            fake_out = self.discriminator(sr, training=True)
            return self.objective.discriminator(real_out, fake_out), real_out, fake_out

        loss, real_out, fake_out = self.update("discriminator", loss_fn)
        prob = tf.sigmoid if self.objective.logits else tf.identity
        return loss, tf.reduce_mean(prob(real_out)), tf.reduce_mean(prob(fake_out))

    def train_step(self, data):
        lr, hr = data
        total, content, adversarial, mse, sr = self.generator_step(lr, hr)
        if self.phase == "pretrain" or not self.cfg.adv_weight:
            zero = tf.constant(0.0)
            d_loss, d_real, d_fake = zero, zero, zero
        else:
            d_loss, d_real, d_fake = self.discriminator_step(hr, sr)
        return self.record(d_loss=d_loss, g_loss=total, g_content=content, g_adv=adversarial, g_mse=mse,
                           d_real=d_real, d_fake=d_fake)

    def call(self, x, training=False):
        return self.generator(x, training=training)

    # -- using the model -----------------------------------------------------------
    def super_resolve(self, images, batch_size: int = 16) -> np.ndarray:
        """``G(images)``: ``(n, h, w, 3)`` in ``[-1, 1]`` -> ``(n, scale*h, scale*w, 3)`` float32 in ``[-1, 1]``.

        Any ``h, w`` (the generator is fully convolutional); batch norm uses its
        moving averages (inference mode); ``batch_size`` images at a time.
        """
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be RGB low-resolution images (n, h, w, 3) in [-1, 1], got shape "
                             f"{images.shape}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        outs = [np.asarray(self.generator(images[i:i + batch_size], training=False))
                for i in range(0, len(images), batch_size)]
        s = self.cfg.scale
        empty = np.zeros((0, images.shape[1] * s, images.shape[2] * s, 3), np.float32)
        return np.concatenate(outs).astype(np.float32) if outs else empty

    def upscale(self, images_uint8, batch_size: int = 16) -> np.ndarray:
        """``uint8`` RGB images ``(n, h, w, 3)`` (or one ``(h, w, 3)``) -> ``uint8`` images ``scale`` times larger."""
        return upscale(images_uint8, self, batch_size)

    def preview(self, inputs) -> np.ndarray:
        """``(4, n, H, W, 3)`` in ``[-1, 1]`` for ``inputs = (lr, hr)``, the rows: ``lr`` enlarged by pixel
        repetition (nearest neighbour), its bicubic enlargement, ``G(lr)`` and ``hr``."""
        lr, hr = (np.asarray(x, np.float32) for x in inputs)
        nearest = np.asarray(tf.image.resize(lr, hr.shape[1:3], method="nearest"))
        return np.stack([nearest, bicubic(lr, self.cfg.scale), self.super_resolve(lr), hr])

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """``G(lr)`` for the first ``n`` of ``inputs`` (low-resolution images, or ``(lr, hr)``)."""
        return self.super_resolve(self.first_inputs(inputs, n, "low-resolution images"))


class PhaseSwitch(keras.callbacks.Callback):
    """Calls :meth:`SRGAN.set_epoch` at the start of every epoch (the phase and the learning rate)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.set_epoch(epoch)


MODEL = SRGAN
CONFIG = SRGANConfig


def upscale(images_uint8, model, batch_size: int = 16) -> np.ndarray:
    """Super-resolve ``uint8`` RGB images with ``model`` (an :class:`SRGAN` or its generator).

    Args:
        images_uint8: ``(n, h, w, 3)`` or one ``(h, w, 3)`` ``uint8`` image, any
            ``h, w`` (the model was trained at ``image_size // scale``).
        model: an :class:`SRGAN`, or a generator ``keras.Model`` from ``[-1, 1]``
            to ``[-1, 1]``; batch norm runs in inference mode.

    Returns:
        ``uint8`` images of the same rank, ``scale`` times larger.
    """
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8:
        raise ValueError(f"upscale takes uint8 images (0..255), got {images.dtype}; convert floats in [-1, 1] "
                         "with gancourse.viz.to_uint8 or call super_resolve")
    single = images.ndim == 3
    batch = images[None] if single else images
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"upscale takes RGB images (n, h, w, 3) or (h, w, 3), got shape {images.shape}")
    x = batch.astype(np.float32) / 127.5 - 1.0
    if isinstance(model, SRGAN):
        out = model.super_resolve(x, batch_size)
    elif isinstance(model, keras.Model):
        out = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                              for i in range(0, len(x), batch_size)]) if len(x) else x
    else:
        raise ValueError(f"model must be an SRGAN or a generator keras.Model, got {type(model).__name__}")
    out = np.round((np.clip(out, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return out[0] if single else out


def bicubic(lr, scale: int = 4) -> np.ndarray:
    """Bicubic enlargement of ``(n, h, w, 3)`` images in ``[-1, 1]`` by ``scale``, clipped to ``[-1, 1]``:
    the baseline of every SR table."""
    lr = np.asarray(lr, np.float32)
    size = (lr.shape[1] * scale, lr.shape[2] * scale)
    return np.clip(np.asarray(tf.image.resize(lr, size, method="bicubic")), -1.0, 1.0)


def evaluate(model, pairs, border: int = 4) -> dict[str, dict[str, np.ndarray]]:
    """Score ``model`` and bicubic interpolation on a test set, as Ledig et al. do (Y channel, ``border`` px
    cropped; :func:`gancourse.metrics.sr_scores`).

    Args:
        model: an :class:`SRGAN`.
        pairs: a Set5 / Set14 / BSD100-style folder
            (:func:`gancourse.data.superres.benchmark_pairs`: LR made from
            each whole HR image), or ``(lr, hr)`` pairs of any sizes.

    Returns:
        ``{"bicubic": scores, "model": scores}``, each ``{metric: per-image array}``.
    """
    from gancourse import metrics
    from gancourse.data import superres as sr_data

    if isinstance(pairs, (str, bytes)) or hasattr(pairs, "__fspath__"):
        pairs = sr_data.benchmark_pairs(pairs, model.cfg.scale)
    found: dict[str, dict[str, list]] = {"bicubic": {}, "model": {}}
    for lr, hr in pairs:
        lr, hr = np.asarray(lr, np.float32)[None], np.asarray(hr, np.float32)[None]
        if hr.shape[1:3] != (lr.shape[1] * model.cfg.scale, lr.shape[2] * model.cfg.scale):
            raise ValueError(f"an LR image of {lr.shape[1]}x{lr.shape[2]} does not match its HR image of "
                             f"{hr.shape[1]}x{hr.shape[2]} at scale {model.cfg.scale}")
        for key, prediction in (("bicubic", bicubic(lr, model.cfg.scale)), ("model", model.super_resolve(lr))):
            for metric, values in metrics.sr_scores(prediction, hr, border).items():
                found[key].setdefault(metric, []).append(values[0])
    if not found["model"]:
        raise ValueError("no test pairs to evaluate")
    return {key: {metric: np.asarray(values) for metric, values in scores.items()} for key, scores in found.items()}


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def dataset(cfg: SRGANConfig, split: str = "train", data_dir=None, n: int | None = None):
    """``(lr, hr)`` arrays of a split, in memory (for evaluation; training streams the data). Offline data:
    :func:`gancourse.data.superres.offline_sr`; a real dataset: its first ``n`` examples (default 256)
    in file order, centre-cropped, without flips (:func:`gancourse.data.superres.load_pairs`)."""
    from gancourse.data import superres as sr_data

    if cfg.dataset == OFFLINE:
        if data_dir is not None:
            raise ValueError(f"the {OFFLINE} dataset reads no folder; do not pass data_dir")
        return sr_data.offline_sr(split, cfg.image_size, n=n)
    return sr_data.load_pairs(cfg.dataset, split, image_size=cfg.image_size, scale=cfg.scale, n=n or 256,
                              data_dir=data_dir)


def batches(cfg: SRGANConfig, data):
    """The training pipeline over in-memory ``data``: HR images ``(n, H, W, 3)`` in ``[-1, 1]`` (LR is derived),
    or ``(lr, hr)`` arrays (the HR images are used, the LR derived again so the pair stays consistent):
    shuffled, flipped as a pair, batched (:func:`gancourse.data.superres.pair_dataset`)."""
    from gancourse.data import superres as sr_data

    hr = data[1] if isinstance(data, (tuple, list)) else data
    hr = np.asarray(hr, np.float32)
    if hr.ndim != 4 or hr.shape[1:] != (cfg.image_size, cfg.image_size, 3):
        raise ValueError(f"HR images must be (n, {cfg.image_size}, {cfg.image_size}, 3) in [-1, 1], got {hr.shape}")
    return sr_data.pair_dataset(hr, cfg)


def training_data(cfg: SRGANConfig, data_dir=None, n_preview: int = 4):
    """What training needs: the streamed ``(lr, hr)`` batches of ``cfg.dataset`` (:func:`gancourse.data.load`;
    repeated when the config counts ``steps_per_epoch``) and ``n_preview`` held-out pairs for the sample grid."""
    from gancourse import data

    train = data.load(cfg, "train", data_dir=data_dir)
    if cfg.steps_per_epoch:
        train = train.repeat()
    return train, preview_pairs(cfg, n_preview, data_dir=data_dir)


def preview_pairs(cfg: SRGANConfig, n: int, seed: int = 0, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out ``(lr, hr)`` pairs (the test split offline, else the validation split), picked
    reproducibly by ``seed``."""
    if n < 1:
        raise ValueError(f"n={n} preview pairs asked for; ask for at least 1")
    split = "test" if cfg.dataset == OFFLINE else "val"
    lr, hr = dataset(cfg, split, data_dir, n=None if cfg.dataset == OFFLINE else max(n, 32))
    if n > len(lr):
        raise ValueError(f"n={n} preview pairs asked for; the {split} split has {len(lr)}")
    pick = np.sort(np.random.default_rng(seed).choice(len(lr), n, replace=False))
    return lr[pick], hr[pick]
