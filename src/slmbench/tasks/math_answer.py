"""A model's final math answer, read conservatively, and its exact value when it is a plain number.

Where the answer is read (the first that applies):
1. the last complete, non-empty `\\boxed{}` (or `\\fbox{}`). Several on that line: an "or" between them is a
   hedge, "," or "and" makes them one list answer ("2, 3"), other words leave the last one. A
   reply cut inside its last `\\boxed{` has no answer.
2. the last answer phrase: "final answer is", "answer:", "answer is", "answer =", "答案是". Of the
   sentence after it, math in `$..$`, `\\(..\\)`, `\\[..\\]` is the answer (Minerva's "Final Answer:
   The final answer is $X$. I hope it is correct." reads X); plain text loses its trailing
   punctuation, bold marks, parenthetical comments ("10 (not 12)." reads 10) and trailing clause
   (", which ...", " because ...").
3. otherwise the last sentence, when it holds one number, or one after its last "=" ("So she
   gets 13 dollars." reads 13; "we get 3 and then 5" reads nothing).
Prose around a number ("she has 5 apples left") reads as that number when it is the only one.

A hedge ("2 or 3", "x=4 or x=5", "$4$ or $5$", "2 \\text{ or } 3") holds several different
candidates: it is judged wrong, not ok (any one of them matching would reward guessing) and
not extraction_failed (that verdict is kept for replies with no readable final answer, a
format failure counted apart). Candidates with one value ("4 or 4.0") are one answer.

Values: Unicode minus (U+2212) and fullwidth digits read as ASCII; "1,234" and "1\\,234" are digit
groups; a space between digits never joins them ("12 5" is not a number, "3 1/2" is the mixed
number 7/2). Against a numeric gold, an equation chain ("$\\frac{1}{2} + 1 = 2$") is read as its
last value (reasoning.score_math). tests/test_math_answers.py holds the table of cases, one rule each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

from ..sentences import last_sentence, sentence_spans

_ASCII = str.maketrans({"\u2212": "-", "\ufe63": "-", "\uff0d": "-", "\uff0e": ".", "\uff0f": "/", "\uff0c": ",",
                        **{chr(0xFF10 + d): str(d) for d in range(10)}})  # fmt: skip
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASE = re.compile(r"(?:\b(?:final\s+)?answer\b[*_\s]*(?:is\b[\s:]*|[:：=])|(?:最终)?答案\s*(?:是|为|[:：]))[*_\s]*",
                     re.IGNORECASE)  # fmt: skip
_OR = re.compile(r"\\(?:text|textrm|mbox|mathrm)\s*\{\s*or\s*\}|(?<![\\A-Za-z])or\b|或", re.IGNORECASE)
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_LIST_GAP = re.compile(r"(?:,|;|&|and|\\text\{and\}|\$|\\[()\[\]])*", re.IGNORECASE)  # spaces removed first
_COMMENT = re.compile(r"\s*[(（]([^()（）]*)[)）]$")
_CLAUSE = re.compile(
    r",?\s+(?:which|since|because|as|so|hence|thus|therefore|where|when|if|i\.e\.|e\.g\.|that is)\b.*$",
    re.IGNORECASE | re.DOTALL,
)
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_NUMBER = re.compile(
    r"-?(?:\\[dt]?frac\s*\{\s*-?\d+\s*\}\s*\{\s*\d+\s*\}|\\[dt]?frac\d\d"  # \frac{3}{4}, \frac34
    r"|\d+(?:(?:,|\\,)\d{3}(?!\d))*(?:\.\d+)?(?:\s+\d+/\d+|/\d+)?)"  # 12, 1,234, 0.75, 3/4, 3 1/2
)
_TRAILING = "\t\n .,;:!?。，；：！？*_(（"


@dataclass(frozen=True)
class Found:
    text: str | None  # the one final answer; None when none was read or it is hedged
    how: str  # "boxed", "answer phrase", "last sentence" or "none"
    why: str = ""  # when text is None: what was wrong
    candidates: tuple[str, ...] = ()  # two or more: a hedge
    whole: str = ""  # a hedge as written, for a gold answer that is itself "A or B"
    may_be_cut: bool = False  # nothing closes the answer: a reply cut there may have been cut mid-answer

    @property
    def hedged(self) -> bool:
        return len(self.candidates) > 1


def extract(reply: str) -> Found:
    """The final answer of a reply (see the module's rules)."""
    text = reply.translate(_ASCII)
    boxes, cut_inside = _boxes(text)
    if cut_inside:
        return Found(None, "none", "the reply stops inside its last \\boxed{")
    if boxes:
        return _from_boxes(text, boxes)
    phrases = list(_PHRASE.finditer(text))
    if phrases:
        after = text[phrases[-1].end() :].lstrip()
        line = after.split("\n", 1)[0]
        spans = list(sentence_spans(line))
        if spans:
            found = _read(line[: spans[0][1]], "answer phrase", after_phrase=True)
            last = not after[spans[0][1] :].strip()  # the answer ends the reply ...
            unclosed = not line.rstrip().endswith(
                (".", "!", "?", "。", "！", "？", "$", ")", "]", "*")
            )  # ... with no mark
            return replace(found, may_be_cut=last and unclosed)
    sentence = last_sentence(text)
    if not sentence:
        return Found(None, "none", "no answer found")
    found = _read(sentence, "last sentence", after_phrase=False)  # "10 when ordered, else 5" holds two numbers
    if found.text is None and not found.hedged:
        return Found(None, "none", f"no \\boxed{{}} or answer line, and the last sentence {found.why}")
    return replace(found, may_be_cut=True)


def is_hedge(text: str) -> bool:
    """Whether a (gold) answer itself reads "A or B"."""
    return bool(_OR.search(text.translate(_ASCII)))


def _boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """Complete \\boxed{} groups as (start, end, content), and whether the text stops inside a later one."""
    out: list[tuple[int, int, str]] = []
    for m in _BOX.finditer(text):
        if out and m.start() < out[-1][1]:
            continue  # a box inside a box
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            return out, True
        if text[m.end() : i - 1].strip():  # "put it into \boxed{}": the prompt echoed, no answer
            out.append((m.start(), i, text[m.end() : i - 1]))
    return out, False


def _from_boxes(text: str, boxes: list[tuple[int, int, str]]) -> Found:
    line_start = text.rfind("\n", 0, boxes[-1][0]) + 1
    line = [b for b in boxes if b[0] >= line_start]
    if len(line) > 1 and len({_key(b[2]) for b in line}) > 1:
        gaps = [text[a[1] : b[0]] for a, b in zip(line, line[1:], strict=False)]
        contents = tuple(b[2].strip() for b in line)
        if any(_OR.search(g) for g in gaps):
            return Found(None, "boxed", "several boxed answers joined by 'or'", contents, " or ".join(contents))
        if all(_LIST_GAP.fullmatch(re.sub(r"\s+", "", g)) for g in gaps):  # "\boxed{2} and \boxed{3}": one list answer
            return Found(", ".join(contents), "boxed")
    return _split_hedge([boxes[-1][2].strip()], "boxed")


def _read(sentence: str, how: str, after_phrase: bool) -> Found:
    """The answer in one sentence: its math, else its text cleaned up; a hedge when "or" joins several."""
    maths = [next(g for g in m.groups() if g is not None).strip() for m in _MATH.finditer(sentence)]
    if maths:
        pieces = _MATH.split(sentence)
        prose = pieces[::5]  # re.split interleaves the pattern's 4 groups between the prose pieces
        if any(_OR.search(p) for p in prose[1:]):  # "$4$ or $5$", "$4$ or 5"
            more = [_clean(x, after_phrase) for p in prose[1:] for x in _OR.split(p)[1:] if re.search(r"\d", x)]
            return _split_hedge(maths + more, how, joined=True)
        return _split_hedge([maths[0]], how)
    return _split_hedge([sentence], how, prose=True, after_phrase=after_phrase)


def _split_hedge(
    texts: list[str], how: str, joined: bool = False, prose: bool = False, after_phrase: bool = False
) -> Found:
    """One answer, or a hedge: `texts` are the candidates already (joined), or one text to split at "or"."""
    whole = " or ".join(texts) if joined else _clean(texts[0], after_phrase)  # "(not 12)" goes first; "(or 12)" stays
    parts = texts if joined else [p for p in (_clean(x, after_phrase) for x in _OR.split(whole)) if p]
    values = [_reduce(p, words_ok=after_phrase) if prose else p for p in parts]
    if len(parts) > 1:
        if all(v is not None for v in values) and len({_key(v) for v in values if v is not None}) == 1:
            return Found(values[0], how)
        return Found(None, how, "several candidate answers joined by 'or'", tuple(parts), whole)
    if not parts or values[0] is None:
        why = "holds no number" if not parts or not _NUMBER.search(parts[0]) else "holds several numbers"
        return Found(None, how, why)
    return Found(values[0], how)


def _clean(text: str, after_phrase: bool = False) -> str:
    """Without outer bold marks, trailing punctuation and parenthetical comments (after an answer phrase,
    trailing clauses too: ", which ...")."""
    while True:
        before = text
        text = text.strip().lstrip("*_ ").rstrip(_TRAILING)
        comment = _COMMENT.search(text)
        if comment and _WORD.search(comment.group(1)) and not _OR.search(comment.group(1)) and comment.start() > 0:
            text = text[: comment.start()]
        if text.endswith((")", "）")) and text.count("(") + text.count("（") < text.count(")") + text.count("）"):
            text = text[:-1]  # "12)" left by splitting "10 (or 12)"
        if after_phrase:
            text = _CLAUSE.sub("", text)
        if text == before:
            return text


def _reduce(part: str, words_ok: bool) -> str | None:
    """Prose around a number ("she has 5 apples left") as that number; math as it is; words with no
    number ("Monday") only after an answer phrase (a last sentence without a number is no answer)."""
    first_digit = re.search(r"\d", part)
    if first_digit is None:
        return part if words_ok else None
    if not _WORD.search(part[: first_digit.start()]):
        return part  # "5 apples", "x = 5", "\sqrt{3}"
    tail = part.rsplit("=", 1)[1] if "=" in part else part
    numbers = {_key(n): n for n in (m.group().strip() for m in _NUMBER.finditer(tail))}
    return next(iter(numbers.values())) if len(numbers) == 1 else None


def _key(text: str) -> object:
    value = plain_value(text)
    return value if value is not None else re.sub(r"\s+", "", text)


# -- exact values ---------------------------------------------------------------------------------

_LABEL = re.compile(r"^[A-Za-z]\s*=\s*")  # "x = 12": the number is the answer
_UNIT = re.compile(r"(?:\s*\\(?:text|mathrm|mbox)\{[^{}]*\}|\s+[A-Za-z]{2,})+$")  # "12 dollars", "12 \text{ cm}"
_PLAIN = re.compile(
    r"(?P<sign>-?)(?:"
    r"(?P<whole>\d+) (?P<mnum>\d+)/(?P<mden>\d+)"  # 3 1/2
    r"|(?P<whole2>\d+)\\frac(?:\{(?P<fnum>\d+)\}|(?P<fnum1>\d))(?:\{(?P<fden>\d+)\}|(?P<fden1>\d))"  # 3\frac{1}{2}
    r"|\\frac(?:\{(?P<num>-?\d+)\}|(?P<num1>\d))(?:\{(?P<den>\d+)\}|(?P<den1>\d))"  # \frac{3}{4}, \frac34
    r"|(?P<decimal>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?:/(?P<over>\d+))?"  # 12, 1,234, 0.75, 3/4
    r")"
)


def plain_value(raw: str) -> Fraction | None:
    """The exact value of a plain number, or None when `raw` is anything more (or ambiguous)."""
    s = raw.translate(_ASCII).strip().rstrip(".").strip()
    s = re.sub(r"^\$+|\$+$", "", s).replace("\\!", "").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"(?<=\d)\\,(?=\d{3}(?!\d))", ",", s).replace("\\,", " ")  # 1\,234 is a digit group
    s = re.sub(r"\\[dt]frac", r"\\frac", _UNIT.sub("", _LABEL.sub("", s.strip())))
    s = re.sub(r"(?<!\d)\s+|\s+(?!\d)", "", s)  # spaces go, except between digits
    m = _PLAIN.fullmatch(s)
    if m is None:
        return None
    sign = -1 if m["sign"] else 1
    try:
        if m["whole"] is not None or m["whole2"] is not None:
            num = int(m["mnum"] or m["fnum"] or m["fnum1"])
            den = int(m["mden"] or m["fden"] or m["fden1"])
            if not 0 < num < den:  # "3 5/2" is no mixed number
                return None
            return sign * (int(m["whole"] or m["whole2"]) + Fraction(num, den))
        if m["decimal"] is not None:
            value = Fraction(m["decimal"].replace(",", ""))
            return sign * (value / int(m["over"]) if m["over"] else value)
        return sign * Fraction(int(m["num"] or m["num1"]), int(m["den"] or m["den1"]))
    except ZeroDivisionError:
        return None


def spaced_digits(raw: str) -> bool:
    """Digits with only a space between them ("12 5"), which no reading should join."""
    return bool(re.search(r"\d\s+\d", raw.translate(_ASCII)))
