"""What slmbench's eval path costs per request, against a loopback server that answers at once.

The whole path is measured (task samples -> cache lookup -> client -> store commit -> score
-> results files), with the server in its own process on the same cores, as llama-server
would be. Prints requests/s, CPU ms per request and the time from command start to the
first request, next to the targets.

    python benchmarks/harness_overhead.py [--requests 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request

import slmbench
from slmbench.config import ModelSpec
from slmbench.progress import Quiet

TARGET_RPS = 3000
TARGET_CPU_MS = 0.3
TARGET_FIRST_S = 1.5


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmbench.testing.scripted", "--model", "scripted"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def stats(url: str) -> dict:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats") as resp:
        return json.loads(resp.read())


def in_process(url: str, requests: int, concurrency: int) -> tuple[float, float, float]:
    """(requests/s, CPU ms per request, cached re-run seconds) for slmbench.evaluate()."""
    model = ModelSpec(name="scripted", backend="attach", url=url)
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        results = slmbench.evaluate(
            [model], ["arithmetic"], limit=requests, concurrency=concurrency, out=out, observer=Quiet(), report=False
        )  # the harness, not the report
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert results.models[0].tasks["arithmetic"].requests_sent == requests
        again = time.perf_counter()
        slmbench.evaluate(
            [model], ["arithmetic"], limit=requests, concurrency=concurrency, out=out, observer=Quiet(), report=False
        )
        again = time.perf_counter() - again
    return requests / wall, cpu * 1000 / requests, again


def first_request_delay(url: str) -> float:
    """Seconds from `slmbench eval` being started to its first chat request reaching the server."""
    before = stats(url)["chat_requests"]
    with tempfile.TemporaryDirectory() as out:
        # A fresh seed: nothing is cached, so the first sample is really sent.
        start = time.time()
        subprocess.run(
            [sys.executable, "-m", "slmbench.cli", "eval", "--model", f"scripted={url}", "--limit", "50",
             "--seed", str(int(start)), "--out", out, "-q"],
            check=True, capture_output=True,
        )  # fmt: skip
    after = stats(url)
    assert after["chat_requests"] > before
    return after["first_chat_at"] - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is reported")
    args = parser.parse_args()

    proc, url = start_server()
    try:
        runs = [in_process(url, args.requests, args.concurrency) for _ in range(args.repeat)]
        rps, cpu_ms, cached_s = max(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs)
        # The server counts first_chat_at once per process: a fresh server per measurement.
        first = []
        for _ in range(args.repeat):
            proc.terminate()
            proc.wait()
            proc, url = start_server()
            first.append(first_request_delay(url))
    finally:
        proc.terminate()
        proc.wait()

    print(f"slmbench eval path, {args.requests} requests at concurrency {args.concurrency}, best of {args.repeat}:")
    print(f"  requests/s             {rps:8.0f}   target >= {TARGET_RPS}   ratio {rps / TARGET_RPS:.2f}x")
    print(f"  CPU ms per request     {cpu_ms:8.3f}   target <= {TARGET_CPU_MS}   ratio {TARGET_CPU_MS / cpu_ms:.2f}x")
    print(
        f"  first request after    {min(first):8.2f} s target <= {TARGET_FIRST_S} s ratio {TARGET_FIRST_S / min(first):.2f}x"
    )
    print(f"  fully cached re-run    {cached_s:8.2f} s ({args.requests / cached_s:.0f} samples/s)")


if __name__ == "__main__":
    main()
