"""Chapter 04: the DCGAN presets of the course's sources, described and trained on the same data."""

from __future__ import annotations

import time

from gancourse import training
from gancourse.models.dcgan import PRESETS, DCGANConfig, build_discriminator, build_generator, config


def describe_presets(names=PRESETS) -> list[dict]:
    """One row per preset: data, image shape, parameter counts, optimiser, labels, noise.

    Builds the full-size networks (the largest, ``book``, has 55 M parameters).
    """
    rows = []
    for name in names:
        cfg = config(name)
        opt = (f"SGD({cfg.learning_rate:g}, m={cfg.momentum:g}{', Nesterov' if cfg.nesterov else ''})"
               if cfg.optimizer == "sgd" else f"Adam({cfg.learning_rate:g}, b1={cfg.beta_1:g})")
        rows.append({"preset": name, "data": cfg.dataset, "image": f"{cfg.image_size}x{cfg.image_size}x{cfg.channels}",
                     "G params": build_generator(cfg).count_params(),
                     "D params": build_discriminator(cfg).count_params(),
                     "optimizer": opt + (" + decay" if cfg.lr_decay else ""),
                     "labels": cfg.label_smoothing, "noise": cfg.noise, "batch": cfg.batch_size})
    return rows


def comparison_config(name: str, profile_name: str | None = None, max_epochs: int | None = None) -> DCGANConfig:
    """A preset scaled for a profile so that all presets can train on the same data.

    Presets made for a face folder (``book``, ``paper``) switch to greyscale
    Fashion-MNIST at 32x32 outside the smoke profile, so the comparison needs no
    data you have to supply.
    """
    cfg = config(name).scaled(profile_name)
    if cfg.dataset == "faces":
        cfg = cfg.replace(dataset="fashion_mnist", channels=1, image_size=32)
    if max_epochs is not None:
        cfg = cfg.replace(epochs=min(cfg.epochs, max_epochs))
    return cfg


def compare_presets(extractor, real_features, names=PRESETS, profile_name: str | None = None,
                    max_epochs: int | None = None, n_samples: int = 16, verbose: int = 0) -> dict[str, dict]:
    """Train each preset on the same data and measure it the same way.

    Args:
        extractor: feature extractor for the Fréchet distance (see :mod:`gancourse.metrics`).
        real_features: features of held-out real images.
        names: presets to train.
        profile_name: profile (``None``: ``GANCOURSE_PROFILE``).
        max_epochs: cap on every preset's epochs.

    Returns:
        ``{preset: {"config", "history", "fid" (per epoch), "samples", "seconds"}}``.
    """
    results = {}
    for name in names:
        cfg = comparison_config(name, profile_name, max_epochs)
        fid = training.FIDMonitor(extractor, real_features, n=cfg.fid_samples)
        grid = training.SampleGrid(n_samples, every=cfg.epochs)
        start = time.perf_counter()
        _, history, _ = training.train(cfg, callbacks=[fid, grid], verbose=verbose)
        results[name] = {"config": cfg, "history": history.history, "fid": fid.values,
                         "samples": grid.images[cfg.epochs], "seconds": time.perf_counter() - start}
    return results

