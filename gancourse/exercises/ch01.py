"""Chapter 01 (GAN theory) exercises: references and graders.

A reader's function is called with NumPy's floating-point warnings captured:
a first attempt that divides by zero or overflows gets a message that names
the warning, instead of printing a RuntimeWarning under the exercise.
"""

from __future__ import annotations

import warnings

import numpy as np

from gancourse import metrics, theory


def _call(answer, *args):
    """``(answer(*args), note)``: the result, and the NumPy warnings it raised as a short note ("" if none)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            value = answer(*args)
    messages = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
    return value, (f" (NumPy warned: {'; '.join(messages)})" if messages else "")


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Reference: Jensen-Shannon divergence of two probability vectors (natural log)."""
    return theory.js_divergence(p, q)


def _probability_pairs():
    rng = np.random.default_rng(0)
    pairs = [(np.array([0.5, 0.5]), np.array([0.5, 0.5])),
             (np.array([1.0, 0.0]), np.array([0.0, 1.0])),  # disjoint supports: log 2
             (np.array([0.2, 0.8, 0.0]), np.array([0.1, 0.3, 0.6]))]  # zeros must not give NaN
    for k in (3, 10):
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        pairs.append((p, q))
    return pairs


def grade_js_divergence(answer) -> None:
    """Grade a reader's ``js_divergence``: raise ``AssertionError`` naming the first case it gets wrong."""
    for p, q in _probability_pairs():
        want = js_divergence(p, q)
        got, note = _call(answer, p.copy(), q.copy())
        got = float(got)
        assert np.isfinite(got), (f"p={np.round(p, 3)}, q={np.round(q, 3)}: got {got}; terms with p = 0 contribute 0"
                                  + note)
        assert abs(got - want) < 1e-6, (f"p={np.round(p, 3)}, q={np.round(q, 3)}: expected {want:.6f}, got {got:.6f} "
                                        "(use the natural log and the mixture m = (p + q) / 2)")
        got_swapped = float(_call(answer, q.copy(), p.copy())[0])
        assert abs(got - got_swapped) < 1e-9, "JS divergence is symmetric: JS(p, q) must equal JS(q, p)"


def non_saturating_loss(fake_logits: np.ndarray) -> float:
    """Reference: mean non-saturating generator loss ``-log D(G(z))`` from D's logits."""
    x = np.asarray(fake_logits, np.float64)
    return float(np.mean(np.logaddexp(0.0, -x)))  # -log sigmoid(x) = softplus(-x), stable


def grade_non_saturating_loss(answer) -> None:
    """Grade a reader's ``non_saturating_loss``: raise ``AssertionError`` naming the first case it gets wrong."""
    cases = [np.zeros(4), np.array([-3.0, 0.5, 2.0]), np.array([-800.0, 800.0]),  # large logits: use softplus
             np.random.default_rng(1).normal(0, 3, 32)]
    for logits in cases:
        want = non_saturating_loss(logits)
        got, note = _call(answer, logits.copy())
        got = float(got)
        assert np.isfinite(got), (f"logits {np.round(logits[:4], 2)}: got {got}; compute -log(sigmoid(x)) as "
                                  "softplus(-x) = log(1 + exp(-x)) in a stable form (np.logaddexp)" + note)
        assert abs(got - want) < 1e-6 * max(1.0, abs(want)), (
            f"logits {np.round(logits[:4], 2)}: expected {want:.6f}, got {got:.6f} (mean of -log D over the batch, "
            "with D = sigmoid(logit))")


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """Reference: ``D*(x) = p_data / (p_data + p_g)``, 1/2 where both densities are zero."""
    return theory.optimal_discriminator(p_data, p_g)


