"""Load shapes: a closed loop at fixed concurrency, an open loop at a request rate.

Both send a warm-up first (excluded from the numbers), stop at `requests` and/or
`duration_s`, and append each finished request to `into` as it completes, so a run that is
stopped (Ctrl-C) keeps everything that finished.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .stats import RequestRecord
from .stream import CANCELLED, StreamClient


@dataclass(slots=True)
class PointRun:
    """What one point produced: the measured requests and the window they ran in."""

    records: list[RequestRecord] = field(default_factory=list)
    duration_s: float = 0.0
    warmup_failed: int = 0
    # open loop: the rate asked for and the rates reached (requests sent / completed per second)
    rate_requested: float | None = None
    rate_sent: float | None = None
    rate_scheduled: float | None = None  # what this random schedule asked for (a short one strays from the rate)
    max_send_lag_s: float | None = None


def arrivals(rate: float, n: int, burstiness: float, seed: int) -> list[float]:
    """Send times (s) for n requests: gamma inter-arrivals with mean 1/rate.

    burstiness 1 is a Poisson process; below 1 is burstier, above 1 more regular (as vLLM).
    """
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        t += rng.gammavariate(burstiness, 1.0 / (rate * burstiness))
        out.append(t)
    return out


async def warm_up(client: StreamClient, bodies: Sequence[bytes], concurrency: int) -> int:
    """Send the warm-up requests; return how many failed."""
    origin = time.perf_counter()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, body: bytes) -> bool:
        async with sem:
            return (await client.send(body, RequestRecord(i, 0.0), origin)).ok

    results = await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    return sum(not ok for ok in results)


async def closed_loop(
    client: StreamClient, bodies: Sequence[bytes], concurrency: int, duration_s: float | None, into: PointRun
) -> None:
    """`concurrency` workers each send their next request as soon as the last one finishes."""
    origin = time.perf_counter()
    deadline = origin + duration_s if duration_s else None
    pending = iter(enumerate(bodies))

    async def worker() -> None:
        for i, body in pending:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            await _send(client, body, RequestRecord(i, 0.0), origin, into)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(bodies)))))


async def open_loop(
    client: StreamClient,
    bodies: Sequence[bytes],
    rate: float,
    burstiness: float,
    duration_s: float | None,
    seed: int,
    into: PointRun,
) -> None:
    """Send on a Poisson/gamma schedule whatever the server's state (requests pile up if it is slow)."""
    schedule = arrivals(rate, len(bodies), burstiness, seed)
    if duration_s:
        schedule = [t for t in schedule if t < duration_s] or schedule[:1]
    into.rate_requested = rate
    into.rate_scheduled = len(schedule) / schedule[-1]
    origin = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()
    lag = 0.0

    async def one(i: int, body: bytes, due: float) -> None:
        await _send(client, body, RequestRecord(i, 0.0, scheduled=due), origin, into)

    try:
        for i, due in enumerate(schedule):
            wait = origin + due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            lag = max(lag, time.perf_counter() - origin - due)
            task = asyncio.create_task(one(i, bodies[i], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent_span = time.perf_counter() - origin
        into.rate_sent = len(schedule) / sent_span if sent_span > 0 else None
        into.max_send_lag_s = lag
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def _send(client: StreamClient, body: bytes, record: RequestRecord, origin: float, into: PointRun) -> None:
    """Send, then keep the record at once (unless the run was stopped while it was in flight)."""
    try:
        await client.send(body, record, origin)
    finally:
        if record.error_kind != CANCELLED:
            into.records.append(record)
        into.duration_s = time.perf_counter() - origin
