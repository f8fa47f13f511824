"""Chapter 04 (DCGAN) exercises: references and graders."""

from __future__ import annotations

import itertools

import numpy as np


def transposed_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Reference: output side of ``Conv2DTranspose`` for an input side ``size``."""
    if padding == "same":
        return size * stride
    return size * stride + max(kernel - stride, 0)


def grade_transposed_output_size(answer) -> None:
    """Grade a reader's ``transposed_output_size``: raise ``AssertionError`` naming the first case it gets wrong."""
    for size, kernel, stride, padding in itertools.product((1, 4, 7, 8), (1, 3, 4, 5), (1, 2, 3), ("same", "valid")):
        want = transposed_output_size(size, kernel, stride, padding)
        got = answer(size, kernel, stride, padding)
        assert got == want, (f"size={size}, kernel={kernel}, stride={stride}, padding={padding!r}: "
                             f"expected {want}, got {got}")


def discriminator_targets(n: int, mode: str, smoothing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Reference: ``(real, fake)`` target arrays of shape ``(n, 1)`` for a label-smoothing mode.

    ``"noisy"`` (the source book's scheme) draws every target anew:
    real ~ U(1 - 2 smoothing, 1), fake ~ U(0, 2 smoothing).
    """
    if mode == "noisy":
        rng = np.random.default_rng()
        return (1.0 - rng.uniform(0.0, 2 * smoothing, (n, 1))).astype(np.float32), \
            rng.uniform(0.0, 2 * smoothing, (n, 1)).astype(np.float32)
    real = np.full((n, 1), 1.0 if mode == "none" else 1.0 - smoothing, dtype=np.float32)
    fake = np.full((n, 1), smoothing if mode == "two_sided" else 0.0, dtype=np.float32)
    return real, fake


def grade_discriminator_targets(answer) -> None:
    """Grade a reader's ``discriminator_targets``: raise ``AssertionError`` naming the first case it gets wrong."""
    for n, mode, s in itertools.product((1, 5), ("none", "one_sided", "two_sided"), (0.1, 0.2)):
        want_real, want_fake = discriminator_targets(n, mode, s)
        got = answer(n, mode, s)
        assert isinstance(got, tuple) and len(got) == 2, f"return a (real, fake) pair, got {type(got).__name__}"
        real, fake = (np.asarray(g, dtype=np.float32) for g in got)
        assert real.shape == (n, 1) and fake.shape == (n, 1), \
            f"n={n}: both arrays must have shape ({n}, 1), got {real.shape} and {fake.shape}"
        assert np.allclose(real, want_real) and np.allclose(fake, want_fake), (
            f"mode={mode!r}, smoothing={s}: expected real={want_real[0, 0]:.2f}, fake={want_fake[0, 0]:.2f}; "
            f"got real={real[0, 0]:.2f}, fake={fake[0, 0]:.2f}")
    n, s = 4000, 0.1
    real, fake = (np.asarray(g, dtype=np.float64).reshape(-1) for g in answer(n, "noisy", s))
    assert real.size == fake.size == n, f"mode='noisy': return ({n}, 1) arrays, got {real.size} and {fake.size} values"
    assert real.min() >= 1 - 2 * s - 1e-6 and real.max() <= 1 + 1e-6 and fake.min() >= -1e-6 \
        and fake.max() <= 2 * s + 1e-6, (f"mode='noisy', smoothing={s}: real targets must lie in [{1 - 2 * s:.1f}, 1] "
                                         f"and fake ones in [0, {2 * s:.1f}]; got real in [{real.min():.2f}, "
                                         f"{real.max():.2f}], fake in [{fake.min():.2f}, {fake.max():.2f}]")
    assert real.std() > s / 4 and fake.std() > s / 4, \
        "mode='noisy': draw every target anew (uniformly), not one value for all"
    assert abs(real.mean() - (1 - s)) < 0.01 and abs(fake.mean() - s) < 0.01, (
        f"mode='noisy': uniform draws average {1 - s:.2f} (real) and {s:.2f} (fake); got {real.mean():.3f} and "
        f"{fake.mean():.3f}")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Reference: generator output in ``[-1, 1]`` -> ``uint8`` in ``[0, 255]``."""
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def grade_to_uint8(answer) -> None:
    """Grade a reader's ``to_uint8``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(0)
    cases = [np.array([-1.0, 0.0, 1.0], np.float32), rng.uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32),
             np.array([-1.2, 1.3], np.float32)]
    for x in cases:
        got = np.asarray(answer(x.copy()))
        assert got.dtype == np.uint8, f"return dtype uint8 (images are saved and shown as uint8), got {got.dtype}"
        assert got.shape == x.shape, f"keep the shape {x.shape}, got {got.shape}"
        scaled = (np.clip(x, -1.0, 1.0) + 1.0) * 127.5
        # Either rounding convention is right where a value sits exactly halfway between two grey levels.
        ok = (got == np.round(scaled)) | (got == np.floor(scaled + 0.5))
        if not ok.all():
            bad = np.argwhere(~ok.reshape(-1))[0, 0]
            hint = ("round to the nearest grey level; astype alone truncates, half a level darker on average"
                    if got.reshape(-1)[bad] == np.floor(scaled.reshape(-1)[bad]) else
                    "remember -1 -> 0, 1 -> 255, and clip values outside [-1, 1]")
            raise AssertionError(f"for input {x.reshape(-1)[bad]:.4f} expected {int(np.round(scaled.reshape(-1)[bad]))}, "
                                 f"got {got.reshape(-1)[bad]} ({hint})")


def conv2d_params(in_channels: int, filters: int, kernel: int, use_bias: bool = True) -> int:
    """Reference: trainable parameters of a ``Conv2D`` layer."""
    return kernel * kernel * in_channels * filters + (filters if use_bias else 0)


def grade_conv2d_params(answer) -> None:
    """Grade a reader's ``conv2d_params``: raise ``AssertionError`` naming the first case it gets wrong."""
    for c, f, k, b in itertools.product((1, 3, 64), (1, 32, 128), (1, 3, 5), (True, False)):
        want = conv2d_params(c, f, k, b)
        got = answer(c, f, k, b)
        assert got == want, f"in_channels={c}, filters={f}, kernel={k}, use_bias={b}: expected {want}, got {got}"


def optimal_discriminator(p_data: np.ndarray, p_model: np.ndarray, real_target: float = 1.0,
                          fake_target: float = 0.0) -> np.ndarray:
    """Reference: the discriminator output that minimises the expected cross-entropy at every point.

    With real images labelled ``real_target`` and fakes ``fake_target``, the
    pointwise optimum is ``(r p_data + f p_model) / (p_data + p_model)``
    (Goodfellow et al.'s ``p_data / (p_data + p_model)`` when ``r = 1, f = 0``).
    """
    p_data, p_model = np.asarray(p_data, np.float64), np.asarray(p_model, np.float64)
    return (real_target * p_data + fake_target * p_model) / (p_data + p_model)


def grade_optimal_discriminator(answer) -> None:
    """Grade a reader's ``optimal_discriminator``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(4)
    p_data = np.concatenate([[0.0, 1.0, 0.3], rng.uniform(0.01, 2.0, 20)])  # only fakes, only data, equal
    p_model = np.concatenate([[1.0, 0.0, 0.3], rng.uniform(0.01, 2.0, 20)])
    for r, f in ((1.0, 0.0), (0.9, 0.0), (0.9, 0.1), (0.8, 0.2)):
        want = optimal_discriminator(p_data, p_model, r, f)
        got = np.asarray(answer(p_data, p_model, r, f), np.float64)
        assert got.shape == want.shape, f"return one value per point, shape {want.shape}; got {got.shape}"
        bad = np.flatnonzero(~np.isclose(got, want, atol=1e-6))
        assert bad.size == 0, (
            f"real_target={r}, fake_target={f}, p_data={p_data[bad[0]]:.3f}, p_model={p_model[bad[0]]:.3f}: "
            f"expected D* = {want[bad[0]]:.4f}, got {got[bad[0]]:.4f}"
            + (" (where only fakes live, the best D outputs the fake target)" if p_data[bad[0]] == 0 else "")
            + (" (where only real data lives, the best D outputs the real target)" if p_model[bad[0]] == 0 else ""))


EXERCISES = {
    "04.transposed_output_size": ("Output size of a transposed convolution", transposed_output_size,
                                  grade_transposed_output_size),
    "04.discriminator_targets": ("Label targets for none / one-sided / two-sided smoothing", discriminator_targets,
                                 grade_discriminator_targets),
    "04.to_uint8": ("De-normalise generator output for display", to_uint8, grade_to_uint8),
    "04.conv2d_params": ("Parameter count of a Conv2D layer", conv2d_params, grade_conv2d_params),
    "04.optimal_discriminator": ("The optimal discriminator under smoothed label targets", optimal_discriminator,
                                 grade_optimal_discriminator),
}
