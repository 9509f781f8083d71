import math

import pytest

from slmbench.metrics.stats import wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),  # the Wilson interval is non-degenerate at 0%
        (10, 10, 0.7225, 1.0),
        (5, 10, 0.2366, 0.7634),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), example values
    ],
)
def test_wilson_matches_published_values(k, n, low, high):
    e = wilson(k, n)
    assert e.value == pytest.approx(k / n)
    assert e.n == n
    assert e.ci_low == pytest.approx(low, abs=5e-4)
    assert e.ci_high == pytest.approx(high, abs=5e-4)


def test_wilson_empty_has_no_value():
    e = wilson(0, 0)
    assert e.value is None and e.ci_low is None and e.n == 0


def test_wilson_interval_narrows_with_n():
    widths = [wilson(n // 2, n).ci_high - wilson(n // 2, n).ci_low for n in (10, 100, 1000)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 1000), rel=0.01)


def test_bootstrap_mean_brackets_the_mean_and_is_reproducible():
    from slmbench.metrics.stats import bootstrap_mean

    values = [0.0, 0.5, 1.0, 1.0, 0.25, 0.75, 1.0, 0.0, 0.5, 1.0] * 5
    e = bootstrap_mean(values)
    assert e.value == pytest.approx(0.6) and e.n == 50
    assert e.ci_low < 0.6 < e.ci_high and e.ci_high - e.ci_low < 0.3
    assert bootstrap_mean(values) == e
    assert bootstrap_mean([1.0] * 7) == type(e)(1.0, 7, 1.0, 1.0)
    assert bootstrap_mean([]).value is None


@pytest.mark.parametrize("seed", [0, 3, 2**32 + 5])
def test_bootstrap_mean_draws_what_pythons_random_choices_draws(seed):
    # The numpy bootstrap replaced a loop over random.Random(seed).choices; its intervals are the
    # same to the last bit (same draws, each resample summed in order), so reports did not move.
    import random

    from slmbench.metrics.stats import bootstrap_mean

    rng = random.Random(1)
    values = [rng.random() * 3 for _ in range(137)] + [1, 0, 2]
    n = len(values)
    draws = random.Random(seed)
    means = sorted(sum(draws.choices(values, k=n)) / n for _ in range(500))
    e = bootstrap_mean(values, resamples=500, seed=seed)
    assert (e.ci_low, e.ci_high) == (means[12], means[486])
