"""The tasks: one module each, registered by `@register` (see tasks/registry.py).

`TASKS[name]` makes a fresh task; the modules are imported on first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from . import registry
from .base import Column, Dimension, ExtraCell, Sample, Task, Verdict
from .registry import load_task_module, register


class _Tasks(Mapping[str, Task]):
    """name -> a fresh task (never one shared between runs)."""

    def __getitem__(self, name: str) -> Task:
        return registry.entries()[name].factory()

    def __iter__(self) -> Iterator[str]:
        return iter(registry.entries())

    def __len__(self) -> int:
        return len(registry.entries())


TASKS: Mapping[str, Task] = _Tasks()


def known_tasks() -> list[str]:
    return registry.names()


__all__ = [
    "TASKS", "Column", "Dimension", "ExtraCell", "Sample", "Task", "Verdict", "known_tasks", "load_task_module", "register",
]  # fmt: skip
