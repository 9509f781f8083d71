"""Long context: needle in a haystack on a length x depth grid, plus RULER-style tasks.

Kinds (after RULER, Hsieh et al. 2024): four needle variants (single, multi-key, multi-value,
multi-query; 7-digit values, exact match), variable tracking, common-word and frequent-word
extraction. Everything is generated offline from a seed.

A sample's "length" is the whole request as RULER counts it: prompt (template included) plus
the answer's max_tokens. Samples are first sized with the estimate (`samples`); once the
endpoint is up the runner calls `fit`, which re-sizes each prompt with the served model's own
tokenizer (to within a few tokens below the target) and marks lengths the endpoint cannot
hold as skipped-over-context.

The grid: `longcontext` uses 1K, 2K, 4K (fits the embedded Gemma 3 270M on 2 cores);
`longcontext-32k`, `-128k`, `-256k` go up to that length; `--lengths 1k,8k,...` sets any grid.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from ..client import Completion
from ..markdown import table as md_table
from ..metrics.stats import Estimate, bootstrap_mean, wilson
from ..serving.tokens import Budget, TokenCounter, TokenEstimate
from .base import (
    ANSWERED,
    DEFAULT_SUITE,
    EXTRACTION_FAILED,
    OK,
    TRUNCATED,
    WRONG,
    Column,
    Dimension,
    ExtraCell,
    Sample,
    Task,
    Verdict,
)
from .haystack import ADJECTIVES, NOUNS, essay_words, join_words, made_up_words, sentence_ends
from .registry import register

NEEDLE_KINDS = ("niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery")
OTHER_KINDS = ("variable_tracking", "common_words", "frequent_words")
KINDS = NEEDLE_KINDS + OTHER_KINDS
DEPTHS = (0.1, 0.5, 0.9)
DEFAULT_LENGTHS = (1024, 2048, 4096)
_K = 1024
# Opt-in grids up to a model's max context; each is a separate registered task.
LONG_VARIANTS = {
    "longcontext-32k": (1 * _K, 2 * _K, 4 * _K, 8 * _K, 16 * _K, 32 * _K),
    "longcontext-128k": (4 * _K, 8 * _K, 16 * _K, 32 * _K, 64 * _K, 128 * _K),
    "longcontext-256k": (4 * _K, 8 * _K, 16 * _K, 32 * _K, 64 * _K, 128 * _K, 256 * _K),
}
MAX_TOKENS = 96
# Effective context: the longest length up to which every length scores at least the
# shortest length's score minus MARGIN (absolute, on the 0-1 recall score).
MARGIN = 0.10
MIN_SAMPLES = 3  # answered samples a length needs before it counts toward the effective context
NEEDLES = 4  # in the multi-* variants
TOLERANCE = 8  # a fitted prompt lands at most this many tokens under its target

_NUMBER = re.compile(r"(?<!\d)\d{7}(?!\d)")
_VARIABLE = re.compile(r"\b[A-Z]{5}\b")
_MADE_UP = re.compile(r"\b(?:[bdfgklmnprstvz][aeiou]){3}\b")


# Every long-context task fills this column: a model's longest effective context among them.
LONG_CONTEXT = Dimension("longcontext", "Long-context support", "Long context", unit="tokens", tested_metric="accuracy",
                         position=50)  # fmt: skip


@dataclass(frozen=True)
class GridPoint:
    """One sample of the grid: a kind at a length (and, for needles, a depth)."""

    kind: str
    length: int
    depth: float | None  # needle kinds only
    seed: int


@register
class LongContext(Task):
    version = "1"
    max_tokens = MAX_TOKENS
    breakdown = "kind"
    headline = "accuracy"
    takes_data = False
    takes_lengths = True
    suite_order = 80
    columns = (Column(LONG_CONTEXT, "effective_context"),)

    def __init__(self, name: str = "longcontext", lengths: Sequence[int] = DEFAULT_LENGTHS,
                 suites: tuple[str, ...] = (DEFAULT_SUITE,)) -> None:  # fmt: skip
        self.name = name
        self.aliases = (name.replace("longcontext", "longctx", 1),)
        self.suites = suites
        self.lengths = tuple(sorted(lengths))
        grid = ",".join(f"{n // _K}k" if n % _K == 0 else str(n) for n in self.lengths)
        self.description = f"needle in a haystack ({grid} x {len(DEPTHS)} depths) + RULER-style multi-needle, variable tracking, word extraction"
        # One grid repetition: every kind at every length, needle kinds at every depth.
        self.default_limit = len(self.lengths) * (len(NEEDLE_KINDS) * len(DEPTHS) + len(OTHER_KINDS))
        # Prompt tokens of the longest sample: with max_tokens, exactly the longest length.
        self.context_tokens = self.lengths[-1] - MAX_TOKENS

    def with_lengths(self, lengths: Sequence[int]) -> LongContext:
        return LongContext(self.name, lengths, self.suites)

    def plans(self, limit: int, seed: int) -> list[GridPoint]:
        # Lengths vary fastest, so a small --limit still spans the whole length range.
        cells = [(k, d) for k in NEEDLE_KINDS for d in DEPTHS] + [(k, None) for k in OTHER_KINDS]
        plans: list[GridPoint] = []
        while len(plans) < limit:
            for kind, depth in cells:
                for length in self.lengths:
                    plans.append(GridPoint(kind, length, depth, seed * 1_000_003 + len(plans)))
        return plans[:limit]

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        return [build(plan, TokenEstimate(), MAX_TOKENS) for plan in self.plans(limit, seed)]

    def fit(self, samples: list[Sample], budget: Budget, max_tokens: int) -> list[Sample]:
        """Re-size every sample with the endpoint's tokenizer; skip lengths it cannot hold."""
        out = []
        for s in samples:
            plan = GridPoint(**s.meta["plan"])
            if budget.max_context is not None and plan.length > budget.max_context:
                reason = (f"skipped-over-context: length {plan.length} > the endpoint's context "
                          f"{budget.max_context}; not sent")  # fmt: skip
                out.append(replace(s, meta=s.meta | {"skip_reason": reason}))
            elif budget.counter.exact or max_tokens != MAX_TOKENS:
                out.append(build(plan, budget.counter, max_tokens))
            else:
                out.append(s)  # already sized by the estimate for this max_tokens
        return out

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        return score_answer(
            sample.meta["kind"], sample.target, completion.text or "", completion.finish_reason == "length"
        )

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        out = {
            "accuracy": wilson(sum(r.verdict == OK for r in answered), len(answered)),
            "recall": bootstrap_mean([r.score for r in answered]),
        }
        for length in self.lengths:
            group = [r.score for r in answered if r.meta["length"] == length]
            out[f"recall:{length}"] = bootstrap_mean(group)
        return out

    def summary(self, records: Sequence[Any]) -> dict[str, Any]:
        """Heatmap (length x depth -> mean recall of the needle kinds) and effective context."""
        return summarise(records, self.lengths)

    def extra_lines(self, extra: dict[str, Any]) -> list[str]:
        value = extra["effective_context"]
        shown = f"{value} tokens" if value else "none"
        return [f"effective context {shown} ({extra['effective_context_why']})"]

    def extra_markdown(self, model: str, extra: dict[str, Any]) -> list[str]:
        """Mean recall per length x depth (needle kinds), per length, and the effective context."""
        depths = [f"{d:g}" for d in extra["depths"]]
        lines = ["", f"## {model} / {self.name}: recall by length x needle depth", ""]
        rows = []
        for length, row in extra["heatmap"].items():
            total = extra["by_length"][length]
            rows.append(
                [
                    length,
                    *(_share(row[d]["score"]) for d in depths),
                    _share(total["score"]),
                    total["n"],
                    total["skipped"],
                ]
            )
        lines += md_table(["length", *(f"depth {d}" for d in depths), "all kinds", "n", "skipped"], rows)
        effective = extra["effective_context"]
        shown = f"**{effective}** tokens" if effective is not None else "**none**"
        lines += ["", f"Effective context: {shown} ({extra['effective_context_why']}; margin {extra['margin']:g})."]
        return lines

    def extra_cell(self, extra: dict[str, Any], metric: str) -> ExtraCell | None:
        """The effective context, n over every length; ties go to the longest grid."""
        if metric not in extra:
            return None
        value = extra[metric]
        n = sum(v["n"] for v in extra["by_length"].values())
        return ExtraCell(value, n, "" if value is not None else extra.get(f"{metric}_why", ""), max(extra["lengths"]))


