"""Is model A really better than model B on the same samples?

Paired tests, because both models answered the same items: McNemar's exact test (a binomial
test on the discordant pairs) when scores are pass/fail, a paired bootstrap otherwise. The
interval of the difference is always the paired percentile bootstrap (seeded). Written out
rather than imported from scipy: two short formulas, and scipy would be the heaviest
dependency of the tool (the tests check both against scipy).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class Difference:
    """mean(a) - mean(b) over the paired samples, with its 95% interval and a p-value."""

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    test: str  # "mcnemar-exact" | "paired-bootstrap" | "none"

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    def as_dict(self) -> dict[str, float | int | str | bool | None]:
        return {"diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                "n": self.n, "test": self.test, "significant": self.significant}  # fmt: skip


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (A right & B wrong = b, the
    reverse = c): twice the smaller binomial(b + c, 1/2) tail, capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_difference(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> Difference:
    """Compare paired per-sample scores (a[i] and b[i] are the same item)."""
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return Difference(None, None, None, None, 0, "none")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / n
    rng = random.Random(seed)
    boot = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    low, high = boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]
    if all(v in (0.0, 1.0) for v in (*a, *b)):
        better = sum(1 for x, y in zip(a, b, strict=True) if x > y)
        worse = sum(1 for x, y in zip(a, b, strict=True) if x < y)
        return Difference(mean, low, high, mcnemar_exact(better, worse), n, "mcnemar-exact")
    if all(d == 0 for d in diffs):
        return Difference(0.0, 0.0, 0.0, 1.0, n, "paired-bootstrap")
    # Two-sided bootstrap p-value: how often the resampled difference crosses zero, doubled.
    below = sum(1 for d in boot if d <= 0) / resamples
    above = sum(1 for d in boot if d >= 0) / resamples
    return Difference(mean, low, high, min(1.0, 2 * min(below, above)), n, "paired-bootstrap")
