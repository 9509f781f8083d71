"""Map-reduce summarisation and anchored question answering over one long document.

Both work inside the endpoint's context: chunks are sized with its tokenizer, every request
is checked against its max context before it is sent, and partial summaries that do not fit
one reduce request are reduced in groups, level by level (hierarchical reduce).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import regex
from rank_bm25 import BM25Okapi

from ..client import ChatClient, Completion, RetryPolicy
from ..errors import SlmbenchError
from ..progress import Observer, Quiet
from ..serving.base import Endpoint
from ..serving.tokens import Budget
from .chunking import Chunk, chunk_text

SAFETY_TOKENS = 16  # slack for the template around a prompt counted with the estimate
DEFAULT_CONTEXT = 8192  # when the endpoint does not say


@dataclass
class Settings:
    chunk_tokens: int | None = None  # None: as large as the context allows
    overlap_tokens: int = 64
    summary_tokens: int = 256  # each partial summary (map and intermediate reduce)
    final_tokens: int = 512  # the final summary or answer
    concurrency: int = 4
    temperature: float = 0.0
    timeout_s: float = 900.0  # one request on a busy CPU server with a long prompt
    top_passages: int = 4

    def __post_init__(self) -> None:
        least = {"--summary-tokens": (self.summary_tokens, 1), "--final-tokens": (self.final_tokens, 1),
                 "--passages": (self.top_passages, 1), "--parallel": (self.concurrency, 1),
                 "--overlap": (self.overlap_tokens, 0)}  # fmt: skip
        for flag, (value, low) in least.items():
            if value < low:
                raise SlmbenchError(f"{flag} must be at least {low} (got {value}); pass a larger number")
        if self.timeout_s <= 0:
            raise SlmbenchError(f"timeout_s must be above 0 (got {self.timeout_s:g}); pass seconds, e.g. 900")


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: int = 0  # answers that hit max_tokens
    last_cut: bool = False  # the latest answer (the final one, once done) hit max_tokens

    def add(self, c: Completion) -> None:
        self.requests += 1
        self.prompt_tokens += c.prompt_tokens or 0
        self.completion_tokens += c.completion_tokens or 0
        self.last_cut = c.finish_reason == "length"
        self.truncated += self.last_cut


@dataclass
class Summary:
    text: str
    chunks: int
    levels: int  # reduce levels, the final reduce included
    usage: Usage
    seconds: float


@dataclass
class Answer:
    text: str
    passages: list[int]  # chunk indexes put in the prompt, most relevant first
    chunks: list[Chunk]
    usage: Usage
    seconds: float
    scores: list[float] = field(default_factory=list)


class _Caller:
    """One client to the endpoint; every request pre-flighted against the context."""

    def __init__(self, ep: Endpoint, budget: Budget, settings: Settings, observer: Observer) -> None:
        self.ep, self.budget, self.settings, self.observer = ep, budget, settings, observer
        self.usage = Usage()
        self.context = budget.max_context or DEFAULT_CONTEXT
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._client: ChatClient | None = None

    async def __aenter__(self) -> _Caller:
        self._client = ChatClient(self.ep.base_url, concurrency=self.settings.concurrency, timeout_s=self.settings.timeout_s,
                                  retry=RetryPolicy(retries=2), api_key=self.ep.api_key)  # fmt: skip
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.__aexit__(*exc)

    def fits(self, messages: list[dict[str, str]], max_tokens: int) -> bool:
        return self.budget.counter.count_messages(messages) + max_tokens + SAFETY_TOKENS <= self.context

    async def complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        _, reason = Budget(self.budget.counter, self.context).check(messages, max_tokens)
        if reason:
            raise SlmbenchError(f"internal: a long-document request would not fit ({reason})")
        body = orjson.dumps({"model": self.ep.model, "messages": messages, "max_tokens": max_tokens,
                             "temperature": self.settings.temperature})  # fmt: skip
        assert self._client is not None
        async with self._limit:  # the map step's concurrency bound
            c = await self._client.complete(body)
        if not c.ok:
            raise SlmbenchError(f"{self.ep.name} failed a request ({c.error_kind}: {c.error})")
        self.usage.add(c)
        self.observer.done(c)
        return (c.text or "").strip()

    def room(self, fixed_messages: list[dict[str, str]], max_tokens: int) -> int:
        """Tokens left for document text in a prompt made of fixed_messages plus that text."""
        used = self.budget.counter.count_messages(fixed_messages)
        return self.context - used - max_tokens - SAFETY_TOKENS


# summarisation ---------------------------------------------------------------------------

_SYSTEM = "You summarise documents faithfully: keep facts, names, numbers and conclusions; add nothing."


def _map_prompt(title: str, part: int, parts: int, text: str, words: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"This is part {part} of {parts} of the document \"{title}\".\n\n---\n{text}\n---\n\n"
                                        f"Summarise this part in at most {words} words."}]  # fmt: skip


def _reduce_prompt(title: str, summaries: Sequence[str], words: int, final: bool) -> list[dict[str, str]]:
    listing = "\n\n".join(f"Summary of section {i + 1}:\n{s}" for i, s in enumerate(summaries))
    goal = "one summary of the whole document" if final else "one summary of these consecutive sections"
    return [{"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"Below are summaries of consecutive sections of the document \"{title}\", in order.\n\n"
                                        f"{listing}\n\nCombine them into {goal}, in at most {words} words."}]  # fmt: skip


def _words(tokens: int) -> int:
    return max(20, int(tokens * 0.6))  # leave room: a word is more than one token on average


async def summarize(
    text: str,
    ep: Endpoint,
    budget: Budget,
    *,
    title: str = "document",
    settings: Settings | None = None,
    observer: Observer | None = None,
) -> Summary:
    settings = settings or Settings()
    observer = observer or Quiet()
    start = time.perf_counter()
    async with _Caller(ep, budget, settings, observer) as caller:
        room = caller.room(_map_prompt(title, 999, 999, "", _words(settings.summary_tokens)), settings.summary_tokens)
        chunk_tokens = min(settings.chunk_tokens or room, room)
        if chunk_tokens < 64:
            raise SlmbenchError(
                f"the endpoint's context ({caller.context} tokens) leaves no room for document text; serve it with a larger context"
            )
        chunks = chunk_text(text, budget.counter, chunk_tokens, min(settings.overlap_tokens, chunk_tokens // 4))
        observer.start(f"map: {len(chunks)} chunks of <= {chunk_tokens} tokens", len(chunks), 0)
        if len(chunks) == 1:
            messages = _map_prompt(title, 1, 1, chunks[0].text, _words(settings.final_tokens))
            final = await caller.complete(messages, settings.final_tokens)
            observer.finish()
            return Summary(final, 1, 0, caller.usage, time.perf_counter() - start)
        words = _words(settings.summary_tokens)
        partials = list(await asyncio.gather(*(
            caller.complete(_map_prompt(title, c.index + 1, len(chunks), c.text, words), settings.summary_tokens) for c in chunks
        )))  # fmt: skip
        observer.finish()
        final, levels = await _reduce(caller, title, partials, settings, observer)
    return Summary(final, len(chunks), levels, caller.usage, time.perf_counter() - start)


async def _reduce(
    caller: _Caller, title: str, partials: list[str], settings: Settings, observer: Observer
) -> tuple[str, int]:
    level = 0
    while True:
        level += 1
        final = _reduce_prompt(title, partials, _words(settings.final_tokens), final=True)
        if caller.fits(final, settings.final_tokens):
            observer.start(f"reduce level {level}: final", 1, 0)
            text = await caller.complete(final, settings.final_tokens)
            observer.finish()
            return text, level
        groups = _pack(caller, title, partials, settings)
        if len(groups) == len(partials):
            raise SlmbenchError(
                f"partial summaries do not fit two to a request in {caller.context} tokens; lower --summary-tokens"
            )
        observer.start(f"reduce level {level}: {len(partials)} summaries in {len(groups)} groups", len(groups), 0)
        words = _words(settings.summary_tokens)
        partials = list(await asyncio.gather(*(
            caller.complete(_reduce_prompt(title, g, words, final=False), settings.summary_tokens) if len(g) > 1 else _same(g[0])
            for g in groups
        )))  # fmt: skip
        observer.finish()


async def _same(text: str) -> str:
    return text


def _pack(caller: _Caller, title: str, partials: list[str], settings: Settings) -> list[list[str]]:
    """Consecutive partial summaries grouped so that each group's reduce request fits."""
    words = _words(settings.summary_tokens)
    groups: list[list[str]] = [[partials[0]]]
    for s in partials[1:]:
        if caller.fits(_reduce_prompt(title, [*groups[-1], s], words, final=False), settings.summary_tokens):
            groups[-1].append(s)
        else:
            groups.append([s])
    return groups