# The opt-in grids, each its own task (in no suite).
for _name, _lengths in LONG_VARIANTS.items():
    register(partial(LongContext, _name, _lengths, ()))


# building --------------------------------------------------------------------------------


def build(plan: GridPoint, counter: TokenCounter, max_tokens: int) -> Sample:
    """The sample whose prompt is as close under `plan.length - max_tokens` tokens as the
    counter can tell, found by searching the filler size (words or list items)."""
    render = RENDERERS[plan.kind]
    target_tokens = plan.length - max_tokens
    cache: dict[int, tuple[list[dict[str, str]], Any, dict[str, Any], int]] = {}

    def measure(n: int) -> int:
        if n not in cache:
            messages, target, extra = render(plan, n)
            cache[n] = (messages, target, extra, counter.count_messages(messages))
        return cache[n][3]

    n = _search(measure, target_tokens)
    messages, target, extra, tokens = cache[n]
    meta = {"plan": asdict(plan), "kind": plan.kind, "length": plan.length, "depth": plan.depth,
            "prompt_tokens": tokens, "counted_by": counter.source, **extra}  # fmt: skip
    sid = f"{plan.kind}-{plan.length}" + (f"-d{plan.depth:g}" if plan.depth is not None else "") + f"-{plan.seed}"
    return Sample(id=sid, messages=messages, target=target, meta=meta)


