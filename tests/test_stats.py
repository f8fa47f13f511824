"""The comparison statistics used by every study in the book."""

import numpy as np
import pytest
from scipy import stats as st

from gancourse import stats


def test_welch_matches_scipy_unequal_variance_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 7), rng.normal(0.8, 3, 5)
    t, p = stats.welch(a, b)
    ref = st.ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_welch_degenerate_samples():
    assert stats.welch([2, 2, 2], [2, 2]) == (0.0, 1.0)
    t, p = stats.welch([3, 3, 3], [2, 2])
    assert p == 0.0 and t == np.inf


def test_holm_known_values():
    # m = 4: sorted 0.01*4, 0.02*3, 0.03*2, 0.04*1 -> 0.04, 0.06, 0.06, 0.06 (monotone)
    assert stats.holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm([1.5])


def test_intervals_cover_the_t_quantile():
    mean, low, high = stats.mean_interval([1.0, 2.0, 3.0])
    half = st.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    diff, low, high = stats.difference_interval([1, 2, 3, 4], [0, 0, 1, 1])
    assert diff == pytest.approx(2.0) and low < 2.0 < high
    assert stats.welch([1, 2, 3, 4], [0, 0, 1, 1])[1] < 0.05 and low > 0


def test_compare_verdicts_follow_the_corrected_test():
    rng = np.random.default_rng(1)
    samples = {"base": rng.normal(0, 0.1, 8), "big gain": rng.normal(1, 0.1, 8),
               "noise": rng.normal(0.02, 0.1, 8), "big loss": rng.normal(-1, 0.1, 8)}
    rows = {r["variant"]: r for r in stats.compare(samples, words=("helped", "hurt"))}
    assert set(rows) == {"big gain", "noise", "big loss"}
    assert rows["big gain"]["verdict"] == "helped" and rows["big loss"]["verdict"] == "hurt"
    assert rows["noise"]["verdict"] == stats.NO_DIFFERENCE
    assert all(r["p_holm"] >= r["p"] for r in rows.values())
    # lower is better flips the words
    rows = {r["variant"]: r for r in stats.compare(samples, higher_is_better=False)}
    assert rows["big gain"]["verdict"] == "worse" and rows["big loss"]["verdict"] == "better"
    assert "big gain (worse)" in stats.describe(list(rows.values()))


def test_compare_is_conservative_with_many_comparisons():
    # one comparison at p ~ 0.03 passes alone but not among 8 (Holm multiplies the smallest by 8)
    base = [0.0, 0.1, -0.1, 0.05, -0.05]
    shifted = [0.17, 0.27, 0.07, 0.22, 0.12]
    alone = stats.compare({"b": base, "v": shifted})
    assert alone[0]["p"] < 0.05 and alone[0]["verdict"] == "better"
    family = {"b": base, "v": shifted, **{f"null{i}": base for i in range(7)}}
    rows = stats.compare(family)
    assert rows[0]["verdict"] == stats.NO_DIFFERENCE
    assert stats.describe(rows).startswith("No variant differs")


@pytest.mark.parametrize("bad, match", [({"b": [1.0]}, "at least two"), ({"b": [1, 2], "v": [1, np.nan]}, "NaN"),
                                        ({"b": [1, 2]}, "at least one variant")])
def test_compare_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        stats.compare(bad)


def test_compare_unknown_baseline():
    with pytest.raises(ValueError, match="no variant named 'x'"):
        stats.compare({"a": [1, 2], "b": [2, 3]}, baseline="x")


def test_correct_together_pools_the_p_values_of_several_tables():
    base = [0.0, 0.1, -0.1, 0.05, -0.05]
    shifted = [0.17, 0.27, 0.07, 0.22, 0.12]
    first = stats.compare({"b": base, "v": shifted})
    second = stats.compare({"b": base, **{f"null{i}": base for i in range(6)}}, higher_is_better=False)
    assert first[0]["verdict"] == "better"  # alone, one comparison survives
    stats.correct_together({"a": (first, True, ("better", "worse")), "b": (second, False, ("better", "worse"))})
    pooled = stats.holm([r["p"] for r in first + second])
    assert [r["p_holm"] for r in first + second] == pytest.approx(pooled)
    assert all(r["family"] == 7 for r in first + second)
    assert first[0]["verdict"] == stats.NO_DIFFERENCE  # among seven it does not


def test_paired_difference_matches_scipy_and_finds_what_welch_misses():
    import numpy as np
    from scipy import stats as st

    from gancourse import stats

    rng = np.random.default_rng(0)
    hardness = rng.normal(0, 1.0, 40)  # items differ far more than the models do
    a, b = hardness + 0.1 + rng.normal(0, 0.02, 40), hardness + rng.normal(0, 0.02, 40)
    diff, low, high, p = stats.paired_difference(a, b)
    assert np.isclose(diff, np.mean(a - b)) and low < diff < high
    assert np.isclose(p, st.ttest_rel(a, b).pvalue)
    assert p < 1e-6 and stats.welch(a, b)[1] > 0.5  # unpaired, the items' spread hides the difference
    rows = stats.compare({"base": b, "new": a}, higher_is_better=False, paired=True, words=("lower", "higher"))
    assert rows[0]["verdict"] == "higher" and np.isclose(rows[0]["p"], p)
    assert stats.compare({"base": b, "new": a}, paired=False)[0]["verdict"] == stats.NO_DIFFERENCE
    assert stats.paired_difference([1.0, 2.0], [1.0, 2.0])[3] == 1.0
    assert stats.paired_difference([2.0, 3.0], [1.0, 2.0])[3] == 0.0
    with pytest.raises(ValueError, match="one value per item"):
        stats.paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])
