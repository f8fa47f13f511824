"""Comparisons over seeds: intervals, Welch's t-test, Holm's correction, verdict words.

Every comparison of variants in the book goes through :func:`compare`: each
variant's per-seed scores are compared with a baseline's by Welch's unequal
variance t-test, the p-values of all the comparisons in one table are adjusted
together with Holm's step-down method (which controls the family-wise error
rate for any dependence between the tests), and the verdict word of a row is
computed from the adjusted p-value and the sign of the difference. A row whose
adjusted p-value is above ``alpha`` says ``"no difference detected"``: with
few seeds that is the honest answer, not "no effect".

Intervals are Student-t intervals: for one variant's mean (:func:`mean_interval`)
and for the difference of two means with the Welch-Satterthwaite degrees of
freedom (:func:`difference_interval`). Scores measured on the same items by
every variant (each held-out image scored by each model) are compared item by
item instead: ``compare(..., paired=True)`` uses the paired t-test
(:func:`paired_difference`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from scipy import stats as _st

NO_DIFFERENCE = "no difference detected"


def _values(values: Iterable[float], what: str) -> np.ndarray:
    v = np.asarray(list(values), dtype=np.float64).ravel()
    if len(v) < 2:
        raise ValueError(f"{what} needs at least two values (seeds) for a spread, got {len(v)}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what} contains NaN or inf; a diverged run must be reported, not averaged")
    return v


def mean_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the Student-t confidence interval of the mean of ``values`` (two or more)."""
    v = _values(values, "mean_interval")
    mean, se = float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))
    half = float(_st.t.ppf(0.5 + confidence / 2, len(v) - 1)) * se
    return mean, mean - half, mean + half


