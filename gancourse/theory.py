"""Numerical companions to the theory chapter.

Everything here is small and exact enough to be checked against closed forms:

* divergences of densities given on a grid (:func:`kl_divergence`,
  :func:`js_divergence`) and the closed-form KL of two Gaussians;
* the optimal discriminator ``D*(x) = p_data / (p_data + p_g)`` and the value
  of the game at ``D*`` (:func:`virtual_criterion`, which equals
  ``-log 4 + 2 JSD``);
* :func:`fit_discriminator_1d`, a discriminator trained on samples of two fixed
  1-D densities, to compare with ``D*``;
* :func:`generator_loss_gradients`, the gradient each generator loss sends
  back through D's logit;
* :func:`bilinear_game`, gradient play on ``min_x max_y x*y``, the smallest
  game on which simultaneous gradient steps do not converge;
* :func:`pure_nash_equilibria` of a two-player matrix game.
"""

from __future__ import annotations

import numpy as np

LOG4 = float(np.log(4.0))


# ---------------------------------------------------------------------------
# Divergences on a grid
# ---------------------------------------------------------------------------
def _densities(p, q, dx):
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise ValueError("p and q must be finite and non-negative")
    dx = 1.0 if dx is None else float(dx)
    for name, d in (("p", p), ("q", q)):
        mass = d.sum() * dx
        if not np.isclose(mass, 1.0, atol=1e-3):
            raise ValueError(f"{name} integrates to {mass:.4f}, not 1: pass probabilities (dx=None) or a density "
                             "with its grid spacing dx")
    return p, q, dx


def kl_divergence(p, q, dx: float | None = None) -> float:
    """``KL(p || q) = sum p log(p / q)`` (times ``dx`` for densities on a grid).

    ``p`` and ``q`` are probability vectors (``dx=None``) or densities sampled
    on an even grid of spacing ``dx``. Terms with ``p = 0`` contribute 0; a
    point where ``p > 0`` and ``q = 0`` makes the divergence infinite.
    """
    p, q, dx = _densities(p, q, dx)
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])) * dx)


def js_divergence(p, q, dx: float | None = None) -> float:
    """``JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``; in ``[0, log 2]``."""
    p, q, dx = _densities(p, q, dx)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


def kl_gaussians(mu1: float, sigma1: float, mu2: float, sigma2: float) -> float:
    """Closed-form ``KL(N(mu1, sigma1^2) || N(mu2, sigma2^2))``."""
    return float(np.log(sigma2 / sigma1) + (sigma1 ** 2 + (mu1 - mu2) ** 2) / (2 * sigma2 ** 2) - 0.5)


def gaussian_pdf(x, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    """Density of ``N(mu, sigma^2)`` at ``x``."""
    x = np.asarray(x, np.float64)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


# ---------------------------------------------------------------------------
# The optimal discriminator and the value of the game
# ---------------------------------------------------------------------------
def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))``; ``1/2`` where both densities vanish."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def game_value(p_data, p_g, d, dx: float) -> float:
    """``V(D, G) = E_data[log D] + E_g[log(1 - D)]`` for a discriminator ``d`` given on the grid."""
    d = np.clip(np.asarray(d, np.float64), 1e-300, 1 - 1e-16)
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    return float(np.sum(p_data * np.log(d) + p_g * np.log1p(-d)) * dx)


def virtual_criterion(p_data, p_g, dx: float) -> float:
    """``C(G) = V(D*, G)``: the generator's objective once D is optimal.

    Goodfellow et al. show ``C(G) = -log 4 + 2 JSD(p_data || p_g)``, so its
    minimum ``-log 4`` is reached exactly when ``p_g = p_data``.
    """
    _densities(p_data, p_g, dx)
    return game_value(p_data, p_g, optimal_discriminator(p_data, p_g), dx)