def _search(measure: Callable[[int], int], target: int) -> int:
    """The largest filler size n whose prompt fits `target` tokens. Prompt size grows with n but
    not by a fixed amount per unit: a bracketing search whose guesses use the measured rate."""
    base = measure(0)
    if base > target:
        return 0  # the bare prompt is over: the runner's pre-flight will skip it
    rate = max(0.05, (measure(64) - base) / 64)
    lo, hi = 0, None  # measure(lo) <= target < measure(hi)
    n = max(1, int((target - base) / rate))
    for _ in range(64):
        tokens = measure(n)
        if tokens <= target:
            lo = n
            if target - tokens <= 1:
                break  # a unit is at least one token: this is as close as it gets
            guess = n + max(1, int((target - tokens) / rate))
        else:
            hi = n
            guess = n - max(1, math.ceil((tokens - target) / rate))
        if hi is not None and hi - lo <= 1:
            break
        n = max(guess, lo + 1) if hi is None else min(max(guess, lo + 1), hi - 1)
    return lo


def _rng(plan: GridPoint, salt: int) -> random.Random:
    return random.Random(plan.seed * 7919 + salt)


def _keys(rng: random.Random, count: int) -> list[str]:
    pairs = rng.sample([(a, n) for a in ADJECTIVES for n in NOUNS], count)
    return [f"{a}-{n}" for a, n in pairs]


def _values(rng: random.Random, count: int) -> list[str]:
    return [str(v) for v in rng.sample(range(1_000_000, 10_000_000), count)]


def _place(words: list[str], inserts: list[tuple[float, str]]) -> tuple[str, list[float]]:
    """Insert each text at the sentence boundary nearest its depth; return the haystack and
    each insert's actual depth (share of haystack characters before it)."""
    ends = [0] + sentence_ends(words)
    at: dict[int, list[int]] = defaultdict(list)
    for i, (depth, _) in enumerate(inserts):
        at[min(ends, key=lambda e: abs(e - depth * len(words)))].append(i)
    parts: list[str] = []
    offsets: dict[int, int] = {}
    length = 0
    for index in range(len(words) + 1):
        for i in at.get(index, []):
            offsets[i] = length
            parts.append(inserts[i][1])
            length += len(inserts[i][1]) + 1
        if index < len(words):
            parts.append(words[index])
            length += len(words[index]) + 1
    text = join_words(parts)
    return text, [offsets[i] / max(1, length) for i in range(len(inserts))]


_NIAH_INTRO = ("Some special magic numbers are hidden within the following text. Make sure to memorize it. "
               "I will quiz you about the numbers afterwards.")  # fmt: skip


