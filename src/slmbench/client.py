"""Async OpenAI-compatible chat client for evaluation traffic.

Raw aiohttp rather than the openai SDK or httpx: on a 2-core machine the harness shares the
CPU with llama-server, and the SDK costs about ten times more CPU per request
(see ../shared notes and benchmarks/harness_overhead.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import aiohttp
import orjson

# Failure kinds a Completion can carry; None means a usable answer. (A sample whose request
# timed out gets the verdict verdicts.TIMEOUT; this is the transport's kind.)
CONNECTION = "connection"
RATE_LIMITED = "http_429"
SERVER_ERROR = "http_5xx"
CLIENT_ERROR = "http_4xx"
TIMED_OUT = "timeout"
MALFORMED = "malformed"
PROTOCOL = "protocol"  # not HTTP as it should be: a broken status line, bad headers

_RETRYABLE_EXCEPTIONS = (
    aiohttp.ClientConnectionError,  # refused, reset, server disconnected
    aiohttp.ClientPayloadError,  # body cut off mid-way
)


@dataclass(slots=True)
class Completion:
    text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    attempts: int
    error_kind: str | None = None
    error: str | None = None
    # A reasoning model's thinking, when the server returns it apart from the answer
    # (vLLM's reasoning parsers: `reasoning_content`; newer servers: `reasoning`).
    reasoning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None


@dataclass(slots=True)
class RetryPolicy:
    retries: int = 3
    base_s: float = 0.5
    max_s: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full-jitter exponential backoff; a server's Retry-After wins, within max_s."""
        if retry_after is not None:
            return min(retry_after, self.max_s)
        return random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))


class ChatClient:
    """One connection pool to one endpoint. Use as `async with ChatClient(...) as c`."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.concurrency = concurrency
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retry = retry or RetryPolicy()
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ChatClient:
        # Idle connections are dropped before the servers drop them (llama.cpp's cpp-httplib and
        # vLLM's uvicorn close after 5 s): reusing one the server just closed fails a request
        # that never reached it, and perf sends without retries.
        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300, keepalive_timeout=4)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, body: bytes) -> Completion:
        """POST one chat request (already serialised); retry what is worth retrying."""
        assert self._session is not None, "use ChatClient as an async context manager"
        start = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with self._session.post(self.url, data=body, headers=self.headers) as resp:
                    raw = await resp.read()
                    status = resp.status
                    if status == 200:
                        return _parse(raw, time.perf_counter() - start, attempt)
                    kind = RATE_LIMITED if status == 429 else SERVER_ERROR if status >= 500 else CLIENT_ERROR
                    detail = f"HTTP {status}: {_short(raw)}"
                    if kind == RATE_LIMITED:
                        retry_after = _seconds(resp.headers.get("Retry-After"))
            except TimeoutError:
                return _failure(TIMED_OUT, f"no answer within {self.timeout.total:g} s", start, attempt)
            except _RETRYABLE_EXCEPTIONS as exc:
                kind, detail = CONNECTION, f"{type(exc).__name__}: {exc}"
            except aiohttp.ClientError as exc:
                # A bad status line or headers (ClientResponseError and kin): one failed request,
                # never the end of the run; retried, as a proxy's hiccup may pass.
                kind, detail = PROTOCOL, f"{type(exc).__name__}: {exc}"
            if kind == CLIENT_ERROR or attempt > self.retry.retries:
                return _failure(kind, detail, start, attempt)
            await asyncio.sleep(self.retry.delay(attempt, retry_after))


def _parse(raw: bytes, latency: float, attempts: int) -> Completion:
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content")
        if text is None and not message.get("tool_calls"):
            # Not an empty answer: no answer at all. A failure (not cached), so a re-run asks again.
            raise TypeError("message.content is null")
        text = text or ""
        if not isinstance(text, str):
            raise TypeError("message.content is not a string")
        usage = data.get("usage") or {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return Completion(
            text=text,
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=latency,
            attempts=attempts,
            reasoning=reasoning if isinstance(reasoning, str) else None,
        )
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        return Completion(None, None, None, None, latency, attempts, MALFORMED, f"{exc}: {_short(raw)}")


def _failure(kind: str, detail: str, start: float, attempts: int) -> Completion:
    return Completion(None, None, None, None, time.perf_counter() - start, attempts, kind, detail)


def _short(raw: bytes, limit: int = 200) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("..." if len(raw) > limit else "")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class ReplicaClient:
    """Several endpoints serving one model, used as one: each request goes to the replica with
    the fewest requests in flight (ties: the one that has been sent the fewest), which keeps a
    slow or busy replica from queueing work the others could take."""

    def __init__(
        self,
        base_urls: list[str],
        *,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("ReplicaClient needs at least one base URL")
        self.replicas = [
            ChatClient(url, concurrency=concurrency, timeout_s=timeout_s, retry=retry, api_key=api_key)
            for url in base_urls
        ]
        self.outstanding = [0] * len(base_urls)
        self.sent = [0] * len(base_urls)

    async def __aenter__(self) -> ReplicaClient:
        for replica in self.replicas:
            await replica.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for replica in self.replicas:
            await replica.__aexit__(*exc)

    async def complete(self, body: bytes) -> Completion:
        # Single-threaded event loop: choosing and counting need no lock.
        i = min(range(len(self.replicas)), key=lambda k: (self.outstanding[k], self.sent[k]))
        self.outstanding[i] += 1
        self.sent[i] += 1
        try:
            return await self.replicas[i].complete(body)
        finally:
            self.outstanding[i] -= 1
