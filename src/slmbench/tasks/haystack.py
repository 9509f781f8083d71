"""Offline haystack material: seeded pseudo-essay text from a small grammar, and made-up words.

No download (RULER's Paul Graham essays are one): the text only has to be fluent-looking,
varied and free of the needles' patterns (no 7-digit numbers, no `VAR` lines).
"""

from __future__ import annotations

import random
import re

NOUNS = (
    "city river garden engineer teacher market library village harbour machine orchard valley "
    "scientist painter bridge forest council museum student farmer tower railway island festival "
    "journal kitchen workshop mountain season lantern village school writer committee factory "
    "theatre meadow archive captain sailor merchant clock window letter century"
).split()
ADJECTIVES = (
    "quiet ancient bright careful narrow patient golden distant modest curious gentle stubborn "
    "crowded hidden silver restless humble steady hollow vivid rural fragile wooden northern"
).split()
VERBS = (
    "described visited repaired admired questioned painted studied guarded measured remembered "
    "crossed designed followed opened explored recorded noticed praised"
).split()
ADVERBS = "slowly often rarely quietly eagerly carefully suddenly patiently gladly firmly".split()
CONNECTIVES = ("In the morning", "Years later", "Before the winter", "After the storm", "By the evening",
               "Long ago", "During the festival", "At the edge of town", "Every spring", "Meanwhile")  # fmt: skip
TEMPLATES = (
    "The {a} {n} {v} the {a2} {n2}.",
    "{c}, the {n} {adv} {v} a {a} {n2}.",
    "Nobody {v} the {n} as {adv} as the {a} {n2} did.",
    "{c}, a {a} {n} {v} the {n2} near the {a2} {n3}.",
    "It was said that the {n} {adv} {v} every {a} {n2} in the {n3}.",
    "The {n2} of the {a} {n} was {v} by a {a2} {n3}.",
    "Some people {adv} remember how the {n} {v} the {n2}.",
    "{c}, the {a} {n2} and the {n3} {v} the {a2} {n}.",
)


_AN = re.compile(r"(^|\s)[aA] ([aeiou])")


def essay_words(rng: random.Random, count: int) -> list[str]:
    """At least `count` words of pseudo-essay; a paragraph break is a word "\\n\\n" of its own."""
    words: list[str] = []
    sentences_left = rng.randint(4, 8)
    while len(words) < count:
        template = rng.choice(TEMPLATES)
        nouns = rng.sample(NOUNS, 3)
        adjectives = rng.sample(ADJECTIVES, 2)
        sentence = template.format(n=nouns[0], n2=nouns[1], n3=nouns[2], a=adjectives[0], a2=adjectives[1],
                                   v=rng.choice(VERBS), adv=rng.choice(ADVERBS), c=rng.choice(CONNECTIVES))  # fmt: skip
        words += _AN.sub(r"\1an \2", sentence).split()
        sentences_left -= 1
        if sentences_left == 0:
            words.append("\n\n")
            sentences_left = rng.randint(4, 8)
    return words


def join_words(words: list[str]) -> str:
    return " ".join(words).replace(" \n\n ", "\n\n").strip()


def sentence_ends(words: list[str]) -> list[int]:
    """Indexes just after each sentence end: where a needle may go."""
    return [i + 1 for i, w in enumerate(words) if w.endswith(".") or w == "\n\n"]


SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def made_up_words(rng: random.Random, count: int) -> list[str]:
    """`count` distinct pronounceable three-syllable non-words (e.g. "kovari"): a shape that scoring
    can pick out of an answer and that English words rarely have."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(3))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out