def render_niah(plan: GridPoint, n: int) -> tuple[list[dict[str, str]], Any, dict[str, Any]]:
    rng = _rng(plan, 1)
    count = 1 if plan.kind == "niah_single" else NEEDLES
    keys = _keys(rng, count)
    values = _values(rng, count)
    depths = [plan.depth or 0.0] + [rng.random() for _ in range(count - 1)]
    if plan.kind == "niah_multivalue":
        keys = [keys[0]] * count
    needles = [(d, f"One of the special magic numbers for {k} is: {v}.") for d, k, v in zip(depths, keys, values)]
    text, actual = _place(essay_words(_rng(plan, 2), n)[:n], needles)
    if plan.kind == "niah_multiquery":
        asked = ", ".join(keys[:-1]) + f" and {keys[-1]}"
        question = (f"What are all the special magic numbers for {asked} mentioned in the provided text? "
                    f"The special magic numbers for {asked} mentioned in the provided text are")  # fmt: skip
        answers = values
    elif plan.kind == "niah_multivalue":
        question = (f"What are all the special magic numbers for {keys[0]} mentioned in the provided text? "
                    f"The special magic numbers for {keys[0]} mentioned in the provided text are")  # fmt: skip
        answers = values
    else:
        question = (f"What is the special magic number for {keys[0]} mentioned in the provided text? "
                    f"The special magic number for {keys[0]} mentioned in the provided text is")  # fmt: skip
        answers = values[:1]
    content = f"{_NIAH_INTRO}\n{text}\n{question}"
    return [{"role": "user", "content": content}], answers, {"needle_depth": round(actual[0], 4), "filler": n}


def render_variables(plan: GridPoint, n: int) -> tuple[list[dict[str, str]], Any, dict[str, Any]]:
    rng = _rng(plan, 1)
    names = ["".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5)) for _ in range(8)]
    names = list(dict.fromkeys(names))
    while len(names) < 8:
        names.append("".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5)))
        names = list(dict.fromkeys(names))
    value, decoy = (str(v) for v in rng.sample(range(10_000, 100_000), 2))
    chain, other = names[:5], names[5:]  # the asked chain (4 hops), and a decoy chain
    lines = [f"VAR {chain[0]} = {value}."] + [f"VAR {b} = VAR {a}." for a, b in zip(chain, chain[1:])]
    decoys = [f"VAR {other[0]} = {decoy}."] + [f"VAR {b} = VAR {a}." for a, b in zip(other, other[1:])]
    inserts = [((i + 1) / (len(lines) + 1), line) for i, line in enumerate(lines)]
    inserts += [((i + 1.5) / (len(decoys) + 2), line) for i, line in enumerate(decoys)]
    text, _ = _place(essay_words(_rng(plan, 2), n)[:n], inserts)
    content = (
        f"Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{text}\n"
        f"Question: Find all variables that are assigned the value {value} in the text above. Answer: According "
        f"to the chain(s) of variable assignment in the text above, 5 variables are assigned the value {value}, "
        "they are:"
    )
    return [{"role": "user", "content": content}], chain, {"filler": n}


