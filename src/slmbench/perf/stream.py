"""One streaming chat request on raw aiohttp, timed chunk by chunk.

No retries: a retried request would hide the failure and inflate its latency; the load
generator counts every failure by kind instead.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from ..client import CLIENT_ERROR, CONNECTION, MALFORMED, PROTOCOL, RATE_LIMITED, SERVER_ERROR, TIMED_OUT, ChatClient
from ..sse import SSEParser
from .stats import RequestRecord

DROPPED = "dropped"  # the stream ended before the server said it was done
CANCELLED = "cancelled"  # still in flight when the run was stopped


class StreamClient(ChatClient):
    """ChatClient's connection pool, sending streamed requests; `async with StreamClient(...) as c`."""

    def __init__(self, base_url: str, *, connections: int, timeout_s: float, api_key: str | None = None) -> None:
        super().__init__(base_url, concurrency=connections, timeout_s=timeout_s, api_key=api_key)

    async def send(self, body: bytes, record: RequestRecord, origin: float) -> RequestRecord:
        """Stream one request (body has "stream": true) into record; times relative to origin."""
        assert self._session is not None, "use StreamClient as an async context manager"
        for fresh_try in (False, True):
            sent = time.perf_counter()
            record.start = sent - origin
            try:
                return await self._send_once(body, record, sent)
            except _StaleConnection as exc:
                # A kept-alive connection the server had already closed (llama-server closes idle
                # ones): the request never left, so it is sent again on a new connection, timed afresh.
                if fresh_try:
                    return _fail(record, CONNECTION, str(exc))
        raise AssertionError("unreachable")

    async def _send_once(self, body: bytes, record: RequestRecord, sent: float) -> RequestRecord:
        assert self._session is not None
        got_response = False
        try:
            async with self._session.post(self.url, data=body, headers=self.headers) as resp:
                got_response = True
                if resp.status != 200:
                    raw = await resp.read()
                    kind = RATE_LIMITED if resp.status == 429 else SERVER_ERROR if resp.status >= 500 else CLIENT_ERROR
                    return _fail(record, kind, f"HTTP {resp.status}: {raw[:200].decode('utf-8', 'replace')}")
                if resp.content_type != "text/event-stream":
                    raw = await resp.read()
                    return _fail(record, MALFORMED, f"expected an event stream, got {resp.content_type}: {raw[:200]!r}")
                done = await _read_stream(resp, record, sent)
        except TimeoutError:
            return _fail(record, TIMED_OUT, f"no complete answer within {self.timeout.total:g} s")
        except aiohttp.ClientPayloadError as exc:
            return _fail(record, DROPPED, f"stream cut off: {exc}")
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
            if not got_response and not isinstance(exc, aiohttp.ClientConnectorError):
                raise _StaleConnection(f"{type(exc).__name__}: {exc}") from None
            kind = DROPPED if record.chunk_times or got_response else CONNECTION
            return _fail(record, kind, f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientConnectionError as exc:
            kind = DROPPED if record.chunk_times or got_response else CONNECTION
            return _fail(record, kind, f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:  # a bad status line or headers: one failed request, not the run's end
            return _fail(record, PROTOCOL, f"{type(exc).__name__}: {exc}")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return _fail(record, MALFORMED, f"bad stream chunk ({type(exc).__name__}: {exc})")
        except asyncio.CancelledError:
            _fail(record, CANCELLED, "stopped before the answer was complete")
            raise
        if not done:
            return _fail(record, DROPPED, f"stream ended without [DONE] after {len(record.chunk_times)} content chunks")
        return record


class _StaleConnection(Exception):
    pass


async def _read_stream(resp: aiohttp.ClientResponse, r: RequestRecord, sent: float) -> bool:
    """Read events as they arrive; True when the stream ended properly ([DONE])."""
    parser = SSEParser()
    per_chunk: list[int] = []
    cumulative: int | None = None  # tokens so far, when the server counts them in every chunk
    counted = True
    async for data in resp.content.iter_any():
        now = time.perf_counter() - sent
        for event in parser.feed(data):
            if event == b"[DONE]":
                _finish_counts(r, per_chunk if counted else None)
                return True
            msg = orjson.loads(event)
            if "error" in msg and not msg.get("choices"):
                raise TypeError(f"error event: {str(msg['error'])[:200]}")
            usage = msg.get("usage")
            if usage:
                r.prompt_tokens = usage.get("prompt_tokens", r.prompt_tokens)
                r.output_tokens = usage.get("completion_tokens", r.output_tokens)
            timings = msg.get("timings")
            if timings:
                r.server = timings
            choices = msg.get("choices")
            if not choices:
                continue
            choice = choices[0]
            if choice.get("finish_reason"):
                r.finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            if not (delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")):
                continue
            if r.ttft is None:
                r.ttft = now
            r.e2e = now
            r.chunk_times.append(now)
            # Per-chunk token counts: vLLM's continuous usage stats, or llama.cpp's per-token timings.
            so_far = (usage or {}).get("completion_tokens") or (timings or {}).get("predicted_n")
            if so_far is None:
                counted = False
            else:
                per_chunk.append(so_far - (cumulative or 0))
                cumulative = so_far
    for event in parser.close():
        if event == b"[DONE]":
            _finish_counts(r, per_chunk if counted else None)
            return True
    return False


def _finish_counts(r: RequestRecord, per_chunk: list[int] | None) -> None:
    r.chunk_tokens = per_chunk if per_chunk and len(per_chunk) == len(r.chunk_times) else None


def _fail(record: RequestRecord, kind: str, detail: str) -> RequestRecord:
    record.error_kind = kind
    record.error = detail
    return record
