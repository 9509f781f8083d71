"""Token-aware chunking on paragraph and sentence boundaries, with overlap.

Every chunk is a span of the original text (so answers can point at characters) and its
token count is checked with the counter, never assumed: no chunk exceeds the budget.
Paragraphs are counted exactly; a paragraph's sentences get its count in proportion to
their characters (counting every sentence over HTTP would cost thousands of calls on a long
document), and each assembled chunk is then counted exactly and trimmed if over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SlmbenchError
from ..tokens import TokenCounter

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_WORD = re.compile(r"\S+")


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
            raise SlmbenchError(f"could not fit text at characters {start}-{end} into {max_tokens} tokens")
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
    for para in _spans(text, _PARAGRAPH_BREAK, 0, len(text)):
        tokens = counter.count(text[para[0] : para[1]])
        sentences = list(_spans(text, _SENTENCE_END, *para))
        share = tokens / max(1, para[1] - para[0])
        for k, (s, e) in enumerate(sentences):
            last = k == len(sentences) - 1
            estimate = share * (e - s)
            if estimate > max_tokens * 0.5:  # big enough for the proportion's error to matter
                estimate = counter.count(text[s:e])
            if estimate > max_tokens * 0.9:
                units += _hard_split(text, s, e, counter, max_tokens, last)
            else:
                units.append(_Unit(s, e, estimate, last))
    return units


def _spans(text: str, separator: re.Pattern[str], start: int, end: int):
    """Spans between separators within [start, end), whitespace trimmed, empty ones skipped."""
    pos = start
    for m in separator.finditer(text, start, end):
        # A sentence end keeps its punctuation; a paragraph break is all whitespace.
        cut = m.start() + len(m.group(0).rstrip()) if separator is _SENTENCE_END else m.start()
        yield from _trimmed(text, pos, cut)
        pos = m.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, start: int, end: int):
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def _hard_split(text: str, start: int, end: int, counter: TokenCounter, max_tokens: int, ends_paragraph: bool) -> list[_Unit]:
    """A sentence longer than a chunk: split between words, each piece counted exactly."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    pieces: list[_Unit] = []
    i = 0
    while i < len(words):
        lo, hi = i + 1, len(words)  # the largest j with words[i:j] under budget
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if counter.count(text[words[i][0] : words[mid - 1][1]]) <= max_tokens * 0.9:
                lo = mid
            else:
                hi = mid - 1
        s, e = words[i][0], words[lo - 1][1]
        pieces.append(_Unit(s, e, counter.count(text[s:e]), False))
        i = lo
    pieces[-1].ends_paragraph = ends_paragraph
    return pieces