def render_common(plan: GridPoint, n: int) -> tuple[list[dict[str, str]], Any, dict[str, Any]]:
    """n rare items (each word at most twice) plus 10 common words, each 4 + n/60 times."""
    rng = _rng(plan, 1)
    vocab = made_up_words(rng, 10 + (n + 1) // 2)
    common, rare = vocab[:10], vocab[10:]
    times = 4 + n // 60
    items = common * times + (rare * 2)[:n]
    rng.shuffle(items)
    listing = "\n".join(f"{i + 1}. {w}" for i, w in enumerate(items))
    content = (
        "Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
        f"ones that appear most often.\n{listing}\nQuestion: What are the 10 most common words in the above "
        "list? Answer: The top 10 words that appear most often in the list are:"
    )
    return [{"role": "user", "content": content}], common, {"filler": n}


def render_frequent(plan: GridPoint, n: int) -> tuple[list[dict[str, str]], Any, dict[str, Any]]:
    """n words drawn from a Zipf(2) distribution over made-up words; the three most frequent."""
    rng = _rng(plan, 1)
    vocab = made_up_words(rng, 200)
    words = rng.choices(vocab, weights=[1 / (i + 1) ** 2 for i in range(len(vocab))], k=max(n, 8))
    counts: dict[str, int] = defaultdict(int)
    for w in words:
        counts[w] += 1
    ranked = sorted(counts, key=lambda w: (-counts[w], vocab.index(w)))
    while len(ranked) > 3 and counts[ranked[2]] == counts[ranked[3]]:
        # A tie at third place has no single answer: turn one of the fourth into the third.
        words[words.index(ranked[3])] = ranked[2]
        counts[ranked[2]] += 1
        counts[ranked[3]] -= 1
        ranked = sorted(counts, key=lambda w: (-counts[w], vocab.index(w)))
    content = (
        "Read the following coded text and track the frequency of each coded word. Find the three most "
        f"frequently appeared coded words.\n{' '.join(words)}\nQuestion: Do not provide any explanation. What "
        "are the three most frequently appeared words in the above coded text? Answer: According to the coded "
        "text above, the three most frequently appeared words are:"
    )
    return [{"role": "user", "content": content}], ranked[:3], {"filler": n}


RENDERERS = {kind: render_niah for kind in NEEDLE_KINDS} | {
    "variable_tracking": render_variables,
    "common_words": render_common,
    "frequent_words": render_frequent,
}


# scoring ---------------------------------------------------------------------------------


def candidates(kind: str, text: str) -> list[str]:
    """The answer's items of the kind asked for, in order, without repeats."""
    if kind in NEEDLE_KINDS:
        found = _NUMBER.findall(text)
    elif kind == "variable_tracking":
        found = _VARIABLE.findall(text)
    else:
        found = _MADE_UP.findall(text.lower())
    return list(dict.fromkeys(found))


def score_answer(kind: str, target: list[str], text: str, cut: bool) -> Verdict:
    """Exact match of items: the first len(target) items the answer gives are compared with
    the target set (so listing every number in sight earns nothing extra)."""
    given = candidates(kind, text)[: len(target)]
    if not given:
        if cut:
            return Verdict(TRUNCATED, 0.0, "hit max_tokens before any answer item")
        return Verdict(EXTRACTION_FAILED, 0.0, "no answer item found")
    hits = [t for t in target if t in given]
    recall = len(hits) / len(target)
    if recall == 1.0:
        return Verdict(OK, 1.0, f"all {len(target)} found", {"recall": 1.0})
    missing = [t for t in target if t not in given]
    if cut:
        return Verdict(TRUNCATED, recall, f"cut off after {given}; missing {missing}", {"recall": recall})
    return Verdict(WRONG, recall, f"gave {given}; missing {missing}", {"recall": recall})


# summary ---------------------------------------------------------------------------------


def summarise(records: Sequence[Any], lengths: Sequence[int], margin: float = MARGIN) -> dict[str, Any]:
    answered = [r for r in records if r.verdict in ANSWERED]
    heatmap: dict[int, dict[str, dict[str, Any]]] = {}
    by_length: dict[int, dict[str, Any]] = {}
    for length in lengths:
        at = [r for r in answered if r.meta["length"] == length]
        skipped = [r for r in records if r.meta["length"] == length and r.verdict == "skipped"]
        by_length[length] = {"score": _mean([r.score for r in at]), "n": len(at), "skipped": len(skipped)}
        if skipped:
            by_length[length]["why_skipped"] = skipped[0].why
        heatmap[length] = {}
        for depth in DEPTHS:
            cell = [r.score for r in at if r.meta["kind"] in NEEDLE_KINDS and r.meta["depth"] == depth]
            heatmap[length][f"{depth:g}"] = {"score": _mean(cell), "n": len(cell)}
    effective, why = effective_context(by_length, margin)
    return {"lengths": list(lengths), "depths": list(DEPTHS), "margin": margin, "by_length": by_length,
            "heatmap": heatmap, "effective_context": effective, "effective_context_why": why}  # fmt: skip


def effective_context(by_length: dict[int, dict[str, Any]], margin: float = MARGIN) -> tuple[int | None, str]:
    """The longest length up to which every length scores >= shortest-length score - margin."""
    lengths = sorted(by_length)
    measured = [length for length in lengths if by_length[length]["n"] > 0]
    if not measured:
        return None, "no length was measured"
    base_length = measured[0]
    base = by_length[base_length]["score"]
    if by_length[base_length]["n"] < MIN_SAMPLES:
        return None, (f"only {by_length[base_length]['n']} answered samples at {base_length} tokens, the shortest "
                      f"length; a length needs {MIN_SAMPLES} (raise --limit)")  # fmt: skip
    if base <= margin:
        return None, f"scores {base:.2f} at {base_length} tokens, the shortest length: no signal to keep"
    best = None
    for length in lengths:
        score = by_length[length]["score"]
        if by_length[length]["n"] == 0:
            why = f"{length} tokens was not measured ({by_length[length].get('why_skipped', 'no samples')})"
            break
        if by_length[length]["n"] < MIN_SAMPLES:
            why = f"only {by_length[length]['n']} answered samples at {length} tokens; a length needs {MIN_SAMPLES} (raise --limit)"
            break
        if score < base - margin:
            why = f"score {score:.2f} at {length} tokens fell below {base:.2f} - {margin:g}"
            break
        best = length
    else:
        why = f"every length up to {lengths[-1]} stays within {margin:g} of {base:.2f}"
    return best, why


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}"
