"""A scripted OpenAI-compatible server on loopback.

For testing the harness's own logic (retries, timeouts, resume, malformed replies) and for
measuring its overhead; never a stand-in for a model. Plain asyncio rather than aiohttp.web
so that it can misbehave on purpose (drop connections, send broken JSON) and answer in
microseconds. Run one from the shell: `python -m slmbench.testing.scripted --port 8011`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

# Script actions, consumed one per chat request in arrival order; then `answer` is used.
OK = "ok"
DROP = "drop"  # close the connection without a reply
MALFORMED = "malformed"  # 200 with a body that is not JSON
HANG = "hang"  # never answer (the client must time out)
DROP_MID = "drop_mid"  # streaming: send half the chunks, then close the connection
BAD_STATUS = "bad_status"  # a reply whose status line is not HTTP, then close
NULL_CONTENT = "null_content"  # 200 whose message has "content": null and no tool calls
STREAM = "stream"  # internal: reply() hands _Protocol a list of SSE events to send
# Any int is answered as that HTTP status with an error body.

# An answer: the text, or (text, finish_reason), or (text, finish_reason, reasoning_content).
Answer = Callable[[dict[str, Any]], "str | tuple[str, str] | tuple[str, str, str]"]


def _default_answer(body: dict[str, Any]) -> str:
    return "Answer: 0"


class ScriptedServer:
    """`with ScriptedServer(answer=...) as server:` serves on server.url until the block ends."""

    def __init__(
        self,
        answer: Answer = _default_answer,
        *,
        script: list[str | int] | None = None,
        models: tuple[str, ...] = ("scripted",),
        delay_s: float = 0.0,  # before each chat answer (the first token, when streaming)
        port: int = 0,
        chunk_delay_s: float = 0.0,
        tokens_per_chunk: int = 1,
        max_model_len: int | None = None,
        tokenize: bool = False,
        api_key: str | None = None,
    ) -> None:
        self.answer = answer
        # With api_key, every request without "Authorization: Bearer <api_key>" gets 401.
        self.api_key = api_key
        self.unauthorized = 0
        self.auth_headers: set[str] = set()  # Authorization values seen (to check what clients send)
        # (time.monotonic(), method, path) of every request; chat requests whose client closed
        # the connection before the answer was written.
        self.log: list[tuple[float, str, str]] = []
        self.requests_abandoned = 0
        self.disconnects: list[float] = []  # time.monotonic() of each connection the client closed
        self.script = list(script or [])
        self.models = models
        self.delay_s = delay_s
        self.port = port
        # Streaming requests ("stream": true): a word is a token; the pause between chunks
        # and how many tokens each chunk carries. How streams ended: a client that closes the
        # connection mid-stream, as a Stop button should, counts as cancelled.
        self.chunk_delay_s = chunk_delay_s
        self.tokens_per_chunk = tokens_per_chunk
        self.streams_completed = 0
        self.streams_cancelled = 0
        # /tokenize: llama.cpp's ({"content"} -> {"tokens"}) by default; with `tokenize`, vLLM's
        # ({"prompt"|"messages"} -> {"count"}) instead, and a max context in /v1/models.
        self.vocab: dict[str, int] = {}
        self.max_model_len = max_model_len
        self.tokenize = tokenize
        self.tokenize_requests = 0
        self.chat_requests = 0  # chat requests received, whatever was answered
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_chat_at: float | None = None  # time.time() of the first chat request
        self.bodies: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._connections: set[asyncio.BaseTransport] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # lifecycle ---------------------------------------------------------------
    def __enter__(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self._serve_in_thread, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop)
        if self._thread is not None:
            self._thread.join(5)

    def _stop(self) -> None:
        # Open connections close, as they do when a server process exits: a client's kept-alive
        # connection must not outlive the server it was made to.
        for transport in list(self._connections):
            transport.close()
        assert self._loop is not None
        self._loop.call_soon(self._loop.stop)  # after the closes just scheduled

    def _serve_in_thread(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self.start())
        self._ready.set()
        self._loop.run_forever()
        if self._server is not None:
            self._server.close()

    async def start(self) -> None:
        self._server = await asyncio.get_running_loop().create_server(lambda: _Protocol(self), "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    # behaviour ---------------------------------------------------------------
    def reply(self, method: str, path: str, body: bytes) -> tuple[str | int, bytes | list[bytes]]:
        """The action and response body for one request."""
        path = path.split("?", 1)[0]
        if method == "GET" and path in ("/v1/models", "/models"):
            extra = {"max_model_len": self.max_model_len} if self.max_model_len else {}
            data = [{"id": m, "object": "model", **extra} for m in self.models]
            return 200, json.dumps({"object": "list", "data": data}).encode()
        if method == "POST" and path == "/tokenize" and self.tokenize:
            self.tokenize_requests += 1
            request = json.loads(body)
            if "messages" in request:
                count = sum(len(m["content"].split()) + 4 for m in request["messages"])
            elif "prompt" in request:
                count = len(request["prompt"].split())
            else:  # as vLLM answers llama.cpp's {"content": ...}
                return 400, b'{"error":{"message":"prompt or messages required"}}'
            return 200, json.dumps(
                {"count": count, "tokens": list(range(count)), "max_model_len": self.max_model_len}
            ).encode()
        if method == "GET" and path == "/health":
            return 200, b'{"status":"ok"}'
        if method == "GET" and path == "/stats":
            stats = {"chat_requests": self.chat_requests, "first_chat_at": self.first_chat_at}
            return 200, json.dumps(stats).encode()
        if method == "POST" and path in ("/tokenize", "/detokenize"):
            self.tokenize_requests += path == "/tokenize"
            return 200, self._tokenizer(path, json.loads(body))
        if method != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
            return 404, b'{"error":{"message":"not found"}}'
        self.chat_requests += 1
        if self.first_chat_at is None:
            self.first_chat_at = time.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        action: str | int = self.script.pop(0) if self.script else OK
        if action == DROP_MID and b'"stream":true' not in body.replace(b" ", b""):
            action = DROP
        if action == NULL_CONTENT:
            message = {"role": "assistant", "content": None}
            return 200, json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        if action not in (OK, DROP_MID):
            return action, b'{"error":{"message":"scripted failure"}}'
        request = json.loads(body)
        self.bodies.append(request)
        if request.get("stream"):
            return STREAM, self._stream(request, drop=action == DROP_MID)
        result = self.answer(request)
        text, finish, *thinking = result if isinstance(result, tuple) else (result, "stop")
        message = {"role": "assistant", "content": text}
        if thinking:
            message["reasoning_content"] = thinking[0]
        return 200, json.dumps(
            {
                "id": f"chatcmpl-{self.chat_requests}",
                "object": "chat.completion",
                "model": request.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": max(1, len(text.split())),
                    "total_tokens": 10 + max(1, len(text.split())),
                },
            }
        ).encode()

    def _tokenizer(self, path: str, request: dict[str, Any]) -> bytes:
        """llama.cpp's /tokenize and /detokenize, with a word as a token."""
        if path == "/tokenize":
            ids = [self.vocab.setdefault(w, len(self.vocab)) for w in request.get("content", "").split()]
            return json.dumps({"tokens": ids}).encode()
        words = {i: w for w, i in self.vocab.items()}
        return json.dumps({"content": " ".join(words[i] for i in request.get("tokens", []))}).encode()

    def _stream(self, request: dict[str, Any], *, drop: bool) -> list[bytes]:
        """SSE events as llama.cpp sends them: content chunks (with per-token timings when asked),
        a final chunk with finish_reason and timings, a usage chunk, [DONE]. With `drop`, only
        the first half of the content chunks."""
        result = self.answer(request)
        text, finish = (result, "stop") if isinstance(result, str) else result[:2]
        words = re.findall(r"\s*\S+", text) or [""]  # a word with the space before it: Markdown survives
        limit = request.get("max_tokens")
        if request.get("ignore_eos") and limit:
            words = [" " + w.lstrip() for w in words]
            words = (words * (limit // len(words) + 1))[:limit]
            finish = "length"
        elif limit and len(words) > limit:
            words, finish = words[:limit], "length"
        prompt_n = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", [])) + 4
        per_token = bool(request.get("timings_per_token"))
        step = max(1, self.tokens_per_chunk)
        events: list[bytes] = []
        base = {
            "id": f"chatcmpl-{self.chat_requests}",
            "object": "chat.completion.chunk",
            "model": request.get("model"),
        }
        for i in range(0, len(words), step):
            piece = "".join(words[i : i + step])
            chunk: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            if per_token:
                chunk["timings"] = {"predicted_n": min(i + step, len(words))}
            events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if drop:
            return events[: max(1, len(events) // 2)] + [b""]  # b"": close here
        timings = {"prompt_n": prompt_n, "prompt_ms": 1.0, "predicted_n": len(words), "predicted_ms": 1.0}
        final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "timings": timings}
        usage = {**base, "choices": [], "usage": {"prompt_tokens": prompt_n, "completion_tokens": len(words),
                                          "total_tokens": prompt_n + len(words)}}  # fmt: skip
        events += [b"data: " + json.dumps(final).encode() + b"\n\n", b"data: " + json.dumps(usage).encode() + b"\n\n"]
        return events + [b"data: [DONE]\n\n"]


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Protocol(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive and Content-Length bodies: what OpenAI clients send."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self.transport)  # type: ignore[arg-type]
        self.server.disconnects.append(time.monotonic())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length, authorization = 0, ""
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "authorization":
                    authorization = value.strip()
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body = self.buffer[head_end + 4 : end]
            self.buffer = self.buffer[end:]
            method, path = head[0].split(" ")[:2]
            chat = method == "POST" and "chat/completions" in path
            self.server.log.append((time.monotonic(), method, path))
            if authorization:
                self.server.auth_headers.add(authorization)
            if self.server.api_key and authorization != f"Bearer {self.server.api_key}":
                self.server.unauthorized += 1
                self._respond(401, b'{"error":{"message":"invalid API key"}}', False)
                continue
            self._respond(*self.server.reply(method, path, body), chat)

    def _respond(self, action: str | int, body: bytes | list[bytes], chat: bool) -> None:
        if action == STREAM:
            assert isinstance(body, list) and self.transport is not None
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            if self.server.delay_s:  # the time to first token
                asyncio.get_running_loop().call_later(self.server.delay_s, self._send_events, body, chat)
            else:
                self._send_events(body, chat)
            return
        assert isinstance(body, bytes)
        if action == HANG:
            return
        if action == DROP:
            assert self.transport is not None
            self.transport.close()
            self.server.in_flight -= chat
            return
        if action == BAD_STATUS:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 2x0 NOT-A-STATUS\r\nContent-Length: 2\r\n\r\n{}")
            self.transport.close()
            self.server.in_flight -= chat
            return
        status = 200 if action == MALFORMED else int(action)
        if action == MALFORMED:
            body = b'{"choices": [{"message": {"content": "unterminated'
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if self.server.delay_s and chat:  # the model's time: /models, /tokenize answer at once
            asyncio.get_running_loop().call_later(self.server.delay_s, self._write, head + body, chat)
        else:
            self._write(head + body, chat)

    def _send_events(self, events: list[bytes], chat: bool) -> None:
        """Write events as HTTP chunks, chunk_delay_s apart; an empty event closes the connection."""
        while events:
            if self.transport is None or self.transport.is_closing():  # the client went away
                self.server.in_flight -= chat
                self.server.streams_cancelled += 1
                return
            event = events.pop(0)
            if not event:
                self.transport.close()
                self.server.in_flight -= chat
                return
            self.transport.write(b"%x\r\n%s\r\n" % (len(event), event))
            if self.server.chunk_delay_s and events:
                asyncio.get_running_loop().call_later(self.server.chunk_delay_s, self._send_events, events, chat)
                return
        self.transport.write(b"0\r\n\r\n")
        self.server.in_flight -= chat
        self.server.streams_completed += 1

    def _write(self, data: bytes, chat: bool) -> None:
        self.server.in_flight -= chat
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        elif chat:
            self.server.requests_abandoned += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks")
    args = parser.parse_args()
    server = ScriptedServer(models=(args.model,), delay_s=args.delay, port=args.port, chunk_delay_s=args.chunk_delay)

    async def serve() -> None:
        await server.start()
        print(server.url, flush=True)
        await asyncio.Event().wait()

    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(serve())
        else:
            uvloop.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
