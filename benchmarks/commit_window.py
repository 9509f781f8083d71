"""How long an answer waits in memory before the store commits it: what a kill -9 can lose.

The runner commits in groups (runner.COMMIT_EVERY_S); the docs promise a bound. This runs real
evals against a loopback server (in its own process, on the same cores, as llama-server would
be) at several loads and prints the longest wait seen next to that bound.

    python benchmarks/commit_window.py [--requests 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request

import slmbench
from slmbench import runner, runs
from slmbench.config import ModelSpec
from slmbench.store import Store

waits: list[float] = []


class MeasuredStore(Store):
    def close(self) -> None:
        super().close()
        waits.append(self.max_commit_lag_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs.Store = MeasuredStore  # type: ignore[misc]
    print(f"bound in the docs: answers wait at most ~{runner.COMMIT_EVERY_S * 1000:.0f} ms (COMMIT_EVERY_S)")
    for delay, concurrency in ((0.0, 64), (0.005, 8), (0.05, 4)):
        server = subprocess.Popen(
            [sys.executable, "-m", "slmbench.testing.scripted", "--delay", str(delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        url = server.stdout.readline().strip()
        try:
            urllib.request.urlopen(url + "/models", timeout=10).read()
            spec = ModelSpec(name="scripted", backend="attach", url=url, served="scripted")
            seen = []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    slmbench.evaluate(
                        [spec], ["arithmetic"], limit=args.requests, concurrency=concurrency, out=out, report=False
                    )
                    elapsed = time.perf_counter() - start
                seen.append(waits[-1])
            print(f"answer delay {delay * 1000:>4.0f} ms, concurrency {concurrency:>2}: longest wait {max(seen) * 1000:6.1f} ms "
                  f"over {args.repeats} runs of {args.requests} requests (last run {args.requests / elapsed:,.0f} requests/s)")  # fmt: skip
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
