"""Small synchronous HTTP calls for start-up checks, probes, token counts and downloads.

On aiohttp, the harness's one HTTP stack (the eval and perf clients use it for its low CPU cost
per request). The calls block their caller, on an event loop kept per thread (one in a
background thread serves callers inside a running loop), connections kept alive: on loopback
about the client CPU urllib took (~0.5 ms a call), where a fresh loop and session per call took
~6 ms (threads for the resolver and proxy look-up); handing every call to the background
thread cost ~80 us more than running it in the caller's thread (~20 us).
Endpoints are reached directly, as the eval and perf clients reach them; downloads
(`internet=True`) take proxies from the environment, as urllib did. The chat UI alone uses the
openai SDK, as Chainlit apps conventionally do.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from collections.abc import Coroutine
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

import aiohttp
import yarl  # aiohttp's URL type: encoded=True sends a URL as given, as urllib did ("%2F" stays)

from ..sse import SSEParser

T = TypeVar("T")


class HTTPFailure(OSError):
    """No usable answer: an error status ("HTTP Error 404: Not Found") or no answer at all."""


def get_json(url: str, *, timeout_s: float, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded body); status 0 when nothing answered."""
    status, _, raw = _answer("GET", url, timeout_s, headers or {}, None)
    return status, _decode(raw) if status else None


def post_json(
    url: str, body: dict[str, Any], *, timeout_s: float, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    status, _, raw = _answer("POST", url, timeout_s, {"Content-Type": "application/json", **(headers or {})},
                             json.dumps(body).encode())  # fmt: skip
    return status, _decode(raw) if status else None


def post_stream(
    url: str, body: dict[str, Any], *, timeout_s: float, headers: dict[str, str] | None = None
) -> tuple[int, str, list[str]]:
    """POST a streaming request: (status, content type, the `data:` payloads of its SSE events)."""
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", **(headers or {})}
    status, kind, raw = _answer("POST", url, timeout_s, headers, json.dumps(body).encode())
    if status != 200:
        return status, kind, []
    parser = SSEParser()
    events = parser.feed(raw) + parser.close()
    return status, kind, [e.decode("utf-8", "replace").strip() for e in events]


def fetch(url: str, *, timeout_s: float, headers: dict[str, str] | None = None, body: bytes | None = None,
          internet: bool = False) -> bytes:  # fmt: skip
    """The body of a successful GET (or POST, with body); HTTPFailure otherwise."""
    return _run(_fetch("POST" if body is not None else "GET", url, timeout_s, headers or {}, body, internet))


def _answer(
    method: str, url: str, timeout_s: float, headers: dict[str, str], body: bytes | None
) -> tuple[int, str, bytes]:
    """(status, content type, body); (0, "", b"") when nothing answered (refused, reset, DNS, timeout)."""
    try:
        return _run(_request(method, url, timeout_s, headers, body))
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return 0, "", b""


async def _request(method: str, url: str, timeout_s: float, headers: dict[str, str], body: bytes | None,
                   internet: bool = False) -> tuple[int, str, bytes]:  # fmt: skip
    # A limit per connect and per read, as a socket timeout is, not on the whole transfer.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
    for last in (False, True):
        try:
            async with _session(internet).request(method, yarl.URL(url, encoded=True), data=body, headers=headers,
                                                  timeout=timeout) as resp:  # fmt: skip
                return resp.status, resp.headers.get("Content-Type", ""), await resp.read()
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # A kept-alive connection the server had closed: the request is sent again on a new one.
            if last or isinstance(exc, aiohttp.ClientConnectorError):
                raise
    raise AssertionError("unreachable")


async def _fetch(method: str, url: str, timeout_s: float, headers: dict[str, str], body: bytes | None,
                 internet: bool) -> bytes:  # fmt: skip
    try:
        status, _, raw = await _request(method, url, timeout_s, headers, body, internet)
    except TimeoutError:
        raise HTTPFailure("timed out") from None
    except aiohttp.ClientError as exc:
        raise HTTPFailure(str(exc) or type(exc).__name__) from None
    if status >= 400:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        raise HTTPFailure(f"HTTP Error {status}: {phrase}")  # urllib's wording
    return raw


class _Loops:
    """The loops and their sessions, made on first use (made afresh in a forked child)."""

    lock = threading.Lock()
    pid: int | None = None
    background: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    local = threading.local()  # .loop, .pid: the calling thread's own loop
    own: ClassVar[list[asyncio.AbstractEventLoop]] = []
    sessions: ClassVar[dict[tuple[asyncio.AbstractEventLoop, bool], aiohttp.ClientSession]] = {}


def _this_process() -> None:
    # A forked child inherits the parent's loops and connections, unusable here: it starts afresh.
    if _Loops.pid != os.getpid():
        _Loops.background, _Loops.thread, _Loops.sessions, _Loops.own, _Loops.pid = None, None, {}, [], os.getpid()


def _background() -> asyncio.AbstractEventLoop:
    with _Loops.lock:
        _this_process()
        if _Loops.background is None:
            loop = asyncio.new_event_loop()
            _Loops.thread = threading.Thread(target=_serve, args=(loop,), name="slmbench-http", daemon=True)
            _Loops.thread.start()
            _Loops.background = loop
        return _Loops.background


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    loop.close()


def _own() -> asyncio.AbstractEventLoop:
    if getattr(_Loops.local, "pid", None) != os.getpid():
        with _Loops.lock:
            _this_process()
            _Loops.local.loop, _Loops.local.pid = asyncio.new_event_loop(), os.getpid()
            _Loops.own.append(_Loops.local.loop)
    return _Loops.local.loop


def _session(internet: bool) -> aiohttp.ClientSession:
    # One per loop, made on it. Idle connections are dropped after 4 s, before llama.cpp and
    # uvicorn drop them (5 s), as the eval client does.
    key = (asyncio.get_running_loop(), internet)
    if key not in _Loops.sessions:
        connector = aiohttp.TCPConnector(keepalive_timeout=4)
        _Loops.sessions[key] = aiohttp.ClientSession(connector=connector, trust_env=internet)
    return _Loops.sessions[key]


@atexit.register
def _close() -> None:
    if _Loops.pid != os.getpid():
        return
    for (loop, _), session in list(_Loops.sessions.items()):
        try:
            if loop is _Loops.background:
                asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=5)
            elif not loop.is_running() and not loop.is_closed():
                loop.run_until_complete(session.close())
        except Exception:  # noqa: BLE001, S110 - exiting anyway; the connections die with the process
            pass
    for loop in _Loops.own:
        if not loop.is_running() and not loop.is_closed():
            loop.close()
    if _Loops.background is not None and _Loops.thread is not None:
        _Loops.background.call_soon_threadsafe(_Loops.background.stop)
        _Loops.thread.join(5)


def _run(call: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _own().run_until_complete(call)
    # Inside a running loop (a blocking call there, as it always was): on the background thread's.
    return asyncio.run_coroutine_threadsafe(call, _background()).result()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
