"""Numerical companions to the theory chapter.

Everything here is small and exact enough to be checked against closed forms:

* divergences of densities given on a grid (:func:`kl_divergence`,
  :func:`js_divergence`), the closed-form KL of two Gaussians, the
  Wasserstein-1 distance of two 1-D densities (:func:`wasserstein1_1d`) and
  the best single Gaussian under forward or reverse KL (:func:`fit_gaussian_kl`);
* the optimal discriminator ``D*(x) = p_data / (p_data + p_g)`` and the value
  of the game at ``D*`` (:func:`virtual_criterion`, which equals
  ``-log 4 + 2 JSD``);
* :func:`fit_discriminator_1d`, a discriminator trained on samples of two fixed
  1-D densities, to compare with ``D*``;
* :func:`generator_costs` and :func:`generator_loss_gradients`: the minimax,
  non-saturating and maximum-likelihood generator costs and the gradient each
  sends back through D's logit;
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


def wasserstein1_1d(p, q, dx: float) -> float:
    """Wasserstein-1 (earth mover's) distance of two 1-D densities on an even grid of spacing ``dx``.

    In one dimension ``W1(p, q) = integral |F_p(x) - F_q(x)| dx`` with ``F`` the
    cumulative distribution functions. Unlike JS it keeps growing with the
    distance between non-overlapping distributions: two copies of one density
    shifted by ``s`` are exactly ``|s|`` apart.
    """
    p, q, dx = _densities(p, q, dx)
    return float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))) * dx * dx)


KL_DIRECTIONS = ("forward", "reverse")


def fit_gaussian_kl(x, p, direction: str = "forward", starts: int = 9) -> tuple[float, float, float]:
    """The single Gaussian ``q = N(mu, sigma^2)`` closest to the density ``p`` (on the even grid ``x``) in KL.

    ``"forward"`` minimises ``KL(p || q)``: ``q`` must put mass wherever ``p``
    has some, so it spreads over all of ``p``'s modes (mode covering; for a
    Gaussian ``q`` the optimum matches ``p``'s mean and variance).
    ``"reverse"`` minimises ``KL(q || p)``: ``q`` is punished for mass where
    ``p`` has little, so it settles on one mode (mode seeking). Both directions
    are minimised the same way: Nelder-Mead over ``(mu, log sigma)`` from
    ``starts`` initial means spread across the grid, each with a narrow and a
    wide initial width, keeping the best (reverse KL has local minima).

    Returns:
        ``(mu, sigma, divergence)`` of the best Gaussian.
    """
    from scipy.optimize import minimize

    if direction not in KL_DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {', '.join(KL_DIRECTIONS)}")
    x, p = np.asarray(x, np.float64), np.asarray(p, np.float64)
    if x.ndim != 1 or p.shape != x.shape or len(x) < 3:
        raise ValueError(f"x must be a 1-D grid and p the density on it; got shapes {x.shape} and {p.shape}")
    dx, span = float(x[1] - x[0]), float(x[-1] - x[0])
    support = p > 0
    logp = np.log(np.where(support, p, 1.0))

    def divergence(params):
        mu, log_sigma = params
        sigma = float(np.exp(np.clip(log_sigma, np.log(dx), np.log(span))))
        logq = -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
        if direction == "forward":
            return float(np.sum(p[support] * (logp[support] - logq[support])) * dx)
        q = np.exp(logq)
        if np.any(q[~support] > 1e-300):  # mass where p = 0 makes KL(q || p) infinite
            return float("inf")
        return float(np.sum(q[support] * (logq[support] - logp[support])) * dx)

    best = None
    for mu0 in np.linspace(x[0] + span / 4, x[-1] - span / 4, int(starts)):
        for sigma0 in (span / 40, span / 8):  # narrow and wide starts: reverse KL has local minima of both kinds
            result = minimize(divergence, [mu0, np.log(sigma0)], method="Nelder-Mead",
                              options={"xatol": 1e-5, "fatol": 1e-9, "maxiter": 2000})
            if best is None or result.fun < best.fun:
                best = result
    mu, log_sigma = best.x
    return float(mu), float(np.exp(np.clip(log_sigma, np.log(dx), np.log(span)))), float(best.fun)


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
GENERATOR_COSTS = ("minimax", "non_saturating", "maximum_likelihood")


def _generator_cost_fns():
    import tensorflow as tf

    from gancourse import losses

    return {"minimax": losses.minimax_generator_loss,
            "non_saturating": losses.non_saturating_generator_loss,
            # -E[exp(logit)] = -E[D / (1 - D)]: exp of the inverse sigmoid of D
            "maximum_likelihood": lambda logits: -tf.reduce_mean(tf.exp(logits))}


def _logits(d_of_fake):
    p = np.clip(np.asarray(d_of_fake, np.float64), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p)).astype(np.float32).reshape(-1, 1)


def generator_costs(d_of_fake) -> dict:
    """Per-sample value of the three generator costs at the given ``D(G(z))`` (the generator minimises each).

    ``minimax``: ``log(1 - D)``, the original game. ``non_saturating``:
    ``-log D``. ``maximum_likelihood``: ``-exp(sigmoid^-1(D)) = -D / (1 - D)``,
    the cost whose expected gradient, with an optimal discriminator, is that of
    ``KL(p_data || p_g)``, the maximum-likelihood objective (Goodfellow's NIPS
    2016 tutorial). Each is twice the tutorial's cost, the scale of
    :mod:`gancourse.losses`.

    Returns:
        ``{name: array}`` for the names in :data:`GENERATOR_COSTS`.
    """
    logits = _logits(d_of_fake).astype(np.float64).ravel()
    return {"minimax": -np.logaddexp(0.0, logits),  # log(1 - sigmoid(l)) = -softplus(l)
            "non_saturating": np.logaddexp(0.0, -logits),  # -log sigmoid(l) = softplus(-l)
            "maximum_likelihood": -np.exp(logits)}


def generator_loss_gradients(d_of_fake) -> dict:
    """``d loss / d logit`` of the generator costs at the given ``D(G(z))`` values.

    Measured with autodiff (per sample, so not divided by the batch size). The
    minimax loss ``log(1 - D)`` has gradient ``-D``: it vanishes exactly when D
    confidently rejects the fakes, at the start of training. The
    non-saturating ``-log D`` has ``-(1 - D)``. The maximum-likelihood cost
    ``-D / (1 - D)`` has ``-D / (1 - D)``: it vanishes for rejected fakes too,
    and is dominated by the few samples D already accepts.

    Returns:
        ``{"minimax": array, "non_saturating": array, "maximum_likelihood": array}``.
    """
    import tensorflow as tf

    logits = tf.Variable(_logits(d_of_fake))
    out = {}
    for name, loss_fn in _generator_cost_fns().items():
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