def _welch_parts(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means ``a - b``, its standard error and the Welch-Satterthwaite degrees of freedom."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return float(a.mean() - b.mean()), 0.0, float(len(a) + len(b) - 2)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(a.mean() - b.mean()), se, float(df)


def welch(a: Iterable[float], b: Iterable[float]) -> tuple[float, float]:
    """Welch's two-sided t-test of ``mean(a) == mean(b)``: returns ``(t, p)``.

    When both samples have zero variance the test is degenerate: ``p`` is 1 if
    the means are equal and 0 if they differ (every seed gave the same value).
    """
    a, b = _values(a, "welch (first sample)"), _values(b, "welch (second sample)")
    diff, se, df = _welch_parts(a, b)
    if se == 0.0:
        return (0.0, 1.0) if diff == 0.0 else (float(np.sign(diff) * np.inf), 0.0)
    t = diff / se
    return float(t), float(2 * _st.t.sf(abs(t), df))


def difference_interval(a: Iterable[float], b: Iterable[float],
                        confidence: float = 0.95) -> tuple[float, float, float]:
    """``(difference, low, high)``: the Welch confidence interval of ``mean(a) - mean(b)``."""
    a, b = _values(a, "difference_interval (first sample)"), _values(b, "difference_interval (second sample)")
    diff, se, df = _welch_parts(a, b)
    half = float(_st.t.ppf(0.5 + confidence / 2, df)) * se
    return diff, diff - half, diff + half


def paired_difference(a: Iterable[float], b: Iterable[float],
                      confidence: float = 0.95) -> tuple[float, float, float, float]:
    """The paired t-test of ``a`` and ``b`` measured on the same items (``a[i]`` and ``b[i]`` on item ``i``: one
    held-out image scored by two models): ``(difference, low, high, p)``, the mean of ``a - b``, its
    Student-t interval and the two-sided p-value.

    Pairing removes the items' own spread (some images are harder for every model) from the error, which an
    unpaired test such as :func:`welch` would count against the difference. When every difference is the
    same the test is degenerate: ``p`` is 1 if they are all 0 and 0 otherwise.
    """
    a, b = _values(a, "paired_difference (first sample)"), _values(b, "paired_difference (second sample)")
    if len(a) != len(b):
        raise ValueError(f"a paired comparison needs one value per item in both samples, got {len(a)} and {len(b)}")
    d = a - b
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    if se == 0.0:
        return mean, mean, mean, 1.0 if mean == 0.0 else 0.0
    half = float(_st.t.ppf(0.5 + confidence / 2, len(d) - 1)) * se
    return mean, mean - half, mean + half, float(2 * _st.t.sf(abs(mean / se), len(d) - 1))


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (each is at most 1).

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i`` and the
    results are made non-decreasing; rejecting where the adjusted value is at
    most ``alpha`` keeps the family-wise error rate at ``alpha``.
    """
    p = np.asarray(list(pvalues), dtype=np.float64)
    if p.size == 0:
        return []
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def compare(samples: dict[str, Iterable[float]], baseline: str | None = None, higher_is_better: bool = True,
            alpha: float = 0.05, confidence: float = 0.95, words: tuple[str, str] = ("better", "worse"),
            paired: bool = False) -> list[dict]:
    """Compare every variant's per-seed scores with the baseline's, correcting for multiple comparisons.

    Args:
        samples: ``{variant: per-seed scores}``, two or more scores each; the
            first entry is the baseline unless ``baseline`` names one.
        higher_is_better: the direction of the score (``False`` for FID, KL...).
        alpha: the family-wise error rate of the whole table (Holm).
        confidence: of the intervals reported beside the test.
        words: the verdicts for a significant improvement and deterioration.
        paired: the scores are per item, in the same item order for every
            variant (held-out images scored by each model): the paired
            t-test (:func:`paired_difference`) instead of Welch's.

    Returns:
        One row per variant other than the baseline, in the input order:
        ``{"variant", "n", "mean", "difference", "low", "high", "p", "p_holm",
        "verdict"}``, where ``difference = mean - baseline mean`` with its Welch
        interval ``[low, high]``, ``p`` is Welch's (or the paired test's) two-sided p-value, ``p_holm``
        the Holm-adjusted one, and ``verdict`` is ``words[0]``, ``words[1]`` or
        ``"no difference detected"``.
    """
    if not samples:
        raise ValueError("compare needs at least a baseline and one variant")
    names = list(samples)
    base = names[0] if baseline is None else baseline
    if base not in samples:
        raise ValueError(f"no variant named {base!r}; variants: {', '.join(names)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    ref = _values(samples[base], f"the baseline {base!r}")
    rows = []
    for name in names:
        if name == base:
            continue
        vals = _values(samples[name], f"variant {name!r}")
        if paired:
            diff, low, high, p = paired_difference(vals, ref, confidence)
        else:
            (diff, low, high), p = difference_interval(vals, ref, confidence), welch(vals, ref)[1]
        rows.append({"variant": name, "n": len(vals), "mean": float(vals.mean()), "difference": diff,
                     "low": low, "high": high, "p": p})
    if not rows:
        raise ValueError("compare needs at least one variant besides the baseline")
    for row, adjusted in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = adjusted
        row["verdict"] = _verdict(row["difference"], adjusted, alpha, higher_is_better, words)
    return rows


def _verdict(difference: float, p_holm: float, alpha: float, higher_is_better: bool, words: tuple[str, str]) -> str:
    if p_holm > alpha or difference == 0:
        return NO_DIFFERENCE
    return words[0] if (difference > 0) == higher_is_better else words[1]


def correct_together(groups: dict[str, tuple[list[dict], bool, tuple[str, str]]], alpha: float = 0.05) -> None:
    """Holm-correct the rows of several :func:`compare` calls as one family, in place.

    ``groups`` maps a label to ``(rows, higher_is_better, words)``: the rows one
    :func:`compare` call returned and the direction and verdict words it used.
    Every row's ``p_holm`` and ``verdict`` are recomputed from the Welch
    p-values of all the rows together, and ``family`` records how many
    comparisons were corrected together, so the family-wise error rate of
    everything stated from them is ``alpha``, not ``alpha`` per call.
    """
    family = [(row, direction, words) for rows, direction, words in groups.values() for row in rows]
    for (row, direction, words), adjusted in zip(family, holm([row["p"] for row, _, _ in family])):
        row["p_holm"], row["family"] = adjusted, len(family)
        row["verdict"] = _verdict(row["difference"], adjusted, alpha, direction, words)


def describe(rows: list[dict], alpha: float = 0.05) -> str:
    """One sentence naming the variants whose verdict survived the correction (or saying none did)."""
    significant = [f"{r['variant']} ({r['verdict']})" for r in rows if r["verdict"] != NO_DIFFERENCE]
    family = f"Welch's t-test, Holm-corrected over {len(rows)} comparisons at alpha = {alpha:g}"
    if not significant:
        return f"No variant differs detectably from the baseline ({family})."
    return f"Differences that survive {family}: " + ", ".join(significant) + "."
