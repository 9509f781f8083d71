"""The task registry: name -> Task."""

from __future__ import annotations

from .arithmetic import Arithmetic
from .base import Sample, Task, Verdict
from .code_data import livecodebench, mbpp
from .coding import Coding, CodingData
from .instruction import IFEval, Instruction
from .longcontext import LONG_VARIANTS, LongContext
from .multilingual import Multilingual
from .reasoning import Reasoning
from .reasoning_data import AIME2025, MATH500, ZebraLogic
from .structured import Structured
from .understanding import Understanding

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Arithmetic(), Instruction(), IFEval(), Reasoning(), ZebraLogic(), AIME2025(), MATH500(), Structured(),
        Understanding(), Multilingual(), Coding(),
        CodingData("mbpp", "MBPP", mbpp, 500), CodingData("livecodebench", "LiveCodeBench", livecodebench, 1055),
        LongContext(), *(LongContext(name, lengths) for name, lengths in LONG_VARIANTS.items()),
    )
}  # fmt: skip


def known_tasks() -> list[str]:
    return sorted(TASKS)


__all__ = ["TASKS", "Sample", "Task", "Verdict", "known_tasks"]
