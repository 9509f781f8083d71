"""Generated multi-step integer arithmetic, scored by exact match.

Samples are generated in order from (seed, index), skipping repeats, so a larger --limit
extends a smaller one and the cached answers stay valid.
"""

from __future__ import annotations

import random
import re

from ..client import Completion
from .base import EXTRACTION_FAILED, OK, TRUNCATED, WRONG, Sample, Verdict, accuracy

PROMPT = (
    "Compute the value of the expression below. You may work step by step, then give the "
    "final result on its own line as 'Answer: <integer>'.\n\nExpression: {expression}"
)

# level -> (operations, largest operand)
LEVELS = {1: (1, 20), 2: (2, 30), 3: (3, 50), 4: (4, 99)}

_MARKED = re.compile(r"(?:answer\s*(?:is)?\s*[:：=]?\s*\**\s*|\\boxed\{\s*)(-?\d[\d,]*)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*")


class Arithmetic:
    name = "arithmetic"
    version = "1"
    description = "multi-step integer arithmetic (+, -, ×, parentheses), 4 levels, exact match"
    default_limit = 40
    max_tokens = 192
    context_tokens = 512
    breakdown = "level"
    headline = "accuracy"
    takes_data = False
    metrics = staticmethod(accuracy)

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        seen: set[str] = set()
        samples = []
        for index in range(limit):
            for attempt in range(1000):
                sample = self._sample(seed, index, attempt)
                if sample.meta["expression"] not in seen:
                    break
            seen.add(sample.meta["expression"])
            samples.append(sample)
        return samples

    def _sample(self, seed: int, index: int, attempt: int) -> Sample:
        rng = random.Random(f"{self.name}:{self.version}:{seed}:{index}:{attempt}")
        level = index % len(LEVELS) + 1
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