def fit_discriminator_1d(sample_data, sample_g, grid, steps: int = 1500, batch: int = 256, hidden: int = 32,
                         learning_rate: float = 3e-3, seed: int = 0) -> np.ndarray:
    """Train a small discriminator on samples from two fixed 1-D distributions.

    ``sample_data(n, rng)`` and ``sample_g(n, rng)`` return ``n`` samples. The
    discriminator (two LeakyReLU layers, a logit) is trained with the usual
    BCE for ``steps`` full-batch Adam steps. Returns ``D(grid)`` as
    probabilities, to compare with :func:`optimal_discriminator`.
    """
    import keras
    import tensorflow as tf
    from keras import layers

    from gancourse import losses, set_seed

    set_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input((1,))
    x = layers.Dense(hidden, activation="leaky_relu")(inputs)
    x = layers.Dense(hidden, activation="leaky_relu")(x)
    d = keras.Model(inputs, layers.Dense(1)(x))
    opt = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(real, fake):
        with tf.GradientTape() as tape:
            loss = losses.discriminator_loss(d(real, training=True), d(fake, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
        return loss

    for _ in range(int(steps)):
        real = np.asarray(sample_data(batch, rng), np.float32).reshape(-1, 1)
        fake = np.asarray(sample_g(batch, rng), np.float32).reshape(-1, 1)
        step(real, fake)
    logits = d(np.asarray(grid, np.float32).reshape(-1, 1), training=False)
    return np.asarray(tf.sigmoid(logits)).ravel()


# ---------------------------------------------------------------------------
# Generator gradients
# ---------------------------------------------------------------------------
def generator_loss_gradients(d_of_fake) -> dict:
    """``d loss / d logit`` of both generator losses at the given ``D(G(z))`` values.

    Measured with autodiff through :mod:`gancourse.losses` (per sample, so not
    divided by the batch size). The minimax loss ``log(1 - D)`` has gradient
    ``-D``: it vanishes exactly when D confidently rejects the fakes, at the
    start of training. The non-saturating ``-log D`` has ``-(1 - D)``.

    Returns:
        ``{"minimax": array, "non_saturating": array}``.
    """
    import tensorflow as tf

    from gancourse import losses

    p = np.clip(np.asarray(d_of_fake, np.float64), 1e-12, 1 - 1e-12)
    logits = tf.Variable(np.log(p / (1 - p)).astype(np.float32).reshape(-1, 1))
    out = {}
    for name, loss_fn in (("minimax", losses.minimax_generator_loss),
                          ("non_saturating", losses.non_saturating_generator_loss)):
        with tf.GradientTape() as tape:
            loss = loss_fn(logits) * tf.cast(tf.size(logits), tf.float32)
        out[name] = np.asarray(tape.gradient(loss, logits)).ravel()
    return out


# ---------------------------------------------------------------------------
# Games
# ---------------------------------------------------------------------------
BILINEAR_METHODS = ("simultaneous", "alternating")


def bilinear_game(x0: float = 1.0, y0: float = 1.0, learning_rate: float = 0.1, steps: int = 100,
                  method: str = "simultaneous") -> np.ndarray:
    """Gradient play on ``min_x max_y V(x, y) = x * y`` (equilibrium at the origin).

    ``"simultaneous"``: both players step on the same old point; the distance
    to the equilibrium grows by ``sqrt(1 + lr^2)`` every step, so the players
    spiral outwards. ``"alternating"``: y answers x's new value; the iterates
    stay on a bounded orbit and circle the equilibrium without reaching it.

    Returns:
        ``(steps + 1, 2)`` array of ``(x, y)``.
    """
    if method not in BILINEAR_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(BILINEAR_METHODS)}")
    if learning_rate <= 0 or steps < 0:
        raise ValueError("learning_rate must be > 0 and steps >= 0")
    path = np.empty((int(steps) + 1, 2))
    x, y = float(x0), float(y0)
    path[0] = x, y
    for t in range(1, int(steps) + 1):
        x_new = x - learning_rate * y  # dV/dx = y, x descends
        y = y + learning_rate * (x_new if method == "alternating" else x)  # dV/dy = x, y ascends
        x = x_new
        path[t] = x, y
    return path


def pure_nash_equilibria(payoff_a, payoff_b) -> list[tuple[int, int]]:
    """Pure-strategy Nash equilibria of a two-player game.

    ``payoff_a[i, j]`` and ``payoff_b[i, j]`` are the payoffs (higher is better)
    of player A (rows) and B (columns) when A plays ``i`` and B plays ``j``.
    A cell is an equilibrium when neither player gains by changing only their
    own move.
    """
    a, b = np.asarray(payoff_a, np.float64), np.asarray(payoff_b, np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"payoffs must be two matrices of the same shape, got {a.shape} and {b.shape}")
    return [(i, j) for i in range(a.shape[0]) for j in range(a.shape[1])
            if a[i, j] >= a[:, j].max() and b[i, j] >= b[i, :].max()]
