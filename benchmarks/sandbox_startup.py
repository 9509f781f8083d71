"""What the code sandbox costs per run: bubblewrap against a plain child process.

Each run is one whole sandbox job as the coding suite makes it (start, driver, one call of a
tiny function, result parsed, process group reaped). "plain" is the same job in a plain child
process with the same rlimits (the --unsafe-no-sandbox path); the difference is bubblewrap's
own cost (namespaces, mounts). Target: under 50 ms per sandboxed run.

    python benchmarks/sandbox_startup.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from slmbench.sandbox import Sandbox, open_sandbox

TARGET_MS = 50.0
JOB = {"job": "call", "code": "def f(a, b):\n    return a + b\n", "entry": "f", "inputs": [(1, 2)]}


def measure(box: Sandbox, runs: int) -> list[float]:
    box.run(JOB)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        outcome = box.run(JOB)
        times.append((time.perf_counter() - start) * 1000)
        assert outcome.result.get("outputs") == [3], outcome
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sandboxed = open_sandbox()
    plain = Sandbox("unsafe", sandboxed.python)
    results = {"bubblewrap": measure(sandboxed, args.runs), "plain": measure(plain, args.runs)}
    print(f"{'per run (ms)':<14}{'median':>8}{'p90':>8}{'min':>8}")
    for name, times in results.items():
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:<14}{statistics.median(times):>8.1f}{p90:>8.1f}{min(times):>8.1f}")
    cost = statistics.median(results["bubblewrap"]) - statistics.median(results["plain"])
    median = statistics.median(results["bubblewrap"])
    verdict = "meets" if median < TARGET_MS else "misses"
    print(
        f"bubblewrap adds {cost:.1f} ms per run; a sandboxed run takes {median:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)"
    )


if __name__ == "__main__":
    main()
