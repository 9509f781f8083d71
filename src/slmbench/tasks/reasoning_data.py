"""The public reasoning benchmarks, read from a local file or the hub (`--data TASK=PATH|hub`).

- `zebralogic`: WildEval/ZebraLogic grid mode (rows: id, size "N*M", puzzle, solution
  {header, rows}); scored cell by cell like the generated puzzles.
- `aime2025`: AIME 2025 I and II (30 problems, integer answers 0-999; MathArena/aime_2025 or
  any JSONL with problem/question and answer).
- `math500`: HuggingFaceH4/MATH-500 (problem, answer, subject, level); answers compared
  exactly when plain numbers, else symbolically with math-verify.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..client import Completion
from ..errors import SlmbenchError
from ..metrics.stats import Estimate, bootstrap_mean, wilson
from . import zebra
from .base import ANSWERED, OK, Column, Sample, Task, Verdict, accuracy
from .datafiles import hub_rows, read_rows
from .math_problems import PROMPT_SUFFIX
from .reasoning import REASONING, cell_accuracy_by_bucket, score_grid, score_math, strip_thinking
from .registry import register

HIDDEN = {"", "___"}  # how public copies blank out solution cells


class _DataTask(Task, ABC):
    """Shared by the three: rows from a file or the hub, turned into samples by `_sample`."""

    name: str
    hub: tuple[str, str, str]  # dataset, config, split
    what: str  # the data set, as errors name it
    version = "1"
    breakdown: str | None = None
    headline = "accuracy"
    takes_data = True

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        if data is None:
            raise SlmbenchError(
                f"task {self.name} needs its data: pass --data {self.name}=PATH ({self.what}) or --data {self.name}=hub"
            )
        rows = hub_rows(*self.hub, limit=limit) if data == "hub" else read_rows(data, self.what)[:limit]
        if not rows:
            raise SlmbenchError(f"{data} holds no {self.what} rows; pass a file with at least one")
        samples = []
        for number, row in enumerate(rows, 1):
            try:
                samples.append(self._sample(row, number))
            except (KeyError, TypeError, ValueError) as exc:
                where = "the hub copy" if data == "hub" else data
                raise SlmbenchError(
                    f"{where} row {number} is not a {self.what} row ({exc}); fix or remove it"
                ) from None
        return samples

    @abstractmethod
    def _sample(self, row: dict[str, Any], number: int) -> Sample: ...


@register
class ZebraLogic(_DataTask):
    name = "zebralogic"
    hub = ("WildEval/ZebraLogic", "grid_mode", "test")
    what = "ZebraLogic grid-mode"
    description = "WildEval/ZebraLogic grid mode (--data zebralogic=PATH|hub): puzzle and cell accuracy by size"
    default_limit = 1000
    max_tokens = 4096
    context_tokens = 1536
    breakdown = "group"
    columns = (Column(REASONING, "accuracy", rank=0),)

    def _sample(self, row: dict[str, Any], number: int) -> Sample:
        header, cells = row["solution"]["header"], row["solution"]["rows"]
        attributes = [str(a) for a in header[1:]]
        if not attributes or not cells or any(len(r) != len(header) for r in cells):
            raise ValueError("solution rows do not match its header")
        if any(str(v).strip() in HIDDEN for r in cells for v in r[1:]):
            raise ValueError("its solution cells are blanked out; use a copy that includes the solutions")
        solution = [{a: str(v) for a, v in zip(attributes, r[1:], strict=True)} for r in cells]
        puzzle = zebra.Puzzle(
            houses=len(cells),
            attributes={a: sorted((h[a] for h in solution), key=str.casefold) for a in attributes},
            clues=[],
            solution=solution,
        )
        return Sample(
            id=str(row.get("id", number)),
            messages=[{"role": "user", "content": f"{row['puzzle'].rstrip()}\n\n{zebra.answer_format(attributes)}"}],
            target=puzzle,
            meta={"kind": "puzzle", "size": str(row.get("size", f"{puzzle.houses}*{len(attributes)}")),
                  "group": f"puzzle-{puzzle.difficulty()}", "log10_space": round(puzzle.log10_search_space(), 2)},
        )  # fmt: skip

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text, thinks = strip_thinking(completion)
        return score_grid(sample.target, text, completion.finish_reason == "length", thinks)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        return {
            "accuracy": wilson(sum(r.verdict == OK for r in answered), len(answered)),
            "cell_accuracy": bootstrap_mean([r.parts.get("cells", 0.0) for r in answered]),
            **cell_accuracy_by_bucket(answered),
        }


class _MathData(_DataTask):
    version = "2"  # 2: answers read by math_answer (hedges wrong, no last-number guess)

    def _problem(self, row: dict[str, Any]) -> str:
        for key in ("problem", "question", "Problem", "Question"):
            if isinstance(row.get(key), str) and row[key].strip():
                return row[key].strip()
        raise KeyError("no problem/question text")

    def _answer(self, row: dict[str, Any]) -> str:
        for key in ("answer", "Answer", "expected_answer"):
            if row.get(key) is not None and str(row[key]).strip():
                return str(row[key]).strip()
        raise KeyError("no answer")

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text, thinks = strip_thinking(completion)
        return score_math(sample.target, text, completion.finish_reason == "length", thinks)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        return accuracy(records)


@register
class AIME2025(_MathData):
    name = "aime2025"
    hub = ("MathArena/aime_2025", "default", "train")
    what = "AIME 2025"
    description = "AIME 2025 I+II, integer answers 0-999 (--data aime2025=PATH|hub)"
    default_limit = 30
    max_tokens = 8192  # competition solutions run long even without a thinking phase
    context_tokens = 512
    columns = (Column(REASONING, "accuracy", rank=2),)

    def _sample(self, row: dict[str, Any], number: int) -> Sample:
        answer = self._answer(row)
        if not answer.isdigit() or not 0 <= int(answer) <= 999:
            raise ValueError(f"answer {answer!r} is not an integer from 0 to 999")
        return Sample(
            id=str(row.get("problem_idx", row.get("id", number))),
            messages=[{"role": "user", "content": self._problem(row) + PROMPT_SUFFIX}],
            target=str(int(answer)),
            meta={"kind": "math"},
        )


@register
class MATH500(_MathData):
    name = "math500"
    hub = ("HuggingFaceH4/MATH-500", "default", "test")
    what = "MATH-500"
    description = "HuggingFaceH4/MATH-500, symbolic answers checked with math-verify (--data math500=PATH|hub)"
    default_limit = 500
    max_tokens = 4096
    context_tokens = 768
    breakdown = "level"
    columns = (Column(REASONING, "accuracy", rank=3),)

    def _sample(self, row: dict[str, Any], number: int) -> Sample:
        return Sample(
            id=str(row.get("unique_id", number)),
            messages=[{"role": "user", "content": self._problem(row) + PROMPT_SUFFIX}],
            target=self._answer(row),
            meta={"kind": "math", "level": row.get("level"), "subject": row.get("subject")},
        )
