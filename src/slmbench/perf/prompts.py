"""Prompts for load: synthetic with exact token counts, a JSONL file, or an eval task's own.

Synthetic prompts are made token-exact with the server's own tokenizer (`/tokenize`,
`/detokenize`: llama.cpp at the server root, vLLM too), and each starts differently so
that no server can answer a later one from its prompt cache.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import SlmbenchError
from ..serving.http import post_json

WORDS = (
    "river stone garden window morning paper light silver market story engine forest winter music "
    "harbor signal bridge candle orbit meadow thunder lantern velvet copper island shadow canvas "
    "pepper marble rocket valley whisper crystal falcon ember glacier jungle kettle ladder mirror"
).split()


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    max_tokens: int
    input_tokens: int | None = None  # the intended prompt length (synthetic prompts)
    extra: dict[str, Any] = field(default_factory=dict)


def request_body(model: str, p: Prompt, *, ignore_eos: bool, seed: int) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": p.messages,
        "max_tokens": p.max_tokens,
        "temperature": 0.0,
        "seed": seed,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        # llama.cpp: per-chunk token counts; unknown fields are ignored by the servers we target
        "timings_per_token": True,
        **p.extra,
    }
    if ignore_eos:
        body["ignore_eos"] = True  # llama.cpp and vLLM: generate exactly max_tokens
    return orjson.dumps(body)


class Tokenizer:
    """The server's tokenizer over HTTP (start-up only; never on the timed path)."""

    def __init__(self, root: str, headers: dict[str, str] | None = None) -> None:
        self.root = root
        self.headers = headers or {}

    def encode(self, text: str) -> list[int]:
        status, reply = post_json(
            f"{self.root}/tokenize", {"content": text, "add_special": False}, timeout_s=30, headers=self.headers
        )
        if status != 200 or not isinstance(reply, dict) or "tokens" not in reply:
            raise SlmbenchError(
                f"the server at {self.root} has no usable /tokenize (HTTP {status}); synthetic prompts need it, "
                "pass --prompts FILE.jsonl or --task NAME instead"
            )
        return [t if isinstance(t, int) else t["id"] for t in reply["tokens"]]

    def decode(self, tokens: list[int]) -> str:
        status, reply = post_json(f"{self.root}/detokenize", {"tokens": tokens}, timeout_s=30, headers=self.headers)
        if status != 200 or not isinstance(reply, dict) or "content" not in reply:
            raise SlmbenchError(
                f"the server at {self.root} has no usable /detokenize (HTTP {status}); pass --prompts FILE.jsonl"
            )
        return reply["content"]


def exact_text(tok: Tokenizer, n: int, rng: random.Random) -> str:
    """A text of exactly n tokens (as the server counts them on its own), random words."""
    words = [f"{rng.randint(0, 99999)}"] + [rng.choice(WORDS) for _ in range(2 * n + 8)]
    ids = tok.encode(" ".join(words))[:n]
    text = tok.decode(ids)
    for _ in range(4):  # re-tokenising a cut can merge or split a token at the edge
        got = len(tok.encode(text))
        if got == n:
            return text
        ids = tok.encode(text)[:n] if got > n else ids + tok.encode(" " + rng.choice(WORDS))[: n - got]
        text = tok.decode(ids)
    return text


def synthetic(
    tok: Tokenizer, count: int, input_len: int, output_len: int, template_overhead: int, seed: int
) -> list[Prompt]:
    """`count` prompts whose chat request is input_len tokens (template included) and that ask for output_len."""
    content_len = input_len - template_overhead
    if content_len < 1:
        raise SlmbenchError(
            f"--input-len {input_len} is shorter than the chat template alone ({template_overhead} tokens); "
            f"pass at least {template_overhead + 1}"
        )
    rng = random.Random(seed)
    return [
        Prompt([{"role": "user", "content": exact_text(tok, content_len, rng)}], output_len, input_len)
        for _ in range(count)
    ]


def from_jsonl(path: Path, output_len: int) -> list[Prompt]:
    """One prompt per line: {"prompt": "..."} or {"messages": [...]}, optional "max_tokens"."""
    prompts = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SlmbenchError(
            f"cannot read --prompts {path} ({exc.strerror or exc}); pass an existing JSONL file"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            messages = row["messages"] if "messages" in row else [{"role": "user", "content": str(row["prompt"])}]
            prompts.append(Prompt(messages, int(row.get("max_tokens", output_len))))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise SlmbenchError(
                f'--prompts {path}: line {number} is not {{"prompt": "..."}} or {{"messages": [...]}}; fix that line'
            ) from None
    if not prompts:
        raise SlmbenchError(f"--prompts {path} holds no prompts; add one JSON object per line")
    return prompts


def from_task(name: str, count: int, output_len: int | None, seed: int) -> list[Prompt]:
    """The eval task's own prompts (its default answer length unless --output-len is given)."""
    from ..tasks import TASKS, known_tasks

    task = TASKS.get(name)
    if task is None:
        raise SlmbenchError(f"unknown task {name!r}; known tasks: {', '.join(known_tasks())}")
    if task.takes_data:
        raise SlmbenchError(f"task {name!r} reads a data set; use a generated task (e.g. arithmetic) or --prompts FILE")
    samples = task.samples(count, seed)
    return [Prompt(s.messages, output_len or task.max_tokens, extra=s.params) for s in samples]


def cycle(prompts: list[Prompt], n: int) -> list[Prompt]:
    """n prompts, repeating the list when it is shorter."""
    return [prompts[i % len(prompts)] for i in range(n)]
