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

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse import set_seed
from gancourse.config import Config, as_config, choice, non_negative, positive, unit_interval
from gancourse.data import paired
from gancourse.data.pipeline import with_channels
from gancourse.nn import translation
from gancourse.training import AdversarialModel, make_optimizer

DATASETS = ("facades", "maps", "edges2shoes", "edges2handbags", "cityscapes", "night2day", "offline")
SMOKE_WIDTH_DIVISOR = 4
STANDARD_EPOCHS = 25


@dataclasses.dataclass(frozen=True)
class Pix2PixConfig(Config):
    """Configuration of a :class:`Pix2Pix` model (see the module docstring)."""

    dataset: str = choice("facades", DATASETS)
    image_size: int = positive(256)
    channels: int = choice(3, (1, 3))
    generator: str = choice("paper", translation.UNET_VARIANTS)
    discriminator: str = choice("paper", translation.PATCHGAN_VARIANTS)
    base_filters: int = positive(64)
    bottleneck_norm: bool = False
    l1_weight: float = non_negative(100.0)
    gan_weight: float = non_negative(1.0)
    learning_rate: float = positive(2e-4)
    beta_1: float = unit_interval(0.5)
    jitter: bool = True
    steps_per_execution: int = positive(8)  # 1.27x the 1-step rate at 256 px on CPU (bench pix2pix)

    KIND = "pix2pix"

    def __post_init__(self):
        super().__post_init__()
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


_PRESETS = {
    "paper": dict(epochs=200, batch_size=1),
    "book": dict(generator="book", channels=1, learning_rate=1e-4, beta_1=0.9, epochs=500, batch_size=1,
                 jitter=False),
    "mastering_pytorch": dict(generator="mastering_pytorch", discriminator="mastering_pytorch", epochs=200,
                              batch_size=1),
}
PRESETS = tuple(_PRESETS)


