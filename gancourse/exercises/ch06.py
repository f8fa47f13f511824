"""Chapter 06 (StackGAN) exercises: references and graders."""

from __future__ import annotations

import numpy as np


def kl_term(mean_logsigma) -> float:
    """Reference: StackGAN's KL term from CA's output ``[mu, log sigma]`` ``(B, 2k)``:
    ``mean(-log sigma + 0.5 * (sigma^2 + mu^2 - 1))`` over batch and the ``k`` dimensions."""
    x = np.asarray(mean_logsigma, np.float64)
    k = x.shape[1] // 2
    mu, logsigma = x[:, :k], x[:, k:]
    return float(np.mean(-logsigma + 0.5 * (np.exp(2 * logsigma) + mu ** 2 - 1)))


def _book_kl(x) -> float:
    x = np.asarray(x, np.float64)
    k = x.shape[1] // 2
    return kl_term(np.concatenate([x[:, :k], x[:, :k]], axis=1))


def grade_kl_term(answer) -> None:
    """Grade a reader's ``kl_term``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(60)
    cases = [("mu = 0, sigma = 1 (the prior itself)", np.zeros((4, 8))),
             ("mu = 1, sigma = 1", np.concatenate([np.ones((2, 3)), np.zeros((2, 3))], axis=1)),
             ("mu = 0, log sigma = log 2", np.concatenate([np.zeros((3, 4)), np.full((3, 4), np.log(2))], axis=1)),
             ("random CA outputs, batch 5, k = 128", rng.normal(0, 0.5, (5, 256)))]
    for name, x in cases:
        want = kl_term(x)
        got = float(np.asarray(answer(x.copy())))
        hint = ""
        if np.isclose(got, _book_kl(x)) and not np.isclose(got, want):
            hint = " log sigma is the second half of the output (x[:, k:]), not the first again."
        elif np.isclose(got, want * (x.shape[1] // 2)) and not np.isclose(got, want):
            hint = " Average over the k dimensions too (StackGAN's code takes a mean, not a sum)."
        assert np.isclose(got, want, rtol=1e-5, atol=1e-7), f"{name}: expected {want:.6f}, got {got:.6f}.{hint}"


def ca_sample(mean_logsigma, rng) -> np.ndarray:
    """Reference: conditioning augmentation ``c = mu + sigma * eps`` with ``eps ~ N(0, I)`` drawn per sample
    (shape ``(B, k)``) from the NumPy generator ``rng``."""
    x = np.asarray(mean_logsigma, np.float64)
    k = x.shape[1] // 2
    return x[:, :k] + np.exp(x[:, k:]) * rng.standard_normal((len(x), k))


def grade_ca_sample(answer) -> None:
    """Grade a reader's ``ca_sample``: shape, ``c = mu`` when sigma is ~0, noise drawn from ``rng`` (the same
    generator state gives the same sample, another one a different sample), and noise that, divided by each
    element's own sigma, is standard normal in every column, independent across columns and different in
    every row."""
    batch, k = 2000, 16
    rng = np.random.default_rng(61)
    mu = rng.normal(size=(batch, k))
    x = np.concatenate([mu, np.full((batch, k), -30.0)], axis=1)
    got = np.asarray(answer(x.copy(), np.random.default_rng(0)), np.float64)
    assert got.shape == (batch, k), f"expected c of shape {(batch, k)}, got {got.shape}"
    assert np.allclose(got, mu, atol=1e-6), "with sigma ~ 0, c must be mu: c = mu + sigma * eps, mu first half"
    logsigma = rng.uniform(-1.0, 1.0, (batch, k))  # one sigma per element
    x = np.concatenate([mu, logsigma], axis=1)
    first = np.asarray(answer(x.copy(), np.random.default_rng(1)), np.float64)
    again = np.asarray(answer(x.copy(), np.random.default_rng(1)), np.float64)
    other = np.asarray(answer(x.copy(), np.random.default_rng(2)), np.float64)
    assert np.allclose(first, again), ("two generators in the same state gave different samples: draw eps from the "
                                       "rng argument (rng.standard_normal), not from np.random or another source")
    assert not np.allclose(first, other), "another generator gave the same sample: draw eps from the rng argument"
    eps = (first - mu) / np.exp(logsigma)
    distinct = len(np.unique(np.round(eps, 6), axis=0))
    assert distinct == batch, (f"the {batch} rows share their noise ({distinct} different rows): draw eps of shape "
                               "(batch, k), one vector per sample, not one (k,) vector for the whole batch")
    for name, part in (("large", logsigma > 0.5), ("small", logsigma < -0.5)):
        spread = eps[part].std()
        assert abs(spread - 1) < 0.1, (
            f"where sigma is {name}, (c - mu) / sigma has spread {spread:.2f}, not 1: multiply each element's "
            "eps by its own sigma = exp(log sigma) (same row, same column), not by the variance exp(2 log sigma), "
            "one sigma for the whole batch or another row's sigma")
    columns = eps.std(axis=0)
    assert np.all(np.abs(columns - 1) < 0.1), \
        f"eps should be N(0, 1) in every column: column spreads range {columns.min():.2f}-{columns.max():.2f}"
    means = eps.mean(axis=0)
    worst = means[np.abs(means).argmax()]
    assert np.all(np.abs(means) < 0.1), f"eps should have mean 0: a column mean came out {worst:.3f}"
    r = np.corrcoef(eps.T)[np.triu_indices(k, 1)]
    assert np.abs(r).max() < 0.1, (f"the k dimensions of eps are correlated (|r| up to {np.abs(r).max():.2f}): draw "
                                   "an independent number for every element, shape (batch, k), not (batch, 1)")


def wrong_pairs(class_ids, rng) -> np.ndarray:
    """Reference: for each row ``i`` of a batch, a row ``j`` of another class, uniformly among them (every batch
    here holds at least two classes)."""
    c = np.asarray(class_ids)
    return np.array([rng.choice(np.flatnonzero(c != ci)) for ci in c])


def grade_wrong_pairs(answer) -> None:
    """Grade a reader's ``wrong_pairs``: indices of the batch, each of another class, not always the same pick."""
    cases = [("a class-ordered batch (as the book's unshuffled data)", np.repeat([3, 7, 9, 12], 8)),
             ("a shuffled batch of 36 classes", np.random.default_rng(62).integers(0, 36, 64)),
             ("two classes, one of them a single image", np.array([5] * 15 + [8]))]
    for name, c in cases:
        got = np.asarray(answer(c.copy(), np.random.default_rng(0)))
        assert got.shape == c.shape, f"{name}: expected {c.shape} indices, got shape {got.shape}"
        assert got.dtype.kind in "iu" and got.min() >= 0 and got.max() < len(c), \
            f"{name}: the answer must be row indices 0-{len(c) - 1} of the batch"
        same = int(np.sum(c[got] == c))
        hint = (" Shifting the batch by one pairs neighbours, and sorted data puts neighbours in one class."
                if np.array_equal(got, (np.arange(len(c)) + 1) % len(c)) else "")
        assert same == 0, f"{name}: {same} of {len(c)} 'wrong' pairs have the row's own class.{hint}"
    c = np.repeat(np.arange(4), 16)
    picks = {tuple(np.asarray(answer(c.copy(), np.random.default_rng(s)))) for s in range(4)}
    assert len(picks) > 1, "the partners never change with the random generator: draw them with rng"


EXERCISES = {
    "06.kl_term": ("the KL term of conditioning augmentation from [mu, log sigma]", kl_term, grade_kl_term),
    "06.ca_sample": ("conditioning-augmentation samples with per-sample noise", ca_sample, grade_ca_sample),
    "06.wrong_pairs": ("partners of another class for the matching-aware discriminator", wrong_pairs,
                       grade_wrong_pairs),
}
