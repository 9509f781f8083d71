"""What the numpy bootstrap saves: slmbench's bootstrap_mean against the pure-Python loop it
replaced (same draws, same intervals), at n samples and 1000 resamples. Prints the ratio."""

from __future__ import annotations

import argparse
import random
import time

from slmbench.metrics.stats import bootstrap_mean


def pure_python(values: list[float], resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    n = len(values)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def best_ms(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="samples")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(0)
    values = [rng.random() for _ in range(args.n)]
    e = bootstrap_mean(values)
    assert (e.ci_low, e.ci_high) == pure_python(values), "the two bootstraps disagree"
    old, new = best_ms(lambda: pure_python(values), args.repeats), best_ms(lambda: bootstrap_mean(values), args.repeats)
    print(
        f"bootstrap_mean, n={args.n}, 1000 resamples, best of {args.repeats}: pure Python {old:.1f} ms, "
        f"numpy {new:.1f} ms, {old / new:.1f}x faster (same interval)"
    )


if __name__ == "__main__":
    main()
