"""Confidence intervals.

Wilson's score interval is written out here (a few lines) rather than pulling in scipy or
statsmodels for one formula; it behaves well at 0% and 100% where the normal interval fails.
`bootstrap` is the one resampling loop (numpy) behind every bootstrap interval in slmbench.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
CHUNK = 4_000_000  # item indexes drawn at once (32 MB): many resamples of a large set never all sit in memory


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float | None
    n: int
    ci_low: float | None
    ci_high: float | None
    # "share" (shown as a percentage) or the name of what is counted (e.g. "per 100 lines").
    unit: str = "share"

    def as_dict(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }
        if self.unit != "share":
            out["unit"] = self.unit
        return out


def wilson(successes: int, n: int, z: float = Z95) -> Estimate:
    """A proportion with its Wilson score interval; value None when n is 0."""
    if n == 0:
        return Estimate(None, 0, None, None)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, n, max(0.0, centre - half), min(1.0, centre + half))


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n: int, *, resamples: int,
              rng: np.random.Generator | np.random.RandomState) -> np.ndarray:  # fmt: skip
    """`statistic` over `resamples` resamples (with replacement) of n items, in draw order.

    `statistic` maps a (k, n) array of item indexes, one resample per row, to k values. rng: a
    numpy Generator, or a RandomState seeded by `python_random` to draw what Python's
    `random.choices` draws (bootstrap_mean's intervals predate numpy here and stay the same)."""
    out = np.empty(resamples)
    step = max(1, CHUNK // n)
    for start in range(0, resamples, step):
        k = min(step, resamples - start)
        if isinstance(rng, np.random.RandomState):
            idx = (rng.random_sample((k, n)) * n).astype(np.intp)  # floor(random() * n), as random.choices
        else:
            idx = rng.integers(0, n, size=(k, n))
        out[start : start + k] = statistic(idx)
    return out


def percentile_interval(stats: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The 95% percentile interval of resampled statistics: their 2.5% and 97.5% order statistics."""
    s = np.sort(np.asarray(stats, dtype=float))
    return float(s[int(0.025 * len(s))]), float(s[int(0.975 * len(s)) - 1])


def python_random(seed: int) -> np.random.RandomState:
    """numpy's Mersenne Twister seeded as `random.Random(seed)` seeds it (the seed's 32-bit words)."""
    seed, words = abs(seed), []
    while True:
        words.append(seed & 0xFFFFFFFF)
        seed >>= 32
        if not seed:
            return np.random.RandomState(words)


def bootstrap_mean(values: list[float], *, resamples: int = 1000, seed: int = 0, unit: str = "share") -> Estimate:
    """A mean with its percentile-bootstrap 95% interval (seeded, so reports are reproducible)."""
    n = len(values)
    if n == 0:
        return Estimate(None, 0, None, None, unit)
    mean = sum(values) / n
    v = np.asarray(values, dtype=float)

    def means(idx: np.ndarray) -> np.ndarray:
        # Summed item by item in draw order, as sum() adds (numpy's pairwise sum differs in the last bits).
        total = np.zeros(len(idx))
        for item in v[idx.T]:
            total += item
        return total / n

    low, high = percentile_interval(bootstrap(means, n, resamples=resamples, rng=python_random(seed)))
    return Estimate(mean, n, low, high, unit)
