"""A Task is samples + prompt + scorer (after inspect_ai's dataset + solver + scorer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

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


class Task(Protocol):
    name: str
    version: str
    description: str
    default_limit: int
    max_tokens: int
    # Prompt plus answer tokens one request may need; sizes a llama.cpp slot.
    context_tokens: int
    # A sample meta key to break accuracy down by (e.g. difficulty level).
    breakdown: str | None
    # The metric named in results tables.
    headline: str
    # Whether the task reads a data set (`--data TASK=PATH|hub`) instead of generating one.
    takes_data: bool

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]: ...

    def score(self, sample: Sample, completion: Completion) -> Verdict: ...

    def metrics(self, records: Sequence[SampleRecord]) -> dict[str, Estimate]: ...

    # Optional: `notes(samples) -> dict`, written to the manifest's task entry (a data set's
    # label, metric signatures); the runner calls it when a task has it.


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
