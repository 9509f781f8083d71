"""What the chat does, without Chainlit: request parameters, history trimming (through the
long-document toolkit's conversation memory), documents and their most relevant passages,
JSON checks, readable errors and answer statistics.

Tokens are counted with slmbench.serving.tokens: the server's own tokenizer (llama.cpp or vLLM
`/tokenize`), else its documented estimate (4 characters per token, 8 per message)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import SlmbenchError
from ..longdoc import ConversationMemory, chunk_text, load_text, passages_text, rank_chunks
from ..longdoc.chunking import Chunk
from ..serving.tokens import TEMPLATE_TOKENS_PER_MESSAGE, TokenCounter

# A document goes whole into the context when it takes at most this share of what is left
# after the answer's max tokens; longer ones need the long-document path.
DOCUMENT_SHARE = 0.6


@dataclass
class ChatOptions:
    """What the chat's settings panel sets for each answer (longdoc.Settings sizes document work)."""

    system_prompt: str = "You are a helpful assistant."
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    json_mode: bool = False
    json_schema: str = ""

    @classmethod
    def of(cls, values: dict[str, Any]) -> ChatOptions:
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values and values[k] is not None}
        settings = cls(**known)
        settings.max_tokens = int(settings.max_tokens)
        return settings

    def schema(self) -> dict[str, Any] | None:
        """The JSON schema, or None; a schema that is not valid JSON Schema raises SlmbenchError."""
        if not (self.json_mode and self.json_schema.strip()):
            return None
        try:
            schema = json.loads(self.json_schema)
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except ValueError as exc:
            raise SlmbenchError(f"the JSON schema in the settings is not JSON ({exc}); fix it or clear it") from None
        except jsonschema.SchemaError as exc:
            raise SlmbenchError(
                f"the JSON schema in the settings is not a valid schema ({exc.message}); fix it"
            ) from None
        return schema

    def request_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.json_mode:
            schema = self.schema()
            params["response_format"] = (
                {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
                if schema is not None
                else {"type": "json_object"}
            )
        return params


@dataclass
class LongDocument:
    """A document too long for the context: its chunks (for passages) and, once summarised,
    its summary (a conclusion of the conversation memory). `note` says what went wrong."""

    name: str
    chunks: list[Chunk] | None = None
    conclusion: str | None = None
    note: str = ""


@dataclass
class State:
    """One browser session's chat state (kept here: dataclasses cannot live in the app module,
    which Chainlit loads outside sys.modules)."""

    settings: ChatOptions
    models: list[str]  # the model(s) answering: one, or two in compare mode
    compare: bool
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)  # answer id -> (model name, text)
    documents: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # user message id -> whole documents
    long_documents: dict[str, list[LongDocument]] = field(default_factory=dict)  # user message id -> long ones
    stats: dict[str, Any] = field(default_factory=dict)  # answer id -> its statistics message
    last_turn: list[Any] = field(default_factory=list)  # the latest turn's answers (Regenerate)
    budgets: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    restarts_seen: dict[str, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # never two answers at once


def answer_room(max_context: int, max_tokens: int) -> int:
    """Tokens kept free for the answer: max_tokens, but at most half the context."""
    return min(max_tokens, max_context // 2)


def document_limit(max_context: int | None, max_tokens: int) -> int | None:
    """The most tokens a document may have to go whole into the context."""
    return int((max_context - answer_room(max_context, max_tokens)) * DOCUMENT_SHARE) if max_context else None


@dataclass
class Fitted:
    messages: list[dict[str, str]]
    prompt_tokens: int
    dropped: int  # earlier turns left out to fit
    max_tokens: int  # the answer's cap, lowered to what the context leaves when needed


class _PerMessage:
    """A counter that adds the chat template's markup to every text (the memory counts texts)."""

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter

    def count(self, text: str) -> int:
        return self.counter.count(text) + TEMPLATE_TOKENS_PER_MESSAGE

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return self.counter.count_messages(messages)


def turns_of(history: Sequence[dict[str, str]]) -> list[tuple[str, str]]:
    """(user, assistant) pairs; user messages before one answer (documents, unanswered
    messages) are joined into one user text."""
    pairs, pending = [], []
    for m in history:
        if m["role"] == "assistant":
            pairs.append(("\n\n".join(pending), m["content"]))
            pending = []
        else:
            pending.append(m["content"])
    if pending:  # unanswered: kept with an empty answer rather than lost
        pairs.append(("\n\n".join(pending), ""))
    return pairs


def fit_history(
    system: str,
    history: Sequence[dict[str, str]],
    current: list[dict[str, str]],
    counter: TokenCounter,
    max_context: int | None,
    max_tokens: int,
    conclusions: Sequence[str] = (),
) -> Fitted:
    """The request's messages: the system prompt with `conclusions` (kept longest: document
    summaries), the newest turns that fit, and the current turn, within the model's context.

    Trimming is the long-document toolkit's ConversationMemory (oldest turns go first, then
    oldest conclusions). The answer keeps answer_room() free; when max_tokens asks for more,
    its cap is lowered to what the prompt leaves. The current turn must fit on its own.
    Counting is synchronous HTTP: call this in a worker thread."""
    turns = turns_of(history)
    if max_context is None:
        budget = None
    else:
        budget = max_context - answer_room(max_context, max_tokens)
    need = counter.count_messages(([{"role": "system", "content": system}] if system else []) + current)
    if budget is not None and need > budget:
        raise SlmbenchError(
            f"this message needs about {need} tokens; with room for the answer ({max_tokens} max tokens) that exceeds "
            f"the model's context of {max_context} tokens. Shorten it, or lower max tokens in the settings"
        )
    memory = ConversationMemory(_PerMessage(counter), budget_tokens=10**12 if budget is None else budget - need)
    for conclusion in conclusions:
        memory.remember(conclusion)
    for user, assistant in turns:
        memory.add_turn(user, assistant)
    messages = memory.messages(system=system or None) + current
    used = need + memory.tokens
    cap = max_tokens if max_context is None else min(max_tokens, max_context - used)
    return Fitted(messages, used, len(turns) - len(memory.turns), cap)


def document_text(path: Path, name: str) -> str:
    """The plain text of an uploaded document (the toolkit's loaders, chosen by the file's name:
    Chainlit stores uploads under a name of its own)."""
    with tempfile.TemporaryDirectory() as tmp:
        named = Path(tmp) / Path(name).name
        named.symlink_to(Path(path).resolve())
        try:
            return load_text(named)
        except SlmbenchError as exc:
            raise SlmbenchError(str(exc).replace(str(named), name)) from None


def passages(chunks: Sequence[Chunk], question: str, budget_tokens: int) -> list[Chunk]:
    """The chunks most relevant to the question (BM25), best first, within budget_tokens."""
    chosen, used = [], 0
    for index, score in rank_chunks(chunks, question):
        if score <= 0 or used + chunks[index].tokens > budget_tokens:
            break
        chosen.append(chunks[index])
        used += chunks[index].tokens
    return chosen


def passages_message(name: str, chosen: Sequence[Chunk]) -> str:
    body = passages_text(chosen)
    return (f"Passages of the document {name} most relevant to the next message, most relevant first. "
            f"Cite the passage you use, like [P{chosen[0].index + 1}].\n\n{body}")  # fmt: skip


def summary_conclusion(name: str, tokens: int, chunks: int, summary: str) -> str:
    return f"Summary of the document {name} ({tokens} tokens, summarised in {chunks} parts):\n{summary}"


def long_document_chunks(text: str, counter: TokenCounter, limit: int) -> list[Chunk]:
    """Chunks for anchored passages: a few of them fit where the document itself does not."""
    size = max(64, min(512, limit // 4))
    return chunk_text(text, counter, size, size // 8)


def document_message(name: str, text: str) -> str:
    return f"Document {name}:\n<document>\n{text}\n</document>"


def check_json(text: str, schema: dict[str, Any] | None) -> tuple[bool, str]:
    """(ok, what to show): the parsed JSON pretty-printed, or why it is not valid."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return False, f"The answer is not valid JSON: {exc}"
    pretty = f"```json\n{json.dumps(value, indent=2, ensure_ascii=False)}\n```"
    if schema is not None:
        error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return False, f"The JSON does not match the schema at {where}: {error.message}\n\n{pretty}"
        return True, f"Valid JSON, matches the schema:\n\n{pretty}"
    return True, f"Valid JSON:\n\n{pretty}"


def explain_error(exc: BaseException, model: str, base_url: str) -> str:
    """A sentence for the chat about a failed request."""
    import openai

    if isinstance(exc, SlmbenchError):
        return str(exc)
    if isinstance(exc, openai.APITimeoutError):
        return f"The model server at {base_url} did not answer in time; it may be overloaded. Try again."
    if isinstance(exc, openai.APIConnectionError):
        return f"Cannot reach the model server for {model} at {base_url}: nothing answers there. Start it (or restart `slmbench chat`) and try again."
    if isinstance(exc, openai.APIStatusError):
        detail = _error_detail(exc)
        lowered = detail.lower()
        if "context" in lowered and any(w in lowered for w in ("exceed", "too long", "length", "size", "overflow")):
            return f"The conversation does not fit the model's context ({detail}). Start a new chat, or lower max tokens in the settings."
        return f"The model server answered HTTP {exc.status_code}: {detail}"
    return f"The request failed: {type(exc).__name__}: {exc}"


def _error_detail(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)


@dataclass
class AnswerStats:
    prompt_tokens: int | None
    completion_tokens: int
    ttft_s: float | None
    generation_s: float  # first token to last
    dropped: int = 0
    exact_prompt: bool = True

    @property
    def tokens_per_s(self) -> float | None:
        if self.completion_tokens < 2 or self.generation_s <= 0:
            return None
        # The first token's time is in TTFT; the rate is over the tokens after it.
        return (self.completion_tokens - 1) / self.generation_s

    def line(self) -> str:
        parts = []
        if self.prompt_tokens is not None:
            parts.append(f"{self.prompt_tokens} prompt tokens{'' if self.exact_prompt else ' (estimated)'}")
        parts.append(f"{self.completion_tokens} answer tokens")
        if self.ttft_s is not None:
            parts.append(f"TTFT {self.ttft_s:.2f} s")
        rate = self.tokens_per_s
        parts.append(f"{rate:.1f} tokens/s" if rate is not None else "tokens/s n/a")
        if self.dropped:
            parts.append(f"{self.dropped} earlier turns left out to fit the context")
        return " · ".join(parts)
