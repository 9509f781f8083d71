"""The task registry: name -> Task."""

from __future__ import annotations

from .arithmetic import Arithmetic
from .base import Sample, Task, Verdict
from .code_data import livecodebench, mbpp
from .coding import Coding, CodingData
from .instruction import IFEval, Instruction
from .reasoning import Reasoning
from .structured import Structured

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Arithmetic(), Instruction(), IFEval(), Reasoning(), Structured(), Coding(),
        CodingData("mbpp", "MBPP", mbpp, 500), CodingData("livecodebench", "LiveCodeBench", livecodebench, 1055),
    )
}  # fmt: skip


def known_tasks() -> list[str]:
    return sorted(TASKS)


__all__ = ["TASKS", "Sample", "Task", "Verdict", "known_tasks"]
