"""The six age groups of Age-cGAN (Antipov et al., 2017) and the mapping from an age in years.

The groups are the source book's and the paper's: ``0-18``, ``19-29``,
``30-39``, ``40-49``, ``50-59`` and ``60+``. Ages are whole years; an age
of 0 or less (an impossible value that real labels contain) has no group
and raises, where the source book's bucket function silently reuses the
previous image's group.
"""

from __future__ import annotations

import numpy as np

#: Labels of the six groups, in class order.
AGE_GROUPS = ("0-18", "19-29", "30-39", "40-49", "50-59", "60+")
#: Number of age classes (the one-hot width of the condition).
N_AGES = len(AGE_GROUPS)
#: Upper bounds (inclusive) of groups 0-4, in years; group 5 is everything above the last.
UPPER_BOUNDS = (18, 29, 39, 49, 59)


def age_category(age) -> np.ndarray:
    """The age group (0-5) of each age in whole years (a scalar gives a 0-d array).

    Raises ``ValueError`` for an age of 0 or less, which belongs to no group:
    drop such labels before grouping (``gancourse.data.wiki`` does).
    """
    a = np.asarray(age)
    if a.size and np.min(a) <= 0:
        raise ValueError(f"ages must be positive to have an age group, got {np.min(a)!r}; drop invalid ages first")
    return np.searchsorted(np.asarray(UPPER_BOUNDS), a, side="left").astype(np.int32)


def one_hot(categories, n: int = N_AGES) -> np.ndarray:
    """``(N, n)`` float32 one-hot rows of integer ``categories`` in ``[0, n)``; the width is always ``n``
    (the source book's ``len(set(...))`` shrinks it when a subset lacks a class)."""
    c = np.asarray(categories, dtype=np.int64).reshape(-1)
    if c.size and (c.min() < 0 or c.max() >= n):
        raise ValueError(f"age categories must be in [0, {n}), got values from {c.min()} to {c.max()}")
    return np.eye(n, dtype=np.float32)[c]
