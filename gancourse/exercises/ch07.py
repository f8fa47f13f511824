"""Chapter 07 (CycleGAN) exercises: references and graders."""

from __future__ import annotations

import numpy as np

from gancourse.experiments import ch07


def cycle_loss(a: np.ndarray, b: np.ndarray, reconstructed_a: np.ndarray, reconstructed_b: np.ndarray,
               weight: float = 10.0) -> float:
    """Reference: ``weight * (mean|F(G(a)) - a| + mean|G(F(b)) - b|)``, the cycle-consistency term of CycleGAN."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    forward = np.mean(np.abs(np.asarray(reconstructed_a, np.float64) - a))
    backward = np.mean(np.abs(np.asarray(reconstructed_b, np.float64) - b))
    return float(weight * (forward + backward))


def _cycle_cases():
    rng = np.random.default_rng(7)
    a, b = rng.uniform(-1, 1, (4, 8, 8, 3)), rng.uniform(-1, 1, (6, 8, 8, 3))
    yield "perfect reconstructions", a, b, a.copy(), b.copy(), 10.0
    noisy_a, noisy_b = a + rng.normal(0, 0.2, a.shape), b + rng.normal(0, 0.1, b.shape)
    yield "noisy reconstructions, lambda = 10", a, b, noisy_a, noisy_b, 10.0
    yield "only the A cycle is off", a, b, -a, b.copy(), 10.0
    yield "only the B cycle is off, lambda = 5", a, b, a.copy(), np.clip(b + 0.5, -1, 1), 5.0


def grade_cycle_loss(answer) -> None:
    """Grade a reader's ``cycle_loss``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, a, b, ra, rb, weight in _cycle_cases():
        want = cycle_loss(a, b, ra, rb, weight)
        got = float(answer(a.copy(), b.copy(), ra.copy(), rb.copy(), weight))
        hint = ""
        if abs(got - weight * (np.mean((ra - a) ** 2) + np.mean((rb - b) ** 2))) < 1e-9 and want > 0:
            hint = " That is a squared error: the cycle term is an L1 (mean absolute) error."
        elif abs(got - weight * np.mean(np.abs(ra - a))) < 1e-9 and want > 0:
            hint = " Both cycles count: A -> B -> A and B -> A -> B."
        elif abs(got - want / weight) < 1e-9 and want > 0:
            hint = " Multiply by weight (lambda)."
        elif abs(got - weight * (np.sum(np.abs(ra - a)) + np.sum(np.abs(rb - b)))) < 1e-6 and want > 0:
            hint = " Take the mean over pixels, not the sum: the weight of 10 assumes a mean."
        assert abs(got - want) < 1e-6 * max(1.0, abs(want)), f"{name}: expected {want:.6f}, got {got:.6f}.{hint}"


def pool_query(pool: list, images: np.ndarray, draws: np.ndarray, slots: np.ndarray, pool_size: int = 50):
    """Reference: the image pool's query rule, image by image. Returns ``(outputs, pool)``.

    While the pool holds fewer than ``pool_size`` images, each image is stored
    and returned. Once it is full, when ``draws[i] > 0.5`` the stored image
    at ``slots[i]`` is returned and the new image takes its place; otherwise
    the new image is returned and the pool is unchanged. ``pool_size = 0``
    returns the images. ``pool`` (a list of images) is not modified: the
    returned pool is a new list.
    """
    pool = [np.array(p, copy=True) for p in pool]
    outputs = []
    for image, draw, slot in zip(np.asarray(images), np.asarray(draws), np.asarray(slots)):
        if pool_size == 0:
            outputs.append(image)
        elif len(pool) < pool_size:
            pool.append(np.array(image, copy=True))
            outputs.append(image)
        elif draw > 0.5:
            outputs.append(pool[int(slot)])
            pool[int(slot)] = np.array(image, copy=True)
        else:
            outputs.append(image)
    return np.stack(outputs), pool


