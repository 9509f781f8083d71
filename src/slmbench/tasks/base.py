"""A Task is samples + prompt + scorer (after inspect_ai's dataset + solver + scorer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..client import Completion

# Verdicts, as counted in results. The runner sets ERROR and TIMEOUT; tasks set the rest.
OK = "ok"
WRONG = "wrong"
TRUNCATED = "truncated"
EXTRACTION_FAILED = "extraction_failed"
ERROR = "error"
TIMEOUT = "timeout"
VERDICTS = (OK, WRONG, TRUNCATED, EXTRACTION_FAILED, ERROR, TIMEOUT)


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    messages: list[dict[str, str]]
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    score: float
    why: str


class Task(Protocol):
    name: str
    version: str
    description: str
    default_limit: int
    max_tokens: int
    # Prompt plus answer tokens one request may need; sizes a llama.cpp slot.
    context_tokens: int
    # A sample meta key to break the headline metric down by (e.g. difficulty level).
    breakdown: str | None

    def samples(self, limit: int, seed: int) -> list[Sample]: ...

    def score(self, sample: Sample, completion: Completion) -> Verdict: ...
