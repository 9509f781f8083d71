"""What the chat does, without Chainlit: request parameters, token counting and history
trimming, document text, JSON checks, readable errors and answer statistics."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from ..errors import SlmbenchError

# The fallback when the server has no tokenizer endpoint (llama.cpp and vLLM have one):
# ~4 characters per token for English BPE/SentencePiece vocabularies, plus chat-template
# markup per message. It errs on the long side for code and non-Latin scripts less often
# than a words-based guess.
CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS_PER_MESSAGE = 8
DOCUMENT_TYPES = (".txt", ".md", ".pdf", ".docx")
# A document goes whole into the context when it takes at most this share of what is left
# after the answer's max tokens; longer ones need the long-document path.
DOCUMENT_SHARE = 0.6


@dataclass
class Settings:
    system_prompt: str = "You are a helpful assistant."
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    json_mode: bool = False
    json_schema: str = ""

    @classmethod
    def of(cls, values: dict[str, Any]) -> Settings:
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
            raise SlmbenchError(f"the JSON schema in the settings is not a valid schema ({exc.message}); fix it") from None
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


class Tokens:
    """Counts tokens with the server's own tokenizer (llama.cpp `POST /tokenize`), else estimates."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.root = base_url.rstrip("/").removesuffix("/v1")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.exact: bool | None = None  # unknown until the first count
        self._counted: dict[str, int] = {}  # every turn re-counts the history: ask the server once

    async def count(self, text: str) -> int:
        if text not in self._counted:
            self._counted[text] = await self._count(text)
        return self._counted[text]

    async def _count(self, text: str) -> int:
        if self.exact is not False:
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    reply = await client.post(f"{self.root}/tokenize", json={"content": text}, headers=self.headers)
                tokens = reply.json().get("tokens") if reply.status_code == 200 else None
                if isinstance(tokens, list):
                    self.exact = True
                    return len(tokens)
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
            self.exact = False
        return estimate(text)

    async def count_message(self, message: dict[str, str]) -> int:
        return await self.count(message["content"]) + TEMPLATE_TOKENS_PER_MESSAGE


def estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class Fitted:
    messages: list[dict[str, str]]
    prompt_tokens: int
    dropped: int  # earlier messages left out to fit
    max_tokens: int  # the answer's cap, lowered to what the context leaves when needed


def answer_room(max_context: int, max_tokens: int) -> int:
    """Tokens kept free for the answer: max_tokens, but at most half the context."""
    return min(max_tokens, max_context // 2)


def document_limit(max_context: int | None, max_tokens: int) -> int | None:
    """The most tokens a document may have to go whole into the context."""
    return int((max_context - answer_room(max_context, max_tokens)) * DOCUMENT_SHARE) if max_context else None


async def fit_history(
    system: list[dict[str, str]],
    history: list[dict[str, str]],
    current: list[dict[str, str]],
    tokens: Tokens,
    max_context: int | None,
    max_tokens: int,
) -> Fitted:
    """system + the newest history that fits + current, within the model's context.

    The answer keeps answer_room() free; when max_tokens asks for more, its cap is lowered to
    what the prompt leaves. Oldest messages go
    first, a user message together with the answers after it, so that the history never
    starts with an answer. The current turn must fit on its own."""
    must = system + current
    used = sum([await tokens.count_message(m) for m in must])
    if max_context is None:
        return Fitted(system + history + current, used, 0, max_tokens)
    budget = max_context - answer_room(max_context, max_tokens)
    if used > budget:
        raise SlmbenchError(
            f"this message needs about {used} tokens; with room for the answer ({max_tokens} max tokens) that exceeds "
            f"the model's context of {max_context} tokens. Shorten it, or lower max tokens in the settings"
        )
    kept: list[dict[str, str]] = []
    for i in range(len(history) - 1, -1, -1):
        cost = await tokens.count_message(history[i])
        if used + cost > budget:
            break
        used += cost
        kept.insert(0, history[i])
    while kept and kept[0]["role"] != "user":
        used -= await tokens.count_message(kept.pop(0))
    return Fitted(system + kept + current, used, len(history) - len(kept), min(max_tokens, max_context - used))


def document_text(path: Path, name: str) -> str:
    """The plain text of an uploaded .txt, .md, .pdf or .docx file."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix in (".txt", ".md"):
            return path.read_bytes().decode("utf-8", "replace")
        if suffix == ".pdf":
            from pypdf import PdfReader

            return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
        if suffix == ".docx":
            import docx

            return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    except Exception as exc:  # pypdf and python-docx raise many types for damaged files
        raise SlmbenchError(f"could not read {name} ({type(exc).__name__}: {exc}); is it a valid {suffix} file?") from None
    raise SlmbenchError(f"{name}: only {', '.join(DOCUMENT_TYPES)} documents can be read")


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
            parts.append(f"{self.dropped} earlier messages left out to fit the context")
        return " · ".join(parts)
