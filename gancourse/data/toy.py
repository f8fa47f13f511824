"""Toy distributions for the theory chapter: small, exact, and fast to learn.

Every sampler takes a ``seed`` and returns ``float32`` arrays, so experiments
are reproducible.
"""

from __future__ import annotations

import numpy as np


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """``(modes, 2)`` centres evenly spaced on a circle."""
    if modes < 1 or radius <= 0:
        raise ValueError(f"need modes >= 1 and radius > 0, got {modes} and {radius}")
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1).astype(np.float32)


def ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` samples of the ring of Gaussians, equal weight per mode."""
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)
    picks = rng.integers(0, modes, n)
    return (centers[picks] + rng.normal(0.0, std, (n, 2))).astype(np.float32)


def gaussian_mixture_1d(n: int, means=(-2.0, 2.0), stds=(0.5, 0.5), weights=None, seed: int = 0) -> np.ndarray:
    """``(n, 1)`` samples of a 1-D Gaussian mixture."""
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    if means.shape != stds.shape or np.any(stds <= 0):
        raise ValueError("means and stds must have the same length and stds must be > 0")
    weights = np.full(len(means), 1 / len(means)) if weights is None else np.asarray(weights, float)
    if weights.shape != means.shape or not np.isclose(weights.sum(), 1.0) or np.any(weights < 0):
        raise ValueError("weights must be non-negative, one per component, and sum to 1")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(means), n, p=weights)
    return rng.normal(means[picks], stds[picks])[:, None].astype(np.float32)


def gaussian_mixture_pdf(x: np.ndarray, means=(-2.0, 2.0), stds=(0.5, 0.5), weights=None) -> np.ndarray:
    """Density of :func:`gaussian_mixture_1d` at the points ``x``."""
    from scipy.stats import norm

    means, stds = np.asarray(means, float), np.asarray(stds, float)
    weights = np.full(len(means), 1 / len(means)) if weights is None else np.asarray(weights, float)
    x = np.asarray(x, float)[..., None]
    return np.sum(weights * norm.pdf(x, means, stds), axis=-1)