# anchored question answering ----------------------------------------------------------

_TOKEN = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]+|\w+")
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_STOP = frozenset(
    "a an and are as at be by for from has have how in is it of on or that the this to was were what when where which who why with".split()
)


def _terms(text: str) -> list[str]:
    """Words; a run of Chinese or Japanese characters (no spaces between words) gives its
    character bigrams, as Lucene's CJK analyzer does."""
    out: list[str] = []
    for t in _TOKEN.findall(text.lower()):
        if _CJK.match(t):
            out += [t[k : k + 2] for k in range(len(t) - 1)] or [t]
        elif t not in _STOP:
            out.append(t)
    return out


def rank_chunks(chunks: Sequence[Chunk], question: str) -> list[tuple[int, float]]:
    """(chunk index, BM25 score) for every chunk, most relevant first (ties: document order)."""
    bm25 = BM25Okapi([_terms(c.text) or [""] for c in chunks])
    scores = bm25.get_scores(_terms(question))
    return sorted(((c.index, float(s)) for c, s in zip(chunks, scores)), key=lambda p: (-p[1], p[0]))


def passages_text(passages: Sequence[Chunk]) -> str:
    """Passages labelled [Pn] with where they stand in the document, so answers can cite them."""
    return "\n\n".join(f"[P{c.index + 1}] (characters {c.start}-{c.end})\n{c.text}" for c in passages)