def _pool_cases():
    rng = np.random.default_rng(70)
    images = rng.uniform(-1, 1, (12, 2, 2, 1))
    draws, slots = rng.random(12), rng.integers(0, 4, 12)
    yield "an empty pool of 4, twelve images", [], images, draws, slots, 4
    full = [rng.uniform(-1, 1, (2, 2, 1)) for _ in range(4)]
    yield "a full pool, every draw above 1/2", full, images[:4], np.full(4, 0.9), np.array([0, 1, 1, 3]), 4
    yield "a full pool, every draw below 1/2", full, images[:4], np.full(4, 0.1), np.array([0, 1, 2, 3]), 4
    yield "pool_size 0 passes the images through", [], images[:3], draws[:3], slots[:3], 0
    yield "a pool of 2 that fills within the batch", [], images[:6], np.array([0.9, 0.9, 0.9, 0.2, 0.7, 0.6]), \
        np.array([1, 0, 1, 0, 0, 1]), 2


def grade_pool_query(answer) -> None:
    """Grade a reader's ``pool_query``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, pool, images, draws, slots, size in _pool_cases():
        want_out, want_pool = pool_query(pool, images, draws, slots, size)
        given = [np.array(p, copy=True) for p in pool]
        got_out, got_pool = answer(given, images.copy(), draws.copy(), slots.copy(), size)
        got_out = np.asarray(got_out)
        assert got_out.shape == want_out.shape, (f"{name}: expected outputs of shape {want_out.shape}, "
                                                 f"got {got_out.shape}")
        assert len(got_pool) == len(want_pool), (
            f"{name}: expected a pool of {len(want_pool)} images, got {len(got_pool)}. Store every image while the "
            f"pool is not full; never grow it beyond pool_size")
        for i, (g, w) in enumerate(zip(got_out, want_out)):
            hint = ""
            if np.allclose(g, images[i]) and not np.allclose(w, images[i]):
                hint = " Once the pool is full, a draw above 1/2 returns the STORED image at slots[i]."
            elif not np.allclose(g, images[i]) and np.allclose(w, images[i]):
                hint = (" The new image is returned while the pool fills, and when the draw is 1/2 or below."
                        if size else " pool_size 0 means no pool: return the images.")
            elif not np.allclose(g, w):
                hint = (" Both are stored images, but not the same one: when a stored image is returned, the new "
                        "image must take its slot, so later queries find it there.")
            assert np.allclose(g, w), f"{name}: output {i} is not what the rule returns.{hint}"
        for i, (g, w) in enumerate(zip(got_pool, want_pool)):
            assert np.allclose(np.asarray(g), w), (
                f"{name}: pool slot {i} differs after the query. When a stored image is returned, the new image "
                "takes its slot; when the new image is returned from a full pool, the pool is unchanged")


def norm_statistics(x: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Reference: the mean and variance a norm of ``kind`` (``instance``, ``batch``, ``rows``) uses; see
    :func:`gancourse.experiments.ch07.norm_statistics`."""
    return ch07.norm_statistics(x, kind)


_AXES = {"instance": (1, 2), "batch": (0, 1, 2), "rows": (2, 3)}


def grade_norm_statistics(answer) -> None:
    """Grade a reader's ``norm_statistics``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(71)
    x = rng.normal(0, 1, (3, 5, 6, 4)) * rng.uniform(0.5, 3, (1, 1, 1, 4)) + rng.normal(0, 2, (3, 5, 1, 1))
    for kind in ("instance", "batch", "rows"):
        want_mean, want_var = norm_statistics(x, kind)
        got_mean, got_var = (np.asarray(v, np.float64) for v in answer(x.copy(), kind))
        assert got_mean.shape == want_mean.shape and got_var.shape == want_var.shape, (
            f"{kind}: expected statistics of shape {want_mean.shape} (keepdims=True, so they broadcast against x), "
            f"got {got_mean.shape} and {got_var.shape}")
        hint = ""
        if np.allclose(got_var, x.var(axis=_AXES[kind], ddof=1, keepdims=True)):
            hint = " Use the population variance (ddof=0), as the layers do."
        assert np.allclose(got_mean, want_mean), f"{kind}: the means are wrong; average over axes {_AXES[kind]}"
        assert np.allclose(got_var, want_var), f"{kind}: the variances are wrong.{hint}"


EXERCISES = {
    "07.cycle_loss": ("CycleGAN's cycle-consistency term, both directions", cycle_loss, grade_cycle_loss),
    "07.pool_query": ("the image pool's query rule", pool_query, grade_pool_query),
    "07.norm_statistics": ("the statistics of instance norm, batch norm and the book's axis=1 norm",
                           norm_statistics, grade_norm_statistics),
}
