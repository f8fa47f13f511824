"""pix2pix: paired image-to-image translation with a conditional GAN.

The generator is a U-Net that maps an input image ``x`` (a label map, edges,
a grey photo) to an output ``G(x)``; the discriminator is a conditional
PatchGAN that sees the pair ``(x, y)`` or ``(x, G(x))`` and returns one logit
per patch. The generator minimises

    ``gan_weight * BCE(D(x, G(x)), 1) + l1_weight * mean |y - G(x)|``

(Isola et al.: ``l1_weight = 100``). Setting either weight to 0 gives the
"L1 only" and "cGAN only" rows of the paper's ablation.

Presets (``config(name)``):

``paper``
    U-Net ``paper`` (54,423,811 parameters at 256 px RGB) and the 70x70
    PatchGAN (2,770,433), Adam(2e-4, beta_1 0.5), batch 1, 200 epochs,
    random jitter, on facades.
``book``
    The source book's U-Net geometry (grayscale, 129,151,681 parameters with
    its bottleneck BatchNorm removed; 129,153,729 with it), the conditional
    PatchGAN instead of its degenerate whole-image discriminator, and the
    book's optimiser: Adam(1e-4, beta_1 0.9), 500 epochs, no jitter.
``mastering_pytorch``
    Instance-norm U-Net (54,409,603) and the 16x16-output discriminator
    (2,767,809, receptive field 94 px) of *Mastering PyTorch*, with its
    layer-registration bugs fixed by construction; the paper's optimiser.

On the ``smoke`` profile every preset keeps its structure but trains on
:func:`gancourse.data.paired.offline_pairs` at 32 px, with the widths divided
by 4 and a few epochs. ``standard`` keeps the real data and the full networks
and trains 25 epochs (10,000 steps of batch 1 on facades).
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive
from gancourse.data import paired
from gancourse.data.pipeline import with_channels
from gancourse.nn import translation
from gancourse.training import AdversarialModel, steps

DATASETS = ("facades", "maps", "edges2shoes", "edges2handbags", "cityscapes", "night2day", "offline")
SMOKE_WIDTH_DIVISOR = 4
STANDARD_EPOCHS = 25


@dataclasses.dataclass(frozen=True)
class Pix2PixConfig(TrainingConfig):
    """Configuration of a :class:`Pix2Pix` model (see the module docstring)."""

    dataset: str = choice("facades", DATASETS)
    image_size: int = positive(256)
    channels: int = choice(3, (1, 3))
    generator: str = choice("paper", translation.UNET_VARIANTS)
    discriminator: str = choice("paper", translation.PATCHGAN_VARIANTS)
    base_filters: int = positive(64)
    bottleneck_norm: bool = False
    skips: bool = True  # False: the same generator without skip connections (the paper's encoder-decoder)
    l1_weight: float = non_negative(100.0)
    gan_weight: float = non_negative(1.0)
    jitter: bool = True
    steps_per_execution: int = positive(8)  # 1.27x the 1-step rate at 256 px on CPU (bench pix2pix)

    KIND = "pix2pix"
    PRESETS = {
        "paper": dict(epochs=200, batch_size=1),
        "book": dict(generator="book", channels=1, learning_rate=1e-4, beta_1=0.9, epochs=500, batch_size=1,
                     jitter=False),
        "mastering_pytorch": dict(generator="mastering_pytorch", discriminator="mastering_pytorch", epochs=200,
                                  batch_size=1),
    }

    def check(self) -> None:
        if self.l1_weight == 0 and self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight are both 0: the generator would have nothing to learn")

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            return {"dataset": "offline", "image_size": 32, "epochs": min(self.epochs, 4),
                    "base_filters": max(self.base_filters // SMOKE_WIDTH_DIVISOR, 8),
                    "batch_size": max(self.batch_size, 8)}
        if profile_name == "standard":  # the real data at full size, ~10k steps of batch 1 on one GPU
            return {"epochs": min(self.epochs, STANDARD_EPOCHS)}
        return {}


PRESETS = Pix2PixConfig.preset_names()
config = Pix2PixConfig.preset


def build_generator(cfg: Pix2PixConfig) -> keras.Model:
    """The preset's U-Net."""
    return translation.unet_generator(cfg.generator, cfg.image_size, cfg.channels, cfg.channels, cfg.base_filters,
                                      bottleneck_norm=cfg.bottleneck_norm, skips=cfg.skips,
                                      name=f"{cfg.preset}_generator")