def _qa_prompt(question: str, passages: Sequence[Chunk], best: Chunk | None) -> list[dict[str, str]]:
    where = (f"Look first at passage [P{best.index + 1}] (characters {best.start}-{best.end} of the document): "
             "it matches the question best.") if best else ""  # fmt: skip
    body = passages_text(passages)
    return [{"role": "system", "content": "Answer questions about a document from the passages given, most relevant first. "
                                          "Cite the passage you used, like [P3]. If the passages do not contain the answer, say so."},
            {"role": "user", "content": f"Question: {question}\n{where}\n\nPassages, most relevant first:\n\n{body}\n\n"
                                        f"Question (again): {question}\nAnswer:"}]  # fmt: skip


async def ask(
    text: str,
    question: str,
    ep: Endpoint,
    budget: Budget,
    *,
    settings: Settings | None = None,
    observer: Observer | None = None,
) -> Answer:
    """Locate the relevant chunks (BM25), put them first, point the model at the best one."""
    settings, observer, start = settings or Settings(), observer or Quiet(), time.perf_counter()
    async with _Caller(ep, budget, settings, observer) as caller:
        question = _checked(question, caller)
        room = caller.room(_qa_prompt(question, [], None), settings.final_tokens) - 64  # the pointer line
        chunk_tokens = min(settings.chunk_tokens or room // max(1, settings.top_passages), room)
        chunks = chunk_text(
            text, budget.counter, max(64, chunk_tokens), min(settings.overlap_tokens, chunk_tokens // 4)
        )
        ranked = rank_chunks(chunks, question)
        chosen: list[Chunk] = []
        used = 0
        for index, _ in ranked:
            if len(chosen) == settings.top_passages or used + chunks[index].tokens + 24 > room:
                break
            chosen.append(chunks[index])
            used += chunks[index].tokens + 24  # its label line
        best = chosen[0] if ranked and ranked[0][1] > 0 else None
        observer.start(f"ask: {len(chosen)} of {len(chunks)} passages", 1, 0)
        reply = await caller.complete(_qa_prompt(question, chosen, best), settings.final_tokens)
        observer.finish()
    scores = dict(ranked)
    return Answer(reply, [c.index for c in chosen], chunks, caller.usage, time.perf_counter() - start,
                  [scores[c.index] for c in chosen])  # fmt: skip


def _checked(question: str, caller: _Caller) -> str:
    """The question, stripped; refused when empty or too long to leave room for the document."""
    question = question.strip()
    if not question:
        raise SlmbenchError("the question is empty; ask something about the document")
    asked, limit = caller.budget.counter.count(question), (caller.context - caller.settings.final_tokens) // 6
    if asked > limit:  # asked twice, it may take at most a third of the prompt
        raise SlmbenchError(
            f"the question is {asked} tokens, too long for a {caller.context}-token context; keep it under {limit} tokens"
        )
    return question


_MAP_QA = (
    "This is part {part} of {parts} of a document.\n\n---\n{text}\n---\n\nQuestion: {question}\n"
    "If this part answers the question, reply with the answer only. If it does not, reply exactly NONE."
)
_REDUCE_QA = (
    "Parts of a document were searched for the answer to a question. Candidate answers, by part:\n\n"
    "{candidates}\n\nQuestion: {question}\nGive the final answer only."
)


async def ask_map_reduce(
    text: str,
    question: str,
    ep: Endpoint,
    budget: Budget,
    *,
    settings: Settings | None = None,
    observer: Observer | None = None,
) -> Answer:
    """Ask every chunk (concurrently), then combine the parts' candidate answers in one request."""
    settings, observer, start = settings or Settings(), observer or Quiet(), time.perf_counter()
    async with _Caller(ep, budget, settings, observer) as caller:
        question = _checked(question, caller)
        fixed = [{"role": "user", "content": _MAP_QA.format(part=999, parts=999, text="", question=question)}]
        room = caller.room(fixed, settings.summary_tokens)
        if room < 64:
            raise SlmbenchError(f"the question leaves no room for document text in {caller.context} tokens")
        chunks = chunk_text(
            text, budget.counter, min(settings.chunk_tokens or room, room), min(settings.overlap_tokens, room // 4)
        )
        observer.start(f"map: ask {len(chunks)} chunks", len(chunks), 0)
        replies = await asyncio.gather(*(caller.complete(
            [{"role": "user", "content": _MAP_QA.format(part=c.index + 1, parts=len(chunks), text=c.text, question=question)}],
            settings.summary_tokens) for c in chunks))  # fmt: skip
        observer.finish()
        found = [(c, r) for c, r in zip(chunks, replies) if r and "NONE" not in r.upper()]
        if not found:
            return Answer("NONE", [], chunks, caller.usage, time.perf_counter() - start)
        candidates = "\n".join(f"Part {c.index + 1}: {r}" for c, r in found)
        observer.start("reduce: combine candidates", 1, 0)
        reply = await caller.complete([{"role": "user", "content": _REDUCE_QA.format(candidates=candidates, question=question)}],
                                      settings.final_tokens)  # fmt: skip
        observer.finish()
    return Answer(reply, [c.index for c, _ in found], chunks, caller.usage, time.perf_counter() - start)


async def ask_whole(
    messages: list[dict[str, str]],
    ep: Endpoint,
    budget: Budget,
    *,
    settings: Settings | None = None,
    observer: Observer | None = None,
) -> Answer | None:
    """The whole document in one request, as is; None when it does not fit the context."""
    settings = settings or Settings()
    start = time.perf_counter()
    async with _Caller(ep, budget, settings, observer or Quiet()) as caller:
        if not caller.fits(messages, settings.final_tokens):
            return None
        reply = await caller.complete(messages, settings.final_tokens)
    return Answer(reply, [], [], caller.usage, time.perf_counter() - start)


def run(coro):
    """Run a toolkit coroutine from synchronous code (the CLI, the chat UI's worker thread)."""
    return asyncio.run(coro)
