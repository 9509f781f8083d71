"""Latency and throughput summaries, timed as vLLM's `bench serve` times them.

TTFT: send -> first chunk carrying content. ITL: gaps between later content chunks (per
chunk, not per token). E2E: send -> last content chunk. TPOT: (E2E - TTFT) / (output
tokens - 1), output tokens from the server's `usage`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(slots=True)
class RequestRecord:
    """One request as the client saw it (times in seconds, relative to the point's start)."""

    index: int
    start: float
    scheduled: float | None = None  # open loop: when it was due to be sent
    ttft: float | None = None
    e2e: float | None = None
    chunk_times: list[float] = field(default_factory=list)  # arrival of each content chunk, from send
    chunk_tokens: list[int] | None = None  # tokens per content chunk, where the server says
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    error_kind: str | None = None
    error: str | None = None
    server: dict[str, Any] | None = None  # the server's own timings (llama.cpp `timings`)

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def tpot(self) -> float | None:
        if self.e2e is None or self.ttft is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)

    @property
    def itl(self) -> list[float]:
        t = self.chunk_times
        return [b - a for a, b in zip(t, t[1:])]

    @property
    def multi_token_chunks(self) -> int | None:
        """Chunks that carried several tokens; None when the server does not say per chunk."""
        if self.chunk_tokens is None:
            return None
        return sum(n > 1 for n in self.chunk_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "start_s": self.start, "scheduled_s": self.scheduled, "ttft_s": self.ttft,
            "tpot_s": self.tpot, "e2e_s": self.e2e, "itl_s": self.itl, "chunks": len(self.chunk_times),
            "multi_token_chunks": self.multi_token_chunks, "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens, "finish_reason": self.finish_reason,
            "error_kind": self.error_kind, "error": self.error, "server": self.server,
        }  # fmt: skip


def distribution(values: Sequence[float], scale: float = 1.0) -> dict[str, float | int | None]:
    """mean, median, std, min, max and p50/p90/p95/p99 (scaled, e.g. to ms)."""
    if not values:
        return {"n": 0, "mean": None, "median": None, "std": None, "min": None, "max": None}
    a = np.asarray(values, dtype=float) * scale
    out: dict[str, float | int | None] = {
        "n": int(a.size), "mean": float(a.mean()), "median": float(np.median(a)), "std": float(a.std()),
        "min": float(a.min()), "max": float(a.max()),
    }  # fmt: skip
    for p, v in zip(PERCENTILES, np.percentile(a, PERCENTILES)):
        out[f"p{p}"] = float(v)
    return out


@dataclass(frozen=True, slots=True)
class SLO:
    """Service-level objectives in milliseconds; a request meets them when all set ones hold."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    def met(self, r: RequestRecord) -> bool:
        checks = ((self.ttft_ms, r.ttft), (self.tpot_ms, r.tpot), (self.e2e_ms, r.e2e))
        # A one-token answer has no TPOT: it cannot miss a TPOT objective.
        return r.ok and all(limit is None or value is None or value * 1000 <= limit for limit, value in checks)

    def as_dict(self) -> dict[str, float]:
        return {
            k: v
            for k, v in (("ttft_ms", self.ttft_ms), ("tpot_ms", self.tpot_ms), ("e2e_ms", self.e2e_ms))
            if v is not None
        }


def summarize(records: Sequence[RequestRecord], duration_s: float, slo: SLO | None = None) -> dict[str, Any]:
    """The point's numbers: counts, throughputs, goodput and latency distributions (ms)."""
    ok = [r for r in records if r.ok]
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    in_tokens = sum(r.prompt_tokens or 0 for r in ok)
    duration = max(duration_s, 1e-9)
    multi = [r.multi_token_chunks for r in ok if r.multi_token_chunks is not None]
    chunks = sum(len(r.chunk_times) for r in ok)
    good = sum(slo.met(r) for r in ok) if slo else None
    return {
        "requests": {
            "completed": len(ok),
            "failed": len(records) - len(ok),
            "errors": dict(Counter(r.error_kind for r in records if not r.ok)),
        },
        "duration_s": duration_s,
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "missing_usage": sum(r.output_tokens is None for r in ok),
        "request_throughput": len(ok) / duration,
        "output_throughput": out_tokens / duration,
        "total_token_throughput": (in_tokens + out_tokens) / duration,
        "goodput": None if good is None else good / duration,
        "slo_met": good,
        "chunks": chunks,
        # Tokens that arrived sharing a chunk with others: ITL is per chunk, so these hide in it.
        "tokens_beyond_chunks": max(0, out_tokens - chunks) if ok else 0,
        "multi_token_chunks": sum(multi) if multi else None,
        "ttft_ms": distribution([r.ttft for r in ok if r.ttft is not None], 1000),
        "tpot_ms": distribution([t for r in ok if (t := r.tpot) is not None], 1000),
        "itl_ms": distribution([g for r in ok for g in r.itl], 1000),
        "e2e_ms": distribution([r.e2e for r in ok if r.e2e is not None], 1000),
    }


def parse_slo(values: list[str]) -> SLO | None:
    """`ttft:500 tpot:50` (ms; one string or several) -> SLO."""
    from ..errors import SlmbenchError

    found: dict[str, float] = {}
    for part in " ".join(values).replace(",", " ").split():
        name, sep, limit = part.partition(":")
        try:
            if not sep or name not in ("ttft", "tpot", "e2e") or float(limit) <= 0:
                raise ValueError
        except ValueError:
            raise SlmbenchError(
                f"--slo {part!r} is not METRIC:MS with METRIC ttft, tpot or e2e; write e.g. --slo ttft:500 tpot:50"
            ) from None
        found[f"{name}_ms"] = float(limit)
    return SLO(**found) if found else None


def parse_list(value: str | None, kind: type, flag: str) -> list:
    """`1,2,4` -> [1, 2, 4]; a one-line error for anything else."""
    from ..errors import SlmbenchError

    if not value:
        return []
    try:
        return [kind(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise SlmbenchError(
            f"{flag} {value!r} is not a comma-separated list of numbers; write e.g. {flag} 1,2,4"
        ) from None
