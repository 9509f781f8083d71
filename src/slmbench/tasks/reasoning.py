"""Logical reasoning: generated logic grid (zebra) puzzles and math problems, pooled.

Even samples are puzzles (2x2 up to 6x6, ZebraLogic's clue types, exactly one solution);
odd samples are math problems (four levels, exact answers). `<think>` blocks that reasoning
models emit are stripped (and counted) before scoring.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..client import Completion
from ..metrics.stats import Estimate, bootstrap_mean, wilson
from . import math_answer, math_equiv, math_problems, zebra
from .base import (
    ANSWERED,
    DEFAULT_SUITE,
    EXTRACTION_FAILED,
    OK,
    TRUNCATED,
    WRONG,
    Column,
    Dimension,
    Sample,
    Task,
    Verdict,
)
from .registry import register

SIZES = [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4), (5, 4), (4, 5), (5, 5), (6, 5), (6, 6)]
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)


# The report column of the generated set and the public ones (reasoning_data.py): ZebraLogic first.
REASONING = Dimension("reasoning", "Logical reasoning", "Reasoning", position=20, radar=True)


@register
class Reasoning(Task):
    name = "reasoning"
    version = "3"  # 3: math answers read by math_answer (hedges wrong, no last-number guess)
    description = "logic grid puzzles (2x2..6x6, unique solutions) + math (4 levels, exact answers), pooled"
    default_limit = 48
    max_tokens = 2048  # step-by-step work on a 6x6 grid before the JSON answer
    context_tokens = 1024
    breakdown = "group"
    headline = "accuracy"
    takes_data = False
    suites, suite_order = (DEFAULT_SUITE,), 30
    columns = (Column(REASONING, "accuracy", rank=1),)

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        samples = []
        for index in range(limit):
            if index % 2 == 0:
                houses, attributes = SIZES[(index // 2) % len(SIZES)]
                puzzle = zebra.generate(houses, attributes, seed=seed * 100_003 + index)
                samples.append(
                    Sample(
                        id=f"{seed}-{index}",
                        messages=[{"role": "user", "content": zebra.prompt(puzzle)}],
                        target=puzzle,
                        meta={
                            "kind": "puzzle",
                            "size": f"{houses}x{attributes}",
                            "group": f"puzzle-{puzzle.difficulty()}",
                            "log10_space": round(puzzle.log10_search_space(), 2),
                        },
                    )  # fmt: skip
                )
            else:
                problem = math_problems.generate(index // 2, seed)  # every level in turn
                samples.append(
                    Sample(
                        id=f"{seed}-{index}",
                        messages=[{"role": "user", "content": problem.question}],
                        target=str(problem.answer),
                        meta={
                            "kind": "math",
                            "level": problem.level,
                            "type": problem.kind,
                            "group": f"math-L{problem.level}",
                        },
                    )
                )
        return samples

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text, thinks = strip_thinking(completion)
        cut = completion.finish_reason == "length"
        if sample.meta["kind"] == "puzzle":
            return score_grid(sample.target, text, cut, thinks)
        return score_math(sample.target, text, cut, thinks)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        puzzles = [r for r in answered if r.meta["kind"] == "puzzle"]
        maths = [r for r in answered if r.meta["kind"] == "math"]
        out = {
            "accuracy": wilson(sum(r.verdict == OK for r in answered), len(answered)),
            "puzzle_accuracy": wilson(sum(r.verdict == OK for r in puzzles), len(puzzles)),
            "cell_accuracy": bootstrap_mean([r.parts.get("cells", 0.0) for r in puzzles]),
            "math_accuracy": wilson(sum(r.verdict == OK for r in maths), len(maths)),
        }
        out.update(cell_accuracy_by_bucket(puzzles))
        return out


def strip_thinking(completion: Completion) -> tuple[str, int]:
    """The answer without `<think>` blocks, and how many thinking parts there were (inline blocks
    plus a separate `reasoning_content` channel)."""
    raw = completion.text or ""
    thinks = len(_THINK.findall(raw)) + (1 if completion.reasoning else 0)
    return _THINK.sub("", raw), thinks


def score_grid(puzzle: zebra.Puzzle, text: str, cut: bool, thinks: int) -> Verdict:
    verdict, solved, cells, why = zebra.score(puzzle, text)
    parts = {"puzzle": solved, "cells": cells, "think_blocks": thinks}
    if verdict == EXTRACTION_FAILED and cut:
        return Verdict(TRUNCATED, 0.0, "hit max_tokens before the JSON grid", parts)
    return Verdict(verdict, solved, why, parts)


def score_math(target: str, text: str, cut: bool, thinks: int) -> Verdict:
    """Read the final answer (math_answer's rules) and compare it with `target` (exactly, else symbolically)."""
    found = math_answer.extract(text)
    parts = {"think_blocks": thinks}
    if found.hedged:
        if not math_answer.is_hedge(target):
            return Verdict(WRONG, 0.0, f"{found.how}: hedged between {' | '.join(map(repr, found.candidates))}", parts)
        found = replace(found, text=found.whole)  # the gold itself reads "A or B"
    # Cut off before a final answer: a last sentence is no answer, and an unclosed answer line may be partial.
    if found.text is None or cut and found.may_be_cut:
        if cut:
            return Verdict(TRUNCATED, 0.0, "hit max_tokens before the final answer", parts)
        return Verdict(EXTRACTION_FAILED, 0.0, found.why, parts)
    raw_answer, how = found.text, found.how
    last_value = raw_answer.rsplit("=", 1)[-1]
    if math_equiv.plain_value(target) is not None and math_equiv.plain_value(last_value) is not None:
        raw_answer = last_value.strip()  # "$\frac{1}{2} + 1 = 2$": a chain's last value, for a numeric gold
    if math_equiv.plain_value(target) is not None and not re.search(r"\d", raw_answer):
        return Verdict(EXTRACTION_FAILED, 0.0, f"{how} {raw_answer!r} is not a number", parts)
    same, decided = math_equiv.equivalent(target, raw_answer)
    if same:
        return Verdict(OK, 1.0, f"{how} {raw_answer!r} == {target!r} ({decided})", parts)
    return Verdict(WRONG, 0.0, f"{how} {raw_answer!r} != {target!r} ({decided})", parts)


def cell_accuracy_by_bucket(puzzles: Sequence[Any]) -> dict[str, Estimate]:
    out = {}
    for bucket in zebra.BUCKETS:
        group = [r for r in puzzles if r.meta["group"] == f"puzzle-{bucket}"]
        if group:
            out[f"cell_accuracy:{bucket}"] = bootstrap_mean([r.parts.get("cells", 0.0) for r in group])
    return out
