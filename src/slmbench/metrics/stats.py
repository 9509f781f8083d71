"""Confidence intervals.

Wilson's score interval is written out here (a few lines) rather than pulling in scipy or
statsmodels for one formula; it behaves well at 0% and 100% where the normal interval fails.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float | None
    n: int
    ci_low: float | None
    ci_high: float | None
    # "share" (shown as a percentage) or the name of what is counted (e.g. "per 100 lines").
    unit: str = "share"

    def as_dict(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {"value": self.value, "n": self.n, "ci_low": self.ci_low, "ci_high": self.ci_high}
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


def bootstrap_mean(values: list[float], *, resamples: int = 1000, seed: int = 0, unit: str = "share") -> Estimate:
    """A mean with its percentile-bootstrap 95% interval (seeded, so reports are reproducible)."""
    n = len(values)
    if n == 0:
        return Estimate(None, 0, None, None, unit)
    mean = sum(values) / n
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return Estimate(mean, n, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1], unit)
