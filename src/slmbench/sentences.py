"""Sentences and clauses, for every script the workbench meets (IFEval counts its own way, as punkt does).

Sentence ends are Wikimedia's sentencex (Latin `. ! ? …`, CJK `。！？`, Arabic `؟ ۔`,
Devanagari `।` and ~300 languages' abbreviation lists: "Mr.", "e.g.", "U.S.", "5 p.m." and
"3.5" do not end a sentence; no space is needed after `。`). Chosen over nltk's punkt (a data
download, English-trained) and pysbd (unmaintained since 2021, one language per call).
Clauses, for text with no sentence end that must still be cut, are the one hand-written part:
a comma, semicolon or colon followed by a space, `，；：、`, or a line break is a place to cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sentencex

DEFAULT_LANGUAGE = "en"  # its terminators cover every script; the language only picks abbreviations
# A Latin , ; : needs a space after it ("1,234", "10:30" are not cuts); CJK ones do not.
_CLAUSE_END = re.compile(r"(?:[,;:]+(?=\s)|[，；：、﹐﹑︰]+[\"'”’)\]」』）】》]*)\s*|\n+")


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, language: str = DEFAULT_LANGUAGE
) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of each sentence within text[start:end], whitespace trimmed, in order."""
    end = len(text) if end is None else end
    for b in sentencex.get_sentence_boundaries(language, text[start:end]):
        yield from trimmed(text, start + b["start_index"], start + b["end_index"])


def split_sentences(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text, language=language)]


def last_sentence(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    spans = list(sentence_spans(text, language=language))
    return text[spans[-1][0] : spans[-1][1]] if spans else ""


def clause_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each clause within text[start:end]: cut after , ; : (Latin or CJK) and at line breaks."""
    end = len(text) if end is None else end
    pos = start
    for m in _CLAUSE_END.finditer(text, start, end):
        yield from trimmed(text, pos, m.end())
        pos = m.end()
    yield from trimmed(text, pos, end)


def trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The span without its outer whitespace; nothing when it is all whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end