def grade_optimal_discriminator(answer) -> None:
    """Grade a reader's ``optimal_discriminator``: raise ``AssertionError`` naming the first case it gets wrong."""
    x = np.linspace(-6, 6, 241)
    cases = [(theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 0, 1)),
             (theory.gaussian_pdf(x, -1, 1), theory.gaussian_pdf(x, 2, 0.5)),
             (np.array([0.0, 0.2, 0.5]), np.array([0.0, 0.0, 0.5]))]
    for p_data, p_g in cases:
        want = optimal_discriminator(p_data, p_g)
        got, note = _call(answer, p_data.copy(), p_g.copy())
        got = np.asarray(got, np.float64)
        assert got.shape == want.shape, f"return one value per grid point: shape {want.shape}, got {got.shape}"
        assert np.all(np.isfinite(got)), ("got NaN or inf: where p_data = p_g = 0 nothing favours either side, use 1/2"
                                          + note)
        worst = int(np.argmax(np.abs(got - want)))
        assert np.allclose(got, want, atol=1e-9), (
            f"at p_data={p_data[worst]:.4f}, p_g={p_g[worst]:.4f}: expected D*={want[worst]:.4f}, got {got[worst]:.4f}")


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Reference: Fréchet distance between Gaussians fitted to two feature sets."""
    return metrics.fid_from_features(real, fake)


def grade_fid_from_features(answer) -> None:
    """Grade a reader's ``fid_from_features``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(400, 6)) @ np.diag([1, 1, 2, 1, 0.5, 1]) + 0.7
    # Anisotropic covariances with different axes: sqrtm(S1 S2) differs from sqrtm(S1) sqrtm(S2) only when
    # the two do not commute, so this case catches that shortcut.
    axes, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    stretched = np.diag([6.0, 3.0, 1.0, 1.0, 0.3, 0.1])
    c = rng.normal(size=(2000, 6)) @ stretched
    d = rng.normal(size=(2000, 6)) @ stretched @ axes
    cases = [("identical sets", a, a), ("shifted and rescaled", a, b),
             ("correlated", a, a @ rng.normal(size=(6, 6))), ("anisotropic, rotated", c, d)]
    for name, x, y in cases:
        want = fid_from_features(x, y)
        got = float(_call(answer, x.copy(), y.copy())[0])
        assert abs(got - want) < 1e-4 * max(1.0, want), (
            f"{name}: expected {want:.5f}, got {got:.5f} (||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)); "
            "covariances with np.cov(x, rowvar=False); drop the tiny imaginary part of sqrtm)")


def value_at_optimum(p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """Reference: ``C(G) = V(D*, G)``, the value of the game when D is optimal, for densities on a grid."""
    return theory.virtual_criterion(p_data, p_g, dx)


def grade_value_at_optimum(answer) -> None:
    """Grade a reader's ``value_at_optimum``: raise ``AssertionError`` naming the first case it gets wrong.

    The cases are the situations the theory is about: a generator that matches
    the data (the global minimum, -log 4), one that overlaps it partly, and one
    whose support is disjoint from the data's (D* is 1 and 0 there, the value
    is 0 and JS is saturated at log 2).
    """
    x = np.linspace(-10, 10, 2001)
    dx = float(x[1] - x[0])
    box = lambda lo, hi: np.where((x >= lo) & (x < hi), 1.0, 0.0) / ((hi - lo))  # noqa: E731
    cases = [("generator equals the data", theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 0, 1)),
             ("partial overlap", theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 1.5, 0.7)),
             ("disjoint supports", box(-4, -2), box(2, 4)),
             ("half overlapping boxes", box(-2, 0), box(-1, 1))]
    for name, p_data, p_g in cases:
        want = value_at_optimum(p_data, p_g, dx)
        got, note = _call(answer, p_data.copy(), p_g.copy(), dx)
        got = float(got)
        assert np.isfinite(got), (f"{name}: got {got}; where p_data = 0 the term p_data log D* is 0, and where "
                                  "p_g = 0 the term p_g log(1 - D*) is 0: skip those points" + note)
        assert abs(got - want) < 1e-6, (
            f"{name}: expected {want:.6f}, got {got:.6f} (C(G) = E_data[log D*] + E_g[log(1 - D*)] with "
            "D* = p_data / (p_data + p_g), integrated with dx; it equals -log 4 + 2 JSD)")


EXERCISES = {
    "01.js_divergence": ("Jensen-Shannon divergence of two probability vectors", js_divergence,
                         grade_js_divergence),
    "01.non_saturating_loss": ("The non-saturating generator loss from logits", non_saturating_loss,
                               grade_non_saturating_loss),
    "01.optimal_discriminator": ("The optimal discriminator D* on a grid", optimal_discriminator,
                                 grade_optimal_discriminator),
    "01.fid_from_features": ("Fréchet distance from two feature sets", fid_from_features, grade_fid_from_features),
    "01.value_at_optimum": ("The value of the game at the optimal discriminator", value_at_optimum,
                            grade_value_at_optimum),
}
