"""Is model A really better than model B on the same samples?

Paired tests, because both models answered the same items, and exact wherever that is cheap:
- pass/fail scores: McNemar's exact test (a binomial test on the discordant pairs);
- other per-sample scores (ROUGE-L, F1, ...): the sign-flip permutation test of the mean
  difference, exact (all 2^n sign patterns) up to EXACT_MAX_N pairs, Monte-Carlo beyond
  (seeded; its own Monte-Carlo error is reported);
- corpus-level scores (BLEU): approximate randomization, swapping each pair's two answers
  (the test sacrebleu's paired-ar uses), on per-sentence sufficient statistics.
The 95% interval of the difference is always the paired percentile bootstrap (seeded).
Written out with numpy rather than imported from scipy: scipy would be the heaviest
dependency of the tool for three short loops (the tests check every p-value against scipy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import bootstrap, percentile_interval

ALPHA = 0.05
EXACT_MAX_N = 20  # 2^20 sign patterns: about 8 MB and a few ms
DRAWS = 20_000  # Monte-Carlo permutations: the error of p near 0.05 is about 0.0015
RESAMPLES = 2000  # bootstrap resamples for the interval of the difference


@dataclass(frozen=True, slots=True)
class Difference:
    """mean(a) - mean(b) over the paired samples, with its 95% interval and a p-value."""

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    # "mcnemar-exact" | "sign-flip-exact" | "sign-flip-monte-carlo" | "approximate-randomization" | "none"
    test: str
    mc_error: float | None = None  # standard error of a Monte-Carlo p-value; None when exact

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    def as_dict(self) -> dict[str, float | int | str | bool | None]:
        return {"diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                "n": self.n, "test": self.test, "mc_error": self.mc_error, "significant": self.significant}  # fmt: skip


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (A right & B wrong = b, the
    reverse = c): twice the smaller binomial(b + c, 1/2) tail, capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _tolerance(diffs: np.ndarray) -> float:
    # Sums of the same values in another order differ in the last bits; a pattern whose sum
    # equals the observed one must count as "as extreme".
    return 1e-9 * max(1.0, float(np.abs(diffs).sum()))


def sign_flip_exact(diffs: Sequence[float]) -> float:
    """Two-sided p-value of the mean paired difference over all 2^n sign patterns: the share
    of patterns whose |sum| is at least the observed |sum|."""
    d = np.asarray(diffs, dtype=float)
    if len(d) > 26:
        raise ValueError(f"{len(d)} pairs: 2^{len(d)} sign patterns are too many; use sign_flip_monte_carlo")
    sums = np.zeros(1)
    for v in d:  # the 2^n sums, built one pair at a time
        sums = np.concatenate((sums + v, sums - v))
    observed = abs(float(d.sum()))
    return float(np.count_nonzero(np.abs(sums) >= observed - _tolerance(d)) / len(sums))


def sign_flip_monte_carlo(diffs: Sequence[float], *, draws: int = DRAWS, seed: int = 0) -> tuple[float, float]:
    """(p, its standard error) from `draws` random sign patterns. The observed pattern counts
    as one of them, so p is never 0: (1 + as extreme) / (1 + draws)."""
    d = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    observed, tol = abs(float(d.sum())), _tolerance(d)
    hits, done, chunk = 0, 0, max(1, 4_000_000 // max(1, len(d)))
    while done < draws:
        k = min(chunk, draws - done)
        signs = rng.integers(0, 2, size=(k, len(d)), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(np.abs(signs @ d) >= observed - tol))
        done += k
    p = (hits + 1) / (draws + 1)
    return p, math.sqrt(p * (1 - p) / draws)


def paired_difference(a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES, draws: int = DRAWS,
                      seed: int = 0) -> Difference:  # fmt: skip
    """Compare paired per-sample scores (a[i] and b[i] are the same item)."""
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return Difference(None, None, None, None, 0, "none")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diffs = x - y
    mean = float(diffs.mean())
    rng = np.random.default_rng(seed)
    low, high = percentile_interval(bootstrap(lambda idx: diffs[idx].mean(axis=1), n, resamples=resamples, rng=rng))
    if np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all():
        better, worse = int(np.count_nonzero(diffs > 0)), int(np.count_nonzero(diffs < 0))
        return Difference(mean, low, high, mcnemar_exact(better, worse), n, "mcnemar-exact")
    if n <= EXACT_MAX_N:
        return Difference(mean, low, high, sign_flip_exact(diffs), n, "sign-flip-exact")
    p, error = sign_flip_monte_carlo(diffs, draws=draws, seed=seed)
    return Difference(mean, low, high, p, n, "sign-flip-monte-carlo", error)


def corpus_difference(groups: Sequence[tuple[np.ndarray, np.ndarray]], score: Callable[[int, np.ndarray], float], *,
                      resamples: int = 1000, draws: int = 1000, seed: int = 0) -> Difference:  # fmt: skip
    """Compare a corpus-level score (BLEU: not a mean of per-sentence scores), averaged over
    groups (e.g. translation directions). Each group holds the paired per-item sufficient
    statistics of A and B (rows are the same items); `score(g, summed_rows)` is group g's
    corpus score. p: approximate randomization (swap A's and B's rows at random, (1 + as
    extreme) / (1 + draws)); interval: paired bootstrap of the items within each group."""
    groups = [(np.asarray(sa), np.asarray(sb)) for sa, sb in groups if len(sa)]
    n = sum(len(sa) for sa, _ in groups)
    if n == 0:
        return Difference(None, None, None, None, 0, "none")
    if any(sa.shape != sb.shape for sa, sb in groups):
        raise ValueError("paired statistics differ in shape")

    def diff(pick: Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> float:
        total = 0.0
        for g, (sa, sb) in enumerate(groups):
            ra, rb = pick(g, sa, sb)
            total += score(g, ra.sum(axis=0)) - score(g, rb.sum(axis=0))
        return total / len(groups)

    observed = diff(lambda g, sa, sb: (sa, sb))
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):

        def swap(g: int, sa: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mask = rng.integers(0, 2, size=len(sa), dtype=bool)[:, None]
            return np.where(mask, sb, sa), np.where(mask, sa, sb)

        hits += abs(diff(swap)) >= abs(observed) - 1e-9
    p = (hits + 1) / (draws + 1)
    # One resample per loop: a corpus score is recomputed from each resample's summed statistics.
    boot = []
    for _ in range(resamples):

        def resample(g: int, sa: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            idx = rng.integers(0, len(sa), size=len(sa))
            return sa[idx], sb[idx]

        boot.append(diff(resample))
    low, high = percentile_interval(boot)
    return Difference(observed, low, high, p, n, "approximate-randomization", math.sqrt(p * (1 - p) / draws))
