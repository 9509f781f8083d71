"""Generated multi-step integer arithmetic, scored by exact match.

Samples are generated in order from (seed, index), skipping repeats, so a larger --limit
extends a smaller one and the cached answers stay valid. No prompt is used twice: a --limit
above the number of distinct samples is refused.
"""

from __future__ import annotations

import functools
import random
import re

from ..client import Completion
from ..errors import SlmbenchError
from .base import DEFAULT_SUITE, EXTRACTION_FAILED, OK, TRUNCATED, WRONG, Sample, Task, Verdict, accuracy
from .registry import register

PROMPT = (
    "Compute the value of the expression below. You may work step by step, then give the "
    "final result on its own line as 'Answer: <integer>'.\n\nExpression: {expression}"
)

# level -> (operations, largest operand)
LEVELS = {1: (1, 20), 2: (2, 30), 3: (3, 50), 4: (4, 99)}

_MARKED = re.compile(r"(?:answer\s*(?:is)?\s*[:：=]?\s*\**\s*|\\boxed\{\s*)(-?\d[\d,]*)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*")


RANDOM_TRIES = 20


def _expression(rng: random.Random, level: int) -> str:
    operations, largest = LEVELS[level]
    expression = str(rng.randint(1, largest))
    for _ in range(operations):
        op = rng.choice("+-*")
        operand = rng.randint(2, 12) if op == "*" else rng.randint(1, largest)
        # Parenthesise the running expression half the time so precedence matters.
        if op == "*" and rng.random() < 0.5:
            expression = f"({expression}) * {operand}"
        else:
            expression = f"{expression} {op} {operand}"
    return expression


def _level_1_space() -> list[str]:
    _, largest = LEVELS[1]
    numbers = range(1, largest + 1)
    sums = [f"{a} {op} {b}" for a in numbers for op in "+-" for b in numbers]
    products = [form.format(a, b) for a in numbers for b in range(2, 13) for form in ("{} * {}", "({}) * {}")]
    return sums + products


LEVEL_1_EXPRESSIONS = len(_level_1_space())


@functools.lru_cache(maxsize=8)
def _all_level_1(seed: int) -> list[str]:
    space = _level_1_space()
    random.Random(f"arithmetic-level-1:{seed}").shuffle(space)
    return space


@register
class Arithmetic(Task):
    name = "arithmetic"
    version = "1"
    description = "multi-step integer arithmetic (+, -, ×, parentheses), 4 levels, exact match"
    default_limit = 40
    max_tokens = 192
    context_tokens = 512
    breakdown = "level"
    headline = "accuracy"
    takes_data = False
    suites, suite_order = (DEFAULT_SUITE,), 10
    metrics = staticmethod(accuracy)

    # Level 1 (one operation on numbers up to 20) has only this many distinct expressions, and
    # every fourth sample is level 1: the most distinct samples the task can make.
    max_distinct = len(LEVELS) * LEVEL_1_EXPRESSIONS

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        if limit > self.max_distinct:
            raise SlmbenchError(
                f"arithmetic makes at most {self.max_distinct:,} distinct samples (its level 1 has "
                f"{LEVEL_1_EXPRESSIONS:,} expressions); pass --limit {self.max_distinct} or less"
            )
        seen: set[str] = set()
        samples = []
        for index in range(limit):
            level = index % len(LEVELS) + 1
            expression = None
            for attempt in range(RANDOM_TRIES):
                candidate = _expression(random.Random(f"{self.name}:{self.version}:{seed}:{index}:{attempt}"), level)
                if candidate not in seen:
                    expression = candidate
                    break
            if expression is None:
                # A nearly exhausted level: the first unused expression in a seeded order of all
                # of them, rather than thousands more random tries (or a repeat).
                expression = next(e for e in _all_level_1(seed) if e not in seen)
            seen.add(expression)
            samples.append(self._sample(seed, index, level, expression))
        return samples

    def _sample(self, seed: int, index: int, level: int, expression: str) -> Sample:
        value = eval(expression, {"__builtins__": {}})  # noqa: S307 - our own generated digits and operators
        return Sample(
            id=f"{seed}-{index}",
            messages=[{"role": "user", "content": PROMPT.format(expression=expression.replace("*", "×"))}],
            target=value,
            meta={"level": level, "expression": expression},
        )

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text = completion.text or ""
        marked = _MARKED.findall(text)
        if marked:
            return _judge(marked[-1], sample.target, "marked answer")
        if completion.finish_reason == "length":
            return Verdict(TRUNCATED, 0.0, "hit max_tokens before giving an answer")
        numbers = _NUMBER.findall(text)
        if numbers:
            return _judge(numbers[-1], sample.target, "last number")
        return Verdict(EXTRACTION_FAILED, 0.0, "no number in the answer")


def _judge(raw: str, target: int, how: str) -> Verdict:
    value = int(raw.replace(",", ""))
    if value == target:
        return Verdict(OK, 1.0, f"{how} {value} == {target}")
    return Verdict(WRONG, 0.0, f"{how} {value} != {target}")