def build_discriminator(cfg: Pix2PixConfig) -> keras.Model:
    """The preset's conditional PatchGAN."""
    return translation.patchgan_discriminator(cfg.discriminator, cfg.image_size, cfg.channels, cfg.channels,
                                              cfg.base_filters, name=f"{cfg.preset}_discriminator")


class Pix2Pix(AdversarialModel):
    """A conditional GAN for paired translation, trained with ``fit()`` on ``(input, target)`` batches.

    Metrics: ``d_loss``, ``g_loss`` (the total), ``g_gan``, ``g_l1``, ``d_real``
    and ``d_fake`` (mean ``D`` probability on real and generated pairs for the
    ``bce`` objective, the mean raw score for the others).

    The model reads no data: its sample grid's inputs (held-out pairs) come
    from :func:`training_data` or :func:`preview_pairs`.

    Args:
        cfg: a :class:`Pix2PixConfig` or a preset name.
    """

    METRICS = ("d_loss", "g_loss", "g_gan", "g_l1", "d_real", "d_fake")

    def __init__(self, cfg: Pix2PixConfig | str = "paper"):
        cfg = as_config(cfg, Pix2PixConfig, "Pix2Pix")
        super().__init__({"generator": build_generator(cfg), "discriminator": build_discriminator(cfg)},
                         seed=cfg.seed, name=f"pix2pix_{cfg.preset}")
        self.cfg = cfg

    def discriminator_step(self, source, target, fake=None):
        """One D update on real ``(source, target)`` and generated ``(source, fake)`` pairs
        (:func:`gancourse.training.steps.discriminator_update`). Returns ``(loss, D(real), D(fake))``."""
        source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
        if fake is None:
            fake = self.generator(source, training=True)
        return steps.discriminator_update(self.discriminator, self.optimizer_for("discriminator"), target, fake,
                                          source=source, objective=self.cfg.objective, seed=self.seed_generator,
                                          norm=self.gradient_norms.variable("discriminator"))

    def generator_step(self, source, target):
        """One G update on the weighted cGAN + L1 objective
        (:func:`gancourse.training.steps.generator_update`). Returns ``(total, gan, l1, fake)``."""
        source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
        return steps.generator_update(self.generator, self.discriminator, self.optimizer_for("generator"), source,
                                      target, l1_weight=self.cfg.l1_weight, gan_weight=self.cfg.gan_weight,
                                      objective=self.cfg.objective, norm=self.gradient_norms.variable("generator"))

    def train_step(self, data):
        source, target = data
        g_total, g_gan, l1, fake = self.generator_step(source, target)
        if self.cfg.gan_weight:
            d_loss, d_real, d_fake = self.discriminator_step(source, target, fake)
        else:  # L1 only: no adversary to train
            d_loss, d_real, d_fake = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
        return self.record(d_loss=d_loss, g_loss=g_total, g_gan=g_gan, g_l1=l1, d_real=d_real, d_fake=d_fake)

    def translate(self, inputs: np.ndarray, training: bool = False, batch_size: int = 16,
                  batch_norm: str | None = None, dropout: bool | None = None) -> np.ndarray:
        """Outputs for ``inputs``, float32 in ``[-1, 1]``, computed ``batch_size`` images at a time.

        ``training=True`` runs the generator as the paper and the TensorFlow
        tutorial do at test time: dropout stays on (it is the model's only
        noise) and batch norm uses the statistics of the batch (with
        ``batch_size=1``, as in the paper, the statistics of each image).
        ``batch_norm`` (``"batch"`` or ``"moving"``, the moving averages) and
        ``dropout`` set the two switches separately; by default both follow
        ``training``. The model is not changed: batch norm's moving averages
        are restored after a call that uses batch statistics.
        """
        inputs = np.asarray(inputs, np.float32)
        want = tuple(self.generator.inputs[0].shape[1:])
        if inputs.ndim != 4 or inputs.shape[1:] != want:
            raise ValueError(f"inputs must have shape (n, {', '.join(map(str, want))}), got {inputs.shape}")
        batch_norm = batch_norm or ("batch" if training else "moving")
        dropout = training if dropout is None else dropout
        with generator_switches(self.generator, batch_norm=batch_norm, dropout=dropout) as train_mode:
            outs = [np.asarray(self.generator(inputs[i:i + batch_size], training=train_mode))
                    for i in range(0, len(inputs), batch_size)]
        return np.concatenate(outs).astype(np.float32)

    def preview(self, inputs) -> np.ndarray:
        """``(3, n, H, W, C)``: the inputs, the generator's outputs and the targets, in ``[-1, 1]``,
        for ``inputs = (input images, target images)``."""
        source, target = inputs
        return np.stack([np.asarray(source, np.float32), self.translate(source), np.asarray(target, np.float32)])

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """The translations of the first ``n`` of ``inputs`` (held-out input images, or ``(inputs, targets)``)."""
        return self.translate(self.first_inputs(inputs, n, "input images"))


