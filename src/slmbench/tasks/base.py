"""A Task is samples + prompt + scorer (after inspect_ai's dataset + solver + scorer)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..client import Completion
from ..metrics.stats import Estimate, wilson
from ..verdicts import ANSWERED, ERROR, EXTRACTION_FAILED, OK, SKIPPED, TIMEOUT, TRUNCATED, VERDICTS, WRONG  # noqa: F401 - tasks import them from here


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    messages: list[dict[str, str]]
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)
    # Extra request fields for this sample (e.g. response_format); part of the cache key.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    score: float
    why: str
    # Named sub-scores (e.g. schema validity, field accuracy) that task metrics aggregate.
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class SampleRecord:
    """One scored sample, as results carry it and task metrics read it."""

    id: str
    prompt: str
    answer: str | None
    target: Any
    verdict: str
    score: float
    why: str
    finish_reason: str | None
    latency_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached: bool
    meta: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)
    reasoning: str | None = None  # the server's separate reasoning channel, when it has one


def accuracy(records: Sequence[SampleRecord]) -> dict[str, Estimate]:
    """The default metric: share of answered samples judged ok (errors and timeouts excluded)."""
    answered = [r for r in records if r.verdict in ANSWERED]
    return {"accuracy": wilson(sum(r.verdict == OK for r in answered), len(answered))}


@dataclass(frozen=True, slots=True)
class Dimension:
    """A column of the report's comparison table. Several tasks may fill one (reasoning: the
    generated set or a public one); a model's cell shows the first source it has."""

    key: str
    label: str
    short: str  # for chart axes
    unit: str = "%"  # "%" for shares 0..1 shown as percent; "tokens" for context lengths
    # The metric the paired row tests when the column's own value is not a per-sample score
    # (effective context): named in the row, so the test is never mistaken for the column's.
    tested_metric: str | None = None
    position: int = 1000  # left to right in the table
    radar: bool = False  # one of the five reference dimensions: an axis of the radar chart


@dataclass(frozen=True, slots=True)
class Column:
    """A task's metric shown in a dimension's column. Among the sources of one column, the lowest
    rank a model has wins (then the order of registration)."""

    dimension: Dimension
    metric: str  # a key of the task's metrics, or of its `extra` when the task's `extra_cell` reads it
    rank: int = 0


@dataclass(frozen=True, slots=True)
class ExtraCell:
    """A report cell read from a task's `extra` (a number without an interval, e.g. long context's
    effective context). Among a column's sources the largest value wins, ties to the larger `reach`."""

    value: float | None
    n: int
    note: str = ""  # why there is no value
    reach: int = 0


DEFAULT_SUITE = "offline"  # what eval runs when no task is named


class Task:
    """The contract between a task and the runner, config, CLI, results and report. Subclass it,
    set the attributes, write `samples` and `score`, and register the class with
    `@slmbench.tasks.register`; every other hook has a default that does nothing."""

    name: str = ""
    version: str = "1"
    description: str = ""
    default_limit: int = 20
    max_tokens: int = 256
    # Prompt plus answer tokens one request may need; sizes a llama.cpp slot.
    context_tokens: int = 1024
    # A sample meta key to break accuracy down by (e.g. difficulty level).
    breakdown: str | None = None
    # The metric named in results tables.
    headline: str = "accuracy"
    # Whether the task reads a data set (`--data TASK=PATH|hub`) instead of generating one.
    takes_data: bool = False
    # Other names users type for the task (`longctx` for `longcontext`).
    aliases: tuple[str, ...] = ()
    # Suites the task belongs to; DEFAULT_SUITE's tasks run when no --task is given, in suite_order.
    suites: tuple[str, ...] = ()
    suite_order: int = 1000
    # The report columns this task's metrics fill.
    columns: tuple[Column, ...] = ()
    # --samples k draws k answers per problem, each with its own seed (pass@k tasks).
    repeatable: bool = False
    # The most distinct samples the task can make (--target-ci-width stops growing there).
    max_distinct: int = sys.maxsize
    # Whether the task takes --lengths (`with_lengths`).
    takes_lengths: bool = False
    # A paragraph results.md adds once when the run has this task's results.
    results_note: str = ""

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        raise NotImplementedError(f"task {self.name} makes no samples")

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        raise NotImplementedError(f"task {self.name} scores no answers")

    def metrics(self, records: Sequence[SampleRecord]) -> dict[str, Estimate]:
        return accuracy(records)

    # -- optional hooks: the defaults change nothing ------------------------------------------
    def prepare(self, settings: Any) -> dict[str, Any]:
        """Checks that must fail before any server starts (the code sandbox); returns entries for
        the task's manifest entry."""
        return {}

    def notes(self, samples: Sequence[Sample]) -> dict[str, Any] | None:
        """What the manifest says about these samples (a data set's label, metric signatures)."""
        return None

    def with_lengths(self, lengths: Sequence[int]) -> Task:
        """The task on another length grid (`--lengths`; tasks with takes_lengths)."""
        return self

    def fit(self, samples: list[Sample], budget: Any, max_tokens: int) -> list[Sample]:
        """Re-size samples with the endpoint's tokenizer once it is up (long context)."""
        return samples

    def score_many(self, pairs: Sequence[tuple[Sample, Completion]]) -> list[Verdict]:
        """Score a task's answers at once (coding: sandboxes in parallel)."""
        return [self.score(s, c) for s, c in pairs]

    def summary(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        """Task-specific aggregates beyond metrics: the result's `extra`."""
        return {}

    # -- how `extra` is shown ---------------------------------------------------------------
    def n_note(self, extra: dict[str, Any]) -> str:
        """Added to the n cell of the results table."""
        return ""

    def extra_markdown(self, model: str, extra: dict[str, Any]) -> list[str]:
        """Lines results.md adds after this task's metric tables."""
        return []

    def extra_lines(self, extra: dict[str, Any]) -> list[str]:
        """Lines the CLI prints after the results table (each after "MODEL / TASK: ")."""
        return []

    def extra_cell(self, extra: dict[str, Any], metric: str) -> ExtraCell | None:
        """A report cell for a column whose metric is in `extra`, not in metrics."""
        return None


def draws(samples: list[Sample], n: int, seed: int) -> list[Sample]:
    """n draws per sample for pass@k: distinct ids, and a distinct sampling seed in each
    request so that each draw is its own request (and cache entry)."""
    if n == 1:
        return samples
    return [
        replace(s, id=f"{s.id}#{j}", meta={**s.meta, "draw": j}, params={**s.params, "seed": seed * 1000 + j})
        for s in samples
        for j in range(n)
    ]
