"""Paired comparison statistics against scipy and textbook cases."""

import random

import pytest
from scipy import stats

from slmbench.metrics.compare import mcnemar_exact, paired_difference
from slmbench.metrics.stats import wilson


@pytest.mark.parametrize("b,c", [(0, 0), (1, 0), (5, 1), (10, 2), (7, 7), (3, 12), (40, 25)])
def test_mcnemar_exact_is_scipys_two_sided_binomial_test_on_discordant_pairs(b, c):
    expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_textbook_case():
    # Agresti, Categorical Data Analysis: b=1, c=9 discordant pairs -> exact p = 0.0215
    assert mcnemar_exact(1, 9) == pytest.approx(0.021484375)


def test_wilson_matches_scipys_wilson_interval():
    for k, n in [(0, 10), (3, 10), (10, 10), (45, 120)]:
        ours = wilson(k, n)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert (ours.ci_low, ours.ci_high) == (pytest.approx(ci.low, abs=1e-9), pytest.approx(ci.high, abs=1e-9))


def test_pass_fail_pairs_use_mcnemar_and_a_bootstrap_ci_of_the_difference():
    a = [1.0] * 30 + [0.0] * 10
    b = [1.0] * 12 + [0.0] * 18 + [0.0] * 10  # a wins 18 discordant pairs, loses none
    d = paired_difference(a, b)
    assert d.test == "mcnemar-exact" and d.n == 40
    assert d.diff == pytest.approx(18 / 40)
    assert d.p_value == pytest.approx(stats.binomtest(0, 18).pvalue) and d.significant
    assert d.ci_low > 0.2 and d.ci_high < 0.65 and d.ci_low < d.diff < d.ci_high


def test_equal_models_are_not_significantly_different():
    rng = random.Random(1)
    a = [float(rng.random() < 0.6) for _ in range(50)]
    d = paired_difference(a, list(a))
    assert d.diff == 0 and d.p_value == 1.0 and not d.significant


def test_continuous_scores_use_the_paired_bootstrap():
    rng = random.Random(2)
    base = [rng.random() for _ in range(200)]
    better = [min(1.0, x + 0.1 + rng.gauss(0, 0.02)) for x in base]
    d = paired_difference(better, base)
    assert d.test == "paired-bootstrap" and d.significant and d.diff > 0.05
    # the bootstrap CI of the mean difference agrees with the t interval on this large sample
    t = stats.ttest_rel(better, base).confidence_interval(0.95)
    assert d.ci_low == pytest.approx(t.low, abs=0.005) and d.ci_high == pytest.approx(t.high, abs=0.005)


def test_unequal_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0], [1.0, 0.0])
