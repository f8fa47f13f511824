"""Chapter 08: the pix2pix presets described, the paper's objective ablation, and the book's batch-1 defects."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gancourse import metrics, set_seed, training
from gancourse.data import paired
from gancourse.data.pipeline import with_channels
from gancourse.models.pix2pix import PRESETS, Pix2Pix, Pix2PixConfig, build_discriminator, build_generator, config, dataset
from gancourse.nn import translation


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


ABLATION = {"L1 only": {"gan_weight": 0.0}, "cGAN only": {"l1_weight": 0.0}, "L1 + cGAN": {}}


def evaluate(model: Pix2Pix, inputs: np.ndarray, targets: np.ndarray, training: bool = False) -> dict:
    """:func:`gancourse.metrics.paired_scores` of the model's translations of ``inputs`` against ``targets``."""
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
    variants = ABLATION if variants is None else variants
    x_train, y_train = train_data if train_data is not None else dataset(cfg, "train")
    x_test, y_test = test_data if test_data is not None else dataset(cfg, "test")
    models = dict(trained or {})
    rows = [{"objective": "identity (input as output)", **metrics.paired_scores(x_test, y_test)}]
    for name, changes in variants.items():
        if name not in models:
            models[name] = training.train(cfg.replace(**changes), data=(x_train, y_train)).model
        rows.append({"objective": name, **evaluate(models[name], x_test, y_test)})
    return rows, models
