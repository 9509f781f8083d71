"""Paired comparison statistics against scipy and textbook cases."""

import random

import numpy as np
import pytest
from scipy import stats

from slmbench.metrics.compare import (
    EXACT_MAX_N,
    corpus_difference,
    mcnemar_exact,
    paired_difference,
    sign_flip_exact,
    sign_flip_monte_carlo,
)
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


def scipy_sign_flip(diffs, **kwargs):
    """scipy's paired permutation test of the mean difference (exact when its n_resamples
    covers all 2^n sign patterns)."""
    d = np.asarray(diffs)
    return stats.permutation_test((d, np.zeros_like(d)), lambda x, y, axis: np.mean(x - y, axis=axis),
                                  permutation_type="samples", vectorized=True, **kwargs).pvalue  # fmt: skip


def test_five_positive_differences_are_not_significant():
    # The case a bootstrap got wrong (p = 0.0): the exact test and Wilcoxon both say 2/32.
    a, b = [0.9, 0.8, 0.75, 0.6, 0.7], [0.5, 0.45, 0.5, 0.2, 0.3]
    d = paired_difference(a, b)
    assert d.test == "sign-flip-exact" and d.p_value == pytest.approx(0.0625) and not d.significant
    assert d.p_value == pytest.approx(stats.wilcoxon(a, b).pvalue)
    six = paired_difference([0.5, 0.4, 0.6, 0.3, 0.2, 0.7], [0.1, 0.3, 0.4, 0.25, 0.0, 0.1])
    assert six.p_value == pytest.approx(2 / 64) and six.significant


EXACT_NS = [2, 3, 4, 5, 6, 8, 10, 13, 16, EXACT_MAX_N]


@pytest.mark.parametrize("n", EXACT_NS)
def test_exact_sign_flip_equals_scipys_exact_permutation_test(n):
    rng = np.random.default_rng(n)
    # ROUGE-like scores with ties and zero differences, and a shift so some p-values are small
    a = np.round(rng.random(n), 2)
    b = np.clip(a - np.round(rng.normal(0.15, 0.2, n), 2) * (rng.random(n) < 0.8), 0, 1)
    expected = scipy_sign_flip(a - b, n_resamples=2**n)
    d = paired_difference(a.tolist(), b.tolist())
    assert d.test == ("sign-flip-exact" if not set(np.r_[a, b]) <= {0.0, 1.0} else "mcnemar-exact")
    assert abs(d.p_value - expected) < 1e-12, (n, d.p_value, expected)
    assert d.mc_error is None


@pytest.mark.parametrize("n,shift", [(21, 0.1), (30, 0.05), (60, 0.0), (200, 0.03), (1000, 0.01)])
def test_monte_carlo_sign_flip_agrees_with_scipy_within_its_error(n, shift):
    rng = np.random.default_rng(n)
    a = rng.random(n)
    b = np.clip(a - shift + rng.normal(0, 0.2, n), 0, 1)
    d = paired_difference(a.tolist(), b.tolist())
    assert d.test == "sign-flip-monte-carlo" and d.mc_error is not None and d.mc_error < 0.004
    reference = scipy_sign_flip(a - b, n_resamples=50_000, random_state=1)
    error = (d.mc_error**2 + reference * (1 - reference) / 50_000) ** 0.5
    assert abs(d.p_value - reference) <= 4 * error + 1e-4, (n, d.p_value, reference)


def test_monte_carlo_matches_the_exact_test_where_both_apply():
    rng = np.random.default_rng(7)
    diffs = rng.normal(0.1, 0.3, 16)
    p, error = sign_flip_monte_carlo(diffs, draws=40_000, seed=3)
    assert abs(p - sign_flip_exact(diffs)) < 4 * error
    assert sign_flip_monte_carlo(diffs, draws=40_000, seed=3) == (p, error)  # seeded


def test_continuous_scores_use_the_sign_flip_test():
    rng = random.Random(2)
    base = [rng.random() for _ in range(200)]
    better = [min(1.0, x + 0.1 + rng.gauss(0, 0.02)) for x in base]
    d = paired_difference(better, base)
    assert d.test == "sign-flip-monte-carlo" and d.significant and d.diff > 0.05
    assert d.p_value == pytest.approx(1 / (20_000 + 1))  # no random pattern is as extreme
    # the bootstrap CI of the mean difference agrees with the t interval on this large sample
    t = stats.ttest_rel(better, base).confidence_interval(0.95)
    assert d.ci_low == pytest.approx(t.low, abs=0.005) and d.ci_high == pytest.approx(t.high, abs=0.005)


def test_unequal_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0], [1.0, 0.0])


def test_corpus_score_difference_agrees_with_sacrebleus_paired_approximate_randomization():
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    rng = random.Random(5)
    words = ["the", "cat", "sat", "on", "a", "mat", "with", "her", "dog", "and", "ran", "to", "red", "house", "near"]
    refs = [" ".join(rng.choices(words, k=10)) for _ in range(40)]
    good = [" ".join(w if rng.random() < 0.8 else rng.choice(words) for w in r.split()) for r in refs]
    bad = [" ".join(w if rng.random() < 0.6 else rng.choice(words) for w in r.split()) for r in refs]
    bleu = BLEU()
    stats_a = np.array(bleu._extract_corpus_statistics(good, [refs]), dtype=np.int64)
    stats_b = np.array(bleu._extract_corpus_statistics(bad, [refs]), dtype=np.int64)
    d = corpus_difference([(stats_a, stats_b)], lambda g, s: bleu._compute_score_from_stats(s.tolist()).score / 100,
                          draws=2000)  # fmt: skip
    assert d.test == "approximate-randomization" and d.n == 40
    assert d.diff == pytest.approx((bleu.corpus_score(good, [refs]).score - bleu.corpus_score(bad, [refs]).score) / 100)
    assert d.ci_low < d.diff < d.ci_high
    # sacrebleu's own paired AR test, baseline = the worse system
    test = PairedTest(
        [("bad", bad), ("good", good)], {"BLEU": BLEU()}, references=[refs], test_type="ar", n_samples=2000
    )
    _, results = test()
    theirs = results["BLEU"][1].p_value
    assert abs(d.p_value - theirs) <= 4 * (2 * d.mc_error**2) ** 0.5 + 1e-3, (d.p_value, theirs)


@pytest.mark.parametrize("b,c,ties", [(0, 5, 3), (6, 0, 0), (4, 9, 2), (7, 7, 1)])
def test_mcnemar_is_the_exact_sign_flip_test_on_pass_fail_pairs(b, c, ties):
    # the sign flips of +1/-1/0 differences give the binomial on the discordant pairs
    diffs = [1.0] * b + [-1.0] * c + [0.0] * ties
    assert sign_flip_exact(diffs) == pytest.approx(mcnemar_exact(b, c), abs=1e-12)
