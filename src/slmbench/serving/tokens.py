"""Token budgeting with the served model's own tokenizer.

llama.cpp: POST {root}/tokenize {"content": text} -> {"tokens": [...]}, chat prompts rendered
first by POST {root}/apply-template; max context from GET {root}/props
(default_generation_settings.n_ctx, per slot).
vLLM: POST {root}/tokenize {"model", "prompt"} or {"model", "messages"} -> {"count": n};
max context from /v1/models max_model_len (read when attaching).
Anything else (Ollama, hosted APIs): the ESTIMATE below, and results say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from .base import Endpoint
from .http import get_json, post_json

# The estimate: ~4 characters per token (English text with BPE/SentencePiece vocabularies),
# plus a few tokens of chat-template markup per message.
CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS_PER_MESSAGE = 8
TIMEOUT_S = 120.0  # tokenizing 256K tokens of text on a busy CPU server


class TokenCounter(Protocol):
    source: str  # "llama.cpp /tokenize", "vLLM /tokenize" or "estimate (4 chars/token)"
    exact: bool

    def count(self, text: str) -> int: ...

    def count_messages(self, messages: list[dict[str, str]]) -> int: ...


class TokenEstimate:
    source = f"estimate ({CHARS_PER_TOKEN:g} chars/token)"
    exact = False

    def count(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return sum(self.count(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)


class LlamaCppTokens:
    source = "llama.cpp /tokenize"
    exact = True

    def __init__(self, root: str, headers: dict[str, str]) -> None:
        self.root, self.headers = root, headers

    def count(self, text: str) -> int:
        return len(self._tokens({"content": text}))

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        # The prompt exactly as the server renders it (template markup included); special
        # tokens in the rendered text are parsed as such, and BOS is added as for a request.
        status, body = post_json(
            f"{self.root}/apply-template", {"messages": messages}, timeout_s=TIMEOUT_S, headers=self.headers
        )
        if status != 200 or not isinstance(body, dict) or "prompt" not in body:
            # An older llama-server without /apply-template: the contents exactly, the markup estimated.
            return sum(self.count(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
        return len(self._tokens({"content": body["prompt"], "add_special": True, "parse_special": True}))

    def _tokens(self, payload: dict) -> list:
        status, body = post_json(f"{self.root}/tokenize", payload, timeout_s=TIMEOUT_S, headers=self.headers)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("tokens"), list):
            raise TokenizerError(f"{self.root}/tokenize answered HTTP {status}")
        return body["tokens"]


class VllmTokens:
    source = "vLLM /tokenize"
    exact = True

    def __init__(self, root: str, model: str, headers: dict[str, str]) -> None:
        self.root, self.model, self.headers = root, model, headers

    def count(self, text: str) -> int:
        return self._count({"model": self.model, "prompt": text, "add_special_tokens": False})

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return self._count({"model": self.model, "messages": messages, "add_generation_prompt": True})

    def _count(self, payload: dict) -> int:
        status, body = post_json(f"{self.root}/tokenize", payload, timeout_s=TIMEOUT_S, headers=self.headers)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise TokenizerError(f"{self.root}/tokenize answered HTTP {status}")
        return body["count"]


class TokenizerError(Exception):
    """The server's tokenizer stopped answering mid-run (it answered when probed)."""


@dataclass(frozen=True)
class Budget:
    """What one endpoint can take: its tokenizer and its max context (prompt + answer)."""

    counter: TokenCounter
    max_context: int | None

    def check(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[int | None, str | None]:
        """(prompt tokens if counted, the reason this request cannot fit or None).

        A request whose UTF-8 size alone is far below the context is passed without counting
        (a token is at least one byte, bar a few template tokens): short tasks cost nothing."""
        if self.max_context is None:
            return None, None
        size = sum(len(m["content"].encode()) + 4 * TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
        if size + max_tokens <= self.max_context:
            return None, None
        prompt = self.counter.count_messages(messages)
        if prompt + max_tokens > self.max_context:
            how = "" if self.counter.exact else f" by {self.counter.source}"
            return prompt, (
                f"skipped-over-context: prompt {prompt} tokens{how} + max_tokens {max_tokens} > "
                f"the endpoint's context {self.max_context}; not sent"
            )
        return prompt, None

    def describe(self) -> dict[str, object]:
        return {"tokenizer": self.counter.source, "exact": self.counter.exact, "max_context": self.max_context}


def server_root(ep: Endpoint) -> str:
    return ep.base_url.rstrip("/").removesuffix("/v1")


def probe_budget(ep: Endpoint) -> Budget:
    """The endpoint's tokenizer (llama.cpp, then vLLM style) and max context; else the estimate."""
    root = server_root(ep)
    headers = {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
    counter: TokenCounter = TokenEstimate()
    status, body = post_json(f"{root}/tokenize", {"content": "Hello world"}, timeout_s=10, headers=headers)
    if status == 200 and isinstance(body, dict) and isinstance(body.get("tokens"), list):
        counter = LlamaCppTokens(root, headers)
    else:
        status, body = post_json(
            f"{root}/tokenize", {"model": ep.model, "prompt": "Hello world"}, timeout_s=10, headers=headers
        )
        if status == 200 and isinstance(body, dict) and isinstance(body.get("count"), int):
            counter = VllmTokens(root, ep.model, headers)
    max_context = ep.max_context
    if max_context is None:
        # An attached llama.cpp: /props has the per-slot context its /v1/models lacks.
        status, props = get_json(f"{root}/props", timeout_s=10, headers=headers)
        if status == 200 and isinstance(props, dict):
            max_context = (props.get("default_generation_settings") or {}).get("n_ctx")
    return Budget(counter, max_context if isinstance(max_context, int) and max_context > 0 else None)
