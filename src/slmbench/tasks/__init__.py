"""The task registry: name -> Task."""

from __future__ import annotations

from .arithmetic import Arithmetic
from .base import Sample, Task, Verdict
from .instruction import IFEval, Instruction
from .longcontext import LONG_VARIANTS, LongContext
from .reasoning import Reasoning
from .reasoning_data import AIME2025, MATH500, ZebraLogic
from .structured import Structured

TASKS: dict[str, Task] = {
    task.name: task
    for task in (Arithmetic(), Instruction(), IFEval(), Reasoning(), ZebraLogic(), AIME2025(), MATH500(), Structured(),
                 LongContext(), *(LongContext(name, lengths) for name, lengths in LONG_VARIANTS.items()))
}


def known_tasks() -> list[str]:
    return sorted(TASKS)


__all__ = ["TASKS", "Sample", "Task", "Verdict", "known_tasks"]
