"""Is the load generator ever the bottleneck? Drive a loopback server that streams at once.

The scripted server runs in its own process on the same cores (as llama-server would) and
streams each answer instantly; the generator's closed loop runs against it. Prints
requests/s and chunks/s it sustains, and the ratio to the embedded llama.cpp server's own
measured rate (from a perf.json, when given; else a stated figure for this host class).

    python benchmarks/perf_generator.py [--requests 3000] [--concurrency 64] [--tokens 32] [--embedded RUN/perf.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from slmbench.perf.load import PointRun, closed_loop
from slmbench.perf.prompts import Prompt, request_body
from slmbench.perf.stream import StreamClient
from slmbench.runs import run_async

# serving-facts note: ~117 tokens/s for 4 streams of the embedded model on an idle host like this one
EMBEDDED_TOKENS_PER_S = 117.0


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "slmbench.testing.scripted"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def drive(url: str, requests: int, concurrency: int, tokens: int) -> tuple[PointRun, float]:
    body = request_body("scripted", Prompt([{"role": "user", "content": "go"}], tokens), ignore_eos=True, seed=0)
    run = PointRun()
    async with StreamClient(url, connections=concurrency, timeout_s=60) as client:
        cpu = time.process_time()
        await closed_loop(client, [body] * requests, concurrency, None, run)
        cpu = time.process_time() - cpu
    return run, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32, help="streamed chunks (one token each) per answer")
    parser.add_argument("--embedded", type=Path, help="a perf.json of the embedded model to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    proc, url = start_server()
    try:
        best = None
        for _ in range(args.repeat):
            run, cpu = run_async(drive(url, args.requests, args.concurrency, args.tokens))
            ok = [r for r in run.records if r.ok]
            assert len(ok) == args.requests, f"{args.requests - len(ok)} requests failed"
            rps = len(ok) / run.duration_s
            if best is None or rps > best[0]:
                best = (rps, sum(len(r.chunk_times) for r in ok) / run.duration_s, cpu * 1000 / len(ok))
    finally:
        proc.terminate()
        proc.wait()
    rps, cps, cpu_ms = best
    if args.embedded:
        points = json.loads(args.embedded.read_text())["points"]
        real = max(p["pooled"]["output_throughput"] for p in points)
        source = f"best point of {args.embedded}"
    else:
        real, source = EMBEDDED_TOKENS_PER_S, "the serving-facts figure for an idle host"
    print(f"perf generator vs instant loopback streaming server, {args.requests} requests x {args.tokens} chunks "
          f"at concurrency {args.concurrency}, best of {args.repeat}:")  # fmt: skip
    print(f"  requests/s        {rps:10.0f}")
    print(f"  chunks/s          {cps:10.0f}   (one token each)")
    print(f"  client CPU ms/req {cpu_ms:10.3f}")
    print(f"  embedded server   {real:10.1f} tokens/s ({source})")
    print(f"  headroom          {cps / real:10.0f}x the embedded server's token rate")


if __name__ == "__main__":
    main()
