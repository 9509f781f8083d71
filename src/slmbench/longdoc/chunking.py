"""Token-aware chunking on paragraph and sentence boundaries, with overlap.

Every chunk is a span of the original text (so answers can point at characters) and its
token count is checked with the counter, never assumed: no chunk exceeds the budget.
Paragraphs are counted exactly; a paragraph's sentences (slmbench.sentences: Latin, CJK,
Arabic...) get its count in proportion to their characters (counting every sentence over
HTTP would cost thousands of calls on a long document), and each assembled chunk is then
counted exactly and trimmed if over. A sentence too long for a chunk is cut at clauses, then
between words, then between characters (Chinese has no spaces): any text fits, none is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import SlmbenchError
from ..sentences import clause_spans, sentence_spans, trimmed
from ..serving.tokens import TokenCounter

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")
_FIT = 0.9  # a cut-up sentence's pieces leave this share of the budget: room for a neighbour's overlap


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int  # character offsets into the document text
    end: int
    text: str
    tokens: int


@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    tokens: float
    ends_paragraph: bool


def chunk_text(text: str, counter: TokenCounter, max_tokens: int, overlap_tokens: int = 0) -> list[Chunk]:
    """Chunks of at most max_tokens tokens, broken at a paragraph end when one falls in the
    second half of a chunk, else at a sentence end; each chunk after the first starts with up
    to overlap_tokens of whole sentences from the end of the one before."""
    if max_tokens < 16:
        raise SlmbenchError(f"a chunk budget of {max_tokens} tokens is too small; use at least 16")
    if overlap_tokens * 2 > max_tokens:
        raise SlmbenchError(f"overlap {overlap_tokens} must be at most half the chunk budget {max_tokens}")
    units = _units(text, counter, max_tokens)
    chunks: list[Chunk] = []
    i = 0
    carry: list[_Unit] = []
    while i < len(units):
        group = list(carry)
        size = sum(u.tokens for u in group)
        start_new = i
        while i < len(units) and (size + units[i].tokens <= max_tokens or i == start_new and not group):
            group.append(units[i])
            size += units[i].tokens
            i += 1
        if i == start_new:  # the overlap left no room for new text: drop it
            carry = []
            continue
        # Prefer ending at a paragraph boundary in the chunk's second half.
        if i < len(units):
            cut = max((k for k, u in enumerate(group) if u.ends_paragraph and k >= len(carry)), default=None)
            if cut is not None and sum(u.tokens for u in group[: cut + 1]) >= max_tokens / 2 and cut + 1 < len(group):
                i -= len(group) - (cut + 1)
                group = group[: cut + 1]
        # The sum was proportional at sentence level: count the real span, shed sentences if over.
        while True:
            start, end = group[0].start, group[-1].end
            tokens = counter.count(text[start:end])
            new_units = len(group) - len(carry)
            if tokens <= max_tokens or new_units <= 1:
                break
            group.pop()
            i -= 1
        if tokens > max_tokens:
            if carry:  # drop the overlap rather than exceed the budget
                carry = []
                i -= new_units
                continue
            # One unit whose proportional estimate was too low (a Chinese sentence in an English
            # paragraph counts ~4x its share): cut it up, counting exactly, and go on.
            unit = units[i - 1]
            pieces = _cut(text, unit.start, unit.end, counter, max_tokens, unit.ends_paragraph)
            if len(pieces) == 1:  # only a counter that answers differently for the same text
                raise SlmbenchError(f"the token counter gave {tokens} and then {pieces[0].tokens} tokens for characters "
                                    f"{start}-{end}; check the endpoint's /tokenize")  # fmt: skip
            units[i - 1 : i] = pieces
            i -= 1
            continue
        chunks.append(Chunk(len(chunks), start, end, text[start:end], tokens))
        carry = _tail(group, overlap_tokens) if i < len(units) else []
    return chunks


def _tail(units: list[_Unit], budget: int) -> list[_Unit]:
    """The last whole units of a chunk worth at most budget tokens (never the whole chunk)."""
    out: list[_Unit] = []
    size = 0.0
    for u in reversed(units[1:]):
        if size + u.tokens > budget:
            break
        out.insert(0, u)
        size += u.tokens
    return out


def _units(text: str, counter: TokenCounter, max_tokens: int) -> list[_Unit]:
    units: list[_Unit] = []
    for para in _paragraphs(text):
        tokens = counter.count(text[para[0] : para[1]])
        sentences = list(sentence_spans(text, *para))
        share = tokens / max(1, para[1] - para[0])
        for k, (s, e) in enumerate(sentences):
            last = k == len(sentences) - 1
            estimate = share * (e - s)
            if estimate > max_tokens * 0.5:  # big enough for the proportion's error to matter
                estimate = counter.count(text[s:e])
            if estimate > max_tokens * _FIT:
                units += _cut(text, s, e, counter, max_tokens, last)
            else:
                units.append(_Unit(s, e, estimate, last))
    return units


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        yield from trimmed(text, pos, m.start())
        pos = m.end()
    yield from trimmed(text, pos, len(text))


def _words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    return ((m.start(), m.end()) for m in _WORD.finditer(text, start, end))


_FINER: list[Callable[[str, int, int], Iterator[tuple[int, int]]]] = [clause_spans, _words]


def _cut(text: str, start: int, end: int, counter: TokenCounter, max_tokens: int, ends_paragraph: bool) -> list[_Unit]:
    """A sentence longer than a chunk, as pieces of at most _FIT of the budget, each counted exactly."""
    pieces = [_Unit(s, e, n, False) for s, e, n in _pack(text, start, end, counter, int(max_tokens * _FIT), 0)]
    pieces[-1].ends_paragraph = ends_paragraph
    return pieces


def _pack(text: str, start: int, end: int, counter: TokenCounter, limit: int, level: int) -> list[tuple[int, int, int]]:
    """(start, end, tokens) pieces of text[start:end], each at most `limit` tokens: consecutive
    clauses (level 0) or words (1) packed greedily; one too big for a piece goes a level finer;
    characters last."""
    if level == len(_FINER):
        return _characters(text, start, end, counter, limit)
    parts = list(_FINER[level](text, start, end))
    if len(parts) <= 1:
        return _pack(text, start, end, counter, limit, level + 1)
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(parts):
        first = counter.count(text[parts[i][0] : parts[i][1]])
        if first > limit:
            out += _pack(text, parts[i][0], parts[i][1], counter, limit, level + 1)
            i += 1
            continue
        counts = {i + 1: first}

        def fits(j: int, i: int = i, counts: dict[int, int] = counts) -> bool:
            counts[j] = counts.get(j) or counter.count(text[parts[i][0] : parts[j - 1][1]])
            return counts[j] <= limit

        lo = _longest(fits, i + 1, len(parts))  # parts[i:lo] is the longest run within the limit
        size = counts[lo]
        out.append((parts[i][0], parts[lo - 1][1], size))
        i = lo
    return out


def _characters(text: str, start: int, end: int, counter: TokenCounter, limit: int) -> list[tuple[int, int, int]]:
    """The longest runs of characters within the limit (a run holds at least one character)."""
    out: list[tuple[int, int, int]] = []
    while start < end:
        stop = _longest(lambda j, start=start: counter.count(text[start:j]) <= limit, start + 1, end)
        for s, e in trimmed(text, start, stop):
            out.append((s, e, counter.count(text[s:e])))
        start = stop
    return out


def _longest(fits: Callable[[int], bool], lo: int, hi: int) -> int:
    """The largest j in [lo, hi] with fits(j), fits being true up to some j and false after; lo
    always counts as fitting. Galloping first (lo+1, lo+2, lo+4, ...), so every text counted is at
    most about twice a chunk, however long the sentence: a binary search over the whole sentence
    would count texts of its full length over HTTP."""
    step = 1
    while lo < hi:
        probe = min(hi, lo + step)
        if not fits(probe):
            hi = probe - 1
            break
        lo, step = probe, step * 2
    while lo < hi:  # now fits(lo) and not fits(hi + 1)
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
