"""What the server says about its own work, beside what the client saw.

llama.cpp puts `timings` (prompt_n, prompt_ms, predicted_n, predicted_ms, ...) in the last
stream chunk, and counts totals on /metrics (`llamacpp:*`, with --metrics); vLLM counts on
/metrics (`vllm:*`). Client TTFT minus the server's prompt time is time spent queued and in
transport; client TPOT against the server's per-token time is the decode gap.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from ..serving.http import fetch
from .stats import RequestRecord


def scrape(root: str, timeout_s: float = 5.0) -> dict[str, float]:
    """Unlabelled samples of /metrics (name -> value); {} when the server has none."""
    try:
        text = fetch(f"{root}/metrics", timeout_s=timeout_s).decode("utf-8", "replace")
    except (OSError, ValueError):
        return {}
    # The Prometheus text format; the counters we want carry no labels, so `name value` suffices.
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            try:
                out[name] = float(value.split()[0])
            except (ValueError, IndexError):
                continue
    return out


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Counters' growth during a point (gauges are left out: their difference means nothing)."""
    return {k: after[k] - before[k] for k in after if k in before and k.endswith("_total")}


def reconcile(records: Sequence[RequestRecord], delta: dict[str, float]) -> dict[str, Any]:
    """Client vs server per request (medians, ms), and the server's own totals for the point."""
    timed = [r for r in records if r.ok and r.server and r.ttft is not None and "prompt_ms" in r.server]
    out: dict[str, Any] = {"requests_with_timings": len(timed), "metrics_delta": delta}
    if timed:
        med = statistics.median
        client_ttft = med(r.ttft * 1000 for r in timed)
        server_prompt = med(r.server["prompt_ms"] for r in timed)
        tpots = [
            (r.tpot * 1000, _server_tpot(r.server)) for r in timed if r.tpot is not None and _server_tpot(r.server)
        ]
        out |= {
            "client_ttft_ms": client_ttft,
            "server_prompt_ms": server_prompt,
            # what TTFT holds beyond prefill compute: waiting for a slot, HTTP, first-chunk flush
            "ttft_gap_ms": med(r.ttft * 1000 - r.server["prompt_ms"] for r in timed),
            "server_prompt_tokens": med(r.server.get("prompt_n", 0) for r in timed),
        }
        if tpots:
            out |= {
                "client_tpot_ms": med(c for c, _ in tpots),
                "server_tpot_ms": med(s for _, s in tpots),
                "tpot_gap_ms": med(c - s for c, s in tpots),
            }
    prompt_s = delta.get("llamacpp:prompt_seconds_total")
    predicted_s = delta.get("llamacpp:tokens_predicted_seconds_total")
    if prompt_s:
        out["server_prefill_tokens_per_s"] = delta.get("llamacpp:prompt_tokens_total", 0) / prompt_s
    if predicted_s:
        out["server_decode_tokens_per_s"] = delta.get("llamacpp:tokens_predicted_total", 0) / predicted_s
    return out


def _server_tpot(timings: dict[str, Any]) -> float | None:
    """ms per generated token as the server timed it (llama.cpp's predicted_per_token_ms)."""
    n, ms = timings.get("predicted_n"), timings.get("predicted_ms")
    return ms / n if n and ms is not None else None
