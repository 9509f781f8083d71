"""The task registry: task name -> a factory that makes a fresh task for each run.

A task registers itself where it is defined (`@register` on the class, or `register(factory)`
for a parameterised one); config, CLI, runner, results and report read names, aliases, suites
and report columns from here. Every module in slmbench/tasks/ is imported on first use, so a
new built-in task is one file. Task files outside the package: list them in the environment
variable SLMBENCH_TASK_MODULES (paths separated by `:`), or call `load_task_module(path)`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import SlmbenchError
from .base import DEFAULT_SUITE, Column, Dimension, Task

ENV = "SLMBENCH_TASK_MODULES"
F = TypeVar("F", bound=Callable[[], Task])


@dataclass(frozen=True, slots=True)
class Entry:
    """What the registry knows of a task without making one."""

    name: str
    factory: Callable[[], Task]
    module: str
    aliases: tuple[str, ...]
    suites: tuple[str, ...]
    suite_order: int
    takes_data: bool
    columns: tuple[Column, ...]


_entries: dict[str, Entry] = {}
_aliases: dict[str, str] = {}
_files: dict[Path, str] = {}  # task files loaded -> their module name
_origin: dict[str, str] = {}  # module name of a task file -> its path, for messages
_state = {"discovered": False, "discovering": False}


def register(factory: F) -> F:
    """Register a task class (as a decorator) or any zero-argument callable that returns a task.
    The factory is called once here to read what the task declares, and once per run."""
    task = factory()
    module = getattr(getattr(factory, "func", factory), "__module__", "?")
    where = _origin.get(module, module)
    if not isinstance(task, Task):
        raise SlmbenchError(f"{where}: register() got {type(task).__name__}, not a Task; subclass slmbench.tasks.Task")
    name = task.name
    if not isinstance(name, str) or not name:
        raise SlmbenchError(f"{where}: task {type(task).__name__} has no name; set its `name`")
    for taken in (name, *task.aliases):
        owner = _entries.get(taken) or _entries.get(_aliases.get(taken, ""))
        if owner is not None and (owner.name != name or owner.module != module):
            raise SlmbenchError(f"{where}: task name {taken!r} is taken by {_origin.get(owner.module, owner.module)} "
                                f"(task {owner.name}); rename the task")  # fmt: skip
    _entries[name] = Entry(name, factory, module, tuple(task.aliases), tuple(task.suites), task.suite_order,
                           task.takes_data, tuple(task.columns))  # fmt: skip
    _aliases.update(dict.fromkeys(task.aliases, name))
    return factory


def load_task_module(path: str | Path) -> None:
    """Import a task file outside the package; its `@register` calls add its tasks (once per file)."""
    file = Path(path).expanduser().resolve()
    if file in _files:
        return
    if not file.is_file() or file.suffix != ".py":
        raise SlmbenchError(f"task module {path} is not a .py file; fix {ENV} (paths separated by {os.pathsep!r})")
    name = f"slmbench_task_{file.stem}_{len(_files)}"
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    _origin[name] = str(path)
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except SlmbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 (the user's code: any error, told in one line)
        del sys.modules[name]
        raise SlmbenchError(f"task module {path} failed to load ({type(exc).__name__}: {exc}); fix the file") from None
    _files[file] = name


def _discover() -> None:
    """Import every task module of the package, then the files in SLMBENCH_TASK_MODULES (once)."""
    if _state["discovered"] or _state["discovering"]:
        return
    _state["discovering"] = True
    try:
        # The task modules are found in this folder, not imported by name: the registry sits
        # below them (config reads it), and a new module needs no line here.
        for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
            importlib.import_module(f"{__package__}.{info.name}")
        for path in os.environ.get(ENV, "").split(os.pathsep):
            if path.strip():
                load_task_module(path.strip())
        _state["discovered"] = True
    finally:
        _state["discovering"] = False


def entries() -> dict[str, Entry]:
    _discover()
    return _entries


def names() -> list[str]:
    """Every task name, sorted."""
    return sorted(entries())


def resolve(name: str) -> str:
    """The task an alias stands for (any other name as given)."""
    entries()
    return _aliases.get(name, name)


def aliases() -> dict[str, str]:
    entries()
    return dict(_aliases)


def create(name: str) -> Task:
    """A fresh task: nothing one run sets on it is seen by another."""
    return entries()[resolve(name)].factory()


def renderer(name: str) -> Task:
    """The task that shows a result of `name` (its extra, its note): a fresh registered one, or,
    for a task not loaded in this process, the base class, which adds nothing."""
    entry = entries().get(resolve(name))
    return entry.factory() if entry is not None else Task()


def suite(name: str = DEFAULT_SUITE) -> list[str]:
    """The tasks of a suite, in their suite_order."""
    members = [e for e in entries().values() if name in e.suites]
    return [e.name for e in sorted(members, key=lambda e: (e.suite_order, e.name))]


def data_tasks() -> list[str]:
    """Tasks that read a data set (`--data TASK=...`)."""
    return [name for name in names() if _entries[name].takes_data]


def dimensions() -> list[tuple[Dimension, list[tuple[str, str]]]]:
    """The report's columns, left to right, each with its (task, metric) sources in the order
    they are tried."""
    found: dict[str, Dimension] = {}
    sources: dict[str, list[tuple[int, int, int, str, str]]] = {}
    for order, e in enumerate(entries().values()):
        for index, c in enumerate(e.columns):
            d = c.dimension
            if found.setdefault(d.key, d) != d:
                raise SlmbenchError(f"{_origin.get(e.module, e.module)}: task {e.name} declares report column {d.key!r} "
                                    f"unlike the other tasks that fill it ({found[d.key]}); use the same Dimension")  # fmt: skip
            sources.setdefault(d.key, []).append((c.rank, order, index, e.name, c.metric))
    ordered = sorted(found.values(), key=lambda d: d.position)  # stable: ties keep registration order
    return [(d, [(task, metric) for *_, task, metric in sorted(sources[d.key])]) for d in ordered]