def config(name: str = "paper", **overrides) -> Pix2PixConfig:
    """The named preset as a validated :class:`Pix2PixConfig`."""
    if name not in _PRESETS:
        raise ValueError(f"unknown pix2pix preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Pix2PixConfig(preset=name, **_PRESETS[name]).replace(**overrides)


def build_generator(cfg: Pix2PixConfig) -> keras.Model:
    """The preset's U-Net."""
    return translation.unet_generator(cfg.generator, cfg.image_size, cfg.channels, cfg.channels, cfg.base_filters,
                                      bottleneck_norm=cfg.bottleneck_norm, name=f"{cfg.preset}_generator")


def build_discriminator(cfg: Pix2PixConfig) -> keras.Model:
    """The preset's conditional PatchGAN."""
    return translation.patchgan_discriminator(cfg.discriminator, cfg.image_size, cfg.channels, cfg.channels,
                                              cfg.base_filters, name=f"{cfg.preset}_discriminator")


class Pix2Pix(AdversarialModel):
    """A conditional GAN for paired translation, trained with ``fit()`` on ``(input, target)`` batches.

    Metrics: ``d_loss``, ``g_loss`` (the total), ``g_gan``, ``g_l1``, ``d_real``
    and ``d_fake`` (mean ``D`` probability on real and generated pairs).

    Args:
        cfg: a :class:`Pix2PixConfig` or a preset name.
        data_dir: where the preset's dataset lives, for :meth:`preview_inputs`
            (default: the download cache).
    """

    METRICS = ("d_loss", "g_loss", "g_gan", "g_l1", "d_real", "d_fake")

    def __init__(self, cfg: Pix2PixConfig | str = "paper", data_dir=None):
        cfg = as_config(cfg, Pix2PixConfig, config, "Pix2Pix")
        super().__init__(build_generator(cfg), build_discriminator(cfg), seed=cfg.seed, name=f"pix2pix_{cfg.preset}")
        self.cfg = cfg
        self.data_dir = data_dir

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam from the config for each network unless given; ``kwargs`` go to ``keras.Model.compile``."""
        cfg = self.cfg
        kwargs.setdefault("steps_per_execution", cfg.steps_per_execution)
        super().compile(d_optimizer or make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1),
                        g_optimizer or make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1), **kwargs)

    def discriminator_step(self, source, target, fake=None):
        """One D update on real ``(source, target)`` and generated ``(source, fake)`` pairs
        (:func:`gancourse.nn.translation.discriminator_update`). Returns ``(loss, D(real), D(fake))``."""
        source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
        if fake is None:
            fake = self.generator(source, training=True)
        return translation.discriminator_update(self.discriminator, self.d_optimizer, target, fake, source=source)

    def generator_step(self, source, target):
        """One G update on the weighted cGAN + L1 objective
        (:func:`gancourse.nn.translation.generator_update`). Returns ``(total, gan, l1, fake)``."""
        source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
        return translation.generator_update(self.generator, self.discriminator, self.g_optimizer, source, target,
                                            l1_weight=self.cfg.l1_weight, gan_weight=self.cfg.gan_weight)

    def train_step(self, data):
        source, target = data
        g_total, g_gan, l1, fake = self.generator_step(source, target)
        if self.cfg.gan_weight:
            d_loss, d_real, d_fake = self.discriminator_step(source, target, fake)
        else:  # L1 only: no adversary to train
            d_loss, d_real, d_fake = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
        return self.record(d_loss=d_loss, g_loss=g_total, g_gan=g_gan, g_l1=l1, d_real=d_real, d_fake=d_fake)

    def translate(self, inputs: np.ndarray, training: bool = False, batch_size: int = 16) -> np.ndarray:
        """Outputs for ``inputs``, float32 in ``[-1, 1]``.

        ``training=True`` runs the generator as the paper and the TensorFlow
        tutorial do at test time: dropout stays on (it is the model's only
        noise) and batch norm uses the statistics of the batch.
        """
        inputs = np.asarray(inputs, np.float32)
        want = tuple(self.generator.inputs[0].shape[1:])
        if inputs.ndim != 4 or inputs.shape[1:] != want:
            raise ValueError(f"inputs must have shape (n, {', '.join(map(str, want))}), got {inputs.shape}")
        outs = [np.asarray(self.generator(inputs[i:i + batch_size], training=training))
                for i in range(0, len(inputs), batch_size)]
        return np.concatenate(outs).astype(np.float32)

    def preview_inputs(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` held-out ``(inputs, targets)`` pairs of the preset's validation split (:func:`preview_pairs`)."""
        return preview_pairs(self.cfg, n, seed, data_dir=self.data_dir)

    def preview(self, inputs) -> np.ndarray:
        """``(3, n, H, W, C)``: the inputs, the generator's outputs and the targets, in ``[-1, 1]``."""
        source, target = inputs
        return np.stack([np.asarray(source, np.float32), self.translate(source), np.asarray(target, np.float32)])

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Input / output / target rows for ``n`` validation pairs (see :meth:`preview`)."""
        return self.preview(self.preview_inputs(n, seed))


def describe_presets(names=PRESETS, image_size: int = 256) -> list[dict]:
    """One row per preset at full size: parameter counts, D output grid and receptive field, optimiser."""
    rows = []
    for name in names:
        cfg = config(name).replace(image_size=image_size)
        g, d = build_generator(cfg), build_discriminator(cfg)
        rows.append({"preset": name, "channels": cfg.channels, "generator": cfg.generator,
                     "G params": g.count_params(), "D params": d.count_params(),
                     "D output": "x".join(map(str, d.output_shape[1:3])),
                     "receptive field": translation.receptive_field(d),
                     "Adam": f"{cfg.learning_rate:g}, beta_1 {cfg.beta_1:g}", "batch": cfg.batch_size,
                     "epochs": cfg.epochs, "jitter": cfg.jitter})
    return rows


def batch_one_exhibit(image_size: int = 32, channels: int = 1, base_filters: int = 8, n: int = 4,
                      seed: int = 0) -> dict:
    """Measure the book's two batch-size-1 defects, in training mode, on ``n`` offline pairs.

    Returns a dict of floats:

    * ``bottleneck_spread_bug`` / ``bottleneck_spread_fixed``: the largest
      standard deviation, over the ``n`` inputs (each run as a batch of 1), of
      any channel of the 1x1 bottleneck activation of the book's U-Net with and
      without its bottleneck BatchNorm. 0 means the bottleneck says the same
      thing for every input.
    * ``bottleneck_grad_bug`` / ``bottleneck_grad_fixed``: the norm of the L1
      loss's gradient with respect to the bottleneck convolution's kernel.
    * ``book_d_spread_batch1``: the largest difference between the book
      discriminator's outputs for different images fed one at a time;
      ``book_d_spread_batchn`` the same images fed as one batch of ``n``.
    * ``mbd_min_batch1`` / ``mbd_max_batch1``: the range of the minibatch
      features over single-image batches (each is ``exp(0) = 1``).
    """
    set_seed(seed)
    inputs, targets = paired.offline_pairs("test", image_size, n=n, seed=seed)
    inputs, targets = with_channels(inputs, channels), with_channels(targets, channels)
    depth = len(translation.encoder_widths(image_size, base_filters))
    out = {}
    for label, norm in (("bug", True), ("fixed", False)):
        g = translation.unet_generator("book", image_size, channels, channels, base_filters, bottleneck_norm=norm)
        probe = keras.Model(g.input, [g.get_layer(f"down{depth}_act").output, g.outputs[0]])
        kernel = g.get_layer(f"down{depth}_conv").kernel
        codes, grads = [], []
        for i in range(n):
            with tf.GradientTape() as tape:
                code, fake = probe(inputs[i:i + 1], training=True)
                loss = tf.reduce_mean(tf.abs(targets[i:i + 1] - fake))
            codes.append(np.asarray(code).reshape(-1))
            grads.append(float(tf.norm(tape.gradient(loss, kernel))))
        out[f"bottleneck_spread_{label}"] = float(np.std(np.stack(codes), axis=0).max())
        out[f"bottleneck_grad_{label}"] = float(np.max(grads))
    d = translation.book_image_discriminator(image_size, channels, base_filters)
    singles = np.concatenate([np.asarray(d(targets[i:i + 1], training=True)) for i in range(n)])
    together = np.asarray(d(targets, training=True))
    out["book_d_spread_batch1"] = float(np.ptp(singles, axis=0).max())
    out["book_d_spread_batchn"] = float(np.ptp(together, axis=0).max())
    mbd = keras.Model(d.input, d.get_layer("minibatch_disc").output)
    features = np.concatenate([np.asarray(mbd(targets[i:i + 1], training=True)) for i in range(n)])
    out["mbd_min_batch1"], out["mbd_max_batch1"] = float(features.min()), float(features.max())
    return out


def dataset(cfg: Pix2PixConfig, split: str = "train", data_dir=None):
    """``(inputs, targets)`` arrays of the preset's data split (``train``, ``val`` or ``test``)."""
    if cfg.dataset == "offline":
        inputs, targets = paired.offline_pairs("test" if split != "train" else "train", cfg.image_size)
    else:
        inputs, targets = paired.load_pix2pix(cfg.dataset, split, image_size=cfg.image_size, data_dir=data_dir)
    if cfg.channels == 1:
        inputs, targets = with_channels(inputs, 1), with_channels(targets, 1)
    return inputs, targets


def training_batches(cfg: Pix2PixConfig, inputs: np.ndarray, targets: np.ndarray):
    """The config's training pipeline over ``(inputs, targets)``: shuffled, jittered when the preset jitters, batched."""
    return paired.paired_dataset(inputs, targets, cfg.batch_size, jitter=cfg.jitter, seed=cfg.seed)


def training_data(cfg: Pix2PixConfig, data_dir=None, n_preview: int = 8):
    """What ``python -m gancourse train`` needs: the training ``tf.data.Dataset``
    (:func:`training_batches`) and ``n_preview`` fixed validation pairs for the sample grid."""
    batches = training_batches(cfg, *dataset(cfg, "train", data_dir=data_dir))
    return batches, preview_pairs(cfg, n_preview, data_dir=data_dir)


def preview_pairs(cfg: Pix2PixConfig, n: int, seed: int = 0, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out ``(inputs, targets)`` pairs of the validation split, picked reproducibly by ``seed``."""
    inputs, targets = dataset(cfg, "val", data_dir=data_dir)
    if not 1 <= n <= len(inputs):
        raise ValueError(f"n={n} preview pairs asked for; the validation split has {len(inputs)}")
    pick = np.sort(np.random.default_rng(seed).choice(len(inputs), n, replace=False))
    return inputs[pick], targets[pick]


def train(cfg: Pix2PixConfig, callbacks=None, verbose: int = 0, data=None):
    """Build, compile and train; ``data`` is ``(inputs, targets)`` or the preset's train split.

    Returns ``(model, history)``.
    """
    set_seed(cfg.seed)
    inputs, targets = data if data is not None else dataset(cfg, "train")
    model = Pix2Pix(cfg)
    model.compile()
    history = model.fit(training_batches(cfg, inputs, targets), epochs=cfg.epochs, callbacks=callbacks or [],
                        verbose=verbose)
    return model, history


# ---------------------------------------------------------------------------
# The paper's ablation: which terms of the objective matter
# ---------------------------------------------------------------------------
ABLATION = {"L1 only": {"gan_weight": 0.0}, "cGAN only": {"l1_weight": 0.0}, "L1 + cGAN": {}}


def evaluate(model: Pix2Pix, inputs: np.ndarray, targets: np.ndarray, training: bool = False) -> dict:
    """:func:`gancourse.metrics.paired_scores` of the model's translations of ``inputs`` against ``targets``."""
    from gancourse import metrics

    return metrics.paired_scores(model.translate(inputs, training=training), targets)


def ablation(cfg: Pix2PixConfig, variants: dict | None = None, train_data=None, test_data=None,
             trained: dict | None = None) -> tuple[list[dict], dict]:
    """Train one model per objective and score each on held-out pairs.

    Args:
        cfg: the base config; each variant overrides some of its fields
            (default :data:`ABLATION`: L1 only, cGAN only, L1 + cGAN).
        train_data, test_data: ``(inputs, targets)``; default the preset's
            train and test splits.
        trained: models already trained for some variants (``{name: model}``),
            used as they are instead of training again.

    Returns:
        ``(rows, models)``: one row per variant (``objective`` and the scores of
        :func:`evaluate`), with an ``identity`` row first (the input copied to
        the output) as the floor any model must beat; ``models`` maps the
        variant names to the trained models.
    """
    from gancourse import metrics

    variants = ABLATION if variants is None else variants
    x_train, y_train = train_data if train_data is not None else dataset(cfg, "train")
    x_test, y_test = test_data if test_data is not None else dataset(cfg, "test")
    models = dict(trained or {})
    rows = [{"objective": "identity (input as output)", **metrics.paired_scores(x_test, y_test)}]
    for name, changes in variants.items():
        if name not in models:
            models[name], _ = train(cfg.replace(**changes), data=(x_train, y_train))
        rows.append({"objective": name, **evaluate(models[name], x_test, y_test)})
    return rows, models