MODEL = Pix2Pix
CONFIG = Pix2PixConfig


@contextlib.contextmanager
def generator_switches(net: keras.Model, batch_norm: str = "moving", dropout: bool = False):
    """Run ``net`` with batch norm and dropout set separately; yields the ``training`` flag to call it with.

    Keras's one ``training`` flag sets both: ``True`` means batch statistics
    and dropout on. Inside this context, ``net(x, training=flag)`` uses batch
    statistics (``batch_norm="batch"``) or the moving averages (``"moving"``),
    with dropout on or off as asked. Batch norm layers marked non-trainable
    run in inference mode in Keras 3; dropout with rate 0 is the identity.
    On exit the layers' settings and the moving averages are restored, so a
    call with batch statistics does not change the model.
    """
    if batch_norm not in ("batch", "moving"):
        raise ValueError(f"batch_norm must be 'batch' or 'moving', got {batch_norm!r}")
    if batch_norm == "moving" and not dropout:
        yield False  # plain inference
        return
    norms = [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    drops = [layer for layer in net.layers if isinstance(layer, keras.layers.Dropout)]
    trainable, rates = [layer.trainable for layer in norms], [layer.rate for layer in drops]
    moving = [(v, v.numpy()) for layer in norms for v in layer.non_trainable_variables]
    try:
        for layer in norms:
            layer.trainable = batch_norm == "batch"
        for layer in drops:
            layer.rate = layer.rate if dropout else 0.0
        yield True
    finally:
        for layer, flag in zip(norms, trainable):
            layer.trainable = flag
        for layer, rate in zip(drops, rates):
            layer.rate = rate
        for variable, value in moving:
            variable.assign(value)


def dataset(cfg: Pix2PixConfig, split: str = "train", data_dir=None):
    """``(inputs, targets)`` arrays of the preset's data split (``train``, ``val`` or ``test``)."""
    if cfg.dataset == "offline":
        inputs, targets = paired.offline_pairs("test" if split != "train" else "train", cfg.image_size)
    else:
        inputs, targets = paired.load_pix2pix(cfg.dataset, split, image_size=cfg.image_size, data_dir=data_dir)
    if cfg.channels == 1:
        inputs, targets = with_channels(inputs, 1), with_channels(targets, 1)
    return inputs, targets


def batches(cfg: Pix2PixConfig, data):
    """The config's training pipeline over ``data = (inputs, targets)`` arrays: shuffled, jittered when the
    preset jitters, batched."""
    inputs, targets = data
    return paired.paired_dataset(inputs, targets, cfg.batch_size, jitter=cfg.jitter, seed=cfg.seed)


def training_data(cfg: Pix2PixConfig, data_dir=None, n_preview: int = 8):
    """What training needs: the streamed, jittered training batches of ``cfg.dataset``
    (:func:`gancourse.data.load`) and ``n_preview`` fixed validation pairs for the sample grid."""
    from gancourse import data

    return data.load(cfg, "train", data_dir=data_dir), preview_pairs(cfg, n_preview, data_dir=data_dir)


def preview_pairs(cfg: Pix2PixConfig, n: int, seed: int = 0, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out ``(inputs, targets)`` pairs of the validation split, picked reproducibly by ``seed``."""
    inputs, targets = dataset(cfg, "val", data_dir=data_dir)
    if not 1 <= n <= len(inputs):
        raise ValueError(f"n={n} preview pairs asked for; the validation split has {len(inputs)}")
    pick = np.sort(np.random.default_rng(seed).choice(len(inputs), n, replace=False))
    return inputs[pick], targets[pick]
