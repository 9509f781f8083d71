"""What an OpenAI-compatible endpoint can do, asked rather than assumed.

Used by `serve --backend attach` and by eval/chat to choose request options: does it stream,
report usage (also in streams), honour a JSON schema, return reasoning separately or inside
<think> blocks, expose /tokenize, and how long a context does it take?
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import jsonschema

from .http import get_json, post_json, post_stream

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


@dataclass
class Capabilities:
    models: list[str] = field(default_factory=list)
    answers: bool = False  # a 1-token chat request succeeded
    usage: bool = False  # token counts in the reply
    streams: bool = False  # SSE chunks with content, ended by [DONE]
    stream_usage: bool = False  # stream_options.include_usage honoured
    json_schema: bool = False  # response_format json_schema gave schema-valid JSON
    reasoning: str | None = None  # "reasoning_content", "think-tags" or None
    tokenize: bool = False  # /tokenize (vLLM, llama.cpp) answers
    max_context: int | None = None  # as the server reports it
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_capabilities(base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 60) -> Capabilities:
    base = base_url.rstrip("/")
    root = base.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    caps = Capabilities()

    status, body = get_json(f"{base}/models", timeout_s=timeout_s, headers=headers)
    entries = body.get("data") if isinstance(body, dict) else None
    if status == 200 and isinstance(entries, list):
        caps.models = [m["id"] for m in entries if isinstance(m, dict) and "id" in m]
        info = next((m for m in entries if isinstance(m, dict) and m.get("id") == model), {})
        # vLLM reports max_model_len here; llama.cpp's meta.n_ctx_train is the training length,
        # not what a request may use (that is the slot's n_ctx from /props, below).
        caps.max_context = info.get("max_model_len")
    else:
        caps.problems.append(f"GET /models answered HTTP {status}")

    def chat(extra: dict[str, Any], max_tokens: int) -> tuple[int, Any]:
        request = {"model": model, "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": max_tokens}
        return post_json(f"{base}/chat/completions", request | extra, timeout_s=timeout_s, headers=headers)

    status, reply = chat({}, 16)
    message = _message(reply)
    if status == 200 and message is not None:
        caps.answers = True
        caps.usage = isinstance(reply.get("usage"), dict) and "completion_tokens" in reply["usage"]
        if message.get("reasoning_content") or message.get("reasoning"):
            caps.reasoning = "reasoning_content"
        elif "<think>" in (message.get("content") or ""):
            caps.reasoning = "think-tags"
    else:
        caps.problems.append(f"a chat request answered HTTP {status}: {str(reply)[:120]}")

    request = {"model": model, "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4,
               "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    status, kind, events = post_stream(f"{base}/chat/completions", request, timeout_s=timeout_s, headers=headers)
    chunks = [_json(e) for e in events if e != "[DONE]"]
    caps.streams = status == 200 and "text/event-stream" in kind and bool(chunks) and events[-1:] == ["[DONE]"]
    caps.stream_usage = caps.streams and any(isinstance(c, dict) and c.get("usage") for c in chunks)

    schema_format = {"type": "json_schema", "json_schema": {"name": "probe", "schema": SCHEMA, "strict": True}}
    status, reply = chat({"response_format": schema_format, "temperature": 0}, 64)
    message = _message(reply)
    if status == 200 and message is not None:
        try:
            jsonschema.validate(json.loads(message.get("content") or ""), SCHEMA)
            caps.json_schema = True
        except (ValueError, jsonschema.ValidationError):
            pass

    status, tokens = post_json(f"{root}/tokenize", {"model": model, "content": "Hello", "prompt": "Hello"},
                               timeout_s=timeout_s, headers=headers)  # fmt: skip
    caps.tokenize = status == 200 and isinstance(tokens, dict) and isinstance(tokens.get("tokens"), list)
    if caps.max_context is None:
        status, props = get_json(f"{root}/props", timeout_s=timeout_s, headers=headers)  # llama.cpp
        if status == 200 and isinstance(props, dict):
            caps.max_context = (props.get("default_generation_settings") or {}).get("n_ctx")
    return caps


def _message(reply: Any) -> dict[str, Any] | None:
    try:
        message = reply["choices"][0]["message"]
    except (TypeError, KeyError, IndexError):
        return None
    return message if isinstance(message, dict) else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def describe(caps: Capabilities) -> list[str]:
    yes = {True: "yes", False: "no"}
    return [
        f"  models        {', '.join(caps.models) or '-'}",
        f"  1-token chat  {yes[caps.answers]}",
        f"  usage         {yes[caps.usage]}",
        f"  streaming     {yes[caps.streams]} (usage in stream: {yes[caps.stream_usage]})",
        f"  json_schema   {yes[caps.json_schema]}",
        f"  reasoning     {caps.reasoning or 'none seen'}",
        f"  /tokenize     {yes[caps.tokenize]}",
        f"  max context   {f'{caps.max_context:,} tokens' if caps.max_context else 'not reported'}",
    ]
